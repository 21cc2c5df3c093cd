"""Pretrained feature networks in plain torch (no torchvision), loaded only from files the user names."""

from typing import Callable, Literal

from torch import nn

from .efficientnet import efficientnet_b0  # noqa: E402  (forensic detector backbones)
from .resnet import resnet34, resnext50_32x4d
from .swin import swin_t
from .vgg import VGG16_TAPS, VGG16Features, load_state_dict_file

#: name -> constructor(in_chans=3, width=1.0) of a four-stage feature backbone; the only list of them (a forensic
#: detector's ``model.backbone`` chooses from it).
BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "resnet34": resnet34,
    "resnext50_32x4d": resnext50_32x4d,
    "swin_t": swin_t,
    "efficientnet_b0": efficientnet_b0,
}
#: ``BACKBONES``' names as a config field type, derived from the dict (not a second list).
BackboneName = Literal[tuple(BACKBONES)]  # type: ignore[valid-type]

__all__ = [
    "BACKBONES",
    "BackboneName",
    "VGG16_TAPS",
    "VGG16Features",
    "efficientnet_b0",
    "load_state_dict_file",
    "resnet34",
    "resnext50_32x4d",
    "swin_t",
]
