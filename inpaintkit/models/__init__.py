"""Learned inpainting families. Importing this package registers each family in ``MODELS`` (for training) and as
an inpainter of the same name (which loads a trained run: ``create_inpainter("lama", checkpoint=RUN_DIR)``).
"""

from . import (
    context_encoder,  # noqa: E402,F401  (registration)
    deepfill_v2,  # noqa: E402,F401  (registration)
    default,  # noqa: E402,F401  (registration: the bundled model, a lama variant)
    glcic,  # noqa: E402,F401  (registration)
    lama,  # noqa: E402,F401  (registration)
    pconv,  # noqa: E402,F401  (registration)
    pix2pix,  # noqa: E402,F401  (registration)
    tdanet,  # noqa: E402,F401  (registration)
)
from .base import MODELS, Family, composite, create_model, list_models, zero_hole
from .inpainter import register_model

__all__ = ["MODELS", "Family", "composite", "create_model", "list_models", "register_model", "zero_hole"]
