"""Request and response bodies of the REST API (pydantic), compatible with IOPaint's field names.

``InpaintParams`` also has every other field of IOPaint's ``InpaintRequest``, with IOPaint's types
(``iopaint_schemas``); unknown fields are ignored, as IOPaint ignores them. ``hd_strategy`` accepts IOPaint's
``"Original" | "Resize" | "Crop"`` as well as ours in any case; IOPaint's ``prompt`` is our ``caption`` for
text-guided models.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import InpaintKitError
from ..inference import MAX_SAMPLES
from ..inpainters import HD_STRATEGIES
from ..inpainters.base import normalize_hd_strategy
from .iopaint_schemas import IOPaintInpaintFields

_B64 = "base64-encoded image bytes, or a data URL (data:image/png;base64,...)"


class InpaintParams(IOPaintInpaintFields):
    """Everything about a fill except the pixels (also the form fields of a multipart upload), with every field of
    IOPaint's InpaintRequest and its types (``IOPaintInpaintFields``)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model: Optional[str] = Field(None, description="Inpainter name (GET /api/v1/models); default: the server's.")
    hd_strategy: Optional[str] = Field(
        None, description=f"Large-image strategy: {' | '.join(HD_STRATEGIES)} (IOPaint's Original/Resize/Crop too)."
    )
    hd_strategy_crop_margin: Optional[int] = Field(None, ge=0, description="Context around each hole (crop).")
    hd_strategy_crop_trigger_size: Optional[int] = Field(
        None, ge=1, description="Crop only when the long side is above this."
    )
    hd_strategy_resize_limit: Optional[int] = Field(None, ge=1, description="Long side to resize to (resize).")
    caption: Optional[str] = Field(None, max_length=2000, description="Text for text-guided models.")
    prompt: Optional[str] = Field(None, max_length=2000, description="IOPaint's name for caption.")
    output_format: Optional[Literal["png", "jpeg", "webp"]] = Field(
        None, description="Response image format; default PNG, or JPEG when the input was a JPEG."
    )
    samples: int = Field(
        1,
        ge=1,
        le=MAX_SAMPLES,
        description=(
            "Fills to make with seeds sd_seed, sd_seed+1, ... (text-guided models give different ones). 1: the "
            "answer is the image; more: JSON {model, samples: [{seed, image (data URL)}]}."
        ),
    )

    @field_validator("hd_strategy")
    @classmethod
    def _strategy(cls, v: Optional[str]) -> Optional[str]:
        try:
            return normalize_hd_strategy(v or None, "hd_strategy")
        except InpaintKitError as e:
            raise ValueError(str(e)) from None

    @field_validator("output_format", mode="before")
    @classmethod
    def _fmt(cls, v):
        if isinstance(v, str):
            v = v.strip().lower() or None
            return "jpeg" if v == "jpg" else v
        return v

    @field_validator("model", "caption", "prompt", mode="before")
    @classmethod
    def _blank(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @property
    def text(self) -> Optional[str]:
        return self.caption or self.prompt

    def hd_options(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "hd_strategy",
                "hd_strategy_crop_margin",
                "hd_strategy_crop_trigger_size",
                "hd_strategy_resize_limit",
            )
        }


class InpaintRequest(InpaintParams):
    image: str = Field(..., description=f"The photo: {_B64}.")
    mask: str = Field(..., description=f"The mask, same size; white (> 127) = fill, transparent = keep: {_B64}.")


class AdjustMaskParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    operate: Literal["expand", "shrink", "reverse"] = Field(..., description="expand | shrink | reverse")
    kernel_size: int = Field(5, ge=0, le=500, description="Radius k of the elliptical kernel (side 2k + 1).")


class AdjustMaskRequest(AdjustMaskParams):
    mask: str = Field(..., description=f"The mask (white = hole): {_B64}.")


class DetectParams(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DetectRequest(DetectParams):
    image: str = Field(..., description=f"The photo to check: {_B64}.")


class DetectResponse(BaseModel):
    score: float = Field(..., description="Probability that the image was inpainted, in [0, 1].")
    verdict: str = Field(..., description="inpainted | authentic")
    heatmap: str = Field(..., description="Where it looks inpainted: grayscale PNG (255 = surely), base64.")
    width: int
    height: int


class SwitchModelRequest(BaseModel):
    name: str


class ModelInfo(BaseModel):
    name: str
    kind: str
    description: str
    needs_weights: bool
    available: bool
    text_guided: bool
    default: bool
    options: dict
    call_options: list[str]
