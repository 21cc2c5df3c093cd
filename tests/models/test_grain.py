"""``models.grain``: the network's grid out of a fill, the photo's own noise into it."""

from __future__ import annotations

import cv2
import numpy as np

from inpaintkit.models.grain import add_grain, remove_grid


def fine(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x - cv2.GaussianBlur(x, (0, 0), 1.0)


def noisy_photo(seed: int = 0, size: int = 128) -> np.ndarray:
    """A smooth gradient with camera-like noise: sigma 2 on the dark left half, 6 on the bright right half."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    base = np.where(xx < size // 2, 50.0, 190.0) + 0.1 * yy
    sigma = np.where(xx < size // 2, 2.0, 6.0)
    img = base[..., None] + sigma[..., None] * rng.standard_normal((size, size, 3))
    return np.clip(img, 0, 255).round().astype(np.uint8)


def box(size: int = 128) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[32:96, 24:104] = True  # across both halves
    return mask


def smooth_fill(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """What a smooth fill looks like: the photo blurred into the hole."""
    out = img.copy()
    out[mask] = cv2.GaussianBlur(img, (0, 0), 6.0)[mask]
    return out


def phase_means(x: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The mean fine detail (x minus its Gaussian blur of 2 px) at each position modulo 8 over ``region``."""
    d = x.astype(np.float32) - cv2.GaussianBlur(x.astype(np.float32), (0, 0), 2.0)
    yy, xx = np.nonzero(region)
    ph = (yy % 8) * 8 + xx % 8
    return np.stack([np.bincount(ph, d[yy, xx, c], 64) / np.bincount(ph, None, 64) for c in range(3)], -1)


def test_remove_grid_takes_a_period_8_pattern_out_of_the_hole_only():
    img = noisy_photo()
    mask = box()
    yy, xx = np.mgrid[:128, :128]
    grid = 4.0 * np.cos(2 * np.pi * xx / 8) * np.cos(2 * np.pi * yy / 8) + 2.0 * ((xx % 8) == 0) - 0.25
    smooth = smooth_fill(img, mask).astype(np.float32)
    fill = np.where(mask[..., None], smooth + grid[..., None], smooth)
    out = remove_grid(fill, mask)
    assert np.array_equal(out[~mask], fill[~mask])
    inside = mask & (cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5) > 4)
    before, after = np.abs(phase_means(fill, inside)).mean(), np.abs(phase_means(out, inside)).mean()
    assert after < 0.05 * before  # the grid is gone from the fine detail
    assert np.abs(out - smooth)[inside].mean() < 0.4 * np.abs(grid[inside]).mean()  # and mostly from the fill
    # a fill without a grid is left nearly as it is
    again = remove_grid(smooth, mask)
    assert np.abs(again - smooth)[mask].mean() < 0.05


def test_remove_grid_leaves_a_thin_hole_alone():
    img = noisy_photo().astype(np.float32)
    mask = np.zeros((128, 128), bool)
    mask[60:63, 10:120] = True  # no pixel deep enough to measure the grid
    assert np.array_equal(remove_grid(img, mask), img)


def test_add_grain_brings_the_photos_noise_level_into_a_smooth_fill():
    img, mask = noisy_photo(), box()
    fill = smooth_fill(img, mask)
    out = add_grain(fill, mask, gain=1.0)
    assert out.dtype == np.uint8 and np.array_equal(out[~mask], img[~mask])
    inside = cv2.erode(mask.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0
    dark, bright = inside.copy(), inside.copy()
    dark[:, 52:] = False  # away from the step, where the smooth fill has mid-grey tiles
    bright[:, :76] = False
    r_out, r_img, r_fill = fine(out), fine(img), fine(fill)
    known_dark = ~mask
    known_dark[:, 56:] = False
    known_bright = ~mask
    known_bright[:, :72] = False
    for region, known in ((dark, known_dark), (bright, known_bright)):
        assert r_fill[region].std() < 0.3 * r_img[known].std()  # the fill was smooth
        ratio = r_out[region].std() / r_img[known].std()
        assert 0.6 < ratio < 1.5, ratio  # now it has the noise of the photo at its brightness
    assert r_out[bright].std() > 2 * r_out[dark].std()  # noise grows with the signal, as in the photo


def test_add_grain_is_seeded_and_scaled_by_its_gain():
    img, mask = noisy_photo(), box()
    fill = smooth_fill(img, mask)
    a, b = add_grain(fill, mask, seed=0), add_grain(fill, mask, seed=0)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, add_grain(fill, mask, seed=1))
    assert np.array_equal(add_grain(fill, mask, gain=0.0), fill)
    half = add_grain(fill, mask, gain=0.5).astype(np.float32) - fill
    full = a.astype(np.float32) - fill
    assert 0.4 < half[mask].std() / full[mask].std() < 0.6


def test_add_grain_without_known_tiles_returns_the_fill():
    img = noisy_photo()
    mask = np.ones((128, 128), bool)
    mask[:4, :4] = False  # nearly all hole: no quiet known tile to copy from
    assert np.array_equal(add_grain(img, mask), img)


def test_add_grain_handles_sizes_that_are_not_whole_tiles():
    img = noisy_photo(size=128)[:101, :77]
    mask = np.zeros(img.shape[:2], bool)
    mask[40:101, 50:77] = True  # reaches the ragged bottom-right corner
    fill = smooth_fill(img, mask)
    out = add_grain(fill, mask)
    assert out.shape == img.shape and np.array_equal(out[~mask], img[~mask])
    corner = fine(out)[94:99, 72:75]
    assert corner.std() > 1.0  # the partial tiles got grain too
