"""The training loop every learned model trains on: inpainting families (``trainer.py``) and inpainting detectors
(``forensics/train.py``). One function, read top to bottom (nanoGPT-style).

A **task** brings what is particular to one kind of model: its networks, optimizers, batches, the loss step and
the validation. The loop owns the rest, so both kinds share it: devices and processes, seeds, the LR schedule
(``lr_factor``), gradient accumulation, clipping and mixed precision, EMA, TensorBoard, the progress bar,
``metrics.jsonl``, checkpoints, and the one resume rule:

- a fresh run refuses a ``run.dir`` whose ``last`` checkpoint exists (resume it or choose another folder);
- resume continues from ``last``: network, EMA and discriminator weights, optimizer and GradScaler states, the
  best selection score, every rank's global RNG states and the task's own state (on-demand schedule, a sampler's
  generator), so ``N steps`` and ``k steps + resume + N - k steps`` give bit-identical weights on CPU;
- resuming a run that has reached ``train.steps`` is an error saying how to train longer.

The config a task trains from has the groups the loop reads: ``train`` (``steps``, ``seed``, ``device``,
``precision``, ``compile``, ``grad_accum``, ``threads``, ``ema``, ``log_every``, ``val_every``, ``ckpt_every``),
``optim`` (``grad_clip`` and the schedule keys of ``lr_factor``), ``run`` (``dir``, ``tensorboard``, ``progress``),
and ``to_yaml()`` for ``RUN/config.yaml``.

Step order within a step: the network's losses are computed against the current discriminators (whose parameters
are frozen for that backward, so they collect no gradient), then the discriminators learn from the network's
prediction (detached), then both optimizers step. A task without discriminators has just the first part.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..device import pick_device
from ..errors import InpaintKitError
from . import checkpoint as ck
from . import distributed as dd
from .ema import EMA


def lr_factor(step: int, cfg: Any) -> float:
    """Multiplier of the base LR at ``step`` (0-based): linear warmup, then constant / cosine / step decay.

    ``cfg`` is any training config: its ``optim`` group has ``schedule``, ``warmup_steps``, ``min_lr_ratio``,
    ``step_size`` and ``gamma``, its ``train`` group ``steps``."""
    o, total = cfg.optim, cfg.train.steps
    if step < o.warmup_steps:
        return (step + 1) / o.warmup_steps
    if o.schedule == "cosine":
        progress = min(1.0, (step - o.warmup_steps) / max(1, total - o.warmup_steps))
        return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if o.schedule == "step":
        return o.gamma ** ((step - o.warmup_steps) // o.step_size)
    return 1.0


@dataclass
class Validation:
    """One validation of a task's network."""

    #: The selection score: the highest so far marks the ``best`` checkpoint (NaN never does).
    score: float
    #: Stored in the checkpoint's ``meta.json``.
    metrics: dict[str, Any]
    #: One line of ``RUN/metrics.jsonl`` (after ``"step"``).
    record: dict[str, Any]
    #: TensorBoard scalars and images (tag -> value / (3, H, W) tensor in [0, 1]).
    scalars: dict[str, float] = field(default_factory=dict)
    images: dict[str, torch.Tensor] = field(default_factory=dict)
    #: The console line after ``step N: `` and the progress bar's postfix.
    message: str = ""
    postfix: dict[str, str] = field(default_factory=dict)


class Task:
    """What one kind of model brings to the loop. A subclass sets ``generator`` (the network being trained, saved
    as ``generator.safetensors``) and, if it has any, ``discriminators``; the loop may replace ``generator`` and the
    entries of ``discriminators`` with wrapped modules (DistributedDataParallel, torch.compile), so the steps call
    them through ``self``."""

    #: The family tag of the checkpoints and the progress bar's label.
    name: str = "model"
    generator: nn.Module
    discriminators: nn.ModuleDict
    #: Images per micro-batch (the logged throughput).
    batch_size: int = 1
    #: TensorBoard tags of the losses (prefixes), the learning rates and the throughput.
    tags: dict[str, str] = {
        "loss_g": "loss_g/",
        "loss_d": "loss_d/",
        "lr_g": "lr/generator",
        "lr_d": "lr/discriminator",
        "speed": "perf/img_per_s",
    }
    #: ``meta.json`` keys of a checkpoint written without a validation (value None).
    metric_keys: tuple[str, ...] = ()
    #: An equal score also moves ``best`` (to the later, longer-trained checkpoint).
    ties_go_to_later: bool = False
    #: What to lower when a loss is not finite.
    lr_keys: str = "the learning rate"

    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
        """(the network's optimizer, the discriminators' or None); each param group's ``lr`` is its base LR."""
        raise NotImplementedError

    def batches(self, start: int) -> Iterator[Any]:
        """The training batches from step ``start`` on (also builds the validation set: called after resume)."""
        raise NotImplementedError

    def next_batch(self, batches: Iterator[Any], it: int, micro: int) -> dict[str, Any]:
        """The next micro-batch, on the device."""
        return next(batches)

    def trains_generator(self, it: int) -> bool:
        return True

    def trains_discriminator(self, it: int) -> bool:
        return True

    def generator_step(self, batch: dict[str, Any], it: int) -> tuple[Any, ...]:
        """The network's weighted named losses and its prediction (given to the discriminators): ``(losses, pred)``,
        or ``(losses, pred, fakes)`` when the discriminators need more generated images (name -> tensor; the loop
        detaches them and passes them to ``discriminator_step`` as keyword arguments)."""
        raise NotImplementedError

    def discriminator_step(
        self, batch: dict[str, Any], pred: torch.Tensor, it: int, **fakes: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {}

    def observe(self, batch: dict[str, Any], pred: torch.Tensor | None) -> None:
        """After each micro-batch (e.g. on-demand learning's running PSNR)."""

    def log_scalars(self) -> dict[str, float]:
        """Extra TensorBoard scalars at each log step."""
        return {}

    def validate(self, module: nn.Module, step: int) -> Validation:
        """Validate ``module`` (the EMA copy when kept, else the unwrapped network); leave the network training."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The task's part of ``state.pt`` (top-level keys; loadable with ``weights_only=True``)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from the whole ``state.pt`` of the checkpoint resumed from."""

    def upgrade_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """A ``state.pt`` of an older format, in today's (a no-op unless the task's format changed)."""
        return state


@dataclass
class FitResult:
    run_dir: Path
    step: int
    #: The best selection score (-inf when nothing was validated).
    best_score: float
    #: (step, validation) of every validation of this process's run (resumed runs: since the resume).
    history: list[tuple[int, Validation]] = field(default_factory=list)
    #: The task's trained modules (unwrapped): network, EMA copy (or None), discriminators.
    generator: nn.Module | None = None
    ema: nn.Module | None = None
    discriminators: nn.ModuleDict | None = None
    #: Whether this process is rank 0 (the one that writes and reports).
    main: bool = True


@contextlib.contextmanager
def caller_globals_kept() -> Iterator[None]:
    """Training seeds the global RNGs (Python, NumPy, torch; exact resume restores them) and may set torch's thread
    count: put the caller's back afterwards, so training changes nothing behind a library user's back."""
    state, threads = ck.rng_state(), torch.get_num_threads()
    try:
        yield
    finally:
        ck.set_rng_state(state)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def fit(
    cfg: Any,
    build: Callable[[torch.device, dd.DistInfo, bool], Task],
    *,
    resume: bool = False,
    resume_how: str = "--resume",
) -> FitResult:
    """Train the task ``build(device, dist, resume)`` makes from ``cfg``; with ``resume``, continue the run in
    ``cfg.run.dir`` from its ``last`` checkpoint. ``resume_how`` names the flag that resumes (for the error a fresh
    run over an existing one gives).

    The global RNG states and torch's thread count are the caller's again when it returns (``caller_globals_kept``).
    """
    with caller_globals_kept():
        return _fit(cfg, build, resume, resume_how)


def _fit(cfg: Any, build: Callable[..., Task], resume: bool, resume_how: str) -> FitResult:
    # ---- setup: device, processes, threads, run folder, seeds -----------------------------------------------------
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
                f"run.dir={run_dir} already holds a run; continue it with {resume_how} or choose another run.dir"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        # a resume may change settings (more steps, another augmentation): the folder records what the run goes on with
        (run_dir / ck.CONFIG).write_text(cfg.to_yaml())
    dd.barrier(dist)
    random.seed(t.seed)
    np.random.seed(t.seed)
    torch.manual_seed(t.seed)  # same initial weights on every rank

    # ---- the task's networks, EMA, optimizers ---------------------------------------------------------------------
    task = build(device, dist, resume)
    generator = task.generator  # the unwrapped modules: these are saved, the wrapped ones run
    discriminators = nn.ModuleDict(dict(getattr(task, "discriminators", None) or {}))
    ema = EMA(generator, t.ema) if t.ema > 0 else None
    opt_g, opt_d = task.optimizers()
    # base LRs before a resume loads the saved groups (whose "lr" is the last step's scheduled one)
    base_lrs = [[g["lr"] for g in o.param_groups] if o is not None else [] for o in (opt_g, opt_d)]
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(t.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=t.precision == "fp16")

    def autocast() -> contextlib.AbstractContextManager:
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    torch.manual_seed(t.seed + 1000 * dist.rank)  # per-rank randomness from here on (dropout, noise)

    # ---- resume -----------------------------------------------------------------------------------------------------
    start, best = 0, -math.inf
    if resume:
        if dist.rank == 0:
            ck.clean_stale_temps(run_dir)  # half-written checkpoints of a killed run
        last = ck.checkpoint_dir(run_dir, "last")
        ck.load_weights(generator, last / ck.GENERATOR, "generator")
        if ema is not None and (last / ck.GENERATOR_EMA).is_file():
            ck.load_weights(ema.module, last / ck.GENERATOR_EMA, "EMA generator")
        if len(discriminators):
            ck.load_weights(discriminators, last / ck.DISCRIMINATORS, "discriminator")
        state = task.upgrade_state(ck.load_state(last))
        start = int(state["step"])
        best = float(state.get("best_score", state.get("best_psnr", -math.inf)))  # best_psnr: before detectors
        opt_g.load_state_dict(state["opt_g"])
        if opt_d is not None:
            opt_d.load_state_dict(state["opt_d"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if ema is not None and state.get("ema"):
            ema.load_state_dict(state["ema"])
        task.load_state_dict(state)
        rngs = state.get("rng")
        if rngs:
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
        task.generator = DDP(generator, device_ids=ids, find_unused_parameters=True)
        for k in discriminators:
            task.discriminators[k] = DDP(discriminators[k], device_ids=ids, find_unused_parameters=True)
    if t.compile:
        task.generator = torch.compile(task.generator)

    # ---- data, TensorBoard, progress bar --------------------------------------------------------------------------
    batches = task.batches(start)
    writer = None
    if dist.main and cfg.run.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir), purge_step=start if resume else None)
    bar = tqdm(
        total=t.steps,
        initial=start,
        desc=f"train {task.name}",
        unit="step",
        file=sys.stderr,
        disable=not (dist.main and cfg.run.progress),
        dynamic_ncols=True,
    )
    history: list[tuple[int, Validation]] = []
    tags = task.tags
    t_last, imgs_since = time.perf_counter(), 0

    # ---- the loop ----------------------------------------------------------------------------------------------------
    for it in range(start, t.steps):
        step = it + 1  # optimizer steps done after this iteration
        lr_mult = lr_factor(it, cfg)
        for opt, bases in zip((opt_g, opt_d), base_lrs):
            for g, base in zip(opt.param_groups if opt is not None else [], bases):
                g["lr"] = base * lr_mult
        train_g = task.trains_generator(it)
        train_d = opt_d is not None and task.trains_discriminator(it)
        opt_g.zero_grad(set_to_none=True)
        if opt_d is not None:
            opt_d.zero_grad(set_to_none=True)
        logs_g: dict[str, float] = {}
        logs_d: dict[str, float] = {}
        for micro in range(t.grad_accum):
            batch = task.next_batch(batches, it, micro)

            # the network: losses against the current (frozen) discriminators
            discriminators.requires_grad_(False)
            with autocast(), contextlib.nullcontext() if train_g else torch.no_grad():
                losses_g, pred, *more = task.generator_step(batch, it)
            fakes = {k: v.detach() for k, v in (more[0] if more else {}).items()}
            if train_g:
                scaler.scale(sum(losses_g.values()) / t.grad_accum).backward()
            for k, v in losses_g.items():
                logs_g[k] = logs_g.get(k, 0.0) + float(v.detach()) / t.grad_accum

            # discriminators: on the detached prediction
            discriminators.requires_grad_(True)
            if train_d:
                with autocast():
                    losses_d = task.discriminator_step(batch, pred.detach(), it, **fakes)
                if losses_d:
                    scaler.scale(sum(losses_d.values()) / t.grad_accum).backward()
                for k, v in losses_d.items():
                    logs_d[k] = logs_d.get(k, 0.0) + float(v.detach()) / t.grad_accum
            task.observe(batch, pred)

        # stop before a non-finite loss reaches the weights
        bad = [k for k, v in {**logs_g, **logs_d}.items() if not math.isfinite(v)]
        if bad:
            raise InpaintKitError(
                f"training diverged at step {step}: loss {', '.join(bad)} is not finite; lower {task.lr_keys} "
                "or use train.precision=fp32"
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
        imgs_since += task.batch_size * t.grad_accum * dist.world
        if step % t.log_every == 0 or step == t.steps:
            scalars = {
                **{f"{tags['loss_g']}{k}": v for k, v in logs_g.items()},
                **{f"{tags['loss_d']}{k}": v for k, v in logs_d.items()},
            }
            scalars = dd.mean_over_ranks(dist, scalars, device)
            now = time.perf_counter()
            scalars[tags["speed"]] = imgs_since / max(now - t_last, 1e-9)
            t_last, imgs_since = now, 0
            scalars[tags["lr_g"]] = base_lrs[0][0] * lr_mult
            if opt_d is not None:
                scalars[tags["lr_d"]] = base_lrs[1][0] * lr_mult
            scalars.update(task.log_scalars())
            if writer is not None:
                for k, v in scalars.items():
                    writer.add_scalar(k, v, step)
            bar.set_postfix(loss=f"{sum(logs_g.values()):.3f}", refresh=False)
        bar.update(1)

        # ---- validate (rank 0), checkpoint (every rank takes part: RNG states are gathered) ------------------------
        val = score = None
        if step % t.val_every == 0 or step == t.steps:
            if dist.main:
                val = task.validate(ema.module if ema is not None else generator, step)
                score = val.score
                history.append((step, val))
                if writer is not None:
                    for k, v in val.scalars.items():
                        writer.add_scalar(k, v, step)
                    for k, img in val.images.items():
                        writer.add_image(k, img, step)
                with open(run_dir / "metrics.jsonl", "a") as f:
                    f.write(json.dumps({"step": step, **val.record}) + "\n")
                bar.write(f"step {step}: {val.message}")
                bar.set_postfix(loss=f"{sum(logs_g.values()):.3f}", **val.postfix, refresh=False)
            score = dd.broadcast_object(dist, score)
        is_best = (
            score is not None and not math.isnan(score) and (score > best or (task.ties_go_to_later and score == best))
        )
        if step % t.ckpt_every == 0 or step == t.steps or is_best:
            best = score if is_best else best
            rngs = dd.gather_object(dist, ck.rng_state())
            if dist.main:
                state = {
                    "step": step,
                    "best_score": best,
                    "opt_g": opt_g.state_dict(),
                    "opt_d": opt_d.state_dict() if opt_d is not None else {},
                    "scaler": scaler.state_dict(),
                    "ema": ema.state_dict() if ema is not None else {},
                    "rng": rngs,
                    "world": dist.world,
                    **task.state_dict(),
                }
                ck.save_checkpoint(
                    run_dir,
                    step,
                    family=task.name,
                    generator=generator,
                    discriminators=discriminators,
                    ema=ema.module if ema is not None else None,
                    state=state,
                    metrics=val.metrics if val is not None else dict.fromkeys(task.metric_keys),
                    best=is_best,
                )
            dd.barrier(dist)

    bar.close()
    if writer is not None:
        writer.close()
    dd.cleanup(dist)
    return FitResult(
        run_dir,
        t.steps,
        best,
        history,
        generator,
        ema.module if ema is not None else None,
        discriminators,
        dist.main,
    )
