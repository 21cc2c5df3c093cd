"""``inpaintkit detect`` and ``inpaintkit forensics make-dataset|train|ensemble|evaluate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from tqdm import tqdm

from ..errors import InpaintKitError
from ..io import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, list_images
from . import app
from .options import engine_option, engine_options, jobs_option, ray_address_option

forensics_app = typer.Typer(
    no_args_is_help=True, help="Original-vs-inpainted datasets, detector training and evaluation."
)
app.add_typer(forensics_app, name="forensics")


def _csv(value: str, what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise InpaintKitError(f"{what}: give a comma-separated list")
    return items


def _set_threads(n: int, torch_too: bool = True) -> None:
    """torch intra-op threads (0: torch's default); 1 is one compute thread for everything (torch, OpenCV, numpy's
    BLAS: ``engine.single_thread``), much faster on a machine busy with other work. ``torch_too=False``: torch only
    if it is already imported."""
    if n < 0:
        raise InpaintKitError(f"--threads {n}: must be 0 (default) or more")
    if n == 1:
        from ..engine import single_thread

        single_thread()
    if n and (torch_too or "torch" in sys.modules):
        import torch

        torch.set_num_threads(n)


def _threads_option():
    return typer.Option(
        1,
        "--threads",
        help="torch threads (0: torch's default; 1: one thread for torch, OpenCV and BLAS, fastest on a busy machine).",
    )


def _image_files(paths: list[Path]) -> list[Path]:
    """Each file as given; a folder gives the images directly in it, sorted by name."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise InpaintKitError(f"{p}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
            out += found
        else:
            out.append(p)
    return out


def _unique_stem(stem: str, used: set[str]) -> str:
    name, i = stem, 1
    while name in used:
        i += 1
        name = f"{stem}-{i}"
    used.add(name)
    return name


@app.command("detect")
def detect_cmd(
    images: list[Path] = typer.Argument(
        ..., help="Image files, or folders of them, to check (any size; large images are tiled)."
    ),
    model: Optional[str] = typer.Option(
        None, "--model", help="Detector: a run or ensemble folder, or 'default' (the bundled one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line: path, score, verdict."),
    heatmap_dir: Optional[Path] = typer.Option(
        None, "--heatmap-dir", help="Write <stem>_heatmap.png and <stem>_overlay.png here."
    ),
    threshold: Optional[float] = typer.Option(
        None, "--threshold", help="Score at or above which an image is called inpainted (default: the detector's)."
    ),
    max_pixels: int = typer.Option(DEFAULT_MAX_PIXELS, "--max-pixels", help="Refuse images above this many pixels."),
    threads: int = _threads_option(),
    jobs: Optional[int] = jobs_option(),
    engine: str = engine_option(),
    ray_address: Optional[str] = ray_address_option(),
) -> int:
    """Score images: the probability each was inpainted, a verdict, and optionally a heatmap of where."""
    from ..engine import Failure, map_items
    from ..forensics import load_detector
    from ..forensics.batch import DetectWork

    eng = engine_options(engine, jobs, ray_address)
    images = _image_files(images)
    _set_threads(threads, torch_too=False)  # torch is not imported yet, and may never be
    # a bad name or folder fails here, once; the bundled detector's CNN runs on onnxruntime when it is installed
    det = load_detector(model, threshold=threshold, threads=threads)
    if threads and "torch" in sys.modules:  # the detector runs on torch after all
        import torch

        torch.set_num_threads(threads)
    if heatmap_dir is not None:
        if heatmap_dir.exists() and not heatmap_dir.is_dir():
            raise InpaintKitError(f"--heatmap-dir {heatmap_dir}: is a file; give a folder")
        try:
            heatmap_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InpaintKitError(f"--heatmap-dir {heatmap_dir}: cannot create it ({e.strerror or e})") from None
    used: set[str] = set()
    items = [(p, _unique_stem(p.stem, used) if heatmap_dir is not None else None) for p in images]
    work = DetectWork(model, threshold, max_pixels, heatmap_dir, prebuilt=None if eng.parallel else det)
    failures = 0
    # results in input order, each printed as soon as it and those before it are done
    for i, row in map_items(eng, work, items, total=len(items), desc="detect", progress=False, ordered=True):
        if isinstance(row, Failure):
            failures += 1
            print(f"error: {row.message}", file=sys.stderr)
            if as_json:
                print(json.dumps({"path": str(images[i]), "error": row.message}), flush=True)
            continue
        if "error" in row:  # scored, but its heatmap could not be written (read-only folder, disk full)
            failures += 1
            print(f"error: {row['error']}", file=sys.stderr)
        if as_json:
            print(json.dumps(row), flush=True)
        else:
            print(f"{row['path']}\t{row['score']:.4f}\t{row['verdict']}", flush=True)
    if failures and not as_json:
        print(f"{failures} of {len(images)} images failed", file=sys.stderr)
    return 0 if not failures else (2 if failures == len(images) else 1)


@forensics_app.command("make-dataset")
def make_dataset_cmd(
    images: list[Path] = typer.Option(..., "--images", help="Folder of source photos (or single files); repeatable."),
    inpainters: str = typer.Option(
        "telea,ns,patchmatch", "--inpainters", help="Comma-separated inpainter specs (NAME or NAME:RUN_DIR)."
    ),
    masks: str = typer.Option("irregular,lama-thick,boxes", "--masks", help="Comma-separated mask kinds."),
    per_image: int = typer.Option(3, "--per-image", help="Inpainted samples per crop (inpainters taken in turn)."),
    crops_per_image: int = typer.Option(
        1, "--crops-per-image", help="Random crops per source image (each: 1 real + K inpainted)."
    ),
    size: int = typer.Option(256, "--size", help="Side of every sample in pixels."),
    max_crop: float = typer.Option(
        1.0, "--max-crop", help="Largest crop as a share of the short side (smallest: --size pixels)."
    ),
    scale: str = typer.Option(
        "",
        "--scale",
        help="LO-HI (e.g. 0.5-1.0): crop side = --size / s, s log-uniform in [LO, HI]; 1 = native pixels. Replaces --max-crop.",
    ),
    fmt: str = typer.Option("png", "--format", help="png, jpg or webp — the same for real and inpainted samples."),
    quality: int = typer.Option(95, "--quality", help="JPEG/WebP quality (all samples)."),
    seed: int = typer.Option(0, "--seed"),
    val_frac: float = typer.Option(0.1, "--val-frac", help="Share of source images in the val split."),
    test_frac: float = typer.Option(0.2, "--test-frac", help="Share of source images in the test split."),
    test_sources: str = typer.Option(
        "", "--test-sources", help="Comma-separated source-id patterns always put in test (held-out photos)."
    ),
    out: Path = typer.Option(..., "--out", help="Dataset folder (resumed when it exists with the same settings)."),
    jobs: Optional[int] = jobs_option("source images in parallel; the output does not depend on it"),
    engine: str = engine_option(),
    ray_address: Optional[str] = ray_address_option(),
) -> None:
    """Build an honest original-vs-inpainted dataset with index.jsonl (splits by source image)."""
    from ..data.dataset import read_index
    from ..forensics.dataset import DatasetSpec, make_dataset, parse_scale

    spec = DatasetSpec(
        scale=parse_scale(scale),
        inpainters=_csv(inpainters, "--inpainters"),
        masks=_csv(masks, "--masks"),
        per_image=per_image,
        crops_per_image=crops_per_image,
        size=size,
        max_crop=max_crop,
        format=fmt,
        quality=quality,
        seed=seed,
        val_frac=val_frac,
        test_frac=test_frac,
        test_sources=[p.strip() for p in test_sources.split(",") if p.strip()],
    )
    index = make_dataset(images, out, spec, engine=engine_options(engine, jobs, ray_address))
    recs = read_index(index)
    counts = {s: sum(r["split"] == s for r in recs) for s in ("train", "val", "test")}
    print(f"wrote {index}: {len(recs)} samples ({', '.join(f'{k} {v}' for k, v in counts.items())})")


@forensics_app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_cmd(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config (configs/forensics/*.yaml)."),
    set_: Optional[list[str]] = typer.Option(
        None,
        "--set",
        help="Override KEY=VALUE with a dotted key, e.g. --set train.steps=100 (repeatable; values are YAML).",
    ),
    resume: bool = typer.Option(
        True, "--resume/--no-resume", help="Continue the run in run.dir from its last checkpoint."
    ),
) -> None:
    """Train a detector on the shared training loop; the run folder gets checkpoints, TensorBoard logs and the
    exported detector."""
    from ..forensics.train import load_train_config, train_detector
    from ..train.config import cli_overrides

    cfg = load_train_config(config, cli_overrides(set_, ctx.args))  # `--set a=1 b=2` as for `inpaintkit train`
    run = train_detector(cfg, resume=resume)
    meta = json.loads((run / "detector.json").read_text())
    print(f"trained {run} (threshold {meta['threshold']:.3f}); use it with `inpaintkit detect --model {run} IMAGE`")


@forensics_app.command("fit-detector")
def fit_detector_cmd(
    data: Path = typer.Option(..., "--data", help="Dataset folder or index.jsonl with train and val splits."),
    out: Path = typer.Option(..., "--out", help="Folder for the fused detector (use it with detect --model OUT)."),
    cnn: Optional[Path] = typer.Option(
        None, "--cnn", help="A CNN detector run folder for the learned branch ('default': the bundled one's)."
    ),
    cnn_jpeg: Optional[Path] = typer.Option(
        None,
        "--cnn-jpeg",
        help="A CNN detector run folder the learned branch runs on JPEG inputs instead ('default': the bundled one's); "
        "the JPEG stack then also takes --cnn's logit on them (a second opinion).",
    ),
    exclude: str = typer.Option(
        "", "--exclude", help="Comma-separated inpainters left out of training and calibration."
    ),
    fpr_budget: Optional[float] = typer.Option(
        None,
        "--fpr-budget",
        help="Share of untouched validation images the detector may flag [default: 0.03, about 5 % on new photos].",
    ),
    val_limit: Optional[int] = typer.Option(
        None, "--val-limit", help="Calibrate on N validation samples (evenly spaced)."
    ),
    photos: Optional[Path] = typer.Option(
        None,
        "--photos",
        help="Untouched photos nobody trained on (the corpus's val split, whole): crops larger than the CNN's tile "
        "set how much the CNN branch discounts its highest tile on large images.",
    ),
    seed: int = typer.Option(0, "--seed"),
    threads: int = _threads_option(),
) -> None:
    """Train the noise branch, calibrate noise, duplication and CNN branches on val: a fused detector."""
    from ..forensics.detector import BUNDLED_DIR
    from ..forensics.fusion import FPR_BUDGET, JPEG_CNN_DIR, fit_detector

    _set_threads(threads)
    fpr_budget = FPR_BUDGET if fpr_budget is None else fpr_budget
    if not 0 < fpr_budget < 1:
        raise InpaintKitError(f"--fpr-budget {fpr_budget}: must be between 0 and 1")
    if photos is not None and not photos.is_dir():
        raise InpaintKitError(f"--photos {photos}: not a folder")
    cnn_dir = BUNDLED_DIR if cnn is not None and str(cnn) == "default" else cnn
    jpeg_dir = BUNDLED_DIR / JPEG_CNN_DIR if cnn_jpeg is not None and str(cnn_jpeg) == "default" else cnn_jpeg
    meta = fit_detector(
        data,
        out,
        cnn=cnn_dir,
        cnn_jpeg=jpeg_dir,
        exclude=[x.strip() for x in exclude.split(",") if x.strip()],
        fpr_budget=fpr_budget,
        seed=seed,
        val_limit=val_limit,
        threads=max(1, threads),
        photos=photos,
    )
    print(
        f"wrote {out}: branches {', '.join(meta['branches'])}"
        + (" (a CNN of its own for JPEG inputs)" if meta["cnn_jpeg"] else "")
        + f", trained on {', '.join(meta['trained_on'])}; "
        f"use it with `inpaintkit detect --model {out} IMAGE`"
    )


@forensics_app.command("ensemble")
def ensemble_cmd(
    members: list[Path] = typer.Option(..., "--member", help="A trained detector run folder; repeatable."),
    data: Path = typer.Option(..., "--data", help="Dataset folder or index.jsonl; the stacker is fitted on --split."),
    out: Path = typer.Option(..., "--out", help="Ensemble folder (members are copied into it)."),
    stackers: str = typer.Option(
        "logistic,random_forest,svc", "--stackers", help="Meta-classifiers to compare by grouped CV."
    ),
    split: str = typer.Option("val", "--split", help="Split the members never trained on."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only N samples of the split (evenly spaced)."),
    threads: int = _threads_option(),
) -> None:
    """Stack several detectors: pick and fit a scikit-learn meta-classifier on out-of-sample scores."""
    from ..forensics.ensemble import fit_ensemble
    from ..forensics.stacker import STACKERS

    _set_threads(threads)
    kinds = _csv(stackers, "--stackers")
    bad = [k for k in kinds if k not in STACKERS]
    if bad:
        raise InpaintKitError(f"--stackers: unknown {', '.join(bad)}; choose from: {', '.join(STACKERS)}")
    info = fit_ensemble(members, data, out, kinds=tuple(kinds), split=split, limit=limit)
    aucs = ", ".join(f"{k} {v:.4f}" for k, v in info["cv_auc"].items())
    print(f"wrote {out}: {info['chosen']} stacker (grouped-CV ROC-AUC: {aucs}), threshold {info['threshold']:.3f}")


@forensics_app.command("evaluate")
def evaluate_cmd(
    data: Path = typer.Option(..., "--data", help="Dataset folder or index.jsonl."),
    model: Optional[str] = typer.Option(None, "--model", help="Detector run/ensemble folder or 'default'."),
    split: str = typer.Option("test", "--split"),
    conditions: str = typer.Option(
        "clean,jpeg90,jpeg75,jpeg50,resize0.75,resize0.5",
        "--conditions",
        help="Robustness conditions (comma-separated).",
    ),
    loo: Optional[list[Path]] = typer.Option(
        None, "--loo", help="A run trained with one inpainter left out; repeatable."
    ),
    limit_per_source: Optional[int] = typer.Option(
        None, "--limit-per-source", help="Only the first N crops of each source image."
    ),
    out: Path = typer.Option(
        Path("forensics-report"), "--out", help="Report folder (report.md, report.html, metrics.json)."
    ),
    threshold: Optional[float] = typer.Option(None, "--threshold"),
    threads: int = _threads_option(),
) -> None:
    """Image and pixel metrics, per inpainter, under JPEG/resize, leave-one-out; writes a report."""
    from ..forensics import load_detector
    from ..forensics.evaluate import _fmt, evaluate, leave_one_out
    from ..forensics.report import write_report

    _set_threads(threads)
    det = load_detector(model, threshold=threshold)
    res = evaluate(
        det, data, split=split, conditions=_csv(conditions, "--conditions"), limit_per_source=limit_per_source
    )
    rows = leave_one_out(loo, data, split=split, limit_per_source=limit_per_source) if loo else None
    report = write_report(res, out, rows, title=f"Detector evaluation: {model or 'default'}")
    for c, m in res["conditions"].items():
        o = m["overall"]
        tqdm.write(
            f"{c:>10}: AUC {_fmt(o['roc_auc'])}  AP {_fmt(o['ap'])}  acc {_fmt(o['accuracy'])}  "
            f"FPR {_fmt(o['fpr'])}  pixel F1 {_fmt(o['pixel_f1'])}",
            file=sys.stdout,
        )
    for r in rows or []:
        print(f"left out {r['left_out']}: AUC unseen {_fmt(r['auc_unseen'])}, seen {_fmt(r['auc_seen'])}")
    print(f"wrote {report}")
