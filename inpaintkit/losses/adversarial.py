"""Adversarial losses on discriminator logits, R1 gradient penalty, discriminator feature matching.

Kinds (``kind=``):

- ``hinge`` (Lim & Ye 2017; SN-PatchGAN): D ``relu(1 - real) + relu(1 + fake)``, G ``-fake``.
- ``nonsaturating`` (Goodfellow et al. 2014, the practical form; pix2pix's ``gan_mode="vanilla"`` and LaMa):
  D ``softplus(-real) + softplus(fake)`` (= BCE with labels 1 / 0), G ``softplus(-fake)`` (= BCE with label 1).
- ``lsgan`` (Mao et al. 2017): D ``(real - 1)^2 + fake^2``, G ``(fake - 1)^2`` (no 1/2 factors).
- ``vanilla``: the original minimax game: D as ``nonsaturating``, G *minimises* ``log(1 - sigmoid(fake))``
  ``= -softplus(fake)`` (saturates when D wins; kept for completeness and comparisons).

Every term is a mean over all logits (N·1·h·w for a PatchGAN, N·1 for a global one). Losses are unweighted: the
family multiplies them by its config weights.

**Hole-aware labels** (LaMa, Suvorov et al. 2022, ``mask_as_fake_target``): when ``mask`` (N, 1, H, W), 1 = hole,
is given to ``discriminator_adversarial``, each fake logit is pushed towards "fake" only in proportion to how much of
its cell is hole; the known part of a generated image counts as real. The mask is resized to the logit grid with
area averaging, so a cell's fake weight is the fraction of its pixels that are hole (LaMa resizes with nearest
neighbour, which drops holes smaller than a cell). For ``nonsaturating``/``vanilla`` this is BCE with target
``1 - m``; for ``hinge`` and ``lsgan`` the same mixture of the real and the fake term. Given to
``generator_adversarial``, the mask weights the generator term to the hole (LaMa's ``use_unmasked_for_gen=False``);
pass ``None`` for LaMa's default where every logit counts.
"""

from __future__ import annotations

from typing import Literal, Sequence, get_args

import torch
import torch.nn.functional as F

#: The adversarial loss kinds (the module docstring defines each); config fields are typed ``AdvKind``.
AdvKind = Literal["hinge", "nonsaturating", "lsgan", "vanilla"]
ADVERSARIAL_KINDS: tuple[str, ...] = get_args(AdvKind)


def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_KINDS:
        from ..errors import InpaintKitError

        raise InpaintKitError(f"unknown adversarial loss kind {kind!r}; choose from: {', '.join(ADVERSARIAL_KINDS)}")


def resize_mask(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``mask`` (N, 1, H, W) area-resized to the spatial size of ``like`` (N, C, h, w); a global logit (N, 1) or
    (N,) gets the hole fraction of the whole image."""
    if like.dim() == 4:
        return F.adaptive_avg_pool2d(mask, like.shape[-2:])
    return mask.mean(dim=(1, 2, 3)).reshape(like.shape[0], *([1] * (like.dim() - 1)))


def _real_term(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """Per-logit loss for D calling ``logits`` real."""
    if kind == "hinge":
        return F.relu(1.0 - logits)
    if kind == "lsgan":
        return (logits - 1.0).pow(2)
    return F.softplus(-logits)  # nonsaturating, vanilla: -log sigmoid(x)


def _fake_term(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """Per-logit loss for D calling ``logits`` fake."""
    if kind == "hinge":
        return F.relu(1.0 + logits)
    if kind == "lsgan":
        return logits.pow(2)
    return F.softplus(logits)  # -log(1 - sigmoid(x))


def generator_adversarial(kind: str, fake_logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The generator's adversarial loss on D's logits for generated images (mean over logits)."""
    _check_kind(kind)
    if kind == "hinge":
        per = -fake_logits
    elif kind == "lsgan":
        per = (fake_logits - 1.0).pow(2)
    elif kind == "nonsaturating":
        per = F.softplus(-fake_logits)
    else:  # vanilla minimax: minimise log(1 - D(G(z)))
        per = -F.softplus(fake_logits)
    if mask is not None:
        per = per * resize_mask(mask, fake_logits)
    return per.mean()


def discriminator_adversarial(
    kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """The discriminator's loss: real term + fake term, each a mean over its logits.

    With ``mask``, the fake term is hole-aware (see the module docstring): known regions of the fake count as real.
    """
    _check_kind(kind)
    real = _real_term(kind, real_logits).mean()
    if mask is None:
        return real + _fake_term(kind, fake_logits).mean()
    m = resize_mask(mask, fake_logits)  # fraction of hole per logit cell
    fake = m * _fake_term(kind, fake_logits) + (1.0 - m) * _real_term(kind, fake_logits)
    return real + fake.mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): ``mean_n ||d sum(D(x_n)) / d x_n||^2`` on real images, differentiable.

    ``real_images`` must require grad and ``real_logits`` be computed from them. Unweighted: LaMa uses
    weight ``gp_coef`` (0.001) times its adversarial weight; StyleGAN's ``gamma / 2``.
    """
    if not real_images.requires_grad:
        raise ValueError("r1_penalty: real_images must require grad (call .requires_grad_() before D)")
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(dim=1).mean()


def feature_matching(
    fake_feats: Sequence[torch.Tensor],
    real_feats: Sequence[torch.Tensor],
    mask: torch.Tensor | None = None,
    kind: str = "l2",
) -> torch.Tensor:
    """Mean over layers of the L2 (LaMa) or L1 (pix2pixHD) distance between D's feature maps of fake and real.

    Real features are targets (detached). With ``mask`` (N, 1, H, W), 1 = hole, each layer's error is weighted by
    ``1 - mask`` resized bilinearly to the layer (LaMa's ``feature_matching_loss``: match on the known region).
    """
    if kind not in ("l1", "l2"):
        raise ValueError(f"feature_matching kind must be 'l1' or 'l2', got {kind!r}")
    if len(fake_feats) != len(real_feats) or not fake_feats:
        raise ValueError(
            f"feature_matching needs equally many (>0) feature maps, got {len(fake_feats)} and {len(real_feats)}"
        )
    total = fake_feats[0].new_zeros(())
    for fake, real in zip(fake_feats, real_feats):
        diff = fake - real.detach()
        err = diff.pow(2) if kind == "l2" else diff.abs()
        if mask is not None:
            err = err * (1.0 - F.interpolate(mask, size=fake.shape[-2:], mode="bilinear", align_corners=False))
        total = total + err.mean()
    return total / len(fake_feats)
