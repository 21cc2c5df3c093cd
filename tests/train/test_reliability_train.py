"""Regression tests for issue 19's training leftovers: stale checkpoint temps, workers outliving their parent."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from torch import nn

from inpaintkit.train import checkpoint as ck


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_save_and_resume_remove_temps_of_killed_writers(tmp_path):
    """A kill during a checkpoint write left .step_N.tmpPID folders that resume never cleaned (issue 19.11)."""
    dead = _dead_pid()
    stale = tmp_path / "checkpoints" / f".step_0000004.tmp{dead}"
    stale.mkdir(parents=True)
    (stale / "generator.safetensors").write_bytes(b"half")
    os.symlink("checkpoints/x", tmp_path / f".last.tmp{dead}")
    mine = tmp_path / "checkpoints" / f".step_0000009.tmp{os.getppid()}"  # a live process's temp is kept
    mine.mkdir()
    final = ck.save_checkpoint(
        tmp_path, 5, family="x", generator=nn.Linear(2, 2), discriminators=nn.ModuleDict(), ema=None, state={"step": 5}
    )
    assert not stale.exists() and not (tmp_path / f".last.tmp{dead}").is_symlink() and mine.exists()
    assert (tmp_path / "last").resolve() == final and ck.load_state(final)["step"] == 5
    stale.mkdir()
    assert ck.clean_stale_temps(tmp_path) == [stale] and not stale.exists()


@pytest.mark.slow
def test_dataloader_workers_die_with_their_parent(tmp_path):
    """DataLoader workers outlived a killed trainer by 10-20 s (issue 19.11)."""
    parent = (
        "import os, sys, time\n"
        "from inpaintkit.train.trainer import die_with_parent\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    die_with_parent(0)\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "print(pid, flush=True)\n"
        "time.sleep(0.5)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=120)
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        raise AssertionError("the worker outlived its parent")
