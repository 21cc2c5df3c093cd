"""PatchGAN discriminator (Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks",
CVPR 2017): the one definition behind LaMa's ``NLayerDiscriminator`` and pix2pix's (conditional) 70×70 PatchGAN.

A 4×4 stride-2 conv + LeakyReLU(0.2), ``n_layers - 1`` more 4×4 stride-2 convs with BatchNorm, one 4×4 stride-1
conv with BatchNorm, and a 4×4 conv to one logit per patch; widths double from ``ndf`` up to ``max_channels``.
The two references differ only in details, kept as arguments: LaMa pads by 2 and keeps the conv bias before
BatchNorm (``padding=2, norm_bias=True``, widths capped at 512), pix2pix pads by 1 without that bias
(``padding=1, norm_bias=False``, widths capped at ``8 * ndf``). ``n_layers=3`` with ``padding=1`` is the 70×70
receptive field.

State-dict layout: ``layers.<i>.<j>`` (``layers[i]`` one conv block, ``layers[-1]`` the logit conv), as in the
bundled default model's ``discriminators.safetensors``.
"""

from __future__ import annotations

import torch
from torch import nn


class PatchGAN(nn.Module):
    """``forward(x) -> (logits (N, 1, h, w), [activations of every block but the last])``; ``x`` (N, C, H, W)."""

    def __init__(
        self,
        in_channels: int,
        ndf: int = 64,
        n_layers: int = 3,
        *,
        max_channels: int = 512,
        padding: int = 1,
        norm_bias: bool = False,
    ):
        super().__init__()
        p = padding
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, p), nn.LeakyReLU(0.2, True))]
        nf = ndf
        for i in range(1, n_layers + 1):  # n_layers - 1 stride-2 blocks, then the stride-1 block
            prev, nf = nf, min(nf * 2, max_channels)
            conv = nn.Conv2d(prev, nf, 4, 2 if i < n_layers else 1, p, bias=norm_bias)
            layers.append(nn.Sequential(conv, nn.BatchNorm2d(nf), nn.LeakyReLU(0.2, True)))
        layers.append(nn.Conv2d(nf, 1, 4, 1, p))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats[-1], feats[:-1]
