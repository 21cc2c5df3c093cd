"""Mask generators: small seedable callables, ``gen(rng, (H, W)) -> bool (H, W)``, True = hole.

Every kind is registered in ``MASKS`` (the only list of kinds; the CLI and configs read it) and built with
``create_mask_generator(kind, ratio=None, **params)``. Each kind re-implements, from the published description
and parameters, the generator of the project it is named after:

- ``irregular``: random lines, circles and ellipse arcs, 1-20 of each, thickness 3 to 0.03*(W+H)
  (the irregular-mask generator used with partial convolutions, Liu et al. 2018).
- ``strokes``: 16-64 shapes, lines 60% / circles 20% / ellipses 20%, width 4-20 at 256 px
  (Pluralistic / TDANet ``random_irregular_mask``).
- ``freeform``: DeepFill v2 brush strokes (Yu et al. 2019, ``brush_stroke_mask``): 1-3 strokes of 4-11
  vertices, alternating angles around 2*pi/5, segment length ~ N(r, r/2) with r = diagonal/8, width 12-40 at 256.
- ``lama-thin`` / ``lama-medium`` / ``lama-thick``: LaMa's evaluation sets (Suvorov et al. 2022,
  ``configs/data_gen/random_{thin,medium,thick}_{256,512}.yaml`` with ``MixedMaskGenerator``): the 256 or the
  512 configuration is chosen by image size and scaled to it; masks covering more than half the image are
  rejected (``max_tamper_area: 0.5``).
- ``boxes`` (1-5 rectangles, Pluralistic's ``random_regular_mask``), ``square`` (one square, GLCIC / on-demand /
  DeepFill), ``center`` (centred half-size hole), ``ondemand`` (a square from one of 5 difficulty bands,
  Gao & Grauman 2017), ``file`` (masks read from a folder, with seeded augmentation).

Sizes defined by the original at a fixed resolution scale with ``sqrt(H*W) / reference``.
Any kind takes ``ratio=(lo, hi)``: samples are redrawn (at most ``max_attempts`` times) until the hole ratio
lies in ``[lo, hi)``. Masks are never empty.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import cv2
import numpy as np

from ..errors import InpaintKitError
from ..registry import Registry

#: The only list of mask kinds. ``Entry.obj`` is a ``MaskGenerator`` subclass.
MASKS: Registry[type["MaskGenerator"]] = Registry("mask kind")

DEFAULT_MAX_ATTEMPTS = 1000


def as_rng(rng: Any) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, an int seed or a SeedSequence."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, not {type(rng).__name__}")


def as_shape(shape: Any) -> tuple[int, int]:
    """``(H, W)`` from a 2-sequence or an int (square); both sides at least 1."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape), int(shape))
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise InpaintKitError(f"mask shape {shape!r}: expected (height, width)") from None
    if h < 1 or w < 1:
        raise InpaintKitError(f"mask shape {h}x{w}: height and width must be at least 1")
    return h, w


def mask_ratio(mask: np.ndarray) -> float:
    """Fraction of hole pixels (True / non-zero) in ``mask``."""
    mask = np.asarray(mask)
    return float(np.count_nonzero(mask)) / mask.size if mask.size else 0.0


def parse_ratio(ratio: Any) -> tuple[float, float] | None:
    """``None``, ``(lo, hi)`` or ``"lo-hi"`` -> ``(lo, hi)`` with ``0 <= lo < hi <= 1``."""
    if ratio is None:
        return None
    text = ratio
    if isinstance(ratio, str):
        lo_s, sep, hi_s = ratio.strip().partition("-")
        if not sep:
            raise InpaintKitError(f"ratio {text!r}: expected LO-HI, e.g. 0.1-0.2")
        ratio = (lo_s, hi_s)
    try:
        lo, hi = (float(v) for v in ratio)
    except (TypeError, ValueError):
        raise InpaintKitError(f"ratio {text!r}: expected LO-HI with two numbers, e.g. 0.1-0.2") from None
    if not (0.0 <= lo < hi <= 1.0):
        raise InpaintKitError(f"ratio {text!r}: need 0 <= LO < HI <= 1, e.g. 0.1-0.2")
    return lo, hi


def _scale(shape: tuple[int, int], reference: float) -> float:
    """How much larger than the original's ``reference`` x ``reference`` canvas this mask is."""
    return math.sqrt(shape[0] * shape[1]) / reference


def _px(value: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, int(round(value * scale)))


class MaskGenerator:
    """Base class: a subclass implements ``draw(rng, shape)``; this class adds ratio buckets and checks.

    Subclasses keep each constructor argument as an attribute of the same name, so ``params()`` (recorded in
    manifests) and the registry's option list stay in step with the signature.
    """

    kind: str = ""
    #: Stroke-like kinds: a sample below a ratio bucket may take the strokes of further samples (at most
    #: ``MAX_UNIONS``), which reaches the high buckets in a few draws instead of hundreds.
    composable: bool = False
    MAX_UNIONS = 3

    def __init__(self, *, ratio: Any = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        self.ratio = parse_ratio(ratio)
        if int(max_attempts) < 1:
            raise InpaintKitError(f"mask kind {self.kind!r}: max_attempts must be at least 1")
        self.max_attempts = int(max_attempts)

    # -- to implement -------------------------------------------------------------------------------------
    def draw(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """One raw sample, bool (H, W). May be empty; ``__call__`` redraws empty masks."""
        raise NotImplementedError

    # -- public ----------------------------------------------------------------------------------------------
    def __call__(self, rng: Any, shape: Any) -> np.ndarray:
        rng, shape = as_rng(rng), as_shape(shape)
        lo, hi = self.ratio if self.ratio is not None else (0.0, 1.0 + 1e-9)
        seen: list[float] = []
        for _ in range(self.max_attempts):
            m = np.asarray(self.draw(rng, shape), dtype=bool)
            r = mask_ratio(m)
            if self.ratio is not None and self.composable:
                for _ in range(self.MAX_UNIONS):
                    if r >= lo:
                        break
                    m = m | np.asarray(self.draw(rng, shape), dtype=bool)
                    r = mask_ratio(m)
            if r > 0 and lo <= r < hi:
                return m
            seen.append(r)
        if self.ratio is None:
            raise InpaintKitError(
                f"mask kind {self.kind!r}: only empty masks in {self.max_attempts} attempts at "
                f"{shape[1]}x{shape[0]}; check its options"
            )
        raise InpaintKitError(
            f"mask kind {self.kind!r}: no mask with hole ratio in [{lo:g}, {hi:g}) in {self.max_attempts} "
            f"attempts at {shape[1]}x{shape[0]} (ratios seen {min(seen):.3f}-{max(seen):.3f}); "
            "choose another ratio range or kind"
        )

    def params(self) -> dict[str, Any]:
        """The options this generator was built with (JSON-ready), for manifests and logs."""
        out: dict[str, Any] = {}
        for cls in type(self).__mro__:
            if "__init__" not in vars(cls) or cls is object:
                continue
            for p in inspect.signature(cls.__init__).parameters.values():
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    out.setdefault(p.name, _jsonable(getattr(self, p.name, None)))
        return out

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({opts})"


def _jsonable(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def register_mask(name: str, *, description: str):
    """Register a ``MaskGenerator`` subclass under ``name`` (sets its ``kind``)."""

    def deco(cls: type[MaskGenerator]) -> type[MaskGenerator]:
        cls.kind = name
        return MASKS.register(name, description=description, kind="mask")(cls)

    return deco


def get_mask_class(kind: str) -> type[MaskGenerator]:
    return MASKS.get(kind).obj


def list_mask_kinds(pattern: str | None = None) -> list[str]:
    """Registered mask kinds, sorted (optionally filtered by a glob pattern)."""
    return MASKS.names(pattern)


def create_mask_generator(kind: str, ratio: Any = None, **params: Any) -> MaskGenerator:
    """Build the generator ``kind`` with ``params``; ``ratio=(lo, hi)`` or ``"lo-hi"`` makes it ratio-bucketed.

    Unknown kinds and unknown options raise ``InpaintKitError`` listing the valid ones.
    """
    entry = MASKS.get(kind)
    valid = entry.options()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InpaintKitError(
            f"mask kind {kind!r}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    try:
        return entry.obj(ratio=ratio, **params)
    except InpaintKitError:
        raise
    except (TypeError, ValueError) as e:
        raise InpaintKitError(f"mask kind {kind!r}: bad options {params}: {' '.join(str(e).split())}") from None


def _range(name: str, kind: str, value: Any, *, low: float = 0, integer: bool = True) -> tuple:
    """Validate a (min, max) option."""
    try:
        a, b = value
        a, b = (int(a), int(b)) if integer else (float(a), float(b))
    except (TypeError, ValueError):
        raise InpaintKitError(f"mask kind {kind!r}: {name} must be a (min, max) pair, got {value!r}") from None
    if a < low or b < a:
        raise InpaintKitError(f"mask kind {kind!r}: {name} must satisfy {low:g} <= min <= max, got {value!r}")
    return a, b


# ---------------------------------------------------------------------------------------------------------
# Stroke-like kinds
# ---------------------------------------------------------------------------------------------------------
@register_mask("irregular", description="Random lines, circles and ellipse arcs, 1-20 of each (partial-conv project).")
class IrregularMask(MaskGenerator):
    """Lines, filled circles and ellipse arcs; thickness 3 .. ``thickness * (W + H)`` (0.03 in the original).

    Coordinates, radii and the ellipse axes are drawn over the whole canvas, so the kind is size-independent.
    """

    composable = True

    def __init__(self, max_objects: int = 20, thickness: float = 0.03, **kwargs: Any):
        super().__init__(**kwargs)
        if int(max_objects) < 1 or not 0 < float(thickness) <= 1:
            raise InpaintKitError("mask kind 'irregular': need max_objects >= 1 and 0 < thickness <= 1")
        self.max_objects = int(max_objects)
        self.thickness = float(thickness)

    def draw(self, rng, shape):
        h, w = shape
        m = np.zeros(shape, np.uint8)
        size = max(3, int((w + h) * self.thickness))
        ri = lambda a, b: int(rng.integers(a, b + 1))  # inclusive, like random.randint
        for _ in range(ri(1, self.max_objects)):
            cv2.line(m, (ri(1, w), ri(1, h)), (ri(1, w), ri(1, h)), 1, ri(3, size))
        for _ in range(ri(1, self.max_objects)):
            cv2.circle(m, (ri(1, w), ri(1, h)), ri(3, size), 1, -1)
        for _ in range(ri(1, self.max_objects)):
            cv2.ellipse(
                m, (ri(1, w), ri(1, h)), (ri(1, w), ri(1, h)), ri(3, 180), ri(3, 180), ri(3, 180), 1, ri(3, size)
            )
        return m.astype(bool)


@register_mask(
    "strokes", description="TDANet/Pluralistic: 16-64 lines (60%), circles (20%), ellipses (20%), width 4-20 at 256 px."
)
class StrokesMask(MaskGenerator):
    composable = True

    def __init__(
        self, count: tuple[int, int] = (16, 64), width: tuple[int, int] = (4, 20), reference: int = 256, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.count = _range("count", "strokes", count, low=1)
        self.width = _range("width", "strokes", width, low=1)
        self.reference = int(reference)

    def draw(self, rng, shape):
        h, w = shape
        s = _scale(shape, self.reference)
        lo_w, hi_w = _px(self.width[0], s), _px(self.width[1], s)
        hi_w = max(hi_w, lo_w)
        m = np.zeros(shape, np.uint8)
        ri = lambda a, b: int(rng.integers(a, b + 1))
        for _ in range(ri(*self.count)):
            u = rng.random()
            if u < 0.6:
                cv2.line(m, (ri(1, w), ri(1, h)), (ri(1, w), ri(1, h)), 1, ri(lo_w, hi_w))
            elif u < 0.8:
                cv2.circle(m, (ri(1, w), ri(1, h)), ri(lo_w, hi_w), 1, -1)
            else:
                cv2.ellipse(
                    m, (ri(1, w), ri(1, h)), (ri(1, w), ri(1, h)), ri(3, 180), ri(3, 180), ri(3, 180), 1, ri(lo_w, hi_w)
                )
        return m.astype(bool)


@register_mask("freeform", description="DeepFill v2 free-form brush strokes (1-3 strokes, width 12-40 at 256 px).")
class FreeFormMask(MaskGenerator):
    """Yu et al. 2019 ``brush_stroke_mask``: each stroke is a polyline with round joints."""

    composable = True

    def __init__(
        self,
        strokes: tuple[int, int] = (1, 3),
        vertices: tuple[int, int] = (4, 11),
        width: tuple[int, int] = (12, 40),
        mean_angle: float = 2 * math.pi / 5,
        angle_range: float = 2 * math.pi / 15,
        reference: int = 256,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.strokes = _range("strokes", "freeform", strokes, low=1)
        self.vertices = _range("vertices", "freeform", vertices, low=1)
        self.width = _range("width", "freeform", width, low=1)
        self.mean_angle = float(mean_angle)
        self.angle_range = float(angle_range)
        self.reference = int(reference)

    def draw(self, rng, shape):
        h, w = shape
        s = _scale(shape, self.reference)
        radius = math.hypot(h, w) / 8  # average segment length
        m = np.zeros(shape, np.uint8)
        for _ in range(int(rng.integers(self.strokes[0], self.strokes[1] + 1))):
            n = int(rng.integers(self.vertices[0], self.vertices[1] + 1))
            a_min = self.mean_angle - rng.uniform(0, self.angle_range)
            a_max = self.mean_angle + rng.uniform(0, self.angle_range)
            angles = rng.uniform(a_min, a_max, n)
            angles[::2] = 2 * math.pi - angles[::2]  # zig-zag, as the original
            pts = [(int(rng.integers(0, w)), int(rng.integers(0, h)))]
            for a in angles:
                r = float(np.clip(rng.normal(radius, radius / 2), 0, 2 * radius))
                x = int(np.clip(pts[-1][0] + r * math.cos(a), 0, w - 1))
                y = int(np.clip(pts[-1][1] + r * math.sin(a), 0, h - 1))
                pts.append((x, y))
            width = _px(rng.uniform(self.width[0], self.width[1]), s)
            cv2.polylines(m, [np.array(pts, np.int32)], False, 1, width)
            for p in pts:
                cv2.circle(m, p, width // 2, 1, -1)
        if rng.normal() > 0:
            m = m[:, ::-1]
        if rng.normal() > 0:
            m = m[::-1, :]
        return np.ascontiguousarray(m).astype(bool)


# ---------------------------------------------------------------------------------------------------------
# LaMa evaluation sets
# ---------------------------------------------------------------------------------------------------------
#: ``configs/data_gen/random_<variant>_<size>.yaml``: irregular (line) strokes + optional boxes, mixed by weight.
LAMA_CONFIGS: dict[str, dict[int, dict[str, Any]]] = {
    "thin": {
        256: dict(irregular=dict(min_times=4, max_times=50, max_width=10, max_angle=4, max_len=40), box_proba=0),
        512: dict(irregular=dict(min_times=4, max_times=70, max_width=20, max_angle=4, max_len=100), box_proba=0),
    },
    "medium": {
        256: dict(
            irregular=dict(min_times=4, max_times=5, max_width=50, max_angle=4, max_len=100),
            box_proba=0.3,
            box=dict(margin=0, bbox_min_size=10, bbox_max_size=50, min_times=1, max_times=5),
        ),
        512: dict(
            irregular=dict(min_times=4, max_times=10, max_width=100, max_angle=4, max_len=200),
            box_proba=0.3,
            box=dict(margin=0, bbox_min_size=30, bbox_max_size=150, min_times=1, max_times=5),
        ),
    },
    "thick": {
        256: dict(
            irregular=dict(min_times=1, max_times=5, max_width=100, max_angle=4, max_len=200),
            box_proba=0.3,
            box=dict(margin=10, bbox_min_size=30, bbox_max_size=150, min_times=1, max_times=3),
        ),
        512: dict(
            irregular=dict(min_times=1, max_times=5, max_width=250, max_angle=4, max_len=450),
            box_proba=0.3,
            box=dict(margin=10, bbox_min_size=30, bbox_max_size=300, min_times=1, max_times=4),
        ),
    },
}
LAMA_MAX_TAMPER_AREA = 0.5  # LaMa's gen_mask_dataset drops masks covering more than this


def _lama_strokes(rng, shape, s, min_times, max_times, max_width, max_angle, max_len) -> np.ndarray:
    """LaMa ``make_random_irregular_mask`` (line draw method), lengths and widths scaled by ``s``."""
    h, w = shape
    m = np.zeros(shape, np.uint8)
    for i in range(int(rng.integers(min_times, max_times + 1))):
        x, y = int(rng.integers(w)), int(rng.integers(h))
        for _ in range(1 + int(rng.integers(5))):
            angle = 0.01 + int(rng.integers(max_angle))
            if i % 2 == 0:
                angle = 2 * 3.1415926 - angle
            length = (10 + int(rng.integers(max_len))) * s
            brush = _px(5 + int(rng.integers(max_width)), s)
            ex = int(np.clip(x + length * math.sin(angle), 0, w))
            ey = int(np.clip(y + length * math.cos(angle), 0, h))
            cv2.line(m, (x, y), (ex, ey), 1, brush)
            x, y = ex, ey
    return m.astype(bool)


def _lama_boxes(rng, shape, s, margin, bbox_min_size, bbox_max_size, min_times, max_times) -> np.ndarray:
    """LaMa ``make_random_rectangle_mask``: box sides in [min, max), sizes and margin scaled by ``s``."""
    h, w = shape
    m = np.zeros(shape, bool)
    margin = int(round(margin * s))
    lo = _px(bbox_min_size, s)
    hi = min(_px(bbox_max_size, s), h - 2 * margin, w - 2 * margin)
    if hi <= lo:  # tiny canvas: one size only
        lo = hi = max(1, min(lo, h - 2 * margin, w - 2 * margin))
        hi += 1
    for _ in range(int(rng.integers(min_times, max_times + 1))):
        bw, bh = int(rng.integers(lo, hi)), int(rng.integers(lo, hi))
        x0 = int(rng.integers(margin, max(margin, w - margin - bw) + 1))
        y0 = int(rng.integers(margin, max(margin, h - margin - bh) + 1))
        m[y0 : y0 + bh, x0 : x0 + bw] = True
    return m


class _LamaMask(MaskGenerator):
    """One of LaMa's random evaluation generators; ``variant`` is set by the registered subclass."""

    variant = ""
    composable = True

    def __init__(self, base_size: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if base_size is not None and int(base_size) not in (256, 512):
            raise InpaintKitError(f"mask kind {self.kind!r}: base_size must be 256, 512 or None (by image size)")
        self.base_size = None if base_size is None else int(base_size)

    def config_size(self, shape: tuple[int, int]) -> int:
        """256 or 512: the published configuration nearest (geometrically) to this canvas."""
        if self.base_size is not None:
            return self.base_size
        return 256 if math.sqrt(shape[0] * shape[1]) < math.sqrt(256 * 512) else 512

    def draw(self, rng, shape):
        base = self.config_size(shape)
        cfg = LAMA_CONFIGS[self.variant][base]
        s = _scale(shape, base)
        # MixedMaskGenerator: pick one generator with probability proportional to its weight (irregular: 1).
        if cfg["box_proba"] > 0 and rng.random() < cfg["box_proba"] / (1.0 + cfg["box_proba"]):
            m = _lama_boxes(rng, shape, s, **cfg["box"])
        else:
            m = _lama_strokes(rng, shape, s, **cfg["irregular"])
        if mask_ratio(m) > LAMA_MAX_TAMPER_AREA:
            return np.zeros(shape, bool)  # rejected; __call__ draws again
        return m


@register_mask("lama-thin", description="LaMa evaluation 'thin' masks (random_thin_256/512).")
class LamaThinMask(_LamaMask):
    variant = "thin"


@register_mask("lama-medium", description="LaMa evaluation 'medium' masks (random_medium_256/512).")
class LamaMediumMask(_LamaMask):
    variant = "medium"


@register_mask("lama-thick", description="LaMa evaluation 'thick' masks (random_thick_256/512).")
class LamaThickMask(_LamaMask):
    variant = "thick"


# ---------------------------------------------------------------------------------------------------------
# Rectangles
# ---------------------------------------------------------------------------------------------------------
def _square_at_random(rng, shape, side: int) -> np.ndarray:
    h, w = shape
    sh, sw = min(side, h), min(side, w)
    y0, x0 = int(rng.integers(0, h - sh + 1)), int(rng.integers(0, w - sw + 1))
    m = np.zeros(shape, bool)
    m[y0 : y0 + sh, x0 : x0 + sw] = True
    return m


@register_mask("boxes", description="1-5 random rectangles (Pluralistic/TDANet regular masks).")
class BoxesMask(MaskGenerator):
    """``min_boxes``..``max_boxes`` rectangles; with N boxes each starts in the first N/(N+1) of the image and
    spans at least 1/(N+7) of it (Pluralistic ``random_regular_mask``)."""

    def __init__(self, min_boxes: int = 1, max_boxes: int = 5, **kwargs: Any):
        super().__init__(**kwargs)
        self.min_boxes, self.max_boxes = _range("(min_boxes, max_boxes)", "boxes", (min_boxes, max_boxes), low=1)

    def draw(self, rng, shape):
        h, w = shape
        m = np.zeros(shape, bool)
        n = int(rng.integers(self.min_boxes, self.max_boxes + 1))
        for _ in range(n):
            y0 = int(rng.integers(0, int(h - h / (n + 1)) + 1))
            x0 = int(rng.integers(0, int(w - w / (n + 1)) + 1))
            y1 = y0 + int(rng.integers(int(h / (n + 7)), max(int(h / (n + 7)), h - y0) + 1))
            x1 = x0 + int(rng.integers(int(w / (n + 7)), max(int(w / (n + 7)), w - x0) + 1))
            m[y0:y1, x0:x1] = True
        return m


@register_mask(
    "square", description="One square at a random place; side 64/90/128 px at 256 px (GLCIC, on-demand, DeepFill)."
)
class SquareMask(MaskGenerator):
    """One ``side`` x ``side`` square (``side`` given for a ``reference``-px canvas, scaled with image size)."""

    def __init__(self, side: int = 128, reference: int = 256, **kwargs: Any):
        super().__init__(**kwargs)
        if int(side) < 1 or int(reference) < 1:
            raise InpaintKitError("mask kind 'square': side and reference must be positive")
        self.side = int(side)
        self.reference = int(reference)

    def draw(self, rng, shape):
        return _square_at_random(rng, shape, _px(self.side, _scale(shape, self.reference)))


@register_mask(
    "objects",
    description="1-3 object-shaped silhouettes (smooth random star-shaped blobs, 8-45% of the "
    "short side, slightly dilated as a user's removal brush is): object removal.",
)
class ObjectsMask(MaskGenerator):
    """Object-shaped holes, as left by removing things from a photo: each a closed curve ``r(t) = r0 (1 + sum_k a_k
    cos(k t + phi_k))`` with 2-6 harmonics (amplitudes ~ 1/k: lumpy but smooth, like animals, people, posts), radius
    ``min_size``..``max_size`` of the short side, aspect up to 1:2.5, randomly rotated, then dilated by ~2 % of
    the short side (a removal mask covers the object's edge and its shadow/halo)."""

    def __init__(
        self, min_objects: int = 1, max_objects: int = 3, min_size: float = 0.08, max_size: float = 0.45, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.min_objects, self.max_objects = _range(
            "(min_objects, max_objects)", "objects", (min_objects, max_objects), low=1
        )
        self.min_size, self.max_size = _range(
            "(min_size, max_size)", "objects", (min_size, max_size), low=0, integer=False
        )
        if not 0 < self.min_size <= self.max_size <= 1:
            raise InpaintKitError(
                "mask kind 'objects': need 0 < min_size <= max_size <= 1 (fractions of the short side)"
            )

    def draw(self, rng, shape):
        h, w = shape
        short = min(h, w)
        m = np.zeros(shape, np.uint8)
        t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        for _ in range(int(rng.integers(self.min_objects, self.max_objects + 1))):
            size = rng.uniform(self.min_size, self.max_size) * short / 2  # mean radius in px
            r = np.ones_like(t)
            for k in range(1, int(rng.integers(2, 7)) + 1):
                r += rng.uniform(0, 0.35 / k) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
            aspect = rng.uniform(1.0, 2.5)
            x, y = r * np.cos(t) * size * aspect**0.5, r * np.sin(t) * size / aspect**0.5
            rot = rng.uniform(0, np.pi)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            px = cx + x * np.cos(rot) - y * np.sin(rot)
            py = cy + x * np.sin(rot) + y * np.cos(rot)
            cv2.fillPoly(m, [np.round(np.stack([px, py], 1)).astype(np.int32)], 1)
        d = max(1, round(0.02 * short))
        return cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * d + 1, 2 * d + 1))).astype(bool)


@register_mask("center", description="Centred hole of half the height and half the width (same for every seed).")
class CenterMask(MaskGenerator):
    def draw(self, rng, shape):
        h, w = shape
        m = np.zeros(shape, bool)
        m[h // 4 : h // 4 + max(1, h // 2), w // 4 : w // 4 + max(1, w // 2)] = True
        return m


#: On-demand learning's difficulty bands: square sides in px at 128 x 128 (Gao & Grauman 2017).
ONDEMAND_BANDS: tuple[tuple[int, int], ...] = ((1, 18), (19, 36), (37, 54), (55, 72), (73, 90))


@register_mask(
    "ondemand",
    description="Square with side from difficulty band 0-4 (1-18 ... 73-90 px at 128 px); on-demand learning.",
)
class OnDemandMask(MaskGenerator):
    """``band`` in 0..4 chooses the side range; ``None`` draws the band uniformly."""

    def __init__(self, band: int | None = None, reference: int = 128, **kwargs: Any):
        super().__init__(**kwargs)
        if band is not None and not 0 <= int(band) < len(ONDEMAND_BANDS):
            raise InpaintKitError(f"mask kind 'ondemand': band must be 0-{len(ONDEMAND_BANDS) - 1}, got {band!r}")
        self.band = None if band is None else int(band)
        self.reference = int(reference)

    def draw(self, rng, shape):
        band = self.band if self.band is not None else int(rng.integers(len(ONDEMAND_BANDS)))
        lo, hi = ONDEMAND_BANDS[band]
        side = _px(int(rng.integers(lo, hi + 1)), _scale(shape, self.reference))
        return _square_at_random(rng, shape, side)


# ---------------------------------------------------------------------------------------------------------
# Masks from files
# ---------------------------------------------------------------------------------------------------------
@register_mask("file", description="Masks read from a folder (255 = hole), with seeded rotate/scale/dilate/crop.")
class FileMask(MaskGenerator):
    """Draw a mask file from ``root`` and augment it, then fit it to the requested size.

    Args:
        root: folder of mask images (gray > 127 = hole), or a list of files.
        rotate: maximum rotation in degrees (uniform in [-rotate, rotate]; 0 = off).
        scale: ``(lo, hi)`` random zoom factor range, or ``None``.
        dilate: maximum dilation radius in px (uniform in 0..dilate; 0 = off).
        crop: fit by a random crop (upscaling first if the mask is smaller); ``False`` resizes to fit.
        flip: random horizontal and vertical flips.
    """

    def __init__(
        self,
        root: str | Path | Sequence[str | Path] | None = None,
        rotate: float = 0.0,
        scale: tuple[float, float] | None = None,
        dilate: int = 0,
        crop: bool = True,
        flip: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        from ..io import list_images

        if root is None:
            raise InpaintKitError("mask kind 'file': give root=FOLDER with mask images")
        if isinstance(root, (str, Path)):
            self.root = str(root)
            files = list_images(root) if Path(root).is_dir() else [Path(root)]
            if not Path(root).exists():
                raise InpaintKitError(f"mask kind 'file': {root}: no such file or folder")
        else:
            files = [Path(p) for p in root]
            self.root = [str(p) for p in files]
        if not files:
            raise InpaintKitError(f"mask kind 'file': {root}: no mask images in this folder")
        self.files = files
        self.rotate = float(rotate)
        self.scale = None if scale is None else _range("scale", "file", scale, low=1e-3, integer=False)
        if int(dilate) < 0:
            raise InpaintKitError("mask kind 'file': dilate must be >= 0")
        self.dilate = int(dilate)
        self.crop = bool(crop)
        self.flip = bool(flip)

    def draw(self, rng, shape):
        from ..io import read_mask

        path = self.files[int(rng.integers(len(self.files)))]
        m = read_mask(path).astype(np.uint8)  # (h, w) 0/1
        if self.flip:
            if rng.random() < 0.5:
                m = m[:, ::-1]
            if rng.random() < 0.5:
                m = m[::-1, :]
            m = np.ascontiguousarray(m)
        if self.scale is not None:
            f = rng.uniform(*self.scale)
            m = cv2.resize(
                m, (max(1, round(m.shape[1] * f)), max(1, round(m.shape[0] * f))), interpolation=cv2.INTER_NEAREST
            )
        if self.rotate > 0:
            angle = rng.uniform(-self.rotate, self.rotate)
            rot = cv2.getRotationMatrix2D(((m.shape[1] - 1) / 2, (m.shape[0] - 1) / 2), angle, 1.0)
            m = cv2.warpAffine(
                m, rot, (m.shape[1], m.shape[0]), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0
            )
        if self.dilate > 0:
            r = int(rng.integers(0, self.dilate + 1))
            if r:
                m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        h, w = shape
        if not self.crop:
            return cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        if m.shape[0] < h or m.shape[1] < w:  # upscale so the crop fits, keeping the aspect ratio
            f = max(h / m.shape[0], w / m.shape[1])
            m = cv2.resize(
                m,
                (max(w, math.ceil(m.shape[1] * f)), max(h, math.ceil(m.shape[0] * f))),
                interpolation=cv2.INTER_NEAREST,
            )
        y0 = int(rng.integers(0, m.shape[0] - h + 1))
        x0 = int(rng.integers(0, m.shape[1] - w + 1))
        return m[y0 : y0 + h, x0 : x0 + w].astype(bool)


# ---------------------------------------------------------------------------------------------------------
# Mixtures
# ---------------------------------------------------------------------------------------------------------
class MaskMixture:
    """Pick one generator per sample with the given probabilities (weights are normalised).

    ``MaskMixture.from_config([{"kind": "irregular", "p": 0.5}, {"kind": "boxes", "p": 0.5, "max_boxes": 3}])``
    """

    def __init__(self, generators: Sequence[MaskGenerator], probs: Iterable[float]):
        self.generators = list(generators)
        p = np.asarray(list(probs), dtype=np.float64)
        if not self.generators or len(p) != len(self.generators):
            raise InpaintKitError("mask mixture: need one probability per generator, and at least one generator")
        if (p < 0).any() or not np.isfinite(p).all() or p.sum() <= 0:
            raise InpaintKitError(f"mask mixture: probabilities must be >= 0 with a positive sum, got {p.tolist()}")
        self.probs = p / p.sum()

    @classmethod
    def from_config(cls, config: Sequence[dict[str, Any]] | dict[str, Any]) -> "MaskMixture":
        """A list of ``{"kind": K, "p": weight, **options}`` (``p`` defaults to 1); a single dict also works."""
        items = [config] if isinstance(config, dict) else list(config or [])
        if not items:
            raise InpaintKitError("mask mixture: empty configuration; give at least one {kind: ..., p: ...}")
        gens, probs = [], []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "kind" not in item:
                raise InpaintKitError(f"mask mixture entry {i}: expected a mapping with 'kind', got {item!r}")
            opts = dict(item)
            kind = opts.pop("kind")
            p = opts.pop("p", 1.0)
            try:
                probs.append(float(p))
            except (TypeError, ValueError):
                raise InpaintKitError(f"mask mixture entry {i} ({kind}): p must be a number, got {p!r}") from None
            gens.append(create_mask_generator(kind, **opts))
        return cls(gens, probs)

    def sample(self, rng: Any, shape: Any) -> tuple[np.ndarray, MaskGenerator]:
        """One mask and the generator that drew it."""
        rng = as_rng(rng)
        gen = self.generators[int(rng.choice(len(self.generators), p=self.probs))]
        return gen(rng, shape), gen

    def __call__(self, rng: Any, shape: Any) -> np.ndarray:
        return self.sample(rng, shape)[0]

    def config(self) -> list[dict[str, Any]]:
        return [{"kind": g.kind, "p": float(p), **g.params()} for g, p in zip(self.generators, self.probs)]

    def __repr__(self) -> str:
        return f"MaskMixture({', '.join(f'{g.kind}:{p:.2f}' for g, p in zip(self.generators, self.probs))})"
