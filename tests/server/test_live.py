"""A real ``inpaintkit serve`` process on a loopback port, over HTTP; and the serve command's flag checks."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from inpaintkit.server.background import BackgroundServer


@pytest.fixture(scope="module")
def live_url():
    with BackgroundServer(["--model", "telea", "--max-upload-mb", "1", "--workers", "2", "--queue", "4"]) as url:
        yield url


@pytest.mark.slow
def test_live_inpaint_json_and_multipart(live_url, photo, codec):
    rgb = photo[100:356, 200:456]  # a 256x256 piece of the sample photo
    hole = np.zeros(rgb.shape[:2], bool)
    hole[100:140, 60:200] = True
    img_png, mask_png = codec.encode(rgb), codec.encode(hole.astype(np.uint8) * 255)
    with httpx.Client(base_url=live_url, timeout=60) as http:
        health = http.get("/healthz").json()
        assert health["status"] == "ok" and health["default_model"] == "telea"
        assert health["pool"]["capacity"] == 6
        r = http.post(
            "/api/v1/inpaint",
            json={"image": codec.b64(img_png), "mask": codec.b64(mask_png), "hd_strategy": "Original"},
        )
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        out = codec.decode(r.content)
        assert np.array_equal(out[~hole], rgb[~hole]) and np.abs(out[hole].astype(int) - rgb[hole]).mean() > 2
        r2 = http.post("/api/v1/inpaint", files={"image": ("p.png", img_png), "mask": ("m.png", mask_png)})
        assert r2.status_code == 200 and np.array_equal(codec.decode(r2.content), out)
        page = http.get("/")
        assert page.status_code == 200 and "Remove anything from a photo" in page.text


@pytest.mark.slow
def test_live_errors_are_json(live_url, codec, image_png):
    with httpx.Client(base_url=live_url, timeout=60) as http:
        r = http.post("/api/v1/inpaint", json={"image": "nope!", "mask": "nope!"})
        assert r.status_code == 400 and r.json()["detail"].startswith("image: malformed base64")
        r = http.post(
            "/api/v1/inpaint", json={"image": codec.b64(image_png), "mask": codec.b64(image_png), "model": "missing"}
        )
        assert r.status_code == 404 and "choose from" in r.json()["detail"]
        big = b"x" * (1024 * 1024 + 10)
        r = http.post("/api/v1/inpaint", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "above the limit of 1.0 MB" in r.json()["detail"]
        assert http.get("/openapi.json").json()["info"]["title"] == "inpaintkit"


def test_serve_refuses_bad_flags(cli):
    code, _, err = cli("serve", "--model", "nope")
    assert code == 2 and "unknown inpainter 'nope'" in err
    code, _, err = cli("serve", "--port", "70000")
    assert code == 2 and "--port 70000" in err
    code, _, err = cli("serve", "--max-upload-mb", "0")
    assert code == 2 and "must be positive" in err
    code, _, err = cli("serve", "--log-level", "loud")
    assert code == 2 and "--log-level 'loud': choose from critical" in err
