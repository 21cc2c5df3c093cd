"""``inpaintkit list`` and ``inpaintkit run``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from tqdm import tqdm

from ..engine import Failure, map_items
from ..errors import InpaintKitError
from ..inpainters import (
    HD_STRATEGIES,
    INPAINTERS,
    create_inpainter,
    default_inpainter_name,
    get_inpainter_entry,
    list_inpainters,
    parse_model_spec,
    parse_option_pairs,
)
from ..inpainters.base import HDStrategy, normalize_hd_strategy
from ..inpainters.batch import FillWork
from ..io import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, format_for, list_images
from . import app
from .options import engine_option, engine_options, jobs_option, ray_address_option


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["radius=5", "seed=1"]`` -> ``{"radius": 5, "seed": 1}`` (values parsed as YAML scalars)."""
    return parse_option_pairs(pairs, flag="--opt")


@app.command("list")
def list_cmd() -> None:
    """Every registered inpainter, with a one-line description and whether it needs weights."""
    from rich.console import Console  # only this command draws a table: not every command's start-up
    from rich.table import Table

    list_inpainters()  # loads plug-in registrations
    table = Table("name", "kind", "weights", "description", box=None, pad_edge=False)
    default = default_inpainter_name()
    for e in INPAINTERS.entries():
        weights = ("bundled" if e.bundled else "needs --checkpoint") if e.needs_weights else "none"
        table.add_row(e.name + (" *" if e.name == default else ""), e.kind, weights, e.description)
    Console(width=160).print(table)
    print(f"* default for `inpaintkit run` without --model: {default}")


def output_names(images: list[Path], ext: str) -> list[str]:
    """``<stem>.<ext>`` per input; inputs that share a stem (``x.png``, ``x.jpg``) get ``<stem>_<their ext>.<ext>``
    so that no output overwrites another."""
    ext = ext.lstrip(".")
    stems: dict[str, int] = {}
    for p in images:
        stems[p.stem.lower()] = stems.get(p.stem.lower(), 0) + 1
    return [
        f"{p.stem}_{p.suffix.lstrip('.').lower()}.{ext}" if stems[p.stem.lower()] > 1 else f"{p.stem}.{ext}"
        for p in images
    ]


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


@app.command("run")
def run_cmd(
    image: str = typer.Option(..., "--image", "-i", help="Image file, or a folder of images."),
    mask: str = typer.Option(..., "--mask", "-m", help="Mask file (255 = hole), or a folder matched by file stem."),
    output: str = typer.Option(..., "--output", "-o", help="Output file, or folder for a batch."),
    model: Optional[str] = typer.Option(
        None,
        "--model",
        help="Inpainter name or NAME:CHECKPOINT[?KEY=VALUE&...] (see `inpaintkit list`); default: the best available.",
    ),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Run folder or weights for a learned model."),
    hd_strategy: Optional[str] = typer.Option(
        None, "--hd-strategy", help=f"Large-image strategy: {'|'.join(HD_STRATEGIES)} (default {HDStrategy.strategy})."
    ),
    resize_mask: bool = typer.Option(
        False, "--resize-mask", help="Resize a mask of another size to its image (nearest-neighbour)."
    ),
    max_pixels: int = typer.Option(
        DEFAULT_MAX_PIXELS, "--max-pixels", min=1, help="Refuse images above this many pixels."
    ),
    memory_budget_gb: Optional[float] = typer.Option(
        1.5, "--memory-budget-gb", help="Memory one fill may use; larger model calls run downscaled. 0: no limit."
    ),
    opt: Optional[list[str]] = typer.Option(
        None, "--opt", help="Model option KEY=VALUE (repeatable), e.g. --opt radius=5."
    ),
    ext: str = typer.Option("png", "--ext", help="Output format for a batch folder (png, jpg, webp, ...)."),
    quality: int = typer.Option(95, "--quality", min=1, max=100, help="JPEG/WebP quality."),
    caption: Optional[str] = typer.Option(
        None, "--caption", help="What belongs in the hole, for text-guided models (e.g. tdanet)."
    ),
    samples: int = typer.Option(
        1,
        "--samples",
        min=1,
        help="Diverse completions per image (models with a seed option): writes <stem>_sample<i>.<ext>.",
    ),
    runtime: Optional[str] = typer.Option(
        None,
        "--runtime",
        help="Learned models: torch or onnx (onnxruntime; the bundled export for `default`, else exported once and cached). Default: torch; for `default`, onnx when onnxruntime is installed.",
    ),
    skip_existing: bool = typer.Option(
        False, "--skip-existing", help="Leave outputs that exist alone (resume an interrupted batch)."
    ),
    n_jobs: Optional[int] = jobs_option(),
    engine: str = engine_option(),
    ray_address: Optional[str] = ray_address_option(),
    threads: Optional[int] = typer.Option(
        None,
        "--threads",
        help="CPU threads of one fill (learned models and patchmatch); default: $INPAINTKIT_THREADS, else the model's own (see docs/default-model.md).",
    ),
) -> int:
    """Fill the holes of one image or a folder of images.

    Exit code: 0 every output written; 1 some inputs failed (each reported) and the others were written; 2 nothing
    was written (a bad flag, or every input failed).
    """
    for flag, value in (("--image", image), ("--mask", mask), ("--output", output)):
        if not value.strip():  # Path("") is the current folder: an empty flag must not mean "everything here"
            raise InpaintKitError(f"{flag} is empty; give a file or folder path")
    image, mask, output = Path(image), Path(mask), Path(output)
    eng = engine_options(engine, n_jobs, ray_address)
    if memory_budget_gb is None or memory_budget_gb < 0:
        raise InpaintKitError("--memory-budget-gb must be >= 0 (0: no limit)")
    budget = int(memory_budget_gb * 1e9) or None
    if hd_strategy is not None:
        hd_strategy = normalize_hd_strategy(hd_strategy, "--hd-strategy")
    try:  # an unknown --ext is one error now, not one per file
        format_for(f"out.{ext.lstrip('.')}")
    except InpaintKitError:
        raise InpaintKitError(f"--ext {ext!r}: not a format inpaintkit can write; use png, jpg or webp") from None
    name, options = parse_model_spec(model) if model else (default_inpainter_name(), {})
    options.update(parse_options(opt))
    if checkpoint is not None:
        options["checkpoint"] = str(checkpoint)
    if hd_strategy is not None:
        options["hd_strategy"] = hd_strategy
    if runtime is not None:
        if "runtime" not in get_inpainter_entry(name).options():
            raise InpaintKitError(
                f"--runtime {runtime}: model {name!r} is not a network; only learned models have runtimes"
            )
        options["runtime"] = runtime
    if threads is not None:
        if "threads" not in get_inpainter_entry(name).options():
            raise InpaintKitError(f"--threads {threads}: model {name!r} runs on one thread; drop --threads")
        options["threads"] = threads

    if not image.exists():
        raise InpaintKitError(f"{image}: no such file or folder")
    if not mask.exists():
        raise InpaintKitError(f"{mask}: no such file or folder")

    # Plan (image, mask, output) triples first: refuse anything that would overwrite an input.
    if image.is_dir():
        images = list_images(image)
        if not images:
            raise InpaintKitError(f"{image}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        if output.exists() and not output.is_dir():
            raise InpaintKitError(f"{output}: is a file; a batch needs an output folder")
        if _same(output, image) or (mask.is_dir() and _same(output, mask)):
            raise InpaintKitError(
                f"{output}: output folder is an input folder; choose another (inputs are never overwritten)"
            )
        jobs = [(p, mask, output / name) for p, name in zip(images, output_names(images, ext))]
    else:
        out = output / f"{image.stem}.png" if output.is_dir() else output
        jobs = [(image, mask, out)]
    for img_p, _, out_p in jobs:
        if _same(out_p, img_p) or (mask.is_file() and _same(out_p, mask)):
            raise InpaintKitError(f"{out_p}: output would overwrite an input; choose another path")

    # --opt keys the model takes per call (e.g. glcic's poisson_blend) go to inpaint(), the rest to the constructor
    per_call = set(get_inpainter_entry(name).obj.call_options)
    call: dict[str, Any] = {k: options.pop(k) for k in list(options) if k in per_call}
    inpainter = create_inpainter(name, **options)
    if caption is not None:
        if "caption" not in inpainter.call_options:
            raise InpaintKitError(
                f"--caption: model {name!r} does not take a caption; use a text-guided model such as tdanet"
            )
        call["caption"] = caption
    if samples > 1:
        if "seed" not in inpainter.call_options:
            raise InpaintKitError(f"--samples {samples}: model {name!r} gives one completion per input; drop --samples")
        jobs = [(i, m, o.with_name(f"{o.stem}_sample{k}{o.suffix}"), k) for i, m, o in jobs for k in range(samples)]
    else:
        jobs = [(i, m, o, None) for i, m, o in jobs]
    work = FillWork(
        name,
        options,
        call,
        max_pixels,
        resize_mask,
        quality,
        skip_existing,
        budget,
        prebuilt=None if eng.parallel else inpainter,
    )
    failures = skipped = 0
    for _, res in map_items(eng, work, jobs, total=len(jobs), desc=f"inpaint ({name})", progress=len(jobs) > 1):
        if isinstance(res, Failure):
            failures += 1
            tqdm.write(f"error: {res.message}", file=sys.stderr)
        elif res.hole_pixels < 0:
            skipped += 1
        elif len(jobs) == 1:
            print(f"wrote {res.output} ({name}, {res.hole_pixels} hole pixels, {res.seconds:.2f} s)")
    if len(jobs) > 1:
        print(
            f"{len(jobs) - failures - skipped} of {len(jobs)} images written to {output} ({name})"
            + (f"; {skipped} skipped (exist)" if skipped else "")
            + (f"; {failures} failed" if failures else "")
        )
    return 0 if not failures else (2 if failures == len(jobs) else 1)
