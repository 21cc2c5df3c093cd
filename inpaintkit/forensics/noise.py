"""Noise-consistency branch: where is the camera's noise missing or different?

Every photo carries sensor noise and, often, JPEG quantisation; a fill painted by diffusion, a PDE or most learned
models is smoother than that noise, and an exemplar fill carries the noise of elsewhere. Per 8x8 block we measure the
energy of several high-pass residuals (a Laplacian, two SRM filters, the median-filter residual), the share of
high-frequency DCT coefficients that are near zero, JPEG-grid blockiness and the correlation of the residual across
colour channels — each **relative to the image's own noise level** (the median over its blocks), and again averaged
over 3x3 and 7x7 block neighbourhoods — plus the block's brightness, saturation and content (so a naturally flat or
clipped region is not mistaken for a fill), runs of equal pixels, the residual against the image's noise floor at
the block's brightness and the residual's change between full and half resolution — and, for 16 of these
statistics, how far the block is from the image's median block *in either direction* (``_add_anomalies``: trees
learn the direction their training fills departed in, and a fill that departs the other way went unseen) — and the
shape of the residual, its correlation with itself 1 to 8 pixels away (``_add_lags``). Gradient-boosted trees
(LightGBM; one set for PNG inputs, one for JPEG inputs) turn the features into a block probability map; the image
score is a high quantile of the map.

Features are plain numpy/OpenCV over the whole image at once (~7 ms at 256² on one core). Related work: Mahdian & Saic (2009)
on local noise inconsistencies; Fridrich & Kodovsky (2012) for the SRM residuals; Cozzolino & Verdoliva's
Noiseprint (2020) for the idea of judging a region against the image's own noise.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InpaintKitError
from .trees import Trees

BLOCK = 8
MODEL_FILE = "noise_lgbm.txt"
#: the trees for JPEG inputs (``looks_jpeg``), trained on JPEG-compressed samples; without the file the PNG trees
#: judge both
JPEG_MODEL_FILE = "noise_lgbm_jpeg.txt"
#: brightness bins of the per-image noise floor (``nlf_rel``)
NLF_BINS = 8

# high-pass residual kernels: 3x3 Laplacian, SRM first-order-ish "edge" 3x3 and the 5x5 "KV" square filter
_LAP = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
_SRM3 = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32) / 4
_KV = (
    np.array(
        [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]], np.float32
    )
    / 12
)


def _dct_matrix(n: int = BLOCK) -> np.ndarray:
    k = np.arange(n)
    d = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * np.sqrt(2 / n)
    d[0] /= np.sqrt(2)
    return d.astype(np.float32)


DCT8 = _dct_matrix()
_HF = np.add.outer(np.arange(BLOCK), np.arange(BLOCK)) >= 6  # high-frequency DCT positions (u + v >= 6)


def blocks_of(x: np.ndarray, b: int = BLOCK) -> np.ndarray:
    """(H, W[, C]) -> (H//b, W//b, b, b[, C]); the image must already be cropped to a multiple of b."""
    h, w = x.shape[:2]
    return x.reshape(h // b, b, w // b, b, *x.shape[2:]).swapaxes(1, 2)


def _block_mean(x: np.ndarray) -> np.ndarray:
    return blocks_of(x).mean(axis=(2, 3))


def _block_sums(x: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H//8, W//8, C) sums over each block, added pixel by pixel in row-major order — the order (and
    so the float32 result) of ``blocks_of(x).sum(axis=(2, 3))`` — but all blocks at once, one contiguous slice per
    pixel position (0.7 ms at 256², against 1.7 ms for numpy's reduction of the strided view)."""
    h, w, c = x.shape
    by_pos = np.ascontiguousarray(x.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, c).transpose(1, 3, 0, 2, 4))
    acc = by_pos[0, 0].copy()  # (H//8, W//8, C)
    for i in range(BLOCK):
        for j in range(BLOCK):
            if i or j:
                acc += by_pos[i, j]
    return acc


def _box(grid: np.ndarray, k: int) -> np.ndarray:
    return cv2.blur(grid.astype(np.float32), (k, k), borderType=cv2.BORDER_REFLECT)


def _log_rel(e: np.ndarray) -> np.ndarray:
    """log of a per-block energy relative to the image's median block (its own noise level)."""
    le = np.log(e + 1e-4)
    return le - np.median(le)


def block_features(rgb: np.ndarray, anomalies: bool = True, lags: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 -> (H//8, W//8, F) float32 block features (the image is cropped to a multiple of 8): the
    ``BASE_FEATURES`` first, then the two-sided anomalies (``anomalies``), then the residual's lag correlations
    (``lags``); with both, feature ``i`` is ``FEATURE_NAMES[i]``. Trees that take fewer (the JPEG trees, trees
    fitted before a group existed) skip computing the rest: ``feature_columns`` says which."""
    return _features(rgb, anomalies, lags)[0]


def _check_size(rgb: np.ndarray) -> tuple[int, int]:
    """The image's size cropped to whole blocks, (h, w); a one-line error, naming the image's own size, when that
    leaves fewer than two blocks a side."""
    h, w = (rgb.shape[0] // BLOCK) * BLOCK, (rgb.shape[1] // BLOCK) * BLOCK
    if h < 2 * BLOCK or w < 2 * BLOCK:
        raise InpaintKitError(f"image is {rgb.shape[1]}x{rgb.shape[0]}; the noise branch needs at least 16x16 pixels")
    return h, w


def _features(rgb: np.ndarray, anomalies: bool = True, lags: bool = True) -> tuple[np.ndarray, list[str]]:
    h, w = _check_size(rgb)
    x = rgb[:h, :w].astype(np.float32)
    y = x @ np.array([0.299, 0.587, 0.114], np.float32)  # luma (H, W)
    feats: dict[str, np.ndarray] = {}
    # residual energies (mean |r| per block), relative to the image's median block, over 1x1, 3x3, 7x7 blocks
    med = cv2.medianBlur(np.ascontiguousarray(rgb[:h, :w]), 3).astype(np.float32)
    med_res = x - med  # (H, W, 3)
    res = {
        "lap": cv2.filter2D(y, -1, _LAP, borderType=cv2.BORDER_REFLECT),
        "srm3": cv2.filter2D(y, -1, _SRM3, borderType=cv2.BORDER_REFLECT),
        "kv": cv2.filter2D(y, -1, _KV, borderType=cv2.BORDER_REFLECT),
        "med": med_res @ np.array([0.299, 0.587, 0.114], np.float32),
    }
    energy = {name: _block_mean(np.abs(r)) for name, r in res.items()}
    for name, e in energy.items():
        rel = _log_rel(e)
        feats[f"{name}"] = rel
        feats[f"{name}_3"] = _box(rel, 3)
        feats[f"{name}_7"] = _box(rel, 7)
        feats[f"{name}_abs"] = np.log(e + 1e-4)
    # the residual's own spread of energy within the block (a fill's border blocks are half noisy, half smooth)
    lap_b = blocks_of(np.abs(res["lap"]))
    feats["lap_min_quarter"] = np.log(
        np.min(lap_b.reshape(*lap_b.shape[:2], 2, 4, 2, 4).mean(axis=(3, 5)).reshape(*lap_b.shape[:2], 4), axis=2)
        + 1e-4
    ) - np.log(energy["lap"] + 1e-4)
    # DCT of each luma block: share of high-frequency coefficients near zero, and their energy (relative)
    c = np.einsum("ij,abjk,lk->abil", DCT8, blocks_of(y - 128.0), DCT8, optimize=True)  # (h/8, w/8, 8, 8)
    hf = np.abs(c[..., _HF])
    feats["dct_zero"] = (hf < 0.5).mean(axis=-1)
    feats["dct_zero_3"] = _box(feats["dct_zero"], 3)
    feats["dct_hf"] = _log_rel(hf.mean(axis=-1))
    feats["dct_hf_7"] = _box(feats["dct_hf"], 7)
    # JPEG grid: mean |step| across the 8x8 grid lines (columns 7|8, rows 7|8) vs inside the block
    dx = np.abs(np.diff(y, axis=1, append=y[:, -1:]))
    dy = np.abs(np.diff(y, axis=0, append=y[-1:, :]))
    bx, by = blocks_of(dx), blocks_of(dy)
    inner = (bx[:, :, :, 1:6].mean(axis=(2, 3)) + by[:, :, 1:6, :].mean(axis=(2, 3))) / 2 + 0.5
    feats["grid"] = np.log((bx[:, :, :, 7].mean(axis=2) + by[:, :, 7, :].mean(axis=2)) / 2 + 0.5) - np.log(inner)
    feats["grid_3"] = _box(feats["grid"], 3)
    # cross-channel correlation of the median residual (demosaicing correlates camera noise across channels)
    rr = med_res.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3)  # (a, 8, b, 8, 3)
    mean = np.repeat(_block_sums(rr.reshape(h, w, 3)) / BLOCK**2, BLOCK, axis=1)  # (a, w, 3): each block's mean
    rr = rr - mean.reshape(h // BLOCK, 1, w // BLOCK, BLOCK, 3)
    var = _block_sums((rr * rr).reshape(h, w, 3)) + 1e-3  # (a, b, 3)
    rb = rr.swapaxes(1, 2)  # (a, b, 8, 8, 3), in memory as (a, 8, b, 8, 3): the layout, so the sums, of before
    for i, j, n in ((0, 1, "rg"), (1, 2, "gb")):
        feats[f"corr_{n}"] = (rb[..., i] * rb[..., j]).sum(axis=(2, 3)) / np.sqrt(var[..., i] * var[..., j])
    feats["corr_3"] = _box((feats["corr_rg"] + feats["corr_gb"]) / 2, 3)
    # content: brightness, clipping, structure (the smoothed image's gradient) — flat sky is not a fill
    yb = blocks_of(y)
    feats["bright"] = yb.mean(axis=(2, 3)) / 255.0
    feats["clip"] = ((yb < 3) | (yb > 252)).mean(axis=(2, 3))
    sm = cv2.GaussianBlur(y, (0, 0), 1.5)
    grad = np.hypot(cv2.Sobel(sm, cv2.CV_32F, 1, 0), cv2.Sobel(sm, cv2.CV_32F, 0, 1))
    feats["struct"] = np.log(_block_mean(grad) + 1e-2)
    feats["noise_vs_struct"] = np.log(energy["lap"] + 1e-2) - feats["struct"]
    feats["noise_vs_struct_7"] = _box(feats["noise_vs_struct"] - np.median(feats["noise_vs_struct"]), 7)
    # exact flatness: pixels equal to their right and lower neighbours in all three channels (a smooth fill rounded
    # to 8 bits has runs of equal values; camera noise breaks them), and Laplacian values under one grey level
    u = rgb[:h, :w].astype(np.int32)
    v = (u[..., 0] << 16) | (u[..., 1] << 8) | u[..., 2]  # one integer per pixel: equal iff all channels are
    same = (v[:-1, 1:] == v[:-1, :-1]) & (v[1:, :-1] == v[:-1, :-1])
    feats["flat0"] = _block_mean(np.pad(same, ((0, 1), (0, 1)), mode="edge").astype(np.float32))
    feats["flat0_3"] = _box(feats["flat0"], 3)
    feats["small_lap"] = _block_mean((np.abs(res["lap"]) < 0.75).astype(np.float32))
    # the noise floor at each brightness (camera noise grows with the signal): the block's Laplacian energy against
    # the lower quartile of the blocks of the same brightness in this image
    le = feats["lap_abs"]
    bins = np.minimum((feats["bright"] * NLF_BINS).astype(np.int64), NLF_BINS - 1)
    floor = np.full(NLF_BINS, np.quantile(le, 0.25), np.float32)
    for b in np.unique(bins):
        sel = bins == b
        if sel.sum() >= 8:
            floor[b] = np.quantile(le[sel], 0.25)
    feats["nlf_rel"] = le - floor[bins]
    feats["nlf_rel_3"] = _box(feats["nlf_rel"], 3)
    # the residual's scale signature: averaging 2x2 pixels shrinks white camera noise, so its Laplacian energy at
    # half resolution falls; a smooth fill has little to lose
    y2 = cv2.resize(y, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    lap2 = np.abs(cv2.filter2D(y2, -1, _LAP, borderType=cv2.BORDER_REFLECT))
    feats["scale_ratio"] = le - np.log(blocks_of(lap2, BLOCK // 2).mean(axis=(2, 3)) + 1e-4)
    feats["scale_ratio_3"] = _box(feats["scale_ratio"], 3)
    # wide context (a fill is one region) and the block against its 5x5 median (the fill's edge)
    rel = feats["lap"]
    feats["lap_15"] = _box(rel, 15)
    feats["lap_vs_med5"] = rel - cv2.medianBlur(np.ascontiguousarray(rel, np.float32), 5)
    if anomalies:
        _add_anomalies(feats)
    if lags:
        _add_lags(feats, y)
    return np.stack(list(feats.values()), axis=-1).astype(np.float32), list(feats)


#: the statistics whose two-sided anomaly ``_add_anomalies`` adds (each block against the image's own median block)
ANOMALY_OF = (
    "lap", "srm3", "kv", "med", "lap_abs", "med_abs", "dct_hf", "dct_zero", "corr_rg", "corr_gb", "scale_ratio",
    "nlf_rel", "noise_vs_struct", "small_lap", "grid", "lap_min_quarter",
)  # fmt: skip


def _robust_z(x: np.ndarray) -> np.ndarray:
    """(value - median) / (1.4826 MAD + 0.05) of each feature (last axis) over the image's (or tile's) blocks,
    clipped to +-8: how far each block is from the image's typical block, in either direction."""
    flat = x.reshape(-1, x.shape[-1])
    med = np.median(flat, axis=0)
    mad = 1.4826 * np.median(np.abs(flat - med), axis=0) + 0.05
    return np.clip((x - med) / mad, -8.0, 8.0)


def _add_anomalies(feats: dict[str, np.ndarray]) -> None:
    """Append, for each statistic of ``ANOMALY_OF``, how far the block is from the image's typical block in either
    direction: |z| with z = (value - median) / (1.4826 MAD + 0.05) over the image's (or tile's) blocks, clipped to
    8, alone and over 3x3 blocks; and the root mean square of the z over all of them, over 1x1, 3x3 and 7x7 blocks.
    The other features are one-sided: trees learn the direction the training fills departed in (smoother, less
    correlated across channels), and a fill that departs the other way (OpenCV's Navier-Stokes fill has *more*
    Laplacian energy left at half resolution than a photo; today's ``default`` keeps the channel correlation) went
    unseen when left out of training. Measured by leaving each inpainter out (docs/forensics-history.md)."""
    z = _robust_z(np.stack([feats[n] for n in ANOMALY_OF], axis=-1))
    az = np.abs(z)
    for i, n in enumerate(ANOMALY_OF):
        feats[f"anom_{n}"] = az[..., i]
    for i, n in enumerate(ANOMALY_OF):
        feats[f"anom_{n}_3"] = _box(az[..., i], 3)
    rms = np.sqrt((z * z).mean(axis=-1))
    feats["anom_rms"] = rms
    feats["anom_rms_3"] = _box(rms, 3)
    feats["anom_rms_7"] = _box(rms, 7)


#: lags (dy, dx) of the residual's autocorrelation that ``_add_lags`` measures, by group (a group's lags averaged)
LAG_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "lag1": ((0, 1), (1, 0)),
    "lag_diag": ((1, 1),),
    "lag2": ((0, 2), (2, 0)),
    "lag4": ((0, 4), (4, 0)),
    "lag8": ((0, 8), (8, 0)),
    "lag_diag2": ((2, 2),),
    "lag3": ((0, 3), (3, 0)),
    "lag_anti": ((1, -1),),
    "lag6": ((0, 6), (6, 0)),
}
#: pairs of lags whose correlations ``_add_lags`` compares (|difference|): across against down, the two diagonals
LAG_ANISOTROPY: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "lag_aniso1": ((0, 1), (1, 0)),
    "lag_aniso2": ((0, 2), (2, 0)),
    "lag_aniso_diag": ((1, 1), (1, -1)),
}
_LAG_PAD = 8


def _add_lags(feats: dict[str, np.ndarray], y: np.ndarray) -> None:
    """Append the shape of the residual: per block, the correlation of the luma's high-pass residual (the luma
    minus its Gaussian blur, sigma 1) with itself moved by each lag — the sum of r(x) r(x + lag) over the block
    over the sum of r(x)^2 — averaged over each group of ``LAG_GROUPS``, alone, over 3x3 blocks and as a two-sided
    anomaly (as ``_add_anomalies``) over 3x3 blocks; and, alone and over 3x3 blocks, the anisotropy of the
    correlation, |across - down| and |one diagonal - the other| (``LAG_ANISOTROPY``). A photo's residual is
    correlated at one pixel and nearly white beyond; in the corpus's test fills, against untouched blocks, the
    bundled ``default`` is correlated at 4 and 8 pixels (its upsampling grid, +1.9 and +1.6 SD), Navier-Stokes
    at 1 and 2 (+1.4), Telea less at 1 (-1.6). The residual energies measure how much noise a block has, these
    how it is shaped. Chosen by leaving each inpainter out (docs/forensics-history.md, the anisotropy included)."""
    h, w = y.shape
    r = y - cv2.GaussianBlur(y, (0, 0), 1.0)
    rp = cv2.copyMakeBorder(r, 0, _LAG_PAD, _LAG_PAD, _LAG_PAD, cv2.BORDER_CONSTANT, value=0.0)
    small = (w // BLOCK, h // BLOCK)  # an area resize by a whole factor is the block mean (and fast)
    energy = cv2.resize(r * r, small, interpolation=cv2.INTER_AREA) + 1e-3
    prod = np.empty_like(r)
    corr: dict[tuple[int, int], np.ndarray] = {}
    every_lag = [
        *(lag for lags in LAG_GROUPS.values() for lag in lags),
        *(lag for p in LAG_ANISOTROPY.values() for lag in p),
    ]
    for dy, dx in dict.fromkeys(every_lag):  # each lag once, in order
        np.multiply(r, rp[dy : dy + h, _LAG_PAD + dx : _LAG_PAD + dx + w], out=prod)
        corr[(dy, dx)] = cv2.resize(prod, small, interpolation=cv2.INTER_AREA) / energy
    groups = {name: sum(corr[lag] for lag in lags) / len(lags) for name, lags in LAG_GROUPS.items()}
    az = np.abs(_robust_z(np.stack(list(groups.values()), axis=-1)))
    for i, (name, v) in enumerate(groups.items()):
        feats[name] = v
        feats[f"{name}_3"] = _box(v, 3)
        feats[f"anom_{name}_3"] = _box(az[..., i], 3)
    for name, (a, b) in LAG_ANISOTROPY.items():
        v = np.abs(corr[a] - corr[b])
        feats[name] = v
        feats[f"{name}_3"] = _box(v, 3)


def _names(anomalies: bool, lags: bool) -> list[str]:
    return _features(np.zeros((16, 16, 3), np.uint8), anomalies, lags)[1]


#: the name of each feature, in order: base, anomalies, lags
FEATURE_NAMES: list[str] = _names(True, True)
#: the features before the anomalies (the first ``BASE_FEATURES`` of ``FEATURE_NAMES``, 40)
BASE_FEATURES = len(_names(False, False))
#: the names each group adds
ANOMALY_NAMES = frozenset(_names(True, False)[BASE_FEATURES:])
LAG_NAMES = frozenset(_names(False, True)[BASE_FEATURES:])


def feature_columns(names: list[str]) -> tuple[bool, bool, np.ndarray | None]:
    """What trees fitted on the block features ``names`` (in the order they take them) need: (anomalies, lags,
    the columns of ``block_features(rgb, anomalies, lags)`` to give them, or None for all of them in order). Trees
    fitted before a group of features existed take the features they were fitted on; names this version does not
    compute are a one-line error."""
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown:
        raise InpaintKitError(
            f"noise branch: these trees take block features this version does not compute ({', '.join(unknown[:3])}"
            f"{', ...' if len(unknown) > 3 else ''}); refit the detector (`inpaintkit forensics fit-detector`)"
        )
    anomalies, lags = any(n in ANOMALY_NAMES for n in names), any(n in LAG_NAMES for n in names)
    have = _names(anomalies, lags)
    if list(names) == have:
        return anomalies, lags, None
    return anomalies, lags, np.array([have.index(n) for n in names], np.int64)


def block_labels(mask: np.ndarray) -> np.ndarray:
    """Share of hole pixels in each 8x8 block, (H//8, W//8) float32."""
    h, w = (mask.shape[0] // BLOCK) * BLOCK, (mask.shape[1] // BLOCK) * BLOCK
    return _block_mean(mask[:h, :w].astype(np.float32))


def upsample(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A block map -> a pixel map of ``shape`` (bilinear; the uncovered right/bottom edge repeats)."""
    h, w = shape
    gh, gw = grid.shape
    full = cv2.resize(grid.astype(np.float32), (gw * BLOCK, gh * BLOCK), interpolation=cv2.INTER_LINEAR)
    return cv2.copyMakeBorder(full, 0, h - gh * BLOCK, 0, w - gw * BLOCK, cv2.BORDER_REPLICATE)


#: the block count at which ``image_score`` takes its quantile as given: a 256² image, what the trees and every
#: calibration were fitted on
REFERENCE_BLOCKS = (256 // BLOCK) ** 2


def image_score(prob_grid: np.ndarray, q: float = 0.98) -> float:
    """A high quantile of the 3x3-smoothed block map: a fill covers many neighbouring blocks, noise does not.

    The quantile is ``q`` up to ``REFERENCE_BLOCKS`` blocks; above, it rises so that the same *number* of blocks
    lies above it (``1 - (1 - q) * REFERENCE_BLOCKS / blocks``): a fill of a given size scores the same in a 256²
    crop and in a large photo, where a fixed 98th percentile would need a fill of 2 % of the whole photo. On 38
    untouched 768x512 crops of the test photos and small fills of them (0.5-3 % of the crop), the noise branch's
    ROC-AUC rose from 0.81-0.85 to 0.98-0.99 for Telea, NS and ``default`` fills, with no untouched crop flagged
    (``benchmarks/forensics_small.py``; docs/forensics-history.md, "Small fills in large photos"); 256² and smaller images
    score exactly as before."""
    qq = 1.0 - (1.0 - q) * min(1.0, REFERENCE_BLOCKS / max(prob_grid.size, 1))
    return float(np.quantile(_box(prob_grid, 3), qq))


def _spans(n: int, tile: int) -> list[tuple[int, int]]:
    """[start, end) spans of ``tile`` covering ``n``; a last strip under half a tile joins its neighbour."""
    starts = list(range(0, n, tile))
    if len(starts) > 1 and n - starts[-1] < tile // 2:
        starts.pop()
    return list(zip(starts, starts[1:] + [n]))


def tree_feature_names(trees: Trees) -> list[str]:
    """The block features ``trees`` take, in order: the names stored in its text (``feature_names=``); trees
    fitted on unnamed columns take the first ``num_features`` of ``FEATURE_NAMES`` when that is a width this
    branch has had (the base features, or those and the anomalies), else a one-line error."""
    line = next((ln for ln in trees.model.splitlines() if ln.startswith("feature_names=")), "")
    names = line.partition("=")[2].split()
    if len(names) == trees.num_features and not all(n.startswith("Column_") for n in names):
        return names
    if trees.num_features in (BASE_FEATURES, BASE_FEATURES + len(ANOMALY_NAMES)):
        return list(FEATURE_NAMES[: trees.num_features])
    raise InpaintKitError(
        f"noise branch: these trees take {trees.num_features} unnamed block features, this version computes "
        f"{len(FEATURE_NAMES)}; refit the detector (`inpaintkit forensics fit-detector`)"
    )


def looks_jpeg(rgb: np.ndarray) -> bool:
    """True when the 8x8 JPEG grid shows: steps across block borders clearly above steps inside blocks."""
    h, w = (rgb.shape[0] // BLOCK) * BLOCK, (rgb.shape[1] // BLOCK) * BLOCK
    if h < 2 * BLOCK or w < 2 * BLOCK:
        return False
    y = rgb[:h, :w].astype(np.float32).mean(axis=2)
    dx = blocks_of(np.abs(np.diff(y, axis=1, append=y[:, -1:])))
    dy = blocks_of(np.abs(np.diff(y, axis=0, append=y[-1:, :])))
    border = dx[:, :, :, 7].mean() + dy[:, :, 7, :].mean()
    inner = dx[:, :, :, 1:6].mean() + dy[:, :, 1:6, :].mean()
    return bool(border > 1.15 * inner + 0.05)


class NoiseBranch:
    """LightGBM over ``block_features``. ``predict(rgb, jpeg=None) -> (score, (H, W) float32 map)``, both
    uncalibrated.

    Two sets of trees: ``model`` for PNG-like inputs and ``jpeg_model`` for JPEG ones (``looks_jpeg`` decides when
    the caller does not say). JPEG quantisation erases most of the noise a PNG's trees look for, and trees trained
    on a mix of both are worse at each than one set per kind (docs/forensics.md, "Noise branch"). The texts are
    ``Booster.model_to_string()`` (``noise_lgbm.txt``, ``noise_lgbm_jpeg.txt``); they predict through
    ``trees.Trees``, without importing the ``lightgbm`` package. Without ``jpeg_model`` the PNG trees judge both.
    """

    name = "noise"

    def __init__(self, model: str, quantile: float = 0.98, jpeg_model: str | None = None):
        self.trees = Trees(model)
        self.jpeg_trees = Trees(jpeg_model) if jpeg_model is not None else None
        self.quantile = quantile
        # which block features each set of trees takes, by the names stored in its text
        self._columns = {id(t): feature_columns(tree_feature_names(t)) for t in (self.trees, self.jpeg_trees) if t}

    @cached_property
    def booster(self) -> Any:
        """The PNG trees as a ``lightgbm.Booster`` (imports lightgbm; ``self.trees`` predicts the same without it)."""
        import lightgbm as lgb

        return lgb.Booster(model_str=self.trees.model)

    @classmethod
    def load(cls, folder: str | Path, quantile: float = 0.98) -> "NoiseBranch":
        p, pj = Path(folder) / MODEL_FILE, Path(folder) / JPEG_MODEL_FILE
        if not p.is_file():
            raise InpaintKitError(f"{folder}: no {MODEL_FILE}; train the noise branch first")
        return cls(p.read_text(), quantile, pj.read_text() if pj.is_file() else None)

    def save(self, folder: str | Path) -> Path:
        p = Path(folder) / MODEL_FILE
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.trees.model)
        pj = Path(folder) / JPEG_MODEL_FILE
        if self.jpeg_trees is not None:
            pj.write_text(self.jpeg_trees.model)
        elif pj.is_file():
            pj.unlink()  # a stale file would be loaded next to these trees
        return p

    def trees_for(self, rgb: np.ndarray, jpeg: bool | None = None) -> Trees:
        """The trees that judge ``rgb``: the JPEG ones when it is (or, with ``jpeg=None``, looks) JPEG-compressed."""
        if self.jpeg_trees is None:
            return self.trees
        return self.jpeg_trees if (looks_jpeg(rgb) if jpeg is None else jpeg) else self.trees

    def block_map(self, rgb: np.ndarray, tile: int = 1024, jpeg: bool | None = None) -> np.ndarray:
        """(H//8, W//8) block probabilities; a large image is done in ``tile``-pixel tiles (each judged against its
        own noise level, and memory stays bounded)."""
        h, w = _check_size(rgb)  # before tiling, so an error names the image's size, not a tile's
        trees = self.trees_for(rgb, jpeg)
        anomalies, lags, cols = self._columns[id(trees)]
        out = np.zeros((h // BLOCK, w // BLOCK), np.float32)
        for t, b in _spans(h, tile):
            for l, r in _spans(w, tile):
                f = block_features(rgb[t:b, l:r], anomalies, lags)
                if cols is not None:
                    f = f[..., cols]
                gh, gw, nf = f.shape
                p = trees.predict(f.reshape(-1, nf))
                out[t // BLOCK : t // BLOCK + gh, l // BLOCK : l // BLOCK + gw] = p.reshape(gh, gw)
        return out

    def predict(self, rgb: np.ndarray, jpeg: bool | None = None) -> tuple[float, np.ndarray]:
        g = self.block_map(rgb, jpeg=jpeg)
        return image_score(g, self.quantile), upsample(g, rgb.shape[:2])


def training_rows(
    rgb: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator, max_blocks: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """(features, 0/1 labels) of up to ``max_blocks`` blocks of one sample: blocks > 50 % hole are positive,
    blocks with no hole pixel negative, the rest (a fill's border) left out."""
    f = block_features(rgb)
    f = f.reshape(-1, f.shape[-1])
    lab = np.zeros(len(f), np.float32) if mask is None else block_labels(mask).ravel()
    keep = np.nonzero((lab == 0) | (lab > 0.5))[0]
    if len(keep) > max_blocks:
        keep = rng.choice(keep, max_blocks, replace=False)
    return f[keep], (lab[keep] > 0.5).astype(np.float32)


#: LightGBM settings of the noise trees, chosen on the corpus (docs/forensics.md, "Noise branch"): 100 rounds of 63
#: leaves at learning rate 0.15 rank as well as 400 rounds at 0.05 (noise branch alone, PNG inputs, val ROC-AUC
#: 0.952 / 0.954) and predict 5x faster (8 ms against 45 ms for the 1 024 blocks of a 256² image)
ROUNDS = 100
LEAVES = 63
LEARNING_RATE = 0.15


#: The block features the JPEG trees take: the base features and the lag correlations, without the two-sided
#: anomalies (on the test split's JPEG copies, 264 images, the fused ROC-AUC was 0.002-0.004 higher without them at
#: each of q90/75/50: q75 0.920 against 0.916; docs/forensics-history.md)
JPEG_FEATURES: list[str] = _names(False, True)


def fit_noise_rows(
    x: np.ndarray,
    y: np.ndarray,
    *,
    names: list[str] | None = None,
    seed: int = 0,
    rounds: int = ROUNDS,
    leaves: int = LEAVES,
    threads: int = 1,
) -> str:
    """Gradient-boosted trees (LightGBM) on block rows, the classes weighted to balance -> the model's text. The
    rows' columns are the features ``names`` (default: the first ``x.shape[1]`` of ``FEATURE_NAMES``); the text
    keeps the names, and ``NoiseBranch`` gives the trees those features."""
    import lightgbm as lgb

    if len(y) == 0 or y.min() == y.max():
        raise InpaintKitError("noise branch: training needs both untouched and inpainted samples")
    w = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    params = {
        "objective": "binary",
        "learning_rate": LEARNING_RATE,
        "num_leaves": leaves,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": seed,
        "num_threads": threads,
        "verbose": -1,
        "deterministic": True,
    }
    names = list(FEATURE_NAMES[: x.shape[1]] if names is None else names)
    if len(names) != x.shape[1]:
        raise InpaintKitError(f"noise branch: {x.shape[1]} feature columns, {len(names)} names")
    booster = lgb.train(params, lgb.Dataset(x, y, weight=w, feature_name=names), num_boost_round=rounds)
    return booster.model_to_string()


def _rows(
    samples: list[tuple[np.ndarray, np.ndarray | None]], rng: np.random.Generator, max_blocks: int
) -> tuple[np.ndarray, np.ndarray]:
    rows = [training_rows(rgb, mask, rng, max_blocks) for rgb, mask in samples]
    return np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows])


def fit_noise_branch(
    samples: list[tuple[np.ndarray, np.ndarray | None]],
    jpeg_samples: list[tuple[np.ndarray, np.ndarray | None]] | None = None,
    *,
    seed: int = 0,
    rounds: int = ROUNDS,
    leaves: int = LEAVES,
    max_blocks_per_image: int = 256,
    quantile: float = 0.98,
    threads: int = 1,
) -> NoiseBranch:
    """Train the PNG trees on (rgb, mask or None) ``samples`` and, given ``jpeg_samples`` (the same kind of pairs,
    JPEG-compressed), the JPEG trees on the features ``JPEG_FEATURES`` (see ``training_rows``)."""
    rng = np.random.default_rng(seed)
    fit = {"seed": seed, "rounds": rounds, "leaves": leaves, "threads": threads}
    png = fit_noise_rows(*_rows(samples, rng, max_blocks_per_image), **fit)
    jpg = None
    if jpeg_samples:
        x, y = _rows(jpeg_samples, rng, max_blocks_per_image)
        cols = [FEATURE_NAMES.index(n) for n in JPEG_FEATURES]
        jpg = fit_noise_rows(x[:, cols], y, names=JPEG_FEATURES, **fit)
    return NoiseBranch(png, quantile, jpg)
