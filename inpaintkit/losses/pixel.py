"""Pixel losses: L1 on the hole / on the known pixels, L2, total variation on the dilated hole.

Normalisation follows the partial-convolution paper (Liu et al. 2018, eq. 1-2, 7): a masked loss is the sum of
``weight * |difference|`` divided by the number of elements of the whole image (N·C·H·W), i.e. the plain mean over
all elements of ``mask * |pred - target|`` — *not* the mean over the hole pixels only. A batch with small holes
therefore gives a small hole loss, exactly as in the paper; the loss weights in the configs assume this.

All tensors are (N, C, H, W) images in [0, 1] and (N, 1, H, W) masks with **1 = hole**.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def l1_hole(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 on the hole: ``mean(mask * |pred - target|)`` over all N·C·H·W elements."""
    return (mask * (pred - target).abs()).mean()


def l1_valid(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 on the known pixels: ``mean((1 - mask) * |pred - target|)`` over all N·C·H·W elements."""
    return ((1.0 - mask) * (pred - target).abs()).mean()


def l2(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error; with ``mask``, ``mean(mask * (pred - target)^2)`` over all elements (hole only)."""
    sq = (pred - target).pow(2)
    return sq.mean() if mask is None else (mask * sq).mean()


def dilate(mask: torch.Tensor, pixels: int = 1) -> torch.Tensor:
    """Binary dilation of a (N, 1, H, W) mask by ``pixels`` with a square (8-connected) structuring element."""
    k = 2 * pixels + 1
    return F.max_pool2d(mask, kernel_size=k, stride=1, padding=pixels)


def tv_loss(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Total variation on P, the 1-pixel dilation of the hole (partial-conv paper, eq. 7).

    ``sum_{(i,j) in P} |I[i, j+1] - I[i, j]| + |I[i+1, j] - I[i, j]|``, divided by N·C·H·W. A pair is counted when
    its first pixel (left, resp. top) lies in P; every pair that touches a hole pixel has both pixels in P, so the
    gradient with respect to the hole is the full TV of the fill and its seam.

    Args:
        image: (N, C, H, W), usually the composite.
        mask: (N, 1, H, W), 1 = hole.
    """
    p = dilate(mask)  # (N, 1, H, W)
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs()  # (N, C, H, W-1): pair (i, j) -> (i, j+1)
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs()  # (N, C, H-1, W): pair (i, j) -> (i+1, j)
    total = (p[..., :, :-1] * dx).sum() + (p[..., :-1, :] * dy).sum()
    return total / image.numel()
