"""The verdict of a forensic detector on one image — shared by ``inpaintkit.forensics`` (which makes it) and the
apps (``inpaintkit.inference``, the server, the GUI), which must not import torch to read one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Detection:
    """One image's verdict. ``heatmap``: float32 (H, W) in [0, 1], the probability each pixel was inpainted;
    ``branches``: each branch's calibrated probability (the fused detector; ``None`` for a single network)."""

    score: float
    verdict: str
    heatmap: np.ndarray
    branches: dict[str, float] | None = None
    #: each branch's own map (the fused detector), for per-branch evaluation
    maps: dict[str, np.ndarray] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 6), "verdict": self.verdict, **(self.branches or {})}
