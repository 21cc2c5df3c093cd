"""The bundled ``default`` model: it is the default, its weights load, its output matches a stored reference.

The reference (``data/default_reference.png``) is the bundled model's fill of a fixed input; regenerate it after
retraining with ``.venv/bin/python tests/models/test_default.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inpaintkit import create_inpainter
from inpaintkit.errors import InpaintKitError
from inpaintkit.inpainters import default_inpainter_name, get_inpainter_entry, is_available
from inpaintkit.models.default import BUNDLED, ONNX_FILE, WEIGHTS, DefaultInpainter

REFERENCE = Path(__file__).parent / "data" / "default_reference.png"


def fixed_input() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's coffee photo, a 160x200 crop, with a box hole and a brush stroke across the cup's rim."""
    import cv2
    import skimage.data

    img = np.ascontiguousarray(skimage.data.coffee()[120:280, 150:350])  # (160, 200, 3) uint8
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[40:90, 60:120] = 255
    cv2.line(mask, (10, 140), (190, 110), 255, 9)
    return img, mask > 0


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return create_inpainter("default", device="cpu", runtime="torch")


def test_default_is_the_bundled_model_and_the_default():
    entry = get_inpainter_entry("default")
    assert entry.kind == "learned" and entry.bundled and is_available(entry)
    assert default_inpainter_name() == "default"
    assert isinstance(create_inpainter(), DefaultInpainter)
    assert set(entry.options()) >= {"device", "runtime", "hd_strategy"}
    assert "checkpoint" not in entry.options()
    with pytest.raises(InpaintKitError, match="no option"):
        create_inpainter("default", checkpoint="elsewhere")


def test_bundle_is_small_and_complete():
    files = {p.name for p in BUNDLED.iterdir()}
    assert {"generator.safetensors", "config.yaml", "model.onnx", "MODEL_CARD.md"} <= files
    assert sum(p.stat().st_size for p in BUNDLED.iterdir()) <= 30e6


def test_output_matches_the_stored_reference_and_keeps_known_pixels(model):
    from PIL import Image

    img, mask = fixed_input()
    out = model.inpaint(img, mask)
    assert np.array_equal(out[~mask], img[~mask]), "known pixels are bit-identical"
    ref = np.asarray(Image.open(REFERENCE).convert("RGB"))
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert diff.max() <= 3 and diff[mask].mean() <= 0.2, f"max {diff.max()}, mean {diff[mask].mean():.3f}"
    # and the fill is a fill: closer to the truth than the hole's mean colour everywhere in it
    err = np.abs(out[mask].astype(float) - img[mask]).mean()
    assert err < np.abs(img[mask].mean(0) - img[mask].astype(float)).mean()


def test_blend_averages_the_network_and_the_biharmonic_fill(model):
    """``blend`` b: (1 - b) x the network's fill + b x the biharmonic fill (both measured apart here); the default
    ``auto`` is ``AUTO_BLEND`` for a call the network fills at full resolution."""
    from inpaintkit.inpainters.biharmonic import biharmonic_fill
    from inpaintkit.models.default import AUTO_BLEND, DEFAULT_BLEND

    img, mask = fixed_input()
    assert model.blend == DEFAULT_BLEND == "auto" and 0 < AUTO_BLEND < 1
    kw = dict(device="cpu", runtime="torch", degrid="off", grain=0)  # both change the fill after the network
    net = create_inpainter("default", blend=0, **kw).inpaint(img, mask).astype(float)
    smooth = biharmonic_fill(img, mask)
    for b, m in ((AUTO_BLEND, create_inpainter("default", **kw)), (1.0, create_inpainter("default", blend=1, **kw))):
        out = m.inpaint(img, mask)
        expected = np.clip((1 - b) * net + b * smooth, 0, 255)
        # the network's fill is rounded to uint8 before the average: at most half a level, then rounding
        assert np.abs(out[mask] - expected[mask]).max() <= 1.0
        assert np.array_equal(out[~mask], img[~mask])
    assert np.abs(net[mask] - smooth[mask]).mean() > 2  # the two fills differ, so the test can tell them apart


def test_auto_blend_is_off_on_the_work_side_path():
    """A call larger than ``work_side`` (here 128) takes the network's correction alone under ``auto``; an explicit
    weight still blends there."""
    img, mask = fixed_input()  # 160 x 200: larger than 128
    kw = dict(device="cpu", runtime="torch", work_side=128, grain=0)
    auto = create_inpainter("default", **kw).inpaint(img, mask)
    zero = create_inpainter("default", blend=0, **kw).inpaint(img, mask)
    half = create_inpainter("default", blend=0.5, **kw).inpaint(img, mask)
    assert np.array_equal(auto, zero)
    assert np.abs(half[mask].astype(float) - zero[mask]).mean() > 0.5


def test_tta_averages_the_fill_of_the_mirrored_image():
    """``tta=on``: the network's fill is the mean of its fill and of the mirrored image's fill mirrored back, so the
    model fills a mirrored input with the mirror of its fill; ``auto`` (the default) does it where the network
    fills at full resolution and not on the ``work_side`` path."""
    from inpaintkit.models.default import DEFAULT_TTA

    img, mask = fixed_input()
    # the grain's tiles are not mirror-symmetric, and the grid's removal is clipped to 0-255 before the mean
    kw = dict(device="cpu", runtime="torch", blend=0, degrid="off", grain=0)
    plain = create_inpainter("default", tta="off", **kw)
    on = create_inpainter("default", tta="on", **kw)
    a = plain.inpaint(img, mask).astype(float)
    b = plain.inpaint(img[:, ::-1].copy(), mask[:, ::-1].copy())[:, ::-1].astype(float)
    out = on.inpaint(img, mask)
    assert np.abs(out - (a + b) / 2).max() <= 0.5 + 1e-9  # the mean, rounded
    assert np.abs(a[mask] - b[mask]).mean() > 0.5  # the two fills differ, so the test can tell
    mirrored = on.inpaint(img[:, ::-1].copy(), mask[:, ::-1].copy())
    assert np.array_equal(mirrored[:, ::-1], out)
    assert DEFAULT_TTA == "auto" and np.array_equal(create_inpainter("default", **kw).inpaint(img, mask), out)
    small = dict(kw, work_side=128)  # 160 x 200 is larger: the work_side path, where auto keeps one pass
    off_small = create_inpainter("default", tta="off", **small).inpaint(img, mask)
    assert np.array_equal(create_inpainter("default", **small).inpaint(img, mask), off_small)
    assert not np.array_equal(create_inpainter("default", tta="on", **small).inpaint(img, mask), off_small)


@pytest.mark.parametrize("bad", ["mirror", 2, "yes"])
def test_bad_tta_is_a_one_line_error(bad):
    with pytest.raises(InpaintKitError, match="tta=") as e:
        create_inpainter("default", tta=bad)
    assert "\n" not in str(e.value)


def test_degrid_and_grain_change_only_the_hole_and_grain_adds_the_photos_noise(model):
    """The defaults take the network's grid out and add the photo's grain; ``degrid=off, grain=0`` is the fill
    without either. Grain puts fine detail into the hole; the grid removal alone moves the fill little."""
    from inpaintkit.models.default import DEFAULT_DEGRID, DEFAULT_GRAIN

    assert model.degrid is (DEFAULT_DEGRID == "on") and model.grain == DEFAULT_GRAIN > 0
    img, mask = fixed_input()
    kw = dict(device="cpu", runtime="torch")
    plain = create_inpainter("default", degrid="off", grain=0, **kw).inpaint(img, mask)
    degrid = create_inpainter("default", grain=0, **kw).inpaint(img, mask)
    full = model.inpaint(img, mask)
    for out in (degrid, full):
        assert np.array_equal(out[~mask], img[~mask])
    assert 0 < np.abs(degrid.astype(int) - plain)[mask].mean() < 2

    def detail(x):
        import cv2

        x = x.astype(np.float32)
        return (x - cv2.GaussianBlur(x, (0, 0), 1.0))[40:90, 60:120][4:-4, 4:-4]  # the box hole, inside

    # the grain is fine detail of its own (not a shift of the fill) that adds to the fill's: variances add up (the
    # fill's own detail depends on the weights, so no ratio to it: v7's network paints more detail than v6's)
    grain = detail(full.astype(np.float32) - degrid)
    assert grain.std() > 0.4
    assert detail(full).var() > detail(degrid).var() + 0.5 * grain.var()
    inside = np.abs(full.astype(int) - degrid)[40:90, 60:120][4:-4, 4:-4]
    assert inside.mean() > 0.3
    assert np.array_equal(full, model.inpaint(img, mask))  # seeded: the same call, the same grain


@pytest.mark.parametrize(("option", "bad"), [("grain", -1), ("grain", 9), ("grain", "lots"), ("degrid", "maybe")])
def test_bad_grain_or_degrid_is_a_one_line_error(option, bad):
    with pytest.raises(InpaintKitError, match=f"{option}=") as e:
        create_inpainter("default", **{option: bad})
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half", "autos", True])
def test_bad_blend_is_a_one_line_error(bad):
    with pytest.raises(InpaintKitError, match="blend=") as e:
        create_inpainter("default", blend=bad)
    assert "\n" not in str(e.value)


def test_onnx_runtime_matches_torch_and_is_the_same_weights(model):
    import onnxruntime as ort

    from inpaintkit.export import file_sha256

    meta = ort.InferenceSession(str(ONNX_FILE), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert meta.custom_metadata_map["weights_sha256"] == file_sha256(WEIGHTS), (
        "model.onnx is stale: re-export with `inpaintkit export --model default --output "
        "inpaintkit/weights/default/model.onnx`"
    )
    img, mask = fixed_input()
    a = model.inpaint(img, mask)
    b = create_inpainter("default", runtime="onnx").inpaint(img, mask)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # float differences below 1e-3 may flip a rounding
    assert np.array_equal(b[~mask], img[~mask])


if __name__ == "__main__":
    from PIL import Image

    torch.set_num_threads(1)
    img, mask = fixed_input()
    Image.fromarray(create_inpainter("default", device="cpu", runtime="torch").inpaint(img, mask)).save(REFERENCE)
    print(f"wrote {REFERENCE}")


def test_work_side_prefill_runs_on_one_torch_thread_under_onnxruntime(monkeypatch):
    """The pre-fill around the network is torch: under onnxruntime (2 sleeping threads) it must not run on 2 of
    torch's spinning OpenMP threads (3.7 s instead of 75 ms beside a busy process at 512²)."""
    import inpaintkit.models.default as dm

    seen = []
    real = dm.push_pull_fill

    def spy(*a, **k):
        seen.append(torch.get_num_threads())
        return real(*a, **k)

    monkeypatch.setattr(dm, "push_pull_fill", spy)
    img, mask = fixed_input()
    torch.set_num_threads(2)
    try:
        m = create_inpainter("default", runtime="onnx", threads=2, work_side=128)
        assert m.threads == 2 and m.helper_threads == 1
        m.inpaint(img, mask)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2  # the caller's count is restored
        seen.clear()
        t = create_inpainter("default", runtime="torch", threads=2, work_side=128)
        assert t.helper_threads == 2
        t.inpaint(img, mask)
        assert seen and set(seen) == {2}
    finally:
        torch.set_num_threads(1)
