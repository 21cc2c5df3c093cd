"""Partial-convolution U-Net: Liu, Reda, Shih, Wang, Tao & Catanzaro, "Image Inpainting for Irregular Holes Using
Partial Convolutions", ECCV 2018.

Encoder: partial convs 7×7→64, 5×5→128, 5×5→256, then 3×3→512 until ``layer_size`` levels (7 at 256², 8 at 512²),
all stride 2, BatchNorm (except the first) and ReLU. Decoder: nearest ×2 upsampling of features and mask,
concatenation with the encoder's skip (the last level concatenates the input image and its mask), 3×3 partial conv,
BatchNorm and LeakyReLU(0.2) (the last layer: neither). The mask is updated by every partial conv.

Loss (paper eq. 1-7): ``l1_valid`` 1, ``l1_hole`` 6, ``perceptual`` 0.05 and ``style`` 120 (VGG16 pool1-3, on both
the raw output and the composite; the bundled VGG16 features unless ``losses.vgg_weights`` names a file), ``tv`` 0.1 on the 1-px-dilated hole of the
composite. Fine-tuning (``model.finetune: true``, paper §4: lr 5e-5) freezes the encoder's BatchNorm.

Reference bugs avoided: BatchNorm is applied (it was built and never called), the mask-ratio scaling is applied once
and not to the bias (see ``layers/partialconv.py``), and the TV loss uses the right neighbours (``losses/pixel.py``).
Our last layer is linear as in the paper; its output is clamped to [0, 1] in the forward pass with an identity
gradient, so the losses see the image the user gets while training behaves as the paper's linear output.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import torch
from pydantic import Field
from torch import nn

from ..layers.padding import pad_to_multiple
from ..layers.partialconv import PartialConv2d
from ..losses import PerceptualStyle, l1_hole, l1_valid, tv_loss
from .base import Family, NoConfig, StrictConfig, composite, zero_hole
from .inpainter import register_model


class PConvModelConfig(StrictConfig):
    #: Encoder levels (each halves the resolution): 7 for 256² training, 8 for 512². At least 4.
    layer_size: int = Field(7, ge=4, le=10)
    #: Width of the first level (64 in the paper); later levels use 2×, 4×, 8× of it.
    channels: int = Field(64, ge=1)
    #: Fine-tuning: freeze the encoder's BatchNorm (running statistics and affine parameters).
    finetune: bool = False


class PConvLossConfig(StrictConfig):
    l1_valid: float = Field(1.0, ge=0)
    l1_hole: float = Field(6.0, ge=0)
    perceptual: float = Field(0.05, ge=0)
    style: float = Field(120.0, ge=0)
    tv: float = Field(0.1, ge=0)
    #: A torchvision-format VGG16 state dict for the perceptual and style terms (none: the bundled VGG16 features).
    vgg_weights: Optional[str] = None


class PConvBlock(nn.Module):
    """Partial conv → BatchNorm (optional) → activation (optional); carries the mask along."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, bn: bool, act: nn.Module | None):
        super().__init__()
        self.conv = PartialConv2d(cin, cout, k, stride, padding=k // 2, bias=not bn)  # BN makes a bias redundant
        self.bn = nn.BatchNorm2d(cout) if bn else None
        self.act = act

    def forward(self, x: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, hole = self.conv(x, hole)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x, hole


class PConvUNet(nn.Module):
    """``forward(image, mask) -> image``: (N,3,H,W) hole-zeroed image in [0,1], (N,1,H,W) 1 = hole."""

    def __init__(self, cfg: PConvModelConfig):
        super().__init__()
        c = cfg.channels
        self.chans = [c, 2 * c, 4 * c] + [8 * c] * (cfg.layer_size - 3)  # per encoder level
        kernels = [7, 5, 5] + [3] * (cfg.layer_size - 3)
        self.finetune = cfg.finetune
        self.enc = nn.ModuleList()
        cin = 3
        for i, (cout, k) in enumerate(zip(self.chans, kernels)):
            self.enc.append(PConvBlock(cin, cout, k, 2, bn=i > 0, act=nn.ReLU()))
            cin = cout
        self.dec = nn.ModuleList()
        skips = [3] + self.chans[:-1]  # what each level concatenates on the way up
        for i in range(cfg.layer_size - 1, -1, -1):
            last = i == 0
            self.dec.append(
                PConvBlock(
                    self.chans[i] + skips[i],
                    3 if last else skips[i],
                    3,
                    1,
                    bn=not last,
                    act=None if last else nn.LeakyReLU(0.2),
                )
            )
        self.multiple = 2**cfg.layer_size
        self.train()

    def train(self, mode: bool = True) -> "PConvUNet":
        super().train(mode)
        if self.finetune:  # paper §4: freeze encoder BN when fine-tuning (first level has none)
            for block in self.enc:
                if block.bn is not None:
                    block.bn.eval()
                    block.bn.requires_grad_(False)
        return self

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        x, hole = pad_to_multiple(image, self.multiple), pad_to_multiple(mask, self.multiple)
        feats, holes = [x], [hole]
        for block in self.enc:
            x, hole = block(x, hole)
            feats.append(x)
            holes.append(hole)
        for j, block in enumerate(self.dec):
            skip, skip_hole = feats[-2 - j], holes[-2 - j]
            up = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
            up_hole = nn.functional.interpolate(hole, scale_factor=2, mode="nearest")
            x = torch.cat([up, skip], dim=1)
            # one mask channel per input channel: the upsampled features and the skip have different holes
            hole = torch.cat(
                [up_hole.expand(-1, up.shape[1], -1, -1), skip_hole.expand(-1, skip.shape[1], -1, -1)], dim=1
            )
            x, hole = block(x, hole)
        x = x[..., :h, :w]
        return x + (x.clamp(0, 1) - x).detach()  # values in [0, 1], gradient of the linear output


@register_model("pconv", description="Partial-convolution U-Net (Liu et al. 2018), irregular holes")
class PConv(Family):
    ModelConfig: ClassVar = PConvModelConfig
    DiscriminatorConfig: ClassVar = NoConfig
    LossConfig: ClassVar = PConvLossConfig
    pad_multiple: ClassVar[int] = 8  # the generator pads itself to 2**layer_size

    def __init__(self, model: PConvModelConfig, discriminator: NoConfig, losses: PConvLossConfig):
        super().__init__(model, discriminator, losses)
        self.generator = PConvUNet(model)
        self.vgg = PerceptualStyle(losses.vgg_weights)

    @classmethod
    def tiny_config(cls) -> dict[str, dict[str, Any]]:
        return {"model": {"layer_size": 4, "channels": 8}, "discriminator": {}, "losses": {}}

    def generator_step(self, batch: dict[str, Any], step: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        image, mask = batch["image"], batch["mask"]  # (N,3,H,W), (N,1,H,W)
        pred = self.generator(zero_hole(image, mask), mask)
        comp = composite(pred, image, mask)
        w = self.loss_cfg
        losses = {
            "l1_valid": w.l1_valid * l1_valid(pred, image, mask),
            "l1_hole": w.l1_hole * l1_hole(pred, image, mask),
            "tv": w.tv * tv_loss(comp, mask),
        }
        p_out, s_out = self.vgg(pred, image)  # (None, None) without VGG weights: those keys are left out
        if p_out is not None:
            p_comp, s_comp = self.vgg(comp, image)
            losses["perceptual"] = w.perceptual * (p_out + p_comp)
            losses["style"] = w.style * (s_out + s_comp)
        return losses, pred
