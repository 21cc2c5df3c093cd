"""Forensics: honest original-vs-inpainted datasets, detectors that classify and localize, evaluation.

>>> from inpaintkit.forensics import load_detector
>>> det = load_detector(None)            # the bundled detector; load_detector("runs/x") for a trained run
>>> res = det.detect(rgb)                # rgb uint8 (H, W, 3), any size (tiled)
>>> res.score, res.verdict, res.heatmap  # P(inpainted), "inpainted"|"authentic" at det.threshold, (H, W) float32
>>> res.branches                         # the bundled (fused) detector: {"noise": p, "duplication": p, "cnn": p}
"""

from .detector import BACKBONES, Detection, Detector, DetectorConfig, ForgeryNet
from .fusion import FusedDetector
from .load import bundled_detectors, load_detector

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
