"""Forensics: honest original-vs-inpainted datasets, detectors that classify and localize, evaluation.

>>> from inpaintkit.forensics import load_detector
>>> det = load_detector(None)            # the bundled detector; load_detector("runs/x") for a trained run
>>> res = det.detect(rgb)                # rgb uint8 (H, W, 3), any size (tiled)
>>> res.score, res.verdict, res.heatmap  # P(inpainted), "inpainted"|"authentic" at det.threshold, (H, W) float32
>>> res.branches                         # the bundled (fused) detector: {"noise": p, "duplication": p, "cnn": p}

The torch names (the network, its config, the torch detector) are imported on first use: the bundled detector runs
without torch where onnxruntime is installed (``cnn.py``).
"""

from __future__ import annotations

from typing import Any

from ..detection import Detection
from .fusion import FusedDetector
from .load import bundled_detectors, load_detector

_TORCH_NAMES = ("BACKBONES", "Detector", "DetectorConfig", "ForgeryNet")


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from . import detector

        return getattr(detector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKBONES",
    "Detection",
    "Detector",
    "DetectorConfig",
    "ForgeryNet",
    "FusedDetector",
    "bundled_detectors",
    "load_detector",
]
