"""Fixtures for the training tests: a folder of small real photos (scikit-image samples) and tiny configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

torch.set_num_threads(1)  # tests share 2 cores with xdist workers


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """Five small real photos (80-120 px) in a folder."""
    import skimage.data

    out = tmp_path_factory.mktemp("photos")
    for i, name in enumerate(["astronaut", "rocket", "coffee", "chelsea", "immunohistochemistry"]):
        img = Image.fromarray(getattr(skimage.data, name)())
        img.thumbnail((120 - 8 * i, 120 - 8 * i))
        img.save(out / f"{name}.png")
    return out


def tiny_raw(family: str, photos: Path, run_dir: Path, **groups) -> dict:
    """A raw config dict for a few CPU steps of family's tiny model at 32x32 (64x64 for context_encoder)."""
    from inpaintkit.train.config import tiny_config

    size = 64 if family in ("context_encoder", "tdanet") else 32
    base = {
        "data": {"root": str(photos), "size": size, "val_count": 2, "num_workers": 0, "min_scale": 0.5},
        "masks": {"mix": [{"kind": "boxes", "p": 0.5}, {"kind": "irregular", "p": 0.5}]},
        "train": {
            "steps": 3,
            "batch_size": 2,
            "device": "cpu",
            "val_every": 2,
            "ckpt_every": 2,
            "log_every": 1,
            "seed": 3,
        },
        "run": {"dir": str(run_dir), "progress": False},
    }
    for g, v in groups.items():
        base[g] = {**base.get(g, {}), **v}
    return tiny_config(family, **base)


@pytest.fixture
def tiny():
    return tiny_raw


def random_photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
