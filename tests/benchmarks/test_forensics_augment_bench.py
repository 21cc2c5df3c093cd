"""benchmarks/forensics_augment.py: the ``augment`` step of the detector's recipe — grain-finished and gridded fills
of other inpainters, generic local manipulations and OpenCV fills at other radii, train split only, never from
``default``'s fills."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from inpaintkit.io import read_image, read_mask, write_image, write_mask


@pytest.fixture(scope="module")
def aug(load_bench):
    return load_bench("forensics_augment")


def noisy(rng, size=64):
    base = cv2.GaussianBlur(rng.uniform(40, 210, (size, size, 3)).astype(np.float32), (0, 0), 6)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def hole_detail(rgb, mask):
    y = rgb.astype(np.float32).mean(axis=2)
    return float(np.abs(cv2.Laplacian(y, cv2.CV_32F))[cv2.erode(mask.astype(np.uint8), np.ones((3, 3))) > 0].mean())


@pytest.fixture
def work(tmp_path, rng):
    recs = []
    for split, source, crop in (("train", "a", 0), ("train", "b", 0), ("train", "b", 1), ("val", "a", 0)):
        img = noisy(rng)
        real = tmp_path / f"{split}{source}{crop}.png"
        write_image(real, img)
        base = {"source_id": source, "crop": crop, "split": split, "mask_kind": "boxes"}
        recs.append({**base, "path": str(real), "label": 0, "inpainter": None, "mask_path": None, "hole_ratio": 0.0})
        for k, name in enumerate(("telea", "default", "ns")):
            mask = np.zeros((64, 64), bool)
            mask[8 + 12 * k : 24 + 12 * k, 10:40] = True
            fill = img.copy()
            fill[mask] = cv2.inpaint(img, mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)[mask]  # smooth: no noise
            stem = tmp_path / f"{split}{source}{crop}{name}"
            write_image(f"{stem}.png", fill)
            write_mask(f"{stem}_m.png", mask)
            recs.append({**base, "path": f"{stem}.png", "label": 1, "inpainter": name, "mask_path": f"{stem}_m.png"})
    (tmp_path / "all").mkdir()
    (tmp_path / "all" / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return tmp_path, recs


def test_augment_adds_grained_and_gridded_fills_manipulations_and_other_radii_to_train_only(aug, work):
    path, recs = work
    cnn_index = aug.augment(path)
    lines = [json.loads(x) for x in (path / "all" / "index.jsonl").read_text().splitlines()]
    assert lines[: len(recs)] == recs
    grained = lines[len(recs) :]
    # one of each per train crop, none for val
    assert [r["inpainter"] for r in grained] == ["grained"] * 3 + ["gridded"] * 3
    cnn = [json.loads(x) for x in cnn_index.read_text().splitlines()]
    assert cnn[: len(recs) + 3] == lines[: len(recs) + 3]  # the CNN's index: grained, not gridded (trees only)
    manipulated, radius = cnn[len(recs) + 3 : len(recs) + 6], cnn[len(recs) + 6 :]
    assert [r["inpainter"] for r in manipulated] == ["manipulated"] * 3
    assert [r["inpainter"] for r in radius] == ["telea", "ns"] * 3  # one of each per train crop, CNN only
    for r in grained + manipulated + radius:
        assert r["split"] == "train" and r["label"] == 1
        key = (r["source_id"], r["crop"])
        real = next(x for x in recs if not x["label"] and (x["source_id"], x["crop"], x["split"]) == (*key, "train"))
        mask, out = read_mask(r["mask_path"]), read_image(r["path"]).rgb
        real_rgb = read_image(real["path"]).rgb
        own = [x for x in recs if x["label"] and (x["source_id"], x["crop"], x["split"]) == (*key, "train")]
        assert np.array_equal(out[~mask], real_rgb[~mask])  # only the hole changes
        if r["inpainter"] in ("grained", "gridded"):
            src = next(x for x in own if x["mask_path"] == r["mask_path"])
            assert src["inpainter"] != "default"  # never `default`'s own fill
            assert r["finished_from"] == src["inpainter"]  # so leaving that inpainter out leaves this out too
            fill = read_image(src["path"]).rgb
            if r["inpainter"] == "grained":
                assert hole_detail(out, mask) > 1.2 * hole_detail(fill, mask)  # the photo's noise put back
            else:  # a grid added to the fill's hole
                assert np.abs(out.astype(np.float32) - fill)[mask].mean() > 0.5
        elif r in radius:  # the named OpenCV fill at another radius than the data step's 3, through an own mask
            assert r["radius"] in aug.RADII and r["radius"] != 3
            assert any(r["mask_path"] == x["mask_path"] for x in own)
            flag = cv2.INPAINT_TELEA if r["inpainter"] == "telea" else cv2.INPAINT_NS
            assert np.array_equal(out, cv2.inpaint(real_rgb, mask.astype(np.uint8), r["radius"], flag))
        else:
            assert r["mask_kind"] in aug.MANIPULATIONS
            assert any(np.array_equal(mask, read_mask(x["mask_path"])) for x in own)
            assert not np.array_equal(out[mask], real_rgb[mask])
    with pytest.raises(SystemExit, match="already has"):
        aug.augment(path)


def test_augment_adds_one_kind_to_a_folder_augmented_before_it_existed(aug, work):
    path, recs = work
    aug.augment(path, ("grained", "manipulated", "radius"))
    index, cnn_index = path / "all" / "index.jsonl", path / "all" / "index.cnn.jsonl"
    before, cnn_before = index.read_text(), cnn_index.read_text()
    assert aug.augment(path, ("gridded",)) == cnn_index
    added = index.read_text()[len(before) :].splitlines()
    assert index.read_text().startswith(before) and cnn_index.read_text() == cnn_before  # trees only
    assert [json.loads(x)["inpainter"] for x in added] == ["gridded"] * 3
    for kinds in (("gridded",), ("radius",), ("grained", "gridded")):
        with pytest.raises(SystemExit, match="already has"):
            aug.augment(path, kinds)


def test_augment_makes_no_cnn_index_for_the_noise_trees_kinds_alone(aug, work):
    path, recs = work
    with pytest.raises(SystemExit, match="not found; run the data step first"):
        aug.augment(path / "elsewhere", ("gridded",))
    assert aug.augment(path, ("gridded",)) is None
    assert not (path / "all" / "index.cnn.jsonl").exists()
    lines = [json.loads(x) for x in (path / "all" / "index.jsonl").read_text().splitlines()]
    assert lines[: len(recs)] == recs and [r["inpainter"] for r in lines[len(recs) :]] == ["gridded"] * 3


@pytest.mark.parametrize("kind", ["resample", "denoise", "heal"])
def test_each_manipulation_changes_only_the_hole_and_the_camera_noise_there(aug, rng, kind):
    img, other = noisy(rng, 96), noisy(rng, 96)
    mask = np.zeros((96, 96), bool)
    mask[20:70, 30:80] = True
    out, done = aug.manipulate(img, mask, kind, other, np.random.default_rng(0))
    assert done == kind and out.dtype == np.uint8 and out.shape == img.shape
    assert np.array_equal(out[~mask], img[~mask])
    inner = cv2.erode(mask.astype(np.uint8), np.ones((9, 9))) > 0
    if kind == "heal":  # the other crop's texture, its colours matched to the border
        diff = np.abs(out.astype(np.float32) - img.astype(np.float32))[inner].mean()
        assert diff > 3
    else:  # resampled or denoised: the fine noise is gone (or weaker than the photo's)
        assert hole_detail(out, inner) < 0.8 * hole_detail(img, inner)


def test_radius_fills_take_masks_from_the_crops_own_folder_when_an_index_merges_several(aug, tmp_path, rng):
    recs = []
    for folder, top in (("first", 4), ("second", 40)):  # the same photo and crop number in two dataset folders
        (tmp_path / folder / "images").mkdir(parents=True)
        (tmp_path / folder / "masks").mkdir()
        img = noisy(rng)
        real = write_image(tmp_path / folder / "images" / "real.png", img)
        base = {"source_id": "a", "crop": 0, "split": "train", "mask_kind": "boxes", "hole_ratio": 0.1}
        recs.append({**base, "path": str(real), "label": 0, "inpainter": None, "mask_path": None})
        mask = np.zeros((64, 64), bool)
        mask[top : top + 12, 10:40] = True
        m = write_mask(tmp_path / folder / "masks" / "m.png", mask)
        recs.append({**base, "path": str(real), "label": 1, "inpainter": "telea", "mask_path": str(m)})
    rows = aug.radius_fills(recs, tmp_path / "out")
    assert len(rows) == 4
    for r in rows:
        folder = "first" if "first" in r["mask_path"] else "second"
        real = read_image(tmp_path / folder / "images" / "real.png").rgb
        out, mask = read_image(r["path"]).rgb, read_mask(r["mask_path"])
        assert np.array_equal(out[~mask], real[~mask]) and not np.array_equal(out[mask], real[mask])
    assert sorted("first" in r["mask_path"] for r in rows) == [False, False, True, True]
