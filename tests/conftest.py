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


# -- IOPaint's own code, fetched for the drop-in tests (never shipped, never imported: only read and served) -------
IOPAINT_VERSION = "1.6.0"
_IOPAINT_FILES = ("iopaint/api.py", "iopaint/schema.py", "iopaint/file_manager/file_manager.py")
_NETWORK_ERRORS = (
    "NewConnectionError",
    "ConnectionError",
    "Max retries exceeded",
    "Temporary failure in name",
    "Name or service not known",
    "Network is unreachable",
    "No matching distribution",
    "Could not find a version",
    "timed out",
    "ProxyError",
    "SSLError",
)


def _iopaint_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "inpaintkit-tests" / f"iopaint-{IOPAINT_VERSION}"


@pytest.fixture(scope="session")
def iopaint_dist() -> Path:
    """IOPaint's wheel unpacked (its ``api.py``, ``schema.py``, file manager and built ``web_app/``), as
    ``DIR/iopaint/...``. Fetched once with ``pip download --no-deps`` into ``$XDG_CACHE_HOME/inpaintkit-tests``
    (outside the repository; reruns reuse it); ``INPAINTKIT_IOPAINT_DIST`` points to an unpacked copy instead.
    Skips, saying why, when the package registry cannot be reached.
    """
    import fcntl
    import shutil
    import subprocess
    import sys
    import tempfile
    import zipfile

    env = os.environ.get("INPAINTKIT_IOPAINT_DIST")
    if env:
        return Path(env)
    root = _iopaint_cache()
    done = root / "iopaint" / "web_app" / "index.html"
    if done.is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".iopaint-{IOPAINT_VERSION}.lock", "w") as lock:  # xdist workers fetch it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return root
        with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
                f"iopaint=={IOPAINT_VERSION}",
                "-d",
                tmp,
            ]
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                out, code = r.stdout + r.stderr, r.returncode
            except subprocess.TimeoutExpired:
                out, code = "timed out after 300 s", -1
            wheels = sorted(Path(tmp).glob("*.whl"))
            if code != 0 or not wheels:
                last = (out.strip().splitlines() or ["no output"])[-1]
                if any(s in out for s in _NETWORK_ERRORS):
                    pytest.skip(
                        f"IOPaint {IOPAINT_VERSION}'s wheel could not be fetched: the package registry is "
                        f"unreachable ({last}); the IOPaint drop-in tests need it"
                    )
                pytest.fail(f"`{' '.join(cmd)}` failed ({code}): {last}")
            unpacked = Path(tmp) / "unpacked"
            with zipfile.ZipFile(wheels[0]) as z:
                for member in z.namelist():
                    if member.startswith("iopaint/web_app/") or member in _IOPAINT_FILES:
                        z.extract(member, unpacked)
            shutil.copy2(wheels[0], unpacked / wheels[0].name)
            shutil.rmtree(root, ignore_errors=True)
            os.replace(unpacked, root)
    return root


@pytest.fixture(scope="session")
def tdanet_run(tmp_path_factory) -> Path:
    """A tiny TDANet (the family's tiny config) trained three steps from configs/tdanet.yaml on 10 synthetic shapes
    scenes: a text-guided model the apps' tests can load (``tdanet:RUN``). ~20 s."""
    from inpaintkit.data.shapes import write_shapes
    from inpaintkit.models.tdanet import TDANet
    from inpaintkit.train.config import load_config
    from inpaintkit.train.trainer import train

    tmp = tmp_path_factory.mktemp("tdanet")
    write_shapes(tmp / "shapes", 10, seed=3)
    tiny_set = [f"{g}.{k}={v}" for g, kv in TDANet.tiny_config().items() for k, v in kv.items()]
    cfg = load_config(
        ASSETS.parents[1] / "configs" / "tdanet.yaml",
        [
            f"data.root={tmp / 'shapes' / 'index.jsonl'}",
            "data.size=64",
            "data.min_scale=1.0",
            "data.num_workers=0",
            "data.val_count=2",
            "train.steps=3",
            "train.batch_size=2",
            "train.device=cpu",
            f"run.dir={tmp / 'run'}",
            "run.progress=false",
            "run.tensorboard=false",
            *tiny_set,
        ],
    )
    res = train(cfg)
    assert res.step == 3 and len(res.history) == 1 and np.isfinite(res.best_psnr)
    return tmp / "run"
