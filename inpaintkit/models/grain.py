"""Photo grain for a network's smooth fill: its upsampling grid out, the photo's own fine noise in.

A photo's hole filled by a network is smooth where the photo has camera noise, and the network's 1/8-resolution
stage leaves a faint grid in it (in ``default``'s fills at 256², 26 % of the fine detail's energy, against 0.6 % in
the photos: the mean per position modulo 8). A forensic detector sees both (docs/forensics-history.md: the residual's
correlation at 4 and 8 px, the missing noise). Two finishing steps for the fill, both confined to the hole:

- ``remove_grid``: the fill's fine detail (the fill minus its Gaussian blur) is averaged per position modulo the
  grid's period over the hole, and that periodic mean is taken out — the truth has none, so the fill gets closer
  to it (on the corpus's val split: SSIM up, hole PSNR the same).
- ``add_grain``: the fine residual (the photo minus its Gaussian blur of 1 px) of the photo's own quietest 8×8 tiles
  of each brightness — its noise, not its edges — is copied into the hole's tiles, each from a known tile of about the same
  brightness (noise grows with the signal), tile-aligned so a JPEG's 8×8 grid stays in phase.

docs/default-model.md ("Photo grain") has the measurements behind the defaults.
"""

from __future__ import annotations

import cv2
import numpy as np

#: the period (px) of the grid ``remove_grid`` takes out: the network's deepest stage is at 1/8 resolution
GRID_PERIOD = 8
#: the detail ``remove_grid`` averages: the fill minus its Gaussian blur of this sigma (px)
GRID_SIGMA = 2.0
#: ``remove_grid`` repeats its estimate this many times (each pass leaves ~29 % of a period-8 wave)
GRID_PASSES = 3
#: ``add_grain``: the residual is the photo minus its Gaussian blur of this sigma (px)
GRAIN_SIGMA = 1.0
#: ``add_grain``: the tile side (px); 8 keeps a JPEG's block grid in phase
GRAIN_TILE = 8
#: ``add_grain`` copies from the known tiles whose residual energy is in this lower share (the noise, not edges)
GRAIN_QUIET = 0.25
#: ``add_grain`` picks the quiet tiles within this many brightness bins (equal counts of known tiles)
GRAIN_BINS = 8
#: ``add_grain``: each hole tile's source is drawn among this share of the sources nearest in brightness
GRAIN_NEAR = 0.05
#: ``add_grain`` fades the grain in over this many px from the hole's edge (the fill there continues the photo)
GRAIN_RAMP = 4.0
#: known tiles this close (px) to the hole are not sources (their residual would carry the hole's edge)
_SOURCE_MARGIN = 3


def remove_grid(
    fill: np.ndarray,
    mask: np.ndarray,
    period: int = GRID_PERIOD,
    sigma: float = GRID_SIGMA,
    margin: float = 2.0,
    passes: int = GRID_PASSES,
) -> np.ndarray:
    """``fill`` ((H, W, 3), uint8 or float) with the periodic part of its fine detail taken out of the hole ``mask``
    (bool (H, W), True = hole); float32. The periodic part is, per channel, the mean of the detail over the hole
    pixels at least ``margin`` px deep that share a position modulo ``period`` (in both axes), less its mean over
    positions. The blur keeps part of a pattern as wide as the period (at sigma 2, 29 % of a period-8 wave), so
    the step is repeated ``passes`` times. A hole with fewer than 4 such pixels per position is returned as it is."""
    x = fill.astype(np.float32)
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    inner = depth > margin
    if inner.sum() < 4 * period * period:
        return x
    yy, xx = np.nonzero(inner)
    phase = (yy % period) * period + (xx % period)
    counts = np.bincount(phase, minlength=period * period)
    if counts.min() == 0:
        return x
    hy, hx = np.nonzero(mask)
    hole_phase = (hy % period) * period + (hx % period)
    for _ in range(passes):
        detail = x - cv2.GaussianBlur(x, (0, 0), sigma)
        grid = np.stack(
            [np.bincount(phase, detail[yy, xx, c], period * period) / counts for c in range(x.shape[2])], axis=-1
        )  # (period², C): the mean detail at each position
        grid -= grid.mean(axis=0)
        x[hy, hx] -= grid[hole_phase]
    return x


def add_grain(
    fill: np.ndarray,
    mask: np.ndarray,
    gain: float = 1.0,
    seed: int = 0,
    tile: int = GRAIN_TILE,
    sigma: float = GRAIN_SIGMA,
    quiet: float = GRAIN_QUIET,
    near: float = GRAIN_NEAR,
    ramp: float = GRAIN_RAMP,
) -> np.ndarray:
    """``fill`` ((H, W, 3) uint8: the photo with its hole filled) plus ``gain`` x the fine residual of the photo's
    quiet known tiles, copied into the tiles of the hole ``mask`` (bool (H, W), True = hole); uint8, the known
    pixels unchanged. Each hole tile (``tile`` px, aligned to the image's origin) takes the residual of a source
    drawn (generator seeded with ``seed``) among the ``near`` share of sources nearest its brightness; sources are
    the known tiles at least 3 px from the hole whose residual energy is in the lower ``quiet`` share of the known
    tiles of about their brightness (``GRAIN_BINS`` bins). The grain
    fades in over ``ramp`` px from the hole's edge. Without 8 source tiles the fill is returned as it is."""
    if gain <= 0 or not mask.any():
        return fill
    h, w = mask.shape
    gh, gw = -(-h // tile), -(-w // tile)
    # padded to whole tiles: the image reflected, the hole continued
    x = cv2.copyMakeBorder(fill.astype(np.float32), 0, gh * tile - h, 0, gw * tile - w, cv2.BORDER_REFLECT)
    hole = np.pad(mask, ((0, gh * tile - h), (0, gw * tile - w)), mode="edge").astype(np.uint8)

    def tile_mean(a: np.ndarray) -> np.ndarray:  # (gh, gw): an area resize by a whole factor is the tile mean
        return cv2.resize(a, (gw, gh), interpolation=cv2.INTER_AREA)

    residual = x - cv2.GaussianBlur(x, (0, 0), sigma)
    energy = tile_mean((residual * residual).sum(axis=2))
    bright = tile_mean(cv2.GaussianBlur(x.mean(axis=2), (0, 0), 2.0))
    reach = 2 * int(_SOURCE_MARGIN) + 1
    ok = tile_mean(cv2.dilate(hole, np.ones((reach, reach), np.uint8)).astype(np.float32)) == 0
    if ok.sum() < 8:
        return fill
    # the quiet tiles of each brightness (noise grows with the signal: the dark tiles would be the quiet ones)
    cand = np.argwhere(ok)
    cand = cand[np.argsort(bright[cand[:, 0], cand[:, 1]], kind="stable")]
    keep = []
    for part in np.array_split(cand, max(1, min(GRAIN_BINS, len(cand) // 16))):
        e = energy[part[:, 0], part[:, 1]]
        keep.append(part[e <= np.quantile(e, quiet)])
    src = np.concatenate(keep)
    src_bright = bright[src[:, 0], src[:, 1]]
    dst = np.argwhere(tile_mean(hole.astype(np.float32)) > 0)
    k = max(1, int(near * len(src)))
    rng = np.random.default_rng(seed)
    pick = np.searchsorted(src_bright, bright[dst[:, 0], dst[:, 1]]) + rng.integers(-k, k + 1, len(dst))
    pick = src[np.clip(pick, 0, len(src) - 1)]
    # the grain over the hole's tiles only (their bounding box)
    (t0, l0), (t1, l1) = dst.min(axis=0), dst.max(axis=0) + 1
    moved = np.zeros((t1 - t0, l1 - l0, tile, tile, x.shape[2]), np.float32)
    moved[dst[:, 0] - t0, dst[:, 1] - l0] = residual.reshape(gh, tile, gw, tile, -1)[pick[:, 0], :, pick[:, 1]]
    top, left = t0 * tile, l0 * tile
    bottom, right = min(h, t1 * tile), min(w, l1 * tile)
    grain = moved.swapaxes(1, 2).reshape((t1 - t0) * tile, (l1 - l0) * tile, -1)[: bottom - top, : right - left]
    box = mask[top:bottom, left:right]
    if ramp > 0:  # the distance to the known region, from a margin wide enough to see it
        m = int(np.ceil(ramp)) + 1
        big = np.pad(mask, m, mode="constant", constant_values=False)[top : bottom + 2 * m, left : right + 2 * m]
        depth = cv2.distanceTransform(big.astype(np.uint8), cv2.DIST_L2, 5)[m:-m, m:-m]
        grain = grain * np.clip(depth / ramp, 0.0, 1.0)[..., None]
    region = fill[top:bottom, left:right]
    added = np.clip(region.astype(np.float32) + gain * grain, 0, 255).round().astype(np.uint8)
    out = fill.copy()
    out[top:bottom, left:right] = np.where(box[..., None], added, region)
    return out
