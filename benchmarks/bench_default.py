"""Speed targets of the bundled ``default`` model, measured on this machine and printed as a PASS/FAIL table.

    .venv/bin/python benchmarks/bench_default.py [--repeats 7] [--photo PATH] [--threads 2]

1. ``default`` (runtime auto = onnxruntime when installed; without its grid removal and grain; ``blend=0.5``
   forced on the work_side path; torch; full resolution: ``work_side=None``)
   beside ``telea`` in the same run, 512x512 real
   photo, ~25% hole, calls interleaved so load changes hit all alike (targets: <= 250 ms and <= 5x Telea, median of
   warm calls).
2. A 4096x2160 photo with three small holes, ``hd_strategy="crop"``, ``default``, in a fresh subprocess (targets:
   <= 3 s warm, <= 1.5 GB peak RSS of that process, ``getrusage(RUSAGE_CHILDREN)``).

Times are whole ``Inpainter.inpaint`` calls (validation, padding, model, paste-back), uint8 in and out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_foundation import (
    DEFAULT_PHOTO,
    load_photo,
    print_table,
    rows_4k,
    run_child,  # noqa: E402
    three_small_holes,
    timed,
)


def child_4k(photo: str | None, repeats: int, threads: int) -> None:
    """Run in a fresh process: fill the 4K image, print JSON timings (the parent reads this process's peak RSS)."""
    import torch

    from inpaintkit import create_inpainter

    torch.set_num_threads(threads)
    img = load_photo(Path(photo) if photo else None, (4096, 2160), square_crop=False)
    mask = three_small_holes(2160, 4096)
    model = create_inpainter("default", device="cpu")
    first = timed(lambda: model.inpaint(img, mask, hd_strategy="crop"), 1)[0]
    warm = timed(lambda: model.inpaint(img, mask, hd_strategy="crop"), repeats)
    print(json.dumps({"first": first, "warm": warm, "hole_px": int(mask.sum())}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch/onnxruntime threads")
    ap.add_argument("--child-4k", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_4k:
        child_4k(str(args.photo), args.repeats, args.threads)
        return

    import torch

    from inpaintkit import create_inpainter
    from inpaintkit.masks import create_mask_generator

    torch.set_num_threads(args.threads)
    rows: list[tuple[str, str, str, bool]] = []  # (what, measured, target, ok)

    img = load_photo(args.photo, (512, 512), square_crop=True)
    mask = create_mask_generator("irregular", ratio=(0.2, 0.3))(np.random.default_rng(0), (512, 512))
    models = {
        "default (runtime auto)": create_inpainter("default", device="cpu"),
        "default, degrid=off grain=0 (no finishing)": create_inpainter("default", device="cpu", degrid="off", grain=0),
        "default, blend=0.5 (forced at 512²)": create_inpainter("default", device="cpu", blend=0.5),
        "default (torch)": create_inpainter("default", runtime="torch"),
        "default, work_side=none": create_inpainter("default", work_side=None),
        "telea": create_inpainter("telea"),
    }
    times: dict[str, list[float]] = {k: [] for k in models}
    for m in models.values():
        m.inpaint(img, mask)  # warm-up
    for _ in range(args.repeats):
        for k, m in models.items():
            times[k] += timed(lambda: m.inpaint(img, mask), 1)
    telea = statistics.median(times["telea"])
    for k, ts in times.items():
        med = statistics.median(ts)
        target = "<= 250 ms, <= 5x telea" if k.startswith("default") else "-"
        rows.append(
            (
                f"{k} 512x512, hole {mask.mean():.0%}",
                f"min {min(ts) * 1000:.0f} ms, median {med * 1000:.0f} ms, {med / telea:.1f}x telea",
                target,
                target == "-" or (med <= 0.25 and med <= 5 * telea),
            )
        )

    res, rss_gb = run_child(
        __file__,
        [
            "--child-4k",
            "--repeats",
            str(max(3, args.repeats // 2)),
            "--photo",
            str(args.photo),
            "--threads",
            str(args.threads),
        ],
    )
    rows += rows_4k("default", res, rss_gb)

    print_table(
        rows,
        f"photo: {args.photo if args.photo.exists() else 'skimage.data.astronaut'}; "
        f"repeats: {args.repeats}; threads: {args.threads}",
    )


if __name__ == "__main__":
    main()
