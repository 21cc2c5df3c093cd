"""Throughput of the bundled detector on this CPU.

In process (the model loaded once): images per second at 256² and one tiled 1024x768 image.
``--cli FOLDER``: ``inpaintkit detect FOLDER/* --json --threads N`` end to end, start-up included, in a fresh process,
run ``--repeat`` times; images per second from wall time and from CPU time (user + system of the process and its
children — the fair figure on a shared machine, where wall time also counts waiting for the CPU); ``--startup``
also times the command on the folder's first image alone, so start-up cost ~ that minus one image's share. The
command runs ``python -m inpaintkit`` in the current folder: run it from the root of the checkout to be timed.
The 50 crops: 50 random 256² crops of ``/work/corpus/test/*.png`` (any photos will do), e.g. into /tmp/detspeed_imgs.

.venv/bin/python benchmarks/forensics_speed.py [--threads N] [--n 50] [--model default|RUN_DIR]
.venv/bin/python benchmarks/forensics_speed.py --cli /tmp/detspeed_imgs --threads 1 [--repeat 3] [--startup]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_cli(args: list[str], threads: int) -> tuple[float, float, int]:
    """(wall s, CPU s, output lines) of one ``inpaintkit detect ARGS --json`` in a fresh interpreter."""
    cmd = [sys.executable, "-m", "inpaintkit", "detect", *args, "--json", "--threads", str(threads)]
    c0, t0 = _children_cpu(), time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
    return wall, cpu, len(res.stdout.splitlines())


def bench_cli(folder: Path, threads: int, repeat: int, startup: bool, model: str | None) -> None:
    from inpaintkit.io import list_images

    files = list_images(folder)
    if not files:
        sys.exit(f"{folder}: no images")
    extra = ["--model", model] if model else []
    # the files, not the folder, so that checkouts from before `detect FOLDER` can be timed the same way
    runs = [run_cli([*map(str, files), *extra], threads) for _ in range(repeat)]
    n = runs[0][2]
    wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)  # the least disturbed run
    print(
        f"inpaintkit detect {folder} ({n} images, {threads} thread(s), start-up included, best of {repeat}): "
        f"{n / wall:.1f} img/s wall ({wall:.2f} s), {n / cpu:.1f} img/s CPU time ({cpu:.2f} s)"
    )
    if startup:
        one = [run_cli([str(files[0]), *extra], threads) for _ in range(repeat)]
        cpu1 = min(r[1] for r in one)
        per_image = (cpu - cpu1) / max(1, n - 1)
        print(
            f"  one image: {cpu1:.2f} s CPU -> start-up ~{cpu1 - per_image:.2f} s CPU, "
            f"{1000 * per_image:.0f} ms CPU per further image"
        )


def bench_in_process(threads: int, n: int, model: str | None) -> None:
    import numpy as np

    from inpaintkit.forensics import load_detector
    from inpaintkit.forensics.cnn import OnnxDetector

    if threads == 1:
        from inpaintkit.engine import single_thread

        single_thread()
    det = load_detector(model, threads=threads)  # the CNN on onnxruntime where the folder has a matching model.onnx
    if threads and "torch" in sys.modules:  # the CNN runs on torch
        import torch

        torch.set_num_threads(threads)
    runtime = "onnxruntime" if isinstance(getattr(det, "cnn", det), OnnxDetector) else "torch"
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(n)]
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
        f"detect 256x256: {n / dt:.1f} img/s ({1000 * dt / n:.1f} ms/img, {threads or 'default'} threads, "
        f"CNN on {runtime}); 1024x768 (tiled): {dt_big:.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0, help="compute threads (0: the libraries' defaults)")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--model", default=None)
    ap.add_argument("--cli", type=Path, default=None, help="a folder of images: time `inpaintkit detect` on it")
    ap.add_argument("--repeat", type=int, default=3, help="--cli: runs (the best is reported)")
    ap.add_argument("--startup", action="store_true", help="--cli: also time one image alone (start-up cost)")
    args = ap.parse_args()
    if args.cli is not None:
        bench_cli(args.cli, args.threads, max(1, args.repeat), args.startup, args.model)
    else:
        bench_in_process(args.threads, args.n, args.model)


if __name__ == "__main__":
    main()
