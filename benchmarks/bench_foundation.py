"""Speed targets of the foundation issue, measured on this machine and printed as a PASS/FAIL table.

    .venv/bin/python benchmarks/bench_foundation.py [--repeats 5] [--photo PATH]

1. ``patchmatch`` vs ``telea`` on a 512x512 real photo with a ~25% irregular hole (target: patchmatch <= 2 s, warm).
2. Overhead of the ``Inpainter`` base class around ``telea`` at 512x512: ``create_inpainter("telea").inpaint``
   vs ``cv2.inpaint`` alone (target: <= 10%).
3. A 4096x2160 photo with three small holes, ``hd_strategy="crop"``, ``patchmatch``, in a fresh subprocess
   (targets: <= 3 s warm, <= 1.5 GB peak RSS of that process, measured with ``getrusage(RUSAGE_CHILDREN)``).

The CPU is shared, so every timing is repeated: the table shows min and median, and PASS/FAIL uses the median.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

PHOTOS = Path("/work/photos/extracted/usr/share")
DEFAULT_PHOTO = PHOTOS / "backgrounds" / "Kleiber_by_Lukas_Baubkus.jpg"


def load_photo(path: Path | None, size: tuple[int, int], square_crop: bool) -> np.ndarray:
    """RGB uint8 resized to ``size`` (w, h); a real photograph (scikit-image's astronaut if ``path`` is missing)."""
    if path is not None and path.exists():
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    else:
        import skimage.data

        img = skimage.data.astronaut()
    if square_crop:
        h, w = img.shape[:2]
        s = min(h, w)
        img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def three_small_holes(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (900, 700), (60, 35), 20, 0, 360, 255, -1)
    cv2.circle(m, (2600, 1300), 50, 255, -1)
    cv2.line(m, (3300, 400), (3420, 520), 255, 18)
    return m > 0


def child_4k(photo: str | None, repeats: int) -> None:
    """Run in a fresh process: fill the 4K image, print JSON timings (the parent reads this process's peak RSS)."""
    from inpaintkit import create_inpainter

    img = load_photo(Path(photo) if photo else None, (4096, 2160), square_crop=False)
    mask = three_small_holes(2160, 4096)
    pm = create_inpainter("patchmatch")
    first = timed(lambda: pm.inpaint(img, mask, hd_strategy="crop"), 1)[0]  # includes loading cached kernels
    warm = timed(lambda: pm.inpaint(img, mask, hd_strategy="crop"), repeats)
    print(json.dumps({"first": first, "warm": warm, "hole_px": int(mask.sum())}))


def run_child(script: str, argv: list[str]) -> tuple[dict, float]:
    """Run ``script argv`` in a fresh Python process: (the JSON of its last stdout line, its peak RSS in GB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, script, *argv], capture_output=True, text=True, check=True)
    rss_gb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024**2  # KiB -> GiB
    return json.loads(proc.stdout.strip().splitlines()[-1]), rss_gb


def rows_4k(model: str, res: dict, rss_gb: float) -> list[tuple[str, str, str, bool]]:
    """The table rows of the 4096x2160 crop-strategy measurement (time and peak RSS targets)."""
    med = statistics.median(res["warm"])
    return [
        (
            f"{model} 4096x2160, 3 small holes, crop",
            f"min {min(res['warm']):.2f} s, median {med:.2f} s (first call in a new process {res['first']:.2f} s)",
            "<= 3 s",
            med <= 3.0,
        ),
        ("  peak RSS of that process", f"{rss_gb:.2f} GB", "<= 1.5 GB", rss_gb <= 1.5),
    ]


def print_table(rows: list[tuple[str, str, str, bool]], header: str) -> None:
    """Print (what, measured, target, ok) rows as an aligned PASS/FAIL table and exit 1 if any row failed."""
    print(f"{header}; cpus: {len(os.sched_getaffinity(0))}; load average: {os.getloadavg()[0]:.1f}")
    w = max(len(r[0]) for r in rows)
    wm = max(len(r[1]) for r in rows)
    print(f"{'measure':<{w}}  {'measured':<{wm}}  {'target':<9}  result")
    for what, measured, target, ok in rows:
        print(
            f"{what:<{w}}  {measured:<{wm}}  {target:<9}  {'PASS' if ok else 'FAIL'}"
            if target != "-"
            else f"{what:<{w}}  {measured:<{wm}}  {target:<9}"
        )
    sys.exit(0 if all(r[3] for r in rows) else 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--child-4k", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_4k:
        child_4k(str(args.photo), args.repeats)
        return

    from inpaintkit import create_inpainter
    from inpaintkit.masks import create_mask_generator

    rows: list[tuple[str, str, str, bool]] = []  # (what, measured, target, ok)

    # 1. patchmatch vs telea, 512x512, ~25% irregular hole
    img = load_photo(args.photo, (512, 512), square_crop=True)
    mask = create_mask_generator("irregular", ratio=(0.2, 0.3))(np.random.default_rng(0), (512, 512))
    pm, telea = create_inpainter("patchmatch"), create_inpainter("telea")
    pm.inpaint(img, mask)  # warm-up: loads the numba cache (compiles once on a fresh checkout)
    cpu0 = time.process_time()
    t_pm = timed(lambda: pm.inpaint(img, mask), args.repeats)
    cpu_pm = (time.process_time() - cpu0) / args.repeats  # CPU seconds per call, all threads: shows what load hides
    t_te = timed(lambda: telea.inpaint(img, mask), args.repeats)
    med_pm, med_te = statistics.median(t_pm), statistics.median(t_te)
    rows.append(
        (
            f"patchmatch 512x512, hole {mask.mean():.0%}",
            f"min {min(t_pm):.2f} s, median {med_pm:.2f} s ({cpu_pm:.2f} CPU-s/call, {med_pm / med_te:.1f}x telea)",
            "<= 2 s",
            med_pm <= 2.0,
        )
    )
    rows.append(("telea, same inputs", f"min {min(t_te):.3f} s, median {med_te:.3f} s", "-", True))

    # 2. base-class overhead around telea: interleave the two so load changes hit both alike; compare minima
    mask8 = mask.astype(np.uint8)
    t_raw, t_base = [], []
    for _ in range(max(20, 4 * args.repeats)):
        t_raw += timed(lambda: cv2.inpaint(img, mask8, 3, cv2.INPAINT_TELEA), 1)
        t_base += timed(lambda: telea.inpaint(img, mask), 1)
    overhead = (min(t_base) - min(t_raw)) / min(t_raw)
    overhead_med = (statistics.median(t_base) - statistics.median(t_raw)) / statistics.median(t_raw)
    rows.append(
        (
            "base-class overhead around telea, 512x512",
            f"{overhead:+.1%} (min-based), {overhead_med:+.1%} (median-based); cv2.inpaint alone "
            f"{min(t_raw) * 1000:.1f} ms",
            "<= 10%",
            overhead <= 0.10,
        )
    )

    # 3. 4096x2160, three small holes, crop strategy, in a fresh process
    res, rss_gb = run_child(__file__, ["--child-4k", "--repeats", str(args.repeats), "--photo", str(args.photo)])
    rows += rows_4k("patchmatch", res, rss_gb)

    print_table(
        rows, f"photo: {args.photo if args.photo.exists() else 'skimage.data.astronaut'}; repeats: {args.repeats}"
    )


if __name__ == "__main__":
    main()
