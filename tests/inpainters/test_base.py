"""The Inpainter base class: validation, HD strategies, padding, paste-back, the registry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inpaintkit.errors import InpaintKitError, UnknownNameError
from inpaintkit.inpainters import create_inpainter, create_inpainter_from_spec, list_inpainters, parse_model_spec
from inpaintkit.inpainters.base import Inpainter, crop_window, mask_boxes


class Recorder(Inpainter):
    """Fills the hole with a constant and records what forward saw."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls: list[tuple[tuple[int, ...], int]] = []

    def forward(self, image, mask, **kw):
        assert not image[mask].any(), "forward must see the hole zeroed"
        self.calls.append((image.shape, int(mask.sum())))
        out = image.copy()
        out[mask] = 200
        return out


class Padded(Recorder):
    pad_multiple = 8
    min_size = 32


def _img(h, w, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def test_registry_lists_classical_and_errors_list_valid_names():
    names = list_inpainters()
    assert {"telea", "ns", "biharmonic"} <= set(names)
    assert list_inpainters("t*") == [n for n in names if n.startswith("t")]
    with pytest.raises(UnknownNameError, match="choose from: .*telea"):
        create_inpainter("nope")
    with pytest.raises(InpaintKitError, match="no option.*bogus.*choose from: radius"):
        create_inpainter("telea", bogus=1)
    with pytest.raises(InpaintKitError, match="radius must be a positive integer"):
        create_inpainter("telea", radius=0)


def test_model_spec_carries_checkpoint_and_options():
    assert parse_model_spec("telea") == ("telea", {})
    assert parse_model_spec("lama:runs/x") == ("lama", {"checkpoint": "runs/x"})
    # values are read as --opt reads them: YAML scalars
    assert parse_model_spec("default?texture=auto&tta=false&gain=0.5") == (
        "default",
        {"texture": "auto", "tta": False, "gain": 0.5},
    )
    assert parse_model_spec("lama:runs/x?threads=1") == ("lama", {"checkpoint": "runs/x", "threads": 1})
    # the options reach the inpainter: radius 9 fills as OpenCV does with radius 9, not the default 5
    img = _img(40, 50)
    mask = np.zeros((40, 50), bool)
    mask[10:20, 15:35] = True
    ours = create_inpainter_from_spec("telea?radius=9").inpaint(img, mask)
    assert np.array_equal(ours, cv2.inpaint(img, mask.astype(np.uint8), 9, cv2.INPAINT_TELEA))
    for spec, msg in (
        ("telea?", "nothing after '\\?'"),
        ("telea?radius", "expected KEY=VALUE"),
        ("telea?radius=[1", "not valid YAML"),
        ("lama:a?checkpoint=b", "checkpoint is given twice"),
        ("telea?bogus=1", "no option.*bogus"),
    ):
        with pytest.raises(InpaintKitError, match=msg):
            create_inpainter_from_spec(spec)


def test_telea_and_ns_equal_opencv():
    img = _img(40, 50)
    mask = np.zeros((40, 50), bool)
    mask[10:20, 15:35] = True
    for name, flag in (("telea", cv2.INPAINT_TELEA), ("ns", cv2.INPAINT_NS)):
        ours = create_inpainter(name, radius=5).inpaint(img, mask)
        ref = cv2.inpaint(img, mask.astype(np.uint8), 5, flag)
        assert np.array_equal(ours, ref), name


def test_biharmonic_equals_skimage():
    from skimage.restoration import inpaint_biharmonic

    img = _img(24, 30)
    mask = np.zeros((24, 30), bool)
    mask[8:14, 10:18] = True
    ours = create_inpainter("biharmonic").inpaint(img, mask)
    ref = np.clip(inpaint_biharmonic(np.where(mask[..., None], 0, img), mask, channel_axis=-1) * 255, 0, 255).round()
    assert np.array_equal(ours[mask], ref.astype(np.uint8)[mask])


def test_empty_mask_returns_input_unchanged():
    img = _img(10, 10)
    out = Recorder().inpaint(img, np.zeros((10, 10), bool))
    assert np.array_equal(out, img) and out is not img


def test_known_pixels_bit_identical_and_modes():
    img = _img(30, 20)
    mask = np.zeros((30, 20), bool)
    mask[5:9, 2:17] = True
    out = Recorder().inpaint(img, mask)
    assert np.array_equal(out[~mask], img[~mask]) and (out[mask] == 200).all()
    gray = img[..., 0]
    g = Recorder().inpaint(gray, mask.astype(np.uint8) * 255)
    assert g.shape == gray.shape and np.array_equal(g[~mask], gray[~mask]) and (g[mask] == 200).all()
    rgba = np.dstack([img, np.full((30, 20), 9, np.uint8)])
    a = Recorder().inpaint(rgba, mask)
    assert a.shape == (30, 20, 4) and (a[..., 3] == 9).all() and np.array_equal(a[~mask], rgba[~mask])


def test_bad_inputs():
    r = Recorder()
    img = _img(10, 10)
    with pytest.raises(InpaintKitError, match="uint8"):
        r.inpaint(img.astype(np.float32), np.zeros((10, 10), bool))
    with pytest.raises(InpaintKitError, match="mask is 5x10 but image is 10x10"):
        r.inpaint(img, np.zeros((10, 5), bool))
    with pytest.raises(InpaintKitError, match="0/1 uint8"):
        r.inpaint(img, np.eye(10, dtype=np.uint8))
    with pytest.raises(InpaintKitError, match="shape"):
        r.inpaint(np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4), bool))
    with pytest.raises(InpaintKitError, match="unknown HD strategy"):
        r.inpaint(img, np.eye(10, dtype=bool), hd_strategy="zoom")
    with pytest.raises(InpaintKitError, match="unknown option"):
        r.inpaint(img, np.eye(10, dtype=bool), caption="a bird")


def test_crop_strategy_runs_on_each_region_only():
    img = _img(1000, 2000)
    mask = np.zeros((1000, 2000), bool)
    mask[100:140, 100:160] = True
    mask[800:830, 1700:1800] = True
    r = Recorder()
    out = r.inpaint(img, mask)  # default: crop, trigger 800, margin 128
    assert len(r.calls) == 2
    assert sorted(c[0][:2] for c in r.calls) == sorted([(40 + 256, 60 + 256), (30 + 256, 100 + 256)])
    assert np.array_equal(out[~mask], img[~mask]) and (out[mask] == 200).all()
    # below the trigger size: one call on the whole image
    r2 = Recorder()
    r2.inpaint(img, mask, hd_strategy_crop_trigger_size=2000)
    assert [c[0][:2] for c in r2.calls] == [(1000, 2000)]


def test_crop_window_stays_inside_and_keeps_size():
    assert crop_window((0, 0, 10, 10), 128, 2000, 1000) == (0, 0, 266, 266)
    l, t, r, b = crop_window((1990, 990, 2000, 1000), 128, 2000, 1000)
    assert (r, b) == (2000, 1000) and (r - l, b - t) == (266, 266)
    assert mask_boxes(np.pad(np.ones((2, 3), bool), 1)) == [(1, 1, 4, 3)]


@pytest.mark.slow
def test_resize_strategy_downscales_and_fills_every_hole_pixel():
    img = _img(1500, 3000)
    mask = np.zeros((1500, 3000), bool)
    mask[700, 100:2900] = True  # a 1-px line: must still be covered after downscaling
    r = Recorder()
    out = r.inpaint(img, mask, hd_strategy="resize", hd_strategy_resize_limit=1280)
    assert [c[0][:2] for c in r.calls] == [(640, 1280)]
    assert np.array_equal(out[~mask], img[~mask])
    assert np.abs(out[mask].astype(int) - 200).max() <= 2  # bicubic upscaling of a constant fill


def test_padding_to_multiple_and_min_size():
    r = Padded()
    img = _img(13, 37)
    mask = np.zeros((13, 37), bool)
    mask[3:6, 3:6] = True
    out = r.inpaint(img, mask, hd_strategy="original")
    assert r.calls[0][0] == (32, 40, 3)
    assert out.shape == img.shape and np.array_equal(out[~mask], img[~mask])
    one = Padded().inpaint(np.full((1, 1, 3), 5, np.uint8), np.ones((1, 1), bool))
    assert one.tolist() == [[[200, 200, 200]]]


def test_hd_defaults_are_written_once():
    from inpaintkit.inpainters import HD_STRATEGIES, HDStrategy, create_inpainter

    assert create_inpainter("telea").hd == HDStrategy() == HDStrategy("crop", 128, 800, 1280)
    assert HD_STRATEGIES == ("original", "resize", "crop")


def test_registry_entries_are_typed_a_misspelt_fact_is_an_error():
    from inpaintkit.inpainters import get_inpainter_entry
    from inpaintkit.registry import Registry

    reg: Registry = Registry("thing")
    with pytest.raises(TypeError, match="bundeld"):
        reg.register("x", description="d", bundeld=True)
    reg.register("y", description="d", bundled=True)(object)
    assert reg.get("y").bundled and not reg.get("y").text_guided
    assert get_inpainter_entry("default").bundled and get_inpainter_entry("tdanet").text_guided
    assert not get_inpainter_entry("telea").bundled and not get_inpainter_entry("telea").text_guided
