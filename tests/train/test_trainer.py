"""The training loop: a few steps per family, exact resume, run folder, TensorBoard, schedules, errors."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from inpaintkit.errors import InpaintKitError
from inpaintkit.models import MODELS, list_models
from inpaintkit.train import checkpoint as ck
from inpaintkit.train.config import resolve_config
from inpaintkit.train.trainer import lr_factor, train


@pytest.mark.parametrize("name", list_models())
def test_three_steps_per_family(name, photos, tmp_path, tiny):
    cfg = resolve_config(tiny(name, photos, tmp_path / "run"))
    res = train(cfg)
    assert res.step == 3 and [h[0] for h in res.history] == [2, 3]
    assert all(math.isfinite(p) and 0 < p < 100 for _, p, _ in res.history)
    run = tmp_path / "run"
    assert (run / "last").resolve().name == "step_0000003"
    assert (run / "best").exists() and (run / ck.CONFIG).is_file()
    meta = json.loads((run / "last" / ck.META).read_text())
    assert meta["family"] == name and meta["step"] == 3
    fields = set(MODELS.get(name).obj.LossConfig.model_fields)
    tags = _scalar_tags(run)
    loss_keys = {t.split("/", 1)[1] for t in tags if t.startswith(("loss_g/", "loss_d/"))}
    assert loss_keys and loss_keys <= fields, f"log keys must be loss-config keys: {loss_keys - fields}"
    assert {"val/psnr", "val/ssim", "lr/generator", "perf/img_per_s"} <= tags


def _scalar_tags(run) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return set(acc.Tags()["scalars"]) | {"image:" + t for t in acc.Tags()["images"]}


def _weights(run) -> dict[str, torch.Tensor]:
    last = run / "last"
    out = {}
    for f in (ck.GENERATOR, ck.GENERATOR_EMA, ck.DISCRIMINATORS):
        out.update({f"{f}:{k}": v for k, v in load_file(str(last / f)).items()})
    return out


@pytest.mark.parametrize("family", ["lama", "tdanet"])
@pytest.mark.slow
def test_resume_is_exact(family, photos, tmp_path, tiny):
    """6 steps straight == 3 steps, stop, resume for 3 more: bit-identical weights, EMA and optimizer state.
    TDANet trains on captioned shapes scenes: its vocabulary, two discriminators and caption dropout resume too."""
    common = {"train": {"steps": 6, "val_every": 3, "ckpt_every": 3}}
    root = photos
    if family == "tdanet":
        from inpaintkit.data.shapes import write_shapes

        write_shapes(tmp_path / "shapes", 10, seed=3)
        root = tmp_path / "shapes" / "index.jsonl"
        common["data"] = {"min_scale": 1.0}
    straight = resolve_config(tiny(family, root, tmp_path / "a", **common))
    train(straight)

    first = resolve_config(tiny(family, root, tmp_path / "b", **{**common, "train": {**common["train"], "steps": 3}}))
    train(first)
    with pytest.raises(InpaintKitError, match="already holds a run"):
        train(first)
    rest = resolve_config(tiny(family, root, tmp_path / "b", **common))
    train(rest, resume=True)

    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"resumed run differs in {different[:5]}"
    sa, sb = ck.load_state(tmp_path / "a" / "last"), ck.load_state(tmp_path / "b" / "last")
    assert sa["step"] == sb["step"] == 6
    # the global RNGs went on exactly as in the straight run
    assert (
        torch.equal(sa["rng"][0]["torch"], sb["rng"][0]["torch"]) and sa["rng"][0]["python"] == sb["rng"][0]["python"]
    )
    assert torch.equal(sa["rng"][0]["numpy"][1], sb["rng"][0]["numpy"][1])
    for k, v in sa["opt_g"]["state"].items():
        assert torch.equal(v["exp_avg"], sb["opt_g"]["state"][k]["exp_avg"])
    # only last and best are kept
    assert len(list((tmp_path / "b" / "checkpoints").glob("step_*"))) <= 2


def test_resume_past_the_end_says_how_to_continue(photos, tmp_path, tiny):
    cfg = resolve_config(tiny("pconv", photos, tmp_path / "run", train={"steps": 2}))
    train(cfg)
    with pytest.raises(InpaintKitError, match="raise it with --set train.steps"):
        train(cfg, resume=True)


@pytest.mark.slow
def test_ondemand_masks_grad_accum_clipping_and_schedule(photos, tmp_path, tiny):
    raw = tiny(
        "pconv",
        photos,
        tmp_path / "run",
        masks={"ondemand": True},
        train={"steps": 2, "batch_size": 5, "grad_accum": 2, "val_every": 2},
        optim={"schedule": "cosine", "warmup_steps": 1, "grad_clip": 0.5},
    )
    raw["data"]["size"] = 32
    res = train(resolve_config(raw))
    tags = _scalar_tags(tmp_path / "run")
    assert {f"ondemand/share_band{i}" for i in range(5)} <= tags
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "run"))
    acc.Reload()
    shares = [acc.Scalars(f"ondemand/share_band{i}")[-1].value for i in range(5)]
    assert sum(shares) == 5  # one batch of 5 split across the bands
    state = ck.load_state(tmp_path / "run" / "last")
    assert state["ondemand"]["counts"] and sum(state["ondemand"]["counts"]) > 0
    assert res.step == 2


def test_lr_schedules():
    raw = {
        "model": {"name": "pconv"},
        "train": {"steps": 100},
        "optim": {"schedule": "cosine", "warmup_steps": 10, "min_lr_ratio": 0.1},
    }
    cfg = resolve_config(raw)
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(10, cfg) == pytest.approx(1.0) and lr_factor(100, cfg) == pytest.approx(0.1)
    assert 0.1 < lr_factor(55, cfg) < 1.0
    cfg = resolve_config({**raw, "optim": {"schedule": "step", "step_size": 30, "gamma": 0.5}})
    assert [lr_factor(s, cfg) for s in (0, 29, 30, 61)] == [1.0, 1.0, 0.5, 0.25]
    cfg = resolve_config({**raw, "optim": {"schedule": "constant"}})
    assert lr_factor(77, cfg) == 1.0


def test_missing_data_root_is_a_clear_error(tmp_path, tiny, photos):
    raw = tiny("pconv", photos, tmp_path / "run")
    raw["data"]["root"] = None
    with pytest.raises(InpaintKitError, match="data.root is not set"):
        train(resolve_config(raw))
    raw["data"]["root"] = str(tmp_path / "nothing")
    with pytest.raises(InpaintKitError, match="no such folder or index"):
        train(resolve_config(raw))


def test_init_from_starts_from_another_runs_weights(photos, tmp_path, tiny):
    """train.init_from: the new run's first generator is the source run's best EMA generator; steps start at 0."""
    from inpaintkit.train.trainer import init_weights

    train(resolve_config(tiny("lama", photos, tmp_path / "src")))
    cfg = resolve_config(tiny("lama", photos, tmp_path / "ft", train={"init_from": str(tmp_path / "src"), "steps": 2}))
    fam = MODELS.get("lama").obj(cfg.model, cfg.discriminator, cfg.losses)
    init_weights(str(tmp_path / "src"), "lama", fam.generator, torch.nn.ModuleDict(dict(fam.discriminators)))
    src = load_file(str(tmp_path / "src" / "best" / ck.GENERATOR_EMA))
    assert all(torch.equal(v, src[k]) for k, v in fam.generator.state_dict().items())
    res = train(cfg)
    assert res.step == 2 and (tmp_path / "ft" / "last").resolve().name == "step_0000002"
    other = resolve_config(tiny("pconv", photos, tmp_path / "bad", train={"init_from": str(tmp_path / "src")}))
    with pytest.raises(InpaintKitError, match="'lama' weights, not 'pconv'"):
        train(other)


def test_best_checkpoint_by_psnr_and_lpips_hed(photos, tmp_path, tiny):
    cfg = resolve_config(
        tiny("lama", photos, tmp_path / "run", **{"train": {"select_by": "psnr_lpips", "select_lpips_weight": 10.0}})
    )
    train(cfg)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 3]
    for x in lines:
        assert 0 < x["val_lpips_hed"] < 2
        assert x["val_score"] == pytest.approx(x["val_psnr"] - 10.0 * x["val_lpips_hed"], abs=1e-3)
    best = max(lines, key=lambda x: x["val_score"])
    meta = json.loads((tmp_path / "run" / "best" / ck.META).read_text())
    assert meta["step"] == best["step"]
    assert {"val/lpips_hed", "val/score"} <= _scalar_tags(tmp_path / "run")


@pytest.mark.slow
def test_train_keeps_the_callers_rng_and_threads(photos, tmp_path, tiny):
    import random

    import numpy as np

    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(5)
    before = (torch.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate())
    threads = torch.get_num_threads()
    cfg = resolve_config(tiny("lama", photos, tmp_path / "run", **{"train": {"threads": 1 if threads != 1 else 2}}))
    train(cfg)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]
    assert torch.get_num_threads() == threads
