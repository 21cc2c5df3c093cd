"""inpaintkit: image inpainting and its evaluation.

>>> from inpaintkit import create_inpainter
>>> out = create_inpainter("telea").inpaint(rgb, mask)   # rgb uint8 (H, W, 3); mask bool (H, W), True = hole
"""

from typing import TYPE_CHECKING, Any

from .errors import InpaintKitError

if TYPE_CHECKING:
    from .inpainters import Inpainter, create_inpainter, list_inpainters, register_inpainter
    from .io import read_image, read_mask, write_image

__version__ = "0.1.0"
_LAZY = {
    "Inpainter": "inpainters",
    "create_inpainter": "inpainters",
    "list_inpainters": "inpainters",
    "register_inpainter": "inpainters",
    "read_image": "io",
    "read_mask": "io",
    "write_image": "io",
}


def __getattr__(name: str) -> Any:
    """The public API, imported on first use: ``import inpaintkit`` (and ``inpaintkit --help``) stays light."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'inpaintkit' has no attribute {name!r}")


__all__ = [
    "InpaintKitError",
    "Inpainter",
    "create_inpainter",
    "list_inpainters",
    "read_image",
    "read_mask",
    "register_inpainter",
    "write_image",
    "__version__",
]
