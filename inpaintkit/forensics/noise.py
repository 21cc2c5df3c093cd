"""Noise-consistency branch: where is the camera's noise missing or different?

Every photo carries sensor noise and, often, JPEG quantisation; a fill painted by diffusion, a PDE or most learned
models is smoother than that noise, and an exemplar fill carries the noise of elsewhere. Per 8x8 block we measure the
energy of several high-pass residuals (a Laplacian, two SRM filters, the median-filter residual), the share of
high-frequency DCT coefficients that are near zero, JPEG-grid blockiness and the correlation of the residual across
colour channels — each **relative to the image's own noise level** (the median over its blocks), and again averaged
over 3x3 and 7x7 block neighbourhoods — plus the block's brightness, saturation and content (so a naturally flat or
clipped region is not mistaken for a fill). Gradient-boosted trees (LightGBM) turn the features into a block
probability map; the image score is a high quantile of the map.

Features are plain numpy/OpenCV over the whole image at once (~10 ms at 256²). Related work: Mahdian & Saic (2009)
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


def block_features(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H//8, W//8, F) float32 block features (the image is cropped to a multiple of 8);
    feature ``i`` is ``FEATURE_NAMES[i]``."""
    return _features(rgb)[0]


def _features(rgb: np.ndarray) -> tuple[np.ndarray, list[str]]:
    h, w = (rgb.shape[0] // BLOCK) * BLOCK, (rgb.shape[1] // BLOCK) * BLOCK
    if h < 2 * BLOCK or w < 2 * BLOCK:
        raise InpaintKitError(f"image is {rgb.shape[1]}x{rgb.shape[0]}; the noise branch needs at least 16x16 pixels")
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
    return np.stack(list(feats.values()), axis=-1).astype(np.float32), list(feats)


#: the name of each feature, in order
FEATURE_NAMES: list[str] = _features(np.zeros((16, 16, 3), np.uint8))[1]


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


def image_score(prob_grid: np.ndarray, q: float = 0.98) -> float:
    """A high quantile of the 3x3-smoothed block map: a fill covers many neighbouring blocks, noise does not."""
    return float(np.quantile(_box(prob_grid, 3), q))


def _spans(n: int, tile: int) -> list[tuple[int, int]]:
    """[start, end) spans of ``tile`` covering ``n``; a last strip under half a tile joins its neighbour."""
    starts = list(range(0, n, tile))
    if len(starts) > 1 and n - starts[-1] < tile // 2:
        starts.pop()
    return list(zip(starts, starts[1:] + [n]))


class NoiseBranch:
    """LightGBM over ``block_features``. ``predict(rgb) -> (score, (H, W) float32 map)``, both uncalibrated.

    ``model`` is the trees' text (``Booster.model_to_string()``, the ``noise_lgbm.txt`` file); they predict through
    ``trees.Trees``, without importing the ``lightgbm`` package.
    """

    name = "noise"

    def __init__(self, model: str, quantile: float = 0.98):
        self.trees = Trees(model)
        self.quantile = quantile

    @cached_property
    def booster(self) -> Any:
        """The trees as a ``lightgbm.Booster`` (imports lightgbm; ``self.trees`` predicts the same without it)."""
        import lightgbm as lgb

        return lgb.Booster(model_str=self.trees.model)

    @classmethod
    def load(cls, folder: str | Path, quantile: float = 0.98) -> "NoiseBranch":
        p = Path(folder) / MODEL_FILE
        if not p.is_file():
            raise InpaintKitError(f"{folder}: no {MODEL_FILE}; train the noise branch first")
        return cls(p.read_text(), quantile)

    def save(self, folder: str | Path) -> Path:
        p = Path(folder) / MODEL_FILE
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.trees.model)
        return p

    def block_map(self, rgb: np.ndarray, tile: int = 1024) -> np.ndarray:
        """(H//8, W//8) block probabilities; a large image is done in ``tile``-pixel tiles (each judged against its
        own noise level, and memory stays bounded)."""
        h, w = (rgb.shape[0] // BLOCK) * BLOCK, (rgb.shape[1] // BLOCK) * BLOCK
        out = np.zeros((h // BLOCK, w // BLOCK), np.float32)
        for t, b in _spans(h, tile):
            for l, r in _spans(w, tile):
                f = block_features(rgb[t:b, l:r])
                gh, gw, nf = f.shape
                p = self.trees.predict(f.reshape(-1, nf))
                out[t // BLOCK : t // BLOCK + gh, l // BLOCK : l // BLOCK + gw] = p.reshape(gh, gw)
        return out

    def predict(self, rgb: np.ndarray) -> tuple[float, np.ndarray]:
        g = self.block_map(rgb)
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


def fit_noise_rows(
    x: np.ndarray, y: np.ndarray, *, seed: int = 0, rounds: int = 200, quantile: float = 0.98
) -> NoiseBranch:
    """Gradient-boosted trees (LightGBM, one thread) on block rows; the classes are weighted to balance."""
    import lightgbm as lgb

    if len(y) == 0 or y.min() == y.max():
        raise InpaintKitError("noise branch: training needs both untouched and inpainted samples")
    w = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": seed,
        "num_threads": 1,
        "verbose": -1,
        "deterministic": True,
    }
    booster = lgb.train(params, lgb.Dataset(x, y, weight=w, feature_name=list(FEATURE_NAMES)), num_boost_round=rounds)
    return NoiseBranch(booster.model_to_string(), quantile)


def fit_noise_branch(
    samples: list[tuple[np.ndarray, np.ndarray | None]],
    *,
    seed: int = 0,
    rounds: int = 200,
    max_blocks_per_image: int = 256,
    quantile: float = 0.98,
) -> NoiseBranch:
    """Train the trees on (rgb, mask or None) samples (see ``training_rows``)."""
    rng = np.random.default_rng(seed)
    rows = [training_rows(rgb, mask, rng, max_blocks_per_image) for rgb, mask in samples]
    return fit_noise_rows(
        np.concatenate([r[0] for r in rows]),
        np.concatenate([r[1] for r in rows]),
        seed=seed,
        rounds=rounds,
        quantile=quantile,
    )
