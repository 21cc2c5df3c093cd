"""Reproduce the bundled detector and its measured figures (CPU; ~45 min on a quiet 2-core machine).

    .venv/bin/python benchmarks/forensics_bundled.py --work /tmp/fx [--steps 900] [--loo patchmatch,telea]
        [--install]   # copy the exported detector into inpaintkit/weights/detector

Steps (each one is also a CLI command, printed as it runs):
1. photos: the Debian wallpapers + scikit-image samples named in the project's photo list into WORK/photos
   (largest resolution of each wallpaper); held out for test: ColdRipple, BytheWater, Kite, sk_coffee, sk_chelsea;
2. ``inpaintkit forensics make-dataset`` twice, 1 real + 2 inpainted per crop, inpainters telea, ns, patchmatch,
   biharmonic, five mask kinds: WORK/ds with 48 random crops per photo (side 256 px .. the short side, resized to
   256²: mostly heavy downsizing) and WORK/ds-native with 32 crops per photo at native resolution (``--scale 1``);
   their two indexes are merged (absolute paths) into WORK/mix/index.jsonl — the training set of the bundled
   detector (the splits agree: same seed, fractions and held-out photos);
3. ``inpaintkit forensics train --config configs/forensics/bundled.yaml`` on WORK/mix and one run per left-out
   inpainter;
4. ``inpaintkit forensics evaluate`` on the held-out photos of WORK/ds (robustness conditions + leave-one-out
   table) and of WORK/ds-native;
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
WALLPAPERS = (
    "FallenLeaf",
    "Path",
    "DarkestHour",
    "summer_1am",
    "EveningGlow",
    "Grey",
    "Kite",
    "ColorfulCups",
    "OneStandsOut",
    "ColdRipple",
    "BytheWater",
)
SKIMAGE = ("astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "chelsea", "coffee")
HELD_OUT = "Kite,ColdRipple,BytheWater,sk_coffee,sk_chelsea"


def photos(folder: Path) -> None:
    import skimage.data as data

    from inpaintkit.io import write_image

    folder.mkdir(parents=True, exist_ok=True)
    links = {
        "Kleiber": SHARE / "backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
        "InfiniteSea": SHARE / "backgrounds/Infinite-Sea_by_Aury88.jpg",
    }
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


def merge_indexes(out: Path, *datasets: Path) -> Path:
    """One index.jsonl over several make-dataset folders (absolute paths; crop numbers kept apart)."""
    import json

    lines = []
    for i, ds in enumerate(datasets):
        for line in (ds / "index.jsonl").read_text().splitlines():
            r = json.loads(line)
            r["path"] = str(ds / r["path"])
            if r.get("mask_path"):
                r["mask_path"] = str(ds / r["mask_path"])
            r["crop"] += 1000 * i
            lines.append(json.dumps(r))
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.jsonl").write_text("\n".join(lines) + "\n")
    return out


def run(*args: str) -> None:
    cmd = [sys.executable, "-m", "inpaintkit", *args]
    print("$ inpaintkit " + " ".join(shlex.quote(a) for a in args), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/fx"))
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--loo", default="patchmatch", help="inpainters to leave out, one run each ('' for none)")
    ap.add_argument("--loo-steps", type=int, default=500)
    ap.add_argument("--install", action="store_true")
    args = ap.parse_args()
    w = args.work
    photos(w / "photos")
    base = [
        "--images",
        str(w / "photos"),
        "--inpainters",
        "telea,ns,patchmatch,biharmonic",
        "--masks",
        "irregular,lama-thick,lama-medium,boxes,freeform",
        "--per-image",
        "2",
        "--size",
        "256",
        "--seed",
        "0",
        "--val-frac",
        "0.15",
        "--test-frac",
        "0",
        "--test-sources",
        HELD_OUT,
        "--jobs",
        "2",
    ]
    run("forensics", "make-dataset", *base, "--crops-per-image", "48", "--out", str(w / "ds"))
    run("forensics", "make-dataset", *base, "--crops-per-image", "32", "--scale", "1", "--out", str(w / "ds-native"))
    mix = merge_indexes(w / "mix", w / "ds", w / "ds-native")
    common = ["--config", "configs/forensics/bundled.yaml", "--set", f"data.index={mix}"]
    run("forensics", "train", *common, "--set", f"run.dir={w / 'runs/bundled'}", "--set", f"train.steps={args.steps}")
    loo_runs = []
    for name in [n for n in args.loo.split(",") if n]:
        d = w / "runs" / f"loo-{name}"
        run(
            "forensics",
            "train",
            *common,
            "--set",
            f"run.dir={d}",
            "--set",
            f"data.exclude_inpainters=[{name}]",
            "--set",
            f"train.steps={args.loo_steps}",
        )
        loo_runs += ["--loo", str(d)]
    run(
        "forensics",
        "evaluate",
        "--data",
        str(w / "ds"),
        "--model",
        str(w / "runs/bundled"),
        *loo_runs,
        "--limit-per-source",
        "24",
        "--out",
        str(w / "report"),
    )
    run(
        "forensics",
        "evaluate",
        "--data",
        str(w / "ds-native"),
        "--model",
        str(w / "runs/bundled"),
        "--conditions",
        "clean,jpeg75",
        "--limit-per-source",
        "24",
        "--out",
        str(w / "report-native"),
    )
    if loo_runs:
        members = [a for a in loo_runs if a != "--loo"]
        run(
            "forensics",
            "ensemble",
            "--member",
            str(w / "runs/bundled"),
            *[x for m in members for x in ("--member", m)],
            "--data",
            str(w / "ds"),
            "--out",
            str(w / "ensemble"),
        )
        run(
            "forensics",
            "evaluate",
            "--data",
            str(w / "ds"),
            "--model",
            str(w / "ensemble"),
            "--conditions",
            "clean,jpeg75",
            "--out",
            str(w / "report-ensemble"),
        )
    if args.install:
        dst = REPO / "inpaintkit/weights/detector"
        for f in ("model.safetensors", "detector.json", "config.yaml"):
            shutil.copy2(w / "runs/bundled" / f, dst / f)
        print(f"installed into {dst}; update MODEL_CARD.md with {w / 'report/report.md'}")


if __name__ == "__main__":
    main()
