"""VGG16 (Simonyan & Zisserman 2015), convolutional part, in plain torch, for feature losses and LPIPS.

The module mirrors torchvision's ``vgg16().features`` layer for layer, so a torchvision state dict
(``features.0.weight`` ... ``features.28.bias``; ``classifier.*`` keys are ignored) loads as is. Weights come only
from a file the user names (safetensors, or anything ``torch.load(..., weights_only=True)`` reads); this module
never downloads and never runs with random weights.

Taps are named as in the paper: ``conv1_1 relu1_1 conv1_2 relu1_2 pool1 conv2_1 ... relu5_3 pool5``. Only the
layers up to the deepest requested tap are built and run.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ...errors import InpaintKitError

#: Channels per block; each block is its convs (3×3, padding 1) + ReLU, then a 2×2 max pool.
_BLOCKS: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_names() -> list[str]:
    """Names of torchvision's ``features`` indices, in order (``features.0`` = ``conv1_1``)."""
    names: list[str] = []
    for b, convs in enumerate(_BLOCKS, start=1):
        for c in range(1, len(convs) + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return names


VGG16_TAPS: tuple[str, ...] = tuple(_layer_names())


def load_state_dict_file(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict from ``path``: safetensors by suffix, else ``torch.load(weights_only=True)``.

    A checkpoint dict with a ``state_dict`` entry is unwrapped. Every failure is an ``InpaintKitError`` naming the file.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise InpaintKitError(f"{what} file {str(p)!r} does not exist; give the path of a saved state dict")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(p))
        else:
            sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any read failure is the file's fault
        raise InpaintKitError(f"cannot read {what} file {str(p)!r}: {type(e).__name__}: {e}") from None
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise InpaintKitError(f"{what} file {str(p)!r} is not a state dict (name -> tensor)")
    return sd


class VGG16Features(nn.Module):
    """Frozen VGG16 feature extractor returning named taps.

    Args:
        weights_path: a torchvision-format VGG16 state dict (``features.N.weight``/``bias`` keys; a bare
            ``features`` state dict with ``N.weight`` keys is accepted too).
        taps: names from ``VGG16_TAPS`` to return, in the order given.
        normalize: apply ImageNet mean/std to inputs in [0, 1] (the torchvision weights expect it). Set ``False``
            to feed already-normalised inputs (e.g. LPIPS's own scaling).

    ``forward(x)`` with x (N, 3, H, W) returns a list of the requested feature maps.
    """

    def __init__(self, weights_path: str | Path, taps: tuple[str, ...] | list[str] = ("pool1", "pool2", "pool3"),
                 normalize: bool = True):
        super().__init__()
        unknown = [t for t in taps if t not in VGG16_TAPS]
        if unknown or not taps:
            raise InpaintKitError(f"unknown VGG16 tap(s) {unknown or list(taps)}; choose from: {', '.join(VGG16_TAPS)}")
        self.taps = tuple(taps)
        self.normalize = normalize
        depth = max(VGG16_TAPS.index(t) for t in self.taps) + 1
        layers: list[nn.Module] = []
        in_ch = 3
        for convs in _BLOCKS:
            for out_ch in convs:
                layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.ReLU(inplace=False)]
                in_ch = out_ch
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers[:depth])  # same indices as torchvision's vgg16().features
        self._tap_index = {VGG16_TAPS.index(t): t for t in self.taps}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._load(weights_path)
        self.requires_grad_(False)
        self.eval()

    def _load(self, path: str | Path) -> None:
        sd = load_state_dict_file(path, "VGG16 weights")
        if not any(k.startswith("features.") for k in sd):
            sd = {f"features.{k}": v for k, v in sd.items()}
        own = self.state_dict()
        missing = [k for k in own if k not in sd]
        if missing:
            raise InpaintKitError(f"VGG16 weights file {str(path)!r} is not a torchvision VGG16 state dict "
                                  f"(missing {missing[0]} and {len(missing) - 1} more keys)")
        bad = [k for k in own if tuple(sd[k].shape) != tuple(own[k].shape)]
        if bad:
            raise InpaintKitError(f"VGG16 weights file {str(path)!r} has wrong shapes ({bad[0]}: "
                                  f"{tuple(sd[bad[0]].shape)}, expected {tuple(own[bad[0]].shape)})")
        self.load_state_dict({k: sd[k].float() for k in own})

    def train(self, mode: bool = True) -> "VGG16Features":
        return super().train(False)  # always frozen: no mode changes (it has no BN/dropout anyway)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.normalize:
            x = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._tap_index:
                out[self._tap_index[i]] = x
        return [out[t] for t in self.taps]
