"""Perceptual and style losses on VGG16 features (Johnson et al. 2016; Gatys et al. 2016; as used by partial conv).

- perceptual: ``sum_layers mean |phi(pred) - phi(target)|``
- style: ``sum_layers mean |G(phi(pred)) - G(phi(target))|`` with the Gram matrix ``G = phi phi^T / (C·H·W)``
  (partial-conv paper, eq. 4-6: K_p = 1 / (C_p H_p W_p), and the L1 of the C×C difference averaged over its
  entries).

The VGG16 weights come from a file the user names (``losses.vgg_weights`` in the configs). Without one the terms
are disabled, never computed with random weights, and the log says so once per process (on the first call).
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)
DISABLED_MESSAGE = "perceptual/style disabled: no VGG16 weights given (set losses.vgg_weights)"
_said_disabled = False


def gram(feat: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C) Gram matrix normalised by C·H·W."""
    n, c, h, w = feat.shape
    f = feat.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


class PerceptualStyle(nn.Module):
    """Perceptual + style loss on frozen VGG16 taps.

    Args:
        weights_path: a torchvision-format VGG16 state dict; ``None`` disables the loss (``available`` is False).
            A file that cannot be read or is not VGG16 raises ``InpaintKitError``.
        layers: VGG16 tap names (default pool1-pool3, as the partial-conv paper).

    ``forward(pred, target)`` takes (N, 3, H, W) in [0, 1] and returns ``(perceptual, style)``; when not
    available it returns ``(None, None)`` (logging the reason once) and the caller leaves those loss keys out.
    """

    def __init__(self, weights_path: str | Path | None, layers: tuple[str, ...] = ("pool1", "pool2", "pool3")):
        super().__init__()
        self.layers = tuple(layers)
        self.vgg: nn.Module | None = None
        if weights_path is not None and str(weights_path) != "":
            from ..models.backbones.vgg import VGG16Features  # lazy: models imports losses

            self.vgg = VGG16Features(weights_path, taps=self.layers)

    @property
    def available(self) -> bool:
        return self.vgg is not None

    def forward(self, pred: torch.Tensor, target: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor] | tuple[None, None]:
        if self.vgg is None:
            global _said_disabled
            if not _said_disabled:  # said when a loss is first asked for (training), not when a model is loaded
                log.warning(DISABLED_MESSAGE)
                _said_disabled = True
            return None, None
        n = pred.shape[0]
        feats = self.vgg(torch.cat([pred, target], dim=0))  # one pass for both: (2N, C, h, w) per tap
        perceptual = pred.new_zeros(())
        style = pred.new_zeros(())
        for f in feats:
            fp, ft = f[:n], f[n:].detach()
            perceptual = perceptual + (fp - ft).abs().mean()
            style = style + (gram(fp) - gram(ft)).abs().mean()
        return perceptual, style
