"""Several processes (``torchrun --nproc_per_node N -m inpaintkit train ...``): DistributedDataParallel helpers.

torchrun sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; with them we join the process group (NCCL on CUDA, gloo on
CPU), each rank takes its own shard of the samples (``StepSampler``) and only rank 0 writes the run folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup(device_type: str) -> DistInfo:
    """Join the process group when launched by torchrun (or with the env variables set); a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo", rank=rank, world_size=world)
    if device_type == "cuda":
        torch.cuda.set_device(local)
    return DistInfo(rank, world, local)


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_object(info: DistInfo, obj):
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean_over_ranks(info: DistInfo, values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average scalars across ranks (for logging)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], device=device, dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / info.world for k, v in zip(keys, t.tolist())}


def gather_object(info: DistInfo, obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not info.enabled:
        return [obj]
    out = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


@torch.no_grad()
def average_buffers(info: DistInfo, *modules: torch.nn.Module) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over ranks.

    DDP only broadcasts rank 0's buffers at the start of a forward, so after the last forward each rank holds
    statistics of its own batch; averaging after every step keeps ranks (and their EMA copies) identical.
    """
    if not info.enabled:
        return
    bufs = [b for m in modules for b in m.buffers() if b.is_floating_point()]
    if not bufs:
        return
    flat = torch.cat([b.reshape(-1) for b in bufs])
    dist.all_reduce(flat)
    flat /= info.world
    offset = 0
    for b in bufs:
        b.copy_(flat[offset : offset + b.numel()].view_as(b))
        offset += b.numel()
