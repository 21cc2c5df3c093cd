"""Measure each inpainter's working memory per pixel of a model call: the figures behind ``bytes_per_pixel``.

    .venv/bin/python benchmarks/memory_model.py                    # default telea ns biharmonic patchmatch
    .venv/bin/python benchmarks/memory_model.py --models default --sides 1024 1536

For each model and side S, a fresh subprocess builds the model, runs one warm-up fill on a 64x64 image, then
fills an SxS image whose mask is a centred square of half the area (hd_strategy original, no memory budget) and
reports the peak RSS growth over the warm-up (``ru_maxrss``). The slope between the two sides, in bytes per pixel
of the call, is what ``Inpainter.bytes_per_pixel`` holds (rounded up).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import resource, sys, json
import numpy as np
from inpaintkit.inpainters import create_inpainter
name, side = sys.argv[1], int(sys.argv[2])
inp = create_inpainter(name)
rng = np.random.default_rng(0)
small = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8); sm = np.zeros((64, 64), bool); sm[16:48, 16:48] = True
inp.inpaint(small, sm, hd_strategy="original", memory_budget=None)
img = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
mask = np.zeros((side, side), bool); q = int(side * (1 - 0.5 ** 0.5) / 2); mask[q:side - q, q:side - q] = True
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
inp.inpaint(img, mask, hd_strategy="original", memory_budget=None)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"model": name, "side": side, "grow": peak - base}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["default", "telea", "ns", "biharmonic", "patchmatch"])
    ap.add_argument("--sides", nargs=2, type=int, default=[512, 1024])
    a = ap.parse_args()
    for name in a.models:
        rows = [
            json.loads(
                subprocess.run([sys.executable, "-c", _CHILD, name, str(s)], check=True, capture_output=True, text=True)
                .stdout.strip()
                .splitlines()[-1]
            )
            for s in a.sides
        ]
        (s0, g0), (s1, g1) = [(r["side"], r["grow"]) for r in rows]
        slope = (g1 - g0) / (s1 * s1 - s0 * s0)
        print(
            f"{name:12s} peak growth {g0 / 2**20:7.1f} MiB at {s0}^2, {g1 / 2**20:7.1f} MiB at {s1}^2 "
            f"-> {slope:6.1f} bytes/pixel",
            flush=True,
        )


if __name__ == "__main__":
    main()
