"""A trained run as an ``Inpainter``: the glue between the training system's run folder and the registry.

``register_learned_inpainter`` (called by ``register_model``) adds one ``Inpainter`` subclass per family, named like
the family. Its constructor takes ``checkpoint``: a run folder (its ``config.yaml`` plus the ``best`` or ``last``
weights; the EMA generator when the run kept one) or a generator ``.safetensors`` file from such a folder (the
run's ``config.yaml`` is found in a parent folder). The base class does the rest (HD strategy, padding, paste-back).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InpaintKitError
from ..inpainters import Inpainter, register_inpainter
from .base import Family


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA, else MPS, else CPU; an unavailable device named explicitly is a user error."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InpaintKitError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InpaintKitError(f"device {device!r}: CUDA is not available on this machine; use cpu")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InpaintKitError(f"device {device!r}: MPS is not available on this machine; use cpu")
    return dev


def load_family(name: str, family_cls: type[Family], checkpoint: str | Path,
                device: str | torch.device = "cpu") -> Family:
    """Build family ``name`` from a run folder or generator file and load its generator weights (eval mode)."""
    from ..train.checkpoint import find_generator_weights, load_generator
    from ..train.config import load_run_config

    weights, config_path = find_generator_weights(checkpoint)
    cfg = load_run_config(config_path)
    if cfg.family != name:
        raise InpaintKitError(f"{checkpoint}: this is a {cfg.family!r} run, not {name!r}; "
                              f"use --model {cfg.family}")
    family = family_cls(cfg.model, cfg.discriminator, cfg.losses)
    load_generator(family.generator, weights, expect_family=name)
    return family.to(device).eval()


def register_learned_inpainter(name: str, family_cls: type[Family], *, description: str, **extra: Any) -> None:
    """Register an ``Inpainter`` named ``name`` that runs ``family_cls`` from a trained checkpoint."""

    class LearnedInpainter(Inpainter):
        pad_multiple = family_cls.pad_multiple
        min_size = family_cls.min_size
        call_options = tuple(extra.get("call_options", ()))

        def __init__(self, checkpoint: str | None = None, device: str = "auto", **kw: Any):
            super().__init__(**kw)
            if not checkpoint:
                raise InpaintKitError(f"{name}: needs a trained checkpoint; pass --checkpoint RUN_DIR "
                                      f"(train one with `inpaintkit train --config configs/{name}.yaml`)")
            self.device = pick_device(device)
            self.family = load_family(name, family_cls, checkpoint, self.device)

        def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw: Any) -> np.ndarray:
            x = torch.from_numpy(image).permute(2, 0, 1)[None].to(self.device, torch.float32) / 255.0  # (1,3,H,W)
            m = torch.from_numpy(mask)[None, None].to(self.device, torch.float32)  # (1,1,H,W), 1 = hole
            with torch.inference_mode():
                out = self.family.predict(x, m, **call_kw)
            out = (out[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0)
            return np.ascontiguousarray(out.cpu().numpy())

    LearnedInpainter.__name__ = LearnedInpainter.__qualname__ = f"{family_cls.__name__}Inpainter"
    LearnedInpainter.__doc__ = f"Inpainter running a trained {name!r} checkpoint ({description})."
    reg_extra = {k: v for k, v in extra.items() if k != "call_options"}
    register_inpainter(name, description=description, kind="learned", needs_weights=True, **reg_extra)(
        LearnedInpainter)
