"""pix2pix: Isola, Zhu, Zhou & Efros, "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017,
applied to inpainting (input: the masked image and the mask; output: the full image).

Generator: U-Net with ``num_downs`` = 7 4×4 stride-2 downsamplings (C64-C128-C256-C512-C512-C512-C512; LeakyReLU
0.2 before each conv, BatchNorm except on the first and the innermost) and 7 mirrored 4×4 stride-2
transposed convs (ReLU before, BatchNorm after, skip concatenation at every level, dropout 0.5 on the inner
512-channel levels), tanh output rescaled to [0, 1]. 7 downsamplings take 128² to 1×1; larger inputs keep a
larger bottleneck.

Discriminator: the 70×70 *conditional* PatchGAN — it sees the input (masked image and mask) concatenated with the
output or the ground truth (the reference's discriminator ignored the input): C64-C128-C256-C512(stride 1), a 4×4
conv to one logit per patch. Loss: ``l1`` ×100 over the whole image + ``adv`` ×1 (pix2pix's ``gan_mode="vanilla"``,
which is our ``nonsaturating``); the discriminator's loss is halved, as in pix2pix.

Dropout is the only noise (pix2pix keeps it on at test time; we switch it off in ``eval()`` so inpainting is
deterministic).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ..layers.padding import pad_to_multiple
from ..layers.patchgan import PatchGAN
from ..losses import AdvKind, discriminator_adversarial, generator_adversarial
from .base import Family, StrictConfig, zero_hole
from .inpainter import register_model


class Pix2PixModelConfig(StrictConfig):
    num_downs: int = Field(7, ge=3, le=9)
    #: Width of the first layer (ngf, 64).
    channels: int = Field(64, ge=1)
    dropout: float = Field(0.5, ge=0, lt=1)


class Pix2PixDiscriminatorConfig(StrictConfig):
    channels: int = Field(64, ge=1)
    #: Stride-2 layers of the PatchGAN (3: 70×70 receptive field).
    n_layers: int = Field(3, ge=1, le=5)


class Pix2PixLossConfig(StrictConfig):
    l1: float = Field(100.0, ge=0)
    adv: float = Field(1.0, ge=0)
    adv_kind: AdvKind = "nonsaturating"


class UNetGenerator(nn.Module):
    """``forward(image, mask) -> image`` in [0, 1]; the input is [image in [-1, 1] with the hole at 0, mask]."""

    def __init__(self, cfg: Pix2PixModelConfig):
        super().__init__()
        n, c = cfg.num_downs, cfg.channels
        self.multiple = 2**n
        ch = [min(c * 2**i, 8 * c) for i in range(n)]  # output channels of down level i
        self.down = nn.ModuleList()
        for i in range(n):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(4 if i == 0 else ch[i - 1], ch[i], 4, 2, 1, bias=i in (0, n - 1)))
            if 0 < i < n - 1:
                layers.append(nn.BatchNorm2d(ch[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()  # up[i] undoes down[i]; applied from i = n-1 to 0
        for i in range(n):
            cin = ch[i] if i == n - 1 else 2 * ch[i]
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(cin, 3, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(), nn.ConvTranspose2d(cin, ch[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(ch[i - 1])]
            if 4 <= i < n - 1 and cfg.dropout > 0:  # the middle 512-channel levels, as pix2pix's unet
                layers.append(nn.Dropout(cfg.dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        x = torch.cat([(image * 2 - 1) * (1 - mask), mask], dim=1)  # (N, 4, H, W)
        x = pad_to_multiple(x, self.multiple)
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        y = self.up[-1](skips[-1])
        for i in range(len(self.down) - 2, -1, -1):
            y = self.up[i](torch.cat([skips[i], y], dim=1))
        return (y[..., :h, :w] + 1) / 2


class ConditionalPatchGAN(PatchGAN):
    """``forward(condition, image) -> (N, 1, h, w)``: condition (N, 4, H, W) = [masked image, mask], image in [0, 1].

    pix2pix's flavour of ``PatchGAN``: padding 1, no conv bias before BatchNorm, widths capped at ``8 * c``.
    """

    def __init__(self, c: int = 64, n_layers: int = 3):
        super().__init__(7, c, n_layers, max_channels=8 * c, padding=1, norm_bias=False)
        self.register_load_state_dict_pre_hook(_flat_keys_to_blocks)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        logits, _ = super().forward(torch.cat([condition, image * 2 - 1], dim=1))
        return logits


def _flat_keys_to_blocks(module: PatchGAN, state_dict: dict, prefix: str, *_: object) -> None:
    """Run folders written before the shared ``PatchGAN`` keep loading: their discriminator was one flat
    ``net = Sequential(conv, lrelu, [conv, bn, lrelu] * n_layers, conv)``; ``net.<k>`` -> ``layers.<i>.<j>``."""
    n_blocks = len(module.layers) - 1
    where = {0: "0.0", 3 * n_blocks - 1: str(n_blocks)}  # first conv; logit conv
    for i in range(1, n_blocks):
        where[2 + 3 * (i - 1)] = f"{i}.0"  # conv
        where[3 + 3 * (i - 1)] = f"{i}.1"  # BatchNorm
    for key in [k for k in state_dict if k.startswith(prefix + "net.")]:
        k, rest = key[len(prefix) + 4 :].split(".", 1)
        if int(k) in where:
            state_dict[f"{prefix}layers.{where[int(k)]}.{rest}"] = state_dict.pop(key)


@register_model("pix2pix", description="pix2pix U-Net with a conditional PatchGAN (Isola et al. 2017)")
class Pix2Pix(Family):
    ModelConfig: ClassVar = Pix2PixModelConfig
    DiscriminatorConfig: ClassVar = Pix2PixDiscriminatorConfig
    LossConfig: ClassVar = Pix2PixLossConfig
    pad_multiple: ClassVar[int] = 8  # the generator pads itself to 2**num_downs

    def __init__(self, model: Pix2PixModelConfig, discriminator: Pix2PixDiscriminatorConfig, losses: Pix2PixLossConfig):
        super().__init__(model, discriminator, losses)
        self.generator = UNetGenerator(model)
        self.discriminators["patch"] = ConditionalPatchGAN(discriminator.channels, discriminator.n_layers)

    @classmethod
    def tiny_config(cls) -> dict[str, dict[str, Any]]:
        return {"model": {"num_downs": 6, "channels": 8}, "discriminator": {"channels": 8}, "losses": {}}

    @staticmethod
    def condition(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What the discriminator is conditioned on: the generator's input, (N, 4, H, W)."""
        return torch.cat([(image * 2 - 1) * (1 - mask), mask], dim=1)

    def generator_step(self, batch: dict[str, Any], step: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        pred = self.generator(zero_hole(image, mask), mask)
        w = self.loss_cfg
        losses = {"l1": w.l1 * (pred - image).abs().mean()}
        if w.adv > 0:
            fake = self.discriminators["patch"](self.condition(image, mask), pred)
            losses["adv"] = w.adv * generator_adversarial(w.adv_kind, fake)
        return losses, pred

    def trains_discriminator(self, step: int) -> bool:
        return self.loss_cfg.adv > 0

    def discriminator_step(self, batch: dict[str, Any], pred: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        d, cond = self.discriminators["patch"], self.condition(image, mask)
        return {"adv": 0.5 * discriminator_adversarial(self.loss_cfg.adv_kind, d(cond, image), d(cond, pred.detach()))}
