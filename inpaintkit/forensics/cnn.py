"""The CNN detector's torch-free half: its files, the tiling every CNN detector runs through, and the network
exported to ONNX, run on onnxruntime.

``TiledDetector`` cuts an image larger than the training tile into overlapping tiles (smaller images are padded up
to a multiple of 32, the backbone's stride, by repeating the edge): the heatmap averages the tiles' maps, the image
score is the highest tile logit (an image is inpainted if any part of it is). A subclass only runs the network on a
batch of tiles: ``detector.Detector`` with torch, ``OnnxDetector`` with onnxruntime.

A CNN detector folder may hold ``model.onnx`` beside ``model.safetensors`` (``detector.export_onnx_detector``
writes it; the bundled detector ships one). ``load_onnx_detector`` uses it when onnxruntime is installed (the
``onnx`` extra) and the file was exported from these very weights (their SHA-256 is in its metadata), so
``inpaintkit detect`` with the bundled detector never imports torch (~3 s less start-up), and onnxruntime runs the
bundled CNN's 256² tile in 21-28 ms of CPU against 45 ms for torch, one thread each (measured in one session on the
busy 2-core machine). Its logits and maps match torch's within 1e-4 (``tests/forensics/test_cnn.py``).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..detection import Detection
from ..errors import InpaintKitError

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "weights" / "detector"
BUNDLED_NAME = "default"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "detector.json"
ONNX_FILE = "model.onnx"
#: the file that marks a stacked-ensemble folder (``ensemble.py``)
ENSEMBLE_FILE = "ensemble.json"
#: the backbone's total stride: a tile's sides are multiples of it (or the tile size)
STRIDE = 32
#: ``TiledDetector.predict(views=)``: 1, each tile as it is; 2, the tile and its left-right mirror image, averaged
VIEWS = (1, 2)


def verdict_for(score: float, threshold: float) -> str:
    return "inpainted" if score >= threshold else "authentic"


def _check_rgb(rgb: Any) -> np.ndarray:
    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise InpaintKitError(f"image must be uint8, got {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise InpaintKitError(f"image must be (H, W, 3) RGB, got shape {a.shape}")
    if min(a.shape[:2]) < 8:
        raise InpaintKitError(f"image is {a.shape[1]}x{a.shape[0]}; the detector needs at least 8x8 pixels")
    return a[..., :3]


def _tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    k = math.ceil((n - tile) / max(1, tile - overlap)) + 1
    return sorted({round(i * (n - tile) / (k - 1)) for i in range(k)})


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, hex (what an exported ``model.onnx`` records of the weights it was made from)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class TiledDetector:
    """A CNN detector with its threshold, for any image size: ``detect(rgb) -> Detection``. Subclasses implement
    ``forward``."""

    def __init__(
        self,
        tile: int,
        overlap: int,
        threshold: float = 0.5,
        name: str = "detector",
        batch_size: int = 16,
        meta: dict[str, Any] | None = None,
    ):
        self.tile, self.overlap = int(tile), int(overlap)
        self.threshold = float(threshold)
        self.name = name
        self.batch_size = batch_size
        self.meta = meta or {}

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, h, w) float32 in [0, 1] -> image logits (B,), pixel probabilities (B, h, w) float32."""
        raise NotImplementedError

    def predict(self, rgb: np.ndarray, views: int = 1) -> tuple[float, np.ndarray]:
        """Image logit and per-pixel probabilities (H, W) float32, tiled over the image; each tile seen in ``views``
        views (``VIEWS``)."""
        logit, heat, _ = self.predict_with_box(rgb, views)
        return logit, heat

    def predict_with_box(self, rgb: np.ndarray, views: int = 1) -> tuple[float, np.ndarray, tuple[int, int, int, int]]:
        """``predict``, and the box (top, left, height, width) of the tile whose logit is the image's (clipped to the
        image)."""
        if views not in VIEWS:
            raise InpaintKitError(f"views must be one of {', '.join(map(str, VIEWS))}, got {views}")
        rgb = _check_rgb(rgb)
        h, w = rgb.shape[:2]
        x = (np.asarray(rgb, np.float32) / 255.0).transpose(2, 0, 1)[None]  # (1, 3, H, W) in [0, 1]
        (ph, pw), (th, tw), boxes = self._tiling(h, w)
        if (ph, pw) != (h, w):  # a small image padded by repeating its edge, so no black border appears
            x = np.pad(x, ((0, 0), (0, 0), (0, ph - h), (0, pw - w)), mode="edge")
        heat = np.zeros((ph, pw), np.float32)
        weight = np.zeros((ph, pw), np.float32)
        best, box = -math.inf, boxes[0]
        for i in range(0, len(boxes), self.batch_size):
            chunk = boxes[i : i + self.batch_size]
            batch = np.concatenate([x[..., t : t + th, l : l + tw] for t, l in chunk])  # (B, 3, th, tw)
            logits, probs = self._viewed(batch, views)
            if float(logits.max()) > best:
                best, box = float(logits.max()), chunk[int(np.argmax(logits))]
            for (t, l), p in zip(chunk, probs):
                heat[t : t + th, l : l + tw] += p
                weight[t : t + th, l : l + tw] += 1
        heat = (heat / np.maximum(weight, 1))[:h, :w]
        t, l = box
        return best, heat, (t, l, min(th, h - t), min(tw, w - l))

    def _viewed(self, batch: np.ndarray, views: int) -> tuple[np.ndarray, np.ndarray]:
        """``forward`` averaged over the tile and its mirror image (``views`` 2: the mean logit, the mean map
        mirrored back), in one call; ``forward`` alone for ``views`` 1."""
        if views == 1:
            return self.forward(batch)
        n = len(batch)
        logits, probs = self.forward(np.concatenate([batch, batch[..., ::-1]]))
        return (logits[:n] + logits[n:]) / 2, (probs[:n] + probs[n:, :, ::-1]) / 2

    def _tiling(self, h: int, w: int) -> tuple[tuple[int, int], tuple[int, int], list[tuple[int, int]]]:
        """An (h, w) image's padded size (small images up to a multiple of the stride), tile size and tile corners."""
        tile, ov = self.tile, self.overlap
        ph, pw = max(h, min(tile, -(-h // STRIDE) * STRIDE)), max(w, min(tile, -(-w // STRIDE) * STRIDE))
        th, tw = min(tile, ph), min(tile, pw)
        return (ph, pw), (th, tw), [(t, l) for t in _tile_starts(ph, th, ov) for l in _tile_starts(pw, tw, ov)]

    def tile_count(self, h: int, w: int) -> int:
        """How many tiles ``predict`` scores an (h, w) image in (its image logit is their maximum)."""
        return len(self._tiling(h, w)[2])

    def detect(self, rgb: np.ndarray) -> Detection:
        logit, heat = self.predict(rgb)
        score = float(1.0 / (1.0 + math.exp(-logit)))
        return Detection(score, verdict_for(score, self.threshold), heat)

    __call__ = detect


class OnnxDetector(TiledDetector):
    """The exported network (``model.onnx``: tiles (B, 3, h, w) -> ``logit`` (B,), ``prob`` (B, h, w)) on
    onnxruntime's CPU provider. ``threads``: intra-op threads (0: onnxruntime's default; 1: one thread and
    sequential execution, as ``inpaintkit detect --threads 1`` asks)."""

    def __init__(self, path: str | Path, threads: int = 0, **kw: Any):
        try:
            import onnxruntime as ort
        except ModuleNotFoundError:
            raise InpaintKitError(
                "running a detector on ONNX needs onnxruntime: pip install 'inpaintkit[onnx]'"
            ) from None

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # idle pool threads sleep instead of spinning: spinning threads fight other busy processes for the cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise InpaintKitError(f"{path}: not a loadable ONNX model ({' '.join(str(e).split())[:200]})") from None
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        if not {"tile", "tile_overlap"} <= set(self.metadata):
            raise InpaintKitError(
                f"{path}: not an inpaintkit detector export (no tile metadata); make one with "
                "`inpaintkit.forensics.detector.export_onnx_detector`"
            )
        super().__init__(int(self.metadata["tile"]), int(self.metadata["tile_overlap"]), **kw)

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, probs = self.session.run(["logit", "prob"], {"image": np.ascontiguousarray(batch, np.float32)})
        return logits, probs


def load_onnx_detector(folder: str | Path, meta: dict[str, Any], *, name: str, threads: int = 0) -> OnnxDetector | None:
    """``folder``'s ``model.onnx`` on onnxruntime, or None: no such file, onnxruntime not installed, or the file was
    exported from other weights than ``folder``'s ``model.safetensors`` (a retrained run: torch runs it)."""
    import importlib.util

    folder = Path(folder)
    path = folder / ONNX_FILE
    if not (path.is_file() and (folder / WEIGHTS_FILE).is_file()) or importlib.util.find_spec("onnxruntime") is None:
        return None
    det = OnnxDetector(path, threads, threshold=meta.get("threshold", 0.5), name=name, meta=meta)
    if det.metadata.get("weights_sha256") != file_digest(folder / WEIGHTS_FILE):
        return None
    return det
