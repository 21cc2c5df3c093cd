"""benchmarks/forensics_fused.py: the ``add`` step (one more inpainter on the crops already made), the ``small``
step, the install of a fit's JPEG half, the whole-detector leave-one-out and the JPEG CNN's fine-tune on more
crops."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inpaintkit.io import read_image, read_mask, write_image, write_mask


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("forensics_fused")


def test_add_fills_fills_each_untouched_crop_with_one_of_its_own_masks(bench, tmp_path, rng):
    recs = []
    for split, crop in (("train", 0), ("train", 1), ("val", 0)):
        img = np.clip(rng.normal(128, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
        real = tmp_path / f"{split}{crop}.png"
        write_image(real, img)
        recs.append(
            {
                "path": str(real),
                "label": 0,
                "inpainter": None,
                "mask_path": None,
                "source_id": "p",
                "crop": crop,
                "split": split,
            }
        )
        for k, name in enumerate(("telea", "ns")):
            mask = np.zeros((32, 32), bool)
            mask[4 + 8 * k : 12 + 8 * k, 6:20] = True
            write_mask(tmp_path / f"{split}{crop}{name}_m.png", mask)
            write_image(tmp_path / f"{split}{crop}{name}.png", img)  # the fill itself does not matter here
            recs.append(
                {
                    "path": str(tmp_path / f"{split}{crop}{name}.png"),
                    "label": 1,
                    "inpainter": name,
                    "mask_path": str(tmp_path / f"{split}{crop}{name}_m.png"),
                    "source_id": "p",
                    "crop": crop,
                    "split": split,
                }
            )
    recs.append({**recs[0], "crop": 9, "split": "val"})  # an untouched crop with no fills gets none
    odd = np.zeros((32, 32), bool)
    odd[20:30, 2:30] = True
    write_mask(tmp_path / "grained_m.png", odd)  # the augment step's grain-finished fills are not masks to take
    for crop in (0, 1) * 20:  # many, so a draw among them all would take one
        recs.append(
            {
                **recs[1 + 3 * crop],
                "inpainter": "grained",
                "finished_from": "telea",
                "mask_path": str(tmp_path / "grained_m.png"),
            }
        )
    (tmp_path / "all").mkdir()
    (tmp_path / "all" / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))

    assert bench.add_fills(tmp_path, "biharmonic") == 3
    lines = [json.loads(x) for x in (tmp_path / "all" / "index.jsonl").read_text().splitlines()]
    assert lines[: len(recs)] == recs
    pre = [json.loads(x) for x in (tmp_path / "all" / "index.pre_biharmonic.jsonl").read_text().splitlines()]
    assert pre == recs  # the index before the added fills
    added = lines[len(recs) :]
    assert [(r["split"], r["crop"], r["inpainter"], r["label"]) for r in added] == [
        ("train", 0, "biharmonic", 1),
        ("train", 1, "biharmonic", 1),
        ("val", 0, "biharmonic", 1),
    ]
    for r in added:
        real = read_image(
            next(x["path"] for x in recs if not x["label"] and (x["split"], x["crop"]) == (r["split"], r["crop"]))
        ).rgb
        own = [
            read_mask(x["mask_path"]) for x in recs if x["label"] and (x["split"], x["crop"]) == (r["split"], r["crop"])
        ]
        mask, fill = read_mask(r["mask_path"]), read_image(r["path"]).rgb
        assert any(np.array_equal(mask, m) for m in own) and not np.array_equal(mask, odd)
        assert np.array_equal(fill[~mask], real[~mask]) and not np.array_equal(fill[mask], real[mask])
    with pytest.raises(SystemExit, match="already has biharmonic"):
        bench.add_fills(tmp_path, "biharmonic")


def test_small_step_appends_small_fills_in_large_crops_to_val_once(bench, tmp_path, rng):
    """``--steps small``: two 768x512 crops of each photo large enough (a smaller one is skipped), each untouched
    and with one elliptic hole of 0.5-3 % filled by each inpainter, appended to WORK/all as val records with their
    masks; a second run finds them there and appends nothing."""
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "big.png", np.clip(rng.normal(128, 30, (600, 800, 3)), 0, 255).astype(np.uint8))
    write_image(photos / "small.png", np.clip(rng.normal(128, 30, (300, 400, 3)), 0, 255).astype(np.uint8))
    work = tmp_path / "work"
    (work / "all").mkdir(parents=True)
    old = {"path": "x.png", "label": 0, "inpainter": None, "mask_path": None, "split": "train"}
    (work / "all" / "index.jsonl").write_text(json.dumps(old) + "\n")
    assert bench.add_small_val(photos, work, ("telea", "ns")) == 6
    lines = [json.loads(x) for x in (work / "all" / "index.jsonl").read_text().splitlines()]
    assert lines[0] == old and len(lines) == 7
    added = lines[1:]
    assert {r["split"] for r in added} == {"val"} and {r["source_id"] for r in added} == {"big"}
    assert sorted(r["inpainter"] or "" for r in added) == ["", "", "ns", "ns", "telea", "telea"]
    for r in added:
        rgb = read_image(r["path"]).rgb
        assert rgb.shape == (512, 768, 3)
        if r["label"]:
            mask = read_mask(r["mask_path"], shape=rgb.shape[:2])
            assert 0.004 < mask.mean() < 0.031 and abs(mask.mean() - r["hole_ratio"]) < 1e-9
            assert r["mask_kind"] == "small-ellipse"
    assert bench.add_small_val(photos, work, ("telea", "ns")) == 0
    assert len((work / "all" / "index.jsonl").read_text().splitlines()) == 7


@pytest.fixture
def two_bundles(tmp_path, monkeypatch):
    """(bundled, dst, fit, exported): two copies of the bundled detector, the one installed into and a fit, and the
    folders whose ONNX export was asked for (the export itself stubbed)."""
    import inpaintkit.forensics.detector as detector_mod

    bundled = Path(detector_mod.__file__).parents[1] / "weights" / "detector"
    dst, fit = tmp_path / "bundle", tmp_path / "fit"
    shutil.copytree(bundled, dst)
    shutil.copytree(bundled, fit)
    exported = []
    monkeypatch.setattr(detector_mod, "export_onnx_detector", lambda d: exported.append(Path(d)))
    return bundled, dst, fit, exported


def _moved_fit(fit: Path, **duplication) -> dict:
    """The fit's ``fusion.json`` made to differ from the bundle's in both halves (stack thresholds PNG +0.5, JPEG
    +0.25; tile corrections; ``duplication`` settings), written back and returned."""
    meta = json.loads((fit / "fusion.json").read_text())
    meta["stack"]["png"]["threshold"] += 0.5
    meta["stack"]["jpeg"]["threshold"] += 0.25
    meta["duplication"].update(duplication)
    meta["tile_correction"] = {"png": 0.25, "jpeg": 0.75}
    meta["tile_correction_fit"] = {
        "flagged": {"png": {"0.25": 0.01}, "jpeg": {"0.75": 0.02}},
        "flagged_at_confidence": {"png": {"0.25": 0.03}, "jpeg": {"0.75": 0.04}},
    }
    (fit / "fusion.json").write_text(json.dumps(meta))
    return meta


def _installed(bench, fit: Path, dst: Path, kind: str) -> tuple[dict, dict]:
    """``install_half(fit, dst, kind)``, checking that each of ``fusion.json``'s per-kind entries now holds the fit's
    ``kind`` and the bundle's other kind; returns the bundle's ``fusion.json`` before and after."""
    other = "png" if kind == "jpeg" else "jpeg"
    before = json.loads((dst / "fusion.json").read_text())
    bench.install_half(fit, dst, kind)
    after, meta = json.loads((dst / "fusion.json").read_text()), json.loads((fit / "fusion.json").read_text())
    for key in bench.KIND_ENTRIES:
        assert after[key][other] == before[key][other]
        assert after[key][kind] == meta[key][kind]
    return before, after


def test_install_jpeg_half_replaces_the_jpeg_entries_and_files_and_keeps_the_png_half(bench, two_bundles):
    from inpaintkit.forensics.fusion import FusedDetector

    bundled, dst, fit, exported = two_bundles
    # the fit's JPEG half differs from the bundle's: other JPEG trees (the PNG ones), a moved JPEG stack threshold;
    # its PNG half (flat_win, the PNG stack) must not reach the bundle
    meta = _moved_fit(fit, jpeg_vote={"min_votes": 21}, jpeg_dense={"alpha": 0.5}, flat_win=0)
    shutil.copyfile(fit / "noise_lgbm.txt", fit / "noise_lgbm_jpeg.txt")
    before, after = _installed(bench, fit, dst, "jpeg")
    assert after["stack"]["jpeg"]["threshold"] == pytest.approx(before["stack"]["jpeg"]["threshold"] + 0.25)
    assert (dst / "noise_lgbm_jpeg.txt").read_text() == (fit / "noise_lgbm.txt").read_text()
    assert (dst / "noise_lgbm.txt").read_bytes() == (bundled / "noise_lgbm.txt").read_bytes()
    assert exported == [dst / "cnn_jpeg"]
    assert after["duplication"] == {
        **before["duplication"],
        "jpeg_vote": {"min_votes": 21},
        "jpeg_dense": {"alpha": 0.5},
    }
    assert after["tile_correction"].get("png") == before.get("tile_correction", {}).get("png")
    assert after["tile_correction"]["jpeg"] == 0.75
    assert FusedDetector.load(dst).meta["stack"]["jpeg"]["threshold"] == after["stack"]["jpeg"]["threshold"]

    meta["cnn_jpeg"] = False
    (fit / "fusion.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit, match="without a JPEG CNN"):
        bench.install_half(fit, dst, "jpeg")


def test_a_jpeg_half_with_the_second_opinion_needs_the_same_png_cnn(bench, two_bundles):
    """A JPEG stack that takes the PNG network's logit (``SECOND_CNN``) brings its views along, and is refused (and
    a PNG half refused under it) when the two halves' PNG networks differ."""
    from inpaintkit.forensics.fusion import SECOND_CNN

    bundled, dst, fit, exported = two_bundles
    meta = _moved_fit(fit)
    meta["stack"]["jpeg"]["extra"] = [SECOND_CNN]
    meta["cnn_views"] = {"png": 1, "jpeg": 1, SECOND_CNN: 2}
    (fit / "fusion.json").write_text(json.dumps(meta))
    _, after = _installed(bench, fit, dst, "jpeg")
    assert after["cnn_views"][SECOND_CNN] == 2 and after["stack"]["jpeg"]["extra"] == [SECOND_CNN]
    weights = (fit / "model.safetensors").read_bytes()
    (fit / "model.safetensors").write_bytes(weights + b" ")  # another PNG network
    installed = (dst / "fusion.json").read_bytes()
    for kind in ("jpeg", "png"):
        with pytest.raises(SystemExit, match="PNG CNN is not the bundled one"):
            bench.install_half(fit, dst, kind)
    assert (dst / "fusion.json").read_bytes() == installed  # nothing half-installed


def test_install_png_half_replaces_the_png_entries_trees_and_cnn_and_keeps_the_jpeg_half(bench, two_bundles):
    bundled, dst, fit, exported = two_bundles
    _moved_fit(fit, jpeg_vote={"min_votes": 21})  # the fit's JPEG half must not reach the bundle
    shutil.copyfile(fit / "noise_lgbm_jpeg.txt", fit / "noise_lgbm.txt")
    cmeta = json.loads((fit / "detector.json").read_text())
    (fit / "detector.json").write_text(json.dumps({**cmeta, "checkpoint": "step_0000042"}))
    jpeg_cnn = (dst / "cnn_jpeg" / "detector.json").read_bytes()
    before, after = _installed(bench, fit, dst, "png")
    assert after["duplication"] == before["duplication"]
    assert after["tile_correction"] == {**before.get("tile_correction", {}), "png": 0.25}
    shares = after["tile_correction_fit"]  # the shares the PNG alpha was chosen on come with it; JPEG's stay
    assert shares["flagged"]["png"] == {"0.25": 0.01} and shares["flagged_at_confidence"]["png"] == {"0.25": 0.03}
    old = before.get("tile_correction_fit", {})
    for key in ("flagged", "flagged_at_confidence"):
        if "jpeg" in old.get(key, {}):
            assert shares[key]["jpeg"] == old[key]["jpeg"]
    assert (dst / "noise_lgbm.txt").read_bytes() == (bundled / "noise_lgbm_jpeg.txt").read_bytes()
    assert (dst / "noise_lgbm_jpeg.txt").read_bytes() == (bundled / "noise_lgbm_jpeg.txt").read_bytes()
    assert json.loads((dst / "detector.json").read_text())["checkpoint"] == "step_0000042"
    assert (dst / "cnn_jpeg" / "detector.json").read_bytes() == jpeg_cnn
    assert exported == [dst]


def test_loo_full_retrains_the_cnn_and_refits_without_each_inpainter_then_one_loo_table(bench, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run", lambda *a: calls.append(list(a)))
    out = tmp_path / "loo"
    (out / "det_telea").mkdir(parents=True)
    (out / "det_telea" / "fusion.json").write_text("{}")  # a fold already fitted is reused, not retrained
    bench.leave_one_out_full(tmp_path / "all", out, ["ns", "telea", "lama:/runs/v1"], 600)

    trains = [c for c in calls if c[:2] == ["forensics", "train"]]
    fits = [c for c in calls if c[:2] == ["forensics", "fit-detector"]]
    assert len(trains) == len(fits) == 2  # ns and the lama run; telea was there
    for c, name, tag in zip(trains, ["ns", "lama:/runs/v1"], ["ns", "lama_runs_v1"]):
        assert f"run.dir={out / f'cnn_{tag}'}" in c and "train.steps=600" in c
        assert f"data.exclude_inpainters={json.dumps([name])}" in c
    for c, name, tag in zip(fits, ["ns", "lama:/runs/v1"], ["ns", "lama_runs_v1"]):
        assert c[c.index("--exclude") + 1] == name
        assert c[c.index("--cnn") + 1] == str(out / f"cnn_{tag}")
        assert c[c.index("--out") + 1] == str(out / f"det_{tag}")
    ev = calls[-1]
    assert ev[:2] == ["forensics", "evaluate"]
    loos = [ev[i + 1] for i, a in enumerate(ev) if a == "--loo"]
    assert loos == [str(out / f"det_{t}") for t in ("ns", "telea", "lama_runs_v1")]
    with pytest.raises(SystemExit, match="--loo-full"):
        bench.leave_one_out_full(tmp_path / "all", out, [], 600)
    # the folds' trees on the fit step's data (the index plus more crops), their CNNs on the index
    more = tmp_path / "all" / "index.more.jsonl"
    bench.leave_one_out_full(tmp_path / "all", tmp_path / "loo2", ["ns"], 600, more)
    fit = [c for c in calls if c[:2] == ["forensics", "fit-detector"]][-1]
    assert fit[fit.index("--data") + 1] == str(more) and f"run.dir={tmp_path / 'loo2' / 'cnn_ns'}" in calls[-3]


#: the records a faked ``make_dataset`` writes for the extra train crops (paths relative to its folder)
EXTRA_CROPS = [
    {"path": "images/c.png", "label": 0, "mask_path": None, "split": "train"},
    {"path": "images/d.png", "label": 1, "mask_path": "masks/d.png", "split": "train"},
]


def fake_steps(bench, monkeypatch, recs):
    """``make_dataset`` faked to write ``recs`` as its index, ``run`` to record its arguments: -> (the make_dataset
    calls, the run calls)."""
    made, calls = [], []

    def fake_make_dataset(images, inpainters, masks, per_image, crops, seed, out):
        made.append((images, inpainters, masks, per_image, crops, seed, out))
        out.mkdir(parents=True)
        (out / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))

    monkeypatch.setattr(bench, "make_dataset", fake_make_dataset)
    monkeypatch.setattr(bench, "run", lambda *a: calls.append(list(a)))
    return made, calls


def test_cnn_jpeg_fine_tune_on_more_crops_trains_on_tv_plus_the_new_crops(bench, tmp_path, monkeypatch):
    """``--steps cnn-jpeg --cnn-jpeg-init default --cnn-jpeg-more-crops N``: N more crops per train photo are made
    once (seed 21, every inpainter), WORK/tvm = WORK/tv's lines then theirs with absolute paths, and the fine-tune
    trains on it with the shipped run's settings (``forensics train`` exports its best checkpoint itself)."""
    import sys

    work = tmp_path / "work"
    (work / "tv").mkdir(parents=True)
    tv = [{"path": "/abs/a.png", "label": 0, "split": "train"}, {"path": "/abs/b.png", "label": 0, "split": "val"}]
    (work / "tv" / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tv))
    made, calls = fake_steps(bench, monkeypatch, EXTRA_CROPS)
    argv = ["forensics_fused.py", "--corpus", str(tmp_path / "corpus"), "--work", str(work), "--steps", "cnn-jpeg"]
    argv += ["--inpainters", "telea,ns", "--cnn-jpeg", str(tmp_path / "run"), "--cnn-jpeg-init", "default"]
    monkeypatch.setattr(sys, "argv", [*argv, "--cnn-jpeg-more-crops", "3", "--cnn-jpeg-steps", "40"])
    bench.main()
    bench.main()  # the extra crops are made once

    assert made == [(tmp_path / "corpus" / "train", "telea,ns", bench.MASKS, 2, 3, 21, work / "train_more")]
    lines = [json.loads(x) for x in (work / "tvm" / "index.jsonl").read_text().splitlines()]
    more = work / "train_more"
    assert lines[:2] == tv and [(r["path"], r["mask_path"]) for r in lines[2:]] == [
        (str(more / "images/c.png"), None),
        (str(more / "images/d.png"), str(more / "masks/d.png")),
    ]
    assert len(calls) == 2 and calls[0] == calls[1]
    train = calls[0]
    assert train[:2] == ["forensics", "train"] and f"data.index={work / 'tvm' / 'index.jsonl'}" in train
    assert "train.steps=40" in train and all(s in train for s in bench.MORE_CROPS_FINE_TUNE)
    # the run's own settings come after the shared fine-tune's, so its seed wins
    assert train.index("train.seed=4") > train.index("train.seed=1")
    monkeypatch.setattr(sys, "argv", argv)  # without more crops: WORK/tv, the shared settings only
    bench.main()
    assert f"data.index={work / 'tv' / 'index.jsonl'}" in calls[-1] and "train.seed=4" not in calls[-1]


def test_fit_on_more_crops_fits_on_the_index_plus_the_same_extra_crops(bench, tmp_path, monkeypatch):
    """``--steps fit --fit-more-crops N``: WORK/all/index.more.jsonl = WORK/all/index.jsonl as it stands, then the
    extra crops (made once, the cnn-jpeg fine-tune's: seed 21, every inpainter) with absolute paths; the fit step
    and the loo step's trees fit on that file. Without the option both take WORK/all."""
    import sys

    work = tmp_path / "work"
    (work / "all").mkdir(parents=True)
    base = [{"path": "/abs/a.png", "label": 0, "split": "train"}, {"path": "/abs/b.png", "label": 0, "split": "val"}]
    (work / "all" / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in base))
    made, calls = fake_steps(bench, monkeypatch, EXTRA_CROPS[1:])
    argv = ["forensics_fused.py", "--corpus", str(tmp_path / "corpus"), "--work", str(work), "--steps", "fit"]
    argv += ["--inpainters", "telea,ns", "--cnn", "default"]
    monkeypatch.setattr(sys, "argv", [*argv, "--fit-more-crops", "4"])
    bench.main()
    bench.main()  # the extra crops are made once
    assert made == [
        (tmp_path / "corpus" / "train", "telea,ns", bench.MASKS, 2, 4, bench.MORE_CROPS_SEED, work / "train_more")
    ]
    lines = [json.loads(x) for x in (work / "all" / "index.more.jsonl").read_text().splitlines()]
    more = work / "train_more"
    assert lines[:2] == base and lines[2:] == [
        {"path": str(more / "images/d.png"), "label": 1, "mask_path": str(more / "masks/d.png"), "split": "train"}
    ]
    fit = calls[0]
    assert fit[:2] == ["forensics", "fit-detector"] and fit[fit.index("--data") + 1] == str(
        work / "all" / "index.more.jsonl"
    )
    monkeypatch.setattr(sys, "argv", argv)
    bench.main()
    assert calls[-1][calls[-1].index("--data") + 1] == str(work / "all")
    # the leave-one-out fits its trees on the same data as the fit step
    loo = []
    monkeypatch.setattr(bench, "leave_one_out", lambda data, out, seen: loo.append(data))
    for more in (["--fit-more-crops", "4"], []):
        monkeypatch.setattr(sys, "argv", [*argv[:6], "loo", *argv[7:], *more])
        bench.main()
    assert loo == [work / "all" / "index.more.jsonl", work / "all"] and len(made) == 1
