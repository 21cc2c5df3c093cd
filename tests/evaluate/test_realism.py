"""``inpaintkit evaluate --realism``: detectability of fills, cross-validated by photo."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inpaintkit.evaluate import EvalConfig, evaluate, realism
from inpaintkit.io import write_image, write_mask

BUCKETS = ("0.1-0.2", "0.3-0.4")


def _noisy(i: int, side: int = 64) -> np.ndarray:
    """A smooth colour gradient under strong camera-like noise (seeded per photo)."""
    g = np.random.default_rng(i)
    yy, xx = np.mgrid[0:side, 0:side] / side
    base = 60 + 120 * np.stack([yy, xx, (yy + xx) / 2], -1) + g.uniform(-20, 20, 3)
    return np.clip(base + g.normal(0, 14, base.shape), 0, 255).astype(np.uint8)


def _masks(side: int = 64) -> dict[str, np.ndarray]:
    small = np.zeros((side, side), bool)
    small[20:36, 16:40] = True
    large = np.zeros((side, side), bool)
    large[8:48, 10:50] = True
    return dict(zip(BUCKETS, (small, large)))


def _data(fill, photos: int = 12) -> realism.RealismInput:
    """Noise features of ``photos`` noisy photos and of ``fill(photo, mask)`` in each bucket (model "m")."""
    feats = realism.NoiseFeatures()
    names = [f"p{i:02d}.png" for i in range(photos)]
    real, fake, keys = {}, {}, []
    for i, n in enumerate(names):
        rgb = _noisy(i)
        real[n] = feats(rgb)
        for b, mask in _masks().items():
            key = ("m", b, n, "k.png")
            keys.append(key)
            fake[key] = feats(fill(rgb, mask))
    return realism.RealismInput(keys, names, real, fake)


def _blur(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], cv2.GaussianBlur(rgb, (0, 0), 3), rgb)


def test_an_obvious_blur_is_caught_and_the_original_is_indistinguishable():
    blurred = realism.detectability(["m"], list(BUCKETS), _data(_blur))
    t = blurred["table"]
    assert t["all"]["m"]["mean"] > 0.95 and t["all"]["m"]["n"] == 24
    assert all(t[b]["m"]["mean"] > 0.9 and t[b]["m"]["n"] == 12 for b in BUCKETS)
    assert 0 <= t["all"]["m"]["ci95"] < 0.1 and blurred["folds"] == 5 and blurred["photos"] == 12
    # a "fill" that gives back the original pixels: the detector cannot tell, in every bucket
    same = realism.detectability(["m"], list(BUCKETS), _data(lambda rgb, mask: rgb))
    assert all(same["table"][b]["m"]["mean"] == 0.5 for b in (*BUCKETS, "all"))
    # seeded: the same input gives the same figures
    assert realism.detectability(["m"], list(BUCKETS), _data(_blur))["table"] == t


def _inputs(root: Path, photos: int = 10) -> tuple[Path, Path]:
    for i in range(photos):
        write_image(root / "images" / f"p{i:02d}.png", _noisy(i))
    for b, m in _masks().items():
        write_mask(root / "masks" / b / "k.png", m)
    return root / "images", root / "masks"


def test_evaluate_reports_detectability_in_summary_and_report(tmp_path, cli):
    images, masks = _inputs(tmp_path)
    out = tmp_path / "out"
    code, stdout, err = cli(
        "evaluate", "--model", "telea", "--images", images, "--masks", masks, "--out", out, "--realism",
        "--no-hed", "--no-figures", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert "detectability" in stdout.splitlines()[0]
    summary = json.loads((out / "summary.json").read_text())
    det = summary["metrics"]["detectability"]
    # telea's smooth fill in a noisy photo: caught (cross-validated over 10 photos)
    assert det["all"]["telea"]["mean"] > 0.9 and det["all"]["telea"]["n"] == 20
    assert set(det) == {*BUCKETS, "all"}
    assert summary["realism"]["detector"] == "noise" and summary["realism"]["folds"] == 5
    assert "0.5 = indistinguishable" in summary["definitions"]["detectability"]
    md = (out / "report.md").read_text()
    assert "## detectability (AUC) ↓" in md and "**0.5 = indistinguishable from the photos**" in md
    section = md.split("## detectability (AUC) ↓")[1].split("## ")[0]
    assert "| bucket | hole % | pairs | telea |" in section and f"{det['all']['telea']['mean']:.3f}" in section
    assert "detectability (AUC)" in (out / "report.html").read_text()
    # resumed: the cached features give the same figures without refilling
    summary2 = evaluate(
        EvalConfig(("telea",), images, masks, out, hed=False, figures=False, realism=True), log=lambda s: None
    )
    assert summary2["metrics"]["detectability"] == det
    # without --realism there is no column and no stage
    plain = evaluate(EvalConfig(("telea",), images, masks, out, hed=False, figures=False), log=lambda s: None)
    assert "detectability" not in plain["metrics"] and plain["realism"] is None
    assert "detectability" not in (out / "report.md").read_text()


def test_the_cnn_detector_is_opt_in_and_combined(tmp_path, monkeypatch):
    monkeypatch.setattr(realism, "CNN_EPOCHS", 1)
    images, masks = _inputs(tmp_path, photos=4)
    cfg = EvalConfig(
        ("telea",), images, masks, tmp_path / "out", hed=False, figures=False, realism=True, realism_cnn=True,
        realism_folds=2,
    )  # fmt: skip
    s = evaluate(cfg, log=lambda s: None, progress=False)
    r = s["realism"]
    assert r["detector"] == "combined" and set(r["detectors"]) == {"noise", "cnn"} and r["folds"] == 2
    assert all(0 <= r["detectors"][d]["all"]["telea"]["mean"] <= 1 for d in ("noise", "cnn"))
    assert r["seconds"]["cnn"] > 0 and s["metrics"]["detectability"]["all"]["telea"]["n"] == 8
    assert len(list((tmp_path / "out" / "realism" / "fills").rglob("*.png"))) == 8  # the CNN trains on pixels


@pytest.mark.parametrize(
    "args, message",
    [
        (["--realism-cnn"], "--realism-cnn: only with --realism"),
        (["--realism", "--realism-folds", "1"], "--realism-folds 1: must be at least 2"),
        (["--realism", "--max-images", "1"], "--realism: 1 usable image(s)"),
    ],
)
def test_bad_realism_flags_are_one_clear_line(tmp_path, cli, args, message):
    images, masks = _inputs(tmp_path, photos=2)
    code, _, err = cli(
        "evaluate", "--model", "telea", "--images", images, "--masks", masks, "--out", tmp_path / "out", *args,
        "--quiet",
    )  # fmt: skip
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "metrics.csv").exists()
