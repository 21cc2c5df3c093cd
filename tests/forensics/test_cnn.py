"""The CNN detector on onnxruntime (the bundled ``model.onnx``) against the same network on torch."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from inpaintkit.forensics.cnn import BUNDLED_DIR, ONNX_FILE, WEIGHTS_FILE, OnnxDetector, file_digest  # noqa: E402
from inpaintkit.forensics.detector import Detector, load_detector_net  # noqa: E402
from inpaintkit.forensics.fusion import load_cnn  # noqa: E402


@pytest.fixture(scope="module")
def both():
    """(onnxruntime detector, torch detector) of the bundled CNN."""
    net, meta = load_detector_net(BUNDLED_DIR)
    return load_cnn(BUNDLED_DIR, threads=1), Detector(net, meta["threshold"], meta=meta)


def test_the_bundled_cnn_runs_on_onnxruntime_from_its_own_weights(both):
    onnx, torch_det = both
    assert isinstance(onnx, OnnxDetector)  # model.onnx was exported from model.safetensors as shipped
    assert onnx.metadata["weights_sha256"] == file_digest(BUNDLED_DIR / WEIGHTS_FILE)
    assert (onnx.tile, onnx.overlap, onnx.threshold) == (torch_det.tile, torch_det.overlap, torch_det.threshold)
    assert (BUNDLED_DIR / ONNX_FILE).stat().st_size <= 8 * 2**20
    opts = OnnxDetector(BUNDLED_DIR / ONNX_FILE, threads=1).session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.execution_mode.name == "ORT_SEQUENTIAL"


@pytest.mark.parametrize(
    "shape",
    [(256, 256), (400, 600), (70, 100), (256, 90)],
    ids=["one-tile", "tiled", "small-padded", "one-side-small"],
)
def test_onnx_scores_and_maps_match_torch(both, photo, shape):
    onnx, torch_det = both
    h, w = shape
    rgb = np.ascontiguousarray(photo[-h:, 100 : 100 + w])
    (lo, mo), (lt, mt) = onnx.predict(rgb), torch_det.predict(rgb)
    assert mo.shape == mt.shape == (h, w) and mo.dtype == np.float32
    assert abs(lo - lt) < 1e-4
    assert np.abs(mo - mt).max() < 1e-4
    assert onnx.detect(rgb).verdict == torch_det.detect(rgb).verdict


def test_an_export_from_other_weights_is_not_used(tmp_path):
    """A folder whose model.safetensors changed since model.onnx was exported (a retrained run) runs on torch."""
    from safetensors.numpy import load_file, save_file

    for f in ("detector.json", ONNX_FILE):
        shutil.copyfile(BUNDLED_DIR / f, tmp_path / f)
    state = load_file(str(BUNDLED_DIR / WEIGHTS_FILE))
    first = sorted(k for k, v in state.items() if v.dtype.kind == "f")[0]
    state[first] = state[first] + np.float32(0.01)
    save_file(state, str(tmp_path / WEIGHTS_FILE))
    det = load_cnn(tmp_path)
    assert isinstance(det, Detector)
    shutil.copyfile(BUNDLED_DIR / WEIGHTS_FILE, tmp_path / WEIGHTS_FILE)
    assert isinstance(load_cnn(tmp_path), OnnxDetector)  # the same weights again: onnxruntime
