"""Training and validation data: photos from an index (``inpaintkit prepare``) or a folder, cut into crops.

Training samples are a pure function of their global sample number ``k`` (and the seed): the photo comes from a
per-epoch permutation, and crop, scale, flip, mask and caption from ``numpy.random.default_rng([seed, k])``. So a
resumed run, a run with data-loader workers and a run on several GPUs all see exactly the samples a single
straight run would, with no data-loader state to save.

Crops follow LaMa: a square of side ``short_side * U(min_scale, max_scale)`` at a random place, resized to
``size``, flipped left-right with p = 0.5. Validation uses one fixed centre crop per photo (side ``short_side *
(min_scale + max_scale) / 2``, the mean training scale) and fixed masks seeded by ``masks.val_seed``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..errors import InpaintKitError
from ..io import IMAGE_EXTENSIONS, read_image

SPLITS = ("train", "val", "test")


INDEX_FILE = "index.jsonl"
#: Record fields holding a file path; relative ones are resolved against the index's folder.
PATH_FIELDS = ("path", "mask", "mask_path")


def read_index(path: str | Path) -> list[dict[str, Any]]:
    """Records of an index file, or of the ``index.jsonl`` in a folder: photo indexes (``inpaintkit prepare``,
    ``inpaintkit data shapes``) and forensic datasets (``inpaintkit forensics make-dataset``) alike. Every relative
    path field (``path``, ``mask``, ``mask_path``) is resolved against the index's folder."""
    path = Path(path)
    if path.is_dir():
        if not (path / INDEX_FILE).is_file():
            raise InpaintKitError(
                f"{path}: no {INDEX_FILE} in this folder; make one with `inpaintkit prepare` or "
                "`inpaintkit forensics make-dataset`"
            )
        path = path / INDEX_FILE
    if not path.is_file():
        raise InpaintKitError(f"{path}: no such index file")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            Path(rec["path"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InpaintKitError(f'{path}:{n}: not an index record (a JSON object with a "path")') from None
        for key in PATH_FIELDS:
            if rec.get(key):  # "mask": a fixed mask per image (`inpaintkit data shapes`); "mask_path": a forensic hole
                p = Path(rec[key])
                rec[key] = str(p if p.is_absolute() else path.parent / p)
        out.append(rec)
    return out


def folder_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive, hidden files and folders skipped), sorted."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def load_records(root: str | Path | None, split: str, what: str = "data.root") -> list[dict[str, Any]]:
    """Records of ``split`` from an index, or every image of a folder (a folder has no splits)."""
    if not root:
        raise InpaintKitError(f"{what} is not set; pass --set {what}=FOLDER_OR_INDEX.jsonl")
    p = Path(root)
    if p.is_dir():
        recs = [{"path": str(f)} for f in folder_images(p)]
        if not recs:
            raise InpaintKitError(f"{what}={root}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        return recs
    if not p.exists():
        raise InpaintKitError(f"{what}={root}: no such folder or index file")
    recs = [r for r in read_index(p) if r.get("split", "train") == split]
    if not recs:
        raise InpaintKitError(f"{what}={root}: the index has no {split!r} images")
    return recs


class PhotoCache:
    """Decoded photos, downscaled so the short side is at most ``short_side`` (0: full size), LRU-cached."""

    def __init__(self, short_side: int = 1024, max_items: int = 64):
        self.short_side, self.max_items = short_side, max_items
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()

    def load(self, path: str) -> np.ndarray:
        if path in self._items:
            self._items.move_to_end(path)
            return self._items[path]
        rgb = read_image(path).rgb
        h, w = rgb.shape[:2]
        if self.short_side and min(h, w) > self.short_side:
            s = self.short_side / min(h, w)
            rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        self._items[path] = rgb
        if len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return rgb


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float32 (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)


def record_mask(rec: dict[str, Any], shape: tuple[int, int]) -> np.ndarray | None:
    """The record's own mask file (bool (H, W), True = hole) at the photo's (cached) ``shape``, or None."""
    if not rec.get("mask"):
        return None
    from ..io import read_mask, resize_mask

    m = read_mask(rec["mask"])
    return m if m.shape == tuple(shape) else resize_mask(m, shape)


def _crop_mask(m: np.ndarray, y0: int, x0: int, side: int, size: int) -> np.ndarray:
    crop = m[y0 : y0 + side, x0 : x0 + side].astype(np.uint8)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST) > 0


def captions_of(rec: dict[str, Any]) -> list[str]:
    """Every caption of a record (``captions`` list or one ``caption``); none: ``[]``."""
    return list(rec.get("captions") or ([rec["caption"]] if rec.get("caption") else []))


def caption_of(rec: dict[str, Any], rng: np.random.Generator | None) -> str:
    caps = captions_of(rec)
    if not caps:
        return ""
    return caps[int(rng.integers(len(caps)))] if rng is not None else caps[0]


class TrainCrops(Dataset):
    """Map-style dataset over *global sample numbers*: ``ds[k]`` is sample k of the run (see module docstring).

    Returns ``{"image": (3,S,S) float, "mask": (1,S,S) float 1 = hole, "caption": str}``. ``mask_fn(rng, (S, S))``
    draws a bool mask; ``None`` gives an all-known mask (the trainer draws on-demand masks itself).
    """

    def __init__(
        self,
        records: list[dict[str, Any]],
        size: int,
        min_scale: float,
        max_scale: float,
        flip: bool,
        mask_fn: Callable[[np.random.Generator, tuple[int, int]], np.ndarray] | None,
        seed: int,
        cache_short_side: int = 1024,
    ):
        self.records, self.size, self.flip, self.mask_fn, self.seed = records, size, flip, mask_fn, seed
        self.scale = (min_scale, max_scale)
        self.cache = PhotoCache(cache_short_side)
        self._perm: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return 2**62  # indexed by global sample number; the sampler decides which ones are drawn

    def photo_index(self, k: int) -> int:
        epoch, pos = divmod(k, len(self.records))
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng([self.seed, epoch, 1]).permutation(len(self.records)))
        return int(self._perm[1][pos])

    def __getitem__(self, k: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, int(k)])
        rec = self.records[self.photo_index(int(k))]
        img = self.cache.load(rec["path"])
        h, w = img.shape[:2]
        side = max(1, min(h, w, round(min(h, w) * rng.uniform(*self.scale))))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = _resize(img[y0 : y0 + side, x0 : x0 + side], self.size)  # (S, S, 3) uint8
        flip = self.flip and rng.random() < 0.5
        if flip:
            crop = crop[:, ::-1]
        own = record_mask(rec, (h, w))
        if own is not None:  # the record's own mask wins over the configured mix
            mask = _crop_mask(own, y0, x0, side, self.size)
            mask = np.ascontiguousarray(mask[:, ::-1]) if flip else mask
        elif self.mask_fn is not None:
            mask = np.asarray(self.mask_fn(rng, (self.size, self.size)), bool)
        else:
            mask = np.zeros((self.size, self.size), bool)
        return {"image": to_tensor(crop), "mask": torch.from_numpy(mask)[None].float(), "caption": caption_of(rec, rng)}


class StepSampler(Sampler[int]):
    """Global sample numbers for ``rank`` from ``start_step`` on: step s, micro-batch a, position i gets
    ``k = ((s * accum + a) * world + rank) * batch + i``; ranks see disjoint samples (DistributedSampler-like)."""

    def __init__(self, start_step: int, steps: int, batch: int, accum: int = 1, rank: int = 0, world: int = 1):
        self.start, self.steps, self.batch, self.accum, self.rank, self.world = (
            start_step,
            steps,
            batch,
            accum,
            rank,
            world,
        )

    def __iter__(self) -> Iterator[int]:
        for s in range(self.start, self.steps):
            for a in range(self.accum):
                base = ((s * self.accum + a) * self.world + self.rank) * self.batch
                yield from range(base, base + self.batch)

    def __len__(self) -> int:
        return max(0, self.steps - self.start) * self.accum * self.batch


def validation_set(
    records: list[dict[str, Any]],
    count: int,
    size: int,
    scale: float,
    mask_fn: Callable[[int, np.random.Generator, tuple[int, int]], np.ndarray],
    seed: int,
    cache_short_side: int = 1024,
) -> dict[str, Any]:
    """``count`` fixed (centre crop, mask) pairs cycling through the photos: image (V,3,S,S), mask (V,1,S,S).

    ``mask_fn(j, rng, (S, S))`` draws pair j's mask with ``rng`` seeded by ``(seed, j)``.
    """
    cache = PhotoCache(cache_short_side)
    images, masks, captions = [], [], []
    for j in range(count):
        rec = records[j % len(records)]
        img = cache.load(rec["path"])
        h, w = img.shape[:2]
        side = max(1, min(h, w, round(min(h, w) * scale)))
        y0, x0 = (h - side) // 2, (w - side) // 2
        images.append(to_tensor(_resize(img[y0 : y0 + side, x0 : x0 + side], size)))
        own = record_mask(rec, (h, w))
        m = (
            _crop_mask(own, y0, x0, side, size)
            if own is not None
            else np.asarray(mask_fn(j, np.random.default_rng([seed, j]), (size, size)), bool)
        )
        masks.append(torch.from_numpy(m)[None].float())
        captions.append(caption_of(rec, None))
    return {"image": torch.stack(images), "mask": torch.stack(masks), "caption": captions}
