"""Training throughput (images/s) of every registered model at its shipped config (configs/<name>.yaml).

One training step = the trainer's step: generator losses + backward, discriminator losses on the detached
prediction + backward, both Adam steps. Random images and box masks, so data loading is not measured.

    .venv/bin/python benchmarks/train_throughput.py                       # CPU, 256x256, batch 8
    .venv/bin/python benchmarks/train_throughput.py --device cuda --precision bf16 --steps 20
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from inpaintkit.models import MODELS, list_models
from inpaintkit.train.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def bench(name: str, size: int, batch: int, steps: int, warmup: int, device: torch.device, precision: str) -> dict:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    torch.manual_seed(0)
    fam = MODELS.get(name).obj(cfg.model, cfg.discriminator, cfg.losses).to(device).train()
    opt_g = torch.optim.AdamW(fam.generator.parameters(), lr=1e-4)
    opt_d = torch.optim.AdamW(fam.discriminators.parameters(), lr=1e-4) if len(fam.discriminators) else None
    g = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 3, size, size, generator=g).to(device)
    mask = torch.zeros(batch, 1, size, size, device=device)
    mask[:, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    b = {"image": image, "mask": mask, "caption": ["a photo of a lake under mountains"] * batch}
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    step_no = 10**6  # past any warm-up phase (GLCIC): the joint G+D step is measured

    def one() -> None:
        ctx = torch.autocast(device.type, dtype=dtype) if dtype else torch.autocast(device.type, enabled=False)
        fam.discriminators.requires_grad_(False)
        with ctx:
            losses, pred, *more = fam.generator_step(b, step_no)  # TDANet adds fakes for its discriminator step
        fakes = {k: v.detach() for k, v in (more[0] if more else {}).items()}
        opt_g.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        fam.discriminators.requires_grad_(True)
        if opt_d is not None:
            with ctx:
                d = fam.discriminator_step(b, pred.detach(), step_no, **fakes)
            if d:
                opt_d.zero_grad(set_to_none=True)
                sum(d.values()).backward()
                opt_d.step()
        opt_g.step()

    for _ in range(warmup):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    params = sum(p.numel() for p in fam.generator.parameters())
    return {"model": name, "gen_params_M": params / 1e6, "s_per_step": dt, "img_per_s": batch / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="*", help="shell glob over registered names (default: all)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"training throughput at {args.size}x{args.size}, batch {args.batch}, {args.device} {args.precision}, "
        f"{torch.get_num_threads()} threads, mean of {args.steps} steps after {args.warmup} warm-up"
    )
    print("| model | generator params (M) | s/step | img/s |\n|---|---:|---:|---:|", flush=True)
    for name in list_models(args.models):
        r = bench(name, args.size, args.batch, args.steps, args.warmup, device, args.precision)
        print(f"| {r['model']} | {r['gen_params_M']:.2f} | {r['s_per_step']:.2f} | {r['img_per_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
