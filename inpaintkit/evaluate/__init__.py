"""Evaluation of inpainters: per-image metrics, perceptual metrics, the runner behind ``inpaintkit evaluate``
and its report.

``evaluate(EvalConfig(models=("telea", "ns"), images=Path("photos"), masks=Path("evalmasks"), out=Path("report")))``
writes ``metrics.csv`` (one row per model, bucket, image, mask), ``summary.json``, ``report.md``/``report.html``,
plots and sample grids, and returns the summary.
"""

from ..metrics import PSNR_CAP, fid_from_features, frechet_distance, hole_psnr, image_metrics, l1, mean_ci, psnr, ssim
from .runner import COLUMNS, EvalConfig, evaluate, read_metrics_csv

__all__ = [
    "COLUMNS",
    "EvalConfig",
    "PSNR_CAP",
    "evaluate",
    "fid_from_features",
    "frechet_distance",
    "hole_psnr",
    "image_metrics",
    "l1",
    "mean_ci",
    "psnr",
    "read_metrics_csv",
    "ssim",
]
