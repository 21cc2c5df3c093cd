"""Context Encoder: Pathak, Krähenbühl, Donahue, Darrell & Efros, "Context Encoders: Feature Learning by
Inpainting", CVPR 2016, with the settings of Gao & Grauman, "On-Demand Learning for Deep Image Restoration",
ICCV 2017.

Encoder: five 4×4 stride-2 convs (64, 64, 128, 256, 512) with LeakyReLU(0.1) and BatchNorm (not on the first
layer, as in Pathak's code: DCGAN's convention). Bottleneck: a *channel-wise* fully connected layer (each of the 512
channels maps its S×S map to S×S with its own weights, S = size/32), then a 1×1 convolution to mix channels.
Decoder: five mirrored 4×4 stride-2 deconvs (512 → 256 → 128 → 64 → 64 → 3) with BatchNorm and ReLU; tanh output
rescaled to [0, 1]. Unlike the paper the generator also gets the mask as a 4th input channel (our holes are
arbitrary, not a fixed centre square, and a zeroed hole is otherwise indistinguishable from black pixels).

Loss: L2 on the hole (``l2``), plus an optional adversarial term (``adv``, Pathak: λ_rec 0.999, λ_adv 0.001; 0 —
on-demand learning's L2-only setting — builds no discriminator). Discriminator: DCGAN (4×4 stride-2 convs
64-128-256-512, LeakyReLU(0.2), BatchNorm, a final 4×4 conv to logits) on the composite.

The network has a fixed input size (``model.size``, default 64, a multiple of 32, because of the fully connected
bottleneck). The generator accepts any size: it resizes the input to ``size``×``size`` (a hole stays a hole:
any hole inside a downsampled pixel makes it hole), runs, and resizes the prediction back (bilinear). Inference
on large photos therefore gives a coarse fill; the inpainter's ``crop`` HD strategy keeps the crop near the hole.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from ..losses import AdvKind, discriminator_adversarial, generator_adversarial, l2
from .base import Family, StrictConfig, composite, zero_hole
from .inpainter import register_model


class ContextEncoderModelConfig(StrictConfig):
    #: The fixed input side (a multiple of 32); other sizes are resized to it and back.
    size: int = 64
    #: Width of the first layers (64); deeper layers use 2×, 4×, 8× of it.
    channels: int = Field(64, ge=1)

    @field_validator("size")
    @classmethod
    def _multiple_of_32(cls, v: int) -> int:
        if v < 32 or v % 32:
            raise ValueError(f"must be a multiple of 32 (five stride-2 layers), got {v}")
        return v


class ContextEncoderDiscriminatorConfig(StrictConfig):
    channels: int = Field(64, ge=1)


class ContextEncoderLossConfig(StrictConfig):
    l2: float = Field(1.0, ge=0)
    #: Adversarial weight; 0 trains by L2 alone and builds no discriminator.
    adv: float = Field(0.0, ge=0)
    adv_kind: AdvKind = "nonsaturating"


class ChannelWiseFC(nn.Module):
    """(N, C, S, S) -> (N, C, S, S): one S²×S² fully connected map per channel (no cross-channel weights)."""

    def __init__(self, channels: int, side: int):
        super().__init__()
        n = side * side
        self.weight = nn.Parameter(torch.randn(channels, n, n) / n**0.5)
        self.bias = nn.Parameter(torch.zeros(channels, n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = torch.einsum("ncs,cst->nct", x.reshape(n, c, h * w), self.weight) + self.bias
        return y.view(n, c, h, w)


class ContextEncoderNet(nn.Module):
    """``forward(image, mask) -> image`` in [0, 1]."""

    def __init__(self, cfg: ContextEncoderModelConfig):
        super().__init__()
        c = cfg.channels
        self.size = cfg.size
        chans = [c, c, 2 * c, 4 * c, 8 * c]
        enc, cin = [], 4
        for i, cout in enumerate(chans):
            enc += [nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0)]
            if i > 0:
                enc.append(nn.BatchNorm2d(cout))
            enc.append(nn.LeakyReLU(0.1))
            cin = cout
        self.encoder = nn.Sequential(*enc)
        self.bottleneck = nn.Sequential(
            ChannelWiseFC(8 * c, cfg.size // 32),
            nn.Conv2d(8 * c, 8 * c, 1, bias=False),
            nn.BatchNorm2d(8 * c),
            nn.ReLU(),
        )
        dec = []
        outs = [4 * c, 2 * c, c, c]
        for cout in outs:
            dec += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        dec += [nn.ConvTranspose2d(cin, 3, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        s = self.size
        if (h, w) != (s, s):
            image = F.interpolate(image, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
            mask = (F.interpolate(mask, size=(s, s), mode="area") > 0).to(image.dtype)  # any hole -> hole
        x = torch.cat([(image * 2 - 1) * (1 - mask), mask], dim=1)  # (N, 4, s, s), [-1, 1], hole at 0
        y = (self.decoder(self.bottleneck(self.encoder(x))) + 1) / 2  # (N, 3, s, s) in [0, 1]
        if (h, w) != (s, s):
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
        return y


class DCGANDiscriminator(nn.Module):
    def __init__(self, c: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * c),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(4 * c),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 8 * c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(8 * c),
            nn.LeakyReLU(0.2),
            nn.Conv2d(8 * c, 1, 4, 1, 0),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image * 2 - 1)  # (N, 1, H/16 - 3, W/16 - 3)


@register_model(
    "context_encoder",
    description="Context encoder with channel-wise FC bottleneck (Pathak et al. 2016; on-demand learning settings)",
)
class ContextEncoder(Family):
    ModelConfig: ClassVar = ContextEncoderModelConfig
    DiscriminatorConfig: ClassVar = ContextEncoderDiscriminatorConfig
    LossConfig: ClassVar = ContextEncoderLossConfig
    pad_multiple: ClassVar[int] = 1  # the generator resizes to its fixed size itself
    min_size: ClassVar[int] = 64  # the default native size: smaller inputs are padded up rather than upscaled

    def __init__(
        self,
        model: ContextEncoderModelConfig,
        discriminator: ContextEncoderDiscriminatorConfig,
        losses: ContextEncoderLossConfig,
    ):
        super().__init__(model, discriminator, losses)
        self.generator = ContextEncoderNet(model)
        if losses.adv > 0:
            self.discriminators["dcgan"] = DCGANDiscriminator(discriminator.channels)

    @classmethod
    def tiny_config(cls) -> dict[str, dict[str, Any]]:
        return {"model": {"size": 64, "channels": 8}, "discriminator": {"channels": 8}, "losses": {"adv": 0.001}}

    def generator_step(self, batch: dict[str, Any], step: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        pred = self.generator(zero_hole(image, mask), mask)
        w = self.loss_cfg
        losses = {"l2": w.l2 * l2(pred, image, mask)}
        if self.discriminators:
            fake = self.discriminators["dcgan"](composite(pred, image, mask))
            losses["adv"] = w.adv * generator_adversarial(w.adv_kind, fake)
        return losses, pred

    def discriminator_step(self, batch: dict[str, Any], pred: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        if not self.discriminators:
            return {}
        image, mask = batch["image"], batch["mask"]
        d = self.discriminators["dcgan"]
        real, fake = d(image), d(composite(pred.detach(), image, mask))
        return {"adv": discriminator_adversarial(self.loss_cfg.adv_kind, real, fake)}
