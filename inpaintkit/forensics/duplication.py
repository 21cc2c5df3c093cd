"""Duplication branch: copy-move detection (no training).

An exemplar fill (PatchMatch, content-aware fill, a pasted region) is made of near-exact copies of other parts of the
same image. Following Fridrich, Soukal & Lukas (2003), as benchmarked by Christlein et al. (2012): every 8x8 window
(step 1) is described by its lowest DCT coefficients; the descriptors are sorted lexicographically so that similar
windows become neighbours; each pair of near-identical, textured windows at least ``min_shift`` pixels apart votes
for its shift vector; shifts with at least ``min_votes`` windows are copies. The map is the union of the matched
windows of those shifts; the side that is the copy is the one whose outline shows a seam (the residual energy on its
border ring is higher than on the other side's — a pasted region breaks the image's structure at its edge, the
region it was taken from does not).

A second, finer test catches what PatchMatch-style exemplar fills leave: many small copies at many different
shifts (each coherent run of the fill's nearest-neighbour field is a pixel-exact copy of a piece of the known
region), too few windows per shift for the vote. ``exact_copies``: every textured ``exact_win`` x ``exact_win``
window (5 px) is hashed on its exact RGB values (a rolling polynomial hash, 64 bits); windows whose exact twin lies
at least ``exact_min_shift`` px away are copies. A camera photo's noise makes two textured windows bit-identical
practically never (none in the 22 val photos of the corpus; every PatchMatch fill of them at 256² had some), and
JPEG or resampling destroys such copies, so this part speaks for lossless inputs only. A fill of clear sky or a
plain wall has no window that textured; there the test also takes larger windows that are only weakly textured
(``flat_win`` x ``flat_win``, 9 px, luma std >= ``flat_min_std``, 2): on 962 untouched 256² crops of the corpus
none had such a twin, and 71 of the 88 PatchMatch test fills had (a blue-sky fill that the 5 px test missed among
them). JPEG's quantisation makes weakly textured windows repeat (q75: 1.3 % of untouched crops), so
``predict(rgb, jpeg=True)`` leaves the larger windows out. Both sides of a pair are
marked, at ``EXACT_LEVEL`` (0.5) in the map (with hundreds of tiny pairs, which side is the copy is left to the
fusion's pixel stack), except inside a voted copy, where the seam test has already chosen. Their share of the image
(``exact_share``) feeds a training-free rule of the fusion (``fusion.exact_rule``).

For JPEG inputs the shift vote has its own settings (``JPEG_VOTE``: 12 windows instead of 60, luma std >= 8, closer
descriptors, a clearer peak, shifts >= 32 px): the pieces of an exemplar fill lose their exact twins to JPEG, but a
20 px piece still votes as a small copy-move. Smaller pieces, and copies with too few equal window hashes, are
found by ``dense_copies`` (JPEG inputs only, ``JPEG_DENSE``): the most voted shifts of a looser hash, each checked
at every pixel against the texture it would copy, repeating patterns left out; both sides marked at
``DENSE_LEVEL``.

Only the threshold on the score is set from data, on untouched photos (``fusion.py``). ~20 ms at 256² on one core
(the exact test ~6 ms of it); JPEG inputs ~16 ms more for the dense test.
"""

from __future__ import annotations

import cv2
import numpy as np

from .noise import DCT8

#: zig-zag order of the DCT coefficients used as the window descriptor (DC first)
_ZIGZAG = ((0, 0), (0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0))
WIN = 8


def window_dct(
    y: np.ndarray, coeffs: tuple[tuple[int, int], ...] = _ZIGZAG, at: np.ndarray | None = None
) -> np.ndarray:
    """DCT coefficients of every 8x8 window of ``y`` (float32 (H, W)): (H-7, W-7, K), separable filters. With
    ``at`` (flat indices into that (H-7, W-7) grid), only those windows', coefficient by coefficient: (K, len(at))."""
    h, w = y.shape
    gh, gw = h - WIN + 1, w - WIN + 1
    if at is None:
        out = np.empty((gh, gw, len(coeffs)), np.float32)
    else:
        out = np.empty((len(coeffs), len(at)), np.float32)
        rows, cols = np.divmod(at, gw)
        flat = rows * w + cols  # the same windows in the (H, W) grid of the filter output
    for i, (u, v) in enumerate(coeffs):
        # correlation with the basis image D[u] (rows) x D[v] (columns), anchored at the window's top-left corner
        r = cv2.sepFilter2D(y, cv2.CV_32F, DCT8[v], DCT8[u], anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        if at is None:
            out[..., i] = r[:gh, :gw]
        else:
            out[i] = np.take(r.ravel(), flat)
    return out


#: the weights of the descriptor hash (any fixed integers; these are the ones the thresholds were set with)
_HASH_WEIGHTS = np.random.default_rng(0).integers(1, 2**31, len(_ZIGZAG), dtype=np.int64).astype(np.float64)


def textured_windows(y: np.ndarray, k: int, min_std: float) -> np.ndarray:
    """Flat indices, into the (H-k+1, W-k+1) grid of ``y``'s k x k windows (by top-left corner), of the windows
    whose luma standard deviation is at least ``min_std``."""
    gh, gw = y.shape[0] - k + 1, y.shape[1] - k + 1
    m = cv2.blur(y, (k, k), anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)[:gh, :gw]
    m2 = cv2.blur(y * y, (k, k), anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)[:gh, :gw]
    return np.flatnonzero(np.sqrt(np.maximum(m2 - m * m, 0)) >= min_std)


#: the shift vote's settings for JPEG inputs: smaller copies (12 windows, not 60), among more textured windows, closer
#: descriptors, a clearer peak and a longer shift. Chosen on val at q75 (396 untouched crops, 132 PatchMatch fills):
#: untouched crops with a found copy 3.0 % -> 1.5 %, PatchMatch fills 0.64 -> 0.73 (docs/forensics-history.md)
JPEG_VOTE = {"min_votes": 12, "min_std": 8.0, "tol": 4.0, "peak_ratio": 3.0, "min_shift": 32}

#: the value, in the map, of a pixel only the exact-copy test marked: one of two twins, the copy or its source
EXACT_LEVEL = 0.5

#: the dense test of JPEG inputs (``DuplicationBranch.dense_copies``): the ``offsets`` shifts most voted for (at
#: least ``min_votes`` window pairs; a looser hash than the vote's: ``quant``, ``tol``, ``min_std``, ``min_shift``),
#: each checked pixel by pixel: mean |difference| of the blurred luma over a ``box``² window below ``alpha`` times
#: the window's texture (the square root of the smaller eigenvalue of its structure tensor, at least
#: ``min_texture``: an edge moved along itself matches too, a corner does not), in pieces of ``min_area`` px.
#: Chosen on val at q75 (396 untouched crops, 132 PatchMatch fills): PatchMatch ROC-AUC of the branch's score
#: 0.864 -> 0.913 with the dense test, which alone finds a copy in 1.3 % of the untouched crops (docs/forensics-history.md)
JPEG_DENSE = {
    "offsets": 48,
    "min_votes": 3,
    "quant": 10.0,
    "tol": 6.0,
    "min_std": 4.0,
    "min_shift": 4,
    "box": 5,
    "alpha": 0.6,
    "min_texture": 0.8,
    "min_area": 25,
}

#: the value, in the map, of a pixel only the dense test marked (both sides of a copy, as for ``EXACT_LEVEL``)
DENSE_LEVEL = 0.75


def luma(rgb: np.ndarray) -> np.ndarray:
    """The BT.601 luma of RGB (H, W, 3) as float32 (H, W): what every test of the branch compares."""
    return np.asarray(rgb, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def exact_share(dup_map: np.ndarray) -> float:
    """The share of the image that only the exact-copy test marked (the ``EXACT_LEVEL`` pixels of a full-size
    ``DuplicationBranch.predict`` map; a resized map mixes the levels)."""
    return float(np.mean(dup_map == EXACT_LEVEL))


#: the bases of the exact-copy hash (odd 64-bit constants; any fixed ones do)
_ROW_BASE, _COL_BASE = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)


class DuplicationBranch:
    """``predict(rgb) -> (score, (H, W) float32 map)``; score = share of the image in matched copies (0..1); the map
    is 1 on the copy side of a voted copy and ``EXACT_LEVEL`` on both twins of an exact small copy."""

    name = "duplication"

    def __init__(
        self,
        *,
        min_shift: int = 16,
        min_votes: int = 60,
        min_std: float = 4.0,
        tol: float = 8.0,
        quant: float = 12.0,
        neighbours: int = 3,
        blur: float = 1.0,
        peak_ratio: float = 2.0,
        copy_side_only: bool = True,
        exact_win: int = 5,
        exact_min_std: float = 4.0,
        exact_min_shift: int = 6,
        flat_win: int = 9,
        flat_min_std: float = 2.0,
        jpeg_vote: dict[str, float] | None = None,
        jpeg_dense: dict[str, float] | None = None,
    ):
        self.min_shift = min_shift
        self.min_votes = min_votes
        self.min_std = min_std
        self.tol = tol
        self.quant = quant
        self.neighbours = neighbours
        self.blur = blur
        self.peak_ratio = peak_ratio
        self.copy_side_only = copy_side_only
        self.exact_win = exact_win  # 0: no exact-copy test (folders fitted before it)
        self.exact_min_std = exact_min_std
        self.exact_min_shift = exact_min_shift
        self.flat_win = flat_win  # 0: no weakly textured windows (folders fitted before them)
        self.flat_min_std = flat_min_std
        # JPEG inputs: the shift vote's own settings (``JPEG_VOTE``; None: as for lossless inputs, folders fitted
        # before), which find the smaller copies of an exemplar fill whose exact twins JPEG erased
        self.jpeg_vote = dict(JPEG_VOTE if jpeg_vote is None else jpeg_vote)
        # JPEG inputs: the dense test's settings (``JPEG_DENSE``; {}: no dense test, folders fitted before it)
        self.jpeg_dense = dict(JPEG_DENSE if jpeg_dense is None else jpeg_dense)

    def _blurred(self, y: np.ndarray) -> np.ndarray:
        # a light blur first: a copy re-compressed as JPEG off the 8x8 grid differs from its source mostly in
        # high frequencies (q75: median max-difference of the descriptor 6.1 -> 3.9 with sigma 1)
        return cv2.GaussianBlur(y, (0, 0), self.blur) if self.blur > 0 else y

    def _pairs(
        self, y: np.ndarray, yb: np.ndarray, min_std: float, tol: float, min_shift: int, quant: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-left corners ((n, 2) each, ``first`` then ``second``, the shift ``second - first`` pointing down or
        right) of the pairs of textured 8x8 windows (luma ``y`` std >= ``min_std``) whose DCT descriptors (of the
        blurred luma ``yb``) hash alike at step ``quant`` and differ by at most ``tol``, ``min_shift`` px apart."""
        empty = np.zeros((0, 2), np.int64)
        if min(y.shape) < 2 * WIN:
            return empty, empty
        gw = y.shape[1] - WIN + 1
        idx = textured_windows(y, WIN, min_std)  # flat sky matches everywhere and proves nothing
        if len(idx) < 2:
            return empty, empty
        feats = window_dct(yb, at=idx)  # (k, n): coefficient-major, so each step below runs over all windows at once
        rows, cols = np.divmod(idx, gw)  # window top-left corners
        # hash the coarsely quantised descriptor (twice, the second grid offset by half a step, so two windows
        # on either side of a rounding boundary still meet), sort by hash: equal hashes are neighbours. The
        # quantised values are small integers, so the hash (in float64, where BLAS does it) is exact
        pairs_a, pairs_b = [], []
        for offset in (0.0, 0.5):
            key = (_HASH_WEIGHTS @ np.floor(feats * (1.0 / quant) + offset)).astype(np.int64)
            order = np.argsort(key)
            ks = key[order]
            for step in range(1, self.neighbours + 1):
                same = ks[:-step] == ks[step:]
                a, b = order[:-step][same], order[step:][same]
                close = np.abs(np.take(feats, a, axis=1) - np.take(feats, b, axis=1)).max(axis=0) <= tol
                a, b = a[close], b[close]
                far = (np.abs(rows[b] - rows[a]) >= min_shift) | (np.abs(cols[b] - cols[a]) >= min_shift)
                pairs_a.append(a[far])
                pairs_b.append(b[far])
        a, b = np.concatenate(pairs_a), np.concatenate(pairs_b)
        pa, pb = np.stack((rows[a], cols[a]), axis=1), np.stack((rows[b], cols[b]), axis=1)
        # canonical direction: the shift points down (or right on the same row); 'first' is where it starts
        flip = (pb[:, 0] < pa[:, 0]) | ((pb[:, 0] == pa[:, 0]) & (pb[:, 1] < pa[:, 1]))
        return np.where(flip[:, None], pb, pa), np.where(flip[:, None], pa, pb)

    def matches(self, rgb: np.ndarray, jpeg: bool = False) -> list[tuple[tuple[int, int], np.ndarray, np.ndarray]]:
        """[(shift (dy, dx), first windows (n, 2), second windows (n, 2))] of each shift with enough votes;
        ``jpeg``: with the settings of ``jpeg_vote`` in place of the lossless ones."""
        v = {
            "min_votes": self.min_votes,
            "min_std": self.min_std,
            "tol": self.tol,
            "peak_ratio": self.peak_ratio,
            "min_shift": self.min_shift,
            **(self.jpeg_vote if jpeg else {}),
        }
        y = luma(rgb)
        pa, pb = self._pairs(y, self._blurred(y), v["min_std"], v["tol"], v["min_shift"], self.quant)
        if not len(pa):
            return []
        d = pb - pa
        key = (d[:, 0].astype(np.int64) << 16) + (d[:, 1] + 32768)
        uniq, counts = np.unique(key, return_counts=True)

        def votes(k: np.ndarray) -> np.ndarray:
            """Windows voting for each shift key in ``k`` (0 for a shift nobody voted for)."""
            i = np.minimum(np.searchsorted(uniq, k), len(uniq) - 1)
            return np.where(uniq[i] == k, counts[i], 0)

        ring = np.array([(ddy << 16) + ddx for ddy in (-1, 0, 1) for ddx in (-1, 0, 1) if ddy or ddx], np.int64)
        out = []
        for u in np.flatnonzero(counts >= v["min_votes"]):
            # a copy votes for one exact shift; a self-similar texture (waves, a gradient) for a drifting band of
            # neighbouring shifts: keep a shift only when it clearly beats its 8 neighbours
            k0 = uniq[u]
            if counts[u] < v["peak_ratio"] * votes(k0 + ring).max():
                continue
            sel = key == k0
            first, second = np.unique(pa[sel], axis=0), np.unique(pb[sel], axis=0)
            if min(len(first), len(second)) >= v["min_votes"]:
                out.append(((int(d[sel][0, 0]), int(d[sel][0, 1])), first, second))
        return out

    def exact_copies(self, rgb: np.ndarray, jpeg: bool = False) -> np.ndarray:
        """(H, W) bool: pixels of textured ``exact_win``² windows (luma std >= ``exact_min_std``) and, unless
        ``jpeg``, of weakly textured ``flat_win``² ones (std >= ``flat_min_std``) that have a bit-identical twin at
        least ``exact_min_shift`` px away (Chebyshev distance), both twins marked."""
        u = np.asarray(rgb, np.uint64)
        v = (u[..., 0] << np.uint64(16)) | (u[..., 1] << np.uint64(8)) | u[..., 2]  # one integer per pixel
        y = luma(rgb)
        out = self._twins(v, y, self.exact_win, self.exact_min_std)
        if not jpeg and self.flat_win > 0:
            out |= self._twins(v, y, self.flat_win, self.flat_min_std)
        return out

    def _twins(self, v: np.ndarray, y: np.ndarray, k: int, min_std: float) -> np.ndarray:
        """``exact_copies`` for one window size ``k`` and luma std floor ``min_std``; ``v``: each pixel's RGB packed
        into one integer (uint64 (H, W)), ``y``: the luma (float32 (H, W))."""
        h, w = v.shape
        out = np.zeros((h, w), bool)
        if k <= 0 or min(h, w) < 2 * k:
            return out
        gh, gw = h - k + 1, w - k + 1
        # rolling polynomial hash of each window, wrapping mod 2^64: rows of k pixels, then k of those rows
        with np.errstate(over="ignore"):
            rows = np.zeros((h, gw), np.uint64)
            for dx in range(k):
                rows = rows * _ROW_BASE + v[:, dx : dx + gw]
            key = np.zeros((gh, gw), np.uint64)
            for dy in range(k):
                key = key * _COL_BASE + rows[dy : dy + gh]
        idx = textured_windows(y, k, min_std)
        keys = key.ravel()[idx]
        order = np.argsort(keys, kind="stable")
        keys, idx = keys[order], idx[order]
        same = np.flatnonzero(keys[1:] == keys[:-1])
        (ya, xa), (yb, xb) = np.divmod(idx[same], gw), np.divmod(idx[same + 1], gw)
        far = np.maximum(np.abs(ya - yb), np.abs(xa - xb)) >= self.exact_min_shift
        seed = np.zeros((h, w), np.uint8)
        seed[ya[far], xa[far]] = 1
        seed[yb[far], xb[far]] = 1
        # a window at (r, c) covers (r..r+k-1, c..c+k-1)
        return cv2.dilate(seed, np.ones((k, k), np.uint8), anchor=(k - 1, k - 1)).astype(bool)

    def dense_copies(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W) bool: both sides of the copies a pixel-by-pixel check of the most voted shifts finds
        (``jpeg_dense``, ``JPEG_DENSE``). JPEG leaves a copy no exact twin and too few equal window hashes for the
        shift vote, but the copy still differs from its source by less than the texture it copies, at every pixel.
        A pixel that matches at more than one shift, or the pixel ``d`` ahead and the one ``d`` behind, or whose
        match ``d`` ahead matches on again, lies in a repeating pattern (a fence, a lattice), not in a copy, and is
        dropped."""
        c = self.jpeg_dense
        h, w = rgb.shape[:2]
        out = np.zeros((h, w), np.uint8)
        if not c or min(h, w) < 2 * WIN:
            return out.astype(bool)
        y = luma(rgb)
        yb = self._blurred(y)
        pa, pb = self._pairs(y, yb, c["min_std"], c["tol"], int(c["min_shift"]), c["quant"])
        if not len(pa):
            return out.astype(bool)
        shifts, counts = np.unique(pb - pa, axis=0, return_counts=True)
        top = np.argsort(-counts, kind="stable")[: int(c["offsets"])]
        r = int(c["box"])
        gx = cv2.Sobel(yb, cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(yb, cv2.CV_32F, 0, 1, ksize=3) / 8
        jxx, jyy, jxy = cv2.blur(gx * gx, (r, r)), cv2.blur(gy * gy, (r, r)), cv2.blur(gx * gy, (r, r))
        tex = np.sqrt(np.maximum((jxx + jyy) / 2 - np.sqrt(((jxx - jyy) / 2) ** 2 + jxy**2), 0))
        area = int(c["min_area"])
        count = np.zeros((h, w), np.uint8)  # shifts each pixel matches at
        sides: list[np.ndarray] = []
        for (dy, dx), n in zip(shifts[top], counts[top]):
            if n < c["min_votes"]:
                break
            dy, dx = int(dy), int(dx)
            hh, ww = h - abs(dy), w - abs(dx)
            if hh < r or ww < r:
                continue
            y0, x0 = max(0, -dy), max(0, -dx)
            here = (slice(y0, y0 + hh), slice(x0, x0 + ww))  # every p whose p + d lies in the image
            there = (slice(y0 + dy, y0 + dy + hh), slice(x0 + dx, x0 + dx + ww))  # those p + d
            diff = cv2.blur(np.abs(yb[here] - yb[there]), (r, r))
            t = np.minimum(tex[here], tex[there])
            ok = ((diff < c["alpha"] * t) & (t >= c["min_texture"])).astype(np.uint8)
            if ok.sum() < area:
                continue
            ahead = np.zeros((h, w), np.uint8)  # p matches p + d
            ahead[here] = ok
            behind = np.zeros((h, w), np.uint8)  # p matches p - d
            behind[there] = ok
            # a copy is one link, source -> copy; a repeating pattern a chain, p -> p + d -> p + 2d
            chain_on = np.zeros((h, w), np.uint8)  # p + d matches p + 2d
            chain_on[here] = ahead[there]
            chain_back = np.zeros((h, w), np.uint8)  # p - d matches p - 2d
            chain_back[there] = behind[here]
            count += ahead | behind
            sides += [
                side for side in (ahead & ~behind & ~chain_on, behind & ~ahead & ~chain_back) if side.sum() >= area
            ]
        once = (count == 1).astype(np.uint8)  # a pixel of a lattice matches at several shifts, one of a copy at one
        for side in sides:
            k, lab, st, _ = cv2.connectedComponentsWithStats(side & once, connectivity=8)
            keep = np.zeros(k, np.uint8)
            keep[1:] = st[1:, cv2.CC_STAT_AREA] >= area
            out |= keep[lab]
        return out.astype(bool)

    @staticmethod
    def _cover(shape: tuple[int, int], wins: np.ndarray) -> np.ndarray:
        """Pixels covered by the 8x8 windows whose top-left corners are ``wins``."""
        seed = np.zeros(shape, np.uint8)
        seed[wins[:, 0], wins[:, 1]] = 1
        # a window at (r, c) covers (r..r+7, c..c+7): dilate with the kernel anchored at its bottom-right corner
        return cv2.dilate(seed, np.ones((WIN, WIN), np.uint8), anchor=(WIN - 1, WIN - 1)).astype(bool)

    @staticmethod
    def seam(y: np.ndarray, region: np.ndarray) -> float:
        """Mean |Laplacian| on a 2-pixel ring around ``region`` relative to the image's median |Laplacian|."""
        lap = np.abs(cv2.Laplacian(y, cv2.CV_32F))
        r = region.astype(np.uint8)
        ring = cv2.dilate(r, np.ones((3, 3), np.uint8)).astype(bool) & ~cv2.erode(r, np.ones((3, 3), np.uint8)).astype(
            bool
        )
        return float(lap[ring].mean() / (np.median(lap) + 1e-3)) if ring.any() else 0.0

    def predict(self, rgb: np.ndarray, max_side: int = 1024, jpeg: bool = False) -> tuple[float, np.ndarray]:
        """Score and map; an image larger than ``max_side`` is searched at that size (copies stay copies when
        downscaled; the memory of the search grows with the pixel count) and the map scaled back. ``jpeg``: the
        input was JPEG-compressed (``exact_copies``)."""
        h0, w0 = rgb.shape[:2]
        if max(h0, w0) > max_side:
            f = max_side / max(h0, w0)
            small = cv2.resize(rgb, (max(16, round(w0 * f)), max(16, round(h0 * f))), interpolation=cv2.INTER_AREA)
            score, m = self.predict(small, max_side, jpeg)
            return score, cv2.resize(m, (w0, h0), interpolation=cv2.INTER_NEAREST)
        h, w = h0, w0
        heat = np.zeros((h, w), bool)
        voted = np.zeros((h, w), bool)  # both sides of every voted copy: the seam test has chosen between them
        y = None
        for _, first, second in self.matches(rgb, jpeg):
            a, b = self._cover((h, w), first), self._cover((h, w), second)
            voted |= a | b
            if self.copy_side_only:
                y = np.asarray(rgb, np.float32).mean(axis=2) if y is None else y
                heat |= b if self.seam(y, b) >= self.seam(y, a) else a
            else:
                heat |= a | b
        out = heat.astype(np.float32)  # 1: the copy side of a voted copy
        out[self.exact_copies(rgb, jpeg) & ~voted] = EXACT_LEVEL
        if jpeg and self.jpeg_dense:
            out[self.dense_copies(rgb) & (out == 0)] = DENSE_LEVEL
        return float((out > 0).mean()), out
