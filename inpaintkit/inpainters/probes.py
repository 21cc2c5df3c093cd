"""Two plain fills kept for testing detectors on kinds of fill they never trained on.

``shift``: the hole is filled with a copy of another part of the same image, displaced by the smallest offset
(tried in eight directions) that puts the whole hole onto known pixels — the "copy-move" forgery, an exemplar fill
at its crudest. ``heat``: the hole is filled by running the heat equation (Jacobi relaxation of the discrete Laplace
equation) from the hole's mean border colour — a diffusion fill that is neither Telea's fast marching nor
Navier-Stokes nor biharmonic.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import register_inpainter
from .base import Inpainter
from .opencv import opencv_inpaint


def copy_offset(mask: np.ndarray, part: np.ndarray | None = None) -> tuple[int, int] | None:
    """The smallest (dy, dx) such that ``part`` (default: all of ``mask``) moved by it lies inside the image and
    on pixels that are not in ``mask``."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask if part is None else part)
    if not len(ys):
        return None
    bh, bw = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    best = None
    for step in range(1, 9):
        for uy, ux in ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1)):
            dy, dx = uy * (bh * step) // 4, ux * (bw * step) // 4
            if (dy, dx) == (0, 0):
                continue
            sy, sx = ys + dy, xs + dx
            if sy.min() < 0 or sx.min() < 0 or sy.max() >= h or sx.max() >= w or mask[sy, sx].any():
                continue
            if best is None or dy * dy + dx * dx < best[0] * best[0] + best[1] * best[1]:
                best = (dy, dx)
        if best is not None:
            return best
    return None


@register_inpainter("shift", description="copy of another region of the same image (copy-move; a test probe)")
class ShiftInpainter(Inpainter):
    def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw) -> np.ndarray:
        # each connected part of the hole gets its own copy; a part with no free place of its size gets the
        # nearest known pixels (Telea, radius 1)
        out = opencv_inpaint(image, mask, 1, cv2.INPAINT_TELEA)
        n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        for i in range(1, n):
            part = labels == i
            off = copy_offset(mask, part)
            if off is not None:
                ys, xs = np.nonzero(part)
                out[ys, xs] = image[ys + off[0], xs + off[1]]
        return out


@register_inpainter("heat", description="heat-equation (Jacobi) diffusion fill from the border (a test probe)")
class HeatInpainter(Inpainter):
    def __init__(self, iterations: int = 400, **kw):
        super().__init__(**kw)
        self.iterations = int(iterations)

    def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw) -> np.ndarray:
        known = ~mask
        if not known.any():
            return np.full_like(image, 128)
        x = image.astype(np.float32)
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & known
        x[mask] = x[ring].mean(axis=0)
        # coarse-to-fine would be faster; a fixed number of sweeps at full resolution is the plain heat equation
        k = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)
        for _ in range(self.iterations):
            x[mask] = cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REPLICATE)[mask]
        return np.clip(x, 0, 255).round().astype(np.uint8)
