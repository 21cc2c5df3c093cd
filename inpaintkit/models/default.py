"""``default``: the model inpaintkit ships — a compact LaMa-style FFC U-Net trained by us, weights in the package.

It is the ``lama`` family with ``arch: unet`` (``FFCUNetGenerator``: push-pull pre-fill, full-resolution skips,
four FFC residual blocks at 1/8 resolution), trained from ``configs/default.yaml`` on the Debian photos; data,
steps, hardware and measured figures are in ``inpaintkit/weights/default/MODEL_CARD.md``. Its priority makes it
what ``inpaintkit run`` and ``create_inpainter()`` use when no model is named. ``runtime="onnx"`` runs the
bundled ONNX export of the same weights (``model.onnx``) on onnxruntime.

Texture stage (``texture=on|auto|off``): structure from the network, texture from the photo. A smooth network
fill of a large hole in grass or gravel is the right colour but no texture; guided PatchMatch
(``patchmatch_fill(..., guide=network_fill)``, as content-aware fill and the guided upsampling of Zeng et al.
2020, "High-Resolution Image Inpainting with Iterative Confidence Feedback and Guided Upsampling") re-synthesises
the hole at full resolution from patches of the known region whose blur matches the network's fill, and its
fine detail (the synthesis minus its Gaussian blur) takes the place of the fill's own (``add_texture_detail``):
the texture is the photo's, the colours and shapes stay the network's. ``auto`` runs it only for holes deep enough
that texture shows (``TEXTURE_MIN_DEPTH``); docs/default-model.md has the measurements behind the design, the
threshold and the default.

Photo grain (``degrid=on|off``, ``grain=0-4``): the network's 1/8-resolution grid is taken out of its fill and the
fine noise of the photo's own quiet tiles copied into the hole (``grain.py``), so the fill carries the photo's
grain; ``degrid=off, grain=0`` is the network's fill as it was.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

import cv2
import numpy as np
import torch

from ..device import pick_device
from ..errors import InpaintKitError
from ..inpainters import register_inpainter
from ..inpainters.biharmonic import biharmonic_fill
from ..inpainters.patchmatch import patchmatch_fill
from ..layers.prefill import push_pull_fill
from .grain import add_grain, remove_grid
from .inpainter import BUNDLED_WEIGHTS, RUNTIMES, LearnedInpainter, torch_threads
from .lama import PREFILLS, Lama

BUNDLED = BUNDLED_WEIGHTS / "default"
WEIGHTS = BUNDLED / "generator.safetensors"
ONNX_FILE = BUNDLED / "model.onnx"

#: ``runtime="auto"``: onnxruntime on the CPU when it is installed, else torch (see ``resolve_runtime``).
DEFAULT_RUNTIME = "auto"
#: the values of the ``texture`` and ``tta`` options (``check_mode``)
MODES = ("auto", "on", "off")
#: ``texture=auto`` runs the texture stage when some hole pixel is at least this far (px) from the known region.
TEXTURE_MIN_DEPTH = 12.0
DEFAULT_TEXTURE = "off"
#: ``work_side``: the network runs with at most this long side; a larger call (after the HD strategy) is filled
#: as the full-resolution membrane pre-fill plus the network's correction computed at that size and upsampled
#: (``work_side_fill``). None: always at full resolution. The default is set by measurement (docs/default-model.md).
DEFAULT_WORK_SIDE: int | None = 256
#: EM iterations per pyramid level of the texture stage: the guide is a good start, and 2 instead of PatchMatch's
#: 4 halve its time for -0.05 dB hole PSNR and a little less texture (docs/default-model.md).
TEXTURE_ITERATIONS = 2
#: The texture stage keeps the network's fill and swaps its fine detail (fill minus its Gaussian blur of sigma
#: ``TEXTURE_SIGMA`` px: little texture, and the fine checkerboard of its transposed convolutions) for the synthesis's,
#: x ``TEXTURE_GAIN``, faded in over the first ``TEXTURE_RAMP`` px from the hole's edge. On the val split at 256²
#: this beat the synthesis alone on every score in every mask set (docs/default-model.md, "Detail, not
#: replacement").
TEXTURE_GAIN = 1.0
TEXTURE_SIGMA = 2.0
TEXTURE_RAMP = 8.0
#: ``blend``: the fill is ``(1 - blend) * network + blend * biharmonic`` (scikit-image's thin-plate fill of the same
#: hole, at the network's working size). Two different estimators of the hole average to a better one: on the
#: corpus's val split 0.5 beats both alone on hole PSNR, SSIM and lpips_hed at 256² (docs/default-model.md, "v3").
#: It runs after the network, not in a thread beside it: beside a busy process a third thread made the call slower.
#: ``"auto"`` (the default) is ``AUTO_BLEND`` where the network fills the call at full resolution and 0 on the
#: ``work_side`` path (a call larger than ``work_side``): there, at 512² on the val split, the blend changed hole
#: PSNR and lpips_hed by less than 0.13 dB and 0.003 and doubled the time (docs/default-model.md, "blend=auto").
#: 0.25 since the v6 weights: the better network wants less of the biharmonic fill; on the val split at 256² 0.25
#: beat 0.4 on hole PSNR (+0.03 dB) and lpips_hed (-0.0016) for -0.0005 SSIM (0.1 and 0 lost hole PSNR and SSIM;
#: docs/default-model.md, "v6"); re-checked with the v7 weights against 0.1 and 0.4, same reading ("v7").
DEFAULT_BLEND = "auto"
AUTO_BLEND = 0.25
#: ``tta`` (test-time augmentation): the network's fill is the mean of its fill of the image and of the image
#: mirrored left-right (mirrored back). ``"auto"`` (the default): where the network fills the call at full
#: resolution, as ``blend=auto``; on the val split at 256² it raised hole PSNR by 0.06 dB with ``AUTO_BLEND`` 0.4
#: instead of 0.5 at the same SSIM (docs/default-model.md, "tta"). It costs a second network pass, so the
#: ``work_side`` path (the 512² speed target) keeps one.
DEFAULT_TTA = "auto"
#: ``degrid`` (on | off): take the network's 1/8-resolution grid out of its fill (``grain.remove_grid``), at the
#: size the network ran. ``grain``: the weight of the photo's own fine noise added to the hole (``grain.add_grain``,
#: 0 = none), at full resolution. On the corpus's test split at 256² they made the fills much harder to tell from
#: photos (``detectability`` 0.963 -> 0.875, Telea 0.955) at the same hole PSNR, SSIM within 0.001 (box-half
#: 0.8513 -> 0.8515, all sets 0.8721 -> 0.8713); box-half lpips_hed rose 0.0061. 0.5 lost box-half SSIM to Telea there (docs/default-model.md, "Photo grain").
DEFAULT_DEGRID = "on"
DEFAULT_GRAIN = 0.35
#: the largest ``grain`` weight accepted
MAX_GRAIN = 4.0


def resolve_runtime(device: str) -> str:
    """``runtime="auto"``: ``onnx`` on the CPU when onnxruntime is installed (its threads sleep rather than spin,
    so a fill stays fast beside other busy processes: docs/default-model.md), else ``torch``."""
    if pick_device(device).type != "cpu" or importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    return "onnx"


def _weight(value: Any, hi: float) -> float | None:
    """``value`` as a float in [0, ``hi``], or None (not a number, a bool, or out of range)."""
    try:
        w = float(value)
    except (TypeError, ValueError):
        return None
    return None if isinstance(value, bool) or not 0.0 <= w <= hi else w


def check_blend(value: Any) -> float | str:
    """A ``blend`` value -> ``"auto"`` or a float in [0, 1] (0: the network's fill alone)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    b = _weight(value, 1.0)
    if b is None:
        raise InpaintKitError(f"blend={value!r}: auto, or a weight from 0 (the network alone) to 1 (biharmonic alone)")
    return b


def check_grain(value: Any) -> float:
    """A ``grain`` value -> a float in [0, ``MAX_GRAIN``] (0: no grain, 1: the photo's own noise level)."""
    g = _weight(value, MAX_GRAIN)
    if g is None:
        raise InpaintKitError(
            f"grain={value!r}: a weight from 0 (no grain) to {MAX_GRAIN:g}; 1 = the photo's own noise"
        )
    return g


def check_mode(option: str, value: Any, choices: tuple[str, ...] = MODES) -> str:
    """A ``texture``, ``tta`` or ``degrid`` value -> one of ``choices``; ``True`` / ``False`` are ``on`` / ``off``
    (YAML reads ``--opt texture=on`` as ``True``)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value not in choices:
        raise InpaintKitError(f"{option}={value!r}: choose from {', '.join(choices)}")
    return value


def add_texture_detail(
    fill: np.ndarray,
    synthesis: np.ndarray,
    mask: np.ndarray,
    gain: float = TEXTURE_GAIN,
    sigma: float = TEXTURE_SIGMA,
    ramp: float = TEXTURE_RAMP,
) -> np.ndarray:
    """``fill`` (H, W, 3) uint8 with its fine detail swapped for ``synthesis``'s (same shape: the texture stage's
    patch fill) in the hole ``mask`` (bool (H, W)): ``fill + w * (gain * detail(synthesis) - detail(fill))``, where
    ``detail(x)`` is x minus its Gaussian blur of ``sigma`` px and ``w`` the distance to the known region over
    ``ramp`` px (0 at the edge, 1 from ``ramp`` on). Known pixels are ``fill``'s."""

    def detail(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32)
        return x - cv2.GaussianBlur(x, (0, 0), sigma)

    weight: np.ndarray | np.float32 = np.float32(1.0)
    if ramp > 0:
        depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        weight = np.clip(depth / ramp, 0.0, 1.0)[..., None]
    out = fill.astype(np.float32) + weight * (gain * detail(synthesis) - detail(fill))
    return np.where(mask[..., None], np.clip(out, 0, 255).round().astype(np.uint8), fill)


def wants_texture(mask: np.ndarray, mode: str) -> bool:
    """Whether the texture stage runs for this hole (bool (H, W), True = hole) in mode ``mode``."""
    if mode != "auto":
        return mode == "on"
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return bool(depth.max() >= TEXTURE_MIN_DEPTH)


@register_inpainter(
    "default",
    kind="learned",
    needs_weights=True,
    bundled=True,
    priority=20,
    description="inpaintkit's own compact LaMa-style FFC U-Net, bundled weights (see its model card)",
)
class DefaultInpainter(LearnedInpainter):
    """The bundled model; options: ``device`` (torch runtime), ``runtime`` (auto | torch | onnx), ``threads``,
    ``texture`` (auto | on | off, also per call: ``inpaint(img, mask, texture="on")``), ``blend`` (auto, or the
    weight of the biharmonic fill averaged in, 0-1), ``tta`` (auto | on | off: average in the fill of the mirrored
    image), ``degrid`` (on | off: take the network's grid out), ``grain`` (0-4: the weight of the photo's own fine
    noise added to the hole), ``work_side`` and the HD strategy."""

    family_name = "lama"
    family_cls = Lama
    pad_multiple = Lama.pad_multiple
    hidden_options = ("checkpoint", "onnx_file")
    call_options = ("texture",)

    def __init__(
        self,
        device: str = "auto",
        runtime: str = DEFAULT_RUNTIME,
        texture: str = DEFAULT_TEXTURE,
        work_side: int | None = DEFAULT_WORK_SIDE,
        blend: float | str = DEFAULT_BLEND,
        tta: str = DEFAULT_TTA,
        degrid: str | bool = DEFAULT_DEGRID,
        grain: float = DEFAULT_GRAIN,
        **kw: Any,
    ):
        self.texture = check_mode("texture", texture)
        self.degrid = check_mode("degrid", degrid, ("on", "off")) == "on"
        self.grain = check_grain(grain)
        self.blend = check_blend(blend)
        self.tta = check_mode("tta", tta)
        self.work_side = check_work_side(work_side)
        if runtime == "auto":
            runtime = resolve_runtime(device)
        elif runtime not in RUNTIMES:
            raise InpaintKitError(f"runtime {runtime!r}: choose from auto, {', '.join(RUNTIMES)}")
        super().__init__(
            checkpoint=str(WEIGHTS),
            device=device,
            runtime=runtime,
            onnx_file=str(ONNX_FILE) if runtime == "onnx" else None,
            **kw,
        )

    def _fit_forward(self, rgb: np.ndarray, mask: np.ndarray, call_kw: dict[str, Any]) -> np.ndarray:
        h, w = mask.shape
        if self.work_side is None or max(h, w) <= self.work_side:
            return super()._fit_forward(rgb, mask, call_kw)
        scale = self.work_side / max(h, w)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        inner = {
            "texture": "off",
            "blend": 0.0 if self.blend == "auto" else self.blend,
            "tta": self.tta == "on",
            "grain": 0.0,
        }
        with torch_threads(self.helper_threads):
            fill = work_side_fill(
                rgb, mask, (sw, sh), lambda im, m: super(DefaultInpainter, self)._fit_forward(im, m, inner)
            )
        return self._texture(rgb, mask, add_grain(fill, mask, self.grain), call_kw)  # at full resolution

    def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw: Any) -> np.ndarray:
        rest = {k: v for k, v in call_kw.items() if k not in ("texture", "blend", "tta", "grain")}
        # "blend", "tta", "grain" in call_kw: set by the work_side path (_fit_forward) for the network's call at the
        # reduced size (its grain is added at full resolution)
        blend = call_kw.get("blend", AUTO_BLEND if self.blend == "auto" else self.blend)
        flip = call_kw.get("tta", self.tta != "off")
        grain = call_kw.get("grain", self.grain)
        net = super().forward(image, mask, **rest)  # (H, W, 3) uint8
        if not mask.any() or (blend <= 0.0 and not flip and not self.degrid and grain <= 0.0):
            return self._texture(image, mask, net, call_kw)
        fill = net.astype(np.float64)
        if flip:
            mirrored = super().forward(
                np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(mask[:, ::-1]), **rest
            )
            fill = 0.5 * (fill + mirrored[:, ::-1])
        if self.degrid:
            fill = remove_grid(fill, mask)
        if blend > 0.0:
            fill = (1.0 - blend) * fill + blend * biharmonic_fill(image, mask)
        fill = np.where(mask[..., None], np.clip(fill, 0, 255).round().astype(np.uint8), image)
        return self._texture(image, mask, add_grain(fill, mask, grain), call_kw)

    def _texture(self, rgb: np.ndarray, mask: np.ndarray, fill: np.ndarray, call_kw: dict[str, Any]) -> np.ndarray:
        """The texture stage on the network's ``fill`` when the call's (or the instance's) ``texture`` wants it."""
        mode = self.texture if call_kw.get("texture") is None else check_mode("texture", call_kw["texture"])
        if not wants_texture(mask, mode):
            return fill
        synthesis = patchmatch_fill(rgb, mask, guide=fill, iterations=TEXTURE_ITERATIONS, seed=0, threads=self.threads)
        return add_texture_detail(fill, synthesis, mask)


def check_work_side(value: Any) -> int | None:
    """A ``work_side`` option -> None (full resolution) or a side of at least 64 px."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "off", "full", "0")) or value == 0:
        return None
    try:
        side = int(value)
    except (TypeError, ValueError):
        side = -1
    if side < 64 or isinstance(value, bool):
        raise InpaintKitError(f"work_side={value!r}: a long side of at least 64 px, or none (full resolution)")
    return side


def work_side_fill(
    rgb: np.ndarray, mask: np.ndarray, size: tuple[int, int], fill_small: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Fill (H, W) ``rgb``'s hole with the network at ``size`` (w, h): the membrane pre-fill at full resolution plus
    the network's correction of it (its fill minus the same pre-fill at ``size``), upsampled. The pre-fill keeps
    the full-resolution boundary; the network's correction is smooth at the scale of its receptive field."""
    sw, sh = size
    known = np.where(mask[..., None], 0, rgb).astype(np.uint8)
    small = cv2.resize(known, (sw, sh), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0  # any coverage

    def prefill(im: np.ndarray, m: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255.0
        mm = torch.from_numpy(m.astype(np.float32))[None, None]
        with torch.inference_mode():
            out = push_pull_fill(x * (1 - mm), mm, **PREFILLS["membrane"])
        return out[0].permute(1, 2, 0).numpy() * 255.0

    correction = fill_small(small, small_mask).astype(np.float32) - prefill(small, small_mask)
    correction[~small_mask] = 0.0
    up = cv2.resize(correction, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    out = np.clip(prefill(known, mask) + up, 0, 255).round().astype(np.uint8)
    return np.where(mask[..., None], out, rgb)
