"""Shared by the per-family tests (test_pconv.py, test_glcic.py, ...): one thread, a short overfit loop."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a shared 2-core machine more threads only contend."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def fit(
    fam: torch.nn.Module,
    batch: dict[str, Any],
    loss: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    steps: int,
    lr: float = 2e-3,
) -> tuple[float, float]:
    """Adam on the generator for ``steps`` steps on one batch; the loss ``loss(generator_step losses)`` at the
    first and at the last step."""
    opt = torch.optim.Adam(fam.generator.parameters(), lr=lr)
    values = []
    for _ in range(steps):
        value = loss(fam.generator_step(batch, 0)[0])
        values.append(value.item())
        opt.zero_grad()
        value.backward()
        opt.step()
    return values[0], values[-1]
