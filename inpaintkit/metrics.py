"""Per-image quality metrics and the statistics the report prints: the one home of PSNR (evaluation, training
validation and the benchmarks all call these).

All metrics compare an inpainted 8-bit RGB composite with its ground truth, both uint8 (H, W, 3):

- ``psnr``: PSNR over the whole image, data range 255 (equal to scikit-image ``peak_signal_noise_ratio``);
- ``hole_psnr``: PSNR over the hole pixels only (all three channels of each hole pixel);
- ``ssim``: SSIM over the whole image, colour channels averaged (scikit-image ``structural_similarity`` with
  ``channel_axis=-1, data_range=255``: 7x7 uniform window, K1 0.01, K2 0.03);
- ``l1``: mean absolute error over the whole image and all channels, in [0, 1] (pixel values / 255).

**PSNR convention.** ``10 log10(peak² / MSE)`` with ``peak`` the data range of the values compared: 255 for
uint8 images (``psnr``, ``hole_psnr``), 1 for float tensors in [0, 1] (``psnr_batch``, the training loop's
validation and on-demand bands); the two agree on the same picture up to 8-bit rounding. A PSNR of two identical
images is infinite; every PSNR here is capped at ``PSNR_CAP`` dB so that means stay finite.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from skimage.metrics import structural_similarity

PSNR_CAP = 100.0
#: SSIM's window is 7x7: smaller images cannot be scored.
MIN_SIDE = 7
#: name -> True when higher is better. The order is the report's order.
HIGHER_IS_BETTER = {
    "psnr": True,
    "hole_psnr": True,
    "ssim": True,
    "l1": False,
    "lpips_hed": False,
    "seconds": False,
    "kid_hed": False,
    "lpips": False,
    "fid": False,
    "detectability": False,  # ROC-AUC of a trained detector: 0.5 (indistinguishable) is the best possible
}


def _check(pred: np.ndarray, target: np.ndarray) -> None:
    if pred.shape != target.shape or pred.dtype != np.uint8 or target.dtype != np.uint8:
        raise ValueError(
            f"metrics need two uint8 arrays of one shape, got {pred.shape} {pred.dtype} "
            f"and {target.shape} {target.dtype}"
        )


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    """``10 log10(peak² / mse)`` in dB, capped at ``PSNR_CAP`` (also for ``mse == 0``: identical images)."""
    return PSNR_CAP if mse <= 0 else min(PSNR_CAP, float(10.0 * np.log10(peak**2 / mse)))


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB over the whole image (data range 255), capped at ``PSNR_CAP``."""
    _check(pred, target)
    diff = pred.astype(np.float64) - target.astype(np.float64)  # (H, W, 3)
    return psnr_from_mse(float(np.mean(diff**2)))


def psnr_batch(pred, target):
    """Per-image PSNR of float tensors in [0, 1] (peak 1): (N, C, H, W) x2 -> (N,) in dB, capped at ``PSNR_CAP``.

    The torch twin of ``psnr`` for the training loop (written with tensor methods only, so this module imports no
    torch). The MSE is taken in float32; its floor of 1e-10 maps identical images to exactly ``PSNR_CAP``.
    """
    mse = (pred.float() - target.float()).pow(2).flatten(1).mean(1).clamp_min(1e-10)  # (N,)
    return (10 * (1.0 / mse).log10()).clamp_max(PSNR_CAP)


def hole_psnr(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB over the hole pixels only (``mask`` bool (H, W), True = hole). NaN for an empty hole."""
    _check(pred, target)
    if not mask.any():
        return float("nan")
    diff = pred[mask].astype(np.float64) - target[mask].astype(np.float64)  # (n_hole, 3)
    return psnr_from_mse(float(np.mean(diff**2)))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean SSIM over the image, averaged over the colour channels."""
    _check(pred, target)
    return float(structural_similarity(target, pred, channel_axis=-1, data_range=255))


def l1(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error over all pixels and channels, in [0, 1]."""
    _check(pred, target)
    return float(np.mean(np.abs(pred.astype(np.float64) - target.astype(np.float64))) / 255.0)


def image_metrics(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """All per-image metrics at once: ``{"psnr", "hole_psnr", "ssim", "l1"}``."""
    return {
        "psnr": psnr(pred, target),
        "hole_psnr": hole_psnr(pred, target, mask),
        "ssim": ssim(pred, target),
        "l1": l1(pred, target),
    }


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, int]:
    """(mean, half-width of the Student-t confidence interval of the mean, n) over the finite values.

    The half-width is ``t_{(1+c)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard deviation; it is NaN for
    fewer than two values (no spread to estimate). Rows that share an image are treated as independent, so the
    interval is optimistic when many masks are applied to few images.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(v.mean())
    if n < 2:
        return mean, float("nan"), n
    sem = float(v.std(ddof=1)) / math.sqrt(n)
    return mean, float(stats.t.ppf((1 + confidence) / 2, n - 1) * sem), n


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), covariance (D, D)) of features (N, D), as FID uses them (unbiased covariance)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least two feature vectors (N, D), got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (eigh; tiny negative eigenvalues from
    rounding are clipped to 0)."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2):

    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2))``.

    ``tr(sqrt(sigma1 sigma2))`` is computed as ``sum(sqrt(eig(R sigma2 R)))`` with ``R = sqrt(sigma1)``: the same
    eigenvalues as ``sigma1 sigma2``, but from symmetric eigendecompositions, which are exact for singular
    covariances (fewer samples than dimensions) and much faster than a general ``sqrtm`` at 2048 dimensions.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    root = _sqrt_psd(sigma1)
    ev = np.linalg.eigvalsh(root @ sigma2 @ root)
    tr_covmean = float(np.sum(np.sqrt(np.clip(ev, 0, None))))
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean))


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between two sets of Inception pool features (N, 2048) each.

    With ``A_i`` the centred features, ``sigma_i = A_i^T A_i / (n_i - 1)`` and the non-zero eigenvalues of
    ``sigma1 sigma2`` are the squared singular values of ``A1 A2^T / sqrt((n1 - 1)(n2 - 1))``; so when the sets
    are smaller than the feature dimension, ``tr(sqrt(sigma1 sigma2))`` is that small matrix's nuclear norm
    (exact, and milliseconds instead of seconds).
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    mu1, sigma1 = feature_stats(real)
    mu2, sigma2 = feature_stats(fake)
    n1, n2, d = real.shape[0], fake.shape[0], real.shape[1]
    if max(n1, n2) >= d:
        return frechet_distance(mu1, sigma1, mu2, sigma2)
    a1, a2 = real - mu1, fake - mu2
    tr_covmean = float(np.linalg.svd(a1 @ a2.T, compute_uv=False).sum()) / np.sqrt((n1 - 1) * (n2 - 1))
    diff = mu1 - mu2
    tr1 = float(np.sum(a1**2)) / (n1 - 1)
    tr2 = float(np.sum(a2**2)) / (n2 - 1)
    return float(max(0.0, diff @ diff + tr1 + tr2 - 2.0 * tr_covmean))


def kid_from_features(
    real: np.ndarray, fake: np.ndarray, subset_size: int = 1000, subsets: int = 100, seed: int = 0
) -> tuple[float, float]:
    """Kernel inception distance (Binkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel
    ``k(x, y) = (x·y / d + 1)³`` between two feature sets (N, D), each vector first scaled to length sqrt(D) (so
    ``x·y / d`` is the cosine, the kernel lies in [0, 8] and the value does not depend on the features' scale).

    Sets of equal size are treated as paired (row i of both comes from one image, as composites and their ground
    truths are): the U-statistic then leaves out every pair (i, i), also across the sets, so a fill identical to its
    ground truth scores ~0 instead of a large negative value. Sets of at most ``subset_size`` give one exact
    estimate (std NaN); larger ones the mean and standard deviation over ``subsets`` random subsets (seeded), as
    torch-fidelity does. It can be slightly negative for indistinguishable sets. Needs two vectors per set.
    """
    x, y = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2:
        raise ValueError(f"need two feature sets (N, D) with N >= 2 and one D, got {x.shape} and {y.shape}")
    d = x.shape[1]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12) * np.sqrt(d)
    y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12) * np.sqrt(d)
    paired = len(x) == len(y)

    def mmd(a: np.ndarray, b: np.ndarray) -> float:
        m, n = len(a), len(b)
        kaa, kbb, kab = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        cross = (kab.sum() - np.trace(kab)) / (m * (m - 1)) if paired else kab.mean()
        return float(
            (kaa.sum() - np.trace(kaa)) / (m * (m - 1)) + (kbb.sum() - np.trace(kbb)) / (n * (n - 1)) - 2 * cross
        )

    if max(len(x), len(y)) <= subset_size:
        return mmd(x, y), float("nan")
    rng = np.random.default_rng(seed)
    k = min(subset_size, len(x), len(y))
    vals = []
    for _ in range(subsets):
        if paired:
            idx = rng.choice(len(x), k, replace=False)
            vals.append(mmd(x[idx], y[idx]))
        else:
            vals.append(mmd(x[rng.choice(len(x), k, replace=False)], y[rng.choice(len(y), k, replace=False)]))
    return float(np.mean(vals)), float(np.std(vals))
