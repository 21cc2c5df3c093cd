"""Smooth pre-fills of a hole that a learned model starts from (plain tensor ops: they export to ONNX).

A network that sees a black hole must first learn to paint the surrounding colours into it; one that starts from a
smooth guess only has to learn a correction. ``push_pull_fill`` is that guess for the ``default`` model (lama
``arch: unet``) and for TDANet's ``prefill`` option.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: 4-tap binomial kernel [1, 3, 3, 1] / 8 (separable): the down-sampling filter of the ``binomial`` push-pull.
_BINOMIAL = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8.0


def _downsample(x: torch.Tensor, kernel: str) -> torch.Tensor:
    """Halve (N,C,H,W) -> (N,C,ceil(H/2),ceil(W/2)): 2x2 mean (``box``) or a 4x4 binomial filter (``binomial``)."""
    if kernel == "box":
        return F.avg_pool2d(x, 2, ceil_mode=True)
    c = x.shape[1]
    k = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(x)[None, None].expand(c, 1, 4, 4)
    # zero padding (sums of known colour and coverage stay consistent); 1 before and 2 after gives ceil(n / 2) for
    # odd and even n alike, with no size-dependent padding for the exporter's symbolic shapes to carry
    x = F.pad(x, (1, 2, 1, 2))
    return F.conv2d(x, k, stride=2, groups=c)


def push_pull_fill(image: torch.Tensor, mask: torch.Tensor, levels: int = 10, kernel: str = "binomial") -> torch.Tensor:
    """Fill the hole by push-pull interpolation (Gortler et al. 1996): (N,3,H,W), (N,1,H,W) 1 = hole -> (N,3,H,W).

    Push: filter known colours and their coverage down an image pyramid (``box``: 2x2 means; ``binomial``: a
    [1,3,3,1] filter, smoother). Pull: from the coarsest level up, each level's normalised colour is blended with the
    bilinearly upsampled coarser fill by its coverage (``box``: fully trusted from 1/4 coverage; ``binomial``: from
    1/64), so a pixel deep in a hole takes the smooth colour of the known pixels around it. Known pixels come back
    unchanged; a hole still uncovered at the coarsest level takes the image's mean known colour. On the held-out
    evaluation crops (hole PSNR, all buckets) ``binomial`` scores 27.9 dB, ``box`` 27.0, biharmonic 28.6, Telea 26.7.
    Plain tensor ops, so it exports to ONNX.
    """
    gain = 4.0 if kernel == "box" else 64.0
    w = 1.0 - mask  # (N,1,H,W) coverage
    x = image * w
    pyramid = []
    for _ in range(levels):
        pyramid.append((x, w))
        x, w = _downsample(x, kernel), _downsample(w, kernel)
    total = w.sum(dim=(2, 3), keepdim=True)
    fill = x.sum(dim=(2, 3), keepdim=True) / total.clamp_min(1e-8)  # (N,3,1,1) mean known colour
    fill = torch.where(w > 0, x / w.clamp_min(1e-8), fill.expand_as(x))
    for x, w in reversed(pyramid):
        up = F.interpolate(fill, size=x.shape[-2:], mode="bilinear", align_corners=False)
        alpha = (w * gain).clamp(max=1.0)
        fill = alpha * (x / w.clamp_min(1e-8)) + (1.0 - alpha) * up
    return fill
