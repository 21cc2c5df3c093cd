"""The photo fetcher: the curated selection from an unpacked package tree, held-out photos apart, clear errors."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inpaintkit.data import photos
from inpaintkit.errors import InpaintKitError


def _jpg(path, w, h):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(path)


def test_collect_takes_the_largest_of_each_and_holds_out(tmp_path):
    share = tmp_path / "root" / "usr" / "share"
    _jpg(share / "backgrounds" / "Kleiber_by_Lukas_Baubkus.jpg", 40, 30)
    for name in ("Path", "Kite"):
        for w, h in ((32, 24), (64, 40), (48, 48)):
            _jpg(share / "wallpapers" / name / "contents" / "images" / f"{w}x{h}.jpg", w, h)
    _jpg(share / "wallpapers" / "Drawing" / "contents" / "images" / "99x99.jpg", 99, 99)  # not on the list
    out = photos.collect_photos(tmp_path / "root", tmp_path / "out", skimage_samples=False)
    assert sorted(p.name for p in out["train"]) == ["Kleiber_by_Lukas_Baubkus.jpg", "Path.jpg"]
    assert [p.name for p in out["holdout"]] == ["Kite.jpg"]
    assert Image.open(tmp_path / "out" / "train" / "Path.jpg").size == (64, 40)  # 2560 px beats 2304 px
    assert not (tmp_path / "out" / "train" / "Drawing.jpg").exists()


def test_collect_adds_skimage_photos_with_coffee_and_chelsea_held_out(tmp_path):
    share = tmp_path / "root" / "usr" / "share"
    _jpg(share / "wallpapers" / "Grey" / "contents" / "images" / "8x8.jpg", 8, 8)
    out = photos.collect_photos(tmp_path / "root", tmp_path / "out")
    held = {p.stem for p in out["holdout"]}
    assert held == {"coffee", "chelsea"}
    assert {"astronaut", "motorcycle_left", "Grey"} <= {p.stem for p in out["train"]}
    assert Image.open(tmp_path / "out" / "train" / "astronaut.png").size == (512, 512)


def test_errors(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InpaintKitError, match="none of the expected wallpapers"):
        photos.collect_photos(tmp_path / "empty", tmp_path / "out")
    monkeypatch.setattr(photos.shutil, "which", lambda name: None)
    with pytest.raises(InpaintKitError, match="needs apt-get and dpkg"):
        photos.fetch_photos(tmp_path / "out")
