"""Reproduce the bundled detector and its measured figures (CPU; ~1 h on a quiet 2-core machine).

    .venv/bin/python benchmarks/forensics_bundled.py --work /tmp/fx [--steps 800] [--loo patchmatch,telea]
        [--install]   # copy the exported detector into inpaintkit/weights/detector

Steps (each one is also a CLI command, printed as it runs):
1. photos: the Debian wallpapers + scikit-image samples named in the project's photo list into WORK/photos
   (largest resolution of each wallpaper); held out for test: ColdRipple, BytheWater, Kite, sk_coffee, sk_chelsea;
2. ``inpaintkit forensics make-dataset`` (48 random 256² crops per photo, 1 real + 2 inpainted per crop, inpainters
   telea, ns, patchmatch, biharmonic, five mask kinds);
3. ``inpaintkit forensics train --config configs/forensics/bundled.yaml`` and one run per left-out inpainter;
4. ``inpaintkit forensics evaluate`` on the held-out photos (robustness conditions + leave-one-out table);
5. ``inpaintkit forensics ensemble`` of the main and leave-one-out detectors.
"""
from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARE = Path("/work/photos/extracted/usr/share")
WALLPAPERS = ("FallenLeaf", "Path", "DarkestHour", "summer_1am", "EveningGlow", "Grey", "Kite", "ColorfulCups",
              "OneStandsOut", "ColdRipple", "BytheWater")
SKIMAGE = ("astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "chelsea", "coffee")
HELD_OUT = "Kite,ColdRipple,BytheWater,sk_coffee,sk_chelsea"


def photos(folder: Path) -> None:
    import skimage.data as data

    from inpaintkit.io import write_image

    folder.mkdir(parents=True, exist_ok=True)
    links = {"Kleiber": SHARE / "backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
             "InfiniteSea": SHARE / "backgrounds/Infinite-Sea_by_Aury88.jpg"}
    for name in WALLPAPERS:
        files = sorted((SHARE / "wallpapers" / name / "contents/images").glob("*.jpg"), key=lambda p: p.stat().st_size)
        links[name] = files[-1]
    for name, src in links.items():
        dst = folder / f"{name}.jpg"
        if not dst.exists():
            dst.symlink_to(src)
    for name in SKIMAGE:
        if not (folder / f"sk_{name}.png").exists():
            write_image(folder / f"sk_{name}.png", getattr(data, name)())
    if not (folder / "sk_motorcycle.png").exists():
        write_image(folder / "sk_motorcycle.png", data.stereo_motorcycle()[0])


def run(*args: str) -> None:
    cmd = [sys.executable, "-m", "inpaintkit", *args]
    print("$ inpaintkit " + " ".join(shlex.quote(a) for a in args), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/fx"))
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--loo", default="patchmatch", help="inpainters to leave out, one run each ('' for none)")
    ap.add_argument("--loo-steps", type=int, default=500)
    ap.add_argument("--install", action="store_true")
    args = ap.parse_args()
    w = args.work
    photos(w / "photos")
    run("forensics", "make-dataset", "--images", str(w / "photos"), "--inpainters", "telea,ns,patchmatch,biharmonic",
        "--masks", "irregular,lama-thick,lama-medium,boxes,freeform", "--per-image", "2", "--crops-per-image", "48",
        "--size", "256", "--seed", "0", "--val-frac", "0.15", "--test-frac", "0", "--test-sources", HELD_OUT,
        "--out", str(w / "ds"), "--jobs", "2")
    common = ["--config", "configs/forensics/bundled.yaml", "--set", f"data.index={w / 'ds'}"]
    run("forensics", "train", *common, "--set", f"run.dir={w / 'runs/bundled'}", "--set", f"train.steps={args.steps}")
    loo_runs = []
    for name in [n for n in args.loo.split(",") if n]:
        d = w / "runs" / f"loo-{name}"
        run("forensics", "train", *common, "--set", f"run.dir={d}", "--set", f"data.exclude_inpainters=[{name}]",
            "--set", f"train.steps={args.loo_steps}")
        loo_runs += ["--loo", str(d)]
    run("forensics", "evaluate", "--data", str(w / "ds"), "--model", str(w / "runs/bundled"), *loo_runs,
        "--out", str(w / "report"))
    if loo_runs:
        members = [a for a in loo_runs if a != "--loo"]
        run("forensics", "ensemble", "--member", str(w / "runs/bundled"),
            *[x for m in members for x in ("--member", m)], "--data", str(w / "ds"), "--out", str(w / "ensemble"))
        run("forensics", "evaluate", "--data", str(w / "ds"), "--model", str(w / "ensemble"),
            "--conditions", "clean,jpeg75", "--out", str(w / "report-ensemble"))
    if args.install:
        dst = REPO / "inpaintkit/weights/detector"
        for f in ("model.safetensors", "detector.json", "config.yaml"):
            shutil.copy2(w / "runs/bundled" / f, dst / f)
        print(f"installed into {dst}; update MODEL_CARD.md with {w / 'report/report.md'}")


if __name__ == "__main__":
    main()
