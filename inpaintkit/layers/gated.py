"""Gated convolution (Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019).

    y = φ(Conv_f(x)) ⊙ σ(Conv_g(x))

``Conv_f`` (features) and ``Conv_g`` (gates) are *separate* convolutions with their own weights; a gate computed
from the same convolution as the feature (a reference bug) is no gating at all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GatedConv2d(nn.Module):
    """Feature conv + gate conv of the same geometry; ``activation`` (default ELU, as DeepFill v2) on the features.

    ``padding`` defaults to "same" for stride 1 and ``dilation * (k - 1) // 2`` otherwise.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        activation: nn.Module | None = None,
    ):
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.feature = nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad, dilation)
        self.gate = nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad, dilation)
        self.activation = nn.ELU() if activation is None else activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.feature(x)) * torch.sigmoid(self.gate(x))


class GatedDeconv2d(nn.Module):
    """DeepFill's ``gen_deconv``: nearest ×2 upsampling, then a 3×3 gated convolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = GatedConv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))
