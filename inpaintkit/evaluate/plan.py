"""What an evaluation is made of — its config, buckets, images, the plan of (bucket, image, mask) rows — and the
names that key them. Shared by ``runner`` (which makes and executes the plan) and ``report`` (which renders it),
so neither imports the other.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..engine import EngineOptions

Key = tuple[str, str, str, str]  # (model, bucket, image, mask)
#: the row of the tables over all buckets
ALL = "all"


@dataclass(frozen=True)
class EvalConfig:
    """Everything that decides what an evaluation computes (the CLI flags of ``inpaintkit evaluate``)."""

    models: tuple[str, ...]
    images: Path
    masks: Path
    out: Path
    #: workers: local processes (None: 1, in this process) or Ray workers (None: one per CPU of the cluster)
    jobs: int | None = 1
    size: int | None = None
    max_images: int | None = None
    max_masks: int | None = None
    samples: int = 4
    fid_weights: Path | None = None
    lpips_weights: Path | None = None
    vgg_weights: Path | None = None
    #: lpips_hed and kid_hed on the bundled VGG16 features (or --vgg-weights); off: those columns stay empty
    hed: bool = True
    device: str = "cpu"
    #: plots and sample grids (off: tables, CSV and JSON only, which is much faster)
    figures: bool = True
    #: where the images are scored: "local" or "ray" (the output does not depend on it)
    engine: str = "local"
    #: with engine "ray": None starts a local Ray, "auto" or HOST:PORT joins a cluster
    ray_address: str | None = None
    #: detectability: train detectors to tell each model's composites from the photos (``realism.py``)
    realism: bool = False
    #: add the small CNN detector to the noise-feature one (slower; keeps every composite under realism/)
    realism_cnn: bool = False
    #: folds of the cross-validation by photo
    realism_folds: int = 5
    seed: int = 0

    @property
    def engine_options(self) -> EngineOptions:
        return EngineOptions(self.engine, self.jobs, self.ray_address)


@dataclass
class MaskItem:
    name: str
    path: Path
    shape: tuple[int, int]
    ratio: float  # hole fraction of the mask file


@dataclass
class Bucket:
    name: str
    masks: list[MaskItem]
    paired: bool = False  # masks matched to images by file stem instead of applied to every image

    @property
    def mean_ratio(self) -> float:
        return float(np.mean([m.ratio for m in self.masks])) if self.masks else float("nan")


@dataclass
class ImageItem:
    name: str
    path: Path
    shape: tuple[int, int]  # (H, W) after --size


@dataclass
class Plan:
    models: list[str]
    images: list[ImageItem]
    buckets: list[Bucket]
    pairs: list[tuple[str, str, str]]  # (bucket, image, mask), in report order
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    resized_pairs: int = 0
    samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # bucket -> [(image, mask)]

    def keys(self) -> list[Key]:
        """Every row of this plan, in CSV order: model, then bucket, image, mask."""
        return [(m, b, i, k) for m in self.models for b, i, k in self.pairs]


def safe_name(text: str) -> str:
    """A file-name-safe version of a model spec, bucket or file name."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "_"


def row_key(r: dict) -> Key:
    return (r["model"], r["bucket"], r["image"], r["mask"])


def config_dict(cfg: EvalConfig) -> dict:
    d = asdict(cfg)
    return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
