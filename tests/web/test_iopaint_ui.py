"""IOPaint 1.6.0's own web app (from its PyPI wheel, fetched by the ``iopaint_dist`` fixture) served by
``inpaintkit serve --ui iopaint`` and driven in headless Chromium: for each of our usable fills, switch to it in
IOPaint's settings dialog, upload a photo, paint one stroke, and check that the fill arrives by itself - no error
toast, no page error, no 4xx/5xx in the request log, no diffusion settings shown."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from inpaintkit.inference import is_text_guided
from inpaintkit.io import read_image
from inpaintkit.server import Settings
from inpaintkit.server.background import BackgroundServer
from inpaintkit.server.schemas import InpaintParams

from .conftest import PHOTO, STROKE

pytestmark = pytest.mark.slow

BRUSH = 40  # IOPaint's default brush, in photo pixels
# Keys IOPaint's web app sends that are no field of IOPaint's own InpaintRequest (misspelt in IOPaint itself)
FRONTEND_TYPOS = {"hd_strategy_crop_triger_size", "hd_trategy_resize_imit"}
DIFFUSION_LABELS = ("Steps", "Guidance", "Sampler", "Cropper", "Extender", "Negative prompt", "Mask blur", "Seed")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    photos = tmp_path_factory.mktemp("photos")
    shutil.copy2(PHOTO, photos / PHOTO.name)
    return {"input": photos, "output": tmp_path_factory.mktemp("saved")}


@pytest.fixture(scope="module")
def iopaint_server(iopaint_dist, folders, tmp_path_factory):
    args = [
        "--model",
        "telea",
        "--ui",
        "iopaint",
        "--iopaint-web",
        str(iopaint_dist / "iopaint" / "web_app"),
        "--input",
        str(folders["input"]),
        "--output-dir",
        str(folders["output"]),
    ]
    if "allow_model_switch" in Settings.__dataclass_fields__:  # model switching is opt-in where the server has it
        args.append("--allow-model-switch")
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with BackgroundServer(args, log=log) as url:
        yield url


def _stroke_masks(shape: tuple[int, int], radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(core, outside): pixels surely under the brush, and pixels surely away from it."""
    line = np.zeros(shape, np.uint8)
    cv2.polylines(line, [np.array(STROKE, np.int32)], False, 255, 1)
    dist = cv2.distanceTransform(255 - line, cv2.DIST_L2, 5)
    return dist < radius * 0.5, dist > radius + 3


def _shot(page, box) -> np.ndarray:
    png = page.screenshot(clip=box)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _save_button(page, canvas_box):
    """The last button of the toolbar under the photo (IOPaint's download; with --output-dir, its save)."""
    boxes = page.locator("button").evaluate_all(
        "els => els.map((e, i) => { const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y, i]; })"
    )
    left, right = canvas_box["x"], canvas_box["x"] + canvas_box["width"]
    below = [(x, i) for x, y, i in boxes if y > canvas_box["y"] + canvas_box["height"] and left < x < right]
    return page.locator("button").nth(max(below)[1])


def test_iopaint_web_app_fills_with_each_of_our_models(browser, iopaint_server, folders, tmp_path):
    import httpx
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    models = [m["name"] for m in httpx.get(iopaint_server + "/api/v1/server-config").json()["modelInfos"]]
    assert {"telea", "ns", "biharmonic", "patchmatch", "default"} <= set(models)
    original = read_image(PHOTO).rgb
    for name in models:
        ctx = browser.new_context(viewport={"width": 1360, "height": 820})  # fresh localStorage per model
        ctx.set_default_timeout(90_000)  # CI's 2 cores run this beside the Ray tests: 30 s was seen to run out
        page = ctx.new_page()
        problems, bodies, sockets = [], [], []
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on(
            "response", lambda r: problems.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None
        )
        page.on(
            "requestfailed",
            lambda r: (
                problems.append(f"failed {r.method} {r.url}: {r.failure}") if "/socket.io/" not in r.url else None
            ),
        )  # a long poll cut at page close is not a failure
        page.on("websocket", lambda ws: sockets.append(ws.url))

        def keep_fill(route):  # pass the fill through, keeping its bytes (Playwright drops bodies read as blobs)
            res = route.fetch()
            bodies.append(res.body())
            route.fulfill(response=res)

        page.route("**/api/v1/inpaint", keep_fill)
        page.goto(iopaint_server + "/")
        page.wait_for_selector("header button")

        current = httpx.get(iopaint_server + "/api/v1/model").json()["name"]
        if current != name:  # IOPaint's settings dialog: gear button, Model tab, pick, Ok
            choice = page.locator("[role=dialog]").get_by_text(name, exact=True)
            for _ in range(5):  # on a loaded machine the first click can land before the page has its handlers
                page.locator("header button").last.click()
                try:
                    choice.wait_for(timeout=15_000)
                    break
                except PlaywrightTimeout:
                    page.keyboard.press("Escape")
            choice.click()
            with page.expect_response(lambda r: r.url.endswith("/api/v1/model") and r.request.method == "POST"):
                page.get_by_role("button", name="Ok").click()
            page.wait_for_selector(f"text=Switch to {name} success")
        assert httpx.get(iopaint_server + "/api/v1/model").json()["name"] == name

        if name == models[0]:  # open the photo from IOPaint's file manager (--input DIR) ...
            page.locator("header button").first.click()
            page.locator("[role=dialog] img").first.click()
        else:  # ... or upload it
            page.locator("input[type=file]").first.set_input_files(str(PHOTO))
        canvas = page.locator("canvas").first
        canvas.wait_for()
        page.wait_for_timeout(300)
        box = canvas.bounding_box()
        k = box["width"] / original.shape[1]
        assert abs(box["height"] / original.shape[0] - k) < 0.01
        page.mouse.move(box["x"] - 40, box["y"] - 40)
        before = _shot(page, box)
        pts = [(box["x"] + x * k, box["y"] + y * k) for x, y in STROKE]
        with page.expect_response(lambda r: "/api/v1/inpaint" in r.url, timeout=120_000) as resp:
            page.mouse.move(*pts[0])
            page.mouse.down()
            for a in pts[1:]:
                page.mouse.move(*a, steps=4)
            page.mouse.up()  # nothing else: the fill must start by itself, as IOPaint does for erase models
            page.mouse.move(box["x"] - 40, box["y"] - 40)
        r = resp.value
        assert r.status == 200, (name, r.status)
        assert r.headers["x-model"] == name and r.headers["x-seed"].isdigit()
        sent = r.request.post_data_json
        assert set(sent) - set(InpaintParams.model_fields) - {"image", "mask"} == FRONTEND_TYPOS, name
        assert r.headers["content-type"] == "image/jpeg" and len(bodies) == 1  # JPEG in, JPEG out (as IOPaint)
        result = read_image(bodies[0]).rgb
        assert result.shape == original.shape
        core, outside = _stroke_masks(original.shape[:2], BRUSH / 2)
        diff = np.abs(result.astype(int) - original).mean(axis=2)
        assert diff[core].mean() > 8, f"{name}: the stroke was not filled"
        assert np.percentile(diff[outside], 99) < 12, f"{name}: pixels away from the stroke changed"

        # the result is on screen: the painted plank is gone there, the rest of the photo looks the same
        page.wait_for_function("() => !document.querySelector('[class*=animate-spin]')", timeout=30_000)
        page.wait_for_timeout(500)
        after = _shot(page, box)
        shown = np.abs(after - before).mean(axis=2)
        core_screen = cv2.resize(core.astype(np.uint8), (shown.shape[1], shown.shape[0])) > 0
        out_screen = cv2.resize(outside.astype(np.uint8), (shown.shape[1], shown.shape[0])) > 0
        assert shown[core_screen].mean() > 8, f"{name}: the fill is not shown"
        assert np.percentile(shown[out_screen], 99) < 16, f"{name}: the page shows other changes"
        page.screenshot(path=str(tmp_path / f"iopaint_{name}.png"))
        if name == models[0]:  # save: with --output-dir the web app posts the result to save_image
            with page.expect_response(lambda r: "/api/v1/save_image" in r.url) as saved:
                _save_button(page, box).click()
            assert saved.value.status == 200
            page.wait_for_selector("text=Save image success")
            assert [p.name for p in folders["output"].iterdir()] == [PHOTO.name]
            kept = read_image(folders["output"] / PHOTO.name).rgb
            assert np.abs(kept.astype(int) - result).mean() < 3  # what was shown, re-encoded by the browser

        body = page.locator("body").inner_text()
        shown_labels = [t for t in DIFFUSION_LABELS if page.get_by_text(t, exact=True).count()]
        assert shown_labels == [], f"{name}: diffusion settings shown: {shown_labels}"
        # IOPaint shows its prompt box for a model whose ModelInfo says need_prompt: our text-guided ones (tdanet)
        assert page.locator("textarea").count() == int(is_text_guided(name)), f"{name}: prompt box shown wrongly"
        assert page.locator("ol li.destructive, ol li[class*=destructive]").count() == 0, (
            f"{name}: error toast: {page.locator('ol').inner_text()}"
        )
        assert "Something went wrong" not in body, body
        assert sockets, "socket.io never upgraded to a WebSocket"
        page.close()
        ctx.close()
        assert problems == [], f"{name}: {problems}"
