"""Two processes on CPU with the gloo backend (what torchrun --nproc_per_node 2 sets up): DistributedDataParallel
training ends with identical weights on both ranks, ranks see different samples, and only rank 0 writes."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file


def _worker(rank: int, world: int, port: int, raw: dict, out: str) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world),
        }
    )
    torch.set_num_threads(1)
    from inpaintkit.train.config import resolve_config
    from inpaintkit.train.trainer import train

    res = train(resolve_config(raw))
    sd = {f"g.{k}": v for k, v in res.generator.state_dict().items()}
    sd.update({f"d.{k}": v for k, v in res.discriminators.state_dict().items()})
    sd.update({f"e.{k}": v for k, v in res.ema.state_dict().items()})
    save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(out, f"rank{rank}.safetensors"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_ranks_end_identical(photos, tmp_path, tiny):
    # the spawned children import this module by the name pytest gave it
    sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[2])]
    raw = tiny("lama", photos, tmp_path / "run", train={"steps": 2, "val_every": 2, "ckpt_every": 2})
    mp.spawn(_worker, args=(2, _free_port(), raw, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert r0.keys() == r1.keys()
    assert all(torch.equal(r0[k], r1[k]) for k in r0), [k for k in r0 if not torch.equal(r0[k], r1[k])][:5]
    # the run folder was written once (rank 0): one events file, the final checkpoint, the state of both ranks
    run = tmp_path / "run"
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    from inpaintkit.train.checkpoint import load_state

    state = load_state(run / "last")
    assert state["world"] == 2 and len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])  # per-rank randomness


def test_ranks_take_disjoint_samples():
    from inpaintkit.data.dataset import StepSampler

    a = list(StepSampler(0, 3, 4, accum=2, rank=0, world=2))
    b = list(StepSampler(0, 3, 4, accum=2, rank=1, world=2))
    assert len(a) == len(b) == 24 and not set(a) & set(b)
    assert sorted(a + b) == list(range(48))
    assert list(StepSampler(2, 3, 4, accum=2, rank=0, world=2)) == a[16:]  # resuming at step 2
