"""Training inpainting models: the inpainting *task* of the shared loop (``loop.fit``).

``train(cfg)`` builds the family's generator and discriminators, the photo crops and masks (every sample a function
of its global sample number, so a resumed, multi-worker or multi-GPU run sees exactly the samples a straight run
would), the fixed validation set (composite PSNR / SSIM, optionally ``lpips_hed``) and on-demand learning's
schedule; ``loop.fit`` does the rest (schedule, steps, EMA, logging, checkpoints, exact resume). ``6 steps`` and
``3 steps + resume + 3 steps`` give bit-identical weights on CPU.

``Family.trains_generator / trains_discriminator`` switch either update off (GLCIC's phases).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data.dataset import StepSampler, TrainCrops, captions_of, load_records, validation_set
from ..masks import MaskMixture, OnDemandSchedule, create_mask_generator
from ..metrics import psnr_batch
from ..models.base import MODELS, Family, composite, zero_hole
from . import checkpoint as ck
from . import distributed as dd
from .config import Config
from .loop import Task, Validation, caller_globals_kept, fit, lr_factor  # noqa: F401 (lr_factor: re-exported)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    best_psnr: float
    #: (step, val PSNR, val SSIM) of every validation of this process's run (resumed runs: since the resume).
    history: list[tuple[int, float, float]] = field(default_factory=list)
    #: The trained modules of this process (unwrapped): generator, EMA generator (or None), discriminators.
    generator: nn.Module | None = None
    ema: nn.Module | None = None
    discriminators: nn.ModuleDict | None = None
    #: Whether this process is rank 0 (the one that writes and reports).
    main: bool = True


def die_with_parent(_worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: the worker gets SIGKILL when its parent dies (Linux), instead of noticing
    10-20 s later through torch's watchdog. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


@contextlib.contextmanager
def using_generator(family: Family, module: nn.Module) -> Iterator[Family]:
    """Temporarily swap the family's generator (EMA copy / unwrapped module for validation), in eval mode."""
    saved, was_training = family.generator, family.training
    family.generator = module
    family.eval()
    module.eval()
    try:
        yield family
    finally:
        family.generator = saved
        family.train(was_training)


def image_grid(batch: dict[str, torch.Tensor], out: torch.Tensor, raw: torch.Tensor, n: int = 4) -> torch.Tensor:
    """Rows of (masked input, mask, raw output, composite, ground truth): (3, n*S, 5*S) in [0, 1]."""
    img, mask = batch["image"][:n], batch["mask"][:n]
    cols = [zero_hole(img, mask) + mask * 0.5, mask.expand_as(img), raw[:n].clamp(0, 1), out[:n], img]
    rows = torch.cat(cols, dim=3)  # (n, 3, S, 5S)
    return torch.cat(list(rows), dim=1).cpu()  # (3, nS, 5S)


@torch.no_grad()
def validate(
    family: Family,
    generator: nn.Module,
    val: dict[str, Any],
    batch_size: int,
    device: torch.device,
    perceptual: nn.Module | None = None,
) -> tuple[float, float, torch.Tensor, float]:
    """Mean PSNR / SSIM of the composites on the fixed validation set, an image grid, and the mean ``lpips_hed``
    when ``perceptual`` (a ``backbones.vgg.HEDPerceptual``) is given (else NaN)."""
    from skimage.metrics import structural_similarity

    psnrs, ssims, lpips, first = [], [], [], None
    with using_generator(family, generator):
        for i in range(0, len(val["image"]), batch_size):
            b = {
                "image": val["image"][i : i + batch_size].to(device),
                "mask": val["mask"][i : i + batch_size].to(device),
                "caption": val["caption"][i : i + batch_size],
            }
            kw = {"caption": b["caption"]} if any(b["caption"]) else {}
            raw = family.generator(zero_hole(b["image"], b["mask"]), b["mask"], **kw)
            out = composite(raw.float().clamp(0, 1), b["image"], b["mask"])
            psnrs += psnr_batch(out, b["image"]).tolist()
            if perceptual is not None:
                lpips += perceptual.distance(out.float(), b["image"].float()).tolist()
            for o, t in zip(out.cpu().numpy(), b["image"].cpu().numpy()):
                ssims.append(structural_similarity(o, t, channel_axis=0, data_range=1.0))
            if first is None:
                first = image_grid(b, out, raw)
    return float(np.mean(psnrs)), float(np.mean(ssims)), first, float(np.mean(lpips)) if lpips else float("nan")


def init_weights(source: str, family: str, generator: nn.Module, discriminators: nn.ModuleDict) -> None:
    """``train.init_from``: load a finished run's generator (EMA copy when kept) and, when present, discriminators."""
    weights, _ = ck.find_generator_weights(source)
    ck.load_generator(generator, weights, expect_family=family)
    disc_file = weights.parent / ck.DISCRIMINATORS
    if len(discriminators) and disc_file.is_file():
        ck.load_weights(discriminators, disc_file, "discriminator")


class InpaintingTask(Task):
    """An inpainting family on the shared loop: photo crops with masks, the family's generator and discriminator
    steps, on-demand learning, validation by composite PSNR (or PSNR - w x lpips_hed) on fixed masks."""

    metric_keys = ("val_psnr", "val_ssim")
    lr_keys = "optim.generator.lr / optim.discriminator.lr"

    def __init__(self, cfg: Config, device: torch.device, dist: dd.DistInfo, resume: bool):
        t = cfg.train
        self.cfg, self.device, self.dist = cfg, device, dist
        self.name = cfg.family
        self.batch_size = t.batch_size
        self.family: Family = MODELS.get(cfg.family).obj(cfg.model, cfg.discriminator, cfg.losses).to(device)
        self.family.train()
        self.discriminators = self.family.discriminators
        if t.init_from and not resume:
            init_weights(t.init_from, cfg.family, self.family.generator, nn.ModuleDict(dict(self.discriminators)))
        self.ondemand = OnDemandSchedule(cfg.masks.n_bands) if cfg.masks.ondemand else None
        self.bands: list[int] | None = None
        self.validations = 0

    @property
    def generator(self) -> nn.Module:
        return self.family.generator

    @generator.setter
    def generator(self, module: nn.Module) -> None:
        self.family.generator = module

    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
        og, od = self.cfg.optim.generator, self.cfg.optim.discriminator
        opt_g = torch.optim.AdamW(self.generator.parameters(), lr=og.lr, betas=og.betas, weight_decay=og.weight_decay)
        opt_d = (
            torch.optim.AdamW(self.discriminators.parameters(), lr=od.lr, betas=od.betas, weight_decay=od.weight_decay)
            if len(self.discriminators)
            else None
        )
        return opt_g, opt_d

    def batches(self, start: int) -> Iterator[dict[str, Any]]:
        cfg, d, t, dist = self.cfg, self.cfg.data, self.cfg.train, self.dist
        mix = MaskMixture.from_config(cfg.masks.mix)
        train_recs = load_records(d.root, "train")
        self.family.prepare_training([c for r in train_recs for c in captions_of(r)])  # e.g. TDANet's BiGRU vocabulary
        val_root = d.val_root or (d.root if d.root and Path(d.root).is_file() else None)
        val_recs = load_records(val_root, "val", "data.val_root") if val_root else train_recs
        dataset = TrainCrops(
            train_recs,
            d.size,
            d.min_scale,
            d.max_scale,
            d.flip,
            None if self.ondemand else mix,
            seed=t.seed,
            cache_short_side=d.cache_short_side,
        )
        # the loader gets its own torch generator: creating its iterator must not draw from the global RNG (resume)
        loader = DataLoader(
            dataset,
            batch_size=t.batch_size,
            num_workers=d.num_workers,
            pin_memory=self.device.type == "cuda",
            sampler=StepSampler(start, t.steps, t.batch_size, t.grad_accum, dist.rank, dist.world),
            generator=torch.Generator().manual_seed(t.seed),
            worker_init_fn=die_with_parent,
        )
        band_gens = (
            [create_mask_generator("ondemand", band=b) for b in range(cfg.masks.n_bands)] if self.ondemand else []
        )

        def val_mask(j: int, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
            """Validation mask j: on-demand runs cycle through the bands, others draw from the training mix."""
            return band_gens[j % len(band_gens)](rng, shape) if band_gens else mix(rng, shape)

        self.val = None
        if dist.main:
            self.val = validation_set(
                val_recs,
                d.val_count,
                d.size,
                (d.min_scale + d.max_scale) / 2,
                val_mask,
                cfg.masks.val_seed,
                d.cache_short_side,
            )
        self.select_net = None
        if dist.main and t.select_by == "psnr_lpips":
            from ..backbones.vgg import HEDPerceptual

            self.select_net = HEDPerceptual().to(self.device)
        if dist.main and not val_root:
            print("note: validating on training photos; set data.val_root to held-out photos", file=sys.stderr)
        return iter(loader)

    def next_batch(self, batches: Iterator[dict[str, Any]], it: int, micro: int) -> dict[str, Any]:
        t, size = self.cfg.train, self.cfg.data.size
        batch = next(batches)
        batch["image"] = batch["image"].to(self.device, non_blocking=True)  # (B, 3, S, S)
        if self.ondemand is not None:
            masks, self.bands = self.ondemand.masks(
                t.batch_size, np.random.default_rng([t.seed, it, micro, self.dist.rank, 7]), (size, size)
            )
            batch["mask"] = torch.from_numpy(masks)[:, None].float()
        batch["mask"] = batch["mask"].to(self.device, non_blocking=True)  # (B, 1, S, S), 1 = hole
        if not any(batch["caption"]):
            batch.pop("caption")
        return batch

    def trains_generator(self, it: int) -> bool:
        return self.family.trains_generator(it)

    def trains_discriminator(self, it: int) -> bool:
        return self.family.trains_discriminator(it)

    def generator_step(self, batch: dict[str, Any], it: int) -> tuple[Any, ...]:
        return self.family.generator_step(batch, it)

    def discriminator_step(
        self, batch: dict[str, Any], pred: torch.Tensor, it: int, **fakes: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return self.family.discriminator_step(batch, pred, it, **fakes)

    def observe(self, batch: dict[str, Any], pred: torch.Tensor) -> None:
        """On-demand learning: running PSNR per band from this batch, summed over ranks."""
        if self.ondemand is None:
            return
        with torch.no_grad():
            p = (
                psnr_batch(composite(pred.detach().clamp(0, 1), batch["image"], batch["mask"]), batch["image"])
                .double()
                .cpu()
            )
        sums = torch.zeros(2, self.ondemand.n_bands, dtype=torch.float64)
        for b, v in zip(self.bands, p.tolist()):
            sums[0, b] += v
            sums[1, b] += 1
        if self.dist.enabled:
            sums = sums.to(self.device)
            torch.distributed.all_reduce(sums)
            sums = sums.cpu()
        for b in range(self.ondemand.n_bands):
            if sums[1, b] > 0:
                self.ondemand.update(b, float(sums[0, b] / sums[1, b]))

    def log_scalars(self) -> dict[str, float]:
        return self.ondemand.log() if self.ondemand is not None else {}

    def validate(self, module: nn.Module, step: int) -> Validation:
        t = self.cfg.train
        psnr, ssim, grid, lpips = validate(self.family, module, self.val, t.batch_size, self.device, self.select_net)
        self.validations += 1
        lp = self.select_net is not None
        score = psnr - t.select_lpips_weight * lpips if lp else psnr
        scalars = {"val/psnr": psnr, "val/ssim": ssim, **({"val/lpips_hed": lpips, "val/score": score} if lp else {})}
        first = self.validations == 1
        images = (
            {"val/masked_mask_output_composite_truth": grid}
            if step % t.image_every == 0 or step == t.steps or first
            else {}
        )
        extra = {"val_lpips_hed": round(lpips, 5), "val_score": round(score, 4)} if lp else {}
        return Validation(
            score=score,
            metrics={"val_psnr": psnr, "val_ssim": ssim},
            record={"val_psnr": round(psnr, 4), "val_ssim": round(ssim, 5), **extra},
            scalars=scalars,
            images=images,
            message=f"val PSNR {psnr:.2f} dB, SSIM {ssim:.4f}"
            + (f", lpips_hed {lpips:.4f}, score {score:.3f}" if lp else ""),
            postfix={"val_psnr": f"{psnr:.2f}"},
        )

    def state_dict(self) -> dict[str, Any]:
        return {"ondemand": self.ondemand.state_dict() if self.ondemand is not None else {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.ondemand is not None and state.get("ondemand"):
            self.ondemand.load_state_dict(state["ondemand"])


def train(cfg: Config, resume: bool = False) -> TrainResult:
    """Train ``cfg``'s family; with ``resume``, continue the run in ``cfg.run.dir`` from its ``last`` checkpoint.

    The global RNG states and torch's thread count are the caller's again when it returns (``caller_globals_kept``).
    """
    res = fit(
        cfg,
        lambda device, dist, resume: InpaintingTask(cfg, device, dist, resume),
        resume=resume,
        resume_how=f"--resume {cfg.run.dir}",
    )
    return TrainResult(
        res.run_dir,
        res.step,
        res.best_score,
        [(step, v.metrics["val_psnr"], v.metrics["val_ssim"]) for step, v in res.history],
        res.generator,
        res.ema,
        res.discriminators,
        res.main,
    )
