"""The painting surface: the photo scaled to fit, a mask painted over it at the photo's resolution.

The mask lives in an ARGB overlay image of the photo's size: painted pixels are opaque (shown tinted), erased ones
transparent, so ``mask()`` is simply "alpha > 0". Widths are in screen pixels (what the user sees), converted to
photo pixels when painting, so a 20 px brush feels the same on a small and a huge photo.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MASK_COLOR = QColor(255, 61, 127, 150)
TOOLS = ("brush", "rect", "eraser")
UNDO_DEPTH = 30


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """uint8 (H, W, 3) -> QImage that owns a copy of the pixels."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class MaskCanvas(QWidget):
    """Shows ``image`` (or ``original`` while ``show_original``), lets the user paint the mask."""

    mask_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setMouseTracking(True)
        self.tool = "brush"
        self.width_px = 20  # brush width in screen pixels (3..40)
        self.show_original = False
        self.show_heatmap = False
        self._image: QImage | None = None
        self._original: QImage | None = None
        self._heatmap: QImage | None = None
        self._overlay: QImage | None = None
        self._undo: list[QImage] = []
        self._drag: dict | None = None
        self._hover: QPointF | None = None

    # -- content --------------------------------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray, *, original: np.ndarray | None = None, keep_mask: bool = False) -> None:
        self._image = rgb_to_qimage(rgb)
        if original is not None:
            self._original = rgb_to_qimage(original)
        elif self._original is None or self._original.size() != self._image.size():
            self._original = self._image
        if not keep_mask or self._overlay is None or self._overlay.size() != self._image.size():
            self._overlay = QImage(self._image.size(), QImage.Format.Format_ARGB32_Premultiplied)
            self._overlay.fill(Qt.GlobalColor.transparent)
            self._undo.clear()
        self._heatmap = None
        self.update()
        self.mask_changed.emit()

    def set_heatmap(self, heat: np.ndarray | None) -> None:
        """``heat`` float (H, W) in [0, 1], shown in red-yellow over the photo; ``None`` removes it."""
        if heat is None:
            self._heatmap = None
        else:
            v = np.clip(heat, 0, 1)
            rgba = np.zeros((*v.shape, 4), np.uint8)
            rgba[..., 0] = 255
            rgba[..., 1] = (v * 220).astype(np.uint8)
            rgba[..., 3] = (40 + v * 170).astype(np.uint8) * (v > 0.05)
            h, w = v.shape
            self._heatmap = QImage(np.ascontiguousarray(rgba).data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        self.update()

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the photo."""
        return (self._image.width(), self._image.height()) if self._image else (0, 0)

    def mask(self) -> np.ndarray:
        """bool (H, W), True = paint (hole)."""
        if self._overlay is None:
            return np.zeros((0, 0), bool)
        img = self._overlay.convertToFormat(QImage.Format.Format_RGBA8888)
        w, h = img.width(), img.height()
        arr = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
        return arr[:, : 4 * w].reshape(h, w, 4)[..., 3] > 0

    def clear_mask(self) -> None:
        if self._overlay is None or not self.mask().any():
            return
        self._snapshot()
        self._overlay.fill(Qt.GlobalColor.transparent)
        self.update()
        self.mask_changed.emit()

    def undo(self) -> None:
        if self._undo:
            self._overlay = self._undo.pop()
            self.update()
            self.mask_changed.emit()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def _snapshot(self) -> None:
        self._undo.append(self._overlay.copy())
        del self._undo[:-UNDO_DEPTH]

    # -- geometry -------------------------------------------------------------------------------------------------
    def _target(self) -> QRectF:
        """Where the photo is drawn in the widget: fitted, centred, at most 2x its size."""
        w, h = self.image_size()
        if not w:
            return QRectF()
        s = min(self.width() / w, self.height() / h, 2.0)
        return QRectF((self.width() - w * s) / 2, (self.height() - h * s) / 2, w * s, h * s)

    def scale(self) -> float:
        """Screen pixels per photo pixel."""
        t = self._target()
        return t.width() / self.image_size()[0] if self.has_image else 1.0

    def to_image(self, p: QPointF) -> QPointF:
        t = self._target()
        s = self.scale()
        return QPointF((p.x() - t.x()) / s, (p.y() - t.y()) / s)

    def to_widget(self, x: float, y: float) -> QPointF:
        t = self._target()
        s = self.scale()
        return QPointF(t.x() + x * s, t.y() + y * s)

    # -- painting the mask ----------------------------------------------------------------------------------------
    def _pen(self) -> QPen:
        pen = QPen(MASK_COLOR, max(1.0, self.width_px / self.scale()))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        return pen

    def _stroke(self, a: QPointF, b: QPointF) -> None:
        p = QPainter(self._overlay)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.tool == "eraser":
            p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        else:
            p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)  # no build-up where strokes cross
        p.setPen(self._pen())
        if a == b:
            p.drawPoint(a)
        else:
            p.drawLine(a, b)
        p.end()

    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() != Qt.MouseButton.LeftButton or not self.has_image or self.show_original:
            return
        pt = self.to_image(e.position())
        self._snapshot()
        self._drag = {"start": pt, "last": pt, "end": pt}
        if self.tool != "rect":
            self._stroke(pt, pt)
        self.update()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        self._hover = e.position()
        if self._drag is not None:  # our own flag: synthesized moves may not carry the button state
            pt = self.to_image(e.position())
            if self.tool != "rect":
                self._stroke(self._drag["last"], pt)
            self._drag["last"] = self._drag["end"] = pt
        self.update()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        if self._drag is None or e.button() != Qt.MouseButton.LeftButton:
            return
        d, self._drag = self._drag, None
        if self.tool == "rect":
            r = QRectF(d["start"], self.to_image(e.position())).normalized()
            if r.width() < 1 or r.height() < 1:
                self._undo.pop()
                return
            p = QPainter(self._overlay)
            p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
            p.fillRect(r, MASK_COLOR)
            p.end()
        self.update()
        self.mask_changed.emit()

    def leaveEvent(self, e) -> None:
        self._hover = None
        self.update()

    # -- display --------------------------------------------------------------------------------------------------
    def paintEvent(self, e: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(22, 25, 34))
        if not self.has_image:
            p.setPen(QColor(152, 160, 179))
            p.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Open a photo (Ctrl+O) or drop one here,\npaint over what should go, then press Fill.",
            )
            return
        t = self._target()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(t, self._original if self.show_original else self._image)
        if not self.show_original:
            p.drawImage(t, self._overlay)
            if self.show_heatmap and self._heatmap is not None:
                p.drawImage(t, self._heatmap)
        if self._drag is not None and self.tool == "rect":
            a = self.to_widget(self._drag["start"].x(), self._drag["start"].y())
            b = self.to_widget(self._drag["end"].x(), self._drag["end"].y())
            p.setPen(QPen(QColor("white"), 1.5, Qt.PenStyle.DashLine))
            p.setBrush(QColor(255, 61, 127, 80))
            p.drawRect(QRectF(a, b).normalized())
        if self._hover is not None and self.tool != "rect" and not self.show_original and t.contains(self._hover):
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(0, 0, 0, 160), 3))
            p.drawEllipse(self._hover, self.width_px / 2, self.width_px / 2)
            p.setPen(
                QPen(QColor("white"), 1.5, Qt.PenStyle.DashLine if self.tool == "eraser" else Qt.PenStyle.SolidLine)
            )
            p.drawEllipse(self._hover, self.width_px / 2, self.width_px / 2)
        p.end()
