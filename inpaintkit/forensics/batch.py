"""The per-image work of ``inpaintkit detect``, the same object on every engine (``inpaintkit.engine``).

``DetectWork`` is the picklable factory: each worker loads the detector once, then scores items ``(image path,
heatmap stem or None)``, writing the heatmap and overlay PNGs itself when a heatmap folder is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InpaintKitError
from ..io import read_image, write_image


@dataclass
class DetectWork:
    model: str | None
    threshold: float | None
    max_pixels: int | None
    heatmap_dir: Path | None = None
    #: a detector already loaded in this process (used when the work runs here; never pickled)
    prebuilt: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "prebuilt": None}

    def __call__(self) -> _Scorer:
        from .load import load_detector

        # a worker of a parallel engine: one compute thread each (``engine.single_thread``), onnxruntime's too
        return _Scorer(self, self.prebuilt or load_detector(self.model, threshold=self.threshold, threads=1))


class _Scorer:
    def __init__(self, work: DetectWork, detector: Any):
        self.w, self.det = work, detector

    def __call__(self, item: tuple[Path, str | None]) -> dict[str, Any]:
        """``{"path", "score", "verdict"[, each branch's probability][, "heatmap" or "error"]}`` for one image."""
        path, stem = item
        pic = read_image(path, max_pixels=self.w.max_pixels)
        # the fused detector calibrates JPEG files apart from lossless ones
        res = (
            self.det.detect(pic.rgb, jpeg=pic.format == "JPEG")
            if hasattr(self.det, "combine")
            else self.det.detect(pic.rgb)
        )
        row: dict[str, Any] = {"path": str(path), **res.as_dict()}  # + each branch's probability (fused)
        if self.w.heatmap_dir is not None and stem is not None:
            from .report import heat_png, overlay  # the report module (and matplotlib): only to draw heatmaps

            d = self.w.heatmap_dir
            try:  # a write failure (read-only folder, disk full) is this file's error; the batch goes on
                write_image(d / f"{stem}_heatmap.png", heat_png(res.heatmap)[..., None].repeat(3, 2))
                write_image(d / f"{stem}_overlay.png", overlay(pic.rgb, res.heatmap))
            except InpaintKitError as e:
                row["error"] = str(e)
            else:
                row["heatmap"] = str(d / f"{stem}_heatmap.png")
        return row
