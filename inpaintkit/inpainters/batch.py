"""The per-image work of ``inpaintkit run``, the same object on every engine (``inpaintkit.engine``).

``FillWork`` is the picklable factory: each worker calls it once to build its inpainter, then fills items
``(image, mask file or folder, output, seed)``. An item whose output exists is skipped when ``skip_existing``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InpaintKitError
from ..io import IMAGE_EXTENSIONS, read_image, read_mask, write_image
from . import Inpainter, create_inpainter

#: (image, mask file or folder of masks, output path, seed for this sample or None)
FillItem = tuple[Path, Path, Path, "int | None"]


def resolve_mask_for(image: Path, mask: Path) -> Path:
    """The mask for ``image``: ``mask`` itself if it is a file, else the file in folder ``mask`` with its stem."""
    if mask.is_file():
        return mask
    for stem in (image.stem, image.stem + "_mask", image.stem + "-mask"):
        for ext in IMAGE_EXTENSIONS:
            cand = mask / (stem + ext)
            if cand.is_file():
                return cand
    raise InpaintKitError(f"{image}: no mask named {image.stem}.* in {mask}")


@dataclass(frozen=True)
class FillResult:
    output: Path
    hole_pixels: int  # -1: skipped, the output existed
    seconds: float


@dataclass
class FillWork:
    """Build with the resolved model name, constructor options and per-call options; call to get the filler."""

    name: str
    options: dict[str, Any]
    call: dict[str, Any]
    max_pixels: int | None
    resize_mask: bool = False
    quality: int = 95
    skip_existing: bool = False
    #: bytes one fill may use (``Inpainter.inpaint``'s ``memory_budget``); None: no limit
    memory_budget: int | None = None
    #: an inpainter already built in this process (used when the work runs here; never pickled)
    prebuilt: Inpainter | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "prebuilt": None}

    def __call__(self) -> _Filler:
        return _Filler(self, self.prebuilt or create_inpainter(self.name, **self.options))


class _Filler:
    def __init__(self, work: FillWork, inpainter: Inpainter):
        self.w, self.inpainter = work, inpainter

    def __call__(self, item: FillItem) -> FillResult:
        img_p, mask_src, out_p, seed = item
        w = self.w
        if w.skip_existing and out_p.is_file():
            return FillResult(out_p, -1, 0.0)
        pic = read_image(img_p, max_pixels=w.max_pixels)
        mask_p = resolve_mask_for(img_p, mask_src)
        m = read_mask(
            mask_p, shape=pic.rgb.shape[:2], resize=w.resize_mask, max_pixels=w.max_pixels, image_name=str(img_p)
        )
        result = self.inpainter.inpaint(
            pic.rgb, m, memory_budget=w.memory_budget, **w.call, **({"seed": seed} if seed is not None else {})
        )
        write_image(out_p, result, pic.alpha, quality=w.quality)
        return FillResult(out_p, int(m.sum()), self.inpainter.last_forward_seconds)
