"""Stacking ensemble: numpy re-implementations equal scikit-learn; save/load round trip without pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inpaintkit.forensics.detector import DetectorConfig, ForgeryNet, save_detector_run
from inpaintkit.forensics.ensemble import EnsembleDetector, Stacker, cv_scores, load_ensemble, save_ensemble


@pytest.fixture
def scores():
    """Two noisy 'detector' logits per image; the label is in their sum."""
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.5).astype(int)
    X = np.stack(
        [
            y * 2.0 + rng.normal(0, 1, 300),
            y * 1.0 + rng.normal(0, 1, 300),
            rng.normal(0, 1, 300),
            y * 0.5 + rng.normal(0, 1, 300),
        ],
        1,
    )
    groups = np.repeat(np.arange(30), 10)
    return X, y, groups


def test_logistic_matches_sklearn(scores):
    from sklearn.linear_model import LogisticRegression

    X, y, _ = scores
    st = Stacker.fit("logistic", X, y)
    Z = (X - X.mean(0)) / (X.std(0) + 1e-12)
    ref = LogisticRegression(C=1.0, max_iter=1000).fit(Z, y).predict_proba(Z)[:, 1]
    assert np.allclose(st.predict_proba(X), ref, atol=1e-10)


def test_random_forest_matches_sklearn(scores):
    from sklearn.ensemble import RandomForestClassifier

    X, y, _ = scores
    st = Stacker.fit("random_forest", X, y, seed=4)
    Z = (X - X.mean(0)) / (X.std(0) + 1e-12)
    rf = RandomForestClassifier(n_estimators=100, max_depth=6, min_samples_leaf=3, random_state=4).fit(Z, y)
    assert np.allclose(st.predict_proba(X), rf.predict_proba(Z)[:, 1], atol=1e-10)


def test_svc_decision_matches_sklearn(scores):
    from sklearn.svm import SVC

    X, y, groups = scores
    st = Stacker.fit("svc", X, y, groups=groups)
    Z = (X - X.mean(0)) / (X.std(0) + 1e-12)
    ref = SVC(C=1.0, kernel="rbf", gamma="scale").fit(Z, y).decision_function(Z)
    assert np.allclose(st.decision_function(X), ref, atol=1e-8)
    p = st.predict_proba(X)
    assert ((p >= 0.5) == (ref >= 0)).mean() > 0.95  # Platt sigmoid is increasing in the decision value


def test_stacking_beats_the_best_single_feature_out_of_fold(scores):
    from sklearn.metrics import roc_auc_score

    X, y, groups = scores
    best_single = max(roc_auc_score(y, X[:, i]) for i in range(X.shape[1]))
    for kind in ("logistic", "random_forest", "svc"):
        oof = cv_scores(X, y, groups, kind)
        assert roc_auc_score(y, oof) > best_single - (0.03 if kind == "random_forest" else 0.0), kind
    assert roc_auc_score(y, cv_scores(X, y, groups, "logistic")) > best_single


@pytest.mark.parametrize("kind", ["logistic", "random_forest", "svc"])
def test_save_load_round_trip_and_detect(tmp_path, scores, kind):
    torch.manual_seed(0)
    members = []
    for i in range(2):
        net = ForgeryNet(DetectorConfig(backbone="resnet34", width=0.25, decoder_channels=8, tile=64))
        members.append(save_detector_run(tmp_path / f"m{i}", net, threshold=0.5))
    X, y, groups = scores
    st = Stacker.fit(kind, X, y, groups=groups)
    out = save_ensemble(tmp_path / "ens", members, st, threshold=0.6)
    assert not list(out.rglob("*.pkl")) and not list(out.rglob("*.joblib"))
    ens = load_ensemble(out)
    assert isinstance(ens, EnsembleDetector) and ens.threshold == 0.6 and len(ens.members) == 2
    assert np.allclose(ens.stacker.predict_proba(X), st.predict_proba(X))
    res = ens.detect(np.random.default_rng(0).integers(0, 255, (70, 90, 3), dtype=np.uint8))
    assert 0.0 <= res.score <= 1.0 and res.heatmap.shape == (70, 90)
    assert json.loads((out / "ensemble.json").read_text())["stacker"]["kind"] == kind
