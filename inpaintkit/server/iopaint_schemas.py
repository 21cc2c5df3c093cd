"""IOPaint's request and response bodies, as its 1.6.0 ``schema.py`` defines them (field names, types, defaults and
bounds), written for inpaintkit; ``iopaint_api`` serves them. What each field does here is in docs/iopaint.md.

``IOPaintInpaintFields`` holds every field of IOPaint's ``InpaintRequest`` that our own ``InpaintParams`` does not
already have (ours: ``hd_strategy*``, ``prompt``): ``InpaintParams`` inherits it, so ``/api/v1/inpaint`` checks
IOPaint's types (``ldm_steps: "abc"`` is a 422, as with IOPaint) and ignores unknown fields, as IOPaint does (its
own frontend sends two misspelt ones).
"""

from __future__ import annotations

import random
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

# IOPaint's names for its enums' values (schema.py); we accept exactly these where IOPaint's type is an enum.
CV2_FLAGS = ("INPAINT_NS", "INPAINT_TELEA")
POWERPAINT_TASKS = ("text-guided", "context-aware", "shape-guided", "object-remove", "outpainting")
# ServerConfigResponse names a current plugin model even when the plugin is off; these are IOPaint's defaults.
REMOVE_BG_DEFAULT = "briaai/RMBG-1.4"
REALESRGAN_DEFAULT = "realesr-general-x4v3"
INTERACTIVE_SEG_DEFAULT = "vit_b"


class IOPaintInpaintFields(BaseModel):
    """IOPaint's ``InpaintRequest`` fields beyond ours, with IOPaint's types and defaults.

    The croper, extender and ``sd_seed`` fields act on every inpaintkit model; the rest configure models that
    inpaintkit does not have (diffusion, LDM, ZITS, OpenCV's ``cv2`` model ...): they are type-checked, have no
    effect, and are listed in ``GET /api/v1/server-config`` under ``inpaintkit.ignored_fields``.
    """

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    ldm_steps: int = Field(20, description="IOPaint's LDM model: steps. Ignored (no LDM model here).")
    ldm_sampler: str = Field("plms", description="IOPaint's LDM model: sampler. Ignored.")
    zits_wireframe: bool = Field(True, description="IOPaint's ZITS model: wireframe. Ignored.")

    negative_prompt: str = Field("", description="Diffusion models' negative prompt. Ignored.")
    use_croper: bool = Field(False, description="Fill only inside the croper rectangle, seeing only what is in it.")
    croper_x: int = Field(0, description="Croper rectangle: left (image pixels).")
    croper_y: int = Field(0, description="Croper rectangle: top.")
    croper_height: int = Field(512, description="Croper rectangle: height.")
    croper_width: int = Field(512, description="Croper rectangle: width.")

    use_extender: bool = Field(
        False,
        description="Outpaint: grow the canvas to the extender rectangle and fill "
        "the new area with the model (the mask is not used).",
    )
    extender_x: int = Field(0, description="Extender rectangle: left, may be negative (image pixels).")
    extender_y: int = Field(0, description="Extender rectangle: top, may be negative.")
    extender_height: int = Field(640, description="Extender rectangle: height.")
    extender_width: int = Field(640, description="Extender rectangle: width.")

    sd_scale: float = Field(1.0, gt=0.0, le=1.0, description="Diffusion: work scale. Ignored.")
    sd_mask_blur: int = Field(
        11,
        description="Diffusion: mask feathering. Ignored, as IOPaint ignores it for its "
        "erase models: it would blend the removed object back in.",
    )
    sd_strength: float = Field(1.0, le=1.0, description="Diffusion: strength. Ignored.")
    sd_steps: int = Field(50, description="Diffusion: steps. Ignored.")
    sd_guidance_scale: float = Field(7.5, description="Diffusion: guidance scale. Ignored.")
    sd_sampler: str = Field("UniPC", description="Diffusion: sampler. Ignored.")
    sd_seed: int = Field(
        42,
        description="Seed of the fill (models that draw random numbers: patchmatch, tdanet); "
        "-1 picks one at random. Echoed in the X-Seed header.",
    )
    sd_match_histograms: bool = Field(False, description="Diffusion: histogram matching. Ignored.")
    sd_outpainting_softness: float = Field(20.0, description="Diffusion outpainting. Ignored.")
    sd_outpainting_space: float = Field(20.0, description="Diffusion outpainting. Ignored.")
    sd_lcm_lora: bool = Field(False, description="Diffusion: LCM LoRA. Ignored.")
    sd_keep_unmasked_area: bool = Field(
        True, description="Pixels outside the hole are always kept; false is refused (400)."
    )

    cv2_flag: Literal["INPAINT_NS", "INPAINT_TELEA"] = Field(
        "INPAINT_NS", description="IOPaint's cv2 model: algorithm. Ignored (use the models ns or telea)."
    )
    cv2_radius: int = Field(4, description="IOPaint's cv2 model: radius. Ignored (ns/telea take --opt radius=).")

    paint_by_example_example_image: Optional[str] = Field(None, description="Paint-by-Example. Ignored.")
    p2p_image_guidance_scale: float = Field(1.5, description="InstructPix2Pix. Ignored.")

    enable_controlnet: bool = Field(False, description="ControlNet. Ignored.")
    controlnet_conditioning_scale: float = Field(0.4, ge=0.0, le=1.0, description="ControlNet. Ignored.")
    controlnet_method: str = Field("lllyasviel/control_v11p_sd15_canny", description="ControlNet. Ignored.")

    enable_brushnet: bool = Field(False, description="BrushNet. Ignored.")
    brushnet_method: str = Field("random_mask", description="BrushNet. Ignored.")
    brushnet_conditioning_scale: float = Field(1.0, ge=0.0, le=1.0, description="BrushNet. Ignored.")

    enable_powerpaint_v2: bool = Field(False, description="PowerPaint v2. Ignored.")
    powerpaint_task: Literal["text-guided", "context-aware", "shape-guided", "object-remove", "outpainting"] = Field(
        "text-guided", description="PowerPaint task. Ignored."
    )
    fitting_degree: float = Field(1.0, gt=0.0, le=1.0, description="PowerPaint. Ignored.")

    @model_validator(mode="after")
    def _random_seed(self):
        if self.sd_seed == -1:  # as IOPaint: -1 asks for a random seed, which X-Seed then reports
            self.sd_seed = random.randint(1, 99_999_999)
        return self


#: Fields of IOPaint's InpaintRequest that act here (the rest of IOPaintInpaintFields has no effect).
IMPLEMENTED_FIELDS = (
    "image",
    "mask",
    "hd_strategy",
    "hd_strategy_crop_trigger_size",
    "hd_strategy_crop_margin",
    "hd_strategy_resize_limit",
    "prompt",
    "use_croper",
    "croper_x",
    "croper_y",
    "croper_height",
    "croper_width",
    "use_extender",
    "extender_x",
    "extender_y",
    "extender_height",
    "extender_width",
    "sd_seed",
    "sd_keep_unmasked_area",
)


def ignored_fields() -> dict[str, str]:
    """Every IOPaint inpaint field that has no effect here, with why (from its description)."""
    return {
        name: f.description or "ignored"
        for name, f in IOPaintInpaintFields.model_fields.items()
        if name not in IMPLEMENTED_FIELDS
    }


class IOPaintModelInfo(BaseModel):
    """IOPaint's ``ModelInfo`` (its computed fields written out), plus inpaintkit's own description of the model."""

    name: str
    path: str = Field(..., description="The model's name, or NAME:CHECKPOINT when started with a checkpoint.")
    model_type: Literal[
        "inpaint", "diffusers_sd", "diffusers_sd_inpaint", "diffusers_sdxl", "diffusers_sdxl_inpaint", "diffusers_other"
    ] = "inpaint"
    is_single_file_diffusers: bool = False
    need_prompt: bool = Field(False, description="True for text-guided models: IOPaint's UI then shows a prompt box.")
    controlnets: list[str] = []
    brushnets: list[str] = []
    support_strength: bool = False
    support_outpainting: bool = Field(True, description="use_extender works with every model here.")
    support_lcm_lora: bool = False
    support_controlnet: bool = False
    support_brushnet: bool = False
    support_powerpaint_v2: bool = False
    # inpaintkit's own fields (as in GET /api/v1/models)
    kind: str
    description: str
    needs_weights: bool
    available: bool
    text_guided: bool
    default: bool
    options: dict
    call_options: list[str]


class PluginInfo(BaseModel):
    name: str
    support_gen_image: bool = False
    support_gen_mask: bool = False


class InpaintKitExtras(BaseModel):
    """What an IOPaint client cannot learn from IOPaint's own fields."""

    version: str
    implemented_fields: list[str]
    ignored_fields: dict[str, str] = Field(..., description="IOPaint inpaint fields with no effect here, and why.")
    plugins_available: list[str]


class ServerConfigResponse(BaseModel):
    """IOPaint's ``ServerConfigResponse``; the ``inpaintkit`` key is ours (IOPaint's clients ignore it)."""

    plugins: list[PluginInfo]
    modelInfos: list[IOPaintModelInfo]
    removeBGModel: str = REMOVE_BG_DEFAULT
    removeBGModels: list[str] = []
    realesrganModel: str = REALESRGAN_DEFAULT
    realesrganModels: list[str] = []
    interactiveSegModel: str = INTERACTIVE_SEG_DEFAULT
    interactiveSegModels: list[str] = []
    enableFileManager: bool
    enableAutoSaving: bool
    enableControlnet: bool = False
    controlnetMethod: Optional[str] = None
    disableModelSwitch: bool
    isDesktop: bool = False
    samplers: list[str]
    inpaintkit: InpaintKitExtras


class GenInfoResponse(BaseModel):
    prompt: str = ""
    negative_prompt: str = ""


class MediasResponse(BaseModel):
    name: str
    height: int
    width: int
    ctime: float
    mtime: float


class RunPluginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    image: str = Field(..., description="base64 encoded image")
    clicks: list[list[int]] = Field([], description="Clicks for interactive seg, [[x, y, 0/1], ...]")
    scale: float = Field(2.0, description="Scale for upscaling")


class SwitchPluginModelRequest(BaseModel):
    plugin_name: str
    model_name: str


MediaTab = Literal["input", "output", "mask"]
