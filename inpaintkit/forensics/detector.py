"""Inpainting detectors: a backbone (optionally behind a forensic stem) and a light decoder.

The network answers two questions at once, as MVSS-Net (Chen et al., ICCV 2021) and ManTra-Net (Wu et al., CVPR
2019) do: *was this image inpainted?* (one logit per image, from pooled deepest features) and *where?* (one logit
per pixel, from an FPN-style decoder over the four backbone stages, upsampled from stride 4).

``Detector`` wraps a trained network for inference on any image size: images larger than the training tile are
cut into overlapping tiles; the heatmap averages the tiles' maps, the image score is the highest tile score
(an image is inpainted if any part of it is). ``load_detector(None)`` gives the bundled detector,
``load_detector("RUN_DIR")`` a trained run, an ensemble folder gives the stacked ensemble (``ensemble.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from pydantic import Field
from safetensors.torch import load_file, save_file
from torch import nn

from ..backbones import BACKBONES, BackboneName
from ..detection import Detection  # noqa: F401 (the verdict type, re-exported)
from ..errors import InpaintKitError
from ..layers.forensic import ForensicStem
from ..models.base import StrictConfig

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "weights" / "detector"
BUNDLED_NAME = "default"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "detector.json"


class DetectorConfig(StrictConfig):
    """The ``model`` group of a detector config."""

    backbone: BackboneName = "resnet34"
    #: Channel multiplier of the backbone (0.5: a quarter of the compute).
    width: float = Field(1.0, gt=0, le=2)
    #: SRM high-pass filters + Bayar constrained conv in front of the backbone.
    forensic_stem: bool = True
    decoder_channels: int = Field(64, ge=8)
    #: Side of the square tiles used at inference (the training crop size).
    tile: int = Field(256, ge=32)
    #: Overlap between neighbouring tiles at inference, in pixels.
    tile_overlap: int = Field(32, ge=0)


class ForgeryNet(nn.Module):
    """(N, 3, H, W) in [0, 1] -> image logits (N,), map logits (N, 1, H, W)."""

    def __init__(self, cfg: DetectorConfig):
        super().__init__()
        self.cfg = cfg
        self.stem = ForensicStem(3) if cfg.forensic_stem else None
        in_chans = self.stem.out_chans if self.stem is not None else 3
        self.backbone = BACKBONES[cfg.backbone](in_chans=in_chans, width=cfg.width)
        chans = self.backbone.feature_channels
        d = cfg.decoder_channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, d, 1) for c in chans)
        self.fuse = nn.Sequential(
            nn.Conv2d(d, d, 3, padding=1, bias=False), nn.BatchNorm2d(d), nn.ReLU(inplace=True), nn.Conv2d(d, 1, 1)
        )
        # image head: average *and* max pooling — a small inpainted patch shows up in the max, not in the mean
        self.head = nn.Linear(2 * chans[-1] + 2, 1)
        # most pixels are not inpainted: start the map at a prior of ~10 % instead of 50 % (faster, stabler start)
        nn.init.constant_(self.fuse[-1].bias, -2.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = x.shape[-2:]
        z = (x - 0.5) / 0.25
        if self.stem is not None:
            z = self.stem(x)  # the stem normalises its own channels
        feats = self.backbone(z)  # strides 4, 8, 16, 32
        y = self.lateral[-1](feats[-1])
        for lat, f in zip(reversed(self.lateral[:-1]), reversed(feats[:-1])):
            y = lat(f) + F.interpolate(y, size=f.shape[-2:], mode="bilinear", align_corners=False)
        m = self.fuse(y)  # (N, 1, H/4, W/4)
        top = feats[-1]
        # the map's own evidence (max and mean logit) feeds the image head, so image and map agree
        pooled = torch.cat([top.mean((2, 3)), top.amax((2, 3)), m.amax((2, 3)), m.mean((2, 3))], dim=1)
        logit = self.head(pooled)[:, 0]
        return logit, F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)


def verdict_for(score: float, threshold: float) -> str:
    return "inpainted" if score >= threshold else "authentic"


def _tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    k = math.ceil((n - tile) / max(1, tile - overlap)) + 1
    return sorted({round(i * (n - tile) / (k - 1)) for i in range(k)})


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> float32 (1, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.asarray(rgb, np.float32) / 255.0).permute(2, 0, 1)[None]  # a writable copy


class Detector:
    """A trained ``ForgeryNet`` with its threshold, for any image size. ``detect(rgb) -> Detection``."""

    def __init__(
        self,
        net: ForgeryNet,
        threshold: float = 0.5,
        name: str = "detector",
        batch_size: int = 16,
        meta: dict[str, Any] | None = None,
    ):
        self.net = net.eval()
        self.cfg = net.cfg
        self.threshold = float(threshold)
        self.name = name
        self.batch_size = batch_size
        self.meta = meta or {}

    @torch.inference_mode()
    def predict(self, rgb: np.ndarray) -> tuple[float, np.ndarray]:
        """Image logit and per-pixel probabilities (H, W) float32, tiled over the image."""
        rgb = _check_rgb(rgb)
        h, w = rgb.shape[:2]
        tile, ov = self.cfg.tile, self.cfg.tile_overlap
        x = image_to_tensor(rgb)
        # pad small images up to a multiple of 32 (the backbone's stride), mirrored so no black border appears
        ph, pw = max(h, min(tile, -(-h // 32) * 32)), max(w, min(tile, -(-w // 32) * 32))
        if (ph, pw) != (h, w):
            x = F.pad(x, (0, pw - w, 0, ph - h), mode="replicate")
        th, tw = min(tile, ph), min(tile, pw)
        boxes = [(t, l) for t in _tile_starts(ph, th, ov) for l in _tile_starts(pw, tw, ov)]
        heat = torch.zeros(ph, pw)
        weight = torch.zeros(ph, pw)
        best = -math.inf
        device = next(self.net.parameters()).device  # a network still training may sit on a GPU
        for i in range(0, len(boxes), self.batch_size):
            chunk = boxes[i : i + self.batch_size]
            batch = torch.cat([x[..., t : t + th, l : l + tw] for t, l in chunk])  # (B, 3, th, tw)
            logits, maps = self.net(batch.to(device))
            best = max(best, float(logits.max()))
            probs = torch.sigmoid(maps[:, 0]).float().cpu()
            for (t, l), p in zip(chunk, probs):
                heat[t : t + th, l : l + tw] += p
                weight[t : t + th, l : l + tw] += 1
        heat = (heat / weight.clamp_min(1))[:h, :w]
        return best, heat.numpy().astype(np.float32)

    def detect(self, rgb: np.ndarray) -> Detection:
        logit, heat = self.predict(rgb)
        score = float(1.0 / (1.0 + math.exp(-logit)))
        return Detection(score, verdict_for(score, self.threshold), heat)

    __call__ = detect


def _check_rgb(rgb: Any) -> np.ndarray:
    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise InpaintKitError(f"image must be uint8, got {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise InpaintKitError(f"image must be (H, W, 3) RGB, got shape {a.shape}")
    if min(a.shape[:2]) < 8:
        raise InpaintKitError(f"image is {a.shape[1]}x{a.shape[0]}; the detector needs at least 8x8 pixels")
    return a[..., :3]


# -- run folders ----------------------------------------------------------------------------------------------------


def save_detector_run(
    run_dir: str | Path,
    net: ForgeryNet,
    *,
    threshold: float = 0.5,
    extra_meta: dict[str, Any] | None = None,
    weights_dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``model.safetensors`` and ``detector.json`` (threshold, model config) into ``run_dir``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to(weights_dtype if v.is_floating_point() else v.dtype).contiguous()
        for k, v in net.state_dict().items()
    }
    save_file(state, str(run_dir / WEIGHTS_FILE))
    meta = {"threshold": float(threshold), "model": net.cfg.model_dump(), **(extra_meta or {})}
    (run_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return run_dir


def _read_meta(run_dir: Path) -> dict[str, Any]:
    meta_p = run_dir / META_FILE
    if meta_p.is_file():
        return json.loads(meta_p.read_text())
    cfg_p = run_dir / "config.yaml"  # a run still training: only its config and checkpoint exist
    if cfg_p.is_file():
        cfg = yaml.safe_load(cfg_p.read_text()) or {}
        return {"threshold": 0.5, "model": cfg.get("model", {})}
    raise InpaintKitError(
        f"{run_dir}: not a detector run folder (no {META_FILE} or config.yaml); "
        "train one with `inpaintkit forensics train`"
    )


def load_detector_net(run_dir: str | Path) -> tuple[ForgeryNet, dict[str, Any]]:
    run_dir = Path(run_dir)
    meta = _read_meta(run_dir)
    net = ForgeryNet(DetectorConfig(**meta.get("model", {})))
    weights = run_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise InpaintKitError(f"{run_dir}: no {WEIGHTS_FILE}; train the detector first (`inpaintkit forensics train`)")
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InpaintKitError(
            f"{weights}: weights do not match the model config "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors)"
        )
    return net.eval(), meta
