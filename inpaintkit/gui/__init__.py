"""The desktop app (``inpaintkit gui``, PySide6): paint over what should go, press Fill, compare, save."""

from __future__ import annotations

import sys
from pathlib import Path


def run_gui(image: str | Path | None = None, model: str | None = None) -> int:
    """Open the main window (optionally on ``image`` with ``model`` selected) and run until it is closed."""
    from PySide6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = MainWindow(model=model)
    if image is not None:
        win.load_image(image)
    win.show()
    return app.exec()


__all__ = ["run_gui"]
