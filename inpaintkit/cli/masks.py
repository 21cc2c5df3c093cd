"""``inpaintkit masks``: write seeded mask sets (PNG, 255 = hole) plus a ``masks.jsonl`` manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from tqdm import tqdm

from ..errors import InpaintKitError
from ..io import atomic_write_bytes, write_mask
from ..masks import (
    MASKS,
    PROTOCOLS,
    create_mask_generator,
    generate_protocol,
    mask_ratio,
    mask_seed,
    parse_ratio,
    protocol_buckets,
)
from ..masks.protocols import PROTOCOL_DESCRIPTIONS
from . import app
from .run import parse_options

MANIFEST = "masks.jsonl"


def parse_size(text: str) -> tuple[int, int]:
    """``"256"`` -> (256, 256); ``"WxH"`` -> (H, W)."""
    t = str(text).strip().lower()
    try:
        if "x" in t:
            w_s, h_s = t.split("x")
            w, h = int(w_s), int(h_s)
        else:
            w = h = int(t)
    except ValueError:
        raise InpaintKitError(f"--size {text!r}: expected S (square) or WxH, e.g. 256 or 512x384") from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise InpaintKitError(f"--size {text!r}: width and height must be between 1 and 16384")
    return h, w


def _write_set(output: Path, rows: list[tuple[str, Any, dict[str, Any]]]) -> None:
    """Write each mask PNG, then the manifest (atomically, last: its presence means the set is complete)."""
    lines = []
    for rel, mask, meta in rows:
        write_mask(output / rel, mask)
        lines.append(json.dumps({"file": rel, **meta}, sort_keys=True))
    atomic_write_bytes(output / MANIFEST, ("\n".join(lines) + "\n").encode())


@app.command("masks")
def masks_cmd(
    output: Path = typer.Option(..., "--output", "-o", help="Folder to write the masks and masks.jsonl into."),
    kind: Optional[str] = typer.Option(None, "--kind", help=f"Mask kind: {', '.join(MASKS.names())}."),
    protocol: Optional[str] = typer.Option(
        None, "--protocol", help=f"Evaluation protocol (one sub-folder per bucket): {', '.join(PROTOCOLS)}."
    ),
    count: Optional[int] = typer.Option(None, "--count", "-n", help="Number of masks for --kind (default 100)."),
    per_bucket: Optional[int] = typer.Option(
        None, "--per-bucket", help="Masks per bucket for --protocol (default 100)."
    ),
    size: str = typer.Option("256", "--size", help="Mask size: S (square) or WxH."),
    ratio: Optional[str] = typer.Option(
        None, "--ratio", help="Keep only masks whose hole ratio is in [LO, HI), e.g. 0.1-0.2 (--kind only)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives identical files."),
    opt: Optional[list[str]] = typer.Option(
        None, "--opt", help="Mask-kind option KEY=VALUE (repeatable), e.g. --opt root=masks/ --opt rotate=30."
    ),
) -> int:
    """Generate a seeded set of masks (PNG, 255 = hole) with a masks.jsonl manifest."""
    if (kind is None) == (protocol is None):
        raise InpaintKitError(f"give exactly one of --kind KIND or --protocol {'|'.join(PROTOCOLS)}")
    shape = parse_size(size)
    if output.exists() and not output.is_dir():
        raise InpaintKitError(f"{output}: is a file; --output must be a folder")

    rows: list[tuple[str, Any, dict[str, Any]]] = []
    if protocol is not None:
        for flag, value in (("--count", count), ("--ratio", ratio), ("--opt", opt)):
            if value:
                raise InpaintKitError(
                    f"{flag} applies to --kind only; --protocol {protocol} fixes its buckets "
                    "(use --per-bucket for the count)"
                )
        n = 100 if per_bucket is None else per_bucket
        if n < 1:
            raise InpaintKitError(f"--per-bucket {n}: must be at least 1")
        buckets = protocol_buckets(protocol)
        with tqdm(
            total=n * len(buckets),
            desc=f"masks ({protocol})",
            unit="mask",
            file=sys.stderr,
            disable=n * len(buckets) < 50,
        ) as bar:
            sets = generate_protocol(protocol, size=shape, per_bucket=n, seed=seed, progress=bar.update)
        for bucket, items in sets.items():
            for mask, meta in items:
                rows.append((f"{bucket}/{meta['index']:05d}.png", mask, meta))
        what = f"{len(sets)} buckets x {n} masks of protocol {protocol} ({PROTOCOL_DESCRIPTIONS[protocol]})"
    else:
        if per_bucket is not None:
            raise InpaintKitError("--per-bucket applies to --protocol only; use --count with --kind")
        n = 100 if count is None else count
        if n < 1:
            raise InpaintKitError(f"--count {n}: must be at least 1")
        MASKS.get(kind)  # unknown kind: one line listing the valid ones
        bucket_range = parse_ratio(ratio)
        gen = create_mask_generator(kind, ratio=bucket_range, **parse_options(opt))
        params = gen.params()
        bucket = f"{bucket_range[0]:g}-{bucket_range[1]:g}" if bucket_range else None
        for i in tqdm(range(n), desc=f"masks ({kind})", unit="mask", file=sys.stderr, disable=n < 50):
            s = mask_seed(seed, 0, i)
            m = gen(s, shape)
            rows.append(
                (
                    f"{i:05d}.png",
                    m,
                    {
                        "kind": kind,
                        "params": params,
                        "seed": s,
                        "ratio": round(mask_ratio(m), 6),
                        "bucket": bucket,
                        "index": i,
                    },
                )
            )
        what = f"{n} {kind} masks" + (
            f" with hole ratio in [{bucket_range[0]:g}, {bucket_range[1]:g})" if bucket_range else ""
        )
    _write_set(output, rows)
    print(f"wrote {what}, {shape[1]}x{shape[0]}, seed {seed}, to {output} (manifest {output / MANIFEST})")
    return 0
