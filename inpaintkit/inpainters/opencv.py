"""OpenCV's diffusion fills: Telea (2004, fast marching) and Navier–Stokes (Bertalmio et al. 2001)."""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InpaintKitError
from . import register_inpainter
from .base import Inpainter

#: the border added around a one-pixel-high or -wide image before cv2.inpaint (see ``_OpenCVInpainter.forward``)
_TINY_BORDER = 2


class _OpenCVInpainter(Inpainter):
    flag: int
    bytes_per_pixel = 20.0  # measured: telea 18.7, ns 17.8 (benchmarks/memory_model.py)

    def __init__(self, radius: int = 3, **kw):
        super().__init__(**kw)
        if not isinstance(radius, (int, np.integer)) or radius < 1:
            raise InpaintKitError(f"{self.name}: radius must be a positive integer, got {radius!r}")
        self.radius = int(radius)

    def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw) -> np.ndarray:
        return opencv_inpaint(image, mask, self.radius, self.flag)


def opencv_inpaint(image: np.ndarray, mask: np.ndarray, radius: int, flag: int) -> np.ndarray:
    """``cv2.inpaint`` that is defined on any size. OpenCV works in BGR order but treats channels independently,
    so RGB in gives RGB out."""
    m = mask.astype(np.uint8)
    if min(m.shape) > 1:
        return cv2.inpaint(image, m, radius, flag)
    # one pixel high or wide: cv2.inpaint reads memory it never wrote (the same call gave different fills, and
    # tests/inpainters/test_properties.py saw the hole's old pixels leak in); a replicated 2-pixel border gives a
    # well-defined neighbourhood, and is cut off again
    b = _TINY_BORDER
    big = cv2.inpaint(
        cv2.copyMakeBorder(image, b, b, b, b, cv2.BORDER_REPLICATE),
        cv2.copyMakeBorder(m, b, b, b, b, cv2.BORDER_REPLICATE),
        radius,
        flag,
    )
    return big[b:-b, b:-b]


@register_inpainter("telea", description="OpenCV fast-marching fill (Telea 2004): fast, smooth, blurs large holes")
class TeleaInpainter(_OpenCVInpainter):
    flag = cv2.INPAINT_TELEA


@register_inpainter("ns", description="OpenCV Navier-Stokes fill (Bertalmio 2001): smooth, continues edges")
class NavierStokesInpainter(_OpenCVInpainter):
    flag = cv2.INPAINT_NS
