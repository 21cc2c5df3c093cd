"""Pixel losses: L1 on the hole / on the known pixels, L2, total variation on the dilated hole, SSIM.

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


def ssim(pred: torch.Tensor, target: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Mean SSIM of (N, C, H, W) images in [0, 1], differentiable: the evaluation's ``metrics.ssim`` in torch.

    The same definition as scikit-image's ``structural_similarity`` with its defaults (``window`` x ``window``
    uniform window, K1 0.01, K2 0.03, sample covariances, the ``window // 2`` border left out), averaged over
    channels and images; ``tests/losses/test_pixel.py`` checks it against the metric.
    """
    if min(pred.shape[-2:]) < window:
        raise ValueError(f"ssim: images must be at least {window} px on each side, got {tuple(pred.shape[-2:])}")
    c1, c2 = 0.01**2, 0.03**2
    n = window * window
    cov = n / (n - 1)

    def mean(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, window, stride=1)  # valid windows only: the metric's cropped border

    mx, my = mean(pred), mean(target)
    vx = cov * (mean(pred * pred) - mx * mx)
    vy = cov * (mean(target * target) - my * my)
    vxy = cov * (mean(pred * target) - mx * my)
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean()


def composite(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Known pixels from ``image``, hole pixels from ``pred``: ``mask * pred + (1 - mask) * image``."""
    return mask * pred + (1.0 - mask) * image


def ssim_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 - ssim`` of the composite (``pred`` in the hole, ``target`` elsewhere) against ``target``: what the
    evaluation scores, so only the hole and its surroundings within the window carry a gradient."""
    return 1.0 - ssim(composite(pred, target, mask), target)
