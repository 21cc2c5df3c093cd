"""Which torch device runs a model: the one place that decides (inference, training, evaluation networks).

``pick_device("auto")`` is CUDA when present, else Apple's MPS, else the CPU; a device named explicitly that this
machine lacks is a one-line user error, never a torch traceback later. (Under DDP the trainer then binds each
process to its own GPU, ``cuda:<local rank>``.)
"""

from __future__ import annotations

import torch

from .errors import InpaintKitError


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
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):  # meta, xla ...: no weights or no support here
        raise InpaintKitError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InpaintKitError(f"device {device!r}: CUDA is not available on this machine; use cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InpaintKitError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InpaintKitError(f"device {device!r}: MPS is not available on this machine; use cpu")
    return dev
