"""The run folder: the one format training writes and inference reads.

    RUN/config.yaml                       the resolved training config (``model.name`` = the family)
    RUN/checkpoints/step_NNNNNNN/          generator.safetensors, generator_ema.safetensors (when EMA is on),
                                           discriminators.safetensors, state.pt (optimizers, RNGs), meta.json
    RUN/last, RUN/best                     links to checkpoint folders

``inpaintkit.train.checkpoint`` writes it (atomically, fsynced); learned inpainters read it through
``find_generator_weights``, ``read_model_groups`` and ``load_generator`` here. This module imports neither the
models nor the trainer, so both can depend on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from .errors import InpaintKitError

CONFIG = "config.yaml"
GENERATOR = "generator.safetensors"
GENERATOR_EMA = "generator_ema.safetensors"
DISCRIMINATORS = "discriminators.safetensors"
STATE = "state.pt"
META = "meta.json"


def checkpoint_dir(run_dir: str | Path, which: str = "last") -> Path:
    """``RUN/last`` or ``RUN/best`` resolved; an error naming the run when it has none."""
    p = Path(run_dir) / which
    if not p.exists():
        raise InpaintKitError(f"{run_dir}: no {which!r} checkpoint in this run folder (has it trained a step?)")
    return p.resolve()


def load_weights(module: nn.Module, path: Path, what: str) -> None:
    try:
        sd = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise InpaintKitError(f"{path}: cannot read weights ({' '.join(str(e).split())})") from None
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError:
        missing = sorted(set(module.state_dict()) ^ set(sd))[:3]
        raise InpaintKitError(
            f"{path}: {what} weights do not fit this model (config differs? first keys that do "
            f"not match: {', '.join(missing) or 'shapes differ'})"
        ) from None


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise InpaintKitError(f"{path}: not a safetensors weights file ({' '.join(str(e).split())})") from None


def find_generator_weights(checkpoint: str | Path) -> tuple[Path, Path]:
    """(generator weights, run config) for a run folder or a ``.safetensors`` file inside one.

    A run folder gives ``best`` (else ``last``), preferring the EMA weights. A weights file finds the run's
    ``config.yaml`` next to it or in up to three parent folders.
    """
    p = Path(checkpoint)
    if not p.exists():
        raise InpaintKitError(f"{checkpoint}: no such checkpoint (give a run folder or a .safetensors file)")
    if p.is_dir():
        if not (p / CONFIG).is_file():
            raise InpaintKitError(
                f"{checkpoint}: not a run folder (no {CONFIG}); give the folder `inpaintkit train` wrote (run.dir)"
            )
        which = "best" if (p / "best").exists() else "last"
        ck = checkpoint_dir(p, which)
        weights = ck / GENERATOR_EMA if (ck / GENERATOR_EMA).is_file() else ck / GENERATOR
        return weights, p / CONFIG
    if p.suffix != ".safetensors":
        raise InpaintKitError(f"{checkpoint}: expected a run folder or a .safetensors file")
    for parent in [p.parent, *list(p.parents)[1:4]]:
        if (parent / CONFIG).is_file():
            return p, parent / CONFIG
    raise InpaintKitError(
        f"{checkpoint}: no {CONFIG} next to it or in its parent folders; copy the run's {CONFIG} next to the weights"
    )


def load_generator(generator: nn.Module, path: Path, expect_family: str | None = None) -> None:
    """Load generator weights, checking the file's family tag when it has one."""
    fam = _metadata(path).get("family")
    if expect_family is not None and fam is not None and fam != expect_family:
        raise InpaintKitError(f"{path}: these are {fam!r} weights, not {expect_family!r}; use --model {fam}")
    load_weights(generator, path, "generator")


def read_model_groups(config_path: str | Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """(family, {"model", "discriminator", "losses": raw dicts}) from a run's ``config.yaml`` — what inference
    needs to rebuild the network; the training groups (data, optim, ...) are the trainer's business."""
    import yaml

    p = Path(config_path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InpaintKitError(f"{p}: cannot read the run config ({' '.join(str(e).split())[:200]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("model"), dict) or "name" not in raw["model"]:
        raise InpaintKitError(f"{p}: not a run config of `inpaintkit train` (no model.name)")
    model = dict(raw["model"])
    family = str(model.pop("name"))
    return family, {
        "model": model,
        "discriminator": dict(raw.get("discriminator") or {}),
        "losses": dict(raw.get("losses") or {}),
    }
