"""A few training steps, resume, export, evaluation report and leave-one-out table on the tiny dataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.forensics import load_detector
from inpaintkit.forensics.evaluate import evaluate, leave_one_out
from inpaintkit.forensics.report import write_report
from inpaintkit.forensics.train import (
    FINISHES,
    GRID_FINISH_PERIODS,
    AugmentConfig,
    augment,
    dice_loss,
    finish,
    grid_pattern,
    load_train_config,
    select,
    train_detector,
)


def test_run_folder_and_resume(tiny_run, tmp_path):
    meta = json.loads((tiny_run / "detector.json").read_text())
    assert meta["model"]["width"] == 0.25 and 0.5 <= meta["threshold"] <= 1.0
    assert (tiny_run / "config.yaml").is_file() and (tiny_run / "last").exists()
    # the shared loop's run folder: metrics.jsonl per validation, meta.json tagged "detector"
    lines = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [3] and set(lines[0]) == {"step", "val_auc", "val_acc", "threshold"}
    assert json.loads((tiny_run / "last" / "meta.json").read_text())["family"] == "detector"
    run = tmp_path / "copy"  # resume a copy: the session's tiny_run stays at 3 steps for the other tests
    shutil.copytree(tiny_run, run, symlinks=True)
    # a run checkpointed by the loop detectors had before the shared one: its state.pt in that format still resumes
    state = torch.load(run / "last" / "state.pt", weights_only=True)
    legacy = {"optimizer": state["opt_g"], "step": 3, "best_auc": state["best_score"], "ema": state["ema"]}
    torch.save(legacy, run / "last" / "state.pt")
    cfg = load_train_config(run / "config.yaml", {"train.steps": 4, "run.dir": str(run)})
    train_detector(cfg)  # resumes from step 3
    assert (run / "last").resolve().name == "step_0000004"
    det = load_detector(str(run))
    assert det.detect(np.zeros((64, 64, 3), np.uint8)).heatmap.shape == (64, 64)
    # the shared resume rule: a finished run says how to train longer; --no-resume refuses to overwrite it
    with pytest.raises(InpaintKitError, match="already trained 4 steps .* --set train.steps=N"):
        train_detector(cfg)
    with pytest.raises(InpaintKitError, match="already holds a run"):
        train_detector(cfg, resume=False)


def _tiny_detector(dataset, run, **over):
    return load_train_config(
        None,
        {
            "data.index": str(dataset),
            "data.crop": 32,
            "data.batch_size": 3,
            "data.val_count": 4,
            "model.width": 0.25,
            "model.decoder_channels": 8,
            "model.tile": 64,
            "optim.warmup_steps": 2,
            "train.steps": 6,
            "train.val_every": 3,
            "train.ckpt_every": 3,
            "train.log_every": 1,
            "train.threads": 1,
            "run.dir": str(run),
            "run.progress": False,
            **over,
        },
    )


def _run_tensors(run) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    last = run / "last"
    return {
        f"{f}:{k}": v for f in ("generator", "generator_ema") for k, v in load_file(last / f"{f}.safetensors").items()
    }


def test_detector_resume_is_exact(tiny_dataset, tmp_path):
    """The inpainting side's rule for detectors: 6 steps straight == 3 steps, stop, resume for 3 more: bit-identical
    weights, EMA, optimizer state, sampler state and exported detector."""
    from inpaintkit.train import checkpoint as ck

    train_detector(_tiny_detector(tiny_dataset, tmp_path / "a"))
    train_detector(_tiny_detector(tiny_dataset, tmp_path / "b", **{"train.steps": 3}))
    assert (tmp_path / "b" / "last").resolve().name == "step_0000003"
    train_detector(_tiny_detector(tiny_dataset, tmp_path / "b"))  # --resume, the CLI default

    a, b = _run_tensors(tmp_path / "a"), _run_tensors(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) > 10
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"resumed detector run differs in {different[:5]}"
    sa, sb = ck.load_state(tmp_path / "a" / "last"), ck.load_state(tmp_path / "b" / "last")
    assert sa["step"] == sb["step"] == 6 and sa["data_rng"] == sb["data_rng"] and sa["best_score"] == sb["best_score"]
    for k, v in sa["opt_g"]["state"].items():
        assert torch.equal(v["exp_avg"], sb["opt_g"]["state"][k]["exp_avg"])
    assert torch.equal(sa["rng"][0]["torch"], sb["rng"][0]["torch"])
    ma, mb = (json.loads((tmp_path / r / "detector.json").read_text()) for r in "ab")
    assert ma == mb
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    # the shared TensorBoard logging, under the detector's own tags
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "a"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss_image", "train/loss_map_bce", "train/loss_map_dice", "train/lr", "val/val_auc"} <= tags
    from inpaintkit.train.loop import lr_factor

    cfg = _tiny_detector(tiny_dataset, tmp_path / "a")
    lrs = [e.value for e in acc.Scalars("train/lr")]  # step i's LR: warmup over 2 steps, then the cosine
    assert lrs == pytest.approx([1e-3 * lr_factor(i, cfg) for i in range(6)]) and lrs[0] == pytest.approx(0.5e-3)


def test_train_init_starts_from_given_weights(tiny_dataset, tiny_run, tmp_path):
    """``train.init``: a fine-tune starts from a detector folder's weights (not random ones); a folder that does not
    exist or holds another network is a one-line error."""
    from safetensors.torch import load_file

    src = load_file(tiny_run / "model.safetensors")
    over = {
        "model.backbone": "resnet34",
        "train.steps": 1,
        "train.seed": 1,
        "optim.lr": 1e-12,
        "optim.weight_decay": 0.0,
    }
    train_detector(_tiny_detector(tiny_dataset, tmp_path / "ft", **over, **{"train.init": str(tiny_run)}))
    train_detector(_tiny_detector(tiny_dataset, tmp_path / "fresh", **over))
    ft, fresh = _run_tensors(tmp_path / "ft"), _run_tensors(tmp_path / "fresh")
    convs = [k for k, v in src.items() if v.ndim == 4]
    assert len(convs) > 10
    for k in convs:  # one step at a vanishing learning rate: still the init's weights, unlike a fresh run's
        assert torch.allclose(ft[f"generator:{k}"], src[k], atol=1e-6), k
    assert not all(torch.allclose(fresh[f"generator:{k}"], src[k], atol=1e-3) for k in convs)
    with pytest.raises(InpaintKitError, match="train.init=.*does not match this run's model config"):
        train_detector(
            _tiny_detector(
                tiny_dataset, tmp_path / "bad", **{**over, "model.decoder_channels": 16, "train.init": str(tiny_run)}
            )
        )
    with pytest.raises(InpaintKitError, match="train.init=/nowhere: no such detector folder"):
        train_detector(_tiny_detector(tiny_dataset, tmp_path / "bad2", **{**over, "train.init": "/nowhere"}))


def test_train_init_widens_a_narrower_detector_exactly(tmp_path):
    """``train.init`` from a detector that differs only by a smaller ``model.width``: the wider network starts out
    computing exactly the narrow one's image logit and map, and its new channels can learn (their weights into the
    old channels start at zero but get gradients); a wider or otherwise different init is still refused."""
    from inpaintkit.forensics.detector import DetectorConfig, ForgeryNet, save_detector_run
    from inpaintkit.forensics.train import init_weights

    torch.manual_seed(0)
    small = DetectorConfig(backbone="resnet34", width=0.125, decoder_channels=16, tile=64)
    narrow = ForgeryNet(small).eval()
    for m in narrow.modules():  # non-trivial BatchNorm statistics, so a wrong channel mapping would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    save_detector_run(tmp_path / "narrow", narrow)
    wide = ForgeryNet(small.model_copy(update={"width": 0.25}))
    init_weights(wide, str(tmp_path / "narrow"))
    wide.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        (la, ma), (lb, mb) = narrow(x), wide(x)
    assert wide.backbone.feature_channels[-1] == 2 * narrow.backbone.feature_channels[-1]
    torch.testing.assert_close(lb, la, rtol=0, atol=1e-5)
    torch.testing.assert_close(mb, ma, rtol=0, atol=1e-5)
    wide.train()
    logit, m = wide(x)
    (logit.sum() + m.mean()).backward()
    w = wide.lateral[-1].weight  # (decoder, last stage): the columns of the new channels start at zero
    c = narrow.backbone.feature_channels[-1]
    assert torch.count_nonzero(w[:, c:]) == 0 and w.grad[:, c:].abs().sum() > 0
    save_detector_run(tmp_path / "wide", wide)
    with pytest.raises(InpaintKitError, match="does not match this run's model config"):
        init_weights(ForgeryNet(small), str(tmp_path / "wide"))  # narrowing is not widening


def test_val_jpeg_validates_on_recompressed_images(tiny_dataset, tmp_path, monkeypatch):
    """``data.val_jpeg``: the validation that picks the best checkpoint sees the val images re-compressed at that
    JPEG quality (the JPEG CNN is chosen on JPEG inputs); without it, the images as stored."""
    from inpaintkit.forensics import train as tr

    seen: list[np.ndarray] = []
    monkeypatch.setattr(tr.Detector, "detect", lambda self, rgb: seen.append(rgb.copy()) or _Result(rgb))
    for q in (None, 75):
        seen.clear()
        task = tr.DetectorTask(
            _tiny_detector(tiny_dataset, tmp_path / f"q{q}", **{"data.val_jpeg": q}), torch.device("cpu"), False
        )
        assert len(task.val_recs) == 4
        task.validate(task.generator, 0)
        stored = [tr.load_sample(r)[0] for r in task.val_recs]
        want = stored if q is None else [tr.jpeg(rgb, q) for rgb in stored]
        assert len(seen) == 4 and all(np.array_equal(a, b) for a, b in zip(seen, want))
        assert q is None or not any(np.array_equal(a, b) for a, b in zip(seen, stored))
    with pytest.raises(InpaintKitError, match="val_jpeg"):
        _tiny_detector(tiny_dataset, tmp_path / "bad", **{"data.val_jpeg": 0})


class _Result:
    """What ``DetectorTask.validate`` reads of a detection: a score (the image's mean) and a heatmap."""

    def __init__(self, rgb):
        self.score, self.heatmap = float(rgb.mean()) / 255.0, np.zeros(rgb.shape[:2], np.float32)


def test_detector_schedule_is_the_shared_one():
    from inpaintkit.train.loop import lr_factor

    cfg = load_train_config(None, {"train.steps": 100, "optim.warmup_steps": 10, "optim.min_lr_ratio": 0.1})
    assert cfg.optim.schedule == "cosine"
    assert [lr_factor(s, cfg) for s in (0, 9, 10, 100)] == pytest.approx([0.1, 1.0, 1.0, 0.1])
    cfg = load_train_config(None, ["optim.schedule=step", "optim.step_size=5", "optim.warmup_steps=0"])
    assert [lr_factor(s, cfg) for s in (0, 4, 5, 10)] == [1.0, 1.0, 0.5, 0.25]


def test_config_errors_name_the_key(tmp_path):
    """The shared loader's checks and one-line errors (as `inpaintkit train`'s)."""
    with pytest.raises(InpaintKitError, match=r"config: model: backbone: .*'vgg'"):
        load_train_config(None, {"model.backbone": "vgg"})
    with pytest.raises(InpaintKitError, match=r"--set train.stepz: unknown key 'stepz' in train; valid keys: steps"):
        load_train_config(None, {"train.stepz": 3})
    with pytest.raises(InpaintKitError, match="unknown group 'masks'"):
        load_train_config(None, ["masks.mix=[]"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("trian: {steps: 3}\n")
    with pytest.raises(InpaintKitError, match=r"bad.yaml: unknown group\(s\) trian"):
        load_train_config(bad)
    bad.write_text("train: [unclosed")
    with pytest.raises(InpaintKitError, match="not valid YAML"):
        load_train_config(bad)
    # every shipped detector config loads
    configs = Path(__file__).resolve().parents[2] / "configs" / "forensics"
    for p in sorted(configs.glob("*.yaml")):
        cfg = load_train_config(p, ["data.index=/x", "run.dir=/tmp/r"])
        assert (cfg.data.index, cfg.run.dir) == ("/x", "/tmp/r")


def test_augment_keeps_mask_aligned():
    rng = np.random.default_rng(0)
    rgb = np.zeros((96, 96, 3), np.uint8)
    mask = np.zeros((96, 96), bool)
    mask[30:60, 30:60] = True
    rgb[mask] = 255
    cfg = AugmentConfig(p_jpeg=1.0, jpeg_quality=(90, 90), p_blur=0.0, p_resize=1.0)
    for _ in range(10):
        a, m = augment(rgb, mask, cfg, 48, rng)
        assert a.shape == (48, 48, 3) and m.shape == (48, 48)
        if m.sum() > 20:
            assert a[m].mean() > 200 and (a[~m].mean() if (~m).any() else 0) < 60


def test_finish_changes_only_the_hole():
    rng = np.random.default_rng(1)
    rgb = np.clip(rng.normal(120, 6, (64, 64, 3)), 0, 255).astype(np.uint8)  # a noisy photo
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    rgb[mask] = 120  # a flat fill, as a PDE leaves it
    for kind in FINISHES:
        out = finish(rgb, mask, kind, 1.0, seed=3)
        assert out.dtype == np.uint8 and out.shape == rgb.shape
        assert np.array_equal(out[~mask], rgb[~mask]), kind  # known pixels untouched
    inner = (slice(20, 44), slice(20, 44))
    noisy = finish(rgb, mask, "noise", 1.0, seed=3)[inner].astype(np.float32)
    assert 3.0 < noisy.std() < 9.0  # about the photo's own noise (6), not more
    grained = finish(rgb, mask, "grain", 1.0, seed=3)[inner].astype(np.float32)
    assert grained.std() > 2.0  # the photo's grain copied in
    edge = rgb.copy()
    edge[mask & (np.arange(64)[None, :] >= 32)] = 180  # a step inside the hole
    sharp = finish(edge, mask, "sharpen", 1.0, seed=0)[..., 0].astype(np.int32)
    smooth = finish(edge, mask, "smooth", 1.5, seed=0)[..., 0].astype(np.int32)
    assert sharp[32, 32] > 180 and sharp[32, 31] < 120  # overshoot on both sides of the step
    assert 120 < smooth[32, 31] < smooth[32, 32] < 180
    assert np.array_equal(finish(rgb, np.zeros_like(mask), "noise", 1.0, 0), rgb)
    with pytest.raises(InpaintKitError, match="unknown finish"):
        finish(rgb, mask, "emboss", 1.0, 0)
    # p_finish 0 draws nothing from the generator: configs without it train as before. Without resize, blur, JPEG
    # or flip, augment draws exactly: resize?, crop top, crop left, blur?, JPEG?
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    augment(rgb, mask, AugmentConfig(p_resize=0, p_blur=0, p_jpeg=0, flip=False), 48, a)
    b.random(), b.integers(0, 64 - 48 + 1), b.integers(0, 64 - 48 + 1), b.random(), b.random()
    assert a.random() == b.random()
    out, m = augment(rgb, mask, AugmentConfig(p_finish=1.0, p_resize=0, p_blur=0, p_jpeg=0, flip=False), 64, a)
    assert np.array_equal(m, mask) and not np.array_equal(out, rgb) and np.array_equal(out[~mask], rgb[~mask])


def test_grid_finish_adds_a_pattern_that_repeats_at_its_period_inside_the_hole_only():
    rng = np.random.default_rng(2)
    rgb = np.clip(rng.normal(120, 2, (96, 96, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((96, 96), bool)
    mask[16:80, 16:80] = True
    rgb[mask] = 120
    for period in GRID_FINISH_PERIODS:
        g = grid_pattern((64, 64), np.random.default_rng(period), period)
        assert g.dtype == np.float32 and abs(float(g.mean())) < 0.1 and 0.65 < float(g.std()) < 1.05

        def corr(a, b):
            return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

        assert corr(g[:, :-period], g[:, period:]) > 0.65 and corr(g[:-period], g[period:]) > 0.65  # repeats
        assert corr(g[:, :-1], g[:, 1:]) < 0.8  # but is not smooth: detail at the pixel scale
    out = finish(rgb, mask, "grid", 1.0, seed=4)
    assert np.array_equal(out[~mask], rgb[~mask])
    d = out[24:72, 24:72].astype(np.float32).mean(axis=2) - 120
    assert 1.0 < d.std() < 6.0  # 1.5 grey levels a unit of the pattern at gain 1 (the photo's noise is under 1)
    lags = {k: float(np.corrcoef(d[:, :-k].ravel(), d[:, k:].ravel())[0, 1]) for k in (4, 8, 16)}
    assert max(lags.values()) > 0.5  # one of the periods shows


def test_augment_draws_the_finishes_the_config_names():
    rgb = np.full((64, 64, 3), 120, np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    assert AugmentConfig().finishes == ("grain", "noise", "sharpen", "smooth")  # the bundled CNNs' recipe
    cfg = AugmentConfig(p_finish=1.0, p_resize=0, p_blur=0, p_jpeg=0, flip=False, finishes=("grid",))
    out, _ = augment(rgb, mask, cfg, 64, np.random.default_rng(0))
    d = out[20:44, 20:44].astype(np.float32).mean(axis=2)
    assert d.std() > 0.5 and np.array_equal(out[~mask], rgb[~mask])  # the flat hole got the grid
    with pytest.raises(ValueError, match="unknown finish 'emboss'"):
        AugmentConfig(finishes=("grid", "emboss"))
    with pytest.raises(ValueError, match="at least one finish"):
        AugmentConfig(finishes=())


def test_dice_loss_bounds():
    t = torch.zeros(1, 1, 8, 8)
    t[..., 2:6, 2:6] = 1
    assert dice_loss(t * 40 - 20, t) < 0.01
    assert dice_loss(20 - t * 40, t) > 0.9


def test_evaluate_report_and_leave_one_out(tiny_dataset, tiny_run, tmp_path):
    det = load_detector(str(tiny_run))
    res = evaluate(det, tiny_dataset, split="test", conditions=["clean", "jpeg75", "resize0.5"], progress=False)
    for c in ("clean", "jpeg75", "resize0.5"):
        o = res["conditions"][c]["overall"]
        assert o["n_real"] == 4 and o["n_inpainted"] == 8
        assert 0 <= o["roc_auc"] <= 1 and 0 <= o["pixel_auc"] <= 1
    assert set(res["conditions"]["clean"]) == {"overall", "telea", "ns"}
    # a "leave-one-out" run: the same weights, recorded as trained without ns
    loo_dir = tmp_path / "loo-ns"
    loo_dir.mkdir()
    (loo_dir / "model.safetensors").write_bytes((tiny_run / "model.safetensors").read_bytes())
    meta = json.loads((tiny_run / "detector.json").read_text())
    (loo_dir / "detector.json").write_text(json.dumps({**meta, "exclude_inpainters": ["ns"]}))
    rows = leave_one_out([loo_dir], tiny_dataset, progress=False)
    assert rows[0]["left_out"] == "ns" and 0 <= rows[0]["auc_unseen"] <= 1
    with pytest.raises(InpaintKitError, match="not a leave-one-out run"):
        leave_one_out([tiny_run], tiny_dataset, progress=False)
    md = write_report(res, tmp_path / "rep", rows)
    text = md.read_text()
    assert "| telea |" in text and "jpeg75" in text and "| ns |" in text and "Leave one inpainter out" in text
    assert (tmp_path / "rep" / "roc.png").stat().st_size > 1000
    assert len(list((tmp_path / "rep" / "examples").glob("*.png"))) >= 3
    html = (tmp_path / "rep" / "report.html").read_text()
    # the shared renderer: the same page, tables and inline marks as `inpaintkit evaluate`'s report
    from inpaintkit.reports import _CSS

    assert f"<style>{_CSS}</style>" in html and "<thead><tr><th>inpainter</th><th>roc_auc</th>" in html
    assert "<td>telea</td>" in html and "<code>test</code>" in html and "<figure><img src='roc.png'" in html
    assert "|---|--:|" in text and "Split `test`" in text


def test_report_of_a_resize_condition_alone(tiny_dataset, tiny_run, tmp_path):
    """The report's examples and ROC come from the first condition; a resize as the first one gives heatmaps at
    the resized size, so the examples show the image as the detector saw it (it crashed at the report, after all
    the scoring, when they paired the stored image with the smaller heatmap)."""
    import cv2

    det = load_detector(str(tiny_run))
    res = evaluate(det, tiny_dataset, split="test", conditions=["resize0.5"], progress=False)
    assert res["_raw"]["condition"] == "resize0.5"
    write_report(res, tmp_path / "rep")
    ex = sorted((tmp_path / "rep" / "examples").glob("*.png"))
    assert ex
    h, w = cv2.imread(str(ex[0])).shape[:2]
    assert w == 4 * h  # image, mask, heatmap, overlay side by side, each at the resized size


def test_cli_make_dataset_and_evaluate(cli, source_dir, tiny_run, tmp_path):
    code, out, err = cli(
        "forensics",
        "make-dataset",
        "--images",
        source_dir,
        "--inpainters",
        "telea",
        "--masks",
        "boxes",
        "--per-image",
        "1",
        "--size",
        "48",
        "--out",
        tmp_path / "d",
        "--test-frac",
        "0.4",
        "--val-frac",
        "0",
        "--test-sources",
        "rocket",
    )
    assert code == 0, err
    assert "wrote" in out and "10 samples" in out
    code, out, err = cli(
        "forensics",
        "evaluate",
        "--data",
        tmp_path / "d",
        "--model",
        str(tiny_run),
        "--conditions",
        "clean,jpeg50",
        "--out",
        tmp_path / "r",
    )
    assert code == 0, err
    assert "clean: AUC" in out and (tmp_path / "r" / "report.md").is_file()
    code, _, err = cli(
        "forensics",
        "evaluate",
        "--data",
        tmp_path / "d",
        "--model",
        str(tiny_run),
        "--conditions",
        "blur",
        "--out",
        tmp_path / "r2",
    )
    assert code == 2 and "unknown condition" in err


def test_cli_train_takes_set_like_inpaintkit_train(cli, tiny_dataset, tmp_path):
    run = tmp_path / "run"
    args = [f"data.index={tiny_dataset}", "data.crop=32", "data.batch_size=2", "data.val_count=4", "model.width=0.25"]
    args += ["model.decoder_channels=8", "train.steps=2", "train.val_every=2", "train.threads=1", f"run.dir={run}"]
    code, out, err = cli("forensics", "train", "--set", *args, "run.progress=false", "run.tensorboard=false")
    assert code == 0, err
    assert f"trained {run} (threshold" in out and (run / "model.safetensors").is_file()
    code, _, err = cli("forensics", "train", "--set", *args, "train.steps=3")  # resumes (the default)
    assert code == 0, err
    assert (run / "last").resolve().name == "step_0000003"
    code, _, err = cli("forensics", "train", "--no-resume", "--set", *args)
    assert code == 2 and "already holds a run" in err
    code, _, err = cli("forensics", "train", "--set", "train.stepz=3")
    assert code == 2 and err.startswith("error: --set train.stepz: unknown key 'stepz'")
    code, _, err = cli("forensics", "train", "train.steps=3")
    assert code == 2 and "put overrides after --set" in err


def test_fit_detector_with_photos_fits_the_tile_correction(tiny_dataset, tiny_run, source_dir, tmp_path, cli):
    import json

    from inpaintkit.forensics.fusion import TILE_ALPHAS, FusedDetector

    out = tmp_path / "fused"
    code, _, err = cli(
        "forensics", "fit-detector", "--data", tiny_dataset, "--out", out, "--cnn", tiny_run,
        "--photos", source_dir, "--threads", "1",
    )  # fmt: skip
    assert code == 0, err
    meta = json.loads((out / "fusion.json").read_text())
    assert set(meta["tile_correction"]) == {"png", "jpeg"} and set(meta["tile_correction"].values()) <= set(TILE_ALPHAS)
    assert meta["tile_correction_fit"]["n_images"] == 5  # the five photos whole (none holds a 384² crop)
    det = FusedDetector.load(out)
    assert det.meta["tile_correction"] == meta["tile_correction"]
    code, _, err = cli("forensics", "fit-detector", "--data", tiny_dataset, "--out", out, "--photos", tmp_path / "no")
    assert code != 0 and "--photos" in err and len(err.strip().splitlines()) == 1


def test_fit_detector_with_a_jpeg_cnn_stacks_every_jpeg_copy_and_the_second_opinion(tiny_dataset, tiny_run, tmp_path):
    """With a CNN for JPEG inputs the fit scores each val sample at every ``VAL_QUALITIES`` (the JPEG rows, their
    photos and labels three per sample; the heatmap's maps one per sample), the JPEG stack takes the PNG network's
    logit (``SECOND_CNN``) and the CNNs' views are recorded; the loaded folder runs both networks on a JPEG."""
    import json

    from inpaintkit.data.dataset import read_index
    from inpaintkit.forensics.fusion import (
        CNN_VIEWS,
        SCORES_FILE,
        SECOND_CNN,
        VAL_QUALITIES,
        FusedDetector,
        fit_detector,
    )
    from inpaintkit.forensics.train import jpeg, load_sample

    out = tmp_path / "fused"
    meta = fit_detector(tiny_dataset / "index.jsonl", out, cnn=tiny_run, cnn_jpeg=tiny_run, progress=False)
    n_val = meta["n_val"]
    saved = json.loads((out / SCORES_FILE).read_text())
    assert len(saved["labels"]["png"]) == n_val and len(saved["labels"]["jpeg"]) == len(VAL_QUALITIES) * n_val
    assert saved["labels"]["jpeg"] == [y for y in saved["labels"]["png"] for _ in VAL_QUALITIES]
    assert saved["groups"]["jpeg"] == [g for g in saved["groups"]["png"] for _ in VAL_QUALITIES]
    assert (
        len(saved["raw"]["jpeg"][SECOND_CNN]) == len(saved["raw"]["jpeg"]["cnn"]) == len(saved["map_features"]["jpeg"])
    )
    assert SECOND_CNN not in saved["raw"]["png"]
    assert meta["stack"]["jpeg"]["extra"] == [SECOND_CNN] and meta["stack"]["png"]["extra"] == []
    assert meta["cnn_views"] == CNN_VIEWS and meta["val_jpeg_qualities"] == list(VAL_QUALITIES)
    det = FusedDetector.load(out)
    assert det.second_cnn and det.views == CNN_VIEWS
    rec = next(r for r in read_index(tiny_dataset / "index.jsonl") if r["split"] == "val" and r["label"])
    rgb, _ = load_sample(rec)
    raw = det.raw(jpeg(rgb, 75), jpeg=True)
    assert set(raw) == {"noise", "duplication", "cnn", SECOND_CNN}
    assert raw[SECOND_CNN][0] == pytest.approx(det.cnn.predict(jpeg(rgb, 75), CNN_VIEWS[SECOND_CNN])[0], abs=1e-5)
    res = det.detect(jpeg(rgb, 75), jpeg=True)
    assert 0.0 <= res.score <= 1.0 and set(res.branches) == {"noise", "duplication", "cnn"}


def test_leaving_an_inpainter_out_also_leaves_out_its_fills_given_a_finish():
    recs = [
        {"split": "train", "inpainter": None},
        {"split": "train", "inpainter": "telea"},
        {"split": "train", "inpainter": "grained", "finished_from": "telea"},
        {"split": "train", "inpainter": "grained", "finished_from": "ns"},
        {"split": "val", "inpainter": "telea"},
    ]
    assert select(recs, "train") == recs[:4]
    assert select(recs, "train", ["telea"]) == [recs[0], recs[3]]
    assert select(recs, "train", ["grained"]) == recs[:2]
    assert select(recs, "val", ["ns"]) == [recs[4]]
