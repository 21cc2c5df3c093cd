"""Latency of the bundled ``default`` model at 512x512 under thread policies, idle and beside a busy process.

For each policy (torch with 1 / 2 intra-op threads; onnxruntime with 1 / 2 intra-op threads, spinning on / off),
``create_inpainter("default", ...).inpaint()`` on a 512x512 photo crop with a 96x160 box hole is timed ``--reps``
times (after one warm-up) with nothing else started by this script ("idle"), then again while a child process
spins one core (``python -c "while True: pass"``, "1 busy core"). Medians, and the ratio of every median to
torch-1-thread's idle median, are printed as one Markdown table: one run, so the ratios are comparable even on a
machine that others share. Telea's median in the same run is printed for the "<= 5x Telea" target.

    .venv/bin/python benchmarks/threads_default.py [--reps 9]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import skimage.data

from inpaintkit import create_inpainter
from inpaintkit.export import OnnxGraph
from inpaintkit.models.default import ONNX_FILE


def _image() -> tuple[np.ndarray, np.ndarray]:
    img = cv2.resize(skimage.data.chelsea(), (681, 512), interpolation=cv2.INTER_AREA)[:, 84:596].copy()
    mask = np.zeros((512, 512), bool)
    mask[200:296, 180:340] = True
    return img, mask


def _median(fn, reps: int) -> float:
    fn()  # warm-up (first call allocates / compiles)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


POLICIES = {  # name -> create_inpainter options
    "torch, 1 thread": {"runtime": "torch", "threads": 1},
    "torch, 2 threads": {"runtime": "torch", "threads": 2},
    "onnx, 1 thread": {"runtime": "onnx", "threads": 1},
    "onnx, 2 threads, spinning": {"runtime": "onnx", "threads": 2, "spin": True},
    "onnx, 2 threads, no spinning": {"runtime": "onnx", "threads": 2, "spin": False},
    "onnx, 2 threads, no spinning, blend=0.5": {"runtime": "onnx", "threads": 2, "spin": False, "blend": 0.5},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--policies", default=";".join(POLICIES), help="semicolon-separated subset of the policy names")
    args = ap.parse_args()
    img, mask = _image()
    names = [p.strip() for p in args.policies.split(";")]
    models = {}
    for n in names:
        opts = dict(POLICIES[n])
        spin = opts.pop("spin", None)
        models[n] = create_inpainter("default", **opts)
        if spin is not None:  # the session's wait policy is not an option of the inpainter: swap the session
            models[n].onnx = OnnxGraph(ONNX_FILE, threads=opts["threads"], spin=spin)
    telea = create_inpainter("telea")
    rows: dict[str, list[float]] = {n: [] for n in [*names, "telea"]}
    for phase in ("idle", "busy"):
        hog = None
        if phase == "busy":
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)
        try:
            for n, m in models.items():
                rows[n].append(_median(lambda: m.inpaint(img, mask), args.reps))
            rows["telea"].append(_median(lambda: telea.inpaint(img, mask), args.reps))
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    ref = rows[names[0]][0]
    print(
        f"cores: {len(os.sched_getaffinity(0))}, reps: {args.reps}, load average at the end: {os.getloadavg()[0]:.2f}\n"
    )
    print(f"| policy | idle (ms) | 1 busy core (ms) | idle / {names[0]} idle | busy / {names[0]} idle |")
    print("|---|---:|---:|---:|---:|")
    for n, (idle, busy) in rows.items():
        print(f"| {n} | {idle * 1e3:.0f} | {busy * 1e3:.0f} | {idle / ref:.2f} | {busy / ref:.2f} |")


if __name__ == "__main__":
    main()
