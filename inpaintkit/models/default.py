"""``default``: the model inpaintkit ships — a compact LaMa-style FFC U-Net trained by us, weights in the package.

It is the ``lama`` family with ``arch: unet`` (``FFCUNetGenerator``: push-pull pre-fill, full-resolution skips,
four FFC residual blocks at 1/8 resolution), trained from ``configs/default.yaml`` on the Debian photos; data,
steps, hardware and measured figures are in ``inpaintkit/weights/default/MODEL_CARD.md``. Its priority makes it
what ``inpaintkit run`` and ``create_inpainter()`` use when no model is named. ``runtime="onnx"`` runs the
bundled ONNX export of the same weights (``model.onnx``) on onnxruntime.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..inpainters import register_inpainter
from .inpainter import LearnedInpainter
from .lama import Lama

BUNDLED = Path(__file__).resolve().parent.parent / "weights" / "default"
WEIGHTS = BUNDLED / "generator.safetensors"
ONNX_FILE = BUNDLED / "model.onnx"


@register_inpainter("default", kind="learned", needs_weights=True, bundled=True, priority=20,
                    description="inpaintkit's own compact LaMa-style FFC U-Net, bundled weights (see its model card)")
class DefaultInpainter(LearnedInpainter):
    """The bundled model; options: ``device`` (torch runtime), ``runtime`` (torch | onnx) and the HD strategy."""

    family_name = "lama"
    family_cls = Lama
    pad_multiple = Lama.pad_multiple
    hidden_options = ("checkpoint", "onnx_file")

    def __init__(self, device: str = "auto", runtime: str = "torch", **kw: Any):
        super().__init__(checkpoint=str(WEIGHTS), device=device, runtime=runtime,
                         onnx_file=str(ONNX_FILE) if runtime == "onnx" else None, **kw)
