"""One local Ray per test session (bound to 127.0.0.1, 2 CPUs, no dashboard) and a small folder of photos."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from inpaintkit.engine import LOOPBACK_ENV

# before any test here imports ray: the session's Ray then listens on 127.0.0.1 only (see check_ray)
os.environ.setdefault(LOOPBACK_ENV, "0")


@pytest.fixture(scope="session")
def ray_local():
    """Ray started once: the engine finds it initialised and uses it (and leaves it running)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 2**20, logging_level=logging.WARNING)
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """Four 64x80 crops of scikit-image photos (PNG and JPEG) and a folder of masks, one per stem."""
    from skimage import data

    from inpaintkit.io import write_image, write_mask

    d = tmp_path_factory.mktemp("photos")
    (d / "images").mkdir()
    (d / "masks").mkdir()
    crops = {
        "astronaut": data.astronaut()[40:104, 100:180],
        "coffee": data.coffee()[60:124, 200:280],
        "chelsea": data.chelsea()[50:114, 120:200],
        "rocket": data.rocket()[100:164, 150:230],
    }
    rng = np.random.default_rng(0)
    for i, (name, rgb) in enumerate(crops.items()):
        write_image(d / "images" / (f"{name}.jpg" if i % 2 else f"{name}.png"), np.ascontiguousarray(rgb))
        m = np.zeros((64, 80), bool)
        t, l = rng.integers(8, 30), rng.integers(8, 40)
        m[t : t + 20, l : l + 24] = True
        write_mask(d / "masks" / f"{name}.png", m)
    return d


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative path -> its bytes, without the ``.NAME.PID.tmp`` file that a worker
    killed in the middle of an atomic write leaves behind (never a partial output)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    }
