"""The ``Inpainter`` base class: everything around an algorithm.

A subclass writes only ``forward(image, mask)`` on an RGB uint8 image whose hole pixels are already zeroed
(so no algorithm can peek under the hole) and returns an RGB uint8 image of the same size. The base class
owns the rest, IOPaint-style:

- input checks (dtype, shape, mask/image size), grayscale / RGBA input (alpha passed through untouched);
- the HD strategy for large images: ``crop`` (each connected hole region's bounding box plus a margin, when the
  long side exceeds ``crop_trigger_size``; regions closer than two margins share one window, and at most
  ``max_crop_calls`` windows run, else one window on their joint box), ``resize`` (to ``resize_limit`` long side)
  or ``original``;
- a memory model: ``bytes_per_pixel`` (measured, ``benchmarks/memory_model.py``) times the pixels of a model call
  must fit the memory budget (default 1.5 GB), else that call runs downscaled, like ``resize``;
- cancellation: ``inpaint(..., cancel=fn)`` checks ``fn()`` before every model call and stops with ``Cancelled``;
- padding to ``pad_multiple`` (and up to ``min_size``) with mirrored borders, for networks that need it;
- pasting known pixels back: pixels outside the hole are bit-identical to the input, always.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, ClassVar, Literal, get_args

import cv2
import numpy as np

from ..errors import InpaintKitError

HDStrategyName = Literal["original", "resize", "crop"]
#: Default memory budget of one fill, in bytes: the image's own copies plus the model's working memory.
DEFAULT_MEMORY_BUDGET = 1_500_000_000
#: Bytes per image pixel that ``inpaint`` itself holds around the model: the input copy, the zeroed copy, the
#: float32 mask of a resize, the upscaled fill and the pasted result (3 + 3 + 4 + 3 + 3 + bool masks ~ 20,
#: rounded up; ``telea``'s whole measured growth is 18.7 B/px, see ``benchmarks/memory_model.py``).
OVERHEAD_BYTES_PER_PIXEL = 24
HD_STRATEGIES: tuple[str, ...] = get_args(HDStrategyName)


def normalize_hd_strategy(value: str | None, what: str = "HD strategy") -> str | None:
    """``"Crop"`` (IOPaint's spelling) -> ``"crop"``; unknown names are a user error listing the valid ones."""
    if value is None:
        return None
    v = str(value).strip().lower()
    if v not in HD_STRATEGIES:
        raise InpaintKitError(f"unknown {what} {value!r}; choose from: {', '.join(HD_STRATEGIES)}")
    return v


@dataclass(frozen=True)
class HDStrategy:
    """How large images are handled (IOPaint's defaults)."""

    strategy: str = "crop"
    crop_margin: int = 128
    crop_trigger_size: int = 800
    resize_limit: int = 1280

    def __post_init__(self):
        object.__setattr__(self, "strategy", normalize_hd_strategy(self.strategy))
        for f in ("crop_margin", "crop_trigger_size", "resize_limit"):
            v = getattr(self, f)
            if not isinstance(v, (int, np.integer)) or v < (0 if f == "crop_margin" else 1):
                raise InpaintKitError(f"HD strategy {f} must be a positive integer, got {v!r}")


def as_mask(mask: Any, name: str = "mask") -> np.ndarray:
    """bool (H, W) from a bool or uint8 (0/255, > 127 = hole) array. 0/1 uint8 is refused as ambiguous."""
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise InpaintKitError(f"{name} must be a 2-D (H, W) array, got shape {m.shape}")
    if m.dtype == bool:
        # canonical 0/1 bytes: a bool array can hold other bytes (Pillow's 1-bit images give 255), which numeric
        # code (scikit-image, sparse indices) reads as 255
        return m.view(np.uint8) != 0
    if m.dtype == np.uint8:
        if m.size and m.max() == 1:
            raise InpaintKitError(f"{name} is a 0/1 uint8 array; pass a bool array or 0/255 (255 = hole)")
        return m > 127
    raise InpaintKitError(f"{name} must be bool or uint8 (255 = hole), got {m.dtype}")


class Cancelled(InpaintKitError):
    """A fill stopped by its ``cancel`` callback (the client went away, or the request ran out of time)."""

    status_code = 503


def mask_boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, x1, y1), exclusive ends, of the 8-connected hole regions."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in stats[1:n]]


def crop_window(box: tuple[int, int, int, int], margin: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The box grown by ``margin`` on each side, shifted (not shrunk) to stay inside the image when it can."""
    x0, y0, x1, y1 = box
    w = min(x1 - x0 + 2 * margin, width)
    h = min(y1 - y0 + 2 * margin, height)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    l = min(max(cx - w // 2, 0), width - w)
    t = min(max(cy - h // 2, 0), height - h)
    return l, t, l + w, t + h


def _merge_overlapping(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Replace overlapping boxes by their joint box until none overlap (the list is short: at most ~100)."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        out: list[tuple[int, int, int, int]] = []
        for b in boxes:
            for i, o in enumerate(out):
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    out[i] = (min(b[0], o[0]), min(b[1], o[1]), max(b[2], o[2]), max(b[3], o[3]))
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return boxes


def crop_windows(mask: np.ndarray, margin: int, max_calls: int = 16) -> list[tuple[int, int, int, int]]:
    """The ``crop`` strategy's windows (l, t, r, b): one per cluster of hole regions, never more than ``max_calls``.

    Regions closer than ``2 * margin`` share a window (their context overlaps anyway), overlapping windows merge,
    and when more than ``max_calls`` windows remain they become one window on their joint box. So a mask of
    thousands of specks costs one model call, not thousands.
    """
    h, w = mask.shape
    m = mask.astype(np.uint8)
    if margin > 0:  # a square kernel is separable: cost independent of the margin
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * margin + 1, 2 * margin + 1)))
    boxes = mask_boxes(m > 0)
    if len(boxes) > 8 * max_calls:  # far more clusters than calls allowed: they end joined anyway, skip the work
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        return [crop_window((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1), margin, w, h)]
    clusters = []
    for x0, y0, x1, y1 in boxes:  # the dilated boxes, shrunk back to the holes they contain
        ys, xs = np.nonzero(mask[y0:y1, x0:x1])
        clusters.append((x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1))
    windows = _merge_overlapping([crop_window(b, margin, w, h) for b in clusters])
    if len(windows) > max_calls:
        windows = [
            (
                min(b[0] for b in windows),
                min(b[1] for b in windows),
                max(b[2] for b in windows),
                max(b[3] for b in windows),
            )
        ]
    return windows


class Inpainter:
    """Base class of every inpainter. Subclasses set the class attributes and implement ``forward``."""

    #: Registry name, set by ``register_inpainter``.
    name: ClassVar[str] = ""
    #: Network input sides must be a multiple of this (classical fills: 1).
    pad_multiple: ClassVar[int] = 1
    #: Smaller inputs are padded (mirrored) up to this side.
    min_size: ClassVar[int] = 1
    #: Per-call keyword arguments ``inpaint`` passes through to ``forward`` (e.g. ``("caption", "seed")``).
    call_options: ClassVar[tuple[str, ...]] = ()
    #: Working memory of one model call per pixel of its input, in bytes (measured by
    #: ``benchmarks/memory_model.py``, rounded up). Calls that would need more than the budget run downscaled.
    bytes_per_pixel: ClassVar[float] = 16.0
    #: The ``crop`` strategy runs the model at most this many times per fill (see ``crop_windows``).
    max_crop_calls: ClassVar[int] = 16

    def __init__(
        self,
        *,
        hd_strategy: str = HDStrategy.strategy,  # the defaults are HDStrategy's (one place)
        hd_strategy_crop_margin: int = HDStrategy.crop_margin,
        hd_strategy_crop_trigger_size: int = HDStrategy.crop_trigger_size,
        hd_strategy_resize_limit: int = HDStrategy.resize_limit,
    ):
        self.hd = HDStrategy(
            hd_strategy, hd_strategy_crop_margin, hd_strategy_crop_trigger_size, hd_strategy_resize_limit
        )
        #: Seconds spent in ``forward`` during the last ``inpaint`` call (the algorithm's own time).
        self.last_forward_seconds = 0.0
        #: Model calls made by the last ``inpaint`` call, and how many of them ran downscaled to fit the budget.
        self.last_calls = 0
        self.last_downscaled = 0
        #: Bytes one fill may use (image copies + the model's working memory); ``None``: no limit.
        self.memory_budget: int | None = DEFAULT_MEMORY_BUDGET

    # -- what subclasses write ----------------------------------------------------------------------------------
    def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw: Any) -> np.ndarray:
        """Fill ``mask`` (bool (H, W), True = hole) in ``image`` (uint8 (H, W, 3), hole zeroed).

        ``call_kw`` holds the per-call options named in ``call_options``. Returns uint8 (H, W, 3); only the hole
        pixels of the result are used.
        """
        raise NotImplementedError

    # -- the public call ----------------------------------------------------------------------------------------
    def inpaint(
        self,
        image: Any,
        mask: Any,
        *,
        cancel: Callable[[], bool] | None = None,
        memory_budget: int | None | Literal["default"] = "default",
        **options: Any,
    ) -> np.ndarray:
        """Fill the hole of ``image``.

        Args:
            image: uint8 array, (H, W, 3) RGB, (H, W, 4) RGBA (alpha kept as is) or (H, W) grayscale.
            mask: bool or uint8 array (H, W); True / 255 = hole.
            **options: per-call HD options (``hd_strategy``, ``hd_strategy_crop_margin``,
                ``hd_strategy_crop_trigger_size``, ``hd_strategy_resize_limit``) and the model's ``call_options``
                (e.g. ``caption`` for text-guided models).
            cancel: called before each model call; when it returns True the fill stops with ``Cancelled``.
            memory_budget: bytes this fill may use (default: ``self.memory_budget``; ``None``: no limit). Model
                calls whose ``bytes_per_pixel`` estimate would exceed what the image's own copies leave of it
                run downscaled (as the ``resize`` strategy does).

        Returns:
            An array of the input's shape and dtype; pixels outside the hole are bit-identical to the input.
        """
        img = np.asarray(image)
        if img.dtype == object or img.dtype.kind not in "biufc":
            raise InpaintKitError(f"image must be a uint8 array, got {type(image).__name__} of dtype {img.dtype}")
        if img.dtype != np.uint8:
            raise InpaintKitError(
                f"image must be uint8, got {img.dtype}; convert with (x * 255).round().astype(np.uint8)"
            )
        if img.ndim == 2:
            rgb, extra = np.repeat(img[..., None], 3, axis=2), None
        elif img.ndim == 3 and img.shape[2] in (3, 4):
            rgb, extra = img[..., :3], (img[..., 3:] if img.shape[2] == 4 else None)
        else:
            raise InpaintKitError(f"image must be (H, W), (H, W, 3) or (H, W, 4), got shape {img.shape}")
        m = as_mask(mask)
        if m.shape != img.shape[:2]:
            raise InpaintKitError(f"mask is {m.shape[1]}x{m.shape[0]} but image is {img.shape[1]}x{img.shape[0]}")
        call_kw = {k: options.pop(k) for k in list(options) if k in self.call_options}
        hd = self._hd_with(options)
        self.last_forward_seconds = 0.0
        self.last_calls = self.last_downscaled = 0
        if img.size == 0:
            raise InpaintKitError(f"image has no pixels (shape {img.shape})")
        if not m.any():
            return img.copy()
        budget = self.memory_budget if memory_budget == "default" else memory_budget
        if budget is not None:
            if not isinstance(budget, (int, float, np.integer, np.floating)) or budget <= 0:
                raise InpaintKitError(f"memory_budget must be a positive number of bytes or None, got {budget!r}")
            left = budget - OVERHEAD_BYTES_PER_PIXEL * m.size
            if left < self.bytes_per_pixel * 64 * 64:
                raise InpaintKitError(
                    f"a {m.shape[1]}x{m.shape[0]} image needs more than the memory budget of {budget / 1e9:.2f} GB "
                    "just to hold its copies; send a smaller image or raise the budget"
                )
            self._call_pixels = max(64 * 64, int(left / self.bytes_per_pixel))
        else:
            self._call_pixels = None
        self._cancel = cancel
        rgb = np.ascontiguousarray(rgb)
        filled = self._run_hd(rgb, np.array(m, dtype=bool, copy=True), hd, call_kw)
        out = np.where(m[..., None], filled, rgb)  # paste known pixels back: bit-identical outside the hole
        if img.ndim == 2:
            return np.where(m, out.mean(axis=2).round().astype(np.uint8), img)
        if extra is not None:
            return np.concatenate([out, extra], axis=2)
        return out

    __call__ = inpaint

    # -- machinery ----------------------------------------------------------------------------------------------
    def _hd_with(self, overrides: dict[str, Any]) -> HDStrategy:
        if not overrides:
            return self.hd
        names = {f"hd_strategy_{f.name}" if f.name != "strategy" else "hd_strategy": f.name for f in fields(HDStrategy)}
        unknown = set(overrides) - set(names)
        if unknown:
            valid = [*names, *self.call_options]
            raise InpaintKitError(
                f"{self.name or type(self).__name__}: unknown option(s) {', '.join(sorted(unknown))}; "
                f"choose from: {', '.join(valid)}"
            )
        return replace(self.hd, **{names[k]: v for k, v in overrides.items() if v is not None})

    def _run_hd(self, rgb: np.ndarray, mask: np.ndarray, hd: HDStrategy, call_kw: dict[str, Any]) -> np.ndarray:
        h, w = mask.shape
        long_side = max(h, w)
        if hd.strategy == "crop" and long_side > hd.crop_trigger_size:
            out = rgb.copy()
            for l, t, r, b in crop_windows(mask, hd.crop_margin, self.max_crop_calls):
                sub_mask = mask[t:b, l:r]
                sub = self._fit_forward(rgb[t:b, l:r], sub_mask, call_kw)
                region = out[t:b, l:r]
                region[sub_mask] = sub[sub_mask]
            return out
        if hd.strategy == "resize" and long_side > hd.resize_limit:
            scale = hd.resize_limit / long_side
            return self._resize_forward(rgb, mask, max(1, round(w * scale)), max(1, round(h * scale)), call_kw)
        return self._fit_forward(rgb, mask, call_kw)

    def _fit_forward(self, rgb: np.ndarray, mask: np.ndarray, call_kw: dict[str, Any]) -> np.ndarray:
        """One model call, downscaled when its padded size would need more memory than the budget leaves."""
        h, w = mask.shape
        limit = getattr(self, "_call_pixels", None)
        if limit is not None and self._padded_pixels(h, w) > limit:
            scale = math.sqrt(limit / self._padded_pixels(h, w))
            while True:  # padding can push the downscaled call back over: shrink until it fits
                sw, sh = max(1, int(w * scale)), max(1, int(h * scale))
                if self._padded_pixels(sh, sw) <= limit or (sw, sh) == (1, 1):
                    break
                scale *= 0.95
            self.last_downscaled += 1
            return self._resize_forward(rgb, mask, sw, sh, call_kw)
        return self._pad_forward(rgb, mask, call_kw)

    def _padded_shape(self, h: int, w: int) -> tuple[int, int]:
        """(H, W) of the model's input for an (h, w) call: up to a multiple of ``pad_multiple``, at least ``min_size``."""
        k = max(1, self.pad_multiple)
        floor = -(-self.min_size // k) * k
        return max(-(-h // k) * k, floor), max(-(-w // k) * k, floor)

    def _padded_pixels(self, h: int, w: int) -> int:
        ph, pw = self._padded_shape(h, w)
        return ph * pw

    def _resize_forward(
        self, rgb: np.ndarray, mask: np.ndarray, sw: int, sh: int, call_kw: dict[str, Any]
    ) -> np.ndarray:
        """Fill at (sw, sh) and upscale back to the input's size (only the hole pixels of the result are used)."""
        h, w = mask.shape
        small_img = cv2.resize(
            np.where(mask[..., None], 0, rgb).astype(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA
        )
        # Any hole coverage makes a small pixel a hole, grown by the bicubic kernel's reach (2 px), so every
        # hole pixel of the upscaled result is interpolated from filled pixels only (no zeroed pixel leaks in).
        small_mask = cv2.resize(mask.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0
        small_mask = cv2.dilate(small_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        small = self._pad_forward(small_img, small_mask, call_kw)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)

    def _pad_forward(self, rgb: np.ndarray, mask: np.ndarray, call_kw: dict[str, Any]) -> np.ndarray:
        cancel = getattr(self, "_cancel", None)
        if cancel is not None and cancel():
            raise Cancelled(f"{self.name or type(self).__name__}: fill cancelled after {self.last_calls} model call(s)")
        self.last_calls += 1
        h, w = mask.shape
        ph, pw = self._padded_shape(h, w)
        image = np.where(mask[..., None], 0, rgb).astype(np.uint8)  # the algorithm never sees the hole's pixels
        if (ph, pw) != (h, w):
            # mirrored padding (holes mirror with the image); numpy repeats the mirror for pads larger than the side
            image = np.pad(image, ((0, ph - h), (0, pw - w), (0, 0)), mode="symmetric")
            mask = np.pad(mask, ((0, ph - h), (0, pw - w)), mode="symmetric")
        t0 = time.perf_counter()
        # fresh, writable, contiguous arrays: some algorithms write into their inputs or refuse read-only buffers
        out = self.forward(np.ascontiguousarray(image), np.array(mask, dtype=bool, order="C"), **call_kw)
        self.last_forward_seconds += time.perf_counter() - t0
        out = np.asarray(out)
        if out.shape != image.shape or out.dtype != np.uint8:
            raise RuntimeError(
                f"{type(self).__name__}.forward returned {out.shape} {out.dtype}, expected {image.shape} uint8"
            )
        return out[:h, :w]
