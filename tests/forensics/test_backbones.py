"""Detector backbones (plain torch) with and without the forensic stem; SRM and Bayar layers."""

from __future__ import annotations

import pytest
import torch

from inpaintkit.forensics.detector import BACKBONES, DetectorConfig, ForgeryNet
from inpaintkit.layers.forensic import BayarConv2d, ForensicStem, SRMFilter


@pytest.mark.parametrize("stem", [False, True], ids=["rgb", "stem"])
@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_forward_backward_at_64(backbone, stem):
    torch.manual_seed(0)
    # half width keeps the test fast; the block structure (depths, groups, windows, strides) is the full model's
    net = ForgeryNet(DetectorConfig(backbone=backbone, width=0.5, forensic_stem=stem, decoder_channels=16))
    x = torch.rand(2, 3, 64, 64)
    logit, maps = net(x)
    assert logit.shape == (2,) and maps.shape == (2, 1, 64, 64)
    (logit.sum() + maps.mean()).backward()
    grads = [p.grad for p in net.backbone.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert grads[0].abs().sum() > 0  # the gradient reaches the first layer
    if stem:
        assert net.stem.bayar.conv.parametrizations.weight.original.grad.abs().sum() > 0


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_feature_strides_and_odd_sizes(backbone):
    bb = BACKBONES[backbone](in_chans=3, width=0.25 if backbone != "efficientnet_b0" else 0.5).eval()
    with torch.no_grad():
        feats = bb(torch.rand(1, 3, 96, 80))
    assert [f.shape[1] for f in feats] == list(bb.feature_channels)
    assert [f.shape[-2:] for f in feats] == [(24, 20), (12, 10), (6, 5), (3, 3)]


@pytest.mark.slow
def test_bayar_constraint_holds_after_an_optimizer_step():
    torch.manual_seed(0)
    conv = BayarConv2d(3, 4, 5)
    opt = torch.optim.SGD(conv.parameters(), lr=1.0)
    for _ in range(2):
        conv(torch.rand(2, 3, 16, 16)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        w = conv.conv.weight  # the weights the layer convolves with
        assert torch.allclose(w[..., 2, 2], torch.full((4, 3), -1.0))
        off = w.sum(dim=(-2, -1)) - w[..., 2, 2]
        assert torch.allclose(off, torch.ones(4, 3), atol=1e-5)
    assert not torch.allclose(conv.conv.parametrizations.weight.original, torch.zeros(1))


def test_srm_is_blind_to_flat_and_linear_images():
    srm = SRMFilter(3)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    ramp = (0.01 * xx + 0.02 * yy)[None, None].repeat(1, 3, 1, 1)
    out = srm(ramp)[..., 4:-4, 4:-4]  # away from the zero padding
    assert out.shape[1] == 9 and out.abs().max() < 1e-5
    noise = srm(torch.rand(1, 3, 32, 32))
    assert noise.abs().mean() > 0.05


def test_full_width_parameter_counts_match_the_papers():
    """torchvision's counts without the classifier: 21.3M, 23.0M, 27.5M; EfficientNet-B0 without its 1280 head."""
    counts = {name: sum(p.numel() for p in BACKBONES[name]().parameters()) / 1e6 for name in BACKBONES}
    assert counts["resnet34"] == pytest.approx(21.28, abs=0.01)
    assert counts["resnext50_32x4d"] == pytest.approx(22.98, abs=0.01)
    assert counts["swin_t"] == pytest.approx(27.52, abs=0.01)
    assert counts["efficientnet_b0"] == pytest.approx(3.60, abs=0.01)


def test_stem_output_channels():
    stem = ForensicStem(3)
    assert stem(torch.rand(2, 3, 32, 32)).shape == (2, 15, 32, 32)


def test_backbone_names_are_the_registry_keys():
    from typing import get_args

    from inpaintkit.backbones import BackboneName

    assert get_args(BackboneName) == tuple(BACKBONES)
    with pytest.raises(ValueError, match="resnet34"):
        DetectorConfig(backbone="resnet35")
