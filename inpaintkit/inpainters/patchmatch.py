"""PatchMatch fill: training-free "content-aware fill" by copying patches from the known part of the image.

The randomized nearest-neighbour-field (NNF) search of Barnes et al. 2009 ("PatchMatch: A Randomized
Correspondence Algorithm for Structural Image Editing", SIGGRAPH) inside the coarse-to-fine EM completion of
Wexler et al. 2007 ("Space-Time Completion of Video", TPAMI), with two ideas of Newson et al. 2014 ("Video
Inpainting of Complex Scenes", SIAM J. Imaging Sci.): texture features in the patch distance and an onion-peel
first guess. Per pyramid level, coarsest first:

    first guess   coarsest: peel the hole from its border inwards, each layer copying the centre of the source
                  patch that best matches the already filled part of its patch;
                  finer levels: upsample the coarser NNF and vote with it (a sharp guess, not a blurred one)
    repeat (EM)   search: for every patch overlapping the hole, find a similar wholly known source patch
                          (propagation from scan-order neighbours + random search at shrinking radii)
                  vote:   each hole pixel = mean of what the overlapping patches' sources put there, weighted
                          by exp(-d / 2 sigma^2) (d = patch distance, sigma^2 = its 75th percentile) and by
                          Wexler's confidence gamma^-(distance into the hole)

Pixels carry 5 channels: RGB and the local mean |dI/dx|, |dI/dy| (Newson's texture features), which keep a
finely textured region from matching a flat one of the same mean colour at coarse levels. The last vote keeps
only near-best patches (sigma^2 divided by ``sharpness``), so the fill is copied texture, not an average of
disagreeing patches. The pyramid stops where the hole is a few pixels deep or too few whole known patches remain.

The numba kernels and the pyramid live in ``_patchmatch``, loaded on the first fill (numba and scipy are heavy to
import; the registry and ``--help`` stay light); its docstring says how the threads share the work and why the
same seed gives the same output whatever the thread count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InpaintKitError
from . import register_inpainter
from .base import Inpainter


def patchmatch_fill(image: np.ndarray, mask: np.ndarray, **options: Any) -> np.ndarray:
    """Fill ``mask`` in ``image`` by multi-scale PatchMatch; options and details: ``_patchmatch.patchmatch_fill``."""
    from ._patchmatch import patchmatch_fill as fill

    return fill(image, mask, **options)


# ---------------------------------------------------------------------------------------------------------------
# the inpainter
# ---------------------------------------------------------------------------------------------------------------
def _int_option(name: str, value: Any, lo: int, hi: int | None = None, *, odd: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InpaintKitError(f"patchmatch: {name} must be an integer, got {value!r}")
    value = int(value)
    if value < lo or (hi is not None and value > hi) or (odd and value % 2 == 0):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise InpaintKitError(f"patchmatch: {name} must be {'an odd' if odd else 'an'} integer {rng}, got {value!r}")
    return value


def _float_option(name: str, value: Any, lo: float, hi: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not lo <= float(value) <= hi
    ):
        raise InpaintKitError(f"patchmatch: {name} must be a number in [{lo:g}, {hi:g}], got {value!r}")
    return float(value)


@register_inpainter(
    "patchmatch",
    priority=10,
    description="multi-scale PatchMatch (Barnes 2009 + Wexler 2007 EM): copies sharp texture "
    "from the rest of the image, no training",
)
class PatchMatchInpainter(Inpainter):
    """Training-free "content-aware fill". ``seed`` may also be given per call: ``inpaint(img, mask, seed=3)``.

    Options (see ``patchmatch_fill``): ``patch_size`` (odd, 3-31), ``iterations`` (EM steps per level),
    ``levels`` (``None`` = automatic), ``seed``, ``sharpness`` (1 = plain Wexler vote, larger = crisper),
    ``texture_weight`` (0 turns Newson's texture features off), ``threads`` (``None`` = all CPUs, at most 8).
    """

    call_options = ("seed",)
    bytes_per_pixel = 140.0  # measured 132 (benchmarks/memory_model.py)

    def __init__(
        self,
        patch_size: int = 7,
        iterations: int = 4,
        levels: int | None = None,
        seed: int = 0,
        sharpness: float = 10.0,
        texture_weight: float = 8.0,
        threads: int | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self.patch_size = _int_option("patch_size", patch_size, 3, 31, odd=True)
        self.iterations = _int_option("iterations", iterations, 1, 100)
        self.levels = None if levels is None else _int_option("levels", levels, 1, 16)
        self.seed = _int_option("seed", seed, 0)
        self.sharpness = _float_option("sharpness", sharpness, 1.0, 1000.0)
        self.texture_weight = _float_option("texture_weight", texture_weight, 0.0, 1000.0)
        self.threads = None if threads is None else _int_option("threads", threads, 1, 64)

    def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw: Any) -> np.ndarray:
        seed = self.seed if call_kw.get("seed") is None else _int_option("seed", call_kw["seed"], 0)
        return patchmatch_fill(
            image,
            mask,
            patch_size=self.patch_size,
            iterations=self.iterations,
            levels=self.levels,
            seed=seed,
            sharpness=self.sharpness,
            texture_weight=self.texture_weight,
            threads=self.threads,
        )
