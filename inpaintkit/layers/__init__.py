"""Reusable network blocks shared by the learned families (timm's ``layers/``)."""

from .ffc import FFC, FFCBNAct, FFCResBlock, FourierUnit, SpectralTransform
from .patchgan import PatchGAN

__all__ = ["FFC", "FFCBNAct", "FFCResBlock", "FourierUnit", "PatchGAN", "SpectralTransform"]
