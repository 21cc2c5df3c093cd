"""``load_detector``: a name or folder -> the detector it holds (fused, stacked ensemble or one network).

Kept apart from the detector kinds it dispatches to, so none of them imports another through it. The torch ones
(an ensemble, a network without its ONNX export) are imported only when they are asked for.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InpaintKitError
from .cnn import BUNDLED_DIR, BUNDLED_NAME, ENSEMBLE_FILE, WEIGHTS_FILE
from .fusion import FUSION_FILE, FusedDetector, load_cnn


def bundled_detectors() -> list[str]:
    """Names accepted by ``load_detector`` besides run folders (the bundled detector, when its weights exist)."""
    return [BUNDLED_NAME] if _has_detector(BUNDLED_DIR) else []


def _has_detector(folder: Path) -> bool:
    return (folder / WEIGHTS_FILE).is_file() or (folder / FUSION_FILE).is_file()


def load_detector(spec: str | Path | None = None, *, threshold: float | None = None, threads: int = 0):
    """The bundled detector (``None`` or ``"default"``), a trained run folder, or an ensemble folder.

    ``threads``: intra-op threads of a CNN run on onnxruntime (0: its default; see ``fusion.load_cnn``); torch's
    are set for the whole process (``torch.set_num_threads``). Returns an object with ``threshold`` and
    ``detect(rgb) -> Detection``. Raises ``InpaintKitError`` when the named detector does not exist or has no
    weights.
    """
    if spec is None or str(spec) == BUNDLED_NAME:
        if not _has_detector(BUNDLED_DIR):
            raise InpaintKitError(
                f"no bundled detector weights in {BUNDLED_DIR}; pass a run folder "
                "(train one with `inpaintkit forensics train`)"
            )
        path, name = BUNDLED_DIR, BUNDLED_NAME
    else:
        path, name = Path(spec), str(spec)
        if not path.is_dir():
            choices = ", ".join(bundled_detectors()) or "none bundled"
            raise InpaintKitError(f"detector {name!r}: no such run folder; pass a run folder or one of: {choices}")
    if (path / FUSION_FILE).is_file():
        det = FusedDetector.load(path, name=name, threads=threads)
    elif (path / ENSEMBLE_FILE).is_file():
        from .ensemble import load_ensemble

        det = load_ensemble(path)
    else:
        det = load_cnn(path, name=name, threads=threads)
        if det is None:  # a run still training (config.yaml, no detector.json) or no weights: torch says which
            from .detector import Detector, load_detector_net

            net, meta = load_detector_net(path)
            det = Detector(net, meta.get("threshold", 0.5), name=name, meta=meta)
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise InpaintKitError(f"--threshold {threshold}: must be between 0 and 1")
        det.threshold = float(threshold)
    return det
