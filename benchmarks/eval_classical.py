"""The README's evaluation report: classical inpainters on the held-out photos, pconv + box-half masks.

Images: the project's held-out validation photos — wallpapers ColdRipple, BytheWater, Kite (the 1920x1080
versions) and scikit-image's coffee and chelsea. Each is resized so its short side is 512 (area interpolation),
and its central 512x512 square is cut into four 256x256 crops: 5 photos x 4 = 20 images.

Masks: ``generate_protocol("pconv", size=256, per_bucket=20, seed=0)`` (six hole-ratio buckets 0.01-0.1 ...
0.5-0.6) and ``generate_protocol("box-half", size=256, per_bucket=20, seed=0)``. In every bucket, mask i is
paired with crop i (files named after the crops, so ``inpaintkit evaluate`` pairs them by stem): 7 buckets x 20
pairs = 140 (image, mask) pairs per model.

Run (about 5-10 minutes on 2 busy cores):

    .venv/bin/python benchmarks/eval_classical.py --out out/eval_classical [--jobs 2]

It writes the inputs under OUT/inputs, the report under OUT/report (re-running resumes), and prints the
Markdown tables of the report.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from inpaintkit.evaluate import EvalConfig, evaluate
from inpaintkit.io import read_image, write_image, write_mask
from inpaintkit.masks import generate_protocol

WALLPAPERS = Path("/work/photos/extracted/usr/share/wallpapers")
PHOTOS = ("ColdRipple", "BytheWater", "Kite")
MODELS = ("telea", "ns", "biharmonic", "patchmatch")


def held_out_photos() -> dict[str, np.ndarray]:
    photos = {name: read_image(WALLPAPERS / name / "contents" / "images" / "1920x1080.jpg").rgb for name in PHOTOS}
    photos["coffee"] = data.coffee()
    photos["chelsea"] = data.chelsea()
    return photos


def crops(rgb: np.ndarray, short: int = 512, size: int = 256) -> list[np.ndarray]:
    """Resize to short side ``short``; the central ``short`` square cut into (short/size)^2 tiles, row-major."""
    h, w = rgb.shape[:2]
    s = short / min(h, w)
    rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    t, l = (h - short) // 2, (w - short) // 2
    return [
        rgb[t + y : t + y + size, l + x : l + x + size] for y in range(0, short, size) for x in range(0, short, size)
    ]


def make_inputs(root: Path, per_bucket: int) -> tuple[Path, Path]:
    images, masks = root / "images", root / "masks"
    stems = []
    for name, rgb in held_out_photos().items():
        for i, tile in enumerate(crops(rgb)):
            stem = f"{name}_{i}"
            stems.append(stem)
            if not (images / f"{stem}.png").is_file():
                write_image(images / f"{stem}.png", tile)
    n = len(stems)
    if per_bucket < n:
        raise SystemExit(f"--per-bucket must be at least the number of crops ({n})")
    for protocol in ("pconv", "box-half"):
        for bucket, items in generate_protocol(protocol, size=256, per_bucket=n, seed=0).items():
            for stem, (mask, _meta) in zip(stems, items):
                p = masks / bucket / f"{stem}.png"
                if not p.is_file():
                    write_mask(p, mask)
    return images, masks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/eval_classical"))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    args = ap.parse_args()
    images, masks = make_inputs(args.out / "inputs", per_bucket=20)
    t0 = time.perf_counter()
    cfg = EvalConfig(tuple(args.models), images, masks, args.out / "report", jobs=args.jobs, samples=4)
    summary = evaluate(cfg)
    took = time.perf_counter() - t0
    md = (args.out / "report" / "report.md").read_text()
    tables = re.findall(r"(## [^\n]+\n\n(?:\|[^\n]*\n)+)", md)
    print("\n".join(tables))
    print(
        f"{summary['rows']} rows, {len(summary['images'])} images, {len(summary['buckets'])} buckets; "
        f"{took:.0f} s wall with --jobs {args.jobs}; report: {args.out / 'report' / 'report.md'}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
