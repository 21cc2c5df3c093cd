"""The ``default`` model's ``work_side`` option: the network at a reduced size, its correction on a full-resolution
membrane pre-fill."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaintkit import create_inpainter
from inpaintkit.errors import InpaintKitError
from inpaintkit.layers.prefill import push_pull_fill
from inpaintkit.models import default as default_mod
from inpaintkit.models.inpainter import LearnedInpainter
from inpaintkit.models.lama import PREFILLS


@pytest.fixture(scope="module")
def photo() -> tuple[np.ndarray, np.ndarray]:
    import skimage.data

    img = np.ascontiguousarray(skimage.data.astronaut()[::2, ::2])  # (256, 256, 3)
    mask = np.zeros(img.shape[:2], bool)
    mask[90:150, 100:180] = True
    mask[200:204, 20:220] = True  # a thin stroke too: the small call must still cover it
    return img, mask


def _membrane(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    with torch.inference_mode():
        return push_pull_fill(x * (1 - m), m, **PREFILLS["membrane"])[0].permute(1, 2, 0).numpy() * 255.0


def test_a_network_that_returns_its_prefill_gives_the_full_resolution_membrane_fill(photo):
    img, mask = photo
    out = default_mod.work_side_fill(img, mask, (96, 96), lambda im, m: np.where(m[..., None], _membrane(im, m), im))
    want = np.clip(_membrane(img, mask), 0, 255).round().astype(np.uint8)
    assert np.array_equal(out[~mask], img[~mask])
    assert np.abs(out[mask].astype(int) - want[mask].astype(int)).max() <= 1  # zero correction: the pre-fill


def test_work_side_runs_the_network_small_and_keeps_known_pixels(photo, monkeypatch):
    img, mask = photo
    shapes = []
    original = LearnedInpainter.forward

    def spy(self, image, m, **kw):
        shapes.append(image.shape[:2])
        return original(self, image, m, **kw)

    monkeypatch.setattr(LearnedInpainter, "forward", spy)
    full = create_inpainter("default", device="cpu", threads=1).inpaint(img, mask)
    small = create_inpainter("default", device="cpu", threads=1, work_side=128).inpaint(img, mask)
    # full resolution: the image and its mirror (tta=auto); the work_side path: one pass at the reduced size
    assert shapes == [(256, 256), (256, 256), (128, 128)]
    assert np.array_equal(small[~mask], img[~mask])
    # a fill of the same hole: far closer to the full-resolution fill than to the hole's mean colour
    diff = np.abs(small[mask].astype(float) - full[mask]).mean()
    assert diff < 0.5 * np.abs(img[mask].mean(0) - img[mask].astype(float)).mean(), diff
    shapes.clear()
    create_inpainter("default", device="cpu", threads=1, work_side=512).inpaint(img, mask)
    assert shapes == [(256, 256)] * 2, "an image within work_side runs at full resolution (and mirrored)"


@pytest.mark.parametrize("value", [10, "big", True, -3, 63.5])
def test_bad_work_side_values_are_one_line_errors(value):
    with pytest.raises(InpaintKitError, match="work_side") as e:
        create_inpainter("default", device="cpu", work_side=value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("value", [None, 0, "none", "off"])
def test_work_side_off_spellings(value):
    assert default_mod.check_work_side(value) is None
    assert default_mod.check_work_side("256") == 256
