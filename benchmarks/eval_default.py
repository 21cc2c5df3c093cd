"""The default model's quality targets on the photo corpus's test split: seven mask sets, 256x256, beside the
classical fills, with lpips_hed and kid_hed (issue: default model v2).

Images: every photo of the corpus's ``test`` split (``inpaintkit data fetch-photos --out PHOTOS``; ``--split val``:
the val split's, for choosing between candidates), resized so its short side is 256 (area interpolation) and
centre-cropped to 256x256: one image per photo (22 today).
Masks: ``generate_protocol("pconv", size=256, seed=0)`` (six hole-ratio buckets 0.01-0.1 ... 0.5-0.6) and
``generate_protocol("box-half", size=256, seed=0)``; mask i of each bucket is paired with photo i (by file stem).

    .venv/bin/python benchmarks/eval_default.py --photos PHOTOS --out out/eval_default \\
        --models telea ns biharmonic patchmatch default [lama:runs/default_v2 ...]

With ``--realism`` (on unless ``--no-realism``) the report has a ``detectability`` column (issue: detector) and
the targets include "lower than Telea's". Re-running with more models computes only their rows (``inpaintkit evaluate`` resumes). Prints the report's tables
and a PASS/FAIL list of the targets for the model named by ``--candidate`` (default: the last one).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import cv2

from inpaintkit.data.photos import corpus_paths
from inpaintkit.evaluate import EvalConfig, evaluate
from inpaintkit.io import read_image, write_image, write_mask
from inpaintkit.masks import generate_protocol

CLASSICAL = ("telea", "ns", "biharmonic", "patchmatch")


def make_inputs(photos: Path, root: Path, size: int = 256, split: str = "test") -> tuple[Path, Path]:
    images, masks = root / "images", root / "masks"
    stems = []
    for p in corpus_paths(photos, split):
        stems.append(p.stem)
        dst = images / f"{p.stem}.png"
        if dst.is_file():
            continue
        rgb = read_image(p).rgb
        h, w = rgb.shape[:2]
        s = size / min(h, w)
        rgb = cv2.resize(rgb, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
        t, l = (h - size) // 2, (w - size) // 2
        write_image(dst, rgb[t : t + size, l : l + size])
    for protocol in ("pconv", "box-half"):
        for bucket, items in generate_protocol(protocol, size=size, per_bucket=len(stems), seed=0).items():
            for stem, (mask, _meta) in zip(stems, items):
                p = masks / bucket / f"{stem}.png"
                if not p.is_file():
                    write_mask(p, mask)
    return images, masks


def check_targets(summary: dict, candidate: str) -> list[tuple[str, bool, str]]:
    """The issue's quality targets for ``candidate``, per mask set: (target, passed, figures)."""
    m = summary["metrics"]
    buckets = [b["name"] for b in summary["buckets"]]
    out = []

    def mean(metric, bucket, model):
        return m[metric][bucket][model]["mean"]

    for metric, higher, rivals in (
        ("psnr", True, ("telea", "ns", "biharmonic")),
        ("ssim", True, ("telea", "ns", "biharmonic")),
        ("lpips_hed", False, CLASSICAL),
    ):
        if metric not in m:
            continue
        rivals = [r for r in rivals if r in summary["models"]]
        fails = [
            f"{b}: {r}"
            for b in buckets
            for r in rivals
            if (mean(metric, b, candidate) < mean(metric, b, r)) == higher
            and mean(metric, b, candidate) != mean(metric, b, r)
        ]
        out.append(
            (
                f"{metric} better than {', '.join(rivals)} in every mask set",
                not fails,
                "lost in " + "; ".join(fails) if fails else "won all",
            )
        )
    if "detectability" in m and "telea" in summary["models"]:
        d, t = mean("detectability", "all", candidate), mean("detectability", "all", "telea")
        out.append(("detectability lower than Telea's", d < t, f"{d:.3f} vs Telea {t:.3f}"))
    if "telea" in summary["models"]:
        gap = mean("hole_psnr", "all", candidate) - mean("hole_psnr", "all", "telea")
        out.append(("mean hole PSNR >= Telea + 1.0 dB", gap >= 1.0, f"Telea {gap:+.2f} dB"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, default=Path("photos"))
    ap.add_argument("--out", type=Path, default=Path("out/eval_default"))
    ap.add_argument("--models", nargs="+", default=[*CLASSICAL, "default"])
    ap.add_argument("--candidate", default=None, help="model whose targets are checked (default: the last)")
    ap.add_argument("--split", default="test", choices=("test", "val"), help="val: for choosing between candidates")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-realism", dest="realism", action="store_false", help="skip the detectability column (faster)")
    args = ap.parse_args()
    images, masks = make_inputs(args.photos, args.out / "inputs", split=args.split)
    t0 = time.perf_counter()
    summary = evaluate(
        EvalConfig(
            tuple(args.models), images, masks, args.out / "report", jobs=args.jobs, samples=4, realism=args.realism
        )
    )
    md = (args.out / "report" / "report.md").read_text()
    print("\n".join(re.findall(r"(## [^\n]+\n\n(?:[^\n]*\n\n)?(?:\|[^\n]*\n)+)", md)))
    cand = args.candidate or args.models[-1]
    results = check_targets(summary, cand)
    for target, ok, figures in results:
        print(f"{'PASS' if ok else 'FAIL'}  {cand}: {target} ({figures})")
    (args.out / "targets.json").write_text(
        json.dumps([{"target": t, "pass": ok, "figures": f} for t, ok, f in results], indent=1)
    )
    print(
        f"{summary['rows']} rows, {len(summary['images'])} images, {len(summary['buckets'])} mask sets; "
        f"{time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
