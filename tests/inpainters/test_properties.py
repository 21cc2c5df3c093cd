"""Property tests over random images, masks and modes for every inpainter that needs no weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inpaintkit.inpainters import INPAINTERS, create_inpainter, is_available, list_inpainters

list_inpainters()  # load plug-in registrations
CLASSICAL = [e.name for e in INPAINTERS.entries() if e.kind == "classical" and is_available(e)]


@st.composite
def image_and_mask(draw):
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 40))
    channels = draw(st.sampled_from([0, 3, 4]))  # 0 = grayscale (H, W)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels == 0 else (h, w, channels)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    kind = draw(st.sampled_from(["random", "full", "box", "empty"]))
    if kind == "random":
        mask = rng.random((h, w)) < draw(st.floats(0.01, 0.9))
    elif kind == "full":
        mask = np.ones((h, w), bool)
    elif kind == "empty":
        mask = np.zeros((h, w), bool)
    else:
        mask = np.zeros((h, w), bool)
        y, x = rng.integers(0, h), rng.integers(0, w)
        mask[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = True
    as_uint8 = draw(st.booleans())
    return image, (mask.astype(np.uint8) * 255 if as_uint8 else mask), seed


@pytest.mark.parametrize("name", CLASSICAL)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=image_and_mask())
def test_invariants(name, data):
    image, mask, seed = data
    inp = create_inpainter(name)
    hole = np.asarray(mask) > 0 if np.asarray(mask).dtype != bool else mask
    out = inp.inpaint(image, mask)  # every generated case is valid input: all of them must be filled
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], image[~hole]), "pixels outside the hole changed"
    if image.ndim == 3 and image.shape[2] == 4:
        assert np.array_equal(out[..., 3], image[..., 3]), "alpha is passed through untouched"
    # The inpainter never peeks: noise under the hole (colour channels) gives the same result as zeros there.
    colour = (slice(None), slice(None)) if image.ndim == 2 else (slice(None), slice(None), slice(0, 3))
    noisy, zeros = image.copy(), image.copy()
    noisy_c, zeros_c = noisy[colour], zeros[colour]
    noisy_c[hole] = np.random.default_rng(seed + 1).integers(0, 256, noisy_c[hole].shape, dtype=np.uint8)
    zeros_c[hole] = 0
    assert np.array_equal(create_inpainter(name).inpaint(noisy, mask), create_inpainter(name).inpaint(zeros, mask))


def test_classical_list_is_not_empty():
    assert {"telea", "ns", "biharmonic"} <= set(CLASSICAL)


@pytest.mark.parametrize("name", ["telea", "ns", "shift"])
def test_opencv_fills_of_one_pixel_high_images_are_defined(name):
    """The case the property test found: on a one-row image cv2.inpaint read memory it never wrote (40 fills of
    this row with random pixels under the hole gave up to 15 different results). Now it is one fill, whatever was
    under the hole, for a row or a column, grey or RGB — also for the ``shift`` probe, whose fallback for a hole
    part with no free place is Telea's fill (found again by the property test)."""
    row = np.array(
        [[255, 228, 34, 121, 243, 189, 6, 131, 102, 168, 82, 193, 187, 150, 81, 243, 205, 24, 236, 8]], np.uint8
    )
    hole = np.array([[0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1]], bool)
    rng = np.random.default_rng(0)
    inp = create_inpainter(name)
    for transpose in (False, True):
        for rgb in (False, True):
            fills = set()
            for _ in range(40):
                x = row.copy()
                x[hole] = rng.integers(0, 256, int(hole.sum()))
                img = np.repeat(x[..., None], 3, axis=2) if rgb else x
                img, m = (np.ascontiguousarray(img.swapaxes(0, 1)), hole.T.copy()) if transpose else (img, hole)
                out = inp.inpaint(img, m)
                assert out.shape == img.shape and np.array_equal(out[~m], img[~m])
                fills.add(out.tobytes())
            assert len(fills) == 1, (transpose, rgb, len(fills))
