"""A fitted meta-classifier reduced to plain arrays (logistic regression, random forest or RBF SVC), re-applied in
numpy: the stacking ensemble of learned detectors (``ensemble.py``) and the fused detector's stacked score
(``fusion.fit_stack``) both use it. Fitting needs scikit-learn; applying it needs numpy only (and safetensors for
the forest's and the SVC's arrays), so ``inpaintkit detect`` never imports scikit-learn or torch for it.

Storage without pickle (pickle runs code on load): logistic regression: scaler + coefficients as JSON; random
forest: every tree's node arrays, SVC: support vectors and dual coefficients (+ a Platt sigmoid), in
``stacker.safetensors``. The numpy predictions equal scikit-learn's (tests/forensics/test_ensemble.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InpaintKitError

STACKER_FILE = "stacker.safetensors"
STACKERS = ("logistic", "random_forest", "svc")


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
    def fit(
        cls,
        kind: str,
        X: np.ndarray,
        y: np.ndarray,
        seed: int = 0,
        groups: np.ndarray | None = None,
        *,
        C: float = 1.0,
    ) -> "Stacker":
        """``C``: the inverse L2 strength of the logistic regression (on standardised features)."""
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import SVC

        X, y = np.asarray(X, np.float64), np.asarray(y, int)
        mean, scale = X.mean(0), X.std(0) + 1e-12
        Z = (X - mean) / scale
        base = {"mean": mean.tolist(), "scale": scale.tolist()}
        if kind == "logistic":
            lr = LogisticRegression(C=C, max_iter=5000).fit(Z, y)
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
        if self.kind == "logistic":  # the standardisation folded into the weights: one product, no (N, F) copies
            w = np.asarray(self.params["coef"]) / np.asarray(self.params["scale"])
            b = self.params["intercept"] - float(np.asarray(self.params["mean"]) @ w)
            return np.asarray(X, np.float64) @ w + b
        Z = self._z(X)
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
    def from_json(cls, info: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> "Stacker":
        """The inverse of ``to_json`` (a logistic stacker needs no arrays)."""
        return cls(info["kind"], {k: v for k, v in info.items() if k != "kind"}, arrays or {})

    @classmethod
    def load(cls, info: dict[str, Any], folder: Path) -> "Stacker":
        from safetensors.numpy import load_file

        arrays = load_file(str(folder / STACKER_FILE)) if (folder / STACKER_FILE).is_file() else {}
        return cls.from_json(info, arrays)


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
