"""The ``default`` model's texture stage (guided PatchMatch) and its threads knob."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch

from inpaintkit import create_inpainter
from inpaintkit.errors import InpaintKitError
from inpaintkit.models import default as default_mod
from inpaintkit.models.inpainter import THREADS_ENV, default_threads, resolve_threads


def _hf(img: np.ndarray, where: np.ndarray) -> float:
    """Mean square of (gray - its Gaussian blur, sigma 1.5) over ``where``: fine texture."""
    g = img.astype(np.float32).mean(axis=2)
    return float(((g - cv2.GaussianBlur(g, (0, 0), 1.5)) ** 2)[where].mean())


@pytest.fixture(scope="module")
def model():
    return create_inpainter("default", device="cpu", threads=1)  # the default runtime: onnx when installed


@pytest.fixture(scope="module")
def noise() -> tuple[np.ndarray, np.ndarray]:
    """A seeded noise texture (slightly blurred, so patches have structure) with a 48x48 hole."""
    g = np.random.default_rng(0).normal(128, 40, (128, 128)).astype(np.float32)
    g = np.clip(cv2.GaussianBlur(g, (0, 0), 0.8), 0, 255).astype(np.uint8)
    mask = np.zeros((128, 128), bool)
    mask[40:88, 40:88] = True
    return np.repeat(g[..., None], 3, axis=2), mask


def test_texture_on_copies_texture_that_off_smooths_over(model, noise):
    img, mask = noise
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((33, 33), np.uint8)).astype(bool) & ~mask
    known_hf = _hf(img, ring)
    off = model.inpaint(img, mask, texture="off")
    on = model.inpaint(img, mask, texture="on")
    # the detail fades in over the first TEXTURE_RAMP px from the edge: full texture from there on
    r = int(default_mod.TEXTURE_RAMP)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)
    assert _hf(on, inner) > 0.6 * known_hf, (_hf(on, inner), known_hf)
    assert _hf(on, mask) > 0.4 * known_hf, (_hf(on, mask), known_hf)
    assert _hf(off, mask) < 0.1 * known_hf, (_hf(off, mask), known_hf)
    # and the texture is the known region's: same brightness as the network's fill on average
    assert abs(float(on[mask].mean()) - float(off[mask].mean())) < 10


def test_texture_detail_swaps_the_fills_high_pass_for_the_synthesis_faded_in_from_the_edge():
    fill = np.full((40, 40, 3), 100, np.uint8)
    synthesis = fill.copy()
    synthesis[::2, ::2] = 160  # a fine checker of detail, everywhere
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    out = default_mod.add_texture_detail(fill, synthesis, mask, gain=1.0, sigma=2.0, ramp=8.0)
    np.testing.assert_array_equal(out[~mask], fill[~mask])  # known pixels untouched
    dev = np.abs(out.astype(np.float32) - 100).mean(axis=2)
    assert dev[20, 20] > 20 and dev[20, 21] > 5  # deep in the hole: the full detail
    assert dev[5, 20] < 0.25 * dev[20, 20]  # on the hole's edge row: a fraction of it
    # the mean level is the fill's: detail only, no shift of colour
    assert abs(float(out[mask].mean()) - 100) < 3
    np.testing.assert_array_equal(default_mod.add_texture_detail(fill, fill, mask), fill)  # the same detail: no change
    # the fill's own fine detail (a network's checkerboard) gives way to the synthesis's, here none
    out = default_mod.add_texture_detail(synthesis, fill, mask, gain=1.0, sigma=2.0, ramp=8.0)
    assert np.abs(out[15:25, 15:25].astype(np.float32) - out[15:25, 15:25].mean()).max() < 3  # flat deep inside
    change = np.abs(out.astype(np.float32) - synthesis).mean(axis=2)
    assert change[5, 10:30].mean() < 0.25 * change[20, 10:30].mean()  # on the hole's edge row: a fraction of it


def test_texture_on_keeps_known_pixels_bit_identical(model, photo):
    img = cv2.resize(photo, (200, 128), interpolation=cv2.INTER_AREA)
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(mask, (100, 64), (40, 30), 20, 0, 360, 255, -1)
    cv2.line(mask, (5, 120), (190, 100), 255, 5)
    out = model.inpaint(img, mask, texture="on")
    m = mask > 0
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~m], img[~m])
    assert not np.array_equal(out[m], model.inpaint(img, mask, texture="off")[m])


def test_auto_runs_the_texture_stage_only_for_deep_holes(model, noise):
    img, box = noise
    thin = np.zeros_like(box)
    thin[60:66, 10:118] = True  # 6 px wide: depth 3 < TEXTURE_MIN_DEPTH
    assert not default_mod.wants_texture(thin, "auto") and default_mod.wants_texture(box, "auto")
    np.testing.assert_array_equal(model.inpaint(img, thin, texture="auto"), model.inpaint(img, thin, texture="off"))
    np.testing.assert_array_equal(model.inpaint(img, box, texture="auto"), model.inpaint(img, box, texture="on"))


@pytest.mark.parametrize("value", ["yes", 1, None, "ON"])  # (True / False are on / off)
def test_bad_texture_values_are_one_line_errors(model, noise, value):
    img, mask = noise
    with pytest.raises(InpaintKitError) as e:
        create_inpainter("default", texture=value)
    assert "texture" in str(e.value) and "auto, on, off" in str(e.value) and "\n" not in str(e.value)
    if value is not None:  # None per call means "the constructor's mode"
        with pytest.raises(InpaintKitError, match="auto, on, off"):
            model.inpaint(img, mask, texture=value)


def test_threads_option_is_honoured_and_the_callers_count_restored(noise, monkeypatch):
    img, mask = noise
    model = create_inpainter("default", device="cpu", runtime="torch", threads=1)
    seen = []
    predict = model.family.predict
    monkeypatch.setattr(
        model.family, "predict", lambda *a, **k: (seen.append(torch.get_num_threads()), predict(*a, **k))[1]
    )
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        model.inpaint(img, mask, texture="off")
        assert seen == [1, 1] and torch.get_num_threads() == 2  # the image and its mirror (tta=auto), 1 thread each
    finally:
        torch.set_num_threads(before)


def test_runtime_auto_is_onnx_on_the_cpu_with_sleeping_threads(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    m = create_inpainter("default", device="cpu")
    assert m.runtime == "onnx" and m.threads == default_threads("onnx") == min(2, len(os.sched_getaffinity(0)))
    opts = m.onnx.session.get_session_options()
    assert opts.intra_op_num_threads == m.threads
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert create_inpainter("default", runtime="torch").threads == default_threads("torch") == 1
    with pytest.raises(InpaintKitError, match="runtime 'tf': choose from auto, torch, onnx"):
        create_inpainter("default", runtime="tf")


def test_threads_env_and_validation(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert resolve_threads(None) == 1 and resolve_threads(3) == 3
    monkeypatch.setenv(THREADS_ENV, "2")
    assert resolve_threads(None) == 2 and resolve_threads(1) == 1  # the option wins over the variable
    assert create_inpainter("default", device="cpu").threads == 2
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(InpaintKitError, match=f"{THREADS_ENV}='many'"):
        create_inpainter("default")
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(InpaintKitError, match="threads") as e:
            create_inpainter("default", threads=bad)
        assert "\n" not in str(e.value)


def test_cli_texture_and_threads(cli, tmp_path, noise):
    from inpaintkit.io import read_image, write_image, write_mask

    img, mask = noise
    write_image(tmp_path / "a.png", img)
    write_mask(tmp_path / "m.png", mask)
    base = ("run", "-i", tmp_path / "a.png", "-m", tmp_path / "m.png")
    code, _, err = cli(*base, "-o", tmp_path / "on.png", "--opt", "texture=on", "--threads", "1")
    assert code == 0, err
    on = read_image(tmp_path / "on.png").rgb
    np.testing.assert_array_equal(on[~mask], img[~mask])
    assert _hf(on, mask) > 0.4 * _hf(img, ~mask)  # YAML's "on" (True) is texture on (off: < 0.1, the test above)
    for extra, words in (
        (("--opt", "texture=maybe"), "texture='maybe': choose from auto, on, off"),
        (("--threads", "0"), "threads=0"),
        (("--model", "telea", "--threads", "2"), "--threads 2: model 'telea'"),
    ):
        code, _, err = cli(*base, "-o", tmp_path / "x.png", *extra)
        assert code != 0 and words in err and len(err.strip().splitlines()) == 1, err
