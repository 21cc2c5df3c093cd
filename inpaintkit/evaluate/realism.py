"""Detectability: how easily a forensic detector, trained for the purpose, tells an inpainter's fills from real
photos (``inpaintkit evaluate --realism``). An inpainter is better the harder its fills are to detect.

For every evaluated (photo, mask) pair there are two images: the untouched photo (label 0) and the inpainter's
composite (label 1). The detector is never told where the hole is. Per model, one detector is trained on the pairs
of all buckets and scored out of fold, with folds grouped by photo (a photo's original and all its fills are in
the same fold), so no detector ever scores a photo it has seen. ``detectability`` is the ROC-AUC of those
out-of-fold scores, per bucket (the bucket's fills against the originals of the same pairs) and over all buckets:
0.5 = indistinguishable from the photos, 1 = always caught. Its interval is a bootstrap over photos.

Detectors:

- ``noise`` (always): image-level features from the forensic noise branch (``forensics.noise``) — quantiles over
  the image of each of its per-8x8-block features, and quantiles of the bundled noise branch's block probability
  map — into gradient-boosted trees (LightGBM, one thread, seeded).
- ``cnn`` (``--realism-cnn``): a small convolutional network (plain torch) on a fixed high-pass residual, trained a
  few epochs on the CPU per fold. With it, ``detectability`` is the AUC of the mean of both detectors' out-of-fold
  score ranks, and each detector's own AUC is kept in ``summary.json``.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .plan import ALL, Key

#: quantiles over the image of each per-block noise feature
FEATURE_QUANTILES = (0.02, 0.1, 0.5, 0.9, 0.98)
#: quantiles of the (3x3-smoothed) block probability map of the bundled noise branch
PROB_QUANTILES = (0.5, 0.9, 0.95, 0.98, 1.0)
FOLDS = 5
BOOTSTRAP = 500
DETECTORS = ("noise", "cnn")
#: the summary's definition of the column
DEFINITION = (
    "ROC-AUC of a detector trained to tell the model's composites from the untouched photos (the detector is not "
    "told where the hole is), from out-of-fold scores with folds grouped by photo: 0.5 = indistinguishable, "
    "1 = always caught; ± = half-width of the 95% bootstrap interval over photos; n = (photo, mask) pairs"
)


def describe(info: dict | None) -> str:
    """The report's paragraph above the detectability table (``info``: the summary's ``realism`` entry)."""
    if not info:
        return "Not computed (add --realism)."
    k, n = info["folds"], info["photos"]
    sec = info["seconds"]
    who = (
        "the noise-feature trees and the residual CNN (cell: AUC of the mean of their score ranks; each "
        "detector's own AUC is in summary.json)"
        if info["detector"] == "combined"
        else "gradient-boosted trees on image-level noise-branch features"
    )
    aucs = "; ".join(
        f"{d}: " + ", ".join(f"`{m}` {t['all'][m]['mean']:.3f}" for m in t["all"] if t["all"][m]["mean"] is not None)
        for d, t in info["detectors"].items()
    )
    return (
        f"How easily a detector trained for the purpose tells each model's composites from the untouched photos: "
        f"{who}, one detector per model over all buckets, {k}-fold cross-validation grouped by photo ({n} photos; "
        "a photo's original and its fills are always in the same fold), never told where the hole is. Cell: ROC-AUC "
        "of the out-of-fold scores of the bucket's fills against the originals of the same pairs; **0.5 = "
        "indistinguishable from the photos** (the best possible), 1 = always caught; ± = half-width of the 95% "
        "bootstrap interval over photos; pairs = (photo, mask) pairs. Lower is better, but differences inside the "
        f"intervals mean nothing. Pooled AUC per detector — {aucs}. Realism stage: {sec.get('total', 0.0):.1f} s."
    )


# ---------------------------------------------------------------------------------------------------------------
# features (computed by the evaluation workers, next to the other metrics)
# ---------------------------------------------------------------------------------------------------------------
class NoiseFeatures:
    """``(H, W, 3) uint8 -> (F,) float32`` image-level features from the noise branch; no mask involved."""

    def __init__(self, folder: str | Path | None = None):
        from ..forensics.detector import BUNDLED_DIR
        from ..forensics.noise import NoiseBranch

        self.branch = NoiseBranch.load(folder or BUNDLED_DIR)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        from ..forensics.noise import block_features

        f = block_features(rgb)  # (H/8, W/8, F)
        gh, gw, nf = f.shape
        flat = f.reshape(-1, nf)
        q = np.quantile(flat, FEATURE_QUANTILES, axis=0).T.ravel()  # (F * 5,) feature-major
        prob = self.branch.booster.predict(flat, num_threads=1).reshape(gh, gw)
        smooth = _box3(prob)  # a fill covers neighbouring blocks; noise does not
        pq = np.quantile(smooth, PROB_QUANTILES)
        return np.concatenate([q, pq, [prob.mean()]]).astype(np.float32)


def _box3(grid: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.blur(grid.astype(np.float32), (3, 3), borderType=cv2.BORDER_REFLECT)


# ---------------------------------------------------------------------------------------------------------------
# the detectors, cross-validated by photo
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class PairSet:
    """One model's real-vs-filled set: pair ``i`` is ``keys[i]``, photo ``photo[i]`` (an index into the photos)."""

    keys: list[Key]
    photo: np.ndarray  # (P,) int, the photo of each pair
    n_photos: int


def _lgbm_scores(
    real: np.ndarray, fake: np.ndarray, pairs: PairSet, folds: list[np.ndarray], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold P(filled) of every original (n_photos,) and every fill (P,) from LightGBM on noise features."""
    import lightgbm as lgb

    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 7,
        "min_data_in_leaf": 5,
        "min_sum_hessian_in_leaf": 1e-3,
        "feature_fraction": 0.5,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": seed,
        "num_threads": 1,
        "verbose": -1,
        "deterministic": True,
    }
    s_real, s_fake = np.full(pairs.n_photos, np.nan), np.full(len(pairs.keys), np.nan)
    for held in folds:
        train_photo = np.setdiff1d(np.unique(pairs.photo), held)
        train_pair = np.isin(pairs.photo, train_photo)
        # each photo once, weighted by its pairs: the classes weigh the same, as in the pair set
        w_real = np.bincount(pairs.photo[train_pair], minlength=pairs.n_photos)[train_photo].astype(np.float64)
        x = np.concatenate([real[train_photo], fake[train_pair]])
        y = np.r_[np.zeros(len(train_photo)), np.ones(int(train_pair.sum()))]
        w = np.r_[w_real, np.ones(int(train_pair.sum()))]
        booster = lgb.train(params, lgb.Dataset(x, y, weight=w / w.mean()), num_boost_round=150)
        test_pair = np.isin(pairs.photo, held)
        s_real[held] = booster.predict(real[held], num_threads=1)
        s_fake[test_pair] = booster.predict(fake[test_pair], num_threads=1)
    return s_real, s_fake


def _auc_cell(s_real: np.ndarray, s_fake: np.ndarray, photo: np.ndarray, rng: np.random.Generator) -> dict:
    """AUC of the fills ``s_fake`` (photo ``photo[i]``) against the originals of the same pairs, with a bootstrap
    over photos; {"mean": AUC, "ci95": half-width of the 95% interval, "n": pairs}."""
    from ..forensics.evaluate import roc_auc

    n = len(s_fake)
    if n == 0:
        return {"mean": float("nan"), "ci95": float("nan"), "n": 0}
    # one original per pair (so a photo weighs as much among the reals as among the fills)
    auc = roc_auc(np.r_[np.zeros(n), np.ones(n)], np.r_[s_real[photo], s_fake])
    uniq = np.unique(photo)
    if len(uniq) < 2:
        return {"mean": auc, "ci95": float("nan"), "n": n}
    by_photo = {p: np.nonzero(photo == p)[0] for p in uniq}
    boots = []
    for _ in range(BOOTSTRAP):
        idx = np.concatenate([by_photo[p] for p in rng.choice(uniq, len(uniq), replace=True)])
        boots.append(roc_auc(np.r_[np.zeros(len(idx)), np.ones(len(idx))], np.r_[s_real[photo[idx]], s_fake[idx]]))
    lo, hi = np.nanquantile(boots, [0.025, 0.975])
    return {"mean": auc, "ci95": float(hi - lo) / 2, "n": n}


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks in [0, 1] (ties averaged), so two detectors' scores can be averaged."""
    from scipy.stats import rankdata

    return (rankdata(x) - 1) / max(1, len(x) - 1)


@dataclass
class RealismInput:
    """What the realism stage needs of one model's rows."""

    keys: list[Key]  # the scored rows
    photos: list[str]  # every photo of the plan, in plan order
    real: dict[str, np.ndarray]  # photo -> noise features of the original
    fake: dict[Key, np.ndarray]  # row -> noise features of the composite


def detectability(
    models: list[str],
    buckets: list[str],
    data: RealismInput,
    *,
    folds: int = FOLDS,
    seed: int = 0,
    cnn: Callable[[PairSet, list[np.ndarray], int], tuple[np.ndarray, np.ndarray]] | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> dict:
    """Per model: train the detectors out of fold, return ``{"table": {bucket or "all": {model: stat}},
    "detectors": {name: table}, "seconds": {name: s}, "folds": k}``.

    ``cnn(pairs, folds, seed) -> (scores of originals, scores of fills)`` adds the CNN detector (see ``cnn_scorer``).
    """
    photos = [p for p in data.photos if p in data.real]
    index = {p: i for i, p in enumerate(photos)}
    tables: dict[str, dict] = {d: {b: {} for b in [*buckets, ALL]} for d in (*DETECTORS, "combined")}
    seconds = {"noise": 0.0, "cnn": 0.0}
    used_folds = 0
    for m in models:
        keys = [k for k in data.keys if k[0] == m and k in data.fake and k[2] in index]
        pairs = PairSet(keys, np.array([index[k[2]] for k in keys], int), len(photos))
        present = np.unique(pairs.photo) if keys else np.zeros(0, int)
        k_folds = min(folds, len(present))
        scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if k_folds >= 2:
            # folds over the photos that have pairs (contiguous in plan order)
            fold_sets = [present[a] for a in np.array_split(np.arange(len(present)), k_folds)]
            used_folds = max(used_folds, k_folds)
            t0 = time.perf_counter()
            real = np.stack([data.real[p] for p in photos])
            fake = np.stack([data.fake[k] for k in keys])
            scores["noise"] = _lgbm_scores(real, fake, pairs, fold_sets, seed)
            seconds["noise"] += time.perf_counter() - t0
            if cnn is not None:
                t0 = time.perf_counter()
                scores["cnn"] = cnn(pairs, fold_sets, seed)
                seconds["cnn"] += time.perf_counter() - t0
                # the originals of the pairs and the fills, ranked together
                s_r = [scores[d][0][pairs.photo] for d in DETECTORS]
                s_f = [scores[d][1] for d in DETECTORS]
                r = np.mean([_ranks(np.r_[a, b]) for a, b in zip(s_r, s_f)], axis=0)
                comb_real = np.full(len(photos), np.nan)
                comb_real[pairs.photo] = r[: len(keys)]  # same photo, same scores: same rank
                scores["combined"] = (comb_real, r[len(keys) :])
        else:
            log(f"realism: {m}: pairs of {len(present)} photo(s); cross-validation by photo needs at least 2")
        for d in (*DETECTORS, "combined"):
            for b in [*buckets, ALL]:
                sel = np.array([b == ALL or k[1] == b for k in keys], bool)
                rng = np.random.default_rng([seed, zlib.crc32(f"{m}\x1f{b}\x1f{d}".encode())])
                if d in scores:
                    s_real, s_fake = scores[d]
                    tables[d][b][m] = _auc_cell(s_real, s_fake[sel], pairs.photo[sel], rng)
                else:
                    tables[d][b][m] = {"mean": float("nan"), "ci95": float("nan"), "n": int(sel.sum())}
    main = "combined" if cnn is not None else "noise"
    return {
        "table": tables[main],
        "detector": main,
        "detectors": {d: tables[d] for d in DETECTORS if cnn is not None or d == "noise"},
        "seconds": {d: s for d, s in seconds.items() if cnn is not None or d == "noise"},
        "folds": used_folds,
        "photos": len(photos),
    }


# ---------------------------------------------------------------------------------------------------------------
# the optional CNN detector
# ---------------------------------------------------------------------------------------------------------------
CNN_EPOCHS = 4
CNN_BATCH = 16


def _cnn():
    """A small CNN on a fixed high-pass residual: 4 stride-2 3x3 convs, mean + max pooling, one logit."""
    import torch
    from torch import nn

    class ResidualCNN(nn.Module):
        def __init__(self):
            super().__init__()
            # SRM "KV" 5x5 high-pass on each channel, fixed: the network sees noise, not content
            kv = torch.tensor(
                [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]],
                dtype=torch.float32,
            )
            self.register_buffer("hp", (kv / 12).expand(3, 1, 5, 5).clone())
            self.body = nn.Sequential(
                nn.Conv2d(3, 16, 3, 2, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(16, 32, 3, 2, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(32, 32, 3, 2, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(32, 64, 3, 2, 1),
                nn.ReLU(inplace=True),
            )
            self.head = nn.Linear(128, 1)

        def forward(self, x):  # (N, 3, H, W) in [0, 1] -> (N,) logits
            r = torch.nn.functional.conv2d(x * 255.0, self.hp, padding=2, groups=3) / 4.0  # (N, 3, H, W)
            f = self.body(r)  # (N, 64, H/16, W/16)
            return self.head(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1))[:, 0]

    return ResidualCNN()


def cnn_scorer(
    load_real: Callable[[int], np.ndarray], load_fake: Callable[[Key], np.ndarray], epochs: int = CNN_EPOCHS
) -> Callable[[PairSet, list[np.ndarray], int], tuple[np.ndarray, np.ndarray]]:
    """The CNN detector for ``detectability``: ``load_real(photo index)`` and ``load_fake(key)`` give RGB uint8.

    Per fold: a fresh network, ``epochs`` passes over the training pairs (each pair gives its fill and its
    original, so the classes are balanced; random flips), Adam, seeded.
    """

    def score(pairs: PairSet, folds: list[np.ndarray], seed: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        def tensor(imgs: list[np.ndarray]) -> torch.Tensor:  # (N, 3, H, W) float32 in [0, 1]
            return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255.0

        photos = np.unique(pairs.photo)
        real = {int(p): load_real(int(p)) for p in photos}
        fake = [load_fake(k) for k in pairs.keys]
        s_real, s_fake = np.full(pairs.n_photos, np.nan), np.full(len(pairs.keys), np.nan)
        for f, held in enumerate(folds):
            torch.manual_seed(seed * 1009 + f)
            g = np.random.default_rng([seed, f])
            net = _cnn()
            opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
            train = np.nonzero(~np.isin(pairs.photo, held))[0]
            net.train()
            for _ in range(epochs):
                order = g.permutation(train)
                for i in range(0, len(order), CNN_BATCH // 2):
                    idx = order[i : i + CNN_BATCH // 2]
                    x = tensor([fake[j] for j in idx] + [real[int(pairs.photo[j])] for j in idx])
                    y = torch.cat([torch.ones(len(idx)), torch.zeros(len(idx))])
                    flip = g.integers(0, 4)
                    if flip & 1:
                        x = x.flip(3)
                    if flip & 2:
                        x = x.flip(2)
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            net.eval()
            with torch.no_grad():
                test = np.nonzero(np.isin(pairs.photo, held))[0]
                for i in range(0, len(test), 32):
                    s_fake[test[i : i + 32]] = net(tensor([fake[j] for j in test[i : i + 32]])).numpy()
                hp = [int(p) for p in held if int(p) in real]
                if hp:
                    s_real[hp] = net(tensor([real[p] for p in hp])).numpy()
        return s_real, s_fake

    return score


def fill_path(root: Path, key: Key) -> Path:
    """Where ``--realism-cnn`` keeps the composite of ``key`` (the CNN trains on pixels)."""
    from .plan import safe_name

    model, bucket, image, mask = key
    return root / safe_name(model) / safe_name(bucket) / f"{safe_name(image)}__{safe_name(mask)}.png"
