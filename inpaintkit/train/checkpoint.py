"""The run folder and its checkpoints.

    RUN/config.yaml                       resolved config (reload a run from its folder alone)
    RUN/checkpoints/step_000300/          one checkpoint, written to a temp folder and renamed (atomic)
        generator.safetensors             generator weights (+ buffers), metadata {"family": ..., "step": ...}
        generator_ema.safetensors         EMA of the generator weights (when train.ema > 0)
        discriminators.safetensors        every discriminator, keys "<name>.<param>"
        state.pt                          optimizers, step, RNG states, schedule state: torch.load(weights_only=True)
        meta.json                         step and validation metrics
    RUN/last -> checkpoints/step_...      symlinks, swapped atomically (os.replace of a fresh link)
    RUN/best -> checkpoints/step_...      best validation PSNR so far
    RUN/events.out.tfevents.*             TensorBoard

Only ``last`` and ``best`` are kept; older step folders are removed after the links move. Every file is fsynced
before its rename and each folder after it, so a checkpoint survives power loss, not only a killed process;
temp folders left by a process killed mid-write (``.step_N.tmpPID``) are removed by the next save or resume.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from ..io import fsync_dir
from ..runs import (  # noqa: F401 (the format)
    CONFIG,
    DISCRIMINATORS,
    GENERATOR,
    GENERATOR_EMA,
    META,
    STATE,
    _metadata,
    checkpoint_dir,
    find_generator_weights,
    load_generator,
    load_weights,
)


def _tensors(module_or_sd: nn.Module | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    sd = module_or_sd.state_dict() if isinstance(module_or_sd, nn.Module) else module_or_sd
    # safetensors refuses shared storage and non-contiguous tensors: store independent contiguous copies
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in sd.items()}


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    *,
    family: str,
    generator: nn.Module,
    discriminators: nn.ModuleDict,
    ema: nn.Module | None,
    state: dict[str, Any],
    metrics: dict[str, float] | None = None,
    best: bool = False,
    keep: bool = False,
) -> Path:
    """Write checkpoint ``step`` atomically, point ``last`` (and ``best`` when ``best``) at it, prune the rest."""
    run_dir = Path(run_dir)
    ckdir = run_dir / "checkpoints"
    ckdir.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:07d}"
    final = ckdir / name
    clean_stale_temps(run_dir)
    tmp = ckdir / f".{name}.tmp{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    meta = {"family": family, "step": str(step)}
    save_file(_tensors(generator), tmp / GENERATOR, metadata=meta)
    if ema is not None:
        save_file(_tensors(ema), tmp / GENERATOR_EMA, metadata=meta)
    if len(discriminators):
        save_file(_tensors(discriminators), tmp / DISCRIMINATORS, metadata=meta)
    torch.save(state, tmp / STATE)
    (tmp / META).write_text(json.dumps({"family": family, "step": step, **(metrics or {})}, indent=1))
    for f in tmp.iterdir():  # on disk before the rename makes them the checkpoint
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(ckdir)
    _point(run_dir / "last", final)
    if best:
        _point(run_dir / "best", final)
    fsync_dir(run_dir)
    if not keep:
        live = {p.resolve() for p in (run_dir / "last", run_dir / "best") if p.exists()}
        for old in ckdir.glob("step_*"):
            if old.resolve() not in live:
                shutil.rmtree(old, ignore_errors=True)
    return final


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def clean_stale_temps(run_dir: str | Path) -> list[Path]:
    """Remove the temp folders and links (``.step_N.tmpPID``, ``.last.tmpPID``) of processes no longer running.

    A process killed while writing a checkpoint leaves its temp folder behind; the checkpoint it was writing
    never became ``last``, so nothing refers to it. Returns what was removed.
    """
    run_dir = Path(run_dir)
    removed = []
    for cand in [*run_dir.glob(".*.tmp*"), *(run_dir / "checkpoints").glob(".step_*.tmp*")]:
        pid = cand.name.rpartition(".tmp")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        if cand.is_dir() and not cand.is_symlink():
            shutil.rmtree(cand, ignore_errors=True)
        else:
            cand.unlink(missing_ok=True)
        removed.append(cand)
    return removed


def _point(link: Path, target: Path) -> None:
    """Atomically make ``link`` a relative symlink to ``target``."""
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)


def load_state(ck: Path) -> dict[str, Any]:
    return torch.load(ck / STATE, map_location="cpu", weights_only=True)


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch global RNG states as tensors/lists (loadable with weights_only=True)."""
    import random

    import numpy as np

    py = random.getstate()
    np_state = np.random.get_state()
    out: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [
            np_state[0],
            torch.from_numpy(np_state[1].astype("int64")),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    import random

    import numpy as np

    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype("uint32"), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
