"""A few training steps, resume, export, evaluation report and leave-one-out table on the tiny dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.forensics import load_detector
from inpaintkit.forensics.evaluate import evaluate, leave_one_out
from inpaintkit.forensics.report import write_report
from inpaintkit.forensics.train import AugmentConfig, augment, dice_loss, load_train_config, train_detector


def test_run_folder_and_resume(tiny_run):
    meta = json.loads((tiny_run / "detector.json").read_text())
    assert meta["model"]["width"] == 0.25 and 0.5 <= meta["threshold"] <= 1.0
    assert (tiny_run / "config.yaml").is_file() and (tiny_run / "last").exists()
    cfg = load_train_config(tiny_run / "config.yaml", {"train.steps": 4})
    train_detector(cfg)  # resumes from step 3
    assert (tiny_run / "last").resolve().name == "step_0000004"
    det = load_detector(str(tiny_run))
    assert det.detect(np.zeros((64, 64, 3), np.uint8)).heatmap.shape == (64, 64)


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(InpaintKitError, match="model.backbone"):
        load_train_config(None, {"model.backbone": "vgg"})
    with pytest.raises(InpaintKitError, match="train.stepz: unknown key"):
        load_train_config(None, {"train.stepz": 3})


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
    assert "<table>" in (tmp_path / "rep" / "report.html").read_text()


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
