"""Tiny forensic datasets and detector runs shared by the forensics tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def sky_patch_fill() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sky, fill, hole): a plain 256² sky (a gradient with luma noise of SD 2.5: no 5x5 window with std >= 4), the
    same sky with its centre 64² square patch-filled from 16² pieces of elsewhere, and that square (bool)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:256, :256]
    sky = np.stack([40 + 0.1 * yy, 90 + 0.1 * yy, 170 + 0.05 * xx], -1) + rng.normal(0, 2.5, (256, 256, 1))
    sky = np.clip(sky, 0, 255).round().astype(np.uint8)
    fill = sky.copy()
    for ty in range(96, 160, 16):
        for tx in range(96, 160, 16):
            sy, sx = rng.integers(0, 240, 2)
            while 80 <= sy < 160 and 80 <= sx < 160:
                sy, sx = rng.integers(0, 240, 2)
            fill[ty : ty + 16, tx : tx + 16] = sky[sy : sy + 16, sx : sx + 16]
    hole = np.zeros(sky.shape[:2], bool)
    hole[96:160, 96:160] = True
    return sky, fill, hole


@pytest.fixture(scope="session")
def source_dir(tmp_path_factory) -> Path:
    """Five small photos (crops of scikit-image samples) as PNG and JPEG sources."""
    import skimage.data as data

    from inpaintkit.io import write_image

    d = tmp_path_factory.mktemp("sources")
    imgs = {
        "astronaut": data.astronaut()[:160, :200],
        "coffee": data.coffee()[:150, :180],
        "chelsea": data.chelsea()[:140, :170],
        "rocket": data.rocket()[:130, :190],
        "motor": data.stereo_motorcycle()[0][:150, :150],
    }
    for i, (name, rgb) in enumerate(imgs.items()):
        write_image(d / (f"{name}.jpg" if i % 2 else f"{name}.png"), np.ascontiguousarray(rgb))
    return d


@pytest.fixture(scope="session")
def tiny_spec():
    from inpaintkit.forensics.dataset import DatasetSpec

    return DatasetSpec(
        inpainters=["telea", "ns"],
        masks=["boxes", "irregular"],
        per_image=2,
        crops_per_image=2,
        size=64,
        seed=3,
        val_frac=0.2,
        test_frac=0.0,
        test_sources=["chelsea", "coffee"],
    )


@pytest.fixture(scope="session")
def tiny_dataset(source_dir, tiny_spec, tmp_path_factory) -> Path:
    from inpaintkit.forensics.dataset import make_dataset

    out = tmp_path_factory.mktemp("ds")
    make_dataset([source_dir], out, tiny_spec, jobs=1, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory) -> Path:
    """A detector trained for 3 steps on the tiny dataset (exported: model.safetensors + detector.json)."""
    from inpaintkit.forensics.train import load_train_config, train_detector

    run = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = load_train_config(
        None,
        {
            "data.index": str(tiny_dataset),
            "data.crop": 32,
            "data.batch_size": 4,
            "data.val_count": 6,
            "model.backbone": "resnet34",
            "model.width": 0.25,
            "model.decoder_channels": 8,
            "model.tile": 64,
            "train.steps": 3,
            "train.val_every": 3,
            "train.ckpt_every": 2,
            "train.threads": 1,
            "run.dir": str(run),
            "run.tensorboard": False,
            "run.progress": False,
        },
    )
    return train_detector(cfg)
