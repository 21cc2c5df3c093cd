"""Throughput of the bundled detector: images per second at 256² (and one tiled 1024x768 image) on this CPU.

.venv/bin/python benchmarks/forensics_speed.py [--threads N] [--n 50] [--model default|RUN_DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from inpaintkit.forensics import load_detector


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    det = load_detector(args.model)
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(args.n)]
    for im in imgs[:3]:
        det.detect(im)  # warm-up
    t0 = time.perf_counter()
    for im in imgs:
        det.detect(im)
    dt = time.perf_counter() - t0
    big = rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    t1 = time.perf_counter()
    det.detect(big)
    dt_big = time.perf_counter() - t1
    print(
        f"detect 256x256: {args.n / dt:.1f} img/s ({1000 * dt / args.n:.1f} ms/img, {torch.get_num_threads()} threads); "
        f"1024x768 (tiled): {dt_big:.2f} s"
    )


if __name__ == "__main__":
    main()
