"""Evaluating detectors (``inpaintkit forensics evaluate``).

Image level, at the detector's threshold: accuracy, precision, recall, F1, confusion matrix; threshold-free:
ROC-AUC and average precision. Pixel level, on the inpainted samples: F1 and IoU of the heatmap at 0.5 against the
ground-truth mask (per image, averaged) and the ROC-AUC over all their pixels. Per inpainter (its inpainted samples
against all real samples), under re-compression and resizing (JPEG q50/75/90, resize 0.5/0.75 — the ground-truth
mask is resized with the image), and a leave-one-inpainter-out table from runs trained without one inpainter.

The metric functions are numpy (rank-based AUC, step-wise AP) and are tested against scikit-learn.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from ..data.dataset import read_index
from ..errors import InpaintKitError
from .train import jpeg, load_sample, rescale

# -- metrics --------------------------------------------------------------------------------------------------------


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties counting 1/2 (Mann-Whitney)."""
    y, s = np.asarray(y).astype(bool).ravel(), np.asarray(s, np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    ranks = np.empty(len(s))
    # average ranks over ties
    _, first, counts = np.unique(s_sorted, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) at every distinct score, from the highest down."""
    y, s = np.asarray(y).astype(bool), np.asarray(s, np.float64)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return (np.r_[0, fp] / max(1, (~y).sum()), np.r_[0, tp] / max(1, y.sum()), np.r_[np.inf, s[last]])


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Sum over thresholds of (recall step) x precision, as scikit-learn's ``average_precision_score``."""
    y, s = np.asarray(y).astype(bool), np.asarray(s, np.float64)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0, recall]) * precision))


def binary_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, precision, recall, F1 and the confusion matrix [[TN, FP], [FN, TP]] of 0/1 predictions."""
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    tp, fp = int((y & pred).sum()), int((~y & pred).sum())
    fn, tn = int((y & ~pred).sum()), int((~y & ~pred).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / max(1, len(y)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion": [[tn, fp], [fn, tp]],
    }


def iou(y: np.ndarray, pred: np.ndarray) -> float:
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    union = (y | pred).sum()
    return float((y & pred).sum() / union) if union else 1.0


def image_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    y, scores = np.asarray(y), np.asarray(scores)
    out = binary_metrics(y, scores >= threshold)
    out.update(
        {
            "roc_auc": roc_auc(y, scores),
            "ap": average_precision(y, scores),
            "fpr": float((scores[y == 0] >= threshold).mean()) if (y == 0).any() else float("nan"),
            "n_real": int((y == 0).sum()),
            "n_inpainted": int((y == 1).sum()),
        }
    )
    return out


def pixel_metrics(
    masks: list[np.ndarray], heats: list[np.ndarray], *, max_pixels: int = 2_000_000, seed: int = 0
) -> dict[str, float]:
    """Mean per-image F1 and IoU of ``heat >= 0.5``, and pooled pixel ROC-AUC (subsampled to ``max_pixels``)."""
    if not masks:
        return {"pixel_f1": float("nan"), "pixel_iou": float("nan"), "pixel_auc": float("nan")}
    f1s = [binary_metrics(m.ravel(), h.ravel() >= 0.5)["f1"] for m, h in zip(masks, heats)]
    ious = [iou(m, h >= 0.5) for m, h in zip(masks, heats)]
    y = np.concatenate([m.ravel() for m in masks])
    s = np.concatenate([h.ravel() for h in heats])
    if len(y) > max_pixels:
        keep = np.random.default_rng(seed).choice(len(y), max_pixels, replace=False)
        y, s = y[keep], s[keep]
    return {"pixel_f1": float(np.mean(f1s)), "pixel_iou": float(np.mean(ious)), "pixel_auc": roc_auc(y, s)}


# -- evaluation -------------------------------------------------------------------------------------------------------


def _jpeg_t(q: int) -> Callable:
    return lambda rgb, mask: (jpeg(rgb, q), mask)


def _resize_t(f: float) -> Callable:
    return lambda rgb, mask: rescale(rgb, mask, f)


#: name -> (image, mask) transform of the robustness table
CONDITIONS: dict[str, Callable | None] = {
    "clean": None,
    "jpeg90": _jpeg_t(90),
    "jpeg75": _jpeg_t(75),
    "jpeg50": _jpeg_t(50),
    "resize0.75": _resize_t(0.75),
    "resize0.5": _resize_t(0.5),
}


def score_split(
    det,
    recs: list[dict[str, Any]],
    transform: Callable | None = None,
    progress: bool = True,
    desc: str = "score",
    jpeg: bool = False,
) -> dict[str, Any]:
    """Run ``det`` on ``recs``; returns labels, scores, inpainters, masks and heatmaps, and for a fused detector
    each branch's calibrated scores and per-image pixel F1 (``branch_scores``, ``branch_f1``).

    ``jpeg``: the transform re-compresses as JPEG (a fused detector then uses its JPEG calibration, as it does for
    a .jpg file; stored samples use their own format)."""
    from .fusion import FusedDetector

    ys, scores, inps, masks, heats = [], [], [], [], []
    b_scores: dict[str, list[float]] = {}
    b_f1: dict[str, list[float]] = {}
    for rec in tqdm(recs, desc=desc, disable=not progress, file=sys.stderr, leave=False):
        rgb, mask = load_sample(rec)
        if transform is not None:
            rgb, mask = transform(rgb, mask)
        if isinstance(det, FusedDetector):
            res = det.detect(rgb, jpeg=jpeg or rec["path"].lower().endswith((".jpg", ".jpeg")))
            for b, p in (res.branches or {}).items():
                b_scores.setdefault(b, []).append(p)
                if rec["label"]:
                    b_f1.setdefault(b, []).append(binary_metrics(mask.ravel(), res.maps[b].ravel() >= 0.5)["f1"])
        else:
            res = det.detect(rgb)
        ys.append(rec["label"])
        scores.append(res.score)
        inps.append(rec.get("inpainter"))
        masks.append(mask)
        heats.append(res.heatmap)
    return {
        "y": np.asarray(ys),
        "scores": np.asarray(scores),
        "inpainters": inps,
        "masks": masks,
        "heats": heats,
        "records": recs,
        "branch_scores": {b: np.asarray(v) for b, v in b_scores.items()},
        "branch_f1": {b: np.asarray(v) for b, v in b_f1.items()},
    }


def summarize(scored: dict[str, Any], threshold: float) -> dict[str, Any]:
    """Overall and per-inpainter image metrics + pixel metrics of the inpainted samples."""
    y, s, inps = scored["y"], scored["scores"], scored["inpainters"]
    out = {"overall": image_metrics(y, s, threshold)}
    fake = [i for i in range(len(y)) if y[i] == 1]
    out["overall"].update(pixel_metrics([scored["masks"][i] for i in fake], [scored["heats"][i] for i in fake]))
    real = y == 0
    for name in sorted({n for n in inps if n}):
        sel = real | np.array([n == name for n in inps])
        m = image_metrics(y[sel], s[sel], threshold)
        idx = [i for i in range(len(y)) if inps[i] == name]
        m.update(pixel_metrics([scored["masks"][i] for i in idx], [scored["heats"][i] for i in idx]))
        out[name] = m
    # each branch of a fused detector on its own: ROC-AUC overall and per inpainter, mean pixel F1 of its map
    fake_inps = [inps[i] for i in fake]
    for b, bs in scored.get("branch_scores", {}).items():
        row = {
            "roc_auc": roc_auc(y, bs),
            "pixel_f1": float(np.mean(scored["branch_f1"][b])) if len(scored["branch_f1"].get(b, [])) else float("nan"),
        }
        for name in sorted({n for n in inps if n}):
            sel = real | np.array([n == name for n in inps])
            row[name] = roc_auc(y[sel], bs[sel])
            f1s = [f for f, n in zip(scored["branch_f1"].get(b, []), fake_inps) if n == name]
            row[f"{name}_pixel_f1"] = float(np.mean(f1s)) if f1s else float("nan")
        out.setdefault("branches", {})[b] = row
    return out


def pick_records(index: str | Path, split: str, limit_per_source: int | None = None) -> list[dict]:
    """The records of ``split``; with ``limit_per_source``, only the first N crops of each source (all samples of
    those crops, so real and inpainted stay paired)."""
    recs = [r for r in read_index(index) if r["split"] == split]
    if limit_per_source is not None:
        recs = [r for r in recs if r["crop"] < limit_per_source]
    if not recs:
        raise InpaintKitError(f"{index}: no samples in split {split!r}")
    return recs


def evaluate(
    det,
    index: str | Path,
    *,
    split: str = "test",
    conditions: list[str] = ("clean",),
    limit_per_source: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """``{condition: summarize(...)}`` plus the first condition's raw scores (for curves and examples), with its
    name (``"condition"``)."""
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        raise InpaintKitError(f"unknown condition(s) {', '.join(unknown)}; choose from: {', '.join(CONDITIONS)}")
    recs = pick_records(index, split, limit_per_source)
    results: dict[str, Any] = {"threshold": det.threshold, "split": split, "n": len(recs), "conditions": {}}
    raw = None
    for c in conditions:
        scored = score_split(det, recs, CONDITIONS[c], progress, desc=c, jpeg=c.startswith("jpeg"))
        results["conditions"][c] = summarize(scored, det.threshold)
        if raw is None:
            raw = {**scored, "condition": c}
    results["_raw"] = raw
    return results


def leave_one_out(
    run_dirs: list[str | Path],
    index: str | Path,
    *,
    split: str = "test",
    limit_per_source: int | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """For each run trained with ``exclude_inpainters = [X]``: ROC-AUC and recall on X (unseen) and on the
    inpainters it saw, against the same real samples."""
    from .load import load_detector

    recs = pick_records(index, split, limit_per_source)
    rows = []
    for d in run_dirs:
        det = load_detector(d)
        left_out = det.meta.get("exclude_inpainters") or []
        if len(left_out) != 1:
            raise InpaintKitError(
                f"{d}: not a leave-one-out run (exclude_inpainters = {left_out}); train it with "
                "--set data.exclude_inpainters=[NAME]"
            )
        x = left_out[0]
        scored = score_split(det, recs, None, progress, desc=f"loo {x}")
        y, s, inps = scored["y"], scored["scores"], scored["inpainters"]
        real = y == 0
        unseen = np.array([n == x for n in inps])
        seen = (y == 1) & ~unseen
        rows.append(
            {
                "run": str(d),
                "left_out": x,
                "auc_unseen": roc_auc(y[real | unseen], s[real | unseen]),
                "recall_unseen": float((s[unseen] >= det.threshold).mean()) if unseen.any() else float("nan"),
                "auc_seen": roc_auc(y[real | seen], s[real | seen]),
                "fpr": float((s[real] >= det.threshold).mean()),
            }
        )
    return rows


def jsonable(results: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in results.items() if not k.startswith("_")}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.3f}"
    return str(v)
