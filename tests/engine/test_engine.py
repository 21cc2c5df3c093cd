"""The engine flags: bad values and a missing Ray are one clear line; the local pool streams and keeps order."""

from __future__ import annotations

import sys

import pytest

from inpaintkit.engine import EngineOptions, Failure, map_items
from inpaintkit.errors import InpaintKitError


class _Square:
    """A picklable work factory: squares numbers, refuses negative ones as a user error would be refused."""

    def __call__(self):
        def work(x: int) -> int:
            if x < 0:
                raise InpaintKitError(f"{x}: negative")
            return x * x

        return work


@pytest.mark.parametrize(
    "opts, message",
    [
        (EngineOptions("spark"), "--engine 'spark': choose from local, ray"),
        (EngineOptions("local", 0), "--jobs 0: must be at least 1"),
        (EngineOptions("local", None, "auto"), "--ray-address: only with --engine ray"),
    ],
)
def test_bad_options_are_refused(opts, message):
    with pytest.raises(InpaintKitError, match=message.replace("(", r"\(")):
        list(map_items(opts, _Square(), [1], progress=False))


def test_user_errors_become_failures_and_order_is_kept():
    out = list(map_items(EngineOptions(), _Square(), iter([3, -1, 2]), progress=False, ordered=True))
    assert out == [(0, 9), (1, Failure("-1: negative")), (2, 4)]


def test_without_ray_the_flag_says_how_to_install_it(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    code, _, err = cli(
        "run",
        "--model",
        "telea",
        "--image",
        tmp_path,
        "--mask",
        tmp_path,
        "--output",
        tmp_path / "o",
        "--engine",
        "ray",
    )
    assert code == 2
    assert err == "error: --engine ray needs Ray, which is not installed: pip install 'inpaintkit[distributed]'\n"


def test_ray_start_up_and_dashboard_link_are_printed(monkeypatch):
    import ray

    from inpaintkit.engine import ray_engine

    calls = {}

    class Ctx:
        dashboard_url = "127.0.0.1:8265"

    def fake_init(**kw):
        calls.update(kw)
        return Ctx()

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fake_init)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 3.0})
    lines: list[str] = []
    assert ray_engine.connect(EngineOptions("ray", 3), lines.append) is True
    assert calls["address"] == "local" and calls["num_cpus"] == 3  # default: a new local Ray, not someone else's
    assert lines[0].startswith("ray: started a local Ray (3 CPUs) in ")
    assert lines[1] == "ray: dashboard at http://127.0.0.1:8265"
