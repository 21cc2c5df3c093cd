"""Partial convolution (Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions", ECCV 2018).

    x' = W^T (X ⊙ M) · sum(1) / sum(M) + b    if sum(M) > 0, else 0
    m' = 1                                      if sum(M) > 0, else 0

with M the *valid* mask under the sliding window. The re-scaling by ``sum(1) / sum(M)`` is applied once, to the
convolution without bias, and the bias is added after it (two reference bugs we avoid: scaling applied twice, and
scaling the bias). Zero padding counts as invalid, so borders are re-weighted the same way as holes.

The layer's public boundary speaks the house convention (mask 1 = hole); inside it works on M = 1 - hole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PartialConv2d(nn.Conv2d):
    """``forward(x, hole) -> (y, new_hole)``.

    ``hole`` is (N, 1, H, W) (the same mask for every input channel) or (N, C_in, H, W) (one per channel, as after
    concatenating feature maps with different masks); ``new_hole`` is (N, 1, H', W').
    """

    def forward(self, x: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        valid = 1.0 - hole  # partial conv reasons in 1 = valid
        cm = valid.shape[1]
        if cm not in (1, self.in_channels):
            raise ValueError(f"PartialConv2d: mask has {cm} channels, expected 1 or {self.in_channels}")
        # valid-pixel counts in float32 even under autocast (bf16 counts are inexact above 256)
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            ones = valid.new_ones(1, cm, *self.kernel_size, dtype=torch.float32)
            count = F.conv2d(valid.float(), ones, None, self.stride, self.padding, self.dilation)  # (N, 1, H', W')
            new_valid = (count > 0).to(x.dtype)
            ratio = (cm * self.kernel_size[0] * self.kernel_size[1]) / count.clamp(min=1e-8) * new_valid
        raw = F.conv2d(x * valid, self.weight, None, self.stride, self.padding, self.dilation, self.groups)
        out = raw * ratio.to(raw.dtype)  # the one re-scaling, without bias
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1) * new_valid  # bias after scaling; 0 where nothing was valid
        return out, 1.0 - new_valid
