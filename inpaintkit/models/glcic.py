"""Globally and Locally Consistent Image Completion: Iizuka, Simo-Serra & Ishikawa, SIGGRAPH 2017.

Completion network (Table 1 of the paper): input image + mask; 5×5 conv 64, stride-2 and stride-1 3×3 convs to
256 channels at 1/4 resolution, dilated 3×3 convs with rates 2, 4, 8, 16, two 3×3 convs, two 4×4 ×2 deconvs
(128, 64) each followed by a 3×3 conv, a 3×3 conv to 32 and a 3×3 output conv with a sigmoid; BatchNorm and ReLU
everywhere else. Global discriminator: six 5×5 stride-2 convs (64, 128, 256, 512, 512, 512) + FC 1024 on the whole
image (resized to ``global_size``); local discriminator: five such convs (64 ... 512) + FC 1024 on a
``local_size`` window centred on the hole; their outputs are concatenated and an FC gives one logit.

Training in three phases (paper §3.3; lengths configurable as ``losses.phase_generator_steps`` and
``losses.phase_discriminator_steps``): generator only with the hole-weighted MSE, discriminators only, then both
with the adversarial term weighted by α = 0.0004. The discriminators see the composite (known pixels restored).

Inference option: Poisson blending of the fill into the image (paper §3.4 uses it as post-processing), with
``cv2.seamlessClone``; on by ``model.poisson_blend: true`` or per call (``poisson_blend=True``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from ..layers.padding import pad_to_multiple
from ..losses import AdvKind, discriminator_adversarial, generator_adversarial, l2
from .base import Family, StrictConfig, composite, zero_hole
from .inpainter import register_model


class GLCICModelConfig(StrictConfig):
    #: Width of the first layer (64 in the paper); the others scale with it.
    channels: int = Field(64, ge=1)
    #: Poisson-blend the fill into the image at inference (cv2.seamlessClone).
    poisson_blend: bool = False


class GLCICDiscriminatorConfig(StrictConfig):
    channels: int = Field(64, ge=1)
    #: Images are resized to this side for the global discriminator (256 in the paper; a multiple of 64).
    global_size: int = Field(256, ge=64)
    #: Side of the local window around the hole, in pixels of the ``global_size`` image (128; a multiple of 32).
    local_size: int = Field(128, ge=32)

    @model_validator(mode="after")
    def _sizes(self) -> "GLCICDiscriminatorConfig":
        if self.global_size % 64 or self.local_size % 32 or self.local_size > self.global_size:
            raise ValueError(
                f"global_size ({self.global_size}) must be a multiple of 64 and local_size "
                f"({self.local_size}) a multiple of 32 not above it"
            )
        return self


class GLCICLossConfig(StrictConfig):
    #: Hole-weighted MSE (paper eq. 1).
    l2: float = Field(1.0, ge=0)
    #: α of the joint phase (paper: 0.0004).
    adv: float = Field(0.0004, ge=0)
    adv_kind: AdvKind = "nonsaturating"
    #: Phase 1 length (paper: T_C = 90,000 iterations): generator only, reconstruction loss.
    phase_generator_steps: int = Field(90000, ge=0)
    #: Phase 2 length (paper: T_D = 10,000): discriminators only. Afterwards both train.
    phase_discriminator_steps: int = Field(10000, ge=0)


def conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, dilation * (k // 2), dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def deconv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class CompletionNetwork(nn.Module):
    """``forward(image, mask) -> image`` in [0, 1] (sigmoid output)."""

    def __init__(self, c: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            conv_bn_relu(4, c, 5),
            conv_bn_relu(c, 2 * c, 3, 2),
            conv_bn_relu(2 * c, 2 * c, 3),
            conv_bn_relu(2 * c, 4 * c, 3, 2),
            conv_bn_relu(4 * c, 4 * c, 3),
            conv_bn_relu(4 * c, 4 * c, 3),
            *[conv_bn_relu(4 * c, 4 * c, 3, dilation=d) for d in (2, 4, 8, 16)],
            conv_bn_relu(4 * c, 4 * c, 3),
            conv_bn_relu(4 * c, 4 * c, 3),
            deconv_bn_relu(4 * c, 2 * c),
            conv_bn_relu(2 * c, 2 * c, 3),
            deconv_bn_relu(2 * c, c),
            conv_bn_relu(c, c // 2 or 1, 3),
            nn.Conv2d(c // 2 or 1, 3, 3, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        x = pad_to_multiple(torch.cat([image, mask], dim=1), 4)  # (N, 4, H', W')
        return self.net(x)[..., :h, :w]


class _ConvStack(nn.Module):
    """``n`` 5×5 stride-2 convs with BN + ReLU, then an FC to 1024 (one GLCIC discriminator branch)."""

    def __init__(self, c: int, n: int, size: int):
        super().__init__()
        chans = [c, 2 * c, 4 * c, 8 * c, 8 * c, 8 * c][:n]
        layers, cin = [], 3
        for cout in chans:
            layers += [nn.Conv2d(cin, cout, 5, 2, 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.convs = nn.Sequential(*layers)
        side = size // 2**n
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(cin * side * side, 1024), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x))  # (N, 1024)


def hole_windows(mask: torch.Tensor, side: int) -> list[tuple[int, int]]:
    """Top-left corners of ``side``² windows centred on each sample's hole bounding box, kept inside the image."""
    n, _, h, w = mask.shape
    out = []
    for i in range(n):
        ys, xs = torch.nonzero(mask[i, 0] > 0.5, as_tuple=True)
        cy, cx = (
            ((int(ys.min()) + int(ys.max()) + 1) // 2, (int(xs.min()) + int(xs.max()) + 1) // 2)
            if len(ys)
            else (h // 2, w // 2)
        )
        out.append((min(max(cy - side // 2, 0), h - side), min(max(cx - side // 2, 0), w - side)))
    return out


class GlobalLocalDiscriminator(nn.Module):
    """``forward(image, mask) -> (N, 1)`` logits: global branch on the resized image, local on the hole window."""

    def __init__(self, cfg: GLCICDiscriminatorConfig):
        super().__init__()
        self.global_size, self.local_size = cfg.global_size, cfg.local_size
        self.glob = _ConvStack(cfg.channels, 6, cfg.global_size)
        self.local = _ConvStack(cfg.channels, 5, cfg.local_size)
        self.fc = nn.Linear(2048, 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        s = self.global_size
        if image.shape[-2:] != (s, s):
            image = F.interpolate(image, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
            mask = F.interpolate(mask, size=(s, s), mode="area")
        corners = hole_windows(mask, self.local_size)
        k = self.local_size
        local = torch.stack([image[i, :, y : y + k, x : x + k] for i, (y, x) in enumerate(corners)])  # (N, 3, k, k)
        return self.fc(torch.cat([self.glob(image), self.local(local)], dim=1))


def seamless_blend(fill: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend the hole of ``fill`` into ``image`` (uint8 RGB (H, W, 3), bool (H, W) hole) with cv2.seamlessClone."""
    region = cv2.dilate(mask.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))  # boundary on known pixels
    region[[0, -1], :] = 0  # seamlessClone needs the region off the image border
    region[:, [0, -1]] = 0
    if not region.any():
        return fill
    x, y, w, h = cv2.boundingRect(region)
    out = cv2.seamlessClone(fill, image, region, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return np.where(mask[..., None], out, fill)


@register_model(
    "glcic",
    description="Globally and locally consistent completion (Iizuka et al. 2017)",
    call_options=("poisson_blend",),
)
class GLCIC(Family):
    ModelConfig: ClassVar = GLCICModelConfig
    DiscriminatorConfig: ClassVar = GLCICDiscriminatorConfig
    LossConfig: ClassVar = GLCICLossConfig
    pad_multiple: ClassVar[int] = 4

    def __init__(self, model: GLCICModelConfig, discriminator: GLCICDiscriminatorConfig, losses: GLCICLossConfig):
        super().__init__(model, discriminator, losses)
        self.generator = CompletionNetwork(model.channels)
        self.discriminators["global_local"] = GlobalLocalDiscriminator(discriminator)

    @classmethod
    def tiny_config(cls) -> dict[str, dict[str, Any]]:
        return {
            "model": {"channels": 8},
            "discriminator": {"channels": 8, "global_size": 64, "local_size": 32},
            "losses": {"phase_generator_steps": 1, "phase_discriminator_steps": 1},
        }

    # phases: [0, T_C) generator only; [T_C, T_C + T_D) discriminator only; then both
    def trains_generator(self, step: int) -> bool:
        c = self.loss_cfg
        return step < c.phase_generator_steps or step >= c.phase_generator_steps + c.phase_discriminator_steps

    def trains_discriminator(self, step: int) -> bool:
        return step >= self.loss_cfg.phase_generator_steps

    def generator_step(self, batch: dict[str, Any], step: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        pred = self.generator(zero_hole(image, mask), mask)
        w = self.loss_cfg
        losses = {"l2": w.l2 * l2(pred, image, mask)}
        if self.trains_discriminator(step) and self.trains_generator(step):  # joint phase
            logits = self.discriminators["global_local"](composite(pred, image, mask), mask)
            losses["adv"] = w.adv * generator_adversarial(w.adv_kind, logits)
        return losses, pred

    def discriminator_step(self, batch: dict[str, Any], pred: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        d = self.discriminators["global_local"]
        real = d(image, mask)  # the same window on the original photo
        fake = d(composite(pred.detach(), image, mask), mask)
        return {"adv": discriminator_adversarial(self.loss_cfg.adv_kind, real, fake)}

    @torch.no_grad()
    def predict(
        self, image: torch.Tensor, mask: torch.Tensor, poisson_blend: bool | None = None, **kw: Any
    ) -> torch.Tensor:
        out = super().predict(image, mask, **kw)
        if not (self.model_cfg.poisson_blend if poisson_blend is None else poisson_blend):
            return out
        to_u8 = lambda t: (t.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()  # noqa: E731
        blended = [seamless_blend(to_u8(o), to_u8(i), m[0].cpu().numpy() > 0.5) for o, i, m in zip(out, image, mask)]
        filled = torch.stack([torch.from_numpy(b).permute(2, 0, 1) for b in blended]).to(out) / 255.0
        return composite(filled, image, mask)  # known pixels exactly as given
