"""PatchMatch's numba kernels and ``patchmatch_fill`` (imported on first use: numba and scipy are heavy).

See ``inpaintkit.inpainters.patchmatch`` for the method. The kernels are numba ``@njit(cache=True, nogil=True)``;
where numba cannot cache (a read-only install and no writable home folder) they compile without a cache.
Parallelism comes from Python threads running the GIL-free
kernels on disjoint bands of rows, not from ``parallel=True``: numba's prange needs a threading layer, and the one
installed here (GNU OpenMP) kills any process that forks after a parallel region ran (e.g. torch DataLoader
workers), while the fallback (workqueue) aborts on concurrent calls from two threads (e.g. the server). Bands are
searched in two phases (even bands, then odd bands) and a band only reads its own rows or rows of the other
phase, so the result does not depend on thread scheduling: the same seed gives the same output whatever the
thread count. Random numbers come from a counter-based hash of (seed, level, iteration, pixel, draw). Nothing
else may vary either: no state survives a call, the patch distance adds in source order (no ``fastmath``, whose
reassociated sum depends on the CPU's vector width), and the hole depth comes from scipy's exact distance
transform (OpenCV's precise one varied by an ulp from call to call: issue 18). A fill is a function of (image,
mask, options, seed) alone; only numpy's and OpenCV's own SIMD code (exp, power, resize) may round differently on
another CPU kind.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numba import njit as _numba_njit
from scipy import ndimage


def njit(**kw: Any) -> Any:
    """``numba.njit(**kw)``, without ``cache=True`` where numba has nowhere to write its cache.

    numba refuses at decoration time ("cannot cache function ...: no locator available") when neither the
    package's ``__pycache__`` nor a cache folder in the home folder is writable (read-only installs, services with
    no HOME); compiling each run is slower to start but works.
    """

    def deco(fn: Any) -> Any:
        try:
            return _numba_njit(**kw)(fn)
        except RuntimeError as e:
            if "cannot cache" not in str(e):
                raise
            return _numba_njit(**{**kw, "cache": False})(fn)

    return deco


_BAND = 16  # rows per search band (two phases of alternating bands run on the threads)
_GAMMA = 1.3  # Wexler's confidence base: a patch centred k px inside the hole votes with weight gamma^-k
_BIG = np.float32(3.4e38)
_NC = 5  # channels: R, G, B and Newson et al.'s two texture features
_EXACT_BUDGET = 200_000  # hole pixels x source centres up to which the first guess uses an exact search


# ---------------------------------------------------------------------------------------------------------------
# numba kernels
# ---------------------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _hash(a):
    """int64 -> int64 in [0, 2^31): a murmur3-style finaliser (integer ops wrap in numba)."""
    a = (a ^ (a >> 33)) * -49064778989728563
    a = (a ^ (a >> 29)) * -4265267296055464877
    a = a ^ (a >> 32)
    return a & 0x7FFFFFFF


@njit(cache=True, nogil=True)
def _masked_dist(est, known, filled, use_filled, ty, tx, sy, sx, r, strict):
    """Mean squared difference over the pixel pairs that exist: both inside the image, the source pixel known
    (unless ``strict``: then it always is) and, if ``use_filled``, the target pixel already filled. ``_BIG`` if
    no pair exists."""
    h, w = known.shape
    acc = 0.0
    n = 0
    for dy in range(-r, r + 1):
        y1 = ty + dy
        y2 = sy + dy
        if y1 < 0 or y1 >= h or y2 < 0 or y2 >= h:
            continue
        for dx in range(-r, r + 1):
            x1 = tx + dx
            x2 = sx + dx
            if x1 < 0 or x1 >= w or x2 < 0 or x2 >= w or (use_filled and not filled[y1, x1]):
                continue
            if not strict and not known[y2, x2]:
                continue
            for c in range(est.shape[2]):
                a = est[y1, x1, c] - est[y2, x2, c]
                acc += a * a
            n += 1
    if n == 0:
        return _BIG
    return acc / n


@njit(cache=True, nogil=True)
def _patch_dist(est, rows, known, ty, tx, sy, sx, r, strict, limit):
    """Mean squared difference (all channels) between the patches centred at target (ty, tx) and source (sy, sx).

    ``rows`` is ``est`` viewed as (H, W * channels). Pixels outside the image are skipped; when not ``strict``, so
    are unknown source pixels. The fast path (both patches inside the image, strict sources) runs over each
    patch row as one contiguous vector and stops as soon as the sum exceeds ``limit`` (the current best), which
    is what makes the search cheap. No ``fastmath``: the sum's order is the source's on every CPU (a vectorised,
    reassociated sum rounds by the CPU's vector width and could pick another match on another node); a 256x256
    fill measured no slower without it.
    """
    h, w = known.shape
    if (
        strict
        and ty - r >= 0
        and ty + r < h
        and tx - r >= 0
        and tx + r < w
        and sy - r >= 0
        and sy + r < h
        and sx - r >= 0
        and sx + r < w
    ):
        p = 2 * r + 1
        nc = est.shape[2]
        n = p * nc
        bound = limit * (p * p)
        t0 = (tx - r) * nc
        s0 = (sx - r) * nc
        acc = np.float32(0.0)
        for dy in range(-r, r + 1):
            rt = rows[ty + dy]
            rs = rows[sy + dy]
            for k in range(n):
                a = rt[t0 + k] - rs[s0 + k]
                acc += a * a
            if acc > bound:
                return _BIG
        return acc / (p * p)
    return _masked_dist(est, known, known, False, ty, tx, sy, sx, r, strict)


@njit(cache=True, nogil=True, inline="always")
def _random_source(s, by, bx, rad, src_ok, snap):
    """Random-search candidate: uniform in the square of radius ``rad`` around (by, bx), clamped to the image and
    snapped to the nearest valid source centre. Returns the advanced random state and the candidate."""
    h, w = src_ok.shape
    s = _hash(s + 0x632BE5AB)
    cy = min(max(by + (s % (2 * rad + 1)) - rad, 0), h - 1)
    s = _hash(s + 0x2545F491)
    cx = min(max(bx + (s % (2 * rad + 1)) - rad, 0), w - 1)
    if not src_ok[cy, cx]:
        return s, snap[cy, cx, 0], snap[cy, cx, 1]
    return s, cy, cx


@njit(cache=True, nogil=True)
def _search_bands(est, known, src_ok, snap, tgt, nnf, dist, r, strict, bands, band_h, reverse, key, max_radius):
    """One PatchMatch pass (propagation + random search) over the target pixels of the given row bands."""
    h, w = tgt.shape
    rows = est.reshape(h, w * est.shape[2])
    step = 1 if reverse else -1
    for bi in range(bands.shape[0]):
        y0 = bands[bi] * band_h
        y1 = min(h, y0 + band_h)
        for yy in range(y1 - y0):
            y = y1 - 1 - yy if reverse else y0 + yy
            for xx in range(w):
                x = w - 1 - xx if reverse else xx
                if not tgt[y, x]:
                    continue
                by = nnf[y, x, 0]
                bx = nnf[y, x, 1]
                # the estimate changed since the last pass: measure the current match again
                bd = _patch_dist(est, rows, known, y, x, by, bx, r, strict, _BIG)
                # propagation: the neighbour already visited in this scan, its match shifted by one pixel
                for k in range(2):
                    ny = y + step if k == 0 else y
                    nx = x if k == 0 else x + step
                    if ny < 0 or ny >= h or nx < 0 or nx >= w or not tgt[ny, nx]:
                        continue
                    cy = nnf[ny, nx, 0] - (step if k == 0 else 0)
                    cx = nnf[ny, nx, 1] - (0 if k == 0 else step)
                    if cy < 0 or cy >= h or cx < 0 or cx >= w or not src_ok[cy, cx]:
                        continue
                    if cy == by and cx == bx:
                        continue
                    d = _patch_dist(est, rows, known, y, x, cy, cx, r, strict, bd)
                    if d < bd:
                        bd = d
                        by = cy
                        bx = cx
                # random search around the current best at radii max_radius, max_radius/2, ..., 1
                s = _hash(key + y * w + x)
                rad = max_radius
                while rad >= 1:
                    s, cy, cx = _random_source(s, by, bx, rad, src_ok, snap)
                    if not (cy == by and cx == bx):
                        d = _patch_dist(est, rows, known, y, x, cy, cx, r, strict, bd)
                        if d < bd:
                            bd = d
                            by = cy
                            bx = cx
                    rad //= 2
                nnf[y, x, 0] = by
                nnf[y, x, 1] = bx
                dist[y, x] = bd


@njit(cache=True, nogil=True)
def _onion_fill(est, known, src, src_ok, snap, r, strict, nnf, exact, key):
    """First guess of the hole, peeled layer by layer from its border inwards (Newson et al. 2014).

    Each layer's pixels take the centre of the source patch that best matches the already filled part of their
    patch, so structure entering the hole is continued rather than smoothed over (a smooth first guess such as
    Telea's is a trap: flat source patches then match it best at every later step). The search is exhaustive
    when ``exact``, else PatchMatch-style: the matches of filled neighbours, shifted, then random search.
    A layer is committed only after all of it is matched, so the result does not depend on visiting order.
    """
    h, w = known.shape
    filled = known.copy()
    # only the hole's bounding box can hold unfilled pixels
    y0, y1, x0, x1 = h, 0, w, 0
    for y in range(h):
        for x in range(w):
            if not known[y, x]:
                y0 = min(y0, y)
                y1 = max(y1, y + 1)
                x0 = min(x0, x)
                x1 = max(x1, x + 1)
    front = np.empty((max(y1 - y0, 0) * max(x1 - x0, 0), 2), np.int64)
    max_radius = max(h, w)
    while True:
        n = 0
        for y in range(y0, y1):
            for x in range(x0, x1):
                if filled[y, x]:
                    continue
                near = False
                for dy in range(-1, 2):
                    for dx in range(-1, 2):
                        yy = y + dy
                        xx = x + dx
                        if 0 <= yy < h and 0 <= xx < w and filled[yy, xx]:
                            near = True
                if near:
                    front[n, 0] = y
                    front[n, 1] = x
                    n += 1
        if n == 0:
            break
        for j in range(n):
            ty = front[j, 0]
            tx = front[j, 1]
            by = snap[ty, tx, 0]
            bx = snap[ty, tx, 1]
            bd = _masked_dist(est, known, filled, True, ty, tx, by, bx, r, strict)
            if exact:
                for i in range(src.shape[0]):
                    d = _masked_dist(est, known, filled, True, ty, tx, src[i, 0], src[i, 1], r, strict)
                    if d < bd:
                        bd = d
                        by = src[i, 0]
                        bx = src[i, 1]
            else:
                # filled hole neighbours' matches, shifted (known neighbours have no match of their own)
                for dy in range(-1, 2):
                    for dx in range(-1, 2):
                        yy = ty + dy
                        xx = tx + dx
                        if yy < 0 or yy >= h or xx < 0 or xx >= w or known[yy, xx] or not filled[yy, xx]:
                            continue
                        cy = nnf[yy, xx, 0] - dy
                        cx = nnf[yy, xx, 1] - dx
                        if cy < 0 or cy >= h or cx < 0 or cx >= w or not src_ok[cy, cx]:
                            continue
                        d = _masked_dist(est, known, filled, True, ty, tx, cy, cx, r, strict)
                        if d < bd:
                            bd = d
                            by = cy
                            bx = cx
                s = _hash(key + ty * w + tx)
                for _ in range(8):  # a few uniform draws over all sources, then shrinking-radius search
                    s = _hash(s + 0x1B873593)
                    i = s % src.shape[0]
                    d = _masked_dist(est, known, filled, True, ty, tx, src[i, 0], src[i, 1], r, strict)
                    if d < bd:
                        bd = d
                        by = src[i, 0]
                        bx = src[i, 1]
                for _ in range(2):
                    rad = max_radius
                    while rad >= 1:
                        s, cy, cx = _random_source(s, by, bx, rad, src_ok, snap)
                        d = _masked_dist(est, known, filled, True, ty, tx, cy, cx, r, strict)
                        if d < bd:
                            bd = d
                            by = cy
                            bx = cx
                        rad //= 2
            nnf[ty, tx, 0] = by
            nnf[ty, tx, 1] = bx
        for j in range(n):
            ty = front[j, 0]
            tx = front[j, 1]
            for c in range(est.shape[2]):
                est[ty, tx, c] = est[nnf[ty, tx, 0], nnf[ty, tx, 1], c]
            filled[ty, tx] = True


@njit(cache=True, nogil=True)
def _vote_rows(est, known, hole, tgt, nnf, weight, r, y0, y1, out, nv):
    """Rows [y0, y1) of the vote: each hole pixel = weighted mean of what the overlapping patches' sources say.

    ``weight`` (H, W) is the vote weight of the patch centred at each target pixel. Only the first ``nv``
    channels are voted; the rest (the guide) stay as they are.
    """
    h, w = hole.shape
    acc = np.empty(nv, np.float32)
    for y in range(y0, y1):
        for x in range(w):
            if not hole[y, x]:
                continue
            acc[:] = 0.0
            ws = np.float32(0.0)
            best = np.float32(-1.0)
            by = -1
            bx = -1
            for dy in range(-r, r + 1):
                cy = y - dy
                if cy < 0 or cy >= h:
                    continue
                for dx in range(-r, r + 1):
                    cx = x - dx
                    if cx < 0 or cx >= w or not tgt[cy, cx]:
                        continue
                    sy = nnf[cy, cx, 0] + dy
                    sx = nnf[cy, cx, 1] + dx
                    if sy < 0 or sy >= h or sx < 0 or sx >= w or not known[sy, sx]:
                        continue
                    wt = weight[cy, cx]
                    if wt > best:  # fallback if every weight underflows
                        best = wt
                        by = sy
                        bx = sx
                    for c in range(nv):
                        acc[c] += wt * est[sy, sx, c]
                    ws += wt
            if ws > 1e-30:
                for c in range(nv):
                    out[y, x, c] = acc[c] / ws
            elif by >= 0:
                for c in range(nv):
                    out[y, x, c] = est[by, bx, c]


@njit(cache=True, nogil=True)
def _upsample_nnf(coarse, fine_h, fine_w, src_ok, snap):
    """NNF of the finer level: parent's match doubled plus the pixel's offset in its 2x2 block, kept valid."""
    ch, cw = coarse.shape[0], coarse.shape[1]
    out = np.empty((fine_h, fine_w, 2), np.int32)
    for y in range(fine_h):
        py = min(y // 2, ch - 1)
        for x in range(fine_w):
            px = min(x // 2, cw - 1)
            sy = min(max(2 * coarse[py, px, 0] + (y - 2 * py), 0), fine_h - 1)
            sx = min(max(2 * coarse[py, px, 1] + (x - 2 * px), 0), fine_w - 1)
            if not src_ok[sy, sx]:
                ty = snap[sy, sx, 0]
                sx = snap[sy, sx, 1]
                sy = ty
            out[y, x, 0] = sy
            out[y, x, 1] = sx
    return out


# ---------------------------------------------------------------------------------------------------------------
# one pyramid level
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Level:
    est: np.ndarray  # (H, W, 5) float32: RGB + texture features; known pixels exact, hole pixels the estimate
    known: np.ndarray  # (H, W) bool
    hole: np.ndarray  # (H, W) bool, = ~known
    tgt: np.ndarray  # (H, W) bool: centres of patches that overlap the hole
    src_ok: np.ndarray  # (H, W) bool: valid source patch centres
    src: np.ndarray  # (N, 2) int64: the same, as a list
    strict: bool  # sources are entirely inside the image and known (the normal case)
    snap: np.ndarray  # (H, W, 2) int32: nearest valid source centre of every pixel
    conf: np.ndarray  # (H, W) float32: Wexler's confidence of a patch centred there


def _hole_depth(hole: np.ndarray) -> np.ndarray:
    """(H, W) float32: each hole pixel's Euclidean distance to the nearest known pixel; 0 outside the hole.

    scipy's exact transform, not ``cv2.distanceTransform(..., DIST_MASK_PRECISE)``: OpenCV's (5.0.0) returned some
    distances one float32 ulp apart from one call to the next on the same mask (which one a call got depended on
    the process's history), and through Wexler's confidence that moved a fill by a pixel (issue 18: the local and
    Ray engines disagreed on one image). scipy's is the float64 square root of an integer (IEEE: correctly rounded).
    """
    return ndimage.distance_transform_edt(hole).astype(np.float32)


def _make_level(est: np.ndarray, known: np.ndarray, r: int) -> _Level:
    hole = ~known
    p = 2 * r + 1
    kernel = np.ones((p, p), np.uint8)
    k8 = known.astype(np.uint8)
    # Sources, best first: patches entirely inside the image and known; else patches whose in-image part is known
    # (images smaller than a patch); else any known centre (a known region thinner than a patch).
    src_ok = cv2.erode(k8, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    strict = bool(src_ok.any())
    if not strict:
        src_ok = cv2.erode(k8, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1).astype(bool)
        if not src_ok.any():
            src_ok = known.copy()
    tgt = cv2.dilate(hole.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    _, idx = ndimage.distance_transform_edt(~src_ok, return_indices=True)
    snap = np.ascontiguousarray(np.stack(idx, axis=-1).astype(np.int32))
    conf = np.power(np.float32(_GAMMA), -_hole_depth(hole)).astype(np.float32)
    return _Level(
        np.ascontiguousarray(est, dtype=np.float32),
        known,
        hole,
        tgt,
        src_ok,
        np.argwhere(src_ok).astype(np.int64),
        strict,
        snap,
        conf,
    )


def _texture_features(image: np.ndarray, known: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 2): mean |dI/dx| and |dI/dy| of the gray image over a size x size window (Newson et al. 2014).

    These tell a finely textured region from a flat one of the same mean colour even at coarse levels, where the
    texture itself has been averaged away; without them the EM settles on flat patches. Only gradients between
    two known pixels count; hole pixels get 0 (the fill reconstructs them like colours).
    """
    gray = image.astype(np.float32).mean(axis=2)
    h, w = known.shape
    out = np.zeros((h, w, 2), np.float32)
    for c, (g, v) in enumerate(
        (
            (np.abs(np.diff(gray, axis=1)), known[:, 1:] & known[:, :-1]),
            (np.abs(np.diff(gray, axis=0)), known[1:, :] & known[:-1, :]),
        )
    ):
        pad = ((0, 0), (0, 1)) if c == 0 else ((0, 1), (0, 0))
        g = np.pad(g * v, pad)
        v = np.pad(v.astype(np.float32), pad)
        num = cv2.boxFilter(g, -1, (size, size), normalize=False, borderType=cv2.BORDER_CONSTANT)
        den = cv2.boxFilter(v, -1, (size, size), normalize=False, borderType=cv2.BORDER_CONSTANT)
        out[..., c] = np.where(den > 0, num / np.maximum(den, 1e-6), 0.0)
    out[~known] = 0
    return out


def _downsample(est: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-size image and known mask: colours average only known pixels; a pixel is known if mostly known."""
    h, w = known.shape
    size = ((w + 1) // 2, (h + 1) // 2)
    k = known.astype(np.float32)
    weighted = est * k[..., None]
    num = np.concatenate(
        [
            cv2.resize(np.ascontiguousarray(weighted[..., c : c + 3]), size, interpolation=cv2.INTER_AREA).reshape(
                size[1], size[0], -1
            )
            for c in range(0, est.shape[2], 3)
        ],
        axis=2,
    )  # OpenCV resizes at most 4 channels
    den = cv2.resize(k, size, interpolation=cv2.INTER_AREA)
    small_known = den >= 0.5
    small = num / np.maximum(den, 1e-6)[..., None]
    small[~small_known] = 0
    return small.astype(np.float32), small_known


class _Runner:
    """Runs the kernels over row bands / row chunks on a few threads (deterministically, see module doc)."""

    def __init__(self, pool: ThreadPoolExecutor | None, threads: int):
        self.pool, self.threads = pool, threads

    def map(self, fn, jobs: list[tuple]) -> None:
        if self.pool is None or len(jobs) <= 1:
            for job in jobs:
                fn(*job)
        else:
            for f in [self.pool.submit(fn, *job) for job in jobs]:
                f.result()

    def _row_chunks(self, h: int) -> list[tuple[int, int]]:
        n = max(1, min(self.threads, h))
        cuts = np.linspace(0, h, n + 1).astype(int)
        return [(int(cuts[i]), int(cuts[i + 1])) for i in range(n)]

    def search(
        self, lv: _Level, nnf: np.ndarray, dist: np.ndarray, r: int, reverse: bool, key: int, radius: int
    ) -> None:
        h, w = lv.known.shape
        n_bands = -(-h // _BAND)
        for phase in (0, 1):
            bands = np.arange(phase, n_bands, 2, dtype=np.int64)
            if bands.size == 0:
                continue
            chunks = [bands[t :: self.threads].copy() for t in range(min(self.threads, bands.size))]
            self.map(
                _search_bands,
                [
                    (
                        lv.est,
                        lv.known,
                        lv.src_ok,
                        lv.snap,
                        lv.tgt,
                        nnf,
                        dist,
                        r,
                        lv.strict,
                        c,
                        _BAND,
                        reverse,
                        key,
                        radius,
                    )
                    for c in chunks
                ],
            )

    def vote(self, lv: _Level, nnf: np.ndarray, dist: np.ndarray, r: int, inv_2s2: float) -> None:
        out = lv.est.copy()
        weight = lv.conf * np.exp(-np.minimum(dist, 1e30) * np.float32(inv_2s2))  # (H, W) float32
        weight[~lv.tgt] = 0
        self.map(
            _vote_rows,
            [
                (lv.est, lv.known, lv.hole, lv.tgt, nnf, weight, r, y0, y1, out, _NC)
                for y0, y1 in self._row_chunks(lv.known.shape[0])
            ],
        )
        lv.est = out


def _inv_2s2(dist: np.ndarray, tgt: np.ndarray, q: float) -> float:
    """1 / (2 sigma^2) with sigma^2 the q-th percentile of the patch distances (Wexler et al.)."""
    d = dist[tgt]
    d = d[d < _BIG]
    if d.size == 0:
        return 0.0
    return 1.0 / (2.0 * max(float(np.percentile(d, q)), 1.0))


def _key(seed: int, level: int, it: int) -> int:
    """Spread (seed, level, iteration) over int64 so every pass draws different random numbers."""
    return int((seed * 0x9E3779B1 + level * 0x85EBCA77 + it * 0xC2B2AE3D) % (1 << 62))


def _default_threads() -> int:
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, n))


def _auto_levels(shape: tuple[int, int], depth: float, patch_size: int) -> int:
    """Halve until the hole is a few pixels deep, keeping the coarsest level at least 4 patches across."""
    n, side = 1, min(shape)
    while side // 2 >= 4 * patch_size and depth / 2 ** (n - 1) > 2.0:
        n, side = n + 1, side // 2
    return n


def _guide_channels(image: np.ndarray, mask: np.ndarray, guide: np.ndarray, blur: float, weight: float) -> np.ndarray:
    """(H, W, 3) float32: the guide's structure for the patch distance, ``sqrt(weight)`` x a Gaussian blur (sigma
    ``blur``) of the known pixels composited with the guide's hole.

    Blurred, the guide says which colours and shapes go where without asking the source to be as smooth as a
    network's fill: a textured source patch and the smooth fill of the same region have the same blur.
    """
    comp = np.where(mask[..., None], guide, image).astype(np.float32)
    if blur > 0:
        comp = cv2.GaussianBlur(comp, (0, 0), blur, borderType=cv2.BORDER_REFLECT)
    return comp * np.float32(np.sqrt(weight))


def patchmatch_fill(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    patch_size: int = 7,
    iterations: int = 4,
    levels: int | None = None,
    seed: int = 0,
    sharpness: float = 10.0,
    texture_weight: float = 8.0,
    threads: int | None = None,
    guide: np.ndarray | None = None,
    guide_weight: float = 1.0,
    guide_blur: float = 2.0,
) -> np.ndarray:
    """Fill ``mask`` (bool (H, W), True = hole) in ``image`` (uint8 (H, W, 3)); see the module docstring.

    Args:
        patch_size: odd patch side in pixels.
        iterations: EM iterations per pyramid level (each one search pass + one vote); the coarsest level
            does twice as many, the finest half as many (it starts from the upsampled, already good matches).
        levels: pyramid levels; ``None`` halves until the hole is a few pixels deep (or the image patch-sized).
        seed: random seed of the search; the same seed gives the same output.
        sharpness: the final vote's weights use sigma^2 = (75th percentile distance) / sharpness, so that only
            near-best patches count; 1 gives the plain Wexler vote (softer), larger is sharper.
        texture_weight: weight of the two texture-feature channels in the patch distance (Newson et al. 2014);
            0 compares colours only.
        threads: worker threads (default: the CPUs this process may use, at most 8).
        guide: optional uint8 (H, W, 3) fill of the hole (e.g. a network's) that the result should follow in
            structure: guided PatchMatch (as in content-aware fill and the guided upsampling of Zeng et al. 2020,
            "High-Resolution Image Inpainting with Iterative Confidence Feedback and Guided Upsampling"). The
            patch distance gains three channels, the blurred guide (``_guide_channels``), which are compared but
            never voted; the guide replaces the onion-peel first guess, so the result is the guide's structure
            with texture copied from the known region.
        guide_weight: weight of the guide channels in the patch distance (0: the guide is only the first guess).
        guide_blur: Gaussian sigma (px, full resolution) of the guide channels.

    Returns:
        uint8 (H, W, 3); known pixels are unchanged.
    """
    if mask.all():  # nothing to copy from: a plain fill
        return np.full_like(image, 128) if guide is None else guide.copy()
    r = patch_size // 2
    known0 = ~mask
    # the pyramid, finest first
    depth = float(_hole_depth(mask).max())
    n_levels = levels or _auto_levels(mask.shape, depth, patch_size)
    feats = _texture_features(image, known0, 2 ** max(n_levels - 1, 1)) * np.float32(np.sqrt(texture_weight))
    pyramid = [(np.concatenate([image.astype(np.float32), feats], axis=2) * known0[..., None], known0)]
    while len(pyramid) < n_levels:
        est, known = pyramid[-1]
        if min(known.shape) // 2 < 2 * patch_size:
            break
        small, small_known = _downsample(est, known)
        if small_known.all() or not small_known.any():  # the hole (or the known part) vanished
            break
        n_src = int(
            cv2.erode(
                small_known.astype(np.uint8),
                np.ones((patch_size, patch_size), np.uint8),
                borderType=cv2.BORDER_CONSTANT,
                borderValue=0,
            ).sum()
        )
        if n_src < (~small_known).sum():  # too few whole known patches left to fill from: stay finer
            break
        pyramid.append((small, small_known))
    # the guide at every level, finest first: (H, W, 3) distance channels and (H, W, 3) first-guess colours
    guides: list[tuple[np.ndarray, np.ndarray]] = []
    if guide is not None:
        g, c = _guide_channels(image, mask, guide, guide_blur, guide_weight), guide.astype(np.float32)
        for _est, known in pyramid:
            size = (known.shape[1], known.shape[0])
            if guides:
                g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
                c = cv2.resize(c, size, interpolation=cv2.INTER_AREA)
            guides.append((g, c))

    threads = threads or _default_threads()
    pool = ThreadPoolExecutor(threads) if threads > 1 else None  # per call, so a forked caller never inherits it
    try:
        run = _Runner(pool, threads)
        lv: _Level | None = None
        nnf = np.empty((0, 0, 2), np.int32)
        for li in range(len(pyramid) - 1, -1, -1):
            est, known = pyramid[li]
            if guides:  # channels 5-7: the guide, compared by the search, left alone by the vote
                est = np.concatenate([est, guides[li][0]], axis=2)
            lh, lw = known.shape
            coarsest = lv is None
            if lv is None and guides:  # the guide is the first guess; texture features from the nearest known pixel
                lv = _make_level(est, known, r)
                hole = lv.hole
                _, idx = ndimage.distance_transform_edt(hole, return_indices=True)
                lv.est[hole, :3] = guides[li][1][hole]
                lv.est[hole, 3:_NC] = lv.est[idx[0][hole], idx[1][hole], 3:_NC]
                # Barnes et al.'s random first NNF: the search only looks near each current match, and the nearest
                # known patch (``snap``) is often on the wrong side of an edge the guide draws through the hole
                nnf = lv.snap.copy()
                pick = np.random.default_rng(seed).integers(len(lv.src), size=int(lv.tgt.sum()))
                nnf[lv.tgt] = lv.src[pick].astype(np.int32)
            elif lv is None:  # a first guess of the hole, peeled from its border inwards
                lv = _make_level(est, known, r)
                nnf = lv.snap.copy()
                exact = int(lv.hole.sum()) * len(lv.src) <= _EXACT_BUDGET
                _onion_fill(lv.est, known, lv.src, lv.src_ok, lv.snap, r, lv.strict, nnf, exact, _key(seed, li, -1))
            else:  # upsample the coarser NNF; its vote (with this level's pixels) is the sharp first guess
                lv = _make_level(est, known, r)
                nnf = _upsample_nnf(nnf, lh, lw, lv.src_ok, lv.snap)
                run.vote(lv, nnf, np.zeros((lh, lw), np.float32), r, 0.0)
            dist = np.full((lh, lw), _BIG, np.float32)
            n_em = iterations * 2 if coarsest else (max(1, iterations // 2) if li == 0 else iterations)
            for it in range(n_em):
                # the coarsest level searches the whole image; finer ones refine the upsampled matches locally
                radius = max(lh, lw) if coarsest else max(4 * patch_size, max(lh, lw) // 8)
                run.search(lv, nnf, dist, r, reverse=bool(it % 2), key=_key(seed, li, it), radius=radius)
                final = li == 0 and it == n_em - 1
                run.vote(lv, nnf, dist, r, _inv_2s2(dist, lv.tgt, 75.0) * (sharpness if final else 1.0))
        assert lv is not None
        out = lv.est
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return np.clip(np.rint(out[..., :3]), 0, 255).astype(np.uint8)
