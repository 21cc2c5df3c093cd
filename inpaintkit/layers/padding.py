"""Padding a generator's input up to the multiple its architecture needs, and cropping the output back."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad (N, C, H, W) on the bottom/right to sides divisible by ``multiple``, mirroring the border
    (replicating when the pad exceeds the mirror's reach). Crop back with ``y[..., :H, :W]``."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
