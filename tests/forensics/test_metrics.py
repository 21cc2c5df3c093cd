"""Evaluation metrics against scikit-learn on fixed data (ties included)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from inpaintkit.forensics.evaluate import (
    average_precision,
    binary_metrics,
    image_metrics,
    iou,
    pixel_metrics,
    roc_auc,
    roc_curve,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    y = rng.random(500) < 0.4
    s = np.round(np.clip(y * 0.3 + rng.normal(0.4, 0.25, 500), 0, 1), 2)  # rounded: many ties
    return y.astype(int), s


def test_roc_auc_and_ap_match_sklearn(data):
    y, s = data
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    fpr, tpr, thr = roc_curve(y, s)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)
    assert np.isnan(roc_auc(np.ones(5), np.arange(5)))


def test_threshold_metrics_match_sklearn(data):
    y, s = data
    pred = s >= 0.5
    m = binary_metrics(y, pred)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["confusion"] == skm.confusion_matrix(y, pred).tolist()
    assert iou(y, pred) == pytest.approx(skm.jaccard_score(y, pred))
    im = image_metrics(y, s, 0.5)
    assert im["fpr"] == pytest.approx(m["confusion"][0][1] / (y == 0).sum())
    assert im["n_real"] + im["n_inpainted"] == len(y)


def test_pixel_metrics():
    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    heat = np.where(gt, 0.9, 0.1).astype(np.float32)
    perfect = pixel_metrics([gt], [heat])
    assert perfect == {"pixel_f1": 1.0, "pixel_iou": 1.0, "pixel_auc": 1.0}
    half = heat.copy()
    half[2:4, 2:6] = 0.2  # half of the hole missed
    m = pixel_metrics([gt], [half])
    assert m["pixel_iou"] == pytest.approx(0.5) and m["pixel_f1"] == pytest.approx(2 / 3)
