"""Shared fixtures: small deterministic images/masks, real photos, and a CLI runner."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402

# Tests run two xdist workers on two cores: one thread each avoids oversubscription (measured 2-10x slower).
torch.set_num_threads(1)

ASSETS = Path(__file__).resolve().parents[1] / "inpaintkit" / "assets"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def photo() -> np.ndarray:
    """The bundled sample photo, RGB uint8 (480, 768, 3)."""
    from inpaintkit.io import read_image

    return read_image(ASSETS / "sample.jpg").rgb


@pytest.fixture
def photo_mask() -> np.ndarray:
    from inpaintkit.io import read_mask

    return read_mask(ASSETS / "sample_mask.png")


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: ``code, out, err = cli("run", "--image", ...)``."""
    from inpaintkit.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in args])
        captured = capsys.readouterr()
        return int(exc.value.code or 0), captured.out, captured.err

    return run
