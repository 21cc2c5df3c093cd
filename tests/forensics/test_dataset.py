"""make-dataset: identical pipeline for both classes, splits by source, deterministic, resumable."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaintkit.data.dataset import read_index
from inpaintkit.errors import InpaintKitError
from inpaintkit.forensics.dataset import DatasetSpec, make_dataset, split_for


def _digest(folder) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.parent.name in ("images", "masks")
    }


def test_index_fields_counts_and_masks(tiny_dataset, tiny_spec):
    recs = read_index(tiny_dataset)
    assert len(recs) == 5 * tiny_spec.crops_per_image * (1 + tiny_spec.per_image)
    # the file keeps paths relative to its folder (relocatable); the one read_index resolves them
    stored = [json.loads(line) for line in (tiny_dataset / "index.jsonl").read_text().splitlines()]
    assert all(r["path"].startswith("images/") for r in stored)
    assert [str(tiny_dataset / r["path"]) for r in stored] == [r["path"] for r in recs]
    for r in recs:
        assert set(r) >= {"path", "label", "inpainter", "mask_path", "source_id", "split"}
        assert Path(r["path"]).is_file()
        if r["label"] == 1:
            assert r["inpainter"] in ("telea", "ns")
            mask = np.asarray(Image.open(r["mask_path"])) > 127
            assert mask.shape == (64, 64) and mask.any()
            assert abs(mask.mean() - r["hole_ratio"]) < 1e-4
        else:
            assert r["inpainter"] is None and r["mask_path"] is None
    # both inpainters are used equally often
    inps = [r["inpainter"] for r in recs if r["label"] == 1]
    assert inps.count("telea") == inps.count("ns")


def test_inpainted_sample_differs_from_real_only_in_the_hole(tiny_dataset):
    recs = read_index(tiny_dataset)
    real = {(r["source_id"], r["crop"]): r for r in recs if r["label"] == 0}
    checked = 0
    for r in recs:
        if r["label"] == 1:
            a = np.asarray(Image.open(real[(r["source_id"], r["crop"])]["path"]))
            b = np.asarray(Image.open(r["path"]))
            mask = np.asarray(Image.open(r["mask_path"])) > 127
            assert np.array_equal(a[~mask], b[~mask])  # PNG: lossless, same crop, same resize
            assert not np.array_equal(a[mask], b[mask])
            checked += 1
    assert checked == 20


def test_a_classifier_cannot_separate_classes_by_size_format_or_metadata(tiny_dataset):
    from sklearn.metrics import roc_auc_score

    recs = read_index(tiny_dataset)
    feats, y = [], []
    for r in recs:
        p = Path(r["path"])
        with Image.open(p) as im:
            feats.append(
                [
                    im.width,
                    im.height,
                    len(im.mode),
                    hash(im.format) % 997,
                    len(im.info),
                    int("exif" in im.info),
                    hash(p.suffix) % 997,
                    len(p.name),
                ]
            )
        y.append(r["label"])
    X, y = np.asarray(feats, float), np.asarray(y)
    # every such feature is constant over the whole dataset ...
    assert np.all(X == X[0])
    # ... so none of them ranks the classes: each feature's own ROC-AUC is exactly chance. (A classifier fitted on
    # constant inputs only returns its folds' class priors, whose last-digit float noise makes its AUC arbitrary.)
    assert 0 < y.mean() < 1
    for column in X.T:
        assert roc_auc_score(y, column) == 0.5


def test_splits_are_by_source_with_held_out_sources_in_test(tiny_dataset, tiny_spec):
    recs = read_index(tiny_dataset)
    by_source: dict[str, set[str]] = {}
    for r in recs:
        by_source.setdefault(r["source_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_source.values())  # no source in two splits: no leakage
    assert by_source["chelsea"] == {"test"} and by_source["coffee"] == {"test"}
    for sid, splits in by_source.items():
        assert splits == {split_for(sid, tiny_spec)}
    assert {"train", "test"} <= set().union(*by_source.values())


@pytest.mark.slow
def test_deterministic_for_any_jobs_and_resumable(source_dir, tiny_spec, tiny_dataset, tmp_path):
    out = tmp_path / "again"
    make_dataset([source_dir], out, tiny_spec, jobs=2, progress=False)
    assert (out / "index.jsonl").read_text() == (tiny_dataset / "index.jsonl").read_text()
    assert _digest(out) == _digest(tiny_dataset)
    # interrupt: drop one source's record and files, resume, and get the same dataset back
    recs = read_index(out)
    victim = recs[0]["source_id"]
    (out / "records" / f"{victim}.json").unlink()
    for r in recs:
        if r["source_id"] == victim:
            (out / r["path"]).unlink()
    (out / "index.jsonl").unlink()
    make_dataset([source_dir], out, tiny_spec, jobs=1, progress=False)
    assert (out / "index.jsonl").read_text() == (tiny_dataset / "index.jsonl").read_text()
    assert _digest(out) == _digest(tiny_dataset)


def test_resume_with_other_settings_is_refused(source_dir, tiny_spec, tiny_dataset, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(tiny_dataset, out)
    other = DatasetSpec(**{**json.loads((out / "dataset.json").read_text()), "size": 96})
    with pytest.raises(InpaintKitError, match="other settings.*size"):
        make_dataset([source_dir], out, other, progress=False)


def test_jpeg_format_applies_to_both_classes(source_dir, tmp_path):
    spec = DatasetSpec(
        inpainters=["telea"],
        masks=["boxes"],
        per_image=1,
        size=48,
        format="jpg",
        quality=80,
        test_frac=0.0,
        val_frac=0.0,
    )
    recs = read_index(make_dataset([source_dir], tmp_path / "j", spec, progress=False))
    formats = {(r["label"], Image.open(r["path"]).format) for r in recs}
    assert formats == {(0, "JPEG"), (1, "JPEG")}


def test_bad_names_are_user_errors(source_dir, tmp_path):
    with pytest.raises(InpaintKitError, match="inpainter"):
        make_dataset([source_dir], tmp_path / "x", DatasetSpec(inpainters=["nope"], masks=["boxes"]), progress=False)
    with pytest.raises(InpaintKitError, match="mask"):
        make_dataset([source_dir], tmp_path / "y", DatasetSpec(inpainters=["telea"], masks=["nope"]), progress=False)
    with pytest.raises(InpaintKitError, match="no such image"):
        make_dataset(
            [tmp_path / "missing"], tmp_path / "z", DatasetSpec(inpainters=["telea"], masks=["boxes"]), progress=False
        )


def test_scale_one_keeps_native_pixels_and_scale_half_downsizes_twice():
    from inpaintkit.forensics.dataset import random_crop

    rgb = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    crop = random_crop(rgb, np.random.default_rng(1), 64, scale=[1.0, 1.0])
    assert crop.shape == (64, 64, 3)
    # a 1:1 window of the photo, not a resize: it occurs verbatim
    hits = [
        (t, l) for t in range(300 - 63) for l in range(400 - 63) if np.array_equal(rgb[t : t + 64, l : l + 64], crop)
    ]
    assert len(hits) == 1
    # scale 0.5 on a 128² photo: the whole photo, shrunk 2x with INTER_AREA
    import cv2

    small = rgb[:128, :128]
    assert np.array_equal(
        random_crop(small, np.random.default_rng(1), 64, scale=[0.5, 0.5]),
        cv2.resize(small, (64, 64), interpolation=cv2.INTER_AREA),
    )
    # a scale asking for a window larger than the photo is capped at its short side
    assert random_crop(rgb[:80, :90], np.random.default_rng(2), 64, scale=[0.5, 0.5]).shape == (64, 64, 3)


def test_scale_flag_parsing_and_checks(source_dir, tmp_path):
    from inpaintkit.forensics.dataset import parse_scale

    assert parse_scale("0.5-1.0") == [0.5, 1.0] and parse_scale("1") == [1.0, 1.0] and parse_scale("") is None
    with pytest.raises(InpaintKitError, match="--scale"):
        parse_scale("big")
    with pytest.raises(InpaintKitError, match="--scale"):
        make_dataset(
            [source_dir],
            tmp_path / "s",
            DatasetSpec(inpainters=["telea"], masks=["boxes"], scale=[0.8, 0.5]),
            progress=False,
        )
    # with scale 1 every inpainted sample still equals its real twin outside the hole (the same native crop)
    spec = DatasetSpec(
        inpainters=["telea"], masks=["boxes"], per_image=1, size=48, scale=[1.0, 1.0], test_frac=0.0, val_frac=0.0
    )
    recs = read_index(make_dataset([source_dir], tmp_path / "n", spec, progress=False))
    real = {(r["source_id"], r["crop"]): r for r in recs if r["label"] == 0}
    for r in (r for r in recs if r["label"] == 1):
        a = np.asarray(Image.open(real[(r["source_id"], r["crop"])]["path"]))
        b = np.asarray(Image.open(r["path"]))
        mask = np.asarray(Image.open(r["mask_path"])) > 127
        assert a.shape == b.shape == (48, 48, 3) and np.array_equal(a[~mask], b[~mask])


def test_folder_made_before_a_setting_existed_resumes(source_dir, tiny_spec, tiny_dataset, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(tiny_dataset, out)
    old = json.loads((out / "dataset.json").read_text())
    old.pop("scale")
    (out / "dataset.json").write_text(json.dumps(old))
    make_dataset([source_dir], out, tiny_spec, progress=False)  # no "other settings" error
    assert (out / "index.jsonl").read_text() == (tiny_dataset / "index.jsonl").read_text()
