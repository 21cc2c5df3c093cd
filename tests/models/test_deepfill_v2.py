"""deepfill_v2: gated convs with separate gates, both stages supervised, attention options, SN-PatchGAN on
image and mask with hinge loss, config errors."""

import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.layers.attention import ContextualAttention, SelfAttention
from inpaintkit.layers.gated import GatedConv2d
from inpaintkit.models import create_model
from inpaintkit.train.config import resolve_config, tiny_config
from tests.models.family_helpers import fit, one_thread  # noqa: F401  (one_thread: autouse)


def _batch(size=32, n=2):
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(n, 1, size, size)
    mask[..., 8:20, 10:24] = 1
    return {"image": torch.rand(n, 3, size, size, generator=g), "mask": mask}


def _tiny(**model):
    torch.manual_seed(0)
    return create_model("deepfill_v2", {"channels": 8, **model}, {"channels": 8})


def test_gated_layers_and_parameter_count_of_the_default():
    fam = _tiny()
    gated = [m for m in fam.generator.modules() if isinstance(m, GatedConv2d)]
    assert len(gated) > 30 and all(g.feature.weight is not g.gate.weight for g in gated)
    assert isinstance(fam.generator.refine.attention, ContextualAttention)
    full = create_model("deepfill_v2")
    n = sum(p.numel() for p in full.generator.parameters())
    assert 3.9e6 < n < 4.3e6  # the authors' model: 4.1M
    assert isinstance(_tiny(attention="self").generator.refine.attention, SelfAttention)


def test_both_stages_are_supervised_by_l1():
    fam = _tiny().train()
    b = _batch()
    losses, pred = fam.generator_step(b, 0)
    assert set(losses) == {"l1_coarse", "l1_refine", "adv"}
    coarse, refined = fam.generator(b["image"] * (1 - b["mask"]), b["mask"], with_coarse=True)
    assert torch.allclose(refined, pred) and 0 <= coarse.min() and coarse.max() <= 1
    assert losses["l1_coarse"].item() == pytest.approx((coarse - b["image"]).abs().mean().item(), rel=1e-5)
    losses["l1_coarse"].backward()  # the coarse loss trains the coarse network ...
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in fam.generator.coarse.parameters())
    assert all(p.grad is None for p in fam.generator.refine.parameters())
    fam.zero_grad(set_to_none=True)
    fam.generator_step(b, 0)[0]["l1_refine"].backward()  # ... the refined one reaches both stages
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in fam.generator.refine.parameters())


def test_sn_patchgan_sees_the_mask_and_uses_hinge():
    fam = _tiny()
    d = fam.discriminators["patch"]
    assert d.net[0].in_channels == 4
    assert hasattr(d.net[0], "parametrizations")  # spectral norm
    b = _batch(64)
    other = torch.zeros_like(b["mask"])
    assert d(b["image"], b["mask"]).shape == (2, 32, 1, 1)
    assert not torch.allclose(d(b["image"], b["mask"]), d(b["image"], other))
    losses, pred = fam.generator_step(b, 0)
    d.eval()  # freeze the spectral-norm power iteration for exact comparisons
    comp = b["image"] * (1 - b["mask"]) + pred * b["mask"]
    losses = fam.generator_step(b, 0)[0]
    assert losses["adv"].item() == pytest.approx(-0.01 * d(comp, b["mask"]).mean().item(), rel=1e-4)
    real, fake = d(b["image"], b["mask"]), d(comp.detach(), b["mask"])
    expected = torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
    assert fam.discriminator_step(b, pred, 0)["adv"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_any_size_and_output_range():
    fam = _tiny(attention="self").eval()
    out = fam.generator(torch.rand(1, 3, 36, 44), torch.ones(1, 1, 36, 44))
    assert out.shape == (1, 3, 36, 44) and 0 <= out.min() and out.max() <= 1


def test_config_errors():
    with pytest.raises(InpaintKitError, match="model: attention"):
        resolve_config(tiny_config("deepfill_v2", model={"attention": "global"}))
    with pytest.raises(InpaintKitError, match="losses: l1: unknown key"):
        resolve_config(tiny_config("deepfill_v2", losses={"l1": 1.0}))
