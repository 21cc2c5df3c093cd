"""The web page in headless Chromium (Playwright) against a live server: open a photo, paint a stroke with the
mouse, Remove, download, and check the downloaded pixels. Screenshots go to a temporary folder, or to
$INPAINTKIT_SCREENSHOTS (``make screenshots`` sets it to docs/img/ on purpose): tests never rewrite tracked files."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from inpaintkit.forensics.detector import Detection
from inpaintkit.io import read_image
from inpaintkit.server import Settings, create_app
from inpaintkit.server.background import BackgroundServer, free_port

from .conftest import PHOTO, STROKE, paint_stroke

pytestmark = pytest.mark.slow  # headless Chromium: `make browser` installs it for `make test`, not for test-fast

IMG_DIR = Path(os.environ.get("INPAINTKIT_SCREENSHOTS") or tempfile.mkdtemp(prefix="inpaintkit-shots-"))
BRUSH = 44  # screen pixels


@pytest.fixture(scope="module")
def server_url():
    with BackgroundServer(["--model", "telea"]) as url:
        yield url


def _stroke_masks(shape: tuple[int, int], radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(core, outside): pixels surely under the brush, and pixels surely away from it."""
    line = np.zeros(shape, np.uint8)
    cv2.polylines(line, [np.array(STROKE, np.int32)], False, 255, 1)
    dist = cv2.distanceTransform(255 - line, cv2.DIST_L2, 5)
    return dist < radius * 0.5, dist > radius + 3


def test_paint_remove_download(browser, server_url, tmp_path):
    page = browser.new_page(viewport={"width": 1360, "height": 820}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server_url + "/")
    page.wait_for_selector("#model-select option[value=telea]", state="attached")
    assert page.locator("#inpaint-btn").is_disabled()
    page.set_input_files("#file-input", str(PHOTO))
    page.wait_for_selector("#canvas-wrap:not([hidden])")
    assert page.locator("#file-size").inner_text() == "768 × 480"

    pts = paint_stroke(page, BRUSH)
    k = page.locator("#mask-canvas").bounding_box()["width"] / 768  # screen pixels per photo pixel
    page.mouse.move(pts[-1][0] + 40, pts[-1][1] - 80)  # leave the brush cursor next to the stroke
    assert page.locator("#inpaint-btn").is_enabled()
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG_DIR / "web.png"))

    page.click("#inpaint-btn")
    page.wait_for_selector("#tab-inpaint[data-state=result]", timeout=60_000)
    assert "Done in" in page.locator("#status-line").inner_text()
    with page.expect_download() as dl:
        page.click("#download-btn")
    assert dl.value.suggested_filename == "sample_inpainted.png"
    path = tmp_path / "result.png"
    dl.value.save_as(path)

    original = read_image(PHOTO).rgb
    result = read_image(path).rgb
    assert result.shape == original.shape
    core, outside = _stroke_masks(original.shape[:2], radius=BRUSH / k / 2)
    assert np.array_equal(result[outside], original[outside]), "pixels away from the stroke changed"
    changed = np.abs(result.astype(int) - original).sum(axis=2) > 0
    assert changed[core].mean() > 0.9, "the painted stroke was not filled"
    assert changed.sum() < 4 * core.sum() + 2000  # nothing far away changed either (checked above), roughly

    page.click("#compare-btn")  # before/after divider: drag it onto the stroke, half before, half after
    knob = page.locator("#compare-handle .knob").bounding_box()
    page.mouse.move(knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2)
    page.mouse.down()
    page.mouse.move(pts[2][0], knob["y"] + knob["height"] / 2, steps=5)
    page.mouse.up()
    split = page.locator("#compare-handle").bounding_box()["x"]
    assert abs(split - pts[2][0]) < 4
    page.screenshot(path=str(IMG_DIR / "web_result.png"))
    page.click("#compare-btn")

    page.click("#undo-btn")  # undo the fill: the photo and its mask come back, ready to fill again
    assert page.locator("#tab-inpaint").get_attribute("data-state") == "editing"
    assert page.locator("#inpaint-btn").is_enabled()
    assert errors == []
    page.close()


def test_detect_tab_reports_missing_detector_or_result(browser, server_url):
    page = browser.new_page(viewport={"width": 1360, "height": 820})
    page.goto(server_url + "/")
    page.click("#tab-btn-detect")
    page.set_input_files("#detect-file-input", str(PHOTO))
    page.wait_for_function(
        "document.getElementById('detect-busy').hidden && "
        "document.getElementById('detect-status').textContent.length > 0",
        timeout=60_000,
    )
    status = page.locator("#detect-status").inner_text()
    from inpaintkit.forensics import bundled_detectors

    if bundled_detectors():
        assert page.locator("#detect-result").is_visible() and "%" in page.locator("#score-value").inner_text()
        page.screenshot(path=str(IMG_DIR / "web_detect.png"))
    else:
        assert status.startswith("Detection is not available on this server")
    page.close()


class _FakeDetector:
    """Flags a 100x100 square at (300, 200) of whatever it is given."""

    def detect(self, rgb):
        heat = np.zeros(rgb.shape[:2], np.float32)
        heat[200:300, 300:400] = 1.0
        return Detection(0.93, "inpainted", heat)


@pytest.fixture(scope="module")
def fake_detector_url():
    """An in-process uvicorn (a thread) whose /api/v1/detect answers from ``_FakeDetector``."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(Settings(models=("telea",), detector=_FakeDetector())),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_detect_tab_shows_score_verdict_heatmap(browser, fake_detector_url):
    page = browser.new_page(viewport={"width": 1360, "height": 820})
    page.goto(fake_detector_url + "/")
    page.click("#tab-btn-detect")
    page.set_input_files("#detect-file-input", str(PHOTO))
    page.wait_for_selector("#detect-result:not([hidden])", timeout=30_000)
    assert page.locator("#verdict").inner_text() == "Likely inpainted"
    assert page.locator("#score-value").inner_text() == "93.0 %"
    # the heatmap canvas: coloured and opaque inside the flagged square, nearly see-through outside
    alpha_in, alpha_out = page.evaluate("""() => {
        const c = document.getElementById('heat-canvas');
        const a = (x, y) => c.getContext('2d').getImageData(x, y, 1, 1).data[3];
        return [a(350, 250), a(100, 100)];
    }""")
    assert alpha_in == 255 and alpha_out < 60
    page.fill("#heat-opacity", "30")
    page.dispatch_event("#heat-opacity", "input")
    assert page.locator("#heat-canvas").evaluate("c => c.style.opacity") == "0.3"
    assert page.locator("#heat-opacity-value").inner_text() == "30%"
    page.close()
