"""DeepFill v2: Yu, Lin, Yang, Shen, Lu & Huang, "Free-Form Image Inpainting with Gated Convolution", ICCV 2019
(contextual attention from Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018).

Generator (the authors' ``inpaint_model.py``): two stages of gated convolutions (ELU features,
sigmoid gates, *separate* feature and gate convs; ``layers/gated.py``).

- Coarse: input [image, ones, mask]; 5×5 conv, two stride-2 downsamplings to 4·channels, dilated convs with rates
  2, 4, 8, 16, two gated ×2 upsamplings, tanh output.
- Refinement, on the coarse result pasted into the known pixels: a dilated-conv branch and an attention branch
  (contextual attention over 3×3 patches of the 1/4-resolution features, or SAGAN self-attention with
  ``model.attention: self``), concatenated and decoded to a tanh output.

Both stages are supervised by L1 against the ground truth over the whole image (``l1_coarse``, ``l1_refine``);
the refined output is the prediction. Discriminator: SN-PatchGAN, six 5×5 stride-2 spectral-normalised convs
(64, 128, 256, 256, 256, 256) with LeakyReLU(0.2) on the composite *and* the mask; every output element is a logit;
hinge loss. Default weights: L1 1, adversarial 0.01. Internally the network works in [-1, 1] as the authors'.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..layers.attention import ContextualAttention, SelfAttention
from ..layers.gated import GatedConv2d, GatedDeconv2d
from ..layers.padding import pad_to_multiple
from ..losses import AdvKind, discriminator_adversarial, generator_adversarial
from .base import Family, StrictConfig, composite, zero_hole
from .inpainter import register_model


class DeepFillModelConfig(StrictConfig):
    #: Feature width of the first layer. The authors' code has cnum = 48 but splits each conv's output into
    #: features and gates, so 24 feature channels (4.1M parameters) correspond to their model.
    channels: int = Field(24, ge=2)
    #: Attention in the refinement stage: contextual (Yu et al. 2018) or SAGAN self-attention.
    attention: Literal["contextual", "self"] = "contextual"
    #: Contextual attention: softmax scale and whether scores are propagated along the diagonal.
    softmax_scale: float = Field(10.0, gt=0)
    fuse: bool = True


class DeepFillDiscriminatorConfig(StrictConfig):
    channels: int = Field(64, ge=1)


class DeepFillLossConfig(StrictConfig):
    l1_coarse: float = Field(1.0, ge=0)
    l1_refine: float = Field(1.0, ge=0)
    adv: float = Field(0.01, ge=0)
    adv_kind: AdvKind = "hinge"


def _plain_conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1)  # the output layer: no gating (as in the authors' code)


class CoarseNet(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        g = GatedConv2d
        self.net = nn.Sequential(
            g(5, c, 5),
            g(c, 2 * c, 3, 2),
            g(2 * c, 2 * c, 3),
            g(2 * c, 4 * c, 3, 2),
            g(4 * c, 4 * c, 3),
            g(4 * c, 4 * c, 3),
            *[g(4 * c, 4 * c, 3, dilation=d) for d in (2, 4, 8, 16)],
            g(4 * c, 4 * c, 3),
            g(4 * c, 4 * c, 3),
            GatedDeconv2d(4 * c, 2 * c),
            g(2 * c, 2 * c, 3),
            GatedDeconv2d(2 * c, c),
            g(c, c // 2, 3),
            _plain_conv(c // 2, 3),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class RefineNet(nn.Module):
    def __init__(self, c: int, cfg: DeepFillModelConfig):
        super().__init__()
        g = GatedConv2d
        self.hallu = nn.Sequential(
            g(5, c, 5),
            g(c, c, 3, 2),
            g(c, 2 * c, 3),
            g(2 * c, 2 * c, 3, 2),
            g(2 * c, 4 * c, 3),
            g(4 * c, 4 * c, 3),
            *[g(4 * c, 4 * c, 3, dilation=d) for d in (2, 4, 8, 16)],
        )
        self.att_in = nn.Sequential(
            g(5, c, 5),
            g(c, c, 3, 2),
            g(c, 2 * c, 3),
            g(2 * c, 4 * c, 3, 2),
            g(4 * c, 4 * c, 3),
            g(4 * c, 4 * c, 3, activation=nn.ReLU()),
        )
        self.contextual = cfg.attention == "contextual"
        self.attention = (
            ContextualAttention(3, 1, 2, softmax_scale=cfg.softmax_scale, fuse=cfg.fuse)
            if self.contextual
            else SelfAttention(4 * c)
        )
        self.att_out = nn.Sequential(g(4 * c, 4 * c, 3), g(4 * c, 4 * c, 3))
        self.decoder = nn.Sequential(
            g(8 * c, 4 * c, 3),
            g(4 * c, 4 * c, 3),
            GatedDeconv2d(4 * c, 2 * c),
            g(2 * c, 2 * c, 3),
            GatedDeconv2d(2 * c, c),
            g(c, c // 2, 3),
            _plain_conv(c // 2, 3),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a = self.att_in(x)  # (N, 4c, H/4, W/4)
        if self.contextual:
            a = self.attention(a, a, F.max_pool2d(mask, 4))  # a cell touching the hole is hole
        else:
            a = self.attention(a)
        return self.decoder(torch.cat([self.hallu(x), self.att_out(a)], dim=1))


class DeepFillGenerator(nn.Module):
    """``forward(image, mask) -> image`` in [0, 1]; with ``with_coarse=True`` -> (coarse, refined).

    (One ``forward`` for both so the trainer's DistributedDataParallel / torch.compile wrappers see every call.)
    """

    def __init__(self, cfg: DeepFillModelConfig):
        super().__init__()
        self.coarse = CoarseNet(cfg.channels)
        self.refine = RefineNet(cfg.channels, cfg)

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, with_coarse: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        h, w = image.shape[-2:]
        image, mask = pad_to_multiple(image, 8), pad_to_multiple(mask, 8)  # two downsamplings + attention rate 2
        x = (image * 2 - 1) * (1 - mask)  # [-1, 1], hole at 0 as in the authors' code
        ones = torch.ones_like(mask)
        x1 = self.coarse(torch.cat([x, ones, mask], dim=1))  # (N, 3, H, W) in [-1, 1]
        xnow = x1 * mask + x * (1 - mask)
        x2 = self.refine(torch.cat([xnow, ones, mask], dim=1), mask)
        refined = (x2[..., :h, :w] + 1) / 2
        return ((x1[..., :h, :w] + 1) / 2, refined) if with_coarse else refined


class SNPatchGAN(nn.Module):
    """``forward(image, mask) -> (N, 4c, H/64, W/64)`` logits; image in [0, 1] (mapped to [-1, 1])."""

    def __init__(self, c: int = 64):
        super().__init__()
        chans = [c, 2 * c, 4 * c, 4 * c, 4 * c, 4 * c]
        layers, cin = [], 4
        for cout in chans:
            layers += [spectral_norm(nn.Conv2d(cin, cout, 5, 2, 2)), nn.LeakyReLU(0.2)]
            cin = cout
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image * 2 - 1, mask], dim=1))


@register_model(
    "deepfill_v2",
    description="Gated-convolution two-stage inpainting with contextual attention (DeepFill v2, Yu et al. 2019)",
)
class DeepFillV2(Family):
    ModelConfig: ClassVar = DeepFillModelConfig
    DiscriminatorConfig: ClassVar = DeepFillDiscriminatorConfig
    LossConfig: ClassVar = DeepFillLossConfig
    pad_multiple: ClassVar[int] = 8

    def __init__(
        self, model: DeepFillModelConfig, discriminator: DeepFillDiscriminatorConfig, losses: DeepFillLossConfig
    ):
        super().__init__(model, discriminator, losses)
        self.generator = DeepFillGenerator(model)
        self.discriminators["patch"] = SNPatchGAN(discriminator.channels)

    @classmethod
    def tiny_config(cls) -> dict[str, dict[str, Any]]:
        return {"model": {"channels": 8}, "discriminator": {"channels": 8}, "losses": {}}

    def generator_step(self, batch: dict[str, Any], step: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        coarse, pred = self.generator(zero_hole(image, mask), mask, with_coarse=True)
        w = self.loss_cfg
        losses = {
            "l1_coarse": w.l1_coarse * (coarse - image).abs().mean(),
            "l1_refine": w.l1_refine * (pred - image).abs().mean(),
        }
        if self.trains_discriminator(step) and w.adv > 0:
            fake = self.discriminators["patch"](composite(pred, image, mask), mask)
            losses["adv"] = w.adv * generator_adversarial(w.adv_kind, fake)
        return losses, pred

    def discriminator_step(self, batch: dict[str, Any], pred: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        d = self.discriminators["patch"]
        real, fake = d(image, mask), d(composite(pred.detach(), image, mask), mask)
        return {"adv": discriminator_adversarial(self.loss_cfg.adv_kind, real, fake)}
