"""Losses for the learned families: small functions / modules, weighted by the family from its config.

Config key = log key: a family returns ``{"l1_hole": w * l1_hole(...), ...}`` with its ``losses`` config weights.
Images (N, C, H, W) in [0, 1]; masks (N, 1, H, W) with 1 = hole.
"""

from .adversarial import (
    ADVERSARIAL_KINDS,
    AdvKind,
    discriminator_adversarial,
    feature_matching,
    generator_adversarial,
    r1_penalty,
    resize_mask,
)
from .perceptual import DISABLED_MESSAGE, PerceptualStyle, gram
from .pixel import dilate, l1_hole, l1_valid, l2, ssim, ssim_loss, tv_loss

__all__ = [
    "ADVERSARIAL_KINDS",
    "AdvKind",
    "DISABLED_MESSAGE",
    "PerceptualStyle",
    "dilate",
    "discriminator_adversarial",
    "feature_matching",
    "generator_adversarial",
    "gram",
    "l1_hole",
    "l1_valid",
    "l2",
    "r1_penalty",
    "resize_mask",
    "ssim",
    "ssim_loss",
    "tv_loss",
]
