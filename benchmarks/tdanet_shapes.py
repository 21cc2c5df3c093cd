"""Does the caption matter? TDANet on the synthetic captioned shapes (``inpaintkit data shapes``).

Every test mask hides one whole shape, so its colour is knowable only from the caption. For a trained run:

1. hole-PSNR with the true caption vs with a caption naming another colour for the hidden shape (target: the true
   caption >= 3 dB better) and with an empty caption;
2. the fill's mean colour over the hidden shape vs the colour the caption names, for every colour: a confusion
   matrix (rows: named colour, columns: nearest palette colour of the fill);
3. diverse samples: ``--samples`` seeds per input differ inside the hole and keep every known pixel;
4. a real photo (centre crop at the training size) with an empty caption: known pixels kept, the fill's hole-PSNR
   next to OpenCV Telea's.

Train on CPU (one thread; ~4 s per step on our shared 2-core machine) and evaluate; ``--min-shapes 1
--max-shapes 1`` (data and benchmark alike) gives the one-shape variant::

    inpaintkit data shapes --count 1500 --out data/shapes --seed 0
    inpaintkit train --config configs/tdanet.yaml --set data.root=data/shapes/index.jsonl data.size=64 \\
        data.min_scale=1.0 data.num_workers=0 data.val_count=8 train.steps=2000 train.batch_size=8 \\
        train.threads=1 train.device=cpu train.ema=0.99 train.val_every=50 train.ckpt_every=50 \\
        model.text_encoder=bigru model.width=8 model.max_width=64 model.text_dim=64 \\
        discriminator.width=8 discriminator.max_width=32 discriminator.levels=3 \\
        optim.generator.lr=0.0005 optim.discriminator.lr=0.0002 losses.hole_weight=6 run.dir=runs/tdanet_shapes
    python benchmarks/tdanet_shapes.py --run runs/tdanet_shapes/last/generator_ema.safetensors \\
        --out docs/figures/tdanet --photo PHOTO.jpg

``--mix SHAPES_INDEX PHOTO...`` writes a shapes + uncaptioned photo-crops index for fine-tuning (``--resume`` with
``--set data.root=...``) so that an empty caption also fills photos; docs/readme/tdanet.md has the figures.

Test scenes use another seed than the training scenes (``--seed 1``), so none was seen in training.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from inpaintkit.data.shapes import COLOURS, make_scene, recaption
from inpaintkit.inpainters import create_inpainter
from inpaintkit.io import read_image, write_image

NAMES = list(COLOURS)
PALETTE = np.array([COLOURS[c] for c in NAMES], np.float64)


def hole_psnr(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    mse = np.mean((pred[mask].astype(np.float64) - truth[mask].astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def nearest_colour(rgb: np.ndarray) -> int:
    return int(np.argmin(((PALETTE - rgb) ** 2).sum(1)))


def evaluate(run: str, count: int, seed: int, samples: int, out: Path, photo: str | None, min_shapes: int = 2,
             max_shapes: int = 3, photo_size: int = 64) -> dict:
    torch.set_num_threads(1)
    inp = create_inpainter("tdanet", checkpoint=run, device="cpu")
    rng = np.random.default_rng(seed)
    res: dict = {"run": run, "count": count, "seed": seed, "shapes_per_scene": [min_shapes, max_shapes]}
    true_p, wrong_p, empty_p = [], [], []
    confusion = np.zeros((len(NAMES), len(NAMES)), int)
    figure_rows = []
    t0 = time.perf_counter()
    for i in range(count):
        sc = make_scene(seed, i, min_shapes=min_shapes, max_shapes=max_shapes)
        hidden = sc.shapes[sc.hidden]
        sil = sc.shape_masks[sc.hidden]
        fill_true = inp(sc.image, sc.mask, caption=sc.caption)
        other = NAMES[(NAMES.index(hidden.colour) + int(rng.integers(1, len(NAMES)))) % len(NAMES)]
        fill_wrong = inp(sc.image, sc.mask, caption=recaption(sc, other))
        fill_empty = inp(sc.image, sc.mask, caption="")
        true_p.append(hole_psnr(fill_true, sc.image, sc.mask))
        wrong_p.append(hole_psnr(fill_wrong, sc.image, sc.mask))
        empty_p.append(hole_psnr(fill_empty, sc.image, sc.mask))
        for named in NAMES:  # the confusion: what colour comes out when the caption names `named`?
            fill = fill_true if named == hidden.colour else inp(sc.image, sc.mask, caption=recaption(sc, named))
            confusion[NAMES.index(named), nearest_colour(fill[sil].mean(0))] += 1
        if len(figure_rows) < 6:
            shown = np.where(sc.mask[..., None], 255, sc.image).astype(np.uint8)
            figure_rows.append(np.concatenate([shown, fill_true, fill_wrong, fill_empty, sc.image], axis=1))
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["hole_psnr_true_caption"] = round(float(np.mean(true_p)), 2)
    res["hole_psnr_wrong_colour"] = round(float(np.mean(wrong_p)), 2)
    res["hole_psnr_empty_caption"] = round(float(np.mean(empty_p)), 2)
    res["gap_true_minus_wrong_db"] = round(res["hole_psnr_true_caption"] - res["hole_psnr_wrong_colour"], 2)
    res["share_true_better"] = round(float(np.mean(np.array(true_p) > np.array(wrong_p))), 3)
    res["colour_accuracy"] = round(float(np.trace(confusion) / confusion.sum()), 3)
    res["confusion"] = {"colours": NAMES, "rows_named_cols_filled": confusion.tolist()}

    # diverse samples: differ in the hole, identical outside it
    diffs, kept = [], True
    sample_rows = []
    for i in range(min(count, 16)):
        sc = make_scene(seed, i, min_shapes=min_shapes, max_shapes=max_shapes)
        fills = [inp(sc.image, sc.mask, caption=sc.caption, seed=s) for s in range(samples)]
        kept &= all(np.array_equal(f[~sc.mask], sc.image[~sc.mask]) for f in fills)
        diffs += [np.abs(fills[a][sc.mask].astype(float) - fills[b][sc.mask].astype(float)).mean()
                  for a in range(samples) for b in range(a + 1, samples)]
        if len(sample_rows) < 4:
            shown = np.where(sc.mask[..., None], 255, sc.image).astype(np.uint8)
            sample_rows.append(np.concatenate([shown, *fills], axis=1))
    res["samples"] = samples
    res["sample_mean_abs_diff_in_hole"] = round(float(np.mean(diffs)), 2)
    res["sample_min_abs_diff_in_hole"] = round(float(np.min(diffs)), 2)
    res["samples_keep_known_pixels"] = bool(kept)

    out.mkdir(parents=True, exist_ok=True)
    up = lambda a: np.kron(a, np.ones((3, 3, 1), np.uint8))  # noqa: E731  (3x nearest for viewing)
    write_image(out / "tdanet_shapes_captions.png", up(np.concatenate(figure_rows, axis=0)))
    write_image(out / "tdanet_shapes_samples.png", up(np.concatenate(sample_rows, axis=0)))

    if photo:
        rgb = read_image(photo).rgb
        h, w = rgb.shape[:2]
        side = min(h, w)
        import cv2

        n = photo_size
        crop = cv2.resize(rgb[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2], (n, n),
                          interpolation=cv2.INTER_AREA)
        mask = np.zeros((n, n), bool)
        mask[3 * n // 8:5 * n // 8, 5 * n // 16:11 * n // 16] = True  # a box of 1/4 x 3/8 of the side
        fill = inp(crop, mask, caption="")
        telea = create_inpainter("telea")(crop, mask)
        res["photo"] = {"path": photo, "size": n, "known_pixels_kept": bool(np.array_equal(fill[~mask], crop[~mask])),
                        "hole_psnr_tdanet_empty_caption": round(hole_psnr(fill, crop, mask), 2),
                        "hole_psnr_telea": round(hole_psnr(telea, crop, mask), 2)}
        shown = np.where(mask[..., None], 255, crop).astype(np.uint8)
        k = max(1, 256 // n)
        write_image(out / "tdanet_photo_empty_caption.png",
                    np.kron(np.concatenate([shown, fill, telea, crop], axis=1), np.ones((k, k, 1), np.uint8)))
    (out / "tdanet_shapes.json").write_text(json.dumps(res, indent=1))
    return res


def mixed_index(shapes_index: str, photos: list[str], out: Path, count: int = 1500, seed: int = 0) -> Path:
    """``out/index.jsonl``: the shapes index plus ``count`` uncaptioned 64x64 crops (random scale 0.15-1 of the
    short side) of ``photos``, so a fine-tuned model also fills real photos without a caption."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    small = []
    for p in photos:
        rgb = read_image(p).rgb
        s = 512 / min(rgb.shape[:2])
        small.append(cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA))
    base = Path(shapes_index).resolve().parent
    recs = []
    for line in Path(shapes_index).read_text().splitlines():
        r = json.loads(line)
        recs.append({**r, "path": str(base / r["path"]), "mask": str(base / r["mask"])})
    for i in range(count):
        img = small[i % len(small)]
        h, w = img.shape[:2]
        side = int(min(h, w) * rng.uniform(0.15, 1.0))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        write_image(out / f"photo_{i:05d}.png",
                    cv2.resize(img[y:y + side, x:x + side], (64, 64), interpolation=cv2.INTER_AREA))
        recs.append({"path": str(out / f"photo_{i:05d}.png"), "split": "train", "captions": []})
    (out / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return out / "index.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run folder (or its weights file) of a tdanet training on shapes")
    ap.add_argument("--count", type=int, default=200, help="test scenes")
    ap.add_argument("--seed", type=int, default=1, help="test scene seed (training used 0)")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--photo", default=None, help="a real photo for the empty-caption check")
    ap.add_argument("--photo-size", type=int, default=64, help="side of the photo's centre crop (the training size)")
    ap.add_argument("--min-shapes", type=int, default=2, help="as given to `inpaintkit data shapes`")
    ap.add_argument("--max-shapes", type=int, default=3)
    ap.add_argument("--out", default="docs/figures/tdanet")
    ap.add_argument("--mix", nargs="+", metavar=("SHAPES_INDEX", "PHOTO"), default=None,
                    help="instead of evaluating: write --out/index.jsonl = shapes index + crops of these photos")
    args = ap.parse_args()
    if args.mix:
        print(mixed_index(args.mix[0], args.mix[1:], Path(args.out)))
        return
    if not args.run:
        ap.error("--run is required (or --mix to write a mixed index)")
    res = evaluate(args.run, args.count, args.seed, args.samples, Path(args.out), args.photo, args.min_shapes,
                   args.max_shapes, args.photo_size)
    json.dump(res, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
