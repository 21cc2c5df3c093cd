"""inpaintkit: image inpainting and its evaluation.

    >>> from inpaintkit import create_inpainter
    >>> out = create_inpainter("telea").inpaint(rgb, mask)   # rgb uint8 (H, W, 3); mask bool (H, W), True = hole
"""
from .errors import InpaintKitError
from .inpainters import Inpainter, create_inpainter, list_inpainters, register_inpainter
from .io import read_image, read_mask, write_image

__version__ = "0.1.0"
__all__ = ["InpaintKitError", "Inpainter", "create_inpainter", "list_inpainters", "read_image", "read_mask",
           "register_inpainter", "write_image", "__version__"]
