"""Throughput of ``inpaintkit run`` and ``inpaintkit evaluate`` on the local engine (``--jobs 2``) and on Ray
(2 workers), on the same images, in one run; Ray's start-up is timed apart.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_engines.py [--images 200] [--model default] [--size 256]

Inputs: ``--images`` 256x256 centre crops of the photo corpus (``/work/corpus/manifest.csv``, sorted by id) or,
without it, of scikit-image's sample photos (tiled crops), each with a seeded ``irregular`` mask, written once to a
temporary folder. Each command runs once per engine into a fresh output folder (nothing is skipped), in the order
run/local, run/ray, evaluate/local, evaluate/ray. A command's time is its whole wall time as a user sees it: worker
start-up (spawned processes or Ray actors importing torch and loading the model) included. Ray itself is started
once (``ray.init`` on 127.0.0.1 with 2 CPUs) before, and that start-up is the separate line.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CORPUS = Path("/work/corpus")


def make_inputs(root: Path, n: int, size: int) -> str:
    """``root/images`` and ``root/masks`` with ``n`` pairs; returns where the photos came from."""
    from inpaintkit.evaluate.runner import center_square
    from inpaintkit.io import read_image, write_image, write_mask
    from inpaintkit.masks import create_mask_generator

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    photos: list[np.ndarray] = []
    manifest = CORPUS / "manifest.csv"
    source = f"scikit-image samples ({n} crops)"
    if manifest.is_file():
        with open(manifest, newline="") as f:
            rows = sorted(csv.DictReader(f), key=lambda r: r["id"])
        for r in rows:
            for p in (CORPUS / r["split"]).glob(f"{r['id']}.*"):
                photos.append(center_square(read_image(p).rgb, size))
                break
            if len(photos) == n:
                break
        source = f"{len(photos)} photos of {manifest}" + (
            f" + {n - len(photos)} sample crops" if len(photos) < n else ""
        )
    if len(photos) < n:  # tile crops of the scikit-image photos until there are enough
        from skimage import data

        pics = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.stereo_motorcycle()[0]]
        rng = np.random.default_rng(0)
        while len(photos) < n:
            pic = pics[len(photos) % len(pics)]
            h, w = pic.shape[:2]
            s = min(h, w, size + 64)
            t, l = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
            photos.append(center_square(np.ascontiguousarray(pic[t : t + s, l : l + s]), size))
    gen = create_mask_generator("irregular")
    for i, rgb in enumerate(photos):
        write_image(root / "images" / f"p{i:04d}.png", rgb)
        write_mask(root / "masks" / f"p{i:04d}.png", gen(np.random.default_rng(i), (size, size)))
    return source


def run_cli(args: list[str]) -> float:
    from inpaintkit.cli import app

    t = time.perf_counter()
    rv = app(args=[str(a) for a in args], prog_name="inpaintkit", standalone_mode=False)
    if rv not in (0, None):
        raise SystemExit(f"inpaintkit {' '.join(map(str, args))} exited with {rv}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--model", default="default", help="inpainter for both commands")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2, help="local --jobs and Ray workers")
    a = ap.parse_args()

    from inpaintkit.engine import check_ray

    check_ray()  # imports ray so that the local Ray listens on 127.0.0.1 only
    import ray

    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        source = make_inputs(root / "in", a.images, a.size)
        print(
            f"inputs: {a.images} images {a.size}x{a.size} ({source}), one irregular mask each, "
            f"written in {time.perf_counter() - t:.1f} s",
            file=sys.stderr,
        )
        t = time.perf_counter()
        ray.init(
            num_cpus=a.workers, include_dashboard=False, object_store_memory=256 * 2**20, logging_level=logging.WARNING
        )
        ray_start = time.perf_counter() - t
        imgs, masks = root / "in" / "images", root / "in" / "masks"
        commands = {
            "run": lambda out: ["run", "--model", a.model, "--image", imgs, "--mask", masks, "--output", out],
            "evaluate": lambda out: [
                "evaluate",
                "--model",
                a.model,
                "--images",
                imgs,
                "--masks",
                masks,
                "--out",
                out,
                "--no-figures",
                "--quiet",
            ],
        }
        times: dict[tuple[str, str], float] = {}
        for cmd, build in commands.items():
            for engine in ("local", "ray"):
                times[cmd, engine] = run_cli(
                    [*build(root / f"{cmd}-{engine}"), "--engine", engine, "--jobs", a.workers]
                )
        ray.shutdown()

    print(
        f"\nbench_engines: {a.images} images {a.size}x{a.size}, model {a.model}, {a.workers} workers "
        f"(local --jobs {a.workers} vs Ray {a.workers} actors)"
    )
    print(f"Ray start-up (ray.init, local, {a.workers} CPUs): {ray_start:.1f} s (not in the times below)")
    print(f"{'command':<10} {'local s':>8} {'local img/s':>12} {'ray s':>8} {'ray img/s':>10} {'ray/local':>10}")
    for cmd in commands:
        lo, ry = times[cmd, "local"], times[cmd, "ray"]
        print(f"{cmd:<10} {lo:8.1f} {a.images / lo:12.2f} {ry:8.1f} {a.images / ry:10.2f} {lo / ry:10.2f}")
    print("ray/local = throughput ratio (above 1: Ray faster)")


if __name__ == "__main__":
    main()
