"""Per-image metrics against scikit-image / numpy, confidence intervals, and the Fréchet distance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import linalg, stats
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from inpaintkit.metrics import (
    PSNR_CAP,
    feature_stats,
    fid_from_features,
    frechet_distance,
    hole_psnr,
    image_metrics,
    l1,
    mean_ci,
    psnr,
    ssim,
)


@pytest.fixture
def pair():
    """A fixed ground truth, a fixed hole, and a composite that differs only inside the hole."""
    rng = np.random.default_rng(123)
    gt = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    mask = np.zeros((40, 48), bool)
    mask[10:25, 5:30] = True
    pred = gt.copy()
    pred[mask] = rng.integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
    return pred, gt, mask


def test_psnr_ssim_l1_match_skimage_and_numpy(pair):
    pred, gt, mask = pair
    assert psnr(pred, gt) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=255), abs=1e-9)
    assert ssim(pred, gt) == pytest.approx(structural_similarity(gt, pred, channel_axis=-1, data_range=255), abs=1e-9)
    # SSIM over colour channels = mean of the per-channel SSIMs
    per_channel = [structural_similarity(gt[..., c], pred[..., c], data_range=255) for c in range(3)]
    assert ssim(pred, gt) == pytest.approx(np.mean(per_channel), abs=1e-9)
    expected_l1 = np.abs(pred.astype(float) - gt.astype(float)).mean() / 255
    assert l1(pred, gt) == pytest.approx(expected_l1, abs=1e-12)
    assert 0 < l1(pred, gt) < 1


def test_hole_psnr_uses_hole_pixels_only(pair):
    pred, gt, mask = pair
    expected = peak_signal_noise_ratio(gt[mask], pred[mask], data_range=255)
    assert hole_psnr(pred, gt, mask) == pytest.approx(expected, abs=1e-9)
    # the composite is exact outside the hole, so the hole carries all the error: full-image PSNR is higher
    frac = mask.mean()
    assert psnr(pred, gt) == pytest.approx(expected - 10 * math.log10(frac), abs=1e-9)
    # a change outside the hole does not move hole PSNR
    other = pred.copy()
    other[~mask] = 0
    assert hole_psnr(other, gt, mask) == pytest.approx(expected, abs=1e-12)


def test_fixed_values_and_edge_cases():
    gt = np.full((8, 8, 3), 100, np.uint8)
    pred = gt.copy()
    mask = np.zeros((8, 8), bool)
    mask[:4] = True
    pred[mask] = 110  # error 10 on half the pixels
    assert hole_psnr(pred, gt, mask) == pytest.approx(10 * math.log10(255**2 / 100))
    assert psnr(pred, gt) == pytest.approx(10 * math.log10(255**2 / 50))
    assert l1(pred, gt) == pytest.approx(5 / 255)
    assert psnr(gt, gt) == PSNR_CAP and hole_psnr(gt, gt, mask) == PSNR_CAP
    assert ssim(gt, gt) == pytest.approx(1.0)
    assert math.isnan(hole_psnr(pred, gt, np.zeros((8, 8), bool)))
    assert set(image_metrics(pred, gt, mask)) == {"psnr", "hole_psnr", "ssim", "l1"}
    with pytest.raises(ValueError):
        psnr(pred.astype(np.float32), gt)


def test_mean_ci_is_the_student_t_interval():
    v = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    mean, half, n = mean_ci(v)
    lo, hi = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert (mean, n) == (pytest.approx(5.0), 5)
    assert half == pytest.approx((hi - lo) / 2)
    assert mean_ci([1.0, float("nan"), 3.0])[2] == 2  # non-finite values are left out
    m1, h1, n1 = mean_ci([3.0])
    assert (m1, n1) == (3.0, 1) and math.isnan(h1)
    assert mean_ci([])[2] == 0
    # more samples of the same spread: a narrower interval
    rng = np.random.default_rng(0)
    assert mean_ci(rng.normal(size=400))[1] < mean_ci(rng.normal(size=20))[1]


def _direct_frechet(mu1, s1, mu2, s2):
    """The textbook formula with scipy's general matrix square root of the product (as pytorch-fid does)."""
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_direct_computation():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_direct_frechet(mu1, s1, mu2, s2), rel=1e-7)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)
    # 1-D Gaussians: (m1 - m2)^2 + (sd1 - sd2)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == pytest.approx(
        4.0 + 1.0
    )


def test_fid_from_features_self_zero_shift_positive():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(50, 8))
    assert fid_from_features(feats, feats) == pytest.approx(0.0, abs=1e-6)
    shifted = feats + 0.5
    assert fid_from_features(feats, shifted) == pytest.approx(8 * 0.25, rel=1e-6)  # only the means differ
    mu, sigma = feature_stats(feats)
    assert mu.shape == (8,) and sigma.shape == (8, 8)
    with pytest.raises(ValueError):
        feature_stats(feats[:1])


def test_fid_small_sets_use_the_exact_low_rank_path():
    """Fewer samples than dimensions (singular covariances): the nuclear-norm shortcut equals the full formula."""
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(9, 30)), rng.normal(loc=0.3, scale=1.5, size=(12, 30))
    full = frechet_distance(*feature_stats(real), *feature_stats(fake))
    assert fid_from_features(real, fake) == pytest.approx(full, rel=1e-6)
    assert fid_from_features(real, real) == pytest.approx(0.0, abs=1e-9)
    # and the full formula agrees with scipy's sqrtm where that is well conditioned
    big_r, big_f = rng.normal(size=(80, 30)), rng.normal(loc=0.2, size=(90, 30))
    assert fid_from_features(big_r, big_f) == pytest.approx(
        _direct_frechet(*feature_stats(big_r), *feature_stats(big_f)), rel=1e-6
    )
