"""The ``default`` model's texture stage (``texture=off|on|auto``) on real photos: hole PSNR, SSIM, texture, speed.

Images (256x256): the photo corpus's val split when ``--corpus`` (default /work/corpus) has a manifest.csv, each
photo resized to short side 256 and centre-cropped; else the five held-out photos of ``eval_classical.py``
(ColdRipple, BytheWater, Kite, coffee, chelsea) cut the same way from /work/photos_old; plus scikit-image's grass,
gravel and brick textures (gray, as RGB, the central 256x256). Masks: ``generate_protocol("pconv")`` (six
hole-ratio buckets) and ``generate_protocol("box-half")``, seed 0, mask i paired with image i. ``auto`` is not
run separately: per pair it is ``on`` or ``off`` by the same rule as the model (``wants_texture``).
``synthesis`` is the texture stage's patch fill itself (guided PatchMatch on the ``off`` fill), which is what
``texture=on`` returned before the stage kept the network's fill and added only the synthesis's detail.

Measures per bucket and mode: ``lpips_hed`` (the bundled VGG16 features, ``HEDPerceptual``),
hole PSNR, SSIM, and ``hf``: the high-frequency energy in the hole (gray minus
its Gaussian blur, sigma 1.5, mean square over the hole pixels) over the same energy of the truth — 1 is the
truth's texture, near 0 a smooth smear; the table gives the median ratio and the mean |log2 ratio| (0 = right
amount of texture). The rows of "by hole depth" pool all pairs by the hole's depth (largest distance of a hole
pixel to the known region), which is what ``texture=auto`` thresholds on. Latency: scikit-image's chelsea at
512x512 with a 160x96 box, median of ``--reps`` calls, every mode and Telea in one run.

    .venv/bin/python benchmarks/texture_default.py [--out out/texture] [--grid]

``--grid`` also writes OUT/grid.png: truth, input, off, on, patchmatch and telea on textured 512x512 photos.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from inpaintkit import create_inpainter
from inpaintkit.evaluate.perceptual import to_tensor
from inpaintkit.inpainters.patchmatch import patchmatch_fill
from inpaintkit.io import read_image, write_image
from inpaintkit.masks import generate_protocol
from inpaintkit.metrics import hole_psnr, ssim
from inpaintkit.models.default import TEXTURE_ITERATIONS, wants_texture

PHOTOS = Path("/work/photos_old")
HOLDOUT = ("ColdRipple.jpg", "BytheWater.jpg", "Kite.jpg", "coffee.png", "chelsea.png")
TEXTURES = ("grass", "gravel", "brick")
GRID_PHOTOS = ("alpaca", "lemur", "Garden", "redwoods_above", "chelsea", "OneStandsOut")  # fur, grass, forest floor
DEPTH_BINS = (0, 4, 8, 12, 16, 24, 32, 1000)


def _square(rgb: np.ndarray, short: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = short / min(h, w)
    rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    t, l = (h - short) // 2, (w - short) // 2
    return np.ascontiguousarray(rgb[t : t + short, l : l + short])


def _texture(name: str) -> np.ndarray:
    g = getattr(skimage.data, name)()
    return np.repeat(g[..., None], 3, axis=2) if g.ndim == 2 else g


def images(photos: Path, corpus: Path) -> list[tuple[str, np.ndarray]]:
    out = []
    if (corpus / "manifest.csv").is_file():
        with open(corpus / "manifest.csv", newline="") as f:
            ids = [row["id"] for row in csv.DictReader(f) if row["split"] == "val"]
        for i in ids:
            path = next(p for p in (corpus / "val").glob(f"{i}.*"))
            out.append((i, _square(read_image(path).rgb, 256)))
    else:
        out += [(Path(n).stem, _square(read_image(photos / "holdout" / n).rgb, 256)) for n in HOLDOUT]
    out += [(name, _square(_texture(name), 256)) for name in TEXTURES]
    return out


def hf_energy(img: np.ndarray, mask: np.ndarray, sigma: float = 1.5) -> float:
    """Mean square of (gray - its Gaussian blur) over the hole: the fine texture there."""
    g = img.astype(np.float32).mean(axis=2)
    return float(((g - cv2.GaussianBlur(g, (0, 0), sigma)) ** 2)[mask].mean())


def hole_depth(mask: np.ndarray) -> float:
    return float(cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE).max())


def _summary(rows: list[dict]) -> str:
    hf = np.array([r["hf"] for r in rows])
    return (
        f"{np.mean([r['lpips_hed'] for r in rows]):.4f} | {np.mean([r['hole_psnr'] for r in rows]):.2f} | "
        f"{np.mean([r['ssim'] for r in rows]):.4f} | "
        f"{np.median(hf):.2f} | {np.mean(np.abs(np.log2(np.maximum(hf, 1e-3)))):.2f}"
    )


def evaluate_modes(pairs, models, fills: dict[str, list] | None = None) -> dict[str, list[dict]]:
    from inpaintkit.backbones.vgg import HEDPerceptual

    hed = HEDPerceptual().eval()
    res: dict[str, list[dict]] = {k: [] for k in models}
    for bucket, stem, img, mask in pairs:
        e_true = max(hf_energy(img, mask), 1e-6)
        f_true = hed.features(to_tensor([img]))[0]
        for k, (m, kw) in models.items():
            out = m.inpaint(img, mask, **kw)
            if fills is not None:
                fills.setdefault(k, []).append(out)
            lp = float(HEDPerceptual.distance_from(hed.features(to_tensor([out]))[0], f_true)[0])
            res[k].append(
                {
                    "bucket": bucket,
                    "stem": stem,
                    "depth": hole_depth(mask),
                    "lpips_hed": lp,
                    "hole_psnr": hole_psnr(out, img, mask),
                    "ssim": ssim(out, img),
                    "hf": hf_energy(out, mask) / e_true,
                }
            )
    return res


class Synthesis:
    """The texture stage's patch fill alone (the previous ``texture=on``): guided PatchMatch on ``default``'s
    ``texture=off`` fill, the same call the model makes."""

    def __init__(self, model):
        self.model = model

    def inpaint(self, img: np.ndarray, mask: np.ndarray, **kw) -> np.ndarray:
        guide = self.model.inpaint(img, mask, texture="off")
        return patchmatch_fill(
            img, mask, guide=guide, iterations=TEXTURE_ITERATIONS, seed=0, threads=self.model.threads
        )


def latency(models, reps: int) -> dict[str, float]:
    img = _square(skimage.data.chelsea(), 512)
    mask = np.zeros((512, 512), bool)
    mask[200:296, 180:340] = True
    out = {}
    for k, (m, kw) in models.items():
        m.inpaint(img, mask, **kw)
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            m.inpaint(img, mask, **kw)
            ts.append(time.perf_counter() - t)
        out[k] = float(np.median(ts))
    return out


def grid(out: Path, photos: Path, corpus: Path, models) -> None:
    rows = []
    srcs = [("grass", _square(_texture("grass"), 512)), ("gravel", _square(_texture("gravel"), 512))]
    for name in GRID_PHOTOS:
        found = sorted(corpus.glob(f"val/{name}.*")) + sorted(photos.glob(f"*/{name}.*"))
        if found:
            srcs.append((name, _square(read_image(found[0]).rgb, 512)))
    rng = np.random.default_rng(0)
    for _, img in srcs:
        mask = np.zeros((512, 512), np.uint8)  # an object-sized blob: an ellipse plus a stroke
        cy, cx = rng.integers(200, 312, size=2)
        cv2.ellipse(
            mask,
            (int(cx), int(cy)),
            (int(rng.integers(60, 100)), int(rng.integers(50, 90))),
            float(rng.uniform(0, 180)),
            0,
            360,
            255,
            -1,
        )
        m = mask > 0
        cells = [img, np.where(m[..., None], 255, img).astype(np.uint8)]
        cells += [mm.inpaint(img, m, **kw) for mm, kw in models.values()]
        rows.append(np.hstack([cv2.resize(c, (256, 256), interpolation=cv2.INTER_AREA) for c in cells]))
    write_image(out / "grid.png", np.vstack(rows))
    print(f"wrote {out / 'grid.png'} (columns: truth, input, {', '.join(models)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/texture"))
    ap.add_argument("--photos", type=Path, default=PHOTOS)
    ap.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--buckets", default="", help="comma-separated subset of mask buckets (default: all)")
    ap.add_argument("--save", type=Path, help="also write every (truth, mask, fills) to this .npz (for other metrics)")
    args = ap.parse_args()
    ims = images(args.photos, args.corpus)
    pairs = []
    for protocol in ("pconv", "box-half"):
        for bucket, items in generate_protocol(protocol, size=256, per_bucket=len(ims), seed=0).items():
            if args.buckets and bucket not in args.buckets.split(","):
                continue
            pairs += [(bucket, stem, img, mask) for (stem, img), (mask, _) in zip(ims, items)]
    d = create_inpainter("default")
    models = {
        "off": (d, {"texture": "off"}),
        "on": (d, {"texture": "on"}),
        "synthesis": (Synthesis(d), {}),
        "patchmatch": (create_inpainter("patchmatch"), {}),
        "telea": (create_inpainter("telea"), {}),
    }
    t = latency(models, args.reps)
    print(f"512x512, 160x96 box, median of {args.reps}:")
    print("| mode | ms | / off |\n|---|---:|---:|")
    for k, v in t.items():
        print(f"| {k} | {v * 1e3:.0f} | {v / t['off']:.2f} |")
    fills: dict[str, list] | None = {} if args.save else None
    res = evaluate_modes(pairs, models, fills)
    if args.save and fills is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            args.save,
            truth=np.stack([p[2] for p in pairs]),
            mask=np.stack([p[3] for p in pairs]),
            bucket=np.array([p[0] for p in pairs]),
            stem=np.array([p[1] for p in pairs]),
            **{k: np.stack(v) for k, v in fills.items()},
        )
    res["auto"] = [on if wants_texture(p[3], "auto") else off for p, on, off in zip(pairs, res["on"], res["off"])]
    models["auto"] = models["on"]
    print(f"\n{len(pairs)} pairs; per cell: lpips_hed | hole PSNR | SSIM | hf median | hf mean |log2|\n")
    print("| bucket | " + " | ".join(models) + " |\n|---|" + "---|" * len(models))
    for bucket in dict.fromkeys(p[0] for p in pairs):
        print(
            f"| {bucket} | " + " | ".join(_summary([r for r in res[k] if r["bucket"] == bucket]) for k in models) + " |"
        )
    print("\nby hole depth (px): on - off per pair: lpips_hed, hole PSNR, SSIM, mean |log2 hf| (off -> on)\n")
    print(
        "| depth | pairs | d lpips_hed | d hole PSNR | d SSIM | |log2 hf| off | |log2 hf| on |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    for lo, hi in zip(DEPTH_BINS[:-1], DEPTH_BINS[1:]):
        idx = [i for i, r in enumerate(res["off"]) if lo <= r["depth"] < hi]
        if not idx:
            continue

        def col(k, f):
            return np.array([res[k][i][f] for i in idx])

        lg = lambda k: np.mean(np.abs(np.log2(np.maximum(col(k, "hf"), 1e-3))))
        print(
            f"| {lo}-{hi} | {len(idx)} | {np.mean(col('on', 'lpips_hed') - col('off', 'lpips_hed')):+.4f} | "
            f"{np.mean(col('on', 'hole_psnr') - col('off', 'hole_psnr')):+.2f} | "
            f"{np.mean(col('on', 'ssim') - col('off', 'ssim')):+.4f} | {lg('off'):.2f} | {lg('on'):.2f} |"
        )
    if args.grid:
        grid(
            args.out,
            args.photos,
            args.corpus,
            {k: models[k] for k in ("off", "on", "synthesis", "patchmatch", "telea")},
        )
    if (args.corpus / "manifest.csv").is_file():
        print(f"images: {len(ims) - len(TEXTURES)} corpus val photos + {', '.join(TEXTURES)}")


if __name__ == "__main__":
    main()
