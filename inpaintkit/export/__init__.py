"""Exports of learned models to other runtimes: ONNX for onnxruntime (``inpaintkit export``, and the ``onnx``
runtime of learned inpainters).

Depends on no model code (a model is anything ``Exportable``), so ``models`` may use the runner and the cache.
"""

from .onnx import (
    EXPORT_SIZE,
    OPSET,
    Exportable,
    OnnxGraph,
    cache_dir,
    cached_export,
    compare_runtimes,
    export_onnx,
    file_sha256,
)

__all__ = [
    "EXPORT_SIZE",
    "OPSET",
    "Exportable",
    "OnnxGraph",
    "cache_dir",
    "cached_export",
    "compare_runtimes",
    "export_onnx",
    "file_sha256",
]
