"""The one PatchGAN (layers/patchgan.py) behind LaMa and pix2pix: same networks and weights as the two copies it
replaced, the bundled default model's discriminator loads, and old pix2pix run folders (flat keys) still load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from inpaintkit.layers.patchgan import PatchGAN
from inpaintkit.models import create_model
from inpaintkit.models.pix2pix import ConditionalPatchGAN
from inpaintkit.runs import load_weights, read_model_groups

DEFAULT = Path(__file__).resolve().parents[2] / "inpaintkit" / "weights" / "default"


def old_pix2pix(c: int, n_layers: int) -> nn.Sequential:
    """pix2pix's discriminator as it was written before the shared PatchGAN (one flat Sequential)."""
    layers: list[nn.Module] = [nn.Conv2d(7, c, 4, 2, 1), nn.LeakyReLU(0.2)]
    cin = c
    for i in range(1, n_layers + 1):
        cout = c * min(2**i, 8)
        layers += [nn.Conv2d(cin, cout, 4, 2 if i < n_layers else 1, 1, bias=False), nn.BatchNorm2d(cout)]
        layers.append(nn.LeakyReLU(0.2))
        cin = cout
    layers.append(nn.Conv2d(cin, 1, 4, 1, 1))
    return nn.Sequential(*layers)


def _randomize_bn(module: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


@pytest.mark.parametrize("c,n_layers", [(8, 3), (4, 4), (8, 1)])
def test_pix2pix_loads_old_flat_keys_and_computes_the_same(c, n_layers):
    torch.manual_seed(0)
    old = old_pix2pix(c, n_layers)
    _randomize_bn(old, 1)
    wrapped = nn.Module()
    wrapped.net = old  # the old ConditionalPatchGAN held its layers as ``net``
    new = ConditionalPatchGAN(c, n_layers)
    assert {k for k, _ in new.named_parameters()} != {k for k, _ in wrapped.named_parameters()}
    new.load_state_dict(wrapped.state_dict(), strict=True)
    cond, img = torch.rand(2, 4, 64, 64), torch.rand(2, 3, 64, 64)
    for train in (False, True):
        old.train(train), new.train(train)
        ref = old(torch.cat([cond, img * 2 - 1], dim=1))
        assert torch.equal(new(cond, img), ref)


def test_patchgan_logits_and_features_shapes():
    d = PatchGAN(3, 8, 3, padding=2, norm_bias=True)
    logits, feats = d(torch.rand(2, 3, 64, 64))
    assert logits.shape[:2] == (2, 1) and len(feats) == 4
    assert [f.shape[1] for f in feats] == [8, 16, 32, 64]
    assert d.layers[1][0].bias is not None and PatchGAN(3, 8, 3).layers[1][0].bias is None
    assert [f.shape[1] for f in PatchGAN(3, 64, 5).eval()(torch.rand(1, 3, 128, 128))[1]] == [
        64,
        128,
        256,
        512,
        512,
        512,
    ]


def test_bundled_default_discriminator_loads_into_the_shared_patchgan():
    family, groups = read_model_groups(DEFAULT / "config.yaml")
    fam = create_model(family, **groups)
    assert isinstance(fam.discriminators["patch"], PatchGAN)
    load_weights(fam.discriminators, DEFAULT / "discriminators.safetensors", "discriminator")  # strict
    fam.eval()
    logits, feats = fam.discriminators["patch"](torch.rand(1, 3, 64, 64))
    assert (
        logits.shape[:2] == (1, 1)
        and torch.isfinite(logits).all()
        and len(feats) == groups["discriminator"].get("n_layers", 4) + 1
    )
