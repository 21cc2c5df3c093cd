"""Learned inpainting families. Importing this package registers each family in ``MODELS`` (for training) and as
an inpainter of the same name (which loads a trained run: ``create_inpainter("lama", checkpoint=RUN_DIR)``).
"""
from .base import MODELS, Family, composite, create_model, list_models, register_model, zero_hole

from . import lama  # noqa: E402,F401  (registration)
from . import tdanet  # noqa: E402,F401  (registration)
from . import pconv  # noqa: E402,F401  (registration)
from . import glcic  # noqa: E402,F401  (registration)
from . import deepfill_v2  # noqa: E402,F401  (registration)
from . import context_encoder  # noqa: E402,F401  (registration)
from . import pix2pix  # noqa: E402,F401  (registration)
from . import default  # noqa: E402,F401  (registration: the bundled model, a lama variant)

__all__ = ["MODELS", "Family", "composite", "create_model", "list_models", "register_model", "zero_hole"]
