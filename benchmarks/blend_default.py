"""The ``default`` model's ``blend`` and ``tta`` on the photo corpus's val split: by default ``blend=0.5`` against
``blend=0`` (the network alone; what the default ``auto`` does above ``work_side``) and Telea, or the settings
named by ``--variants``; per mask set: hole PSNR, SSIM, ``lpips_hed`` and milliseconds per call.

Images: every val photo, short side resized to ``--size`` (area) and centre-cropped; masks:
``generate_protocol("pconv")`` and ``("box-half")`` at that size, seed 0, mask i with photo i, the sets named by
``--buckets``. At 512 (the default) the network and the biharmonic solve run at ``work_side`` 256 and the
correction is upsampled, which is the path a 512² call takes.

    .venv/bin/python benchmarks/blend_default.py --photos PHOTOS [--size 512] [--buckets 0.1-0.2,0.3-0.4,box-half]
    .venv/bin/python benchmarks/blend_default.py --photos PHOTOS --size 256 --buckets all \
        --variants blend=0.5,tta=off blend=0.4,tta=on telea

A variant is ``telea`` or ``default``'s options as ``key=value`` pairs joined by commas (``auto``: the defaults).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from inpaintkit import create_inpainter
from inpaintkit.backbones.vgg import HEDPerceptual
from inpaintkit.data.photos import corpus_paths
from inpaintkit.evaluate.perceptual import to_tensor
from inpaintkit.io import read_image
from inpaintkit.masks import generate_protocol
from inpaintkit.metrics import hole_psnr, ssim


def square(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = size / min(h, w)
    rgb = cv2.resize(rgb, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    t, l = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(rgb[t : t + size, l : l + size])


def variant(spec: str, threads: int):
    """``telea``, or the ``default`` model with the options of ``spec`` (``key=value,...``; ``auto``: none)."""
    if spec == "telea":
        return create_inpainter("telea")
    opts = dict(kv.split("=", 1) for kv in spec.split(",") if kv != "auto")
    return create_inpainter("default", threads=threads, **opts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, default=Path("photos"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--buckets", default="0.1-0.2,0.3-0.4,box-half")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", nargs="+", default=["blend=0.5", "blend=0", "telea"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    all_buckets = [*generate_protocol("pconv", size=args.size, per_bucket=1, seed=0), "box-half"]
    buckets = all_buckets if args.buckets == "all" else args.buckets.split(",")
    imgs = [square(read_image(p).rgb, args.size) for p in corpus_paths(args.photos, "val")]
    pairs = [
        (bucket, i, m.astype(bool))
        for protocol in ("pconv", "box-half")
        for bucket, items in generate_protocol(protocol, size=args.size, per_bucket=len(imgs), seed=0).items()
        if bucket in buckets
        for i, (m, _meta) in enumerate(items)
    ]
    hed = HEDPerceptual().eval()
    models = {v: variant(v, args.threads) for v in args.variants}
    rows: dict[str, list[tuple]] = {k: [] for k in models}
    secs = dict.fromkeys(models, 0.0)
    for bucket, i, mask in pairs:
        truth = hed.features(to_tensor([imgs[i]]))[0]
        for k, model in models.items():
            t = time.perf_counter()
            out = model.inpaint(imgs[i], mask)
            secs[k] += time.perf_counter() - t
            lp = float(HEDPerceptual.distance_from(hed.features(to_tensor([out]))[0], truth)[0])
            rows[k].append((bucket, hole_psnr(out, imgs[i], mask), ssim(out, imgs[i]), lp))
    print(
        f"| {args.size}², val | "
        + " | ".join(f"{b}: hole PSNR / SSIM / lpips_hed" for b in buckets)
        + " | ms per call |"
    )
    print("|---|" + "--:|" * (len(buckets) + 1))
    for k, rs in rows.items():
        cells = []
        for b in buckets:
            r = np.array([x[1:] for x in rs if x[0] == b])
            cells.append(f"{r[:, 0].mean():.2f} / {r[:, 1].mean():.4f} / {r[:, 2].mean():.4f}")
        print(f"| {k} | " + " | ".join(cells) + f" | {secs[k] / len(pairs) * 1000:.0f} |")


if __name__ == "__main__":
    main()
