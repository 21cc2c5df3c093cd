"""Training a detector (``inpaintkit forensics train --config configs/forensics/X.yaml``).

One function, read top to bottom (nanoGPT-style): config -> data -> model -> optimiser -> loop (step, log,
validate, checkpoint) -> export (``model.safetensors`` + ``detector.json`` with the calibrated threshold).

Loss: BCE on the image logit + BCE and Dice on the pixel map (config keys = TensorBoard keys: ``loss_image``,
``loss_map_bce``, ``loss_map_dice``). Augmentations the real world applies to images, so the detector survives
them: resize by 0.5-1.5x, random crop, Gaussian blur, JPEG re-compression at quality 30-100, flips.

Checkpoints, resume, EMA and the run-folder layout come from the shared training system
(``inpaintkit.train.checkpoint`` / ``inpaintkit.train.ema``); the family name in the checkpoints is ``detector``.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import yaml
from pydantic import BaseModel, Field, ValidationError
from torch import nn
from tqdm import tqdm

from ..errors import InpaintKitError
from ..io import read_image, read_mask
from ..models.base import StrictConfig
from .dataset import read_index
from .detector import Detector, DetectorConfig, ForgeryNet, save_detector_run

FAMILY = "detector"


class DataConfig(StrictConfig):
    #: ``index.jsonl`` of ``make-dataset`` (or its folder).
    index: str = "data/forensics"
    #: Square training crop side, cut after the random resize.
    crop: int = Field(128, ge=32)
    batch_size: int = Field(16, ge=1)
    #: Inpainters whose samples are left out of training (leave-one-inpainter-out runs).
    exclude_inpainters: list[str] = Field(default_factory=list)
    #: Draw real and inpainted samples equally often.
    balance: bool = True
    #: A crop of an inpainted sample counts as inpainted when at least this share of its pixels is a hole.
    min_hole_ratio: float = Field(0.002, ge=0, le=1)
    #: Validation images per check (evenly spaced over the val split, so every source is represented).
    val_count: int = Field(240, ge=1)


class AugmentConfig(StrictConfig):
    resize: tuple[float, float] = (0.5, 1.5)
    p_resize: float = Field(0.5, ge=0, le=1)
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    p_blur: float = Field(0.15, ge=0, le=1)
    jpeg_quality: tuple[int, int] = (30, 100)
    p_jpeg: float = Field(0.5, ge=0, le=1)
    flip: bool = True


class LossConfig(StrictConfig):
    image: float = Field(1.0, ge=0)
    map_bce: float = Field(1.0, ge=0)
    map_dice: float = Field(0.5, ge=0)


class OptimConfig(StrictConfig):
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(100, ge=0)
    #: cosine decay to ``lr * min_lr_ratio`` at ``train.steps``
    min_lr_ratio: float = Field(0.05, ge=0, le=1)
    grad_clip: float = Field(5.0, ge=0)


class TrainConfig(StrictConfig):
    steps: int = Field(2000, ge=1)
    seed: int = 0
    threads: int = Field(0, ge=0)
    ema: float = Field(0.995, ge=0, lt=1)
    log_every: int = Field(25, ge=1)
    val_every: int = Field(250, ge=1)
    ckpt_every: int = Field(250, ge=1)
    #: the default threshold: the highest of 0.5 and the (1 - target_fpr) quantile of real validation scores
    target_fpr: float = Field(0.02, ge=0, le=1)


class RunConfig(StrictConfig):
    dir: str = "runs/detector"
    tensorboard: bool = True
    progress: bool = True


class DetectorTrainConfig(BaseModel):
    """The resolved config of a detector run (saved as ``RUN/config.yaml``)."""

    model_config = {"extra": "forbid"}

    data: DataConfig = Field(default_factory=DataConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    model: DetectorConfig = Field(default_factory=DetectorConfig)
    losses: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def load_train_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> DetectorTrainConfig:
    """YAML file (or defaults) + dotted ``--set`` overrides -> validated config; errors name the key."""
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InpaintKitError(f"{path}: no such config file")
        try:
            raw = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise InpaintKitError(f"{path}: not valid YAML ({' '.join(str(e).split())[:200]})") from None
    for key, value in (overrides or {}).items():
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InpaintKitError(f"--set {key}: {part} is not a group")
        node[parts[-1]] = value
    try:
        return DetectorTrainConfig(**raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise InpaintKitError(f"{path or 'config'}: {loc}: {msg}") from None


# -- data -------------------------------------------------------------------------------------------------------


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Re-compress RGB uint8 as JPEG at ``quality`` (OpenCV, 4:2:0 like most cameras and sites)."""
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def rescale(rgb: np.ndarray, mask: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = rgb.shape[:2]
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    m = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5
    return cv2.resize(rgb, size, interpolation=interp), m


def augment(
    rgb: np.ndarray, mask: np.ndarray, cfg: AugmentConfig, crop: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random resize, crop of ``crop``², blur, JPEG, flip. rgb uint8 (H, W, 3), mask bool (H, W)."""
    if rng.random() < cfg.p_resize:
        lo = max(cfg.resize[0], crop / min(rgb.shape[:2]))  # never smaller than the crop
        if cfg.resize[1] > lo:
            rgb, mask = rescale(rgb, mask, float(np.exp(rng.uniform(np.log(lo), np.log(cfg.resize[1])))))
    h, w = rgb.shape[:2]
    if h < crop or w < crop:
        rgb, mask = rescale(rgb, mask, crop / min(h, w) + 1e-6)
        h, w = rgb.shape[:2]
    t, l = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
    rgb, mask = rgb[t : t + crop, l : l + crop], mask[t : t + crop, l : l + crop]
    if rng.random() < cfg.p_blur:
        rgb = cv2.GaussianBlur(rgb, (0, 0), float(rng.uniform(*cfg.blur_sigma)))
    if rng.random() < cfg.p_jpeg:
        rgb = jpeg(rgb, int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
    if cfg.flip and rng.random() < 0.5:
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    return np.ascontiguousarray(rgb), np.ascontiguousarray(mask)


def load_sample(root: Path, rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8, bool mask) of one index record; real samples get an empty mask."""
    rgb = read_image(root / rec["path"]).rgb
    if rec.get("mask_path"):
        return rgb, read_mask(root / rec["mask_path"], shape=rgb.shape[:2])
    return rgb, np.zeros(rgb.shape[:2], bool)


def select(records: list[dict[str, Any]], split: str, exclude: list[str] = ()) -> list[dict[str, Any]]:
    return [r for r in records if r["split"] == split and r.get("inpainter") not in set(exclude)]


def spread(records: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """At most ``n`` records, evenly spaced (every source and inpainter represented)."""
    if len(records) <= n:
        return records
    return [records[i] for i in np.linspace(0, len(records) - 1, n).round().astype(int)]


def to_batch(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    """[(rgb, mask)] -> images (N, 3, H, W) in [0, 1], masks (N, 1, H, W) 1 = hole."""
    x = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).float() / 255.0
    m = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None].float()
    return x, m


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - Dice over each image's map, averaged; empty maps score 1 when the prediction is empty too."""
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return (1 - (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def detector_losses(
    net: nn.Module, x: torch.Tensor, m: torch.Tensor, y: torch.Tensor, cfg: LossConfig
) -> dict[str, torch.Tensor]:
    """Weighted named losses; keys are the config keys with a ``loss_`` prefix."""
    logit, maps = net(x)
    out = {"loss_image": cfg.image * F.binary_cross_entropy_with_logits(logit, y)}
    if cfg.map_bce:
        out["loss_map_bce"] = cfg.map_bce * F.binary_cross_entropy_with_logits(maps, m)
    if cfg.map_dice:
        out["loss_map_dice"] = cfg.map_dice * dice_loss(maps, m)
    return out


@torch.no_grad()
def score_records(
    det: Detector, root: Path, records: list[dict[str, Any]], transform=None, progress: bool = False
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Image scores and heatmaps of ``records`` (optionally after ``transform(rgb, mask) -> (rgb, mask)``)."""
    scores, heats = [], []
    for rec in tqdm(records, desc="score", disable=not progress, file=sys.stderr, leave=False):
        rgb, mask = load_sample(root, rec)
        if transform is not None:
            rgb, mask = transform(rgb, mask)
        res = det.detect(rgb)
        scores.append(res.score)
        heats.append(res.heatmap)
    return np.asarray(scores), heats


def calibrate_threshold(real_scores: np.ndarray, target_fpr: float) -> float:
    """max(0.5, the (1 - target_fpr) quantile of real-image scores)."""
    if len(real_scores) == 0:
        return 0.5
    return float(max(0.5, np.quantile(real_scores, 1.0 - target_fpr)))


# -- the loop ---------------------------------------------------------------------------------------------------


def train_detector(cfg: DetectorTrainConfig, *, resume: bool = True) -> Path:
    """Train (or resume) the run in ``cfg.run.dir``; returns the run folder with the exported detector."""
    from sklearn.metrics import roc_auc_score

    from ..train.checkpoint import CONFIG, GENERATOR, checkpoint_dir, load_state, load_weights, save_checkpoint
    from ..train.ema import EMA

    run = Path(cfg.run.dir)
    if (run / CONFIG).is_file() and not resume:
        raise InpaintKitError(f"{run}: already holds a run; pass --resume to continue it or choose another run.dir")
    run.mkdir(parents=True, exist_ok=True)
    (run / CONFIG).write_text(cfg.to_yaml())
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.train.seed)

    # data: (N, 3, crop, crop) batches of augmented samples; balanced real/inpainted draws
    root, records = read_index(cfg.data.index)
    train_recs = select(records, "train", cfg.data.exclude_inpainters)
    val_recs = spread(select(records, "val", cfg.data.exclude_inpainters), cfg.data.val_count)
    if not train_recs:
        raise InpaintKitError(f"{cfg.data.index}: no training samples (split 'train', minus excluded inpainters)")
    labels = np.array([r["label"] for r in train_recs])
    weights = np.ones(len(train_recs))
    if cfg.data.balance and 0 < labels.sum() < len(labels):
        weights = np.where(labels == 1, 0.5 / labels.sum(), 0.5 / (len(labels) - labels.sum()))
    weights /= weights.sum()

    net = ForgeryNet(cfg.model)
    ema = EMA(net, cfg.train.ema) if cfg.train.ema > 0 else None
    decay, no_decay = [], []
    for _name, p in net.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.optim.lr,
    )

    def lr_at(step: int) -> float:
        if step < cfg.optim.warmup_steps:
            return cfg.optim.lr * (step + 1) / cfg.optim.warmup_steps
        t = (step - cfg.optim.warmup_steps) / max(1, cfg.train.steps - cfg.optim.warmup_steps)
        lo = cfg.optim.lr * cfg.optim.min_lr_ratio
        return lo + 0.5 * (cfg.optim.lr - lo) * (1 + math.cos(math.pi * min(1.0, t)))

    step, best_auc = 0, -1.0
    rng = np.random.default_rng(cfg.train.seed)
    if resume and (run / "last").exists():
        ck = checkpoint_dir(run, "last")
        load_weights(net, ck / GENERATOR, "detector")
        state = load_state(ck)
        opt.load_state_dict(state["optimizer"])
        step, best_auc = int(state["step"]), float(state.get("best_auc", -1.0))
        if ema is not None and "ema" in state:
            load_weights(ema.module, ck / "generator_ema.safetensors", "detector EMA")
            ema.load_state_dict(state["ema"])
        rng = np.random.default_rng([cfg.train.seed, step])  # a resumed run draws fresh, still seeded, batches
        torch.manual_seed(cfg.train.seed + step)

    writer = None
    if cfg.run.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run))

    def validate() -> dict[str, float]:
        model = ema.module if ema is not None else net
        det = Detector(model.eval(), 0.5)
        scores, _ = score_records(det, root, val_recs)
        y = np.array([r["label"] for r in val_recs])
        out = {
            "val_auc": float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else float("nan"),
            "val_acc": float(((scores >= 0.5) == y).mean()),
        }
        net.train()
        return {**out, "threshold": calibrate_threshold(scores[y == 0], cfg.train.target_fpr)}

    def checkpoint(metrics: dict[str, float] | None = None, best: bool = False) -> None:
        state = {"optimizer": opt.state_dict(), "step": step, "best_auc": best_auc}
        if ema is not None:
            state["ema"] = ema.state_dict()
        save_checkpoint(
            run,
            step,
            family=FAMILY,
            generator=net,
            discriminators=nn.ModuleDict(),
            ema=ema.module if ema is not None else None,
            state=state,
            metrics=metrics,
            best=best,
        )

    net.train()
    bar = tqdm(
        total=cfg.train.steps, initial=step, desc=f"train {run.name}", disable=not cfg.run.progress, file=sys.stderr
    )
    t0, seen = time.perf_counter(), 0
    while step < cfg.train.steps:
        idx = rng.choice(len(train_recs), size=cfg.data.batch_size, p=weights)
        pairs = [augment(*load_sample(root, train_recs[i]), cfg.augment, cfg.data.crop, rng) for i in idx]
        x, m = to_batch(pairs)  # (N, 3, crop, crop), (N, 1, crop, crop)
        y = (m.flatten(1).mean(1) >= max(cfg.data.min_hole_ratio, 1e-9)).float()  # the crop may miss the hole
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        losses = detector_losses(net, x, m, y, cfg.losses)
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip:
            nn.utils.clip_grad_norm_(net.parameters(), cfg.optim.grad_clip)
        opt.step()
        if ema is not None:
            ema.update(net)
        step += 1
        seen += len(idx)
        bar.update(1)
        if step % cfg.train.log_every == 0:
            logs = {k: float(v.detach()) for k, v in losses.items()}
            logs["lr"] = lr_at(step)
            logs["img_per_s"] = seen / (time.perf_counter() - t0)
            bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items() if k.startswith("loss")})
            if writer is not None:
                for k, v in logs.items():
                    writer.add_scalar(f"train/{k}", v, step)
        if step % cfg.train.val_every == 0 or step == cfg.train.steps:
            metrics = validate() if val_recs else {}
            if writer is not None:
                for k, v in metrics.items():
                    writer.add_scalar(f"val/{k}", v, step)
            auc = metrics.get("val_auc", -1.0)
            is_best = not math.isnan(auc) and auc >= best_auc
            best_auc = max(best_auc, auc) if not math.isnan(auc) else best_auc
            tqdm.write(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()), file=sys.stderr)
            checkpoint(metrics, best=is_best)
        elif step % cfg.train.ckpt_every == 0:
            checkpoint()
    bar.close()
    if writer is not None:
        writer.close()
    return export_run(run, cfg)


def export_run(run: str | Path, cfg: DetectorTrainConfig | None = None, which: str = "best") -> Path:
    """Write ``model.safetensors`` + ``detector.json`` from the run's best (else last) checkpoint's EMA weights,
    with the threshold calibrated on the validation split."""
    from ..train.checkpoint import CONFIG, GENERATOR, GENERATOR_EMA, checkpoint_dir, load_weights

    run = Path(run)
    cfg = cfg or load_train_config(run / CONFIG)
    ck = checkpoint_dir(run, which if (run / which).exists() else "last")
    net = ForgeryNet(cfg.model)
    load_weights(net, ck / GENERATOR_EMA if (ck / GENERATOR_EMA).is_file() else ck / GENERATOR, "detector")
    root, records = read_index(cfg.data.index)
    val_real = [r for r in records if r["split"] == "val" and r["label"] == 0]  # every real validation image
    threshold = 0.5
    if val_real:
        scores, _ = score_records(Detector(net.eval(), 0.5), root, val_real)
        threshold = calibrate_threshold(scores, cfg.train.target_fpr)
    save_detector_run(
        run,
        net,
        threshold=threshold,
        extra_meta={
            "exclude_inpainters": cfg.data.exclude_inpainters,
            "checkpoint": ck.name,
            "trained_on": sorted(
                {r["inpainter"] for r in records if r["split"] == "train" and r["inpainter"]}
                - set(cfg.data.exclude_inpainters)
            ),
        },
    )
    return run
