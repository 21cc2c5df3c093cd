"""Forensic input stems: fixed SRM high-pass filters and a Bayar constrained convolution.

SRM: J. Fridrich, J. Kodovsky, "Rich Models for Steganalysis of Digital Images", IEEE TIFS 2012 — the three
residual kernels used by RGB-N (Zhou et al., CVPR 2018) and ManTra-Net (Wu et al., CVPR 2019).
Bayar: B. Bayar, M. C. Stamm, "Constrained Convolutional Neural Networks: A New Approach Towards General Purpose
Image Manipulation Detection", IEEE TIFS 2018 — a learned prediction-error filter (centre weight -1, the other
weights summing to 1), as in MVSS-Net (Chen et al., ICCV 2021).

Both suppress image content and keep the noise residual, where inpainted regions differ most (diffusion fills are
too smooth, patch fills repeat another place's noise).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

_SRM_KERNELS = (
    # 2nd-order "KV"-like square 3x3 residual
    [[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]],
    # 5x5 "KV" residual
    [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]],
    # 1st-order horizontal residual
    [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
)
_SRM_SCALES = (4.0, 12.0, 2.0)


class SRMFilter(nn.Module):
    """Fixed SRM residuals of each input channel: (N, C, H, W) -> (N, 3C, H, W). Not trained."""

    def __init__(self, in_chans: int = 3):
        super().__init__()
        k = torch.tensor(_SRM_KERNELS, dtype=torch.float32) / torch.tensor(_SRM_SCALES)[:, None, None]
        self.in_chans = in_chans
        # depthwise: every channel gets the three kernels -> groups=in_chans
        self.register_buffer("weight", k[:, None].repeat(in_chans, 1, 1, 1), persistent=False)  # (3C, 1, 5, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, padding=2, groups=self.in_chans)


class _BayarConstraint(nn.Module):
    """Projects a raw (O, I, k, k) kernel onto Bayar's constraint: centre = -1, the rest sums to 1 per (O, I).

    The projection is affine (subtract the off-centre mean, add 1/(k*k-1)), so it never divides by a sum that
    could approach zero and the constraint holds exactly for the weights the layer uses, before and after every
    optimizer step.
    """

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        k = w.shape[-1]
        centre = torch.zeros_like(w)
        centre[..., k // 2, k // 2] = 1.0
        off = w * (1.0 - centre)
        n_off = k * k - 1
        off = off - (off.sum(dim=(-2, -1), keepdim=True) / n_off - 1.0 / n_off) * (1.0 - centre)
        return off - centre


class BayarConv2d(nn.Module):
    """Constrained convolution (N, in, H, W) -> (N, out, H, W); ``self.conv.weight`` always satisfies the constraint."""

    def __init__(self, in_chans: int = 3, out_chans: int = 3, kernel_size: int = 5):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("BayarConv2d needs an odd kernel size")
        self.conv = nn.Conv2d(in_chans, out_chans, kernel_size, padding=kernel_size // 2, bias=False)
        parametrize.register_parametrization(self.conv, "weight", _BayarConstraint())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ForensicStem(nn.Module):
    """RGB + SRM residuals + Bayar residuals, normalised: (N, 3, H, W) -> (N, out_chans, H, W), out_chans = 15.

    The residuals are ~100x smaller than the pixel values; a BatchNorm brings every channel to unit scale so the
    backbone's first convolution sees them on an equal footing.
    """

    def __init__(self, in_chans: int = 3, bayar_chans: int = 3):
        super().__init__()
        self.srm = SRMFilter(in_chans)
        self.bayar = BayarConv2d(in_chans, bayar_chans, 5)
        self.out_chans = in_chans + 3 * in_chans + bayar_chans
        self.norm = nn.BatchNorm2d(self.out_chans)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.cat([x, self.srm(x), self.bayar(x)], dim=1))
