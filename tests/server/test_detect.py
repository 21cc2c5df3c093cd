"""POST /api/v1/detect: the response format with an injected detector, and clean 503s when there is none."""

from __future__ import annotations

import base64
import sys

import numpy as np
import pytest

from inpaintkit.errors import InpaintKitError
from inpaintkit.forensics.detector import Detection


class _FakeDetector:
    """Says "inpainted" with a heatmap that is 1 on the left half; can answer at half resolution."""

    def __init__(self, half: bool = False):
        self.half = half
        self.seen = []

    def detect(self, rgb):
        self.seen.append(rgb.shape)
        h, w = rgb.shape[:2]
        if self.half:
            h, w = h // 2, w // 2
        heat = np.zeros((h, w), np.float32)
        heat[:, : w // 2] = 1.0
        heat[0, -1] = 0.5
        return Detection(0.875, "inpainted", heat)


def test_detect_json_returns_score_verdict_heatmap(make_client, codec, image, image_png):
    det = _FakeDetector()
    c = make_client(detector=det)
    r = c.post("/api/v1/detect", json={"image": "data:image/png;base64," + codec.b64(image_png)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["score"] == 0.875 and body["verdict"] == "inpainted"
    assert (body["width"], body["height"]) == (64, 48)
    heat = codec.decode(base64.b64decode(body["heatmap"]))
    assert heat.shape == (48, 64) and heat.dtype == np.uint8
    assert (heat[:, :32] == 255).all() and (heat[1:, 32:] == 0).all() and heat[0, -1] == 128
    assert det.seen == [image.shape]


def test_detect_multipart_and_heatmap_resized(make_client, codec, image_png):
    c = make_client(detector=_FakeDetector(half=True))
    r = c.post("/api/v1/detect", files={"image": ("photo.png", image_png, "image/png")})
    assert r.status_code == 200
    heat = codec.decode(base64.b64decode(r.json()["heatmap"]))
    assert heat.shape == (48, 64)  # the detector's (24, 32) map comes back at the image's size
    assert heat[:, :14].min() == 255 and heat[4:, 34:].max() == 0  # (bilinear: the 0.5 dot spreads a little)


def test_detect_bad_input(make_client, codec):
    c = make_client(detector=_FakeDetector())
    r = c.post("/api/v1/detect", json={"image": codec.b64(b"not an image at all")})
    assert r.status_code == 400 and r.json()["detail"].startswith("image: not an image")
    r = c.post("/api/v1/detect", json={})
    assert r.status_code == 422 and r.json()["detail"].startswith("image: missing")
    r = c.post("/api/v1/detect", json={"image": "%%%"})
    assert r.status_code == 400 and "malformed base64" in r.json()["detail"]


def test_detect_without_forensics_module_is_503(make_client, codec, image_png, monkeypatch):
    monkeypatch.setitem(sys.modules, "inpaintkit.forensics", None)  # import fails as if the module were absent
    c = make_client()
    r = c.post("/api/v1/detect", json={"image": codec.b64(image_png)})
    assert r.status_code == 503
    assert r.json()["detail"].startswith("no detector available: inpaintkit.forensics cannot be imported")
    assert "retry-after" not in r.headers  # waiting will not help


def test_detect_when_loader_finds_nothing_is_503(make_client, codec, image_png, monkeypatch):
    import inpaintkit.forensics as forensics

    def no_detector(spec):
        raise InpaintKitError(f"no bundled detector weights (asked for {spec!r})")

    monkeypatch.setattr(forensics, "load_detector", no_detector)
    c = make_client(detector_source="somewhere")
    r = c.post("/api/v1/detect", json={"image": codec.b64(image_png)})
    assert r.status_code == 503
    assert r.json()["detail"] == "no detector available: no bundled detector weights (asked for 'somewhere')"


def test_detect_with_the_real_bundled_detector(make_client, codec, image_png):
    """The real ``inpaintkit.forensics``: a result when its bundled weights are there, else a clean 503."""
    from inpaintkit.forensics import bundled_detectors

    c = make_client()
    r = c.post("/api/v1/detect", json={"image": codec.b64(image_png)})
    if bundled_detectors():
        assert r.status_code == 200, r.text
        body = r.json()
        assert 0.0 <= body["score"] <= 1.0 and body["verdict"] in ("inpainted", "authentic")
        assert codec.decode(base64.b64decode(body["heatmap"])).shape == (48, 64)
    else:
        assert r.status_code == 503 and r.json()["detail"].startswith("no detector available: ")


@pytest.mark.parametrize("bad", ["", "   "])
def test_detect_empty_image(make_client, bad):
    c = make_client(detector=_FakeDetector())
    r = c.post("/api/v1/detect", json={"image": bad})
    assert r.status_code == 400 and r.json()["detail"].startswith("image: empty")
