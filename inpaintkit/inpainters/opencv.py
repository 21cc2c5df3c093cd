"""OpenCV's diffusion fills: Telea (2004, fast marching) and Navier–Stokes (Bertalmio et al. 2001)."""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InpaintKitError
from . import register_inpainter
from .base import Inpainter


class _OpenCVInpainter(Inpainter):
    flag: int
    bytes_per_pixel = 20.0  # measured: telea 18.7, ns 17.8 (benchmarks/memory_model.py)

    def __init__(self, radius: int = 3, **kw):
        super().__init__(**kw)
        if not isinstance(radius, (int, np.integer)) or radius < 1:
            raise InpaintKitError(f"{self.name}: radius must be a positive integer, got {radius!r}")
        self.radius = int(radius)

    def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw) -> np.ndarray:
        # OpenCV works in BGR order but treats channels independently, so RGB in gives RGB out.
        return cv2.inpaint(image, mask.astype(np.uint8), self.radius, self.flag)


@register_inpainter("telea", description="OpenCV fast-marching fill (Telea 2004): fast, smooth, blurs large holes")
class TeleaInpainter(_OpenCVInpainter):
    flag = cv2.INPAINT_TELEA


@register_inpainter("ns", description="OpenCV Navier-Stokes fill (Bertalmio 2001): smooth, continues edges")
class NavierStokesInpainter(_OpenCVInpainter):
    flag = cv2.INPAINT_NS
