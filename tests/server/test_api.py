"""The REST API through FastAPI's TestClient: every route, IOPaint-style requests, and every kind of bad input."""

from __future__ import annotations

import base64
import threading
import time

import numpy as np
import pytest

from inpaintkit.inpainters import INPAINTERS, list_inpainters
from inpaintkit.inpainters.opencv import TeleaInpainter
from inpaintkit.io import read_image


def _assert_filled(out: np.ndarray, image: np.ndarray, hole: np.ndarray) -> None:
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], image[~hole]), "pixels outside the hole changed"
    assert np.abs(out[hole].astype(int) - image[hole]).mean() > 1, "the hole was not filled"


@pytest.fixture
def post_json(client, codec):
    """``post_json(image_bytes, mask_bytes, **fields)`` -> response of a base64 JSON inpaint request."""

    def post(img: bytes, mask: bytes, c=None, **fields):
        return (c or client).post("/api/v1/inpaint", json={"image": codec.b64(img), "mask": codec.b64(mask), **fields})

    return post


# -- routes that describe the server -----------------------------------------------------------------------------
def test_healthz_reports_default_model_and_pool(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["default_model"] == "telea"
    assert body["pool"] == {"workers": 2, "running": 0, "waiting": 0, "capacity": 18}


def test_models_lists_the_registry(client):
    r = client.get("/api/v1/models")
    assert r.status_code == 200
    models = {m["name"]: m for m in r.json()}
    assert sorted(models) == list_inpainters()
    telea = models["telea"]
    assert telea["kind"] == "classical" and telea["available"] and telea["default"]
    assert not telea["needs_weights"] and not telea["text_guided"]
    assert telea["options"]["radius"] == 3 and telea["options"]["hd_strategy"] == "crop"
    assert sum(m["default"] for m in models.values()) == 1
    for e in INPAINTERS.entries():  # learned models without bundled weights are listed but not usable here
        assert models[e.name]["available"] == (not e.needs_weights or e.bundled)
        assert models[e.name]["text_guided"] == bool(e.text_guided or "caption" in getattr(e.obj, "call_options", ()))


def test_model_switch_is_opt_in(client):
    """Any client could change every other client's default model: off unless --allow-model-switch (issue 19)."""
    r = client.post("/api/v1/model", json={"name": "ns"})
    assert r.status_code == 403 and "--allow-model-switch" in r.json()["detail"]
    assert client.get("/healthz").json()["default_model"] == "telea"


def test_current_model_and_switch(make_client):
    client = make_client(allow_model_switch=True)
    assert client.get("/api/v1/model").json()["name"] == "telea"
    r = client.post("/api/v1/model", json={"name": "ns"})
    assert r.status_code == 200 and r.json()["name"] == "ns" and r.json()["default"]
    assert client.get("/healthz").json()["default_model"] == "ns"
    r = client.post("/api/v1/model", json={"name": "nope"})
    assert r.status_code == 404 and "unknown inpainter 'nope'" in r.json()["detail"] and "telea" in r.json()["detail"]
    r = client.post("/api/v1/model", json={})
    assert r.status_code == 422 and r.json()["detail"] == "name: Field required"


def test_page_openapi_and_unknown_routes(client):
    r = client.get("/")
    assert r.status_code == 200 and '<script type="module" src="js/app.js">' in r.text
    for path in ("/js/app.js", "/js/editor.js", "/js/api.js", "/js/detect.js"):
        js = client.get(path)
        assert js.status_code == 200 and "javascript" in js.headers["content-type"], path
    assert client.get("/style.css").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/inpaint"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    assert {"image", "mask", "hd_strategy", "model"} <= set(body["application/json"]["schema"]["properties"])
    assert {"/api/v1/models", "/api/v1/adjust_mask", "/api/v1/detect", "/healthz"} <= set(spec["paths"])
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["detail"].startswith("no API route /api/v1/nothing")
    r = client.get("/api/v1/inpaint")
    assert r.status_code == 405 and r.json()["detail"] == "GET is not allowed on /api/v1/inpaint; use POST"


# -- inpaint ----------------------------------------------------------------------------------------------------
def test_inpaint_json_base64(post_json, codec, image, hole, image_png, hole_png):
    r = post_json(image_png, hole_png)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and r.headers["x-model"] == "telea"
    parts = {p.split(";")[0].strip() for p in r.headers["server-timing"].split(",")}
    assert parts == {"queue", "decode", "model", "model_cpu", "encode", "total"}
    _assert_filled(codec.decode(r.content), image, hole)


def test_samples_come_back_as_json_with_one_image_per_seed(make_client, codec, image, hole, image_png, hole_png):
    client = make_client(models=("patchmatch",))
    body = {"image": codec.b64(image_png), "mask": codec.b64(hole_png), "samples": 3, "sd_seed": 7}
    r = client.post("/api/v1/inpaint", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["x-model"] == "patchmatch"
    samples = r.json()["samples"]
    assert [s["seed"] for s in samples] == [7, 8, 9]
    fills = [codec.decode(base64.b64decode(s["image"].split(",", 1)[1])) for s in samples]
    for f in fills:
        _assert_filled(f, image, hole)
    single = client.post("/api/v1/inpaint", json={**body, "samples": 1, "sd_seed": 8})
    assert single.headers["content-type"] == "image/png"
    assert np.array_equal(codec.decode(single.content), fills[1])  # sample i is the fill with seed sd_seed + i
    for bad in (0, 9, "two"):
        r = client.post("/api/v1/inpaint", json={**body, "samples": bad})
        assert r.status_code == 422 and "samples" in r.json()["detail"]


def test_inpaint_iopaint_request(client, codec, image, hole, image_png):
    """What IOPaint's front end sends: data URLs, an RGBA canvas mask, 'Crop', and many fields we do not use."""
    rgba = np.zeros((*hole.shape, 4), np.uint8)
    rgba[hole] = (255, 255, 255, 255)  # painted strokes; the rest is transparent = keep
    body = {
        "image": "data:image/png;base64," + codec.b64(image_png),
        "mask": "data:image/png;base64," + codec.b64(codec.encode(rgba, mode="RGBA")),
        "hd_strategy": "Crop",
        "hd_strategy_crop_margin": 32,
        "hd_strategy_crop_trigger_size": 800,
        "hd_strategy_resize_limit": 1280,
        "ldm_steps": 20,
        "sd_seed": 42,
        "prompt": "",
        "cv2_flag": "INPAINT_NS",
        "sd_sampler": "UniPC",
        "paint_by_example_example_image": None,
    }
    r = client.post("/api/v1/inpaint", json=body)
    assert r.status_code == 200, r.text
    _assert_filled(codec.decode(r.content), image, hole)


def test_inpaint_multipart_upload(client, codec, image, hole, image_png, hole_png):
    files = {"image": ("photo.png", image_png, "image/png"), "mask": ("mask.png", hole_png, "image/png")}
    r = client.post("/api/v1/inpaint", files=files, data={"hd_strategy": "original", "model": "ns"})
    assert r.status_code == 200, r.text
    assert r.headers["x-model"] == "ns"
    _assert_filled(codec.decode(r.content), image, hole)


def test_inpaint_jpeg_in_jpeg_out_unless_asked(post_json, codec, image, hole, hole_png):
    jpg = codec.encode(image, "JPEG")
    r = post_json(jpg, hole_png)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    r = post_json(jpg, hole_png, output_format="PNG")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    _assert_filled(codec.decode(r.content), read_image(jpg).rgb, hole)  # lossless: outside = the decoded JPEG


def test_inpaint_keeps_alpha(post_json, codec, image, hole, hole_png):
    alpha = np.full(hole.shape, 200, np.uint8)
    alpha[:, :8] = 0
    r = post_json(codec.encode(np.dstack([image, alpha]), mode="RGBA"), hole_png)
    assert r.status_code == 200
    out = codec.decode(r.content)
    assert out.shape == (*hole.shape, 4) and np.array_equal(out[..., 3], alpha)
    _assert_filled(out[..., :3], image, hole)


def test_inpaint_empty_mask_returns_the_image(post_json, codec, image, image_png):
    r = post_json(image_png, codec.encode(np.zeros(image.shape[:2], np.uint8)))
    assert r.status_code == 200 and np.array_equal(codec.decode(r.content), image)


class _Recording(TeleaInpainter):
    """telea that records the per-call options it got (and takes a caption like a text-guided model)."""

    call_options = ("caption",)

    def __init__(self):
        super().__init__()
        self.calls = []

    def inpaint(self, image, mask, *, cancel=None, memory_budget="default", **options):
        self.calls.append(dict(options))
        assert callable(cancel) and memory_budget == 1_500_000_000  # the server's ticket and budget reach the model
        return super().inpaint(image, mask, **{k: v for k, v in options.items() if k != "caption"})


def test_inpaint_passes_hd_options_and_caption(client, post_json, image_png, hole_png):
    rec = _Recording()
    client.app.state.models.put("telea", rec)
    r = post_json(image_png, hole_png, hd_strategy="Resize", hd_strategy_resize_limit=32, prompt="grass")
    assert r.status_code == 200
    assert rec.calls == [{"hd_strategy": "resize", "hd_strategy_resize_limit": 32, "caption": "grass"}]
    r = client.post(
        "/api/v1/inpaint",
        files={"image": ("a.png", image_png), "mask": ("m.png", hole_png)},
        data={"hd_strategy_crop_margin": "7", "caption": "sky"},
    )
    assert r.status_code == 200 and rec.calls[-1] == {"hd_strategy_crop_margin": 7, "caption": "sky"}


# -- bad input: always a one-line 4xx, never a 500 ----------------------------------------------------------------
BAD_JSON = {
    # name: (body fields over a valid {image, mask}, status, part of the detail)
    "malformed base64": ({"image": "abc$%^&*"}, 400, "image: malformed base64"),
    "data URL not base64": ({"image": "data:image/png,iVBORw0KGgo="}, 400, "not base64-encoded"),
    "data URL without comma": ({"image": "data:image/png;base64"}, 400, "malformed data URL"),
    "not an image": ({"image": "aGVsbG8sIHRoaXMgaXMgdGV4dA=="}, 400, "image: not an image"),
    "empty image": ({"image": ""}, 400, "image: empty"),
    "a server path": ({"image": "/etc/passwd"}, 400, "image: not an image"),
    "mask not an image": ({"mask": "aGVsbG8="}, 400, "mask: not an image"),
    "unknown model": ({"model": "nope"}, 404, "unknown inpainter 'nope'; choose from:"),
    "bad hd_strategy": (
        {"hd_strategy": "zoom"},
        422,
        "unknown hd_strategy 'zoom'; choose from: original, resize, crop",
    ),
    "negative margin": (
        {"hd_strategy_crop_margin": -1},
        422,
        "hd_strategy_crop_margin: Input should be greater than or equal to 0",
    ),
    "margin not a number": ({"hd_strategy_crop_margin": "wide"}, 422, "hd_strategy_crop_margin: Input should be"),
    "missing mask": ({"mask": None}, 422, "mask: missing"),
    "image not a string": ({"image": 12}, 422, "image: expected a base64 string or data URL, got int"),
    "bad output format": ({"output_format": "gif"}, 422, "output_format"),
}


@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_inpaint_bad_json(client, codec, image_png, hole_png, name):
    fields, status, detail = BAD_JSON[name]
    body = {"image": codec.b64(image_png), "mask": codec.b64(hole_png), **fields}
    r = client.post("/api/v1/inpaint", json={k: v for k, v in body.items() if v is not None})
    assert r.status_code == status, r.text
    msg = r.json()["detail"]
    assert isinstance(msg, str) and "\n" not in msg and detail in msg, msg


def test_inpaint_truncated_and_mismatched(post_json, codec, image_png):
    r = post_json(image_png[: len(image_png) // 2], image_png)
    assert r.status_code == 400 and r.json()["detail"].startswith("image: cannot decode image")
    r = post_json(image_png, codec.encode(np.zeros((10, 12), np.uint8)))
    assert r.status_code == 400
    assert r.json()["detail"] == "mask is 12x10 but image is 64x48; send a mask of the image's size"


@pytest.mark.parametrize(
    "content, ctype, status, detail",
    [
        (b"{not json", "application/json", 422, "not valid JSON"),
        (b"[1, 2]", "application/json", 422, "must be a JSON object"),
        (b"", "application/json", 422, "not valid JSON"),
        (b"\xff\xfe\x00", "application/json", 422, "not valid JSON"),
        (b"image=abc", "text/plain", 415, "unsupported content type 'text/plain'"),
        (b"--xx--\r\n", "multipart/form-data; boundary=xx", 422, "image: missing"),
        (b"whatever", "multipart/form-data", 400, "malformed multipart upload"),
    ],
)
def test_inpaint_bad_bodies(client, content, ctype, status, detail):
    r = client.post("/api/v1/inpaint", content=content, headers={"content-type": ctype})
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]


def test_inpaint_multipart_bad_files(client, image_png, hole_png):
    r = client.post("/api/v1/inpaint", files={"image": ("a.png", b"GIF89a-not-really"), "mask": ("m.png", hole_png)})
    assert r.status_code == 400 and r.json()["detail"].startswith("image: ")
    r = client.post("/api/v1/inpaint", files={"image": ("a.png", image_png)})
    assert r.status_code == 422 and r.json()["detail"].startswith("mask: missing")
    r = client.post(
        "/api/v1/inpaint",
        files={"image": ("a.png", image_png), "mask": ("m.png", hole_png)},
        data={"hd_strategy": "sideways"},
    )
    assert r.status_code == 422 and "unknown hd_strategy 'sideways'" in r.json()["detail"]


def test_model_that_needs_weights_is_refused(client, post_json, image_png, hole_png):
    needing = [e.name for e in INPAINTERS.entries() if e.needs_weights and not e.bundled]
    assert needing, "the registry has learned models that need a checkpoint"
    r = post_json(image_png, hole_png, model=needing[0])
    assert r.status_code == 400 and f"--model {needing[0]}:RUN_DIR" in r.json()["detail"]


def test_model_configured_with_a_missing_checkpoint(make_client, post_json, image_png, hole_png):
    c = make_client(models=("telea", "lama:/no/such/run"))
    lama = next(m for m in c.get("/api/v1/models").json() if m["name"] == "lama")
    assert lama["available"] and not lama["default"]  # configured with a checkpoint, so offered
    r = post_json(image_png, hole_png, c=c, model="lama")
    assert r.status_code == 400 and r.json()["detail"].startswith("/no/such/run: no such checkpoint")
    assert post_json(image_png, hole_png, c=c).status_code == 200  # the default model is unaffected


# -- limits -----------------------------------------------------------------------------------------------------
def test_upload_limit_413(make_client, codec):
    c = make_client(max_upload_mb=0.01)  # ~10 KB
    big = codec.encode((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8))
    assert len(big) > 12_000
    r = c.post("/api/v1/inpaint", json={"image": codec.b64(big), "mask": codec.b64(big)})
    assert r.status_code == 413 and "above the limit of 0.0 MB" in r.json()["detail"]
    assert "--max-upload-mb" in r.json()["detail"]
    assert c.post("/api/v1/inpaint", files={"image": ("a.png", big), "mask": ("m.png", big)}).status_code == 413
    assert c.post("/api/v1/detect", json={"image": codec.b64(big)}).status_code == 413
    assert c.post("/api/v1/adjust_mask", json={"mask": codec.b64(big), "operate": "expand"}).status_code == 413


def test_pixel_limit_413(make_client, post_json, image_png, hole_png):
    c = make_client(max_pixels=1000)
    r = post_json(image_png, hole_png, c=c)
    assert r.status_code == 413
    assert r.json()["detail"].startswith("image: 64x48 = 0.0 MP is above the limit")


class _Blocking(TeleaInpainter):
    """telea that waits for the test to release it, to fill the worker pool deterministically."""

    def __init__(self):
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    def inpaint(self, image, mask, **options):
        self.started.set()
        assert self.release.wait(20)
        return super().inpaint(image, mask, **options)


def test_full_pool_answers_503_with_retry_after(make_client, post_json, image_png, hole_png):
    c = make_client(workers=1, queue_size=1)
    blocking = _Blocking()
    c.app.state.models.put("telea", blocking)
    results = []
    threads = [threading.Thread(target=lambda: results.append(post_json(image_png, hole_png, c=c))) for _ in range(2)]
    threads[0].start()
    assert blocking.started.wait(20)
    threads[1].start()  # waits in the queue
    deadline = time.monotonic() + 20
    while c.get("/healthz").json()["pool"]["waiting"] < 1:  # the event loop still answers while the pool is busy
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r = post_json(image_png, hole_png, c=c)
    assert r.status_code == 503
    assert int(r.headers["retry-after"]) >= 1 and r.json()["detail"].startswith("server busy: 2 requests")
    blocking.release.set()
    for t in threads:
        t.join(20)
    assert [x.status_code for x in results] == [200, 200]
    assert c.get("/healthz").json()["pool"] == {"workers": 1, "running": 0, "waiting": 0, "capacity": 2}
    assert post_json(image_png, hole_png, c=c).status_code == 200


# -- adjust_mask ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("operate", ["expand", "shrink", "reverse"])
def test_adjust_mask(client, codec, hole, hole_png, operate):
    r = client.post("/api/v1/adjust_mask", json={"mask": codec.b64(hole_png), "operate": operate, "kernel_size": 2})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = codec.decode(r.content)
    assert out.shape == hole.shape and set(np.unique(out)) <= {0, 255}
    new = out > 127
    if operate == "reverse":
        assert np.array_equal(new, ~hole)
    elif operate == "expand":  # radius 2: two more pixels on each side (the hole is x 20..39, y 12..23)
        assert new[hole].all() and new[12:24, 18].all() and not new[12:24, 17].any() and new[10, 25] and not new[9, 25]
    else:
        assert not new[~hole].any() and new[14:22, 22:38].all() and not new[12:14].any() and not new[:, 20:22].any()


def test_adjust_mask_multipart_and_errors(client, codec, hole, hole_png):
    r = client.post(
        "/api/v1/adjust_mask", files={"mask": ("m.png", hole_png)}, data={"operate": "expand", "kernel_size": "0"}
    )
    assert r.status_code == 200 and np.array_equal(codec.decode(r.content) > 127, hole)
    r = client.post("/api/v1/adjust_mask", json={"mask": codec.b64(hole_png), "operate": "grow"})
    assert r.status_code == 422 and r.json()["detail"].startswith("operate: Input should be 'expand', 'shrink'")
    r = client.post("/api/v1/adjust_mask", json={"mask": "###", "operate": "expand"})
    assert r.status_code == 400 and r.json()["detail"].startswith("mask: malformed base64")
    r = client.post("/api/v1/adjust_mask", json={"mask": codec.b64(hole_png), "operate": "expand", "kernel_size": -3})
    assert r.status_code == 422 and r.json()["detail"].startswith("kernel_size:")
