"""The fuzz suite of issue 19 (benchmarks/fuzz.py, seeded): the API, the CLI and a live server must give
0 tracebacks, 0 hangs, 0 5xx, 0 inputs modified and 0 outputs lost on mixed good and bad inputs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("inpaintkit_fuzz", FUZZ)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve the module by name
    spec.loader.exec_module(mod)
    return mod


def _assert_clean(counts, least: int) -> None:
    assert counts.cases >= least
    assert counts.failures == 0, "\n".join(counts.examples)
    assert counts.ok > least // 5 and counts.user_errors > least // 10  # good and bad cases both ran


@pytest.mark.slow
def test_fuzz_python_api(fuzz):
    counts = fuzz.ApiFuzzer(seed=0).run(1000)
    print(counts.line("api"))
    _assert_clean(counts, 1000)


@pytest.mark.slow
def test_fuzz_cli(fuzz, tmp_path):
    counts = fuzz.CliFuzzer(seed=0).run(100, tmp_path)
    print(counts.line("cli"))
    _assert_clean(counts, 100)


@pytest.mark.slow
def test_fuzz_live_server(fuzz):
    """300 mixed requests at concurrency 8 on keep-alive connections, two many-region requests in flight."""
    counts = fuzz.live_server_counts(300, seed=0, concurrency=8, adversarial=2)
    print(counts.line("server"))
    _assert_clean(counts, 300)


def test_fuzzer_finds_what_it_counts(fuzz):
    """The checks can fail: a fill that changes a known pixel and one that raises are both counted."""
    import numpy as np

    class Bad:
        def inpaint(self, image, mask, **kw):
            out = np.array(image, copy=True)
            out[0, 0] ^= 1
            if np.asarray(image).shape[0] % 2:
                raise ValueError("boom")
            return out

    f = fuzz.ApiFuzzer(seed=1)
    f.model = lambda name: Bad()
    counts = f.run(60)
    assert counts.outputs_lost > 0 and counts.tracebacks > 0
