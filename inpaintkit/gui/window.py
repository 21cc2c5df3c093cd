"""The main window: open a photo, paint the mask, Fill in a worker thread, compare, save; Detect.

Model work runs in a ``QThread`` (``_Job``), so the window keeps repainting and answering while a model fills or
a detector looks; the buttons that would start a second job are disabled meanwhile. Models come from the same
``ModelCache`` the web server uses.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QEventLoop, QSize, Qt, QThread, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QKeySequence, QPixmap, QStandardItemModel
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import InpaintKitError
from ..inference import MAX_SAMPLES, SAMPLE_SEED, DetectorSlot, ModelCache
from ..io import IMAGE_EXTENSIONS, read_image, write_image, write_mask
from .canvas import MaskCanvas

STYLE = """
QMainWindow, QWidget#panel { background: #161922; color: #e8eaf0; }
QWidget { color: #e8eaf0; font-size: 13px; }
QLabel#heading { color: #98a0b3; font-size: 11px; font-weight: 600; letter-spacing: 1px; }
QLabel#muted { color: #98a0b3; }
QPushButton { background: #1b1f2a; border: 1px solid #2a3040; border-radius: 7px; padding: 7px 10px; }
QPushButton:hover { border-color: #3a4257; background: #212636; }
QPushButton:checked { border-color: #7c5cff; background: #2a2450; }
QPushButton:disabled { color: #5a6275; }
QPushButton#fill { background: #6e4cf6; border-color: #6e4cf6; color: white; font-weight: 700; font-size: 15px; padding: 10px; }
QPushButton#fill:disabled { background: #3a2f73; border-color: #3a2f73; color: #a9a0d6; }
QComboBox, QLineEdit { background: #0f1115; border: 1px solid #2a3040; border-radius: 7px; padding: 6px 8px; }
QStatusBar { background: #0f1115; color: #98a0b3; }
QSlider::groove:horizontal { height: 4px; background: #2a3040; border-radius: 2px; }
QSlider::sub-page:horizontal { background: #7c5cff; border-radius: 2px; }
QSlider::handle:horizontal { background: white; width: 14px; margin: -5px 0; border-radius: 7px; }
QCheckBox { spacing: 8px; }
QFrame#verdict { border-radius: 8px; padding: 8px; border: 1px solid #2a3040; }
"""


class _Job(QThread):
    """Runs ``fn()`` off the GUI thread; reports through signals (delivered on the GUI thread)."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any], parent: QWidget):
        super().__init__(parent)
        self._fn = fn

    def run(self) -> None:
        try:
            self.done.emit(self._fn())
        except InpaintKitError as e:
            self.failed.emit(str(e))
        except Exception as e:  # a bug, but the window must survive it
            self.failed.emit(f"{type(e).__name__}: {e}")


def _heading(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("heading")
    return label


class MainWindow(QMainWindow):
    """Args:
    model: inpainter ``NAME`` or ``NAME:CHECKPOINT`` selected at start (default: the best available).
    detector: a ready detector (``detect(rgb)``); ``None`` loads the bundled one on first Detect.
    """

    def __init__(self, model: str | None = None, detector: Any = None):
        super().__init__()
        self.setWindowTitle("inpaintkit")
        self.setStyleSheet(STYLE)
        self.models = ModelCache((model,) if model else ())
        self.detector = DetectorSlot(detector)
        self.path: Path | None = None
        self.original: np.ndarray | None = None
        self.current: np.ndarray | None = None  # what Fill works on: the photo, then each result
        self.last_mask: np.ndarray | None = None
        self.result: np.ndarray | None = None
        self.detection = None
        self._job: _Job | None = None
        self._build()
        self.resize(1240, 780)
        self._refresh()

    # -- layout ---------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.canvas = MaskCanvas()
        self.canvas.mask_changed.connect(self._refresh)

        panel = QWidget()
        panel.setObjectName("panel")
        panel.setFixedWidth(270)
        col = QVBoxLayout(panel)
        col.setContentsMargins(14, 14, 14, 14)
        col.setSpacing(8)

        self.open_btn = QPushButton("Open photo…")
        self.open_btn.clicked.connect(lambda: self.open_dialog())
        col.addWidget(self.open_btn)
        col.addSpacing(6)

        col.addWidget(_heading("1 · Mark what to remove"))
        tools = QHBoxLayout()
        self.tool_group = QButtonGroup(self)
        self.tool_buttons: dict[str, QPushButton] = {}
        for name, label, key in (("brush", "Brush", "B"), ("rect", "Rectangle", "R"), ("eraser", "Eraser", "E")):
            b = QPushButton(label)
            b.setCheckable(True)
            b.setToolTip(f"{label} ({key})")
            b.setShortcut(QKeySequence(key))
            b.clicked.connect(lambda _=False, n=name: self.set_tool(n))
            self.tool_group.addButton(b)
            self.tool_buttons[name] = b
            tools.addWidget(b)
        self.tool_buttons["brush"].setChecked(True)
        col.addLayout(tools)

        row = QHBoxLayout()
        row.addWidget(QLabel("Width"))
        self.width_slider = QSlider(Qt.Orientation.Horizontal)
        self.width_slider.setRange(3, 40)
        self.width_slider.setValue(self.canvas.width_px)
        self.width_slider.valueChanged.connect(self._set_width)
        row.addWidget(self.width_slider)
        self.width_label = QLabel(str(self.canvas.width_px))
        self.width_label.setMinimumWidth(22)
        row.addWidget(self.width_label)
        col.addLayout(row)

        row = QHBoxLayout()
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_btn.clicked.connect(self.canvas.undo)
        self.clear_btn = QPushButton("Clear")
        self.clear_btn.clicked.connect(self.canvas.clear_mask)
        row.addWidget(self.undo_btn)
        row.addWidget(self.clear_btn)
        col.addLayout(row)
        col.addSpacing(8)

        col.addWidget(_heading("2 · Fill"))
        col.addWidget(QLabel("Model"))
        self.model_combo = QComboBox()
        self._fill_models()
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        col.addWidget(self.model_combo)
        self.model_desc = QLabel()
        self.model_desc.setObjectName("muted")
        self.model_desc.setWordWrap(True)
        col.addWidget(self.model_desc)
        self.caption_label = QLabel("What should appear there?")
        self.caption = QLineEdit()
        self.caption.setPlaceholderText("e.g. green grass")
        col.addWidget(self.caption_label)
        col.addWidget(self.caption)
        self.samples_label = QLabel("Samples (different fills to choose from)")
        self.samples = QSpinBox()
        self.samples.setRange(1, MAX_SAMPLES)
        self.samples.setValue(2)
        col.addWidget(self.samples_label)
        col.addWidget(self.samples)
        # the last fill's samples side by side; clicking one makes it the result
        self.samples_row = QWidget()
        self.samples_layout = QHBoxLayout(self.samples_row)
        self.samples_layout.setContentsMargins(0, 0, 0, 0)
        self.samples_row.hide()
        self.sample_buttons: list[QToolButton] = []
        col.addWidget(self.samples_row)

        self.fill_btn = QPushButton("Fill")
        self.fill_btn.setObjectName("fill")
        self.fill_btn.setShortcut(QKeySequence("Ctrl+Return"))
        self.fill_btn.clicked.connect(self.fill)
        col.addWidget(self.fill_btn)

        self.original_toggle = QPushButton("Show original")
        self.original_toggle.setCheckable(True)
        self.original_toggle.toggled.connect(self._toggle_original)
        col.addWidget(self.original_toggle)
        row = QHBoxLayout()
        self.save_btn = QPushButton("Save result…")
        self.save_btn.clicked.connect(lambda: self.save_result())
        self.save_mask_btn = QPushButton("Save mask…")
        self.save_mask_btn.clicked.connect(lambda: self.save_mask())
        row.addWidget(self.save_btn)
        row.addWidget(self.save_mask_btn)
        col.addLayout(row)
        col.addSpacing(8)

        col.addWidget(_heading("Check"))
        self.detect_btn = QPushButton("Detect inpainting")
        self.detect_btn.clicked.connect(self.detect)
        col.addWidget(self.detect_btn)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict_frame = QFrame()
        self.verdict_frame.setObjectName("verdict")
        QVBoxLayout(self.verdict_frame).addWidget(self.verdict)
        self.verdict_frame.hide()
        col.addWidget(self.verdict_frame)
        self.heatmap_check = QCheckBox("Show heatmap")
        self.heatmap_check.setChecked(True)
        self.heatmap_check.toggled.connect(self._toggle_heatmap)
        self.heatmap_check.hide()
        col.addWidget(self.heatmap_check)
        col.addStretch(1)

        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(panel)
        lay.addWidget(self.canvas, 1)
        self.setCentralWidget(central)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # indeterminate: "working"
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().showMessage("Open a photo to start.")
        self.setAcceptDrops(True)

        for seq, fn in (
            (QKeySequence.StandardKey.Open, self.open_dialog),
            (QKeySequence.StandardKey.Save, self.save_result),
        ):
            act = QAction(self)
            act.setShortcut(seq)
            act.triggered.connect(lambda _=False, f=fn: f())
            self.addAction(act)

    def _fill_models(self) -> None:
        model = QStandardItemModel()
        self.model_combo.setModel(model)
        self._model_info = self.models.describe()
        for m in sorted(self._model_info, key=lambda m: (not m["available"], m["name"])):
            label = m["name"] + (" (default)" if m["default"] else "") + ("" if m["available"] else " — needs weights")
            self.model_combo.addItem(label, m["name"])
            item = model.item(self.model_combo.count() - 1)
            item.setEnabled(m["available"])
            item.setToolTip(m["description"])
        self.model_combo.setCurrentIndex(self.model_combo.findData(self.models.default))

    # -- state ----------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._job is not None

    def model_name(self) -> str:
        return self.model_combo.currentData()

    def set_model(self, name: str) -> None:
        i = self.model_combo.findData(name)
        if i < 0:
            raise InpaintKitError(f"unknown model {name!r}")
        self.model_combo.setCurrentIndex(i)

    def _model_changed(self) -> None:
        info = next((m for m in self._model_info if m["name"] == self.model_name()), None)
        self.model_desc.setText(info["description"] if info else "")
        text = bool(info and info["text_guided"])
        self.caption_label.setVisible(text)
        self.caption.setVisible(text)
        self.samples_label.setVisible(text)
        self.samples.setVisible(text)

    def set_tool(self, name: str) -> None:
        self.canvas.tool = name
        self.tool_buttons[name].setChecked(True)
        self.canvas.update()

    def _set_width(self, value: int) -> None:
        self.canvas.width_px = int(value)
        self.width_label.setText(str(value))
        self.canvas.update()

    def _refresh(self) -> None:
        has = self.canvas.has_image
        painted = has and bool(self.canvas.mask().any())
        self.fill_btn.setEnabled(painted and not self.busy)
        self.detect_btn.setEnabled(has and not self.busy)
        self.clear_btn.setEnabled(painted)
        self.undo_btn.setEnabled(self.canvas.can_undo)
        self.original_toggle.setEnabled(self.result is not None)
        self.save_btn.setEnabled(self.result is not None)
        self.save_mask_btn.setEnabled(painted or self.last_mask is not None)
        self.open_btn.setEnabled(not self.busy)
        self._model_changed()

    def _toggle_original(self, on: bool) -> None:
        self.canvas.show_original = on
        self.original_toggle.setText("Show result" if on else "Show original")
        self.canvas.update()

    def _toggle_heatmap(self, on: bool) -> None:
        self.canvas.show_heatmap = on
        self.canvas.update()

    # -- files ----------------------------------------------------------------------------------------------------
    def load_image(self, path: str | Path) -> None:
        pic = read_image(path)
        self.path = Path(path)
        self.original = self.current = pic.rgb
        self.result = self.last_mask = self.detection = None
        self.original_toggle.setChecked(False)
        self.canvas.set_image(pic.rgb, original=pic.rgb)
        self.verdict_frame.hide()
        self.heatmap_check.hide()
        h, w = pic.rgb.shape[:2]
        self.setWindowTitle(f"inpaintkit — {self.path.name} ({w}×{h})")
        self.statusBar().showMessage("Paint over what you want to remove, then press Fill.")
        self._refresh()

    def open_dialog(self) -> None:
        pattern = " ".join(f"*{e}" for e in IMAGE_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "Open photo", "", f"Images ({pattern})")
        if path:
            self._try(lambda: self.load_image(path))

    def save_result(self, path: str | Path | None = None) -> Path | None:
        if self.result is None:
            return None
        if path is None:
            stem = self.path.stem if self.path else "photo"
            path, _ = QFileDialog.getSaveFileName(
                self, "Save result", f"{stem}_inpainted.png", "Images (*.png *.jpg *.webp)"
            )
            if not path:
                return None
        out = self._try(lambda: write_image(path, self.result))
        if out:
            self.statusBar().showMessage(f"Saved {out}")
        return out

    def save_mask(self, path: str | Path | None = None) -> Path | None:
        """The painted mask, or the one used for the last fill when nothing is painted now (255 = hole)."""
        m = self.canvas.mask()
        mask = m if m.size and m.any() else self.last_mask
        if mask is None:
            return None
        if path is None:
            stem = self.path.stem if self.path else "photo"
            path, _ = QFileDialog.getSaveFileName(self, "Save mask", f"{stem}_mask.png", "PNG (*.png)")
            if not path:
                return None
        out = self._try(lambda: write_mask(path, mask))
        if out:
            self.statusBar().showMessage(f"Saved {out}")
        return out

    def dragEnterEvent(self, e) -> None:
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e) -> None:
        urls = [u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()]
        if urls:
            self._try(lambda: self.load_image(urls[0]))

    def _try(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except InpaintKitError as e:
            self.statusBar().showMessage(f"error: {e}")
            return None

    # -- jobs -----------------------------------------------------------------------------------------------------
    def _start(self, fn: Callable[[], Any], on_done: Callable[[Any], None], message: str) -> None:
        job = _Job(fn, self)
        job.done.connect(on_done)
        job.failed.connect(lambda msg: self.statusBar().showMessage(f"error: {msg}"))
        job.finished.connect(self._job_finished)
        self._job = job
        self.progress.show()
        self.statusBar().showMessage(message)
        self._refresh()
        job.start()

    def _job_finished(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.deleteLater()
        self.progress.hide()
        self._refresh()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until the running job (if any) is done, keeping the window responsive. True if it finished."""
        deadline = time.monotonic() + timeout_ms / 1000
        while self.busy and time.monotonic() < deadline:
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)
        return not self.busy

    def fill(self) -> None:
        if self.busy or self.current is None:
            return
        mask = self.canvas.mask()
        if not mask.any():
            self.statusBar().showMessage("Paint over something first: the brush marks what to remove.")
            return
        image, name = self.current, self.model_name()
        caption = self.caption.text().strip() if self.caption.isVisible() else None
        n = self.samples.value() if self.samples.isVisible() else 1

        def work():  # sample i: seed SAMPLE_SEED + i, as the REST API's sd_seed + i
            return [
                self.models.fill(image, mask, name, caption=caption or None, seed=SAMPLE_SEED + i) for i in range(n)
            ]

        def done(results) -> None:
            res = results[0]
            self.result = self.current = res.image
            self.last_mask = mask
            self.original_toggle.setChecked(False)
            self.canvas.set_image(res.image)  # the mask is cleared: painting again keeps editing the result
            self._show_samples([r.image for r in results])
            more = f" {n} samples: click one to use it." if n > 1 else ""
            self.statusBar().showMessage(
                f"Filled with {res.model} in {sum(r.seconds for r in results):.2f} s.{more} "
                "Paint again to keep editing, or save."
            )

        self._start(work, done, f"Filling with {name}…")

    def _show_samples(self, images: list[np.ndarray]) -> None:
        for b in self.sample_buttons:
            self.samples_layout.removeWidget(b)
            b.deleteLater()
        self.sample_buttons = []
        self.samples_row.setVisible(len(images) > 1)
        if len(images) < 2:
            return
        group = QButtonGroup(self.samples_row)
        for i, img in enumerate(images):
            b = QToolButton()
            b.setCheckable(True)
            b.setChecked(i == 0)
            b.setToolTip(f"sample {i + 1} (seed {SAMPLE_SEED + i})")
            h, w = img.shape[:2]
            rgb = np.ascontiguousarray(img)
            qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
            b.setIcon(
                QIcon(
                    QPixmap.fromImage(qimg).scaled(
                        64, 64, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                    )
                )
            )
            b.setIconSize(QSize(64, 64))
            b.clicked.connect(lambda _=False, im=img: self.choose_sample(im))
            group.addButton(b)
            self.samples_layout.addWidget(b)
            self.sample_buttons.append(b)

    def choose_sample(self, image: np.ndarray) -> None:
        """Make one of the last fill's samples the result (replacing the one shown)."""
        self.result = self.current = image
        self.original_toggle.setChecked(False)
        self.canvas.set_image(image)

    def detect(self) -> None:
        if self.busy or self.current is None:
            return
        image = self.current

        def done(det) -> None:
            self.detection = det
            inpainted = det.verdict == "inpainted"
            self.verdict.setText(
                f"<b>{'Likely inpainted' if inpainted else 'Looks authentic'}</b><br>score {det.score * 100:.1f} %"
            )
            color = "#ff8da0" if inpainted else "#6ee0a3"
            self.verdict.setStyleSheet(f"color: {color};")
            self.verdict_frame.show()
            self.heatmap_check.show()
            self.canvas.set_heatmap(det.heatmap)
            self.canvas.show_heatmap = self.heatmap_check.isChecked()
            self.statusBar().showMessage(f"Detection: {det.verdict} (score {det.score:.3f}).")

        self._start(lambda: self.detector.detect(image), done, "Looking for inpainting…")

    def closeEvent(self, e) -> None:
        if self._job is not None:
            self._job.wait(30_000)
        super().closeEvent(e)
