"""Perceptual / style loss: Gram normalisation, values against hand computation, disabled without weights."""

import logging

import pytest
import torch
from safetensors.torch import save_file

from inpaintkit.backbones import VGG16Features
from inpaintkit.errors import InpaintKitError
from inpaintkit.losses import DISABLED_MESSAGE, PerceptualStyle, gram
from inpaintkit.losses import perceptual as perceptual_module


def vgg_state_dict() -> dict[str, torch.Tensor]:
    """torchvision-format VGG16 convs up to conv3_3 (random values: these tests check the arithmetic)."""
    g = torch.Generator().manual_seed(0)
    convs = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256), 14: (256, 256)}
    sd = {}
    for i, (o, c) in convs.items():
        sd[f"features.{i}.weight"] = torch.randn(o, c, 3, 3, generator=g) * (2 / (9 * c)) ** 0.5
        sd[f"features.{i}.bias"] = torch.zeros(o)
    return sd


def test_gram_normalised_by_chw():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, C=2, H=1, W=2)
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4  # f f^T / (C H W)
    assert torch.allclose(gram(f)[0], expected)


def test_bundled_features_are_the_default_and_load_lazily():
    loss = PerceptualStyle(None, layers=("pool1",))
    assert loss.available and loss.__dict__["_vgg"] is None  # nothing loaded until a loss is asked for
    assert not list(loss.state_dict())  # the VGG never lands in a checkpoint
    x = torch.rand(1, 3, 16, 16)
    p, s = loss(x, torch.rand(1, 3, 16, 16))
    assert p > 0 and s > 0
    assert loss(x, x)[0] == 0
    assert loss.__dict__["_vgg"].convention == "caffe_bgr"


def test_without_weights_disabled_and_said_once(monkeypatch, caplog):
    """A stripped install (no bundled features) and no file: the terms are off, said once, never random."""
    from inpaintkit.backbones import vgg

    monkeypatch.setattr(perceptual_module, "_said_disabled", False)
    monkeypatch.setattr(vgg, "default_vgg16_weights", lambda: None)
    with caplog.at_level(logging.WARNING):
        a, b = PerceptualStyle(None), PerceptualStyle(None)
        assert not caplog.records  # building a model for inference says nothing
        assert not a.available and not b.available
        x = torch.rand(1, 3, 8, 8)
        assert a(x, x) == (None, None) and b(x, x) == (None, None) and a(x, x) == (None, None)
    assert [r.getMessage() for r in caplog.records].count(DISABLED_MESSAGE) == 1
    assert "losses.vgg_weights" in DISABLED_MESSAGE


def test_values_match_hand_computation(tmp_path):
    path = tmp_path / "vgg.safetensors"
    save_file(vgg_state_dict(), str(path))
    loss = PerceptualStyle(str(path), layers=("pool1", "pool2"))
    assert loss.available
    pred = torch.rand(2, 3, 16, 16, requires_grad=True)
    target = torch.rand(2, 3, 16, 16)
    p, s = loss(pred, target)
    vgg = VGG16Features(path, taps=("pool1", "pool2"))
    fp, ft = vgg(pred), vgg(target)
    exp_p = sum((a - b).abs().mean() for a, b in zip(fp, ft))
    exp_s = 0.0
    for a, b in zip(fp, ft):
        n, c, h, w = a.shape
        ga = torch.einsum("nchw,ndhw->ncd", a, a) / (c * h * w)
        gb = torch.einsum("nchw,ndhw->ncd", b, b) / (c * h * w)
        exp_s = exp_s + (ga - gb).abs().mean()
    assert p.item() == pytest.approx(exp_p.item(), rel=1e-5)
    assert s.item() == pytest.approx(exp_s.item(), rel=1e-5)
    zero_p, zero_s = loss(target, target)
    assert zero_p.item() == 0 and zero_s.item() == 0
    (p + s).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_a_wrong_weights_file_is_an_error(tmp_path):
    path = tmp_path / "resnet.safetensors"
    save_file({"conv1.weight": torch.zeros(64, 3, 7, 7)}, str(path))
    with pytest.raises(InpaintKitError, match="not a torchvision VGG16"):
        PerceptualStyle(str(path))


def test_lpips_distance_is_the_lpips_hed_metric_and_has_gradients():
    """``distance="lpips"`` on the lpips_hed taps is the metric (so training can lower it), differentiable."""
    from inpaintkit.backbones.vgg import LPIPS_HED_TAPS, HEDPerceptual

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    loss = PerceptualStyle(None, layers=LPIPS_HED_TAPS, distance="lpips")
    pred = a.clone().requires_grad_(True)
    p, _ = loss(pred, b)
    assert torch.allclose(p, HEDPerceptual().distance(a, b).mean(), rtol=1e-5)
    p.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert loss(b, b)[0] == 0
    with pytest.raises(InpaintKitError, match="perceptual distance"):
        PerceptualStyle(None, distance="l2")
