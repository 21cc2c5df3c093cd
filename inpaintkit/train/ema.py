"""Exponential moving average of the generator weights (validation and the inpainter use the EMA copy)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """``ema = decay * ema + (1 - decay) * weights`` after each optimizer step; buffers (BatchNorm statistics) are
    copied. The effective decay ramps up as ``min(decay, (1 + n) / (10 + n))`` so early weights fade out fast."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for e, p in zip(self.module.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1.0 - d)
        for e, b in zip(self.module.buffers(), model.buffers()):
            e.copy_(b)

    def state_dict(self) -> dict:
        return {"updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
