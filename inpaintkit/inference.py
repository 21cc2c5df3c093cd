"""What the apps do, without the HTTP or the widgets: models by name, a fill, mask edits, detection.

The web server and the desktop app share this module (it imports no web framework, so a GUI-only install runs it),
so a fill from either one runs the same code:
``ModelCache`` builds one ``Inpainter`` per model name on first use (construction may load weights) and lets one
thread at a time use each instance; ``adjust_mask`` grows, shrinks or inverts a mask; ``DetectorSlot`` loads the
forensics detector lazily and reports cleanly when there is none.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import cv2
import numpy as np

from .detection import Detection
from .errors import InpaintKitError
from .inpainters import (
    INPAINTERS,
    Inpainter,
    create_inpainter,
    default_inpainter_name,
    get_inpainter_entry,
    is_available,
    list_inpainters,
    parse_model_spec,
)
from .inpainters.base import normalize_hd_strategy

#: Fills per request at most (REST ``samples``, the apps' samples box), and the seed of the first one: sample i
#: uses ``SAMPLE_SEED + i`` (the REST API: ``sd_seed + i``, default 42 as IOPaint's).
MAX_SAMPLES = 8
SAMPLE_SEED = 42

ADJUST_OPERATIONS = ("expand", "shrink", "reverse")


def is_text_guided(name: str) -> bool:
    entry = get_inpainter_entry(name)
    return entry.text_guided or "caption" in getattr(entry.obj, "call_options", ())


@dataclass
class FillResult:
    image: np.ndarray  # (H, W, 3) uint8, pixels outside the hole identical to the input
    model: str
    seconds: float  # wall time of the model's ``inpaint`` call (its HD strategy included)


class ModelCache:
    """One ``Inpainter`` per model name, built on first use; ``fill`` runs one call at a time per instance.

    Args:
        specs: ``NAME`` or ``NAME:CHECKPOINT`` strings; the first is the default model. Empty: the registry's
            best model that needs no checkpoint.
        options: constructor options for the default model (e.g. ``{"radius": 5}``).
        memory_budget: bytes one fill may use (``Inpainter.inpaint``'s ``memory_budget``); ``"default"`` keeps
            each model's own.
    """

    def __init__(
        self,
        specs: list[str] | tuple[str, ...] = (),
        options: dict[str, Any] | None = None,
        *,
        memory_budget: int | None | str = "default",
    ):
        self.memory_budget = memory_budget
        list_inpainters()  # load plug-in registrations before resolving names
        self._configured: dict[str, dict[str, Any]] = {}
        for i, spec in enumerate(specs):
            name, opts = parse_model_spec(spec)
            get_inpainter_entry(name)  # unknown name: a user error now, not at the first request
            self._configured[name] = {**opts, **((options or {}) if i == 0 else {})}
        self.default = next(iter(self._configured), None) or default_inpainter_name()
        if not self._configured and options:
            self._configured[self.default] = dict(options)
        self._instances: dict[str, Inpainter] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def put(self, name: str, inpainter: Inpainter) -> None:
        """Use this ready instance for ``name`` (a registered name): for embedding, and for tests."""
        get_inpainter_entry(name)
        with self._guard:
            self._locks.setdefault(name, threading.Lock())
            self._configured.setdefault(name, {})
            self._instances[name] = inpainter

    def set_default(self, name: str) -> None:
        self.check_usable(name)
        self.default = name

    def available(self, name: str) -> bool:
        """Usable here: needs no checkpoint, or was configured with one."""
        return name in self._configured or is_available(get_inpainter_entry(name))

    def check_usable(self, name: str) -> None:
        get_inpainter_entry(name)  # 404 for unknown names, listing the valid ones
        if not self.available(name):
            raise InpaintKitError(
                f"model {name!r} needs trained weights; start the app with --model {name}:RUN_DIR "
                f"(available here: {', '.join(n for n in list_inpainters() if self.available(n))})"
            )

    def get(self, name: str | None = None) -> Inpainter:
        """The cached instance for ``name`` (default model when ``None``), built on first use."""
        name = name or self.default
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:  # also serialises construction, so a model is never built twice
            if name not in self._instances:
                self.check_usable(name)
                self._instances[name] = create_inpainter(name, **self._configured.get(name, {}))
            return self._instances[name]

    def fill(
        self,
        rgb: np.ndarray,
        mask: np.ndarray,
        name: str | None = None,
        *,
        caption: str | None = None,
        seed: int | None = None,
        cancel: Callable[[], bool] | None = None,
        **hd_options: Any,
    ) -> FillResult:
        """Fill ``mask`` (bool (H, W), True = hole) in ``rgb`` with model ``name``.

        ``hd_options`` are the per-call HD options (``hd_strategy``, ``hd_strategy_crop_margin``, ...); ``None``
        values keep the model's defaults. ``caption`` goes to text-guided models and ``seed`` to models that draw random
        numbers; the others ignore them.
        ``cancel`` is polled before each model call (see ``Inpainter.inpaint``).
        """
        name = name or self.default
        inpainter = self.get(name)
        opts = {k: v for k, v in hd_options.items() if v is not None}
        if "hd_strategy" in opts:
            opts["hd_strategy"] = normalize_hd_strategy(opts["hd_strategy"], "hd_strategy")
        if caption and "caption" in inpainter.call_options:
            opts["caption"] = caption
        if seed is not None and "seed" in inpainter.call_options:
            opts["seed"] = seed
        with self._locks[name]:  # one call at a time per instance (models keep per-call state)
            t0 = time.perf_counter()
            out = inpainter.inpaint(rgb, mask, cancel=cancel, memory_budget=self.memory_budget, **opts)
            seconds = time.perf_counter() - t0
        return FillResult(out, name, seconds)

    def describe(self) -> list[dict[str, Any]]:
        """Every registered model as the API and the UIs show it."""
        out = []
        for entry in INPAINTERS.entries():
            options = {
                k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
                for k, v in entry.options().items()
            }
            out.append(
                {
                    "name": entry.name,
                    "kind": entry.kind,
                    "description": entry.description,
                    "needs_weights": entry.needs_weights,
                    "available": self.available(entry.name),
                    "text_guided": is_text_guided(entry.name),
                    "default": entry.name == self.default,
                    "options": options,
                    "call_options": list(getattr(entry.obj, "call_options", ())),
                }
            )
        return out


def adjust_mask(mask: np.ndarray, operate: str, kernel_size: int = 5) -> np.ndarray:
    """Grow (``expand``), thin (``shrink``) or invert (``reverse``) a bool mask.

    Like IOPaint, ``kernel_size`` k is the radius of an elliptical structuring element of side 2k + 1.
    """
    if operate not in ADJUST_OPERATIONS:
        raise InpaintKitError(f"unknown mask operation {operate!r}; choose from: {', '.join(ADJUST_OPERATIONS)}")
    if operate == "reverse":
        return ~mask
    if kernel_size < 0:
        raise InpaintKitError(f"kernel_size must be >= 0, got {kernel_size}")
    if kernel_size == 0:
        return mask.copy()
    side = 2 * int(kernel_size) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    m = mask.astype(np.uint8)
    op = cv2.dilate if operate == "expand" else cv2.erode
    # erosion treats the outside of the image as hole (BORDER_CONSTANT with the default max value), so a hole
    # touching the border stays touching it; dilation treats the outside as background.
    return op(m, kernel, iterations=1).astype(bool)


class Detector(Protocol):
    def detect(self, rgb: np.ndarray) -> Any: ...


def _default_loader(source: str | None) -> Detector:
    try:
        from .forensics import load_detector
    except ImportError as e:  # no forensics module in this install, or one that cannot load
        raise InpaintKitError(
            f"no detector available: inpaintkit.forensics cannot be imported ({e})", status_code=503
        ) from None
    return load_detector(source)


class DetectorSlot:
    """The forensics detector, loaded on first use.

    Args:
        detector: an object with ``detect(rgb)`` to use as is (tests, embedding); ``None`` loads one.
        source: what to pass to ``load_detector`` (``None``: the bundled default).
        loader: how to load it; defaults to ``inpaintkit.forensics.load_detector``.
    """

    def __init__(
        self,
        detector: Detector | None = None,
        source: str | None = None,
        loader: Callable[[str | None], Detector] | None = None,
    ):
        self._detector = detector
        self._source = source
        self._loader = loader or _default_loader
        self._lock = threading.Lock()

    def get(self) -> Detector:
        with self._lock:
            if self._detector is None:
                try:
                    self._detector = self._loader(self._source)
                except InpaintKitError as e:
                    msg = str(e)
                    if not msg.startswith("no detector available"):
                        msg = f"no detector available: {msg}"
                    raise InpaintKitError(msg, status_code=503) from None
            return self._detector

    def detect(self, rgb: np.ndarray) -> Detection:
        det = self.get()
        with self._lock:  # one call at a time: detectors may keep state between calls
            res = det.detect(rgb)
        h, w = rgb.shape[:2]
        heat = np.asarray(res.heatmap, dtype=np.float32)
        if heat.ndim == 3:
            heat = heat[..., 0]
        if heat.shape != (h, w):
            heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
        heat = np.clip(np.nan_to_num(heat), 0.0, 1.0)
        return Detection(float(res.score), str(res.verdict), heat)
