"""Stacking ensemble of detectors (Wolpert, "Stacked Generalization", Neural Networks 1992).

Each member detector gives two features per image: its image logit and the logit of its heatmap's 99th
percentile. A scikit-learn meta-classifier (logistic regression, random forest or RBF SVC) maps them to one score.
The meta-classifier is fitted on predictions the members made on images they never trained on (the validation
split: out-of-sample for every member), and the kind is chosen by grouped cross-validation on those predictions
(folds by source image, so no photo is in two folds).

The fitted meta-classifier (``stacker.Stacker``, shared with the fused detector's stacked score) is reduced to
arrays and re-applied in numpy — logistic regression: scaler + coefficients in ``ensemble.json``; random forest and
SVC: arrays in ``stacker.safetensors``. Member detectors are copied into the ensemble folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from ..errors import InpaintKitError
from .cnn import ENSEMBLE_FILE
from .detector import META_FILE, WEIGHTS_FILE, Detection, Detector, load_detector_net, verdict_for
from .stacker import STACKER_FILE, STACKERS, Stacker, cv_scores


def _logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))


def member_features(logit: float, heatmap: np.ndarray) -> list[float]:
    """[image logit, logit of the heatmap's 99th percentile] for one member on one image."""
    return [float(logit), float(_logit(np.float64(np.percentile(heatmap, 99))))]


class EnsembleDetector:
    """Members' features -> stacker -> score; the heatmap is the members' mean. Same API as ``Detector``."""

    def __init__(
        self,
        members: list[Detector],
        stacker: Stacker,
        threshold: float = 0.5,
        name: str = "ensemble",
        meta: dict[str, Any] | None = None,
    ):
        self.members, self.stacker = members, stacker
        self.threshold = float(threshold)
        self.name = name
        self.meta = meta or {}

    def features(self, rgb: np.ndarray) -> tuple[list[float], np.ndarray]:
        feats, heat = [], None
        for det in self.members:
            logit, h = det.predict(rgb)
            feats += member_features(logit, h)
            heat = h if heat is None else heat + h
        return feats, (heat / len(self.members)).astype(np.float32)

    def detect(self, rgb: np.ndarray) -> Detection:
        feats, heat = self.features(rgb)
        score = float(self.stacker.predict_proba(np.asarray([feats]))[0])
        return Detection(score, verdict_for(score, self.threshold), heat)

    __call__ = detect


def save_ensemble(
    out: str | Path,
    member_dirs: list[str | Path],
    stacker: Stacker,
    *,
    threshold: float,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Copy the members' weights into ``out/members/`` and write the stacker next to them."""
    out = Path(out)
    (out / "members").mkdir(parents=True, exist_ok=True)
    names = []
    for i, d in enumerate(member_dirs):
        d = Path(d)
        name = f"{i}_{d.name}"
        dst = out / "members" / name
        dst.mkdir(exist_ok=True)
        for f in (WEIGHTS_FILE, META_FILE):
            if not (d / f).is_file():
                raise InpaintKitError(f"{d}: no {f}; export the run first (it is written when training ends)")
            shutil.copy2(d / f, dst / f)
        names.append(f"members/{name}")
    if stacker.arrays:
        save_file({k: np.ascontiguousarray(v) for k, v in stacker.arrays.items()}, str(out / STACKER_FILE))
    info = {"members": names, "stacker": stacker.to_json(), "threshold": float(threshold), **(extra or {})}
    (out / ENSEMBLE_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return out


def load_ensemble(folder: str | Path) -> EnsembleDetector:
    folder = Path(folder)
    try:
        info = json.loads((folder / ENSEMBLE_FILE).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InpaintKitError(f"{folder / ENSEMBLE_FILE}: cannot read ({e})") from None
    members = []
    for rel in info["members"]:
        net, meta = load_detector_net(folder / rel)
        members.append(Detector(net, meta.get("threshold", 0.5), name=rel, meta=meta))
    return EnsembleDetector(
        members, Stacker.load(info["stacker"], folder), info.get("threshold", 0.5), name=str(folder), meta=info
    )


def fit_ensemble(
    member_dirs: list[str | Path],
    index: str | Path,
    out: str | Path,
    *,
    kinds: tuple[str, ...] = STACKERS,
    split: str = "val",
    limit: int | None = None,
    target_fpr: float = 0.02,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Score ``split`` with every member, pick the stacker kind with the best grouped-CV ROC-AUC, fit and save it.

    Returns ``{"cv_auc": {kind: auc}, "chosen": kind, "threshold": t}``.
    """
    from sklearn.metrics import roc_auc_score

    from ..data.dataset import read_index
    from .train import calibrate_threshold, load_sample

    recs = read_index(index)
    from .train import spread

    recs = [r for r in recs if r["split"] == split]
    recs = spread(recs, limit) if limit else recs
    if not recs or len({r["label"] for r in recs}) < 2:
        raise InpaintKitError(f"{index}: the {split!r} split needs real and inpainted samples to fit a stacker")
    members = []
    for d in member_dirs:
        net, meta = load_detector_net(d)
        members.append(Detector(net, meta.get("threshold", 0.5), name=str(d)))
    ens = EnsembleDetector(members, Stacker("logistic", {}, {}))
    import sys

    from tqdm import tqdm

    X = np.asarray(
        [
            ens.features(load_sample(r)[0])[0]
            for r in tqdm(recs, desc="ensemble features", disable=not progress, file=sys.stderr)
        ]
    )
    y = np.asarray([r["label"] for r in recs])
    groups = np.asarray([r["source_id"] for r in recs])
    aucs = {k: float(roc_auc_score(y, cv_scores(X, y, groups, k, seed))) for k in kinds}
    chosen = max(kinds, key=lambda k: aucs[k])
    stacker = Stacker.fit(chosen, X, y, seed, groups)
    oof = cv_scores(X, y, groups, chosen, seed)
    threshold = calibrate_threshold(oof[y == 0], target_fpr)
    save_ensemble(out, member_dirs, stacker, threshold=threshold, extra={"cv_auc": aucs, "fit_split": split})
    return {"cv_auc": aucs, "chosen": chosen, "threshold": threshold}
