"""``inpaintkit evaluate`` end to end: files, values, resume, jobs, pairing, resizing and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from inpaintkit.errors import InpaintKitError
from inpaintkit.evaluate import COLUMNS, EvalConfig, evaluate, image_metrics, read_metrics_csv, runner
from inpaintkit.inpainters import create_inpainter
from inpaintkit.io import read_image, read_mask, write_image, write_mask


def _make_inputs(root: Path, photo: np.ndarray, mask_side: int = 64) -> tuple[Path, Path]:
    """2 photo crops (64x64) and 2 buckets (small / large hole) of one mask each."""
    images, masks = root / "images", root / "masks"
    write_image(images / "alpha.png", photo[100:164, 200:264])
    write_image(images / "beta.png", photo[300:364, 400:464])
    s = mask_side / 64
    small = np.zeros((mask_side, mask_side), bool)
    small[int(20 * s) : int(30 * s), int(20 * s) : int(34 * s)] = True
    large = np.zeros((mask_side, mask_side), bool)
    large[int(10 * s) : int(40 * s), int(6 * s) : int(46 * s)] = True
    write_mask(masks / "0.01-0.1" / "m000.png", small)
    write_mask(masks / "0.2-0.3" / "m000.png", large)
    return images, masks


def _quiet(_msg: str) -> None:
    pass


@pytest.fixture
def inputs(tmp_path, photo):
    return _make_inputs(tmp_path, photo)


@pytest.mark.slow
def test_end_to_end_files_and_values(tmp_path, inputs, cli):
    images, masks = inputs
    out = tmp_path / "report"
    code, stdout, err = cli(
        "evaluate", "--model", "telea", "--model", "ns", "--images", images, "--masks", masks, "--out", out, "--quiet"
    )
    assert code == 0, err
    assert "telea" in stdout and "wrote" in stdout
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert (
        tuple(rows[0])
        == COLUMNS
        == ("model", "bucket", "image", "mask", "psnr", "hole_psnr", "ssim", "l1", "lpips_hed", "seconds")
    )
    keys = [tuple(r[:4]) for r in rows[1:]]
    # deterministic order: model as given, then bucket, image, mask
    assert keys == [
        (m, b, i, "m000.png")
        for m in ("telea", "ns")
        for b in ("0.01-0.1", "0.2-0.3")
        for i in ("alpha.png", "beta.png")
    ]
    # every value equals a recomputation from the inpainter's own output
    parsed = read_metrics_csv(out / "metrics.csv")
    for r in parsed:
        img = read_image(images / r["image"]).rgb
        m = read_mask(masks / r["bucket"] / r["mask"])
        expected = image_metrics(create_inpainter(r["model"]).inpaint(img, m), img, m)
        for k, v in expected.items():
            assert r[k] == pytest.approx(v, abs=2e-6), (r, k)
        assert 0 < r["seconds"] < 10
    # a bigger hole scores worse
    by = {(r["model"], r["bucket"], r["image"]): r for r in parsed}
    assert by[("telea", "0.2-0.3", "alpha.png")]["psnr"] < by[("telea", "0.01-0.1", "alpha.png")]["psnr"]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 8 and summary["models"] == ["telea", "ns"]
    psnr_all = summary["metrics"]["psnr"]["all"]["telea"]
    assert psnr_all["n"] == 4
    assert psnr_all["mean"] == pytest.approx(np.mean([r["psnr"] for r in parsed if r["model"] == "telea"]), abs=1e-5)
    assert [b["name"] for b in summary["buckets"]] == ["0.01-0.1", "0.2-0.3"]
    assert "fid" in summary["not_computed"] and "lpips" in summary["not_computed"]
    # lpips_hed and kid_hed need no weights file: the bundled VGG16 features
    assert "lpips_hed" not in summary["not_computed"] and "vgg16-hed" in summary["features"]
    assert all(0 < r["lpips_hed"] < 2 for r in parsed)
    lp = summary["metrics"]["lpips_hed"]
    assert lp["0.2-0.3"]["telea"]["mean"] > lp["0.01-0.1"]["telea"]["mean"]  # a bigger hole is further away
    assert summary["metrics"]["kid_hed"]["all"]["telea"]["n"] == 4
    assert "Not comparable with published LPIPS" in summary["definitions"]["lpips_hed"]

    md = (out / "report.md").read_text()
    assert "| bucket | hole % | pairs | telea | ns |" in md
    assert "FID: not computed: no --fid-weights given" in md
    html = (out / "report.html").read_text()
    assert "<table>" in html and "<b>" in html
    for name in (
        "plots/metrics_vs_hole_ratio.png",
        "plots/speed.png",
        "samples/grid_0.01-0.1.png",
        "samples/grid_0.2-0.3.png",
    ):
        assert f"({name})" in md and f"src='{name}'" in html
        pic = read_image(out / name).rgb
        assert pic.shape[0] > 200 and pic.std() > 10  # a real picture, not an empty canvas
    assert (out / "plots" / "speed.pdf").stat().st_size > 1000


@pytest.mark.slow
def test_resume_skips_rows_already_done(tmp_path, inputs):
    images, masks = inputs
    out = tmp_path / "report"
    cfg = EvalConfig(("telea",), images, masks, out, figures=False)
    evaluate(cfg, log=_quiet, progress=False)
    first = read_metrics_csv(out / "metrics.csv")
    logs: list[str] = []
    evaluate(cfg, log=logs.append, progress=False)
    assert read_metrics_csv(out / "metrics.csv") == first  # nothing recomputed: seconds identical
    assert not (out / "plots").exists() and not (out / "samples").exists()  # figures=False
    assert any("4 already in" in line and "0 to compute" in line for line in logs)

    # drop one row: only that one is computed again, the others keep their values
    runner.write_metrics_csv(out / "metrics.csv", first[1:])
    logs.clear()
    evaluate(cfg, log=logs.append, progress=False)
    again = read_metrics_csv(out / "metrics.csv")
    assert len(again) == 4 and again[1:] == first[1:]
    assert runner.row_key(again[0]) == runner.row_key(first[0])
    assert any("1 to compute" in line for line in logs)

    # adding a model computes only its rows
    logs.clear()
    evaluate(EvalConfig(("telea", "ns"), images, masks, out, figures=False), log=logs.append, progress=False)
    assert any("4 already in" in line and "4 to compute" in line for line in logs)
    both = read_metrics_csv(out / "metrics.csv")
    assert both[:4] == again and len(both) == 8

    # changed settings that alter the values refuse to resume into the same folder
    with pytest.raises(InpaintKitError, match="same settings to resume"):
        evaluate(EvalConfig(("telea",), images, masks, out, size=32), log=_quiet, progress=False)


def test_an_interrupted_run_leaves_a_complete_csv(tmp_path, inputs, monkeypatch):
    images, masks = inputs
    out = tmp_path / "report"
    real_run = runner._Worker.run
    calls = {"n": 0}

    def flaky(self, job):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the user presses Ctrl-C during the second image
        return real_run(self, job)

    monkeypatch.setattr(runner._Worker, "run", flaky)
    with pytest.raises(KeyboardInterrupt):
        evaluate(EvalConfig(("telea",), images, masks, out, figures=False), log=_quiet, progress=False)
    rows = read_metrics_csv(out / "metrics.csv")  # parses: every row complete
    assert [r["image"] for r in rows] == ["alpha.png", "alpha.png"]
    assert not list(out.glob(".*.tmp"))
    monkeypatch.setattr(runner._Worker, "run", real_run)
    logs: list[str] = []
    evaluate(EvalConfig(("telea",), images, masks, out, figures=False), log=logs.append, progress=False)
    assert any("2 already in" in line and "2 to compute" in line for line in logs)
    assert len(read_metrics_csv(out / "metrics.csv")) == 4


@pytest.mark.slow
def test_fid_and_lpips_with_synthetic_weights_and_resume(tmp_path, photo, fid_weights, lpips_files):
    images, masks = _make_inputs(tmp_path, photo)
    out = tmp_path / "report"
    cfg = EvalConfig(
        ("telea",),
        images,
        masks,
        out,
        max_images=1,
        fid_weights=fid_weights,
        lpips_weights=lpips_files / "vgg.pth",
        vgg_weights=lpips_files / "vgg16.pth",
        figures=False,
    )
    summary = evaluate(cfg, log=_quiet, progress=False)
    assert summary["not_computed"] == {}
    fid = summary["metrics"]["fid"]
    assert fid["all"]["telea"]["n"] == 2 and fid["all"]["telea"]["mean"] > 0
    assert fid["0.01-0.1"]["telea"]["n"] == 1 and fid["0.01-0.1"]["telea"]["mean"] is None  # FID needs 2 rows
    lp = summary["metrics"]["lpips"]
    # the small hole changes the picture less than the large one
    assert 0 < lp["0.01-0.1"]["telea"]["mean"] < lp["0.2-0.3"]["telea"]["mean"]
    md = (out / "report.md").read_text()
    assert "## FID ↓" in md and "## LPIPS ↓" in md and "not computed" not in md
    # resume: values come back from the cache without recomputation
    logs: list[str] = []
    again = evaluate(cfg, log=logs.append, progress=False)
    assert any("0 to compute" in line for line in logs)
    assert again["metrics"]["fid"] == summary["metrics"]["fid"]
    assert again["metrics"]["lpips"] == summary["metrics"]["lpips"]


@pytest.mark.slow
def test_jobs_give_the_same_rows_in_the_same_order(tmp_path, inputs):
    images, masks = inputs
    one = evaluate(EvalConfig(("telea",), images, masks, tmp_path / "j1", figures=False), log=_quiet, progress=False)
    two = evaluate(
        EvalConfig(("telea",), images, masks, tmp_path / "j2", jobs=2, figures=False), log=_quiet, progress=False
    )
    a = read_metrics_csv(tmp_path / "j1" / "metrics.csv")
    b = read_metrics_csv(tmp_path / "j2" / "metrics.csv")
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b]
    assert one["metrics"]["psnr"] == two["metrics"]["psnr"]


def test_masks_of_another_size_are_resized_and_counted(tmp_path, photo):
    images, masks = _make_inputs(tmp_path, photo, mask_side=32)
    out = tmp_path / "report"
    summary = evaluate(EvalConfig(("telea",), images, masks, out, figures=False), log=_quiet, progress=False)
    assert summary["masks_resized"]["pairs"] == 4 and summary["masks_resized"]["of"] == 4
    md = (out / "report.md").read_text()
    assert "Masks resized (nearest-neighbour) to their image's size: **4** of 4 pairs" in md
    # the same numbers as with masks drawn at the image size (nearest-neighbour x2 of a block mask is exact)
    images64, masks64 = _make_inputs(tmp_path / "b", photo, mask_side=64)
    evaluate(EvalConfig(("telea",), images64, masks64, tmp_path / "r64", figures=False), log=_quiet, progress=False)
    a = read_metrics_csv(out / "metrics.csv")
    b = read_metrics_csv(tmp_path / "r64" / "metrics.csv")
    assert [r["psnr"] for r in a] == [r["psnr"] for r in b]


@pytest.mark.slow
def test_size_crops_and_masks_pair_by_stem(tmp_path, photo):
    images, masks = tmp_path / "images", tmp_path / "masks"
    write_image(images / "wide.png", photo[:60, :90])  # centre crop to 60x60, resized to 32x32
    write_image(images / "tall.png", photo[:90, 100:150])
    for stem in ("wide", "tall_mask"):
        m = np.zeros((32, 32), bool)
        m[8:20, 8:20] = True
        write_mask(masks / f"{stem}.png", m)
    out = tmp_path / "report"
    summary = evaluate(EvalConfig(("telea",), images, masks, out, size=32), log=_quiet, progress=False)
    rows = read_metrics_csv(out / "metrics.csv")
    assert sorted((r["image"], r["mask"]) for r in rows) == [("tall.png", "tall_mask.png"), ("wide.png", "wide.png")]
    assert summary["buckets"][0]["paired_by_stem"] and summary["masks_resized"]["pairs"] == 0
    assert read_image(out / "samples" / "masks" / "wide.png__wide.png" / "gt.png").rgb.shape == (32, 32, 3)


def test_unreadable_files_are_skipped_and_counted(tmp_path, inputs):
    images, masks = inputs
    (images / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (masks / "0.01-0.1" / "m001.png").write_bytes(b"")
    out = tmp_path / "report"
    summary = evaluate(
        EvalConfig(("telea",), images, masks, out, max_masks=5, figures=False), log=_quiet, progress=False
    )
    assert summary["rows"] == 4
    assert sorted(Path(s["file"]).name for s in summary["skipped"]) == ["broken.jpg", "m001.png"]
    assert "Skipped (unreadable or unusable files, failed fills): **2**" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty_images", "no images"),
        ("missing_images", "no such folder"),
        ("empty_masks", "no mask files"),
        ("unknown_model", "unknown inpainter 'nope'; choose from: "),
        ("bad_jobs", "--jobs 0"),
        ("missing_fid", "--fid-weights"),
        ("bad_lpips_pool", "has no VGG16 backbone; pass --vgg-weights"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, inputs, cli, case, message, lpips_files):
    images, masks = inputs
    args = {"--model": "telea", "--images": images, "--masks": masks, "--out": tmp_path / "out"}
    extra: list = []
    if case == "empty_images":
        args["--images"] = tmp_path / "nothing"
        args["--images"].mkdir()
    elif case == "missing_images":
        args["--images"] = tmp_path / "absent"
    elif case == "empty_masks":
        args["--masks"] = tmp_path / "nomasks"
        (args["--masks"] / "bucket").mkdir(parents=True)
    elif case == "unknown_model":
        args["--model"] = "nope"
    elif case == "bad_jobs":
        extra = ["--jobs", "0"]
    elif case == "missing_fid":
        extra = ["--fid-weights", tmp_path / "absent.pth"]
    elif case == "bad_lpips_pool":  # refused in the main process, not as a broken worker pool
        extra = ["--lpips-weights", lpips_files / "vgg.pth", "--jobs", "2"]
    code, out, err = cli("evaluate", *[x for kv in args.items() for x in kv], *extra, "--quiet")
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out" / "metrics.csv").exists()  # nothing half-done
    if case == "unknown_model":
        assert "telea" in err and "patchmatch" in err


def test_hed_columns_empty_with_a_reason_when_features_are_missing(tmp_path, inputs, monkeypatch):
    from inpaintkit.evaluate import perceptual

    images, masks = inputs
    off = evaluate(
        EvalConfig(("telea",), images, masks, tmp_path / "off", figures=False, hed=False), log=_quiet, progress=False
    )
    assert off["not_computed"]["lpips_hed"] == "not computed: turned off (--no-hed)"
    assert all(np.isnan(r["lpips_hed"]) for r in read_metrics_csv(tmp_path / "off" / "metrics.csv"))
    monkeypatch.setattr(perceptual, "default_vgg16_weights", lambda: None)  # a stripped install
    gone = evaluate(EvalConfig(("telea",), images, masks, tmp_path / "gone", figures=False), log=_quiet, progress=False)
    assert "missing from this install" in gone["not_computed"]["kid_hed"]
    assert "lpips_hed" not in gone["metrics"]
    assert "missing from this install" in (tmp_path / "gone" / "report.md").read_text()


def test_a_metrics_csv_from_before_lpips_hed_resumes(tmp_path, inputs):
    images, masks = inputs
    out = tmp_path / "report"
    cfg = EvalConfig(("telea",), images, masks, out, figures=False)
    evaluate(cfg, log=_quiet, progress=False)
    text = (out / "metrics.csv").read_text().splitlines()
    old = [",".join(c for i, c in enumerate(line.split(",")) if i != 8) for line in text]  # drop lpips_hed
    (out / "metrics.csv").write_text("\n".join(old) + "\n")
    logs: list[str] = []
    evaluate(cfg, log=logs.append, progress=False)
    assert "4 to compute" in logs[0]  # rows without lpips_hed are computed again
    assert all(np.isfinite(r["lpips_hed"]) for r in read_metrics_csv(out / "metrics.csv"))
