"""Inpainting detectors: a backbone (optionally behind a forensic stem) and a light decoder.

The network answers two questions at once, as MVSS-Net (Chen et al., ICCV 2021) and ManTra-Net (Wu et al., CVPR
2019) do: *was this image inpainted?* (one logit per image, from pooled deepest features) and *where?* (one logit
per pixel, from an FPN-style decoder over the four backbone stages, upsampled from stride 4).

``Detector`` wraps a trained network for inference on any image size (tiled: ``cnn.TiledDetector``);
``export_onnx_detector`` writes the same network as ``model.onnx``, which ``cnn.OnnxDetector`` runs without torch.
``load_detector(None)`` gives the bundled detector,
``load_detector("RUN_DIR")`` a trained run, an ensemble folder gives the stacked ensemble (``ensemble.py``).
"""

from __future__ import annotations

import json
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
from .cnn import (  # noqa: F401 (the files and helpers of a detector folder, re-exported)
    BUNDLED_DIR,
    BUNDLED_NAME,
    META_FILE,
    ONNX_FILE,
    STRIDE,
    WEIGHTS_FILE,
    TiledDetector,
    _check_rgb,
    file_digest,
    verdict_for,
)


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


class TileGraph(nn.Module):
    """What the tiled detectors run on a batch of tiles, and what ``model.onnx`` computes: (B, 3, h, w) in [0, 1]
    -> image logits (B,), pixel probabilities (B, h, w)."""

    def __init__(self, net: ForgeryNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, maps = self.net(x)
        return logits, torch.sigmoid(maps[:, 0])


class Detector(TiledDetector):
    """A trained ``ForgeryNet`` with its threshold, for any image size, on torch. ``detect(rgb) -> Detection``."""

    def __init__(
        self,
        net: ForgeryNet,
        threshold: float = 0.5,
        name: str = "detector",
        batch_size: int = 16,
        meta: dict[str, Any] | None = None,
    ):
        super().__init__(net.cfg.tile, net.cfg.tile_overlap, threshold, name, batch_size, meta)
        self.net = net.eval()
        self.cfg = net.cfg
        self.graph = TileGraph(self.net)

    @torch.inference_mode()
    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        device = next(self.net.parameters()).device  # a network still training may sit on a GPU
        logits, probs = self.graph(torch.from_numpy(batch).to(device))
        return logits.float().cpu().numpy(), probs.float().cpu().numpy()


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


def _fold_stem_for_export(net: ForgeryNet) -> ForgeryNet:
    """A copy of ``net`` computing the same function (to float rounding) faster on onnxruntime: the forensic stem
    (the image, its SRM residuals and its Bayar residuals, concatenated, then a BatchNorm: all linear) becomes one
    5x5 convolution with the BatchNorm folded in, and its 15 channels are padded with zero channels to 16, the
    block size of onnxruntime's fast convolutions. As exported plainly, the first backbone convolution (7x7 over
    the 15 channels) took half of the tile's time; padding alone took the bundled CNN's 256² tile from 37 to 24 ms
    of CPU on one thread (one session), folding saves the concatenation and BatchNorm passes besides."""
    import copy

    net = copy.deepcopy(net).eval()
    stem = net.stem
    if stem is None:
        return net
    first = next(m for m in net.backbone.modules() if isinstance(m, nn.Conv2d))
    c = stem.srm.in_chans
    k = stem.srm.weight.shape[-1]  # 5
    with torch.no_grad():
        srm, bayar = stem.srm.weight, stem.bayar.conv.weight  # (3C, 1, k, k) depthwise, (B, C, k, k) constrained
        kernel = torch.zeros(stem.out_chans, c, k, k)
        kernel[torch.arange(c), torch.arange(c), k // 2, k // 2] = 1.0  # the image itself
        kernel[c + torch.arange(len(srm)), torch.arange(len(srm)) // (len(srm) // c)] = srm[:, 0]
        kernel[c + len(srm) :] = bayar
        bn = stem.norm
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = bn.bias - bn.running_mean * scale
        pad = -stem.out_chans % 8
        conv = nn.Conv2d(c, stem.out_chans + pad, k, padding=k // 2)
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[: stem.out_chans] = kernel * scale[:, None, None, None]
        conv.bias[: stem.out_chans] = bias
        if first.in_channels != stem.out_chans or first.groups != 1:
            raise InpaintKitError(f"cannot fold the forensic stem: the backbone starts with {first}")
        first.weight = nn.Parameter(F.pad(first.weight, (0, 0, 0, 0, 0, pad)))
        first.in_channels += pad
    net.stem = conv
    return net


def export_onnx_detector(run_dir: str | Path) -> Path:
    """Write ``run_dir/model.onnx``: the detector's ``TileGraph`` (any batch, tile sides multiples of 32; the stem
    folded, ``_fold_stem_for_export``), with the SHA-256 of the ``model.safetensors`` it came from, its tile and
    overlap in the file's metadata; checked against the network on torch on seeded random batches (max |difference|
    of logits and probabilities <= 1e-4). Needs the ``onnx`` extra. Returns the path.

    ``python -c "from inpaintkit.forensics.detector import export_onnx_detector as e; e('inpaintkit/weights/detector')"``
    """
    try:
        import onnx
        import onnxruntime  # noqa: F401 (the check below runs the file)
    except ModuleNotFoundError:
        raise InpaintKitError(
            "exporting a detector to ONNX needs the onnx extra: pip install 'inpaintkit[onnx]'"
        ) from None
    from ..export.onnx import OPSET, _quiet
    from ..io import atomic_write_bytes
    from .cnn import OnnxDetector

    run_dir = Path(run_dir)
    net, meta = load_detector_net(run_dir)
    graph = TileGraph(_fold_stem_for_export(net)).eval()
    reference = TileGraph(net).eval()
    side = STRIDE * max(1, net.cfg.tile // STRIDE)
    example = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(0))
    n, h, w = torch.export.Dim("batch", min=1, max=256), torch.export.Dim("h", max=128), torch.export.Dim("w", max=128)
    with torch.no_grad(), _quiet():
        program = torch.onnx.export(
            graph,
            (example,),
            dynamo=True,
            opset_version=OPSET,
            verbose=False,
            input_names=["image"],
            output_names=["logit", "prob"],
            dynamic_shapes={"x": {0: n, 2: STRIDE * h, 3: STRIDE * w}},
        )
        program.optimize()  # folds constants (the Bayar constraint, the SRM kernels) into plain weights
    model = program.model_proto
    info = {
        "inpaintkit_detector": "ForgeryNet",
        "weights_sha256": file_digest(run_dir / WEIGHTS_FILE),
        "tile": str(net.cfg.tile),
        "tile_overlap": str(net.cfg.tile_overlap),
    }
    for k, v in info.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    out = run_dir / ONNX_FILE
    atomic_write_bytes(out, model.SerializeToString())
    # the file must compute what torch computes, at the tile size and a smaller padded one
    runner = OnnxDetector(out, threads=1)
    rng = np.random.default_rng(0)
    for shape in ((3, 3, side, side), (1, 3, STRIDE, min(side, 3 * STRIDE))):
        x = rng.random(shape, dtype=np.float32)
        with torch.inference_mode():
            ref = [t.numpy() for t in reference(torch.from_numpy(x))]
        diff = max(float(np.abs(a - b).max()) for a, b in zip(runner.forward(x), ref))
        if diff > 1e-4:
            out.unlink()
            raise InpaintKitError(f"{run_dir}: the ONNX export differs from torch by {diff:.2e} on {shape}; not kept")
    return out
