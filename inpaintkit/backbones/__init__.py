"""Pretrained feature networks in plain torch (no torchvision), loaded only from files the user names."""

from .efficientnet import efficientnet_b0  # noqa: E402  (forensic detector backbones)
from .resnet import resnet34, resnext50_32x4d
from .swin import swin_t
from .vgg import VGG16_TAPS, VGG16Features, load_state_dict_file

__all__ = [
    "VGG16_TAPS",
    "VGG16Features",
    "efficientnet_b0",
    "load_state_dict_file",
    "resnet34",
    "resnext50_32x4d",
    "swin_t",
]
