"""Small fills in large photos: what the detector's 256² test split does not measure.

The corpus's detector figures are on 256² crops with holes of 20-30 %. A user removes a small object from a whole
photo. This builds, from the photos of a folder (default: the corpus's test split, never trained or calibrated on),
768x512 crops at full resolution (two per photo that is large enough; seeded), and per crop one elliptic hole of
0.5-3 % of the crop filled by each of ``--inpainters``; then scores every image with each ``--model`` (a detector
folder; ``default`` = the bundled one) and prints, per inpainter, the fused ROC-AUC against the untouched crops,
the recall at the detector's threshold and the noise branch's ROC-AUC alone, and the untouched crops flagged.

.venv/bin/python benchmarks/forensics_small.py --photos /work/corpus/test --out /tmp/small \\
    [--inpainters telea,ns,patchmatch,default] [--model default --model OTHER_DETECTOR_DIR] [--jpeg 90]

``--jpeg Q``: every image re-compressed as JPEG at quality Q first, and judged as a JPEG input (the detector's JPEG
trees, CNN and calibration).

``make`` also builds such a set from the val photos for the calibration (``forensics_fused.py --steps small``):
the same crops and holes, written as ``inpaintkit forensics make-dataset`` records (mask files, photo id, split),
so that the stacked score learns what a small fill in a large photo looks like. Measured, not in the bundled
detector's recipe (docs/forensics-history.md, "Small fills in large photos").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CROP = (512, 768)  # (h, w)


def make(photos: Path, out: Path, inpainters: list[str], seed: int, split: str = "test") -> list[dict]:
    """768x512 crops of the photos of ``photos`` (two per photo large enough), each untouched and with one elliptic
    hole of 0.5-3 % filled by each inpainter spec (``name`` or ``name:weights``); images and masks written into
    ``out``, records (``make-dataset``'s fields, ``split``) into ``out/index.jsonl`` and returned."""
    import cv2

    from inpaintkit.inpainters import create_inpainter_from_spec
    from inpaintkit.io import list_images, read_image, write_image

    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    models = {n: create_inpainter_from_spec(n) for n in inpainters}
    h, w = CROP
    recs: list[dict] = []
    for p in list_images(photos):
        im = read_image(p).rgb
        if im.shape[0] < h or im.shape[1] < w:
            continue
        for c in range(2):
            y0, x0 = int(rng.integers(0, im.shape[0] - h + 1)), int(rng.integers(0, im.shape[1] - w + 1))
            crop = np.ascontiguousarray(im[y0 : y0 + h, x0 : x0 + w])
            name = f"{p.stem}_{c}"
            base = {"source_id": p.stem, "crop": c, "split": split}
            write_image(out / "images" / f"{name}_real.png", crop)
            recs.append({"path": str(out / "images" / f"{name}_real.png"), "label": 0, "inpainter": None,
                         "mask_path": None, "mask_kind": None, **base, "hole_ratio": 0.0})  # fmt: skip
            area = rng.uniform(0.005, 0.03) * h * w
            a = np.sqrt(area / np.pi * rng.uniform(1, 2.5))
            b = area / np.pi / a
            mask = np.zeros((h, w), np.uint8)
            centre = (int(rng.integers(80, w - 80)), int(rng.integers(80, h - 80)))
            cv2.ellipse(mask, centre, (int(a), int(b)), float(rng.uniform(0, 180)), 0, 360, 255, -1)
            write_image(out / "masks" / f"{name}.png", np.repeat(mask[..., None], 3, axis=2))
            for n, m in models.items():
                path = out / "images" / f"{name}_{n.split(':')[0]}.png"
                write_image(path, m.inpaint(crop, mask > 0))
                recs.append({"path": str(path), "label": 1, "inpainter": n, "mask_path": str(out / "masks" / f"{name}.png"),
                             "mask_kind": "small-ellipse", **base, "hole_ratio": float((mask > 0).mean())})  # fmt: skip
    (out / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return recs


def score(recs: list[dict], model: str, quality: int | None = None) -> None:
    from inpaintkit.forensics.evaluate import roc_auc
    from inpaintkit.forensics.load import load_detector
    from inpaintkit.forensics.train import jpeg
    from inpaintkit.io import read_image

    det = load_detector(model, threads=1)
    fused, noise = [], []
    for r in recs:
        rgb = read_image(r["path"]).rgb
        if quality is not None:
            rgb = jpeg(rgb, quality)
        raw = det.raw(rgb, jpeg=quality is not None)
        fused.append(det.combine(raw, jpeg=quality is not None, rgb=rgb).score)
        noise.append(raw["noise"][0])
    s, sn = np.array(fused), np.array(noise)
    y = np.array([r["label"] for r in recs])
    inp = np.array([r["inpainter"] or "" for r in recs])
    real = y == 0
    kind = f", JPEG q{quality}" if quality is not None else ""
    print(f"{model}{kind}: untouched crops flagged {int((s[real] >= det.threshold).sum())} of {int(real.sum())}")
    for n in sorted(set(inp) - {""}):
        sel = real | (inp == n)
        print(
            f"  {n:12s} ROC-AUC {roc_auc(y[sel], s[sel]):.3f}  recall {(s[inp == n] >= det.threshold).mean():.2f}"
            f"  noise branch alone {roc_auc(y[sel], sn[sel]):.3f}  ({int((inp == n).sum())} fills)"
        )


def untouched(photos: Path, model: str, quality: int | None = None) -> None:
    """How many of the photos' untouched ``fusion.large_crops`` (each photo whole and as crops of 384² to
    768x1024, seeded) ``model`` flags, per size: the false alarms of images larger than the CNN's tile."""
    from collections import defaultdict

    from inpaintkit.forensics.fusion import large_crops
    from inpaintkit.forensics.load import load_detector
    from inpaintkit.forensics.train import jpeg

    det = load_detector(model, threads=1)
    flagged: dict[str, list[bool]] = defaultdict(list)
    for _, size, rgb in large_crops(photos):
        x = rgb if quality is None else jpeg(rgb, quality)
        s = det.score(det.raw(x, jpeg=quality is not None), jpeg=quality is not None)
        flagged[size].append(s >= det.threshold)
        flagged["all"].append(s >= det.threshold)
    kind = f", JPEG q{quality}" if quality is not None else ""
    print(
        f"{model}{kind}: untouched large images flagged "
        + ", ".join(
            f"{k} {sum(v)} of {len(v)}" for k, v in sorted(flagged.items(), key=lambda kv: (kv[0] == "all", kv[0]))
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, default=Path("/work/corpus/test"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--inpainters", default="telea,ns,patchmatch,default")
    ap.add_argument("--model", action="append", help="detector folder or 'default' (repeatable)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jpeg", type=int, default=None, metavar="Q", help="re-compress every image as JPEG at quality Q")
    ap.add_argument(
        "--untouched",
        action="store_true",
        help="instead: the untouched photos of --photos, whole and as crops of 384² to 768x1024 (fusion.large_crops)",
    )
    args = ap.parse_args()
    if args.untouched:
        for model in args.model or ["default"]:
            untouched(args.photos, model, args.jpeg)
        return
    index = args.out / "index.jsonl"
    if index.is_file():
        recs = [json.loads(line) for line in index.read_text().splitlines()]
    else:
        recs = make(args.photos, args.out, args.inpainters.split(","), args.seed)
    for model in args.model or ["default"]:
        score(recs, model, args.jpeg)


if __name__ == "__main__":
    main()
