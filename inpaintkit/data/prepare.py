"""``inpaintkit prepare``: index a folder of photos into reproducible train/val/test splits.

The index is JSON lines, one record per source image::

    {"path": "sub/photo.jpg", "split": "train", "width": 2560, "height": 1600, "captions": ["a kite ..."]}

``path`` is relative to the index's folder when the image lies below it, absolute otherwise. The split is made per
source image (all captions of an image share its split): the sorted image list is shuffled with the seed and cut by
the fractions, so the same folder and seed always give the same index. ``captions`` appears only when captions were
given: a CSV/JSONL of (image, caption) rows, a COCO captions JSON or a CUB-style folder of one ``.txt`` per image
(``inpaintkit.data.captions``); an image keeps all its captions; images are matched by path relative to the
images folder, else by file name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InpaintKitError
from ..io import atomic_write_bytes
from .captions import caption_key, match_captions, read_captions
from .dataset import SPLITS, folder_images


def parse_split(split: str) -> tuple[float, float, float]:
    try:
        parts = [float(x) for x in split.split(",")]
    except ValueError:
        raise InpaintKitError(f"--split {split!r}: expected three fractions like 0.8,0.1,0.1") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or not abs(sum(parts) - 1.0) < 1e-6:
        raise InpaintKitError(f"--split {split!r}: expected three fractions >= 0 that sum to 1, like 0.8,0.1,0.1")
    return parts[0], parts[1], parts[2]


def prepare(
    images: str | Path,
    out: str | Path,
    *,
    captions: str | Path | None = None,
    split: str = "0.8,0.1,0.1",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Write the index ``out`` for the photos under ``images``; returns its records."""
    folder = Path(images)
    if not folder.is_dir():
        raise InpaintKitError(f"--images {folder}: not a folder")
    fractions = parse_split(split)
    files = folder_images(folder)
    if not files:
        raise InpaintKitError(f"--images {folder}: no images in this folder")
    caps = read_captions(captions) if captions else None
    matched = match_captions(files, folder, caps) if caps is not None else {}
    n = len(files)
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    split_of = {}
    for rank, i in enumerate(order):
        split_of[i] = SPLITS[0] if rank < n_train else SPLITS[1] if rank < n_train + n_val else SPLITS[2]
    out = Path(out)
    base = out.resolve().parent
    records = []
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                w, h = im.size
        except OSError:
            raise InpaintKitError(f"{f}: not an image file Pillow can read") from None
        full = f.resolve()
        try:
            path = os.path.relpath(full, base) if full.is_relative_to(base) else str(full)
        except ValueError:
            path = str(full)
        rec: dict[str, Any] = {"path": path, "split": split_of[i], "width": w, "height": h}
        if caps is not None:
            rec["captions"] = matched.get(str(f), [])
        records.append(rec)
    if caps is not None:
        known = {caption_key(f.relative_to(folder).as_posix()) for f in files} | {f.stem for f in files}
        unknown = sorted(k for k in caps if k not in known and k.rsplit("/", 1)[-1] not in known)
        if unknown:
            raise InpaintKitError(
                f"--captions {captions}: {len(unknown)} caption row(s) name images not in {folder}, e.g. {unknown[0]!r}"
            )
    atomic_write_bytes(out, "".join(json.dumps(r) + "\n" for r in records).encode())
    return records
