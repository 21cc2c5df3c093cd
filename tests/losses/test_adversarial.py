"""Adversarial losses, R1 and feature matching against hand computations."""

import math

import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.losses import discriminator_adversarial, feature_matching, generator_adversarial, r1_penalty


def t(*v):
    return torch.tensor(v)


def test_hinge_values():
    real, fake = t(2.0, 0.5), t(-2.0, 0.5)
    # D: mean(relu(1 - real)) = (0 + 0.5)/2, mean(relu(1 + fake)) = (0 + 1.5)/2
    assert discriminator_adversarial("hinge", real, fake).item() == pytest.approx(1.0)
    assert generator_adversarial("hinge", fake).item() == pytest.approx(0.75)


def test_nonsaturating_and_vanilla_values():
    z = torch.zeros(3)
    assert discriminator_adversarial("nonsaturating", z, z).item() == pytest.approx(2 * math.log(2))
    assert generator_adversarial("nonsaturating", z).item() == pytest.approx(math.log(2))
    # real logit ln 3 -> sigmoid 3/4 -> -log(3/4)
    assert discriminator_adversarial("nonsaturating", t(math.log(3)), t(-math.log(3))).item() == pytest.approx(
        2 * math.log(4 / 3)
    )
    # vanilla (minimax): the generator minimises log(1 - sigmoid(fake))
    assert generator_adversarial("vanilla", t(math.log(3))).item() == pytest.approx(math.log(1 / 4))
    assert discriminator_adversarial("vanilla", z, z).item() == pytest.approx(2 * math.log(2))


def test_lsgan_values():
    assert discriminator_adversarial("lsgan", t(1.0, 0.0), t(0.0, 1.0)).item() == pytest.approx(1.0)
    assert generator_adversarial("lsgan", t(0.0, 1.0)).item() == pytest.approx(0.5)


def test_unknown_kind_is_a_user_error():
    with pytest.raises(InpaintKitError, match="unknown adversarial loss kind 'wgan'.*hinge"):
        generator_adversarial("wgan", t(0.0))


@pytest.mark.parametrize("kind", ["hinge", "nonsaturating", "lsgan", "vanilla"])
def test_hole_aware_fake_labels(kind):
    real = torch.randn(2, 1, 4, 4)
    fake = torch.randn(2, 1, 4, 4)
    full = torch.ones(2, 1, 16, 16)
    # all hole: the plain loss; no hole: the fake counts as real everywhere
    assert discriminator_adversarial(kind, real, fake, full).item() == pytest.approx(
        discriminator_adversarial(kind, real, fake).item(), rel=1e-6
    )
    assert discriminator_adversarial(kind, real, fake, torch.zeros_like(full)).item() == pytest.approx(
        _real_mean(kind, real) + _real_mean(kind, fake), rel=1e-5
    )


def _real_mean(kind, logits):
    """The per-logit 'call it real' loss, averaged (independent reference)."""
    if kind == "hinge":
        return torch.relu(1 - logits).mean().item()
    if kind == "lsgan":
        return ((logits - 1) ** 2).mean().item()
    return torch.log1p(torch.exp(-logits)).mean().item()


def test_hole_aware_nonsaturating_by_hand():
    real = t(0.0).view(1, 1, 1, 1)
    fake = t(1.0, -1.0).view(1, 1, 1, 2)
    mask = torch.zeros(1, 1, 2, 4)
    mask[..., :2] = 1  # left logit cell entirely hole, right one known
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    expected = sp(0.0) + (sp(1.0) + sp(1.0)) / 2  # left: softplus(fake); right: softplus(-fake) with fake = -1
    assert discriminator_adversarial("nonsaturating", real, fake, mask).item() == pytest.approx(expected)
    # the generator term weighted to the hole: only the left cell counts, averaged over both cells
    assert generator_adversarial("nonsaturating", fake, mask).item() == pytest.approx(sp(-1.0) / 2)


def test_r1_matches_autograd_on_a_linear_discriminator():
    w = torch.randn(3, 4, 4, requires_grad=True)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (x * w).sum(dim=(1, 2, 3)) + 0.3  # D(x) = <w, x> + b: dD/dx = w for every sample
    penalty = r1_penalty(logits, x)
    assert penalty.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-6)
    (gw,) = torch.autograd.grad(penalty, w)  # differentiable: d||w||^2/dw = 2w
    assert torch.allclose(gw, 2 * w)


def test_r1_needs_images_that_require_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(torch.zeros(2), torch.zeros(2, 3))


def test_feature_matching_l1_l2_and_mask():
    fake = [torch.ones(1, 2, 2, 2, requires_grad=True), torch.full((1, 1, 1, 1), 3.0)]
    real = [torch.zeros(1, 2, 2, 2, requires_grad=True), torch.ones(1, 1, 1, 1)]
    assert feature_matching(fake, real).item() == pytest.approx((1 + 4) / 2)
    assert feature_matching(fake, real, kind="l1").item() == pytest.approx((1 + 2) / 2)
    # LaMa: matching only on the known region -> all-hole mask gives 0
    assert feature_matching(fake, real, torch.ones(1, 1, 8, 8)).item() == pytest.approx(0.0)
    feature_matching(fake, real).backward()
    assert real[0].grad is None and fake[0].grad is not None  # real features are targets


def test_every_family_takes_the_one_list_of_adversarial_kinds():
    from typing import get_args

    from inpaintkit.losses import ADVERSARIAL_KINDS, AdvKind
    from inpaintkit.models import MODELS

    assert ADVERSARIAL_KINDS == get_args(AdvKind) == ("hinge", "nonsaturating", "lsgan", "vanilla")
    fields = [e.obj.LossConfig.model_fields.get("adv_kind") for e in MODELS.entries()]
    assert sum(f is not None for f in fields) >= 4  # context_encoder, glcic, deepfill_v2, pix2pix
    assert all(f.annotation == AdvKind for f in fields if f is not None)
