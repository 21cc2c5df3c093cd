"""``evaluate()``: run inpainters over images × masks, score every result, keep going where a run stopped.

Work is planned first (which images, which mask buckets, which (image, mask) pairs, which rows are already in
``metrics.csv``), then done one image at a time — in this process or, with ``jobs > 1`` or on Ray
(``inpaintkit.engine``), in a pool of workers, each holding its own inpainters. After every image the CSV is
rewritten atomically (temp file + rename)
in a fixed order (model, bucket, image, mask as planned), so an interrupted run leaves a valid CSV that the next run
with the same ``out`` resumes from, and the output does not depend on ``jobs``.

``seconds`` is the wall time of one ``Inpainter.inpaint()`` call (input checks, HD strategy, padding and pasting
back included), after each model has been warmed up once on a small image, so one-off costs (JIT compilation,
first-call allocations) are not charged to the first image.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..engine import Failure, map_items
from ..errors import InpaintKitError
from ..inpainters import Inpainter, create_inpainter_from_spec, get_inpainter_entry, parse_model_spec
from ..io import IMAGE_EXTENSIONS, atomic_write_bytes, list_images, read_image, read_mask, resize_mask, write_image
from ..metrics import MIN_SIDE, image_metrics
from .plan import (
    Bucket,
    EvalConfig,
    ImageItem,
    Key,
    MaskItem,
    Plan,
    row_key,  # noqa: F401 (API)
    safe_name,
)
from .realism import fill_path

COLUMNS = ("model", "bucket", "image", "mask", "psnr", "hole_psnr", "ssim", "l1", "lpips_hed", "seconds")
VALUE_COLUMNS = COLUMNS[4:]
#: The columns before lpips_hed existed: such a metrics.csv is read (lpips_hed NaN, computed on resume).
_OLD_COLUMNS = tuple(c for c in COLUMNS if c != "lpips_hed")


# ---------------------------------------------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------------------------------------------
def center_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre crop to a square of the short side, then resize to ``size`` x ``size`` (area when shrinking)."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    t, l = (h - s) // 2, (w - s) // 2
    crop = rgb[t : t + s, l : l + s]
    if s == size:
        return np.ascontiguousarray(crop)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if s > size else cv2.INTER_CUBIC)


def load_image(path: Path, size: int | None) -> np.ndarray:
    rgb = read_image(path).rgb
    return center_square(rgb, size) if size else rgb


def discover_buckets(masks: Path, max_masks: int | None) -> list[tuple[str, list[Path]]]:
    """``masks`` is a folder of mask files (one bucket named after the folder) and/or of sub-folders (one bucket
    each, named after the sub-folder). Buckets are sorted by name; each keeps its first ``max_masks`` files."""
    if not masks.exists():
        raise InpaintKitError(f"--masks {masks}: no such folder")
    if not masks.is_dir():
        raise InpaintKitError(f"--masks {masks}: not a folder; give a folder of mask PNGs or of bucket sub-folders")
    out: list[tuple[str, list[Path]]] = []
    top = list_images(masks)
    if top:
        out.append((masks.resolve().name or "masks", top))
    for sub in sorted(p for p in masks.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = list_images(sub)
        if files:
            out.append((sub.name, files))
    if not out:
        raise InpaintKitError(
            f"--masks {masks}: no mask files ({', '.join(IMAGE_EXTENSIONS)}) in it or in its "
            "sub-folders; make some with `inpaintkit masks --protocol pconv --output DIR`"
        )
    if max_masks is not None:
        out = [(name, files[:max_masks]) for name, files in out]
    return out


def _stem_match(mask_stem: str, image_stems: dict[str, str]) -> str | None:
    for suffix in ("", "_mask", "-mask"):
        if suffix and not mask_stem.endswith(suffix):
            continue
        stem = mask_stem[: len(mask_stem) - len(suffix)] if suffix else mask_stem
        if stem in image_stems:
            return image_stems[stem]
    return None


def make_plan(cfg: EvalConfig, log: Callable[[str], None]) -> Plan:
    """Read every image and mask once (unreadable ones are skipped and logged), pair them, pick the samples."""
    if not cfg.images.exists():
        raise InpaintKitError(f"--images {cfg.images}: no such folder")
    files = list_images(cfg.images)
    if not files:
        raise InpaintKitError(f"--images {cfg.images}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    if cfg.max_images is not None:
        files = files[: cfg.max_images]
    bucket_files = discover_buckets(cfg.masks, cfg.max_masks)
    skipped: list[tuple[str, str]] = []

    images: list[ImageItem] = []
    for p in files:
        try:
            rgb = load_image(p, cfg.size)
        except InpaintKitError as e:
            skipped.append((str(p), str(e)))
            log(f"skip image: {e}")
            continue
        if min(rgb.shape[:2]) < MIN_SIDE:
            reason = f"{p}: {rgb.shape[1]}x{rgb.shape[0]} is below {MIN_SIDE}x{MIN_SIDE}, too small for SSIM"
            skipped.append((str(p), reason))
            log(f"skip image: {reason}")
            continue
        images.append(ImageItem(p.name, p, rgb.shape[:2]))
    if not images:
        raise InpaintKitError(f"--images {cfg.images}: none of the {len(files)} images could be read")

    buckets: list[Bucket] = []
    for name, paths in bucket_files:
        items = []
        for p in paths:
            try:
                m = read_mask(p)
            except InpaintKitError as e:
                skipped.append((str(p), str(e)))
                log(f"skip mask: {e}")
                continue
            if not m.any():
                reason = f"{p}: mask has no hole pixels (white = 255 = hole)"
                skipped.append((str(p), reason))
                log(f"skip mask: {reason}")
                continue
            items.append(MaskItem(p.name, p, m.shape, float(m.mean())))
        if items:
            buckets.append(Bucket(name, items))
    if not buckets:
        raise InpaintKitError(f"--masks {cfg.masks}: none of the mask files could be used")

    stems = {Path(im.name).stem: im.name for im in images}
    by_name = {im.name: im for im in images}
    pairs: list[tuple[str, str, str]] = []
    resized = 0
    for b in buckets:
        matches = {m.name: _stem_match(Path(m.name).stem, stems) for m in b.masks}
        b.paired = all(v is not None for v in matches.values())
        if b.paired:
            # one mask per image, matched by stem; report order is image order
            order = {im.name: i for i, im in enumerate(images)}
            bp = sorted(((matches[m.name], m) for m in b.masks), key=lambda t: (order[t[0]], t[1].name))
        else:
            bp = [(im.name, m) for im in images for m in b.masks]
        for image_name, m in bp:
            pairs.append((b.name, image_name, m.name))
            resized += m.shape != by_name[image_name].shape

    plan = Plan(list(cfg.models), images, buckets, pairs, skipped, resized)
    for b in buckets:  # samples: `samples` images evenly spread over the bucket's images, one mask each
        seen: dict[str, tuple[str, str]] = {}
        masks_cycle = [m.name for m in b.masks]
        for bucket, image_name, mask_name in pairs:
            if bucket != b.name or image_name in seen:
                continue
            if not b.paired:  # spread the samples over different masks too
                mask_name = masks_cycle[len(seen) % len(masks_cycle)]
            seen[image_name] = (image_name, mask_name)
        cands, k = list(seen.values()), min(max(0, cfg.samples), len(seen))
        plan.samples[b.name] = [cands[i * len(cands) // k] for i in range(k)] if k else []
    return plan


# ---------------------------------------------------------------------------------------------------------------
# metrics.csv
# ---------------------------------------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.6f}"


def write_metrics_csv(path: Path, rows: list[dict]) -> None:
    """All rows, atomically (a reader sees the old file or the new one, never half of one)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow(
            [r["model"], r["bucket"], r["image"], r["mask"], *(_fmt(r.get(c, float("nan"))) for c in VALUE_COLUMNS)]
        )
    atomic_write_bytes(path, buf.getvalue().encode())


def read_metrics_csv(path: Path) -> list[dict]:
    """Rows of a metrics.csv written by ``write_metrics_csv`` (values as floats)."""
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or tuple(header) not in (COLUMNS, _OLD_COLUMNS):
                raise InpaintKitError(
                    f"{path}: not a metrics.csv of `inpaintkit evaluate` (columns "
                    f"{','.join(header or [])}); choose another --out"
                )
            columns = tuple(header)
            rows = []
            for line in reader:
                if len(line) != len(columns):
                    raise InpaintKitError(
                        f"{path}: line {reader.line_num} has {len(line)} fields, expected "
                        f"{len(columns)}; delete the file to start over"
                    )
                r = {"lpips_hed": float("nan"), **dict(zip(columns, line))}
                for c in VALUE_COLUMNS:
                    r[c] = float(r[c])
                rows.append(r)
            return rows
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InpaintKitError(f"{path}: cannot read ({e}); delete it to start over") from None


# ---------------------------------------------------------------------------------------------------------------
# the work for one image (runs in a worker process or a Ray worker when the engine is parallel)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class ImageJob:
    image: str
    path: str
    size: int | None
    #: (model, bucket, mask name, mask path) rows to compute
    rows: list[tuple[str, str, str, str]]
    #: (bucket, mask name) pairs whose pictures go to the sample grid
    samples: list[tuple[str, str]]
    sample_dir: str


@dataclass
class ImageResult:
    image: str
    rows: list[dict]
    skipped: list[tuple[str, str]]
    real: np.ndarray | None = None  # (2048,) Inception features of the ground truth
    fake: dict[Key, np.ndarray] = field(default_factory=dict)  # key -> (2048,)
    lpips: dict[Key, float] = field(default_factory=dict)
    hed_real: np.ndarray | None = None  # (1024,) pooled VGG16 features of the ground truth (kid_hed)
    hed_fake: dict[Key, np.ndarray] = field(default_factory=dict)  # key -> (1024,)
    noise_real: np.ndarray | None = None  # noise-branch image features of the ground truth (--realism)
    noise_fake: dict[Key, np.ndarray] = field(default_factory=dict)  # key -> the composite's


@dataclass(frozen=True)
class WorkerConfig:
    models: tuple[str, ...]
    fid_weights: str | None
    lpips_weights: str | None
    vgg_weights: str | None
    device: str
    single_thread: bool
    hed: bool = False
    realism: bool = False
    #: --realism-cnn: folder where every composite is kept for the CNN detector ("" = none)
    fills_dir: str = ""


class _Worker:
    def __init__(self, wc: WorkerConfig, models: dict[str, Inpainter] | None = None):
        if wc.single_thread:  # jobs processes share the cores: one thread each
            import torch

            torch.set_num_threads(1)
            cv2.setNumThreads(1)
        self.models = models or {spec: create_inpainter_from_spec(spec) for spec in wc.models}
        warm_img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        warm_mask = np.zeros((64, 64), bool)
        warm_mask[24:40, 24:40] = True
        for m in self.models.values():  # JIT compilation etc. is not charged to the first image
            m.inpaint(warm_img, warm_mask)
        self.fid = self.lpips = None
        if wc.fid_weights:
            from .perceptual import FIDFeatures

            self.fid = FIDFeatures(wc.fid_weights, wc.device)
        if wc.lpips_weights:
            from .perceptual import LPIPS

            self.lpips = LPIPS(wc.lpips_weights, wc.vgg_weights).to(wc.device)
        self.hed = None
        if wc.hed:
            from ..backbones.vgg import HEDPerceptual

            self.hed = HEDPerceptual(wc.vgg_weights).to(wc.device)
        self.noise = None
        if wc.realism:
            from .realism import NoiseFeatures

            self.noise = NoiseFeatures()
        self.fills_dir = Path(wc.fills_dir) if wc.fills_dir else None

    def __call__(self, job: ImageJob) -> ImageResult:  # the engine's work function
        return self.run(job)

    def run(self, job: ImageJob) -> ImageResult:
        res = ImageResult(job.image, [], [])
        rgb = load_image(Path(job.path), job.size)
        h, w = rgb.shape[:2]
        masks: dict[str, np.ndarray] = {}
        sample_set = set(job.samples)
        fakes: list[tuple[Key, np.ndarray]] = []
        hed_gt = None
        if self.hed is not None:
            from .perceptual import to_tensor

            dev = self.hed.vgg.mean.device
            hed_gt, pooled = self.hed.features(to_tensor([rgb], dev))  # ground truth: once per image
            res.hed_real = pooled[0].cpu().numpy()
        if self.noise is not None:
            res.noise_real = self.noise(rgb)
        for model, bucket, mask_name, mask_path in job.rows:
            if mask_path not in masks:
                m = read_mask(mask_path)
                masks[mask_path] = m if m.shape == (h, w) else resize_mask(m, (h, w))
            mask = masks[mask_path]
            key = (model, bucket, job.image, mask_name)
            inp = self.models[model]
            try:
                t0 = time.perf_counter()
                out = inp.inpaint(rgb, mask)
                seconds = time.perf_counter() - t0
            except InpaintKitError as e:
                res.skipped.append((f"{model} on {job.image} + {bucket}/{mask_name}", str(e)))
                continue
            lpips_hed = float("nan")
            if self.hed is not None:
                taps, pooled = self.hed.features(to_tensor([out], dev))
                lpips_hed = float(self.hed.distance_from(taps, hed_gt)[0])
                res.hed_fake[key] = pooled[0].cpu().numpy()
            res.rows.append(
                {
                    "model": model,
                    "bucket": bucket,
                    "image": job.image,
                    "mask": mask_name,
                    **image_metrics(out, rgb, mask),
                    "lpips_hed": lpips_hed,
                    "seconds": seconds,
                }
            )
            if self.noise is not None:
                res.noise_fake[key] = self.noise(out)
            if self.fills_dir is not None:
                write_image(fill_path(self.fills_dir, key), out)
            if self.fid is not None:
                fakes.append((key, out))
            if self.lpips is not None:
                res.lpips[key] = self.lpips.score(out, rgb)
            if job.sample_dir and (bucket, mask_name) in sample_set:
                d = Path(job.sample_dir) / safe_name(bucket) / f"{safe_name(job.image)}__{safe_name(mask_name)}"
                write_image(d / f"{safe_name(model)}.png", out)
                write_image(d / "gt.png", rgb)
                write_image(d / "input.png", np.where(mask[..., None], np.uint8(255), rgb))  # hole shown white
        if self.fid is not None:
            res.real = self.fid([rgb])[0]
            for i in range(0, len(fakes), 8):  # batches of 8 keep memory small
                chunk = fakes[i : i + 8]
                for (key, _), feat in zip(chunk, self.fid([o for _, o in chunk])):
                    res.fake[key] = feat
        return res


@dataclass
class EvalWork:
    """The engine's work factory: each worker builds its ``_Worker`` (models, FID/LPIPS nets) once."""

    wc: WorkerConfig
    #: the worker already built in this process (used when the work runs here; never pickled)
    prebuilt: _Worker | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "prebuilt": None}

    def __call__(self) -> _Worker:
        return self.prebuilt or _Worker(self.wc)


# ---------------------------------------------------------------------------------------------------------------
# per-image cache of perceptual values (so resume keeps them)
# ---------------------------------------------------------------------------------------------------------------
_SEP = "\x1f"


def _cache_path(out: Path, image: str) -> Path:
    return out / "cache" / f"{safe_name(image)}.npz"


@dataclass
class PerceptualCache:
    """Per-image perceptual values kept between runs: FID and kid_hed features, LPIPS values."""

    real: np.ndarray | None = None  # (2048,) Inception features of the ground truth
    fake: dict[Key, np.ndarray] = field(default_factory=dict)
    lpips: dict[Key, float] = field(default_factory=dict)
    hed_real: np.ndarray | None = None  # (1024,) pooled VGG16 features of the ground truth
    hed_fake: dict[Key, np.ndarray] = field(default_factory=dict)
    noise_real: np.ndarray | None = None  # noise-branch image features of the ground truth (--realism)
    noise_fake: dict[Key, np.ndarray] = field(default_factory=dict)

    def absorb(self, res: ImageResult) -> None:
        self.real = res.real if res.real is not None else self.real
        self.hed_real = res.hed_real if res.hed_real is not None else self.hed_real
        self.noise_real = res.noise_real if res.noise_real is not None else self.noise_real
        self.fake.update(res.fake)
        self.lpips.update(res.lpips)
        self.hed_fake.update(res.hed_fake)
        self.noise_fake.update(res.noise_fake)


def _keys(z, name: str) -> list[Key]:
    return [tuple(k.split(_SEP)) for k in z[name].tolist()] if name in z else []


def load_cache(out: Path, image: str) -> PerceptualCache:
    p = _cache_path(out, image)
    if not p.is_file():
        return PerceptualCache()
    with np.load(p, allow_pickle=False) as z:
        c = PerceptualCache(
            real=z["real"] if z["real"].size else None,
            fake=dict(zip(_keys(z, "fake_keys"), z["fake"])),
            lpips=dict(zip(_keys(z, "lpips_keys"), z["lpips"].tolist())),
        )
        if "hed_real" in z:  # caches written before kid_hed have none
            c.hed_real = z["hed_real"] if z["hed_real"].size else None
            c.hed_fake = dict(zip(_keys(z, "hed_fake_keys"), z["hed_fake"]))
        if "noise_real" in z:  # caches written before --realism have none
            c.noise_real = z["noise_real"] if z["noise_real"].size else None
            c.noise_fake = dict(zip(_keys(z, "noise_fake_keys"), z["noise_fake"]))
        return c


def save_cache(out: Path, image: str, c: PerceptualCache) -> None:
    def stack(d: dict, dim: int) -> np.ndarray:
        return np.stack(list(d.values())).astype(np.float32) if d else np.zeros((0, dim), np.float32)

    buf = io.BytesIO()
    np.savez(
        buf,
        real=np.asarray(c.real if c.real is not None else np.zeros(0), np.float32),
        fake_keys=np.array([_SEP.join(k) for k in c.fake], dtype=str),
        fake=stack(c.fake, 2048),
        lpips_keys=np.array([_SEP.join(k) for k in c.lpips], dtype=str),
        lpips=np.array(list(c.lpips.values()), np.float64),
        hed_real=np.asarray(c.hed_real if c.hed_real is not None else np.zeros(0), np.float32),
        hed_fake_keys=np.array([_SEP.join(k) for k in c.hed_fake], dtype=str),
        hed_fake=stack(c.hed_fake, 1024),
        noise_real=np.asarray(c.noise_real if c.noise_real is not None else np.zeros(0), np.float32),
        noise_fake_keys=np.array([_SEP.join(k) for k in c.noise_fake], dtype=str),
        noise_fake=stack(c.noise_fake, len(c.noise_real) if c.noise_real is not None else 0),
    )
    atomic_write_bytes(_cache_path(out, image), buf.getvalue())


# ---------------------------------------------------------------------------------------------------------------
# the whole run
# ---------------------------------------------------------------------------------------------------------------
def check_models(specs: tuple[str, ...]) -> None:
    """Unknown names fail before any work, with the list of valid ones."""
    if not specs:
        raise InpaintKitError("no --model given; name at least one (see `inpaintkit list`)")
    if len(set(specs)) != len(specs):
        raise InpaintKitError(f"--model given twice: {', '.join(sorted({s for s in specs if specs.count(s) > 1}))}")
    for spec in specs:
        get_inpainter_entry(parse_model_spec(spec)[0])


def _check_run_file(cfg: EvalConfig) -> None:
    """The settings that change values must match the run being resumed."""
    p = cfg.out / "run.json"
    settings = {"size": cfg.size}
    if p.is_file():
        try:
            old = json.loads(p.read_text()).get("settings", {})
        except (OSError, ValueError):
            old = {}
        if old and old != settings and (cfg.out / "metrics.csv").is_file():
            raise InpaintKitError(
                f"--out {cfg.out} holds a run made with {old}, not {settings}; "
                "use the same settings to resume, or another --out"
            )
    atomic_write_bytes(p, json.dumps({"settings": settings, "models": list(cfg.models)}, indent=2).encode())


def evaluate(cfg: EvalConfig, log: Callable[[str], None] | None = None, progress: bool = True) -> dict:
    """Run the evaluation described by ``cfg`` and write ``metrics.csv``, ``summary.json`` and the report.

    Returns the summary (also written to ``summary.json``).
    """
    from .report import write_report

    log = log or (lambda s: print(s, file=sys.stderr))
    eng = cfg.engine_options
    eng.check()
    if cfg.size is not None and cfg.size < MIN_SIDE:
        raise InpaintKitError(f"--size {cfg.size}: must be at least {MIN_SIDE}")
    check_models(cfg.models)
    if cfg.realism_cnn and not cfg.realism:
        raise InpaintKitError("--realism-cnn: only with --realism (it adds the CNN detector to the realism stage)")
    if cfg.realism and cfg.realism_folds < 2:
        raise InpaintKitError(f"--realism-folds {cfg.realism_folds}: must be at least 2 (cross-validation by photo)")
    for flag, p in (
        ("--fid-weights", cfg.fid_weights),
        ("--lpips-weights", cfg.lpips_weights),
        ("--vgg-weights", cfg.vgg_weights),
    ):
        if p is not None and not Path(p).is_file():
            raise InpaintKitError(f"{flag} {p}: no such file")
    from .perceptual import hed_available

    want_hed = cfg.hed and hed_available(cfg.vgg_weights)
    if cfg.out.exists() and not cfg.out.is_dir():
        raise InpaintKitError(f"--out {cfg.out}: is a file; give a folder")
    plan = make_plan(cfg, log)
    if cfg.realism and len(plan.images) < 2:
        raise InpaintKitError(
            f"--realism: {len(plan.images)} usable image(s) in {cfg.images}; the detectors are cross-validated "
            "by photo and need at least 2 (10 or more for a useful estimate)"
        )
    cfg.out.mkdir(parents=True, exist_ok=True)
    _check_run_file(cfg)
    # bad options / checkpoints fail here, once, before any work; on one local job these instances do the work
    models = {spec: create_inpainter_from_spec(spec) for spec in cfg.models}
    want_fid, want_lpips = cfg.fid_weights is not None, cfg.lpips_weights is not None
    fills_dir = cfg.out / "realism" / "fills"  # --realism-cnn: the CNN detector trains on the composites
    wc = WorkerConfig(
        tuple(plan.models),
        str(cfg.fid_weights) if want_fid else None,
        str(cfg.lpips_weights) if want_lpips else None,
        str(cfg.vgg_weights) if cfg.vgg_weights else None,
        cfg.device,
        single_thread=eng.parallel,
        hed=want_hed,
        realism=cfg.realism,
        fills_dir=str(fills_dir) if cfg.realism_cnn else "",
    )
    # Built here even when a pool does the work: wrong weights files fail now, as one clear line, not as a
    # broken worker pool. On one local job this worker does the work.
    local = (
        _Worker(replace(wc, single_thread=False), models)
        if (not eng.parallel or want_fid or want_lpips or want_hed)
        else None
    )

    csv_path = cfg.out / "metrics.csv"
    existing = {row_key(r): r for r in read_metrics_csv(csv_path)} if csv_path.is_file() else {}
    sample_dir = cfg.out / "samples"
    save_samples = cfg.figures and cfg.samples > 0
    mask_paths = {(b.name, m.name): str(m.path) for b in plan.buckets for m in b.masks}
    sample_pairs = {(b, i, m) for b, lst in plan.samples.items() for i, m in lst}

    want_cache = want_fid or want_lpips or want_hed or cfg.realism
    caches = {im.name: load_cache(cfg.out, im.name) for im in plan.images} if want_cache else {}
    jobs: list[ImageJob] = []
    for im in plan.images:
        todo = []
        cache = caches.get(im.name, PerceptualCache())
        for model in plan.models:
            for bucket, image_name, mask_name in plan.pairs:
                if image_name != im.name:
                    continue
                key = (model, bucket, image_name, mask_name)
                done = key in existing
                if done and save_samples and (bucket, image_name, mask_name) in sample_pairs:
                    d = sample_dir / safe_name(bucket) / f"{safe_name(image_name)}__{safe_name(mask_name)}"
                    done = (d / f"{safe_name(model)}.png").is_file()
                if done and want_fid:
                    done = key in cache.fake and cache.real is not None
                if done and want_lpips:
                    done = key in cache.lpips
                if done and cfg.realism:
                    done = key in cache.noise_fake and cache.noise_real is not None
                if done and cfg.realism_cnn:
                    done = fill_path(fills_dir, key).is_file()
                if done and want_hed:
                    done = (
                        math.isfinite(existing[key]["lpips_hed"])
                        and key in cache.hed_fake
                        and cache.hed_real is not None
                    )
                if not done:
                    todo.append((model, bucket, mask_name, mask_paths[(bucket, mask_name)]))
        if todo:
            samples = [(b, m) for b, i, m in sample_pairs if i == im.name]
            jobs.append(
                ImageJob(im.name, str(im.path), cfg.size, todo, samples, str(sample_dir) if save_samples else "")
            )

    n_todo = sum(len(j.rows) for j in jobs)
    n_plan = len(plan.keys())
    log(
        f"evaluate: {len(plan.models)} model(s) x {len(plan.pairs)} (image, mask) pairs = {n_plan} rows; "
        f"{n_plan - n_todo} already in {csv_path}, {n_todo} to compute"
    )
    order = {k: i for i, k in enumerate(plan.keys())}
    rows = dict(existing)
    run_skipped: list[tuple[str, str]] = []

    def absorb(res: ImageResult) -> None:
        for r in res.rows:
            rows[row_key(r)] = r
        for _, why in res.skipped:
            log(f"skip: {why}")
        run_skipped.extend(res.skipped)
        if want_cache:
            caches.setdefault(res.image, PerceptualCache()).absorb(res)
            save_cache(cfg.out, res.image, caches[res.image])
        ordered = sorted(rows.values(), key=lambda r: order.get(row_key(r), len(order)))
        write_metrics_csv(csv_path, ordered)

    if jobs:
        if eng.kind == "local" and eng.jobs:
            eng = replace(eng, jobs=min(eng.jobs, len(jobs)))
        work = EvalWork(wc, prebuilt=None if eng.parallel else local)
        for i, res in map_items(eng, work, jobs, total=len(jobs), desc="evaluate", progress=progress, log=log):
            if isinstance(res, Failure):  # the image became unreadable since it was planned
                res = ImageResult(jobs[i].image, [], [(jobs[i].path, res.message)])
            absorb(res)
    elif not csv_path.is_file():
        write_metrics_csv(csv_path, [])

    plan.skipped.extend(run_skipped)
    plan_rows = sorted((rows[k] for k in order if k in rows), key=lambda r: order[row_key(r)])
    perceptual: dict = {"fid": None, "lpips": None, "kid_hed": None, "hed_name": None}
    if want_fid:
        perceptual["fid"] = {k: (caches[k[2]].real, caches[k[2]].fake.get(k)) for k in order if k in rows}
    if want_lpips:
        perceptual["lpips"] = {k: caches[k[2]].lpips.get(k) for k in order if k in rows}
    if want_hed:
        perceptual["kid_hed"] = {k: (caches[k[2]].hed_real, caches[k[2]].hed_fake.get(k)) for k in order if k in rows}
        perceptual["hed_name"] = local.hed.name if local is not None and local.hed is not None else ""
    elif cfg.hed:
        perceptual["hed_missing"] = True
    if cfg.realism:
        perceptual["realism"] = _realism(cfg, plan, list(order), rows, caches, fills_dir, log)
    return write_report(cfg, plan, plan_rows, perceptual)


def _realism(
    cfg: EvalConfig,
    plan: Plan,
    keys: list[Key],
    rows: dict,
    caches: dict[str, PerceptualCache],
    fills_dir: Path,
    log: Callable[[str], None],
) -> dict:
    """The realism stage: detectability per model and bucket from the features the workers cached."""
    from .realism import RealismInput, cnn_scorer, detectability

    t0 = time.perf_counter()
    data = RealismInput(
        keys=[k for k in keys if k in rows],
        photos=[im.name for im in plan.images],
        real={n: c.noise_real for n, c in caches.items() if c.noise_real is not None},
        fake={k: v for c in caches.values() for k, v in c.noise_fake.items()},
    )
    cnn = None
    if cfg.realism_cnn:
        paths = {im.name: im.path for im in plan.images}
        photos = [p for p in data.photos if p in data.real]
        cnn = cnn_scorer(
            lambda i: load_image(paths[photos[i]], cfg.size),
            lambda key: read_image(fill_path(fills_dir, key)).rgb,
        )
    log(f"realism: training detectors per model ({cfg.realism_folds}-fold by photo{', with the CNN' if cnn else ''})")
    res = detectability(
        plan.models,
        [b.name for b in plan.buckets],
        data,
        folds=cfg.realism_folds,
        seed=cfg.seed,
        cnn=cnn,
        log=log,
    )
    res["seconds"]["total"] = time.perf_counter() - t0
    log(f"realism: {res['seconds']['total']:.1f} s")
    return res
