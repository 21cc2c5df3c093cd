"""Stacking ensemble of detectors (Wolpert, "Stacked Generalization", Neural Networks 1992).

Each member detector gives two features per image: its image logit and the logit of its heatmap's 99th
percentile. A scikit-learn meta-classifier (logistic regression, random forest or RBF SVC) maps them to one score.
The meta-classifier is fitted on predictions the members made on images they never trained on (the validation
split: out-of-sample for every member), and the kind is chosen by grouped cross-validation on those predictions
(folds by source image, so no photo is in two folds).

Storage without pickle (pickle runs code on load): the fitted meta-classifier is reduced to arrays and re-applied
in numpy — logistic regression: scaler + coefficients in ``ensemble.json``; random forest: every tree's node
arrays, SVC: support vectors and dual coefficients (+ a Platt sigmoid), in ``stacker.safetensors``. The numpy
predictions equal scikit-learn's (tested). Member detectors are copied into the ensemble folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from ..errors import InpaintKitError
from .cnn import ENSEMBLE_FILE
from .detector import META_FILE, WEIGHTS_FILE, Detection, Detector, load_detector_net, verdict_for

STACKER_FILE = "stacker.safetensors"
STACKERS = ("logistic", "random_forest", "svc")


def _logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))


def member_features(logit: float, heatmap: np.ndarray) -> list[float]:
    """[image logit, logit of the heatmap's 99th percentile] for one member on one image."""
    return [float(logit), float(_logit(np.float64(np.percentile(heatmap, 99))))]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class Stacker:
    """A fitted meta-classifier as plain arrays: ``predict_proba(X) -> P(inpainted)`` in numpy."""

    def __init__(self, kind: str, params: dict[str, Any], arrays: dict[str, np.ndarray]):
        if kind not in STACKERS:
            raise InpaintKitError(f"unknown stacker {kind!r}; choose from: {', '.join(STACKERS)}")
        self.kind, self.params, self.arrays = kind, params, arrays

    # -- from scikit-learn ---------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, kind: str, X: np.ndarray, y: np.ndarray, seed: int = 0, groups: np.ndarray | None = None) -> "Stacker":
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import SVC

        X, y = np.asarray(X, np.float64), np.asarray(y, int)
        mean, scale = X.mean(0), X.std(0) + 1e-12
        Z = (X - mean) / scale
        base = {"mean": mean.tolist(), "scale": scale.tolist()}
        if kind == "logistic":
            lr = LogisticRegression(C=1.0, max_iter=1000).fit(Z, y)
            return cls(kind, {**base, "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0])}, {})
        if kind == "random_forest":
            rf = RandomForestClassifier(n_estimators=100, max_depth=6, min_samples_leaf=3, random_state=seed).fit(Z, y)
            arrays, n = {}, len(rf.estimators_)
            pos = list(rf.classes_).index(1)
            for i, est in enumerate(rf.estimators_):
                t = est.tree_
                v = t.value[:, 0, :]
                arrays[f"t{i}.left"] = t.children_left.astype(np.int64)
                arrays[f"t{i}.right"] = t.children_right.astype(np.int64)
                arrays[f"t{i}.feature"] = t.feature.astype(np.int64)
                arrays[f"t{i}.threshold"] = t.threshold.astype(np.float64)
                arrays[f"t{i}.p"] = (v[:, pos] / v.sum(1)).astype(np.float64)
            return cls(kind, {**base, "trees": n}, arrays)
        if kind == "svc":
            from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict

            svc = SVC(C=1.0, kernel="rbf", gamma="scale").fit(Z, y)
            gamma = float(svc._gamma)
            # Platt scaling fitted on out-of-fold decision values (libsvm's own probability is not reproducible)
            cv = (
                GroupKFold(5)
                if groups is not None and len(set(groups)) >= 5
                else StratifiedKFold(5, shuffle=True, random_state=seed)
            )
            dec = cross_val_predict(
                SVC(C=1.0, kernel="rbf", gamma="scale"), Z, y, cv=cv, groups=groups, method="decision_function"
            )
            platt = LogisticRegression(max_iter=1000).fit(dec[:, None], y)
            return cls(
                kind,
                {
                    **base,
                    "gamma": gamma,
                    "intercept": float(svc.intercept_[0]),
                    "platt_a": float(platt.coef_[0, 0]),
                    "platt_b": float(platt.intercept_[0]),
                },
                {"sv": svc.support_vectors_.astype(np.float64), "dual": svc.dual_coef_[0].astype(np.float64)},
            )
        raise InpaintKitError(f"unknown stacker {kind!r}; choose from: {', '.join(STACKERS)}")

    # -- numpy inference -------------------------------------------------------------------------------------------
    def _z(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, np.float64) - np.asarray(self.params["mean"])) / np.asarray(self.params["scale"])

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        Z = self._z(X)
        if self.kind == "logistic":
            return Z @ np.asarray(self.params["coef"]) + self.params["intercept"]
        if self.kind == "svc":
            sv, dual = self.arrays["sv"], self.arrays["dual"]
            d2 = ((Z[:, None, :] - sv[None]) ** 2).sum(-1)
            return np.exp(-self.params["gamma"] * d2) @ dual + self.params["intercept"]
        raise InpaintKitError("random_forest has no decision function; use predict_proba")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(inpainted) per row of X (N, F)."""
        if self.kind == "logistic":
            return _sigmoid(self.decision_function(X))
        if self.kind == "svc":
            return _sigmoid(self.params["platt_a"] * self.decision_function(X) + self.params["platt_b"])
        Z = self._z(X)
        out = np.zeros(len(Z))
        for i in range(self.params["trees"]):
            left, right = self.arrays[f"t{i}.left"], self.arrays[f"t{i}.right"]
            feat, thr, p = self.arrays[f"t{i}.feature"], self.arrays[f"t{i}.threshold"], self.arrays[f"t{i}.p"]
            node = np.zeros(len(Z), np.int64)
            while True:
                inner = left[node] >= 0
                if not inner.any():
                    break
                go_left = Z[np.arange(len(Z)), np.where(inner, feat[node], 0)] <= thr[node]
                node = np.where(inner, np.where(go_left, left[node], right[node]), node)
            out += p[node]
        return out / self.params["trees"]

    # -- files -------------------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params}

    @classmethod
    def load(cls, info: dict[str, Any], folder: Path) -> "Stacker":
        params = {k: v for k, v in info.items() if k != "kind"}
        arrays = load_file(str(folder / STACKER_FILE)) if (folder / STACKER_FILE).is_file() else {}
        return cls(info["kind"], params, arrays)


def cv_scores(X: np.ndarray, y: np.ndarray, groups: np.ndarray | None, kind: str, seed: int = 0) -> np.ndarray:
    """Out-of-fold P(inpainted) of a stacker kind: 5 folds, grouped by source image when there are enough."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    n_groups = len(set(groups)) if groups is not None else 0
    splits = (
        GroupKFold(min(5, n_groups)).split(X, y, groups)
        if n_groups >= 3
        else StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y)
    )
    out = np.zeros(len(y))
    for tr, te in splits:
        if len(set(y[tr])) < 2:
            out[te] = y[tr].mean()
            continue
        out[te] = Stacker.fit(kind, X[tr], y[tr], seed).predict_proba(X[te])
    return out


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
