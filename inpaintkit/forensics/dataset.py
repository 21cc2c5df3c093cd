"""Honest original-vs-inpainted datasets (``inpaintkit forensics make-dataset``).

The project that seeded us reached 63 % accuracy *with* a shortcut: its originals kept their native resolution while
the inpainted copies were 256² resizes. Here every sample, real or inpainted, goes through one function
(``_encode_sample``) after the same crop and resize: same size, same format, same JPEG quality, no metadata, and a
file name that is a hash, so the only difference between the classes is the inpainted pixels.

For each source image and each of its ``crops_per_image`` crops (a random square, resized to ``size``): one real
sample and ``per_image`` inpainted samples, each from one of the listed inpainters (in turn) with a mask of one of
the listed kinds (drawn at random). Splits are by source image, so no photo is in two splits. Every random choice
comes from a generator seeded with (seed, source id, crop), so the output is the same for any ``--jobs`` and engine
(``--engine local|ray``: each worker builds the inpainters once and writes its samples itself) and a run that was
interrupted resumes where it stopped (each finished source leaves a record file).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from ..data.dataset import INDEX_FILE
from ..engine import EngineOptions, Failure, map_items
from ..errors import InpaintKitError
from ..io import atomic_write_bytes, encode_image, list_images, read_image, write_mask

SPEC_FILE = "dataset.json"
SPLITS = ("train", "val", "test")


@dataclass
class DatasetSpec:
    """Everything that determines a dataset's content (saved as ``dataset.json``; a resume must match it)."""

    inpainters: list[str]
    masks: list[str]
    per_image: int = 3
    crops_per_image: int = 1
    size: int = 256
    #: crop side drawn log-uniformly between ``size`` (1:1 pixels) and ``max_crop`` x the short side
    max_crop: float = 1.0
    #: when set, (lo, hi): crop side = size / s with s log-uniform in [lo, hi] (1 = native pixels, 0.5 = 2x
    #: downsizing), whatever the photo's resolution; replaces ``max_crop``. Heavy downsizing averages away the
    #: sensor noise and texture statistics that tell a smooth fill from real content.
    scale: list[float] | None = None
    format: str = "png"
    quality: int = 95
    seed: int = 0
    val_frac: float = 0.1
    test_frac: float = 0.2
    #: source ids matching these shell patterns always go to the test split (held-out photos)
    test_sources: list[str] = field(default_factory=list)

    def check(self) -> None:
        if not self.inpainters:
            raise InpaintKitError("--inpainters: name at least one inpainter (e.g. telea,ns)")
        if not self.masks:
            raise InpaintKitError("--masks: name at least one mask kind (e.g. irregular,boxes)")
        if self.per_image < 1 or self.crops_per_image < 1:
            raise InpaintKitError("--per-image and --crops-per-image must be at least 1")
        if self.size < 32:
            raise InpaintKitError(f"--size {self.size}: must be at least 32")
        if self.format.lower() not in ("png", "jpg", "jpeg", "webp"):
            raise InpaintKitError(f"--format {self.format!r}: choose png, jpg or webp")
        if not 1 <= self.quality <= 100:
            raise InpaintKitError(f"--quality {self.quality}: must be 1-100")
        if not (0 <= self.val_frac < 1 and 0 <= self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise InpaintKitError("--val-frac and --test-frac must be in [0, 1) with a sum below 1")
        if not 0 < self.max_crop <= 1:
            raise InpaintKitError(f"--max-crop {self.max_crop}: must be in (0, 1]")
        if self.scale is not None and not (len(self.scale) == 2 and 0 < self.scale[0] <= self.scale[1] <= 1):
            raise InpaintKitError(f"--scale {self.scale}: give LO-HI with 0 < LO <= HI <= 1 (e.g. 0.5-1.0)")


def source_id(path: Path, root: Path | None = None) -> str:
    """A stable id for a source image: its path below ``root`` without extension, '/' -> '__'."""
    rel = path.relative_to(root) if root is not None and path.is_relative_to(root) else Path(path.name)
    return str(rel.with_suffix("")).replace(os.sep, "__")


def split_for(sid: str, spec: DatasetSpec) -> str:
    """The split of a source: forced to test by ``test_sources``, else a seeded hash of its id."""
    if any(fnmatch.fnmatch(sid, p) for p in spec.test_sources):
        return "test"
    u = zlib.crc32(f"{spec.seed}:{sid}".encode()) / 2**32
    return "test" if u < spec.test_frac else ("val" if u < spec.test_frac + spec.val_frac else "train")


def _sample_name(spec: DatasetSpec, sid: str, crop: int, k: int) -> str:
    """A file name that says nothing about the label: a hash of (seed, source, crop, k)."""
    return hashlib.sha1(f"{spec.seed}|{sid}|{crop}|{k}".encode()).hexdigest()[:16]


def parse_scale(text: str) -> list[float] | None:
    """'0.5-1.0' -> [0.5, 1.0]; '1' -> [1.0, 1.0]; '' -> None (the ``--scale`` flag)."""
    if not text.strip():
        return None
    try:
        parts = [float(x) for x in text.split("-")]
    except ValueError:
        raise InpaintKitError(f"--scale {text!r}: give LO-HI or one number, e.g. 0.5-1.0 or 1") from None
    if len(parts) not in (1, 2):
        raise InpaintKitError(f"--scale {text!r}: give LO-HI or one number, e.g. 0.5-1.0 or 1")
    return [parts[0], parts[-1]]


def random_crop(
    rgb: np.ndarray, rng: np.random.Generator, size: int, max_crop: float = 1.0, scale: list[float] | None = None
) -> np.ndarray:
    """A random square crop resized to size x size.

    Its side is log-uniform in [size, max_crop * short side], or, with ``scale=(lo, hi)``, size / s for s
    log-uniform in [lo, hi] (capped at the short side), so the sample keeps (nearly) native pixel statistics.
    """
    h, w = rgb.shape[:2]
    short = min(h, w)
    if scale is not None:
        s = float(np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1])))) if scale[1] > scale[0] else scale[0]
        side = min(short, int(round(size / s)))
    else:
        hi = max(1, int(short * max_crop))
        lo = min(size, hi)
        side = int(round(np.exp(rng.uniform(np.log(lo), np.log(hi))))) if hi > lo else hi
    t = int(rng.integers(0, h - side + 1))
    l = int(rng.integers(0, w - side + 1))
    crop = rgb[t : t + side, l : l + side]
    if side != size:
        # INTER_AREA when shrinking (no aliasing), cubic when a small source must grow
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop)


def encode_sample(rgb: np.ndarray, spec: DatasetSpec) -> bytes:
    """The one encoder every sample goes through, real or inpainted (same format, quality, no metadata)."""
    return encode_image(rgb, None, spec.format, quality=spec.quality)


def _ext(spec: DatasetSpec) -> str:
    return {"jpeg": "jpg"}.get(spec.format.lower(), spec.format.lower())


@dataclass
class DatasetWork:
    """The engine's work factory: each worker builds the inpainters and mask generators once."""

    spec: DatasetSpec
    out: str

    def __call__(self) -> _SourceBuilder:
        return _SourceBuilder(self.spec, Path(self.out))


class _SourceBuilder:
    def __init__(self, spec: DatasetSpec, out_dir: Path):
        from ..inpainters import create_inpainter_from_spec
        from ..masks import create_mask_generator

        cv2.setNumThreads(1)
        self.spec, self.out_dir = spec, out_dir
        self.inpainters = [create_inpainter_from_spec(s) for s in spec.inpainters]
        self.gens = [create_mask_generator(k) for k in spec.masks]

    def __call__(self, item: tuple[str, str]) -> list[dict[str, Any]]:
        return _build_source(item, self.spec, self.out_dir, self.inpainters, self.gens)


def _build_source(
    item: tuple[str, str], spec: DatasetSpec, out_dir: Path, inpainters: list, gens: list
) -> list[dict[str, Any]]:
    """All samples of one source image; writes files, returns index records (also saved as a record file)."""
    path, sid = item
    rgb = read_image(path).rgb
    split = split_for(sid, spec)
    sid_hash = zlib.crc32(sid.encode())
    ext = _ext(spec)
    records = []
    for c in range(spec.crops_per_image):
        rng = np.random.default_rng([spec.seed, sid_hash, c])
        crop = random_crop(rgb, rng, spec.size, spec.max_crop, spec.scale)
        name = _sample_name(spec, sid, c, 0)
        atomic_write_bytes(out_dir / "images" / f"{name}.{ext}", encode_sample(crop, spec))
        records.append(
            {
                "path": f"images/{name}.{ext}",
                "label": 0,
                "inpainter": None,
                "mask_path": None,
                "mask_kind": None,
                "source_id": sid,
                "crop": c,
                "split": split,
                "hole_ratio": 0.0,
            }
        )
        for k in range(spec.per_image):
            which = (c * spec.per_image + k) % len(inpainters)  # every inpainter equally often
            kind = int(rng.integers(len(gens)))
            mask = gens[kind](rng, (spec.size, spec.size))
            fake = inpainters[which].inpaint(crop, mask)
            name = _sample_name(spec, sid, c, k + 1)
            atomic_write_bytes(out_dir / "images" / f"{name}.{ext}", encode_sample(fake, spec))
            write_mask(out_dir / "masks" / f"{name}.png", mask)
            records.append(
                {
                    "path": f"images/{name}.{ext}",
                    "label": 1,
                    "inpainter": spec.inpainters[which],
                    "mask_path": f"masks/{name}.png",
                    "mask_kind": spec.masks[kind],
                    "source_id": sid,
                    "crop": c,
                    "split": split,
                    "hole_ratio": round(float(mask.mean()), 6),
                }
            )
    atomic_write_bytes(out_dir / "records" / f"{sid}.json", json.dumps(records).encode())
    return records


def collect_sources(images: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """(path, source id) of every image given directly or inside a given folder; ids must be unique."""
    out: list[tuple[Path, str]] = []
    for item in images:
        p = Path(item)
        if p.is_dir():
            out += [(f, source_id(f, p)) for f in list_images(p)]
        elif p.is_file():
            out.append((p, source_id(p)))
        else:
            raise InpaintKitError(f"{p}: no such image or folder")
    ids = [sid for _, sid in out]
    dup = sorted({s for s in ids if ids.count(s) > 1})
    if dup:
        raise InpaintKitError(
            f"source images with the same name: {', '.join(dup)}; rename them (ids come from file names)"
        )
    if not out:
        raise InpaintKitError("no source images found; pass image files or folders with --images")
    return sorted(out, key=lambda t: t[1])


def make_dataset(
    images: Iterable[str | Path],
    out: str | Path,
    spec: DatasetSpec,
    *,
    jobs: int | None = 1,
    progress: bool = True,
    engine: EngineOptions | None = None,
) -> Path:
    """Build (or resume) a dataset in ``out``; returns the path of ``index.jsonl``.

    ``engine`` says where the sources are processed (default: ``jobs`` local processes); an unreadable source
    is reported and left out of the index, and the next run retries it."""
    engine = engine or EngineOptions("local", jobs)
    engine.check()
    spec.check()
    from ..inpainters import create_inpainter_from_spec
    from ..masks import create_mask_generator

    for s in spec.inpainters:  # fail on a bad name now, not in a worker
        create_inpainter_from_spec(s)
    for k in spec.masks:
        create_mask_generator(k)
    sources = collect_sources(images)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec_p = out / SPEC_FILE
    if spec_p.is_file():
        # a folder made before a setting existed holds that setting's default
        old = {**asdict(DatasetSpec(inpainters=[], masks=[])), **json.loads(spec_p.read_text())}
        if old != asdict(spec):
            diff = sorted(k for k in set(old) | set(asdict(spec)) if old.get(k) != asdict(spec).get(k))
            raise InpaintKitError(
                f"{out}: holds a dataset made with other settings ({', '.join(diff)}); "
                "use another --out folder or the same settings to resume"
            )
    else:
        atomic_write_bytes(spec_p, (json.dumps(asdict(spec), indent=2) + "\n").encode())
    todo = [(str(p), sid) for p, sid in sources if not (out / "records" / f"{sid}.json").is_file()]
    if len(sources) > len(todo):
        print(
            f"make-dataset: {len(sources) - len(todo)} of {len(sources)} sources already done in {out}", file=sys.stderr
        )
    failed = set()
    for i, res in map_items(
        engine,
        DatasetWork(spec, str(out)),
        todo,
        total=len(todo),
        desc="make-dataset",
        progress=progress and bool(todo),
    ):
        if isinstance(res, Failure):
            failed.add(todo[i][1])
            print(f"error: {res.message}", file=sys.stderr)
    lines = []
    for _, sid in sources:
        if sid not in failed:
            lines += [json.dumps(r) for r in json.loads((out / "records" / f"{sid}.json").read_text())]
    index = out / INDEX_FILE
    atomic_write_bytes(index, ("\n".join(lines) + "\n").encode())
    if failed:
        raise InpaintKitError(
            f"{len(failed)} of {len(sources)} source images failed (listed above); {index} "
            "holds the others; fix or remove them and re-run to finish"
        )
    return index
