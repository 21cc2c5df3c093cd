"""Captions and samples in the web page, with a text-guided model (a tiny TDANet trained for three steps): the
caption box and samples count appear for it, the caption reaches the API, two different fills come back side by
side, and clicking the second one makes it the result."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from inpaintkit.io import read_image
from inpaintkit.server.background import BackgroundServer

from .conftest import PHOTO, paint_stroke

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tdanet_url(tdanet_run):
    with BackgroundServer(["--model", f"tdanet:{tdanet_run}"]) as url:
        yield url


def _decode(data_url: str) -> np.ndarray:
    return read_image(base64.b64decode(data_url.split(",", 1)[1])).rgb


def test_caption_and_two_samples_side_by_side(browser, tdanet_url, tmp_path):
    page = browser.new_page(viewport={"width": 1360, "height": 820}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(tdanet_url + "/")
    page.wait_for_selector("#model-select option[value=tdanet]", state="attached")
    assert page.locator("#caption-field").is_visible() and page.locator("#samples-field").is_visible()
    page.set_input_files("#file-input", str(PHOTO))
    page.wait_for_selector("#canvas-wrap:not([hidden])")
    page.fill("#caption-input", "a red circle on the sand")
    page.fill("#samples-input", "2")
    paint_stroke(page, 44)

    sent = []

    def record(route):  # the multipart body as the page sent it
        sent.append(route.request.post_data_buffer or b"")
        route.continue_()

    page.route("**/api/v1/inpaint", record)
    # two TDANet samples on a busy 2-core machine can take longer than the default 30 s
    with page.expect_response("**/api/v1/inpaint", timeout=120_000) as resp_info:
        page.click("#inpaint-btn")
    resp = resp_info.value
    assert resp.status == 200
    assert len(sent) == 1 and b'name="caption"\r\n\r\na red circle on the sand' in sent[0]
    assert b'name="samples"\r\n\r\n2' in sent[0]
    body = json.loads(resp.body())
    assert [s["seed"] for s in body["samples"]] == [42, 43] and body["model"] == "tdanet"
    first, second = (_decode(s["image"]) for s in body["samples"])
    original = read_image(PHOTO).rgb
    assert first.shape == second.shape == original.shape
    assert not np.array_equal(first, second), "two seeds gave the same fill"
    page.wait_for_selector("#tab-inpaint[data-state=result]", timeout=60_000)
    thumbs = page.locator("#samples-strip img")
    assert page.locator("#samples-strip").is_visible() and thumbs.count() == 2
    assert thumbs.nth(0).get_attribute("aria-pressed") == "true"

    thumbs.nth(1).click()  # the second sample becomes the result
    page.wait_for_function("document.querySelectorAll('#samples-strip img')[1].getAttribute('aria-pressed') === 'true'")
    with page.expect_download() as dl:
        page.click("#download-btn")
    path = tmp_path / "chosen.png"
    dl.value.save_as(path)
    assert np.array_equal(read_image(path).rgb, second)
    assert errors == []
    page.close()
