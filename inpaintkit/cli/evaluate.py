"""``inpaintkit evaluate``: several inpainters on the same images and masks, scored, with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .options import engine_option, engine_options, jobs_option, ray_address_option


@app.command("evaluate")
def evaluate_cmd(
    model: list[str] = typer.Option(
        ...,
        "--model",
        help="Inpainter NAME or NAME:CHECKPOINT, options after ? (default?texture=on); repeat for each model (see `inpaintkit list`).",
    ),
    images: Path = typer.Option(..., "--images", help="Folder of ground-truth images."),
    masks: Path = typer.Option(
        ..., "--masks", help="Folder of mask PNGs (255 = hole), or of sub-folders, one per bucket."
    ),
    out: Path = typer.Option(..., "--out", help="Report folder; re-running with the same folder resumes."),
    jobs: Optional[int] = jobs_option("images in parallel; the output does not depend on it"),
    size: Optional[int] = typer.Option(
        None,
        "--size",
        help="Centre-crop each image to a square and resize it to SIZE x SIZE first (pconv masks are 256).",
    ),
    max_images: Optional[int] = typer.Option(
        None, "--max-images", min=1, help="Use only the first N images (sorted by name)."
    ),
    max_masks: Optional[int] = typer.Option(
        None, "--max-masks", min=1, help="Use only the first N masks of each bucket."
    ),
    samples: int = typer.Option(4, "--samples", min=0, help="Sample rows per bucket in the picture grids."),
    fid_weights: Optional[Path] = typer.Option(
        None, "--fid-weights", help="pytorch-fid Inception weights (pt_inception-2015-12-05-*.pth) to compute FID."
    ),
    lpips_weights: Optional[Path] = typer.Option(
        None, "--lpips-weights", help="LPIPS lin-layer weights (the lpips package's vgg.pth) to compute LPIPS."
    ),
    vgg_weights: Optional[Path] = typer.Option(
        None,
        "--vgg-weights",
        help="torchvision VGG16 weights for LPIPS (unless in the --lpips-weights file); also replaces the bundled features of lpips_hed/kid_hed.",
    ),
    hed: bool = typer.Option(
        True,
        "--hed/--no-hed",
        help="lpips_hed and kid_hed on the bundled VGG16 features (--no-hed: skip them; faster).",
    ),
    device: str = typer.Option("cpu", "--device", help="Torch device for FID/LPIPS networks."),
    figures: bool = typer.Option(
        True, "--figures/--no-figures", help="Plots and sample grids (--no-figures: tables, CSV and JSON only; faster)."
    ),
    realism: bool = typer.Option(
        False,
        "--realism",
        help="Detectability: train a detector per model to tell its fills from the photos (cross-validated by "
        "photo) and report its ROC-AUC (0.5 = indistinguishable).",
    ),
    realism_cnn: bool = typer.Option(
        False, "--realism-cnn", help="With --realism: add a small residual CNN detector (slower; keeps the fills)."
    ),
    realism_folds: int = typer.Option(5, "--realism-folds", help="With --realism: folds of the cross-validation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the realism detectors and their bootstrap."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    engine: str = engine_option(),
    ray_address: Optional[str] = ray_address_option(),
) -> int:
    """Score inpainters side by side: metrics.csv, summary.json, report.md/.html, plots and sample grids."""
    # scipy / skimage: heavy, only for this command
    from ..evaluate.report import ALL, EXTRA_METRICS, TABLE_METRICS, fmt_stat
    from ..evaluate.runner import EvalConfig, evaluate

    eng = engine_options(engine, jobs, ray_address)
    cfg = EvalConfig(
        tuple(model),
        images,
        masks,
        out,
        jobs=eng.jobs,
        engine=eng.kind,
        ray_address=eng.address,
        size=size,
        max_images=max_images,
        max_masks=max_masks,
        samples=samples,
        fid_weights=fid_weights,
        lpips_weights=lpips_weights,
        vgg_weights=vgg_weights,
        hed=hed,
        device=device,
        figures=figures,
        realism=realism,
        realism_cnn=realism_cnn,
        realism_folds=realism_folds,
        seed=seed,
    )
    summary = evaluate(cfg, progress=not quiet)
    overall = summary["metrics"]
    width = max(len(m) for m in summary["models"])
    names = [m for m in (*TABLE_METRICS, *EXTRA_METRICS) if m in overall]
    print(f"{'model':<{width}}  " + "  ".join(f"{n:>18}" for n in names) + "   (all buckets)")
    for m in summary["models"]:
        cells = []
        for n in names:
            s = overall[n][ALL][m]
            cells.append(fmt_stat({k: (float("nan") if v is None else v) for k, v in s.items()}, n))
        print(f"{m:<{width}}  " + "  ".join(f"{c:>18}" for c in cells))
    print(
        f"wrote {out / 'metrics.csv'} ({summary['rows']} rows), {out / 'report.md'}, {out / 'report.html'}"
        + (f"; skipped {len(summary['skipped'])} (see the report)" if summary["skipped"] else "")
    )
    return 0
