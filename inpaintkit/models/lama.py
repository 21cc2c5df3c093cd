"""LaMa: Resolution-robust Large Mask Inpainting with Fourier Convolutions (Suvorov et al., WACV 2022).

Generator: LaMa's ``FFCResNetGenerator`` — a 7x7 stem on (masked image, mask), ``n_downsampling`` stride-2 3x3
convolutions, ``n_blocks`` residual blocks of Fast Fourier Convolutions with 75 % of the channels in the global
(spectral) stream, transposed-conv upsampling, a 7x7 head and a sigmoid; reflect padding throughout.
Discriminator: LaMa's ``NLayerDiscriminator``, i.e. ``layers.patchgan.PatchGAN`` (Isola et al. 2017), which returns its intermediate
activations for feature matching.
Losses (LaMa's ``big-lama`` weights): L1 on known pixels x10 (``l1_valid``; hole ``l1_hole`` x0), non-saturating adversarial x10 with
hole-aware fake labels (``mask_as_fake_target``: the known part of a fake counts as real), R1 penalty on real
images x0.001 (``gp_coef``), discriminator feature matching x100, and a VGG16 perceptual term on the bundled
features (``losses.perceptual_layers``; LaMa's own ResNet-ADE20k perceptual net is not available offline).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

import torch
from pydantic import Field, model_validator
from torch import nn

from ..layers.ffc import FFCBNAct, FFCResBlock
from ..layers.patchgan import PatchGAN
from ..layers.prefill import push_pull_fill
from ..losses import (
    PerceptualStyle,
    discriminator_adversarial,
    feature_matching,
    generator_adversarial,
    l1_hole,
    l1_valid,
    r1_penalty,
    ssim_loss,
)
from .base import Family, StrictConfig, renamed_keys, zero_hole
from .inpainter import register_model


class LamaModelConfig(StrictConfig):
    ngf: int = Field(64, ge=1)
    n_downsampling: int = Field(3, ge=1)
    n_blocks: int = Field(9, ge=1)
    max_features: int = Field(1024, ge=1)
    #: Share of channels in the global (Fourier) stream of the residual blocks.
    ratio: float = Field(0.75, ge=0, lt=1)
    #: ``resnet``: LaMa's FFCResNetGenerator. ``unet``: our compact variant (inpaintkit's bundled default) — a
    #: push-pull pre-fill of the hole as input, a 3x3 full-resolution stem, skip connections from each encoder level
    #: to the decoder (see ``FFCUNetGenerator``).
    arch: Literal["resnet", "unet"] = "resnet"
    #: ``unet``: the pre-fill — push-pull with a ``box`` or the smoother ``binomial`` filter, or ``membrane``: the
    #: binomial push-pull relaxed to a harmonic fill coarse to fine (see ``push_pull_fill``; +0.36 dB hole PSNR on
    #: the corpus's val split).
    prefill: Literal["box", "binomial", "membrane"] = "binomial"


#: ``LamaModelConfig.prefill`` -> ``push_pull_fill`` arguments.
PREFILLS = {
    "box": {"kernel": "box"},
    "binomial": {"kernel": "binomial"},
    "membrane": {"kernel": "binomial", "relax": (5, 20)},
}


class LamaDiscriminatorConfig(StrictConfig):
    ndf: int = Field(64, ge=1)
    n_layers: int = Field(4, ge=1)


class LamaLossConfig(StrictConfig):
    #: Config keys of earlier versions -> their names now (the loss functions' names); old configs still load.
    RENAMED: ClassVar[dict[str, str]] = {"l1_known": "l1_valid", "l1_missing": "l1_hole"}

    #: L1 on the known pixels (``losses.l1_valid``).
    l1_valid: float = Field(10.0, ge=0)
    #: L1 on the hole pixels (``losses.l1_hole``).
    l1_hole: float = Field(0.0, ge=0)
    adv: float = Field(10.0, ge=0)
    #: R1 gradient penalty weight (LaMa's ``gp_coef``), applied in the discriminator step.
    r1: float = Field(0.001, ge=0)
    feature_matching: float = Field(100.0, ge=0)
    #: Hole-aware fake labels for the discriminator (LaMa's ``mask_as_fake_target``).
    mask_as_fake_target: bool = True
    perceptual: float = Field(1.0, ge=0)
    #: A torchvision-format VGG16 state dict for the perceptual term (none: the bundled VGG16 features).
    vgg_weights: Optional[str] = None
    #: VGG16 taps of the perceptual term (mean |difference| summed over taps). Deeper taps see more context
    #: (LaMa's point about its high-receptive-field perceptual loss) but cost more compute.
    perceptual_layers: list[str] = Field(default_factory=lambda: ["pool1", "pool2", "pool3"], min_length=1)
    #: Compute the perceptual term on at most this many images of each batch (0: all). The VGG costs several times
    #: the small default generator's step on a CPU; the batch is shuffled, so a subset is an unbiased estimate.
    perceptual_max_images: int = Field(0, ge=0)
    #: ``l1``: mean |difference| of the raw taps; ``lpips``: squared distance of the channel-normalised taps,
    #: averaged over taps (with the taps ``relu1_2 ... relu5_3`` that is the ``lpips_hed`` metric itself).
    perceptual_distance: Literal["l1", "lpips"] = "l1"
    #: ``1 - SSIM`` of the composite (the evaluation's SSIM, ``losses.ssim_loss``); 0 (LaMa's recipe): off.
    ssim: float = Field(0.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return renamed_keys(data, cls.RENAMED, "losses")


class FFCResNetGenerator(nn.Module):
    """(N,3,H,W) masked image + (N,1,H,W) mask -> (N,3,H,W) in [0, 1]; H, W multiples of 2**n_downsampling."""

    def __init__(self, cfg: LamaModelConfig):
        super().__init__()
        ngf, nd, cap = cfg.ngf, cfg.n_downsampling, cfg.max_features
        self.stem = nn.Sequential(nn.ReflectionPad2d(3))
        self.stem_ffc = FFCBNAct(4, ngf, 7, 0.0, 0.0)
        downs = []
        for i in range(nd):
            cin, cout = min(cap, ngf * 2**i), min(cap, ngf * 2 ** (i + 1))
            # the last downsampling splits its output into the local/global streams of the residual blocks
            downs.append(FFCBNAct(cin, cout, 3, 0.0, cfg.ratio if i == nd - 1 else 0.0, stride=2, padding=1))
        self.downs = nn.ModuleList(downs)
        width = min(cap, ngf * 2**nd)
        self.blocks = nn.ModuleList(FFCResBlock(width, cfg.ratio) for _ in range(cfg.n_blocks))
        ups: list[nn.Module] = []
        for i in range(nd, 0, -1):
            cin, cout = min(cap, ngf * 2**i), min(cap, ngf * 2 ** (i - 1))
            ups += [
                nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        self.up = nn.Sequential(*ups, nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Sigmoid())

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.stem(torch.cat([zero_hole(image, mask), mask], dim=1))  # (N, 4, H+6, W+6)
        s = self.stem_ffc((x, 0))
        for d in self.downs:
            s = d(s)
        for b in self.blocks:
            s = b(s)
        x_l, x_g = s
        x = torch.cat([t for t in (x_l, x_g) if isinstance(t, torch.Tensor)], dim=1)  # (N, C, H/2^n, W/2^n)
        return self.up(x)


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False, padding_mode="reflect"),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FFCUNetGenerator(nn.Module):
    """Compact FFC U-Net: (N,3,H,W) masked image + (N,1,H,W) mask -> (N,3,H,W), H, W multiples of 2**n_downsampling.

    The input is the push-pull pre-fill of the hole (a smooth guess, so the network starts from colours that fit
    instead of a black hole) plus the mask. A 3x3 stem at full resolution (``ngf // 2`` channels: full resolution is
    where a CPU spends its time) and ``n_downsampling`` stride-2 3x3 convs (widths ``ngf * 2**i``) feed ``n_blocks``
    FFC residual blocks (global receptive field, as in LaMa) at the coarsest level. The decoder upsamples with a
    transposed conv, adds the encoder feature of the same level (so thin holes see full-resolution context), refines
    with a 3x3 conv (except at full resolution) and ends in a 3x3 conv whose output is added to the pre-fill's logit
    before the sigmoid: the head starts at zero, so an untrained network returns the pre-fill, and it learns a
    correction. (In single-batch tests this trained as fast as a plain sigmoid output and starting from the pre-fill;
    adding the correction to the pre-fill itself, without the sigmoid, trained several times slower.)
    """

    def __init__(self, cfg: LamaModelConfig):
        super().__init__()
        ngf, nd, cap = cfg.ngf, cfg.n_downsampling, cfg.max_features
        widths = [max(1, ngf // 2)] + [min(cap, ngf * 2**i) for i in range(nd)]
        self.stem = _conv_bn_relu(4, widths[0])
        self.downs = nn.ModuleList(_conv_bn_relu(widths[i], widths[i + 1], stride=2) for i in range(nd))
        width = widths[-1]
        self.n_global = int(width * cfg.ratio)
        self.prefill = cfg.prefill
        self.blocks = nn.Sequential(*(FFCResBlock(width, cfg.ratio) for _ in range(cfg.n_blocks)))
        self.ups = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(widths[i + 1], widths[i], 3, 2, 1, output_padding=1, bias=False),
                nn.BatchNorm2d(widths[i]),
                nn.ReLU(inplace=True),
            )
            for i in range(nd - 1, -1, -1)
        )
        self.refine = nn.ModuleList(
            _conv_bn_relu(widths[i], widths[i]) if i > 0 else nn.Identity() for i in range(nd - 1, -1, -1)
        )
        self.head = nn.Conv2d(widths[0], 3, 3, 1, 1, padding_mode="reflect")
        nn.init.zeros_(self.head.weight)  # an untrained network returns the pre-fill
        nn.init.zeros_(self.head.bias)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        prefill = push_pull_fill(image, mask, **PREFILLS[self.prefill])  # (N,3,H,W)
        x = self.stem(torch.cat([prefill * 2.0 - 1.0, mask], dim=1))  # (N,ngf/2,H,W)
        skips = [x]
        for d in self.downs:
            x = d(x)
            skips.append(x)
        c_l = x.shape[1] - self.n_global
        x_l, x_g = self.blocks((x[:, :c_l], x[:, c_l:]))
        x = torch.cat([x_l, x_g], dim=1)  # (N, C, H/2^n, W/2^n)
        for up, refine, skip in zip(self.ups, self.refine, reversed(skips[:-1])):
            x = refine(up(x) + skip)
        return torch.sigmoid(torch.logit(prefill.clamp(1e-3, 1.0 - 1e-3)) + self.head(x))


@register_model("lama", description="LaMa (Suvorov 2022): Fourier-convolution ResNet, large masks, GAN-trained")
class Lama(Family):
    ModelConfig = LamaModelConfig
    DiscriminatorConfig = LamaDiscriminatorConfig
    LossConfig = LamaLossConfig
    pad_multiple = 8

    def __init__(self, model: LamaModelConfig, discriminator: LamaDiscriminatorConfig, losses: LamaLossConfig):
        super().__init__(model, discriminator, losses)
        self.generator = FFCUNetGenerator(model) if model.arch == "unet" else FFCResNetGenerator(model)
        # LaMa's NLayerDiscriminator: padding 2, conv bias before BatchNorm, widths capped at 512
        patch = PatchGAN(3, discriminator.ndf, discriminator.n_layers, max_channels=512, padding=2, norm_bias=True)
        self.discriminators = nn.ModuleDict({"patch": patch})
        self.perceptual = (
            PerceptualStyle(losses.vgg_weights, tuple(losses.perceptual_layers), losses.perceptual_distance)
            if losses.perceptual > 0
            else None
        )

    @classmethod
    def tiny_config(cls) -> dict[str, dict[str, Any]]:
        return {
            "model": {"ngf": 8, "n_downsampling": 3, "n_blocks": 1},
            "discriminator": {"ndf": 8, "n_layers": 2},
            "losses": {},
        }

    def generator_step(self, batch: dict[str, Any], step: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        img, mask = batch["image"], batch["mask"]  # (N,3,H,W), (N,1,H,W)
        c = self.loss_cfg
        pred = self.generator(zero_hole(img, mask), mask)  # (N,3,H,W)
        losses = {"l1_valid": c.l1_valid * l1_valid(pred, img, mask)}
        if c.l1_hole > 0:
            losses["l1_hole"] = c.l1_hole * l1_hole(pred, img, mask)
        if c.ssim > 0:
            losses["ssim"] = c.ssim * ssim_loss(pred, img, mask)
        if self.perceptual is not None and self.perceptual.available:
            k = c.perceptual_max_images or pred.shape[0]
            perceptual, _ = self.perceptual(pred[:k], img[:k])
            losses["perceptual"] = c.perceptual * perceptual
        if c.adv > 0 or c.feature_matching > 0:
            disc = self.discriminators["patch"]
            fake_logits, fake_feats = disc(pred)
            with torch.no_grad():
                _, real_feats = disc(img)
            if c.adv > 0:
                losses["adv"] = c.adv * generator_adversarial("nonsaturating", fake_logits)
            if c.feature_matching > 0:
                losses["feature_matching"] = c.feature_matching * feature_matching(fake_feats, real_feats)
        return losses, pred

    def discriminator_step(self, batch: dict[str, Any], pred: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        c = self.loss_cfg
        if c.adv <= 0 and c.feature_matching <= 0:
            return {}
        img, mask = batch["image"], batch["mask"]
        disc = self.discriminators["patch"]
        real = img.detach().requires_grad_(c.r1 > 0)
        real_logits, _ = disc(real)
        fake_logits, _ = disc(pred.detach())
        losses = {
            "adv": discriminator_adversarial(
                "nonsaturating", real_logits, fake_logits, mask if c.mask_as_fake_target else None
            )
        }
        if c.r1 > 0:
            losses["r1"] = c.r1 * r1_penalty(real_logits, real)
        return losses

    def trains_discriminator(self, step: int) -> bool:
        return self.loss_cfg.adv > 0 or self.loss_cfg.feature_matching > 0
