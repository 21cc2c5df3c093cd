"""Training a detector (``inpaintkit forensics train --config configs/forensics/X.yaml``).

A detector is a *task* of the shared training loop (``inpaintkit.train.loop``): this module brings the config
groups, the data (augmented crops of an ``index.jsonl``, real and inpainted drawn equally often), the loss step and
the validation (image ROC-AUC on the val split); the loop brings the LR schedule, EMA, TensorBoard, the console,
checkpoints and the exact resume every ``inpaintkit train`` run has. When training ends the run is exported
(``model.safetensors`` + ``detector.json`` with the calibrated threshold).

Loss: BCE on the image logit + BCE and Dice on the pixel map (config keys = TensorBoard keys: ``train/loss_image``,
``train/loss_map_bce``, ``train/loss_map_dice``). Augmentations the real world applies to images, so the detector
survives them: resize by 0.5-1.5x, random crop, Gaussian blur, JPEG re-compression at quality 30-100, flips; and,
with ``augment.p_finish``, a finish in an inpainted sample's hole (grain, noise, sharpening, blur, or, named in
``augment.finishes``, an upsampling network's grid: ``finish``), so the detector does not rest on one inpainter's
finish (the bundled PNG CNN: docs/forensics-history.md).

The run folder is the shared one (``inpaintkit.train.checkpoint``); the family name in the checkpoints is
``detector``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Iterator, Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import yaml
from pydantic import BaseModel, Field, field_validator
from torch import nn
from tqdm import tqdm

from ..data.dataset import read_index
from ..errors import InpaintKitError
from ..io import read_image, read_mask
from ..models.base import StrictConfig
from ..models.grain import add_grain
from ..train.loop import Task, Validation, fit
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
    #: Validate on the val images re-compressed as JPEG at this quality (the JPEG CNN: 75), so that the best
    #: checkpoint and the threshold are chosen on the inputs the network is for; ``None``: the images as stored.
    val_jpeg: int | None = Field(None, ge=1, le=100)


class AugmentConfig(StrictConfig):
    resize: tuple[float, float] = (0.5, 1.5)
    p_resize: float = Field(0.5, ge=0, le=1)
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    p_blur: float = Field(0.15, ge=0, le=1)
    jpeg_quality: tuple[int, int] = (30, 100)
    p_jpeg: float = Field(0.5, ge=0, le=1)
    flip: bool = True
    #: the share of inpainted samples whose hole gets a finish (``finish``: one of ``finishes``)
    p_finish: float = Field(0.0, ge=0, le=1)
    #: the finishes' strength is drawn in this range (``finish``)
    finish_gain: tuple[float, float] = (0.5, 1.5)
    #: the finishes drawn from, equally often (``FINISHES``; ``grid`` is not among the default four, the bundled
    #: CNNs' recipe)
    finishes: tuple[str, ...] = ("grain", "noise", "sharpen", "smooth")

    @field_validator("finishes")
    @classmethod
    def _known_finishes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in v if k not in FINISHES]
        if bad or not v:
            raise ValueError(f"unknown finish {bad[0]!r}" if bad else "needs at least one finish")
        return v


class LossConfig(StrictConfig):
    image: float = Field(1.0, ge=0)
    map_bce: float = Field(1.0, ge=0)
    map_dice: float = Field(0.5, ge=0)


class OptimConfig(StrictConfig):
    """AdamW (no weight decay on biases and norms) and the LR schedule of every training run (``lr_factor``)."""

    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    schedule: Literal["constant", "cosine", "step"] = "cosine"
    warmup_steps: int = Field(100, ge=0)
    #: ``cosine``: decay to ``lr * min_lr_ratio`` at ``train.steps``
    min_lr_ratio: float = Field(0.05, ge=0, le=1)
    #: ``step``: the LR is multiplied by ``gamma`` every ``step_size`` steps.
    step_size: int = Field(1000, ge=1)
    gamma: float = Field(0.5, gt=0)
    grad_clip: float = Field(5.0, ge=0)


class TrainConfig(StrictConfig):
    steps: int = Field(2000, ge=1)
    seed: int = 0
    #: ``auto`` takes CUDA, then MPS, then CPU (the default keeps detector training on the CPU).
    device: str = "cpu"
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    compile: bool = False
    #: Micro-batches of ``data.batch_size`` per optimizer step.
    grad_accum: int = Field(1, ge=1)
    threads: int = Field(0, ge=0)
    ema: float = Field(0.995, ge=0, lt=1)
    log_every: int = Field(25, ge=1)
    val_every: int = Field(250, ge=1)
    ckpt_every: int = Field(250, ge=1)
    #: the default threshold: the highest of 0.5 and the (1 - target_fpr) quantile of real validation scores
    target_fpr: float = Field(0.02, ge=0, le=1)
    #: start from these weights instead of random ones (a fine-tune): a detector folder with ``model.safetensors``
    #: (a finished run, an export), or ``default`` (the bundled CNN) / ``default-jpeg`` (the bundled JPEG CNN). Its
    #: ``model`` config must be this run's, or differ from it only by a smaller ``width`` (the narrow network is
    #: widened into this one without changing what it computes). A resumed run continues from its own checkpoint.
    init: str | None = None


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


def load_train_config(
    path: str | Path | None, overrides: dict[str, Any] | list[str] | None = None
) -> DetectorTrainConfig:
    """YAML file (or defaults) + dotted ``--set`` overrides -> validated config: ``inpaintkit train``'s loader
    (``load_grouped``), so the same key checks and one-line errors naming the key."""
    from ..train.config import load_grouped

    return load_grouped(DetectorTrainConfig, path, overrides)


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


#: the post-processing ``finish`` can apply to a hole: ``augment`` draws one of ``augment.finishes`` per sample
FINISHES = ("grain", "noise", "sharpen", "smooth", "grid")
#: the periods (px) of the ``grid`` finish's pattern and how often each is drawn: a network that upsamples twice,
#: three or four times from its deepest stage leaves a grid of 4, 8 or 16 px
GRID_FINISH_PERIODS = {4: 0.3, 8: 0.5, 16: 0.2}


def grid_pattern(shape: tuple[int, int], rng: np.random.Generator, period: int | None = None) -> np.ndarray:
    """(H, W) float32, zero mean: a pattern that repeats every ``period`` px (drawn from ``GRID_FINISH_PERIODS``
    without one) and changes slowly across the image — two random tiles of unit spread (a little blurred, wrapping
    round) mixed by a smooth random field (spread 0.7-1 where they mix) — as an upsampling network's grid does, whose
    strength and shape follow the content under it."""
    h, w = shape
    if period is None:
        periods = list(GRID_FINISH_PERIODS)
        period = periods[int(rng.choice(len(periods), p=list(GRID_FINISH_PERIODS.values())))]
    p = int(period)
    tiles = []
    for _ in range(2):
        t = rng.normal(0.0, 1.0, (p, p)).astype(np.float32)
        t = cv2.GaussianBlur(np.tile(t, (3, 3)), (0, 0), float(rng.uniform(0.3, 1.0)))[p : 2 * p, p : 2 * p]
        t = (t - t.mean()) / (t.std() + 1e-6)
        tiles.append(np.tile(t, (h // p + 1, w // p + 1))[:h, :w])
    field = cv2.resize(rng.uniform(0.0, 1.0, (4, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return field * tiles[0] + (1.0 - field) * tiles[1]


def noise_sigma(rgb: np.ndarray, known: np.ndarray | None = None, per_channel: bool = False) -> np.ndarray:
    """The camera noise's standard deviation (grey levels): 1.4826 x the median |pixel - its 3x3 median| (robust to
    edges), over the ``known`` pixels (all of them without, or when none is known); one value for all channels, or
    one per channel with ``per_channel``."""
    res = np.abs(rgb.astype(np.float32) - cv2.medianBlur(np.ascontiguousarray(rgb), 3).astype(np.float32))
    r = res[known] if known is not None and known.any() else res.reshape(-1, res.shape[-1])
    return 1.4826 * np.median(r, axis=0 if per_channel else None)


def finish(rgb: np.ndarray, mask: np.ndarray, kind: str, gain: float, seed: int) -> np.ndarray:
    """``rgb`` (uint8 (H, W, 3), a fill) with its hole ``mask`` (bool (H, W)) post-processed the way a careful
    forger or a newer inpainter finishes a fill, so that the detector cannot rest on one inpainter's finish
    (``default`` adds photo grain, ``models.grain``): ``grain`` (``add_grain`` at ``gain``), ``noise`` (Gaussian,
    ``gain`` x the photo's own noise level), ``sharpen`` (unsharp mask, amount ``gain`` / 2, sigma 1 px), ``smooth``
    (Gaussian blur, sigma ``gain`` / 2 px), ``grid`` (``grid_pattern`` times ``gain`` x 1.5 x the photo's own noise level
    — taken as 1 grey level where lower —, each channel a little stronger or weaker: the grid an upsampling network
    leaves).
    Known pixels are unchanged; the change fades in over 1 px."""
    if not mask.any():
        return rgb
    if kind == "grain":
        return add_grain(rgb, mask, gain, seed=seed)
    x = rgb.astype(np.float32)
    if kind == "noise":
        y = x + np.random.default_rng(seed).normal(
            0.0, gain * max(0.5, float(noise_sigma(rgb, ~mask))), x.shape
        ).astype(np.float32)
    elif kind == "sharpen":
        y = x + 0.5 * gain * (x - cv2.GaussianBlur(x, (0, 0), 1.0))
    elif kind == "smooth":
        y = cv2.GaussianBlur(x, (0, 0), 0.5 * gain)
    elif kind == "grid":
        rng = np.random.default_rng(seed)
        amp = 1.5 * gain * max(1.0, float(noise_sigma(rgb, ~mask)))
        y = x + amp * grid_pattern(mask.shape, rng)[..., None] * (1 + rng.normal(0, 0.15, 3)).astype(np.float32)
    else:
        raise InpaintKitError(f"unknown finish {kind!r}; choose one of {', '.join(FINISHES)}")
    a = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.7) * mask  # 0 outside the hole, ~1 inside
    out = x + (y - x) * np.maximum(a, cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)))[..., None]
    return np.clip(out, 0, 255).round().astype(np.uint8)


def augment(
    rgb: np.ndarray, mask: np.ndarray, cfg: AugmentConfig, crop: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random finish of the hole (``p_finish``), resize, crop of ``crop``², blur, JPEG, flip. rgb uint8 (H, W, 3),
    mask bool (H, W)."""
    if cfg.p_finish > 0 and mask.any() and rng.random() < cfg.p_finish:
        kind = cfg.finishes[int(rng.integers(len(cfg.finishes)))]
        rgb = finish(rgb, mask, kind, float(rng.uniform(*cfg.finish_gain)), int(rng.integers(1 << 30)))
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


def load_sample(rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8, bool mask) of one ``read_index`` record; real samples get an empty mask."""
    rgb = read_image(rec["path"]).rgb
    if rec.get("mask_path"):
        return rgb, read_mask(rec["mask_path"], shape=rgb.shape[:2])
    return rgb, np.zeros(rgb.shape[:2], bool)


def select(records: list[dict[str, Any]], split: str, exclude: list[str] = ()) -> list[dict[str, Any]]:
    """The records of ``split`` made by none of the inpainters in ``exclude``: neither their ``inpainter`` nor the
    ``finished_from`` of a fill finished after another inpainter made it (``benchmarks/forensics_augment.py``'s
    ``grained`` fills), so that leaving X out also leaves out X's fills given a finish."""
    excl = set(exclude)
    return [
        r
        for r in records
        if r["split"] == split and r.get("inpainter") not in excl and r.get("finished_from") not in excl
    ]


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
    det: Detector, records: list[dict[str, Any]], transform=None, progress: bool = False
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Image scores and heatmaps of ``records`` (optionally after ``transform(rgb, mask) -> (rgb, mask)``)."""
    scores, heats = [], []
    for rec in tqdm(records, desc="score", disable=not progress, file=sys.stderr, leave=False):
        rgb, mask = load_sample(rec)
        if transform is not None:
            rgb, mask = transform(rgb, mask)
        res = det.detect(rgb)
        scores.append(res.score)
        heats.append(res.heatmap)
    return np.asarray(scores), heats


def val_transform(quality: int | None):
    """``score_records``' transform for validation: re-compress at JPEG ``quality`` (``data.val_jpeg``), or None."""
    return None if quality is None else (lambda rgb, mask: (jpeg(rgb, quality), mask))


def calibrate_threshold(real_scores: np.ndarray, target_fpr: float) -> float:
    """max(0.5, the (1 - target_fpr) quantile of real-image scores)."""
    if len(real_scores) == 0:
        return 0.5
    return float(max(0.5, np.quantile(real_scores, 1.0 - target_fpr)))


# -- the task -------------------------------------------------------------------------------------------------


class DetectorTask(Task):
    """A detector on the shared loop: batches of augmented crops, the detector losses, validation by image ROC-AUC
    (the selection score; an equal AUC moves ``best`` to the later checkpoint) and accuracy of the EMA weights, on
    the val images as stored or, with ``data.val_jpeg``, re-compressed at that JPEG quality."""

    name = FAMILY
    tags = {
        "loss_g": "train/",
        "loss_d": "train/d_",
        "lr_g": "train/lr",
        "lr_d": "train/lr_d",
        "speed": "train/img_per_s",
    }
    ties_go_to_later = True
    lr_keys = "optim.lr"

    def __init__(self, cfg: DetectorTrainConfig, device: torch.device, distributed: bool):
        if distributed:
            raise InpaintKitError("forensics train runs in one process; start it without torchrun")
        self.cfg, self.device = cfg, device
        self.batch_size = cfg.data.batch_size
        records = read_index(cfg.data.index)
        self.train_recs = select(records, "train", cfg.data.exclude_inpainters)
        self.val_recs = spread(select(records, "val", cfg.data.exclude_inpainters), cfg.data.val_count)
        if not self.train_recs:
            raise InpaintKitError(f"{cfg.data.index}: no training samples (split 'train', minus excluded inpainters)")
        labels = np.array([r["label"] for r in self.train_recs])
        weights = np.ones(len(self.train_recs))
        if cfg.data.balance and 0 < labels.sum() < len(labels):
            weights = np.where(labels == 1, 0.5 / labels.sum(), 0.5 / (len(labels) - labels.sum()))
        self.weights = weights / weights.sum()
        self.generator = ForgeryNet(cfg.model).to(device).train()
        if cfg.train.init:
            init_weights(self.generator, cfg.train.init)
        self.discriminators = nn.ModuleDict()
        # every batch and augmentation draws from this generator; its state is saved with each checkpoint
        self.rng = np.random.default_rng(cfg.train.seed)

    def optimizers(self) -> tuple[torch.optim.Optimizer, None]:
        decay, no_decay = [], []
        for _name, p in self.generator.named_parameters():
            (no_decay if p.ndim <= 1 else decay).append(p)
        o = self.cfg.optim
        groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=o.lr), None

    def batches(self, start: int) -> Iterator[dict[str, torch.Tensor]]:
        d = self.cfg.data
        while True:
            idx = self.rng.choice(len(self.train_recs), size=d.batch_size, p=self.weights)
            pairs = [augment(*load_sample(self.train_recs[i]), self.cfg.augment, d.crop, self.rng) for i in idx]
            x, m = to_batch(pairs)  # (N, 3, crop, crop), (N, 1, crop, crop)
            y = (m.flatten(1).mean(1) >= max(d.min_hole_ratio, 1e-9)).float()  # the crop may miss the hole
            yield {"image": x.to(self.device), "mask": m.to(self.device), "label": y.to(self.device)}

    def generator_step(self, batch: dict[str, torch.Tensor], it: int) -> tuple[dict[str, torch.Tensor], None]:
        return detector_losses(self.generator, batch["image"], batch["mask"], batch["label"], self.cfg.losses), None

    def validate(self, module: nn.Module, step: int) -> Validation:
        from sklearn.metrics import roc_auc_score

        metrics: dict[str, float] = {}
        score = -math.inf  # nothing to validate on: every validation counts as the best (the latest weights)
        if self.val_recs:
            transform = val_transform(self.cfg.data.val_jpeg)
            scores, _ = score_records(Detector(module.eval(), 0.5), self.val_recs, transform)
            y = np.array([r["label"] for r in self.val_recs])
            auc = float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else float("nan")
            metrics = {
                "val_auc": auc,
                "val_acc": float(((scores >= 0.5) == y).mean()),
                "threshold": calibrate_threshold(scores[y == 0], self.cfg.train.target_fpr),
            }
            score = auc
        self.generator.train()
        return Validation(
            score=score,
            metrics=metrics,
            record={k: round(v, 5) for k, v in metrics.items()},
            scalars={f"val/{k}": v for k, v in metrics.items()},
            message=", ".join(f"{k} {v:.4f}" for k, v in metrics.items()) or "no validation samples",
            postfix={"val_auc": f"{metrics['val_auc']:.3f}"} if metrics else {},
        )

    def state_dict(self) -> dict[str, Any]:
        return {"data_rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "data_rng" in state:
            self.rng.bit_generator.state = state["data_rng"]
        else:  # a checkpoint of the loop detectors had before the shared one: fresh, still seeded, batches
            self.rng = np.random.default_rng([self.cfg.train.seed, int(state["step"])])
            torch.manual_seed(self.cfg.train.seed + int(state["step"]))

    def upgrade_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """``state.pt`` of a detector run checkpointed before the shared loop: ``optimizer`` / ``best_auc``."""
        if "optimizer" in state and "opt_g" not in state:
            state = {**state, "opt_g": state["optimizer"], "best_score": state.get("best_auc", -math.inf)}
        return state


def init_weights(net: ForgeryNet, spec: str) -> None:
    """Load ``train.init`` (``default``, ``default-jpeg`` or a detector folder with ``model.safetensors``) into
    ``net``; a one-line error when it is missing or holds another network than ``net``'s model config. A folder
    whose network differs from ``net``'s only by a smaller ``model.width`` is widened into it (``widen_into``)."""
    from .cnn import BUNDLED_DIR
    from .detector import load_detector_net

    folder = {"default": BUNDLED_DIR, "default-jpeg": BUNDLED_DIR / "cnn_jpeg"}.get(spec, Path(spec))
    if not folder.is_dir():
        raise InpaintKitError(f"train.init={spec}: no such detector folder (or 'default' / 'default-jpeg')")
    src, _ = load_detector_net(folder)
    same_but_width = src.cfg.model_dump(exclude={"width"}) == net.cfg.model_dump(exclude={"width"})
    if same_but_width and src.cfg.width < net.cfg.width:
        widen_into(net, src)
        return
    try:
        net.load_state_dict(src.state_dict())
    except RuntimeError as e:
        raise InpaintKitError(f"train.init={spec}: its network does not match this run's model config") from e


@torch.no_grad()
def widen_into(net: ForgeryNet, src: ForgeryNet) -> None:
    """Load the narrower ``src`` into ``net`` so that ``net`` computes exactly what ``src`` did (Net2Net's
    function-preserving growth, with zeros instead of copies): every tensor of ``src`` goes into the leading corner
    of ``net``'s; the new channels keep ``net``'s fresh initialisation, and the weights that read the new channels
    into the old ones start at zero, so the old channels never see the new ones until training moves those weights.
    The image head reads [mean, max] of the last stage: its columns are mapped block by block. Only ungrouped
    convolutions widen this way (the ResNet-34 of the detectors)."""
    if any(isinstance(m, nn.Conv2d) and m.groups != 1 for m in net.modules()):
        raise InpaintKitError("train.init: a narrower network widens only without grouped convolutions")
    old, new = src.state_dict(), net.state_dict()
    c_old, c_new = src.backbone.feature_channels[-1], net.backbone.feature_channels[-1]
    out: dict[str, torch.Tensor] = {}
    for key, t in new.items():
        o = old[key]
        if o.shape == t.shape:
            out[key] = o.clone()
        elif key == "head.weight":  # columns: mean (c), max (c), the map's max and mean (2)
            w = torch.zeros_like(t)
            w[:, :c_old] = o[:, :c_old]
            w[:, c_new : c_new + c_old] = o[:, c_old : 2 * c_old]
            w[:, 2 * c_new :] = o[:, 2 * c_old :]
            out[key] = w
        else:
            w = t.clone()
            if t.ndim >= 2:
                w[: o.shape[0], o.shape[1] :] = 0  # old outputs ignore the new inputs
                w[: o.shape[0], : o.shape[1]] = o
            else:
                w[: o.shape[0]] = o
            out[key] = w
    net.load_state_dict(out)


def train_detector(cfg: DetectorTrainConfig, *, resume: bool = True) -> Path:
    """Train the run in ``cfg.run.dir`` on the shared loop — with ``resume`` (the CLI's default), continue it from
    its ``last`` checkpoint when it has one — then export it; returns the run folder."""
    run = Path(cfg.run.dir)
    res = fit(
        cfg,
        lambda device, dist, resume: DetectorTask(cfg, device, dist.enabled),
        resume=resume and (run / "last").exists(),
        resume_how="--resume (the default of `inpaintkit forensics train`)",
    )
    return export_run(run, cfg) if res.main else run


def export_run(run: str | Path, cfg: DetectorTrainConfig | None = None, which: str = "best") -> Path:
    """Write ``model.safetensors`` + ``detector.json`` from the run's best (else last) checkpoint's EMA weights,
    with the threshold calibrated on the validation split (re-compressed at ``data.val_jpeg`` when set)."""
    from ..train.checkpoint import CONFIG, GENERATOR, GENERATOR_EMA, checkpoint_dir, load_weights

    run = Path(run)
    cfg = cfg or load_train_config(run / CONFIG)
    ck = checkpoint_dir(run, which if (run / which).exists() else "last")
    net = ForgeryNet(cfg.model)
    load_weights(net, ck / GENERATOR_EMA if (ck / GENERATOR_EMA).is_file() else ck / GENERATOR, "detector")
    records = read_index(cfg.data.index)
    val_real = [r for r in records if r["split"] == "val" and r["label"] == 0]  # every real validation image
    threshold = 0.5
    if val_real:
        scores, _ = score_records(Detector(net.eval(), 0.5), val_real, val_transform(cfg.data.val_jpeg))
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
