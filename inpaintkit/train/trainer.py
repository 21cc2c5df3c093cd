"""The training loop: one function, read top to bottom (nanoGPT-style).

setup (device, processes, seeds) -> model, EMA, optimizers -> resume -> data and masks -> for each step:
learning rate, generator step, discriminator step on the detached prediction, optimizer steps, EMA, log,
validate, checkpoint. Every random thing is seeded and every sample is a function of its global sample number, so
``6 steps`` and ``3 steps + resume + 3 steps`` give bit-identical weights on CPU.

GAN step order within a step: the generator's losses are computed against the current discriminators (whose
parameters are frozen for that backward, so they collect no gradient), then the discriminators learn from the
generator's prediction (detached), then both optimizers step. ``Family.trains_generator / trains_discriminator``
switch either update off (GLCIC's phases).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data.dataset import StepSampler, TrainCrops, captions_of, load_records, validation_set
from ..device import pick_device
from ..errors import InpaintKitError
from ..evaluate.metrics import psnr_batch
from ..masks import MaskMixture, OnDemandSchedule, create_mask_generator
from ..models.base import MODELS, Family, composite, zero_hole
from . import checkpoint as ck
from . import distributed as dd
from .config import Config
from .ema import EMA


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


def lr_factor(step: int, cfg: Config) -> float:
    """Multiplier of the base LR at ``step`` (0-based): linear warmup, then constant / cosine / step decay."""
    o, total = cfg.optim, cfg.train.steps
    if step < o.warmup_steps:
        return (step + 1) / o.warmup_steps
    if o.schedule == "cosine":
        progress = min(1.0, (step - o.warmup_steps) / max(1, total - o.warmup_steps))
        return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if o.schedule == "step":
        return o.gamma ** ((step - o.warmup_steps) // o.step_size)
    return 1.0


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


@contextlib.contextmanager
def caller_globals_kept() -> Iterator[None]:
    """Training seeds the global RNGs (Python, NumPy, torch; exact resume restores them) and may set torch's thread
    count: put the caller's back afterwards, so ``train()`` changes nothing behind a library user's back."""
    state, threads = ck.rng_state(), torch.get_num_threads()
    try:
        yield
    finally:
        ck.set_rng_state(state)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def train(cfg: Config, resume: bool = False) -> TrainResult:
    """Train ``cfg``'s family; with ``resume``, continue the run in ``cfg.run.dir`` from its ``last`` checkpoint.

    The global RNG states and torch's thread count are the caller's again when it returns (``caller_globals_kept``).
    """
    with caller_globals_kept():
        return _train(cfg, resume)


def _train(cfg: Config, resume: bool) -> TrainResult:
    # ---- setup: device, processes, threads, seeds ---------------------------------------------------------------
    t = cfg.train
    device = pick_device(t.device)
    dist = dd.setup(device.type)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    if t.threads:
        torch.set_num_threads(t.threads)
    run_dir = Path(cfg.run.dir)
    if dist.main:
        if not resume and (run_dir / "last").exists():
            raise InpaintKitError(
                f"run.dir={run_dir} already holds a run; continue it with --resume {run_dir} or choose another run.dir"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            (run_dir / ck.CONFIG).write_text(cfg.to_yaml())
    dd.barrier(dist)
    random.seed(t.seed)
    np.random.seed(t.seed)
    torch.manual_seed(t.seed)  # same initial weights on every rank

    # ---- model, EMA, optimizers -----------------------------------------------------------------------------------
    family: Family = MODELS.get(cfg.family).obj(cfg.model, cfg.discriminator, cfg.losses).to(device)
    family.train()
    generator = family.generator  # the unwrapped modules: these are saved, the wrapped ones run
    discriminators = nn.ModuleDict(dict(family.discriminators))
    if t.init_from and not resume:
        init_weights(t.init_from, cfg.family, generator, discriminators)
    ema = EMA(generator, t.ema) if t.ema > 0 else None
    og, od = cfg.optim.generator, cfg.optim.discriminator
    opt_g = torch.optim.AdamW(generator.parameters(), lr=og.lr, betas=og.betas, weight_decay=og.weight_decay)
    opt_d = (
        torch.optim.AdamW(discriminators.parameters(), lr=od.lr, betas=od.betas, weight_decay=od.weight_decay)
        if len(discriminators)
        else None
    )
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(t.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=t.precision == "fp16")

    def autocast() -> contextlib.AbstractContextManager:
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    ondemand = OnDemandSchedule(cfg.masks.n_bands) if cfg.masks.ondemand else None
    torch.manual_seed(t.seed + 1000 * dist.rank)  # per-rank randomness from here on (dropout, noise)

    # ---- resume -------------------------------------------------------------------------------------------------------
    start, best_psnr = 0, -math.inf
    if resume:
        if dist.rank == 0:
            ck.clean_stale_temps(run_dir)  # half-written checkpoints of a killed run
        last = ck.checkpoint_dir(run_dir, "last")
        ck.load_weights(generator, last / ck.GENERATOR, "generator")
        if ema is not None and (last / ck.GENERATOR_EMA).is_file():
            ck.load_weights(ema.module, last / ck.GENERATOR_EMA, "EMA generator")
        if len(discriminators):
            ck.load_weights(discriminators, last / ck.DISCRIMINATORS, "discriminator")
        state = ck.load_state(last)
        start, best_psnr = int(state["step"]), float(state["best_psnr"])
        opt_g.load_state_dict(state["opt_g"])
        if opt_d is not None:
            opt_d.load_state_dict(state["opt_d"])
        scaler.load_state_dict(state["scaler"])
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        if ondemand is not None and state.get("ondemand"):
            ondemand.load_state_dict(state["ondemand"])
        rngs = state["rng"]
        ck.set_rng_state(rngs[dist.rank] if dist.rank < len(rngs) else rngs[0])
        if start >= t.steps:
            raise InpaintKitError(
                f"{run_dir}: already trained {start} steps (train.steps={t.steps}); raise it with "
                f"--set train.steps=N to train longer"
            )

    # ---- wrappers: torch.compile, DistributedDataParallel --------------------------------------------------------
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if device.type == "cuda" else None
        family.generator = DDP(generator, device_ids=ids, find_unused_parameters=True)
        for k in discriminators:
            family.discriminators[k] = DDP(discriminators[k], device_ids=ids, find_unused_parameters=True)
    if t.compile:
        family.generator = torch.compile(family.generator)

    # ---- data and masks -------------------------------------------------------------------------------------------
    d = cfg.data
    mix = MaskMixture.from_config(cfg.masks.mix)
    train_recs = load_records(d.root, "train")
    family.prepare_training([c for r in train_recs for c in captions_of(r)])  # e.g. TDANet's BiGRU vocabulary
    val_root = d.val_root or (d.root if d.root and Path(d.root).is_file() else None)
    val_recs = load_records(val_root, "val", "data.val_root") if val_root else train_recs
    dataset = TrainCrops(
        train_recs,
        d.size,
        d.min_scale,
        d.max_scale,
        d.flip,
        None if ondemand else mix,
        seed=t.seed,
        cache_short_side=d.cache_short_side,
    )
    # the loader gets its own torch generator: creating its iterator must not draw from the global RNG (resume)
    loader = DataLoader(
        dataset,
        batch_size=t.batch_size,
        num_workers=d.num_workers,
        pin_memory=device.type == "cuda",
        sampler=StepSampler(start, t.steps, t.batch_size, t.grad_accum, dist.rank, dist.world),
        generator=torch.Generator().manual_seed(t.seed),
        worker_init_fn=die_with_parent,
    )
    batches = iter(loader)
    band_gens = [create_mask_generator("ondemand", band=b) for b in range(cfg.masks.n_bands)] if ondemand else []

    def val_mask(j: int, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """Validation mask j: on-demand runs cycle through the bands, others draw from the training mix."""
        return band_gens[j % len(band_gens)](rng, shape) if band_gens else mix(rng, shape)

    val = (
        validation_set(
            val_recs,
            d.val_count,
            d.size,
            (d.min_scale + d.max_scale) / 2,
            val_mask,
            cfg.masks.val_seed,
            d.cache_short_side,
        )
        if dist.main
        else None
    )

    select_net = None
    if dist.main and t.select_by == "psnr_lpips":
        from ..backbones.vgg import HEDPerceptual

        select_net = HEDPerceptual().to(device)

    writer = None
    if dist.main and cfg.run.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir), purge_step=start if resume else None)
    if dist.main and not val_root:
        print("note: validating on training photos; set data.val_root to held-out photos", file=sys.stderr)
    bar = tqdm(
        total=t.steps,
        initial=start,
        desc=f"train {cfg.family}",
        unit="step",
        file=sys.stderr,
        disable=not (dist.main and cfg.run.progress),
        dynamic_ncols=True,
    )
    history: list[tuple[int, float, float]] = []
    t_last, imgs_since = time.perf_counter(), 0

    # ---- the loop ----------------------------------------------------------------------------------------------------
    for it in range(start, t.steps):
        step = it + 1  # optimizer steps done after this iteration
        lr_mult = lr_factor(it, cfg)
        for g in opt_g.param_groups:
            g["lr"] = og.lr * lr_mult
        if opt_d is not None:
            for g in opt_d.param_groups:
                g["lr"] = od.lr * lr_mult
        train_g = family.trains_generator(it)
        train_d = opt_d is not None and family.trains_discriminator(it)
        opt_g.zero_grad(set_to_none=True)
        if opt_d is not None:
            opt_d.zero_grad(set_to_none=True)
        logs_g: dict[str, float] = {}
        logs_d: dict[str, float] = {}
        for micro in range(t.grad_accum):
            batch = next(batches)
            batch["image"] = batch["image"].to(device, non_blocking=True)  # (B, 3, S, S)
            bands = None
            if ondemand is not None:
                masks, bands = ondemand.masks(
                    t.batch_size, np.random.default_rng([t.seed, it, micro, dist.rank, 7]), (d.size, d.size)
                )
                batch["mask"] = torch.from_numpy(masks)[:, None].float()
            batch["mask"] = batch["mask"].to(device, non_blocking=True)  # (B, 1, S, S), 1 = hole
            if not any(batch["caption"]):
                batch.pop("caption")

            # generator: losses against the current (frozen) discriminators
            discriminators.requires_grad_(False)
            with autocast(), contextlib.nullcontext() if train_g else torch.no_grad():
                losses_g, pred, *more = family.generator_step(batch, it)
            fakes = {k: v.detach() for k, v in (more[0] if more else {}).items()}  # for the discriminator step
            if train_g:
                total_g = sum(losses_g.values())
                scaler.scale(total_g / t.grad_accum).backward()
            for k, v in losses_g.items():
                logs_g[k] = logs_g.get(k, 0.0) + float(v.detach()) / t.grad_accum

            # discriminators: on the detached prediction
            discriminators.requires_grad_(True)
            if train_d:
                with autocast():
                    losses_d = family.discriminator_step(batch, pred.detach(), it, **fakes)
                if losses_d:
                    scaler.scale(sum(losses_d.values()) / t.grad_accum).backward()
                for k, v in losses_d.items():
                    logs_d[k] = logs_d.get(k, 0.0) + float(v.detach()) / t.grad_accum

            if ondemand is not None:  # running PSNR per band from this batch, summed over ranks
                with torch.no_grad():
                    p = (
                        psnr_batch(composite(pred.detach().clamp(0, 1), batch["image"], batch["mask"]), batch["image"])
                        .double()
                        .cpu()
                    )
                sums = torch.zeros(2, ondemand.n_bands, dtype=torch.float64)
                for b, v in zip(bands, p.tolist()):
                    sums[0, b] += v
                    sums[1, b] += 1
                if dist.enabled:
                    sums = sums.to(device)
                    torch.distributed.all_reduce(sums)
                    sums = sums.cpu()
                for b in range(ondemand.n_bands):
                    if sums[1, b] > 0:
                        ondemand.update(b, float(sums[0, b] / sums[1, b]))

        # stop before a non-finite loss reaches the weights
        bad = [k for k, v in {**logs_g, **logs_d}.items() if not math.isfinite(v)]
        if bad:
            raise InpaintKitError(
                f"training diverged at step {step}: loss {', '.join(bad)} is not finite; lower "
                "optim.generator.lr / optim.discriminator.lr or use train.precision=fp32"
            )
        for opt, on, params in (
            (opt_g, train_g, generator.parameters()),
            (opt_d, train_d, discriminators.parameters()),
        ):
            if opt is None or not on:
                continue
            if cfg.optim.grad_clip > 0:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(list(params), cfg.optim.grad_clip)
            scaler.step(opt)
        scaler.update()
        dd.average_buffers(dist, generator, discriminators)
        if ema is not None and train_g:
            ema.update(generator)

        # ---- log ------------------------------------------------------------------------------------------------------
        imgs_since += t.batch_size * t.grad_accum * dist.world
        if step % t.log_every == 0 or step == t.steps:
            scalars = {**{f"loss_g/{k}": v for k, v in logs_g.items()}, **{f"loss_d/{k}": v for k, v in logs_d.items()}}
            scalars = dd.mean_over_ranks(dist, scalars, device)
            now = time.perf_counter()
            scalars["perf/img_per_s"] = imgs_since / max(now - t_last, 1e-9)
            t_last, imgs_since = now, 0
            scalars["lr/generator"] = og.lr * lr_mult
            if opt_d is not None:
                scalars["lr/discriminator"] = od.lr * lr_mult
            if ondemand is not None:
                scalars.update(ondemand.log())
            if writer is not None:
                for k, v in scalars.items():
                    writer.add_scalar(k, v, step)
            bar.set_postfix(loss_g=f"{sum(logs_g.values()):.3f}", refresh=False)
        bar.update(1)

        # ---- validate (rank 0), checkpoint (every rank takes part: RNG states are gathered) ------------------------
        psnr = ssim = score = None
        if step % t.val_every == 0 or step == t.steps:
            if dist.main:
                psnr, ssim, grid, lpips = validate(
                    family, ema.module if ema is not None else generator, val, t.batch_size, device, select_net
                )
                score = psnr - t.select_lpips_weight * lpips if select_net is not None else psnr
                history.append((step, psnr, ssim))
                if writer is not None:
                    writer.add_scalar("val/psnr", psnr, step)
                    writer.add_scalar("val/ssim", ssim, step)
                    if select_net is not None:
                        writer.add_scalar("val/lpips_hed", lpips, step)
                        writer.add_scalar("val/score", score, step)
                    if step % t.image_every == 0 or step == t.steps or len(history) == 1:
                        writer.add_image("val/masked_mask_output_composite_truth", grid, step)
                extra = (
                    {"val_lpips_hed": round(lpips, 5), "val_score": round(score, 4)} if select_net is not None else {}
                )
                with open(run_dir / "metrics.jsonl", "a") as f:
                    f.write(
                        json.dumps({"step": step, "val_psnr": round(psnr, 4), "val_ssim": round(ssim, 5), **extra})
                        + "\n"
                    )
                bar.write(
                    f"step {step}: val PSNR {psnr:.2f} dB, SSIM {ssim:.4f}"
                    + (f", lpips_hed {lpips:.4f}, score {score:.3f}" if select_net is not None else "")
                )
                bar.set_postfix(loss_g=f"{sum(logs_g.values()):.3f}", val_psnr=f"{psnr:.2f}", refresh=False)
            score = dd.broadcast_object(dist, score)
        is_best = score is not None and score > best_psnr  # best_psnr holds the best selection score
        if step % t.ckpt_every == 0 or step == t.steps or is_best:
            best_psnr = max(best_psnr, score) if score is not None else best_psnr
            rngs = dd.gather_object(dist, ck.rng_state())
            if dist.main:
                state = {
                    "step": step,
                    "best_psnr": best_psnr,
                    "opt_g": opt_g.state_dict(),
                    "opt_d": opt_d.state_dict() if opt_d is not None else {},
                    "scaler": scaler.state_dict(),
                    "ema": ema.state_dict() if ema is not None else {},
                    "rng": rngs,
                    "ondemand": ondemand.state_dict() if ondemand is not None else {},
                    "world": dist.world,
                }
                ck.save_checkpoint(
                    run_dir,
                    step,
                    family=cfg.family,
                    generator=generator,
                    discriminators=discriminators,
                    ema=ema.module if ema is not None else None,
                    state=state,
                    metrics={"val_psnr": psnr, "val_ssim": ssim},
                    best=is_best,
                )
            dd.barrier(dist)

    bar.close()
    if writer is not None:
        writer.close()
    dd.cleanup(dist)
    return TrainResult(
        run_dir,
        t.steps,
        best_psnr,
        history,
        generator,
        ema.module if ema is not None else None,
        discriminators,
        dist.main,
    )
