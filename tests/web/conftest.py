"""What the browser tests share: headless Chromium (Debian's, driven by Playwright), the sample photo and stroke."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "inpaintkit" / "assets" / "sample.jpg"
CHROMIUM = os.environ.get("INPAINTKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The stroke, in photo pixels (768x480 sample): down the wooden plank in front of the boats.
STROKE = [(233, 268), (233, 290), (234, 315), (235, 340), (236, 362)]


@pytest.fixture(scope="module")
def browser():
    path = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if not path:
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} missing): run `make browser` as root, or "
            "`apt-get install -y chromium chromium-driver`; the browser test needs it"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def paint_stroke(page, brush: int, stroke=STROKE, width: int = 768) -> list[tuple[float, float]]:
    """Set the brush size and paint ``stroke`` (photo pixels) on our page's mask canvas; returns screen points."""
    page.fill("#brush-size", str(brush))  # the range input takes the value; its input event sets the brush
    page.dispatch_event("#brush-size", "input")
    page.evaluate("document.activeElement.blur()")
    box = page.locator("#mask-canvas").bounding_box()
    k = box["width"] / width  # screen pixels per photo pixel
    pts = [(box["x"] + x * k, box["y"] + y * k) for x, y in stroke]
    page.mouse.move(*pts[0])
    page.mouse.down()
    for b in pts[1:]:
        page.mouse.move(*b, steps=4)
    page.mouse.up()
    return pts
