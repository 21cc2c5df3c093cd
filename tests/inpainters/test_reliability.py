"""Regression tests for issue 19 at the ``Inpainter`` base: bounded model calls, memory budget, cancellation, odd masks."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inpaintkit.errors import InpaintKitError
from inpaintkit.inpainters import create_inpainter
from inpaintkit.inpainters.base import OVERHEAD_BYTES_PER_PIXEL, Cancelled, Inpainter, crop_windows
from inpaintkit.io import read_mask


class Counter(Inpainter):
    """Fills with 200 and records each model call's input size."""

    bytes_per_pixel = 100.0

    def __init__(self, **kw):
        super().__init__(**kw)
        self.shapes = []

    def forward(self, image, mask, **kw):
        self.shapes.append(image.shape[:2])
        assert image[mask].max(initial=0) == 0  # hole zeroed
        return np.full_like(image, 200)


def _specks(side: int, step: int) -> np.ndarray:
    m = np.zeros((side, side), bool)
    m[::step, ::step] = True
    return m


def test_many_small_regions_cost_one_model_call(rng):
    """529 single-pixel holes on 1001x1001 ran the model 529 times (~48 s with default, issue 19.1)."""
    img = rng.integers(0, 256, (1001, 1001, 3), dtype=np.uint8)
    mask = _specks(1001, 44)
    assert mask.sum() == 529
    r = Counter()
    out = r.inpaint(img, mask, memory_budget=None)
    assert r.last_calls == len(r.shapes) == 1
    assert np.array_equal(out[~mask], img[~mask]) and (out[mask] == 200).all()


def test_crop_windows_merge_near_regions_and_cap_calls():
    m = np.zeros((3000, 3000), bool)
    m[100:110, 100:110] = m[100:110, 300:310] = True  # 190 px apart: one shared window at margin 128
    m[2800:2810, 2800:2810] = True  # far away: its own window
    wins = crop_windows(m, 128)
    assert len(wins) == 2
    assert all(not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]) for a in wins for b in wins if a != b)
    covered = np.zeros_like(m)
    for l, t, r, b in wins:
        covered[t:b, l:r] = True
    assert covered[m].all()
    grid = _specks(3000, 300)  # 100 far-apart specks: above the cap -> one joint window
    assert len(crop_windows(grid, 16, max_calls=16)) == 1
    assert len(crop_windows(grid, 16, max_calls=100)) == 100


def test_memory_budget_downscales_a_call_that_would_not_fit(rng):
    """A full-hole fill had no memory bound (455 B/px with default: 18 GB at 40 MP, issue 19.2)."""
    img = rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)
    mask = np.zeros((600, 800), bool)
    mask[50:550, 50:750] = True
    budget = OVERHEAD_BYTES_PER_PIXEL * mask.size + 100 * 100_000  # room for a 100 kpx model call
    r = Counter()
    out = r.inpaint(img, mask, hd_strategy="original", memory_budget=budget)
    ((h, w),) = r.shapes
    assert h * w <= 100_000 and r.last_downscaled == 1 and abs(w / h - 800 / 600) < 0.05
    assert np.array_equal(out[~mask], img[~mask]) and (out[mask] == 200).all()
    r2 = Counter()  # the same fill without a budget runs at full size
    r2.inpaint(img, mask, hd_strategy="original", memory_budget=None)
    assert r2.shapes == [(600, 800)] and r2.last_downscaled == 0
    with pytest.raises(InpaintKitError, match="memory budget of 0.00 GB"):
        r.inpaint(img, mask, memory_budget=1000)
    with pytest.raises(InpaintKitError, match="memory_budget must be"):
        r.inpaint(img, mask, memory_budget=-5)


def test_cancel_stops_before_the_next_model_call(rng):
    img = rng.integers(0, 256, (2000, 2000, 3), dtype=np.uint8)
    mask = np.zeros((2000, 2000), bool)
    mask[100:120, 100:120] = mask[1800:1820, 1800:1820] = True  # two windows
    r = Counter()
    calls = iter([False, True])
    with pytest.raises(Cancelled, match="cancelled after 1 model call"):
        r.inpaint(img, mask, cancel=lambda: next(calls))
    assert len(r.shapes) == 1
    with pytest.raises(Cancelled):
        r.inpaint(img, mask, cancel=lambda: True)


@pytest.mark.parametrize("side", [1, 2, 5, 8])
def test_default_fills_tiny_images(side):
    """``default`` raised 'Padding size should be less than ...' on images <= 8 px (issue 19.3)."""
    img = np.full((side, side, 3), 90, np.uint8)
    out = create_inpainter("default", device="cpu").inpaint(img, np.ones((side, side), bool))
    assert out.shape == img.shape and out.dtype == np.uint8


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_default_with_tiny_resize_limit(rng, limit):
    img = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    mask = np.zeros((40, 56), bool)
    mask[10:20, 10:30] = True
    out = create_inpainter("default", device="cpu").inpaint(
        img, mask, hd_strategy="resize", hd_strategy_resize_limit=limit
    )
    assert np.array_equal(out[~mask], img[~mask])


def test_one_bit_png_mask_and_odd_bool_bytes_fill_with_biharmonic(rng):
    """A 1-bit PNG mask gave a bool array holding byte 255: biharmonic built garbage indices (issue 19.5)."""
    img = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    hole = np.zeros((30, 40), bool)
    hole[10:20, 12:25] = True
    buf = io.BytesIO()
    Image.fromarray(hole.astype(np.uint8) * 255).convert("1").save(buf, format="PNG")
    m = read_mask(buf.getvalue())
    assert m.view(np.uint8).max() == 1 and np.array_equal(m, hole)
    bih = create_inpainter("biharmonic")
    want = bih.inpaint(img, hole)
    odd = (hole.astype(np.uint8) * 255).view(bool)  # what np.asarray(1-bit image, bool) used to give
    assert np.array_equal(bih.inpaint(img, odd), want)
    ro = hole.copy()
    ro.flags.writeable = False  # a read-only mask raised 'buffer source array is read-only' (issue 19.10)
    assert np.array_equal(bih.inpaint(img, ro), want)


def test_odd_arrays_are_one_line_errors():
    r = Counter()
    for bad in (np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), object), np.zeros((0, 5, 3), np.uint8), "img"):
        with pytest.raises(InpaintKitError):
            r.inpaint(bad, np.ones((4, 4), bool))


def test_numba_kernels_compile_where_numba_cannot_cache():
    """With a read-only install and no writable HOME, numba's cache=True crashed even `inpaintkit --help` (19.9)."""
    from inpaintkit.inpainters._patchmatch import njit

    ns: dict = {}
    exec("def f(x):\n    return x + 1", ns)  # no source file: numba has no cache locator, like a read-only install
    assert njit(cache=True, nogil=True)(ns["f"])(2) == 3


def test_light_imports_for_help_and_classical_fills():
    """`inpaintkit --help` imported cv2, scipy.stats, numba and skimage (2.0 s); telea imported torch (19.13)."""
    import subprocess
    import sys

    code = (
        "import sys; from inpaintkit.cli import app; import inpaintkit.inpainters as i; "
        "i.create_inpainter('telea'); print(sorted(m for m in ('torch', 'numba', 'scipy', 'skimage') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unusable_devices_are_one_line_errors():
    """device="meta" gave NotImplementedError: Cannot copy out of meta tensor (issue 19.10)."""
    for device in ("meta", "xla", "banana"):
        with pytest.raises(InpaintKitError, match="unknown device"):
            create_inpainter("default", device=device)


def test_crop_windows_stay_fast_for_thousands_of_regions_without_margin():
    noise = np.random.default_rng(0).random((1500, 1500)) < 0.3  # ~thousands of regions, margin 0: no clustering
    import time

    t0 = time.perf_counter()
    wins = crop_windows(noise, 0)
    assert len(wins) == 1 and time.perf_counter() - t0 < 5
