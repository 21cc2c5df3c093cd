"""ONNX export of a learned model's inference graph, and an onnxruntime runner for it.

``export_onnx(family, path)`` traces the family's ``inference_graph()`` (``models.base.InferenceGraph``: image
(N,3,H,W) float32 [0,1] + mask (N,1,H,W), 1 = hole -> composited fill (N,3,H,W) in [0,1]) with torch's dynamo
exporter, so H and W stay dynamic (multiples of the
family's ``pad_multiple``; the ``Inpainter`` base pads to that) and LaMa-style rFFTs export as ONNX ``DFT`` nodes.
The file carries its family, padding and weights hash as metadata; ``OnnxGraph(path)`` reads them back and runs
the graph on onnxruntime's CPU provider.

``cached_export(family, weights)`` exports once per weights file into ``$XDG_CACHE_HOME/inpaintkit/onnx`` (the
runtime ``onnx`` of a learned inpainter uses it when no ``.onnx`` file is given).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np
import torch
from torch import nn

from ..errors import InpaintKitError
from ..io import atomic_write_bytes

#: ONNX opset of the export (DFT with ``onesided`` needs >= 17; 18 is what torch 2.x's exporter targets).
OPSET = 18
EXPORT_SIZE = 256


class Exportable(Protocol):
    """What the exporter needs of a model: a learned family (``models.base.Family``) is one. (A protocol, so this
    package depends on no model code: models import the runner and the cache from here.)"""

    name: str
    pad_multiple: int
    min_size: int

    def inference_graph(self) -> nn.Module:
        """``forward(image, mask) -> composited fill``: what the exported file computes."""
        ...

    def predict(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor: ...


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's progress prints, warnings and log lines (errors still raise)."""
    loggers = [
        logging.getLogger(n)
        for n in (
            "torch.onnx",
            "torch.onnx._internal.exporter._registration",
            "torch.export",
            "torch._dynamo",
            "onnxscript",
        )
    ]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)


def export_onnx(family: Exportable, output: str | Path, *, metadata: dict[str, str] | None = None) -> Path:
    """Export ``family``'s inference graph to ``output`` (written atomically); returns the path."""
    try:
        import onnx
    except ModuleNotFoundError:
        raise InpaintKitError("ONNX export needs the onnx extra: pip install 'inpaintkit[onnx]'") from None
    output = Path(output)
    if output.suffix != ".onnx":
        raise InpaintKitError(f"--output {output}: the file name must end in .onnx")
    graph = family.inference_graph().eval()
    m = max(1, int(family.pad_multiple))
    side = max(EXPORT_SIZE // m, 1) * m
    example = (torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0)), torch.zeros(1, 1, side, side))
    example[1][..., side // 4 : side // 2, side // 4 : side // 2] = 1.0
    n = torch.export.Dim("batch", min=1, max=256)
    h, w = torch.export.Dim("h", min=1, max=4096), torch.export.Dim("w", min=1, max=4096)
    dims = {0: n, 2: m * h, 3: m * w}
    try:
        with torch.no_grad(), _quiet():
            program = torch.onnx.export(
                graph,
                example,
                dynamo=True,
                opset_version=OPSET,
                verbose=False,
                input_names=["image", "mask"],
                output_names=["output"],
                dynamic_shapes={"image": dims, "mask": dims},
            )
    except Exception as e:  # the exporter raises many types; the user needs the first line
        first = " ".join(str(e).split())[:300]
        raise InpaintKitError(f"cannot export {family.name!r} to ONNX ({type(e).__name__}: {first})") from None
    model = program.model_proto
    # The exporter's inferred intermediate shapes are wrong for the one-sided DFT of an rFFT (it declares the full
    # width), and onnxruntime's allocator trusts them ("Shape mismatch attempting to re-use buffer"); without them
    # onnxruntime infers the shapes itself.
    del model.graph.value_info[:]
    meta = {
        "inpaintkit_family": family.name,
        "pad_multiple": str(m),
        "min_size": str(family.min_size),
        **(metadata or {}),
    }
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=str(v))
    onnx.checker.check_model(model)
    atomic_write_bytes(output, model.SerializeToString())
    return output


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "inpaintkit" / "onnx"


def cached_export(family: Exportable, weights: str | Path) -> Path:
    """The ONNX export of ``family`` (loaded from ``weights``), made once per weights file and kept in the cache."""
    sha = file_sha256(weights)
    path = cache_dir() / f"{family.name}-{sha[:16]}.onnx"
    if not path.is_file():
        export_onnx(family, path, metadata={"weights_sha256": sha})
    return path


class OnnxGraph:
    """An exported inference graph on onnxruntime: ``(image, mask)`` float32 NCHW arrays -> filled image."""

    def __init__(self, path: str | Path, threads: int = 0, spin: bool = False):
        try:
            import onnxruntime as ort
        except ModuleNotFoundError:
            raise InpaintKitError("--runtime onnx needs onnxruntime: pip install 'inpaintkit[onnx]'") from None
        path = Path(path)
        if not path.is_file():
            raise InpaintKitError(f"{path}: no such ONNX file (make one with `inpaintkit export`)")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        # Idle pool threads sleep instead of spinning: spinning threads fight other busy processes for the cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise InpaintKitError(f"{path}: not a loadable ONNX model ({' '.join(str(e).split())[:200]})") from None
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        if "inpaintkit_family" not in self.metadata:
            raise InpaintKitError(
                f"{path}: not an inpaintkit export (no inpaintkit_family metadata); make one with `inpaintkit export`"
            )
        self.family = self.metadata["inpaintkit_family"]
        self.pad_multiple = int(self.metadata.get("pad_multiple", "8"))
        self.min_size = int(self.metadata.get("min_size", "1"))

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(N,3,H,W), (N,1,H,W) float32 -> (N,3,H,W) float32 in [0, 1]."""
        feed: dict[str, Any] = {
            "image": np.ascontiguousarray(image, np.float32),
            "mask": np.ascontiguousarray(mask, np.float32),
        }
        return self.session.run(["output"], feed)[0]


def compare_runtimes(family: Exportable, onnx_path: str | Path, size: int = 256, seed: int = 0) -> float:
    """Max abs difference between torch and onnxruntime on a seeded random image with a box and a stroke hole."""
    rng = np.random.default_rng(seed)
    x = rng.random((1, 3, size, size), dtype=np.float32)
    m = np.zeros((1, 1, size, size), np.float32)
    m[..., size // 4 : size // 2, size // 3 : size // 2 + size // 8] = 1.0
    m[..., size * 3 // 4, :] = 1.0
    with torch.inference_mode():
        ref = family.predict(torch.from_numpy(x), torch.from_numpy(m)).numpy()
    out = OnnxGraph(onnx_path)(x, m)
    return float(np.abs(out - ref).max())
