"""The desktop app under offscreen Qt: brush/rectangle/eraser from synthesized mouse drags, Fill in a worker
thread, original/result toggle, save, Detect. The screenshot goes to a temporary folder, or to
$INPAINTKIT_SCREENSHOTS (``make screenshots`` sets it to docs/img/ on purpose): tests never rewrite tracked files."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from inpaintkit.forensics.detector import Detection  # noqa: E402
from inpaintkit.gui.window import MainWindow  # noqa: E402
from inpaintkit.inpainters.opencv import TeleaInpainter  # noqa: E402
from inpaintkit.io import read_image, read_mask  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "inpaintkit" / "assets" / "sample.jpg"


@pytest.fixture(scope="module")
def qapp():
    return QApplication.instance() or QApplication([])


class _FakeDetector:
    def detect(self, rgb):
        heat = np.zeros(rgb.shape[:2], np.float32)
        heat[280:380, 200:270] = 0.9
        return Detection(0.91, "inpainted", heat)


@pytest.fixture
def window(qapp):
    win = MainWindow(model="telea", detector=_FakeDetector())
    win.resize(1240, 780)
    win.show()
    win.load_image(PHOTO)
    QTest.qWaitForWindowExposed(win)
    yield win
    win.close()


def _pt(win, x, y) -> QPoint:
    return win.canvas.to_widget(x, y).toPoint()


def _drag(win, points) -> None:
    c = win.canvas
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _pt(win, *points[0]))
    for x, y in points[1:]:
        QTest.mouseMove(c, _pt(win, x, y))
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _pt(win, *points[-1]))


class _Slow(TeleaInpainter):
    """telea that holds the worker until released, to see the window respond meanwhile."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def inpaint(self, image, mask, **kw):
        assert self.release.wait(20)
        return super().inpaint(image, mask, **kw)


def test_brush_fill_toggle_save(window, tmp_path):
    original = read_image(PHOTO).rgb
    assert window.model_name() == "telea" and not window.fill_btn.isEnabled()
    window.width_slider.setValue(40)
    assert window.canvas.width_px == 40 and window.width_slider.minimum() == 3 and window.width_slider.maximum() == 40
    stroke = [(233, 268), (233, 290), (234, 315), (235, 340), (236, 362)]  # down the plank between two boats
    _drag(window, stroke)
    mask = window.canvas.mask()
    assert mask.shape == original.shape[:2]
    radius = 40 / window.canvas.scale() / 2  # brush width is in screen pixels
    assert mask[300:368, 234].all() and mask[320, int(233 - radius * 0.6)] and not mask[320, int(233 + radius + 4)]
    assert not mask[:250].any() and window.fill_btn.isEnabled()

    slow = _Slow()
    window.models.put("telea", slow)
    QTest.mouseClick(window.fill_btn, Qt.MouseButton.LeftButton)
    assert window.busy and not window.fill_btn.isEnabled() and window.progress.isVisible()
    QTest.qWait(50)  # the event loop runs while the worker holds the model
    window.width_slider.setValue(30)
    assert window.width_label.text() == "30"
    slow.release.set()
    assert window.wait(30_000)
    assert window.result is not None
    res = window.result
    assert np.array_equal(res[~mask], original[~mask])
    assert (np.abs(res.astype(int) - original).sum(axis=2) > 0)[mask].mean() > 0.9
    assert not window.canvas.mask().any(), "the mask is cleared so editing continues on the result"
    assert "Filled with telea" in window.statusBar().currentMessage()

    QTest.mouseClick(window.original_toggle, Qt.MouseButton.LeftButton)
    assert window.canvas.show_original and window.original_toggle.text() == "Show result"
    QTest.mouseClick(window.original_toggle, Qt.MouseButton.LeftButton)
    assert not window.canvas.show_original

    _drag(window, [(520, 300), (560, 310)])  # keep editing the result: a new stroke, shown in the screenshot
    shots = Path(os.environ.get("INPAINTKIT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(shots / "gui.png"))
    window.canvas.undo()
    assert not window.canvas.mask().any()

    out = window.save_result(tmp_path / "result.png")
    assert np.array_equal(read_image(out).rgb, res)
    saved = window.save_mask(tmp_path / "mask.png")
    assert np.array_equal(read_mask(saved), mask)


def test_rectangle_eraser_undo_clear(window):
    window.set_tool("rect")
    _drag(window, [(100, 100), (150, 130), (200, 160)])
    m = window.canvas.mask()
    assert m[101:159, 101:199].all() and not m[:98].any() and not m[:, 202:].any()
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_E)  # shortcut: eraser (a button shortcut clicks after a short animation)
    deadline = time.monotonic() + 5
    while window.canvas.tool != "eraser" and time.monotonic() < deadline:
        QTest.qWait(20)
    assert window.canvas.tool == "eraser" and window.tool_buttons["eraser"].isChecked()
    window.width_slider.setValue(10)
    _drag(window, [(150, 90), (150, 170)])
    m2 = window.canvas.mask()
    assert not m2[100:160, 150].any() and m2[101:159, 110].all()
    window.canvas.undo()
    assert np.array_equal(window.canvas.mask(), m)
    QTest.mouseClick(window.clear_btn, Qt.MouseButton.LeftButton)
    assert not window.canvas.mask().any() and not window.fill_btn.isEnabled()


def test_detect_shows_score_and_heatmap(window):
    QTest.mouseClick(window.detect_btn, Qt.MouseButton.LeftButton)
    assert window.wait(30_000)
    assert window.detection.score == pytest.approx(0.91)
    assert "Likely inpainted" in window.verdict.text() and "91.0 %" in window.verdict.text()
    assert window.verdict_frame.isVisible() and window.heatmap_check.isVisible() and window.canvas.show_heatmap
    window.heatmap_check.setChecked(False)
    assert not window.canvas.show_heatmap


def test_caption_box_only_for_text_guided_models(window):
    text_models = [m["name"] for m in window.models.describe() if m["text_guided"]]
    assert not window.caption.isVisible()  # telea takes no caption
    for name in text_models:
        if window.model_combo.model().item(window.model_combo.findData(name)).isEnabled():
            window.set_model(name)
            assert window.caption.isVisible()


def test_detect_without_detector_reports_it(qapp, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "inpaintkit.forensics", None)
    win = MainWindow(model="telea")
    win.load_image(PHOTO)
    win.detect()
    assert win.wait(30_000)
    assert win.statusBar().currentMessage().startswith("error: no detector available")
    assert win.detection is None
    win.close()


def test_gui_command_refuses_a_missing_file(cli, tmp_path):
    code, _, err = cli("gui", str(tmp_path / "nope.png"))
    assert code == 2 and "nope.png: no such file" in err


def test_samples_for_a_text_guided_model_side_by_side(qapp, tdanet_run):
    win = MainWindow(model=f"tdanet:{tdanet_run}", detector=_FakeDetector())
    win.resize(1240, 780)
    win.show()
    win.load_image(PHOTO)
    QTest.qWaitForWindowExposed(win)
    try:
        assert win.caption.isVisible() and win.samples.isVisible() and not win.samples_row.isVisible()
        win.caption.setText("a red circle")
        win.samples.setValue(3)
        _drag(win, [(230, 270), (234, 320), (236, 360)])
        win.fill()
        assert win.wait()
        assert win.samples_row.isVisible() and len(win.sample_buttons) == 3
        assert win.sample_buttons[0].isChecked()
        first = win.result.copy()
        win.sample_buttons[2].click()
        assert win.sample_buttons[2].isChecked() and not win.sample_buttons[0].isChecked()
        assert not np.array_equal(win.result, first)  # seeds 42 and 44 fill differently
        win.set_model("telea")  # no caption, no samples for a model that takes neither
        assert not win.caption.isVisible() and not win.samples.isVisible()
    finally:
        win.close()
