"""The synthetic captioned shapes data set: determinism, one shape per mask, captions, files, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inpaintkit.data.captions import read_captions
from inpaintkit.data.dataset import read_index
from inpaintkit.data.shapes import COLOURS, KINDS, POSITIONS, make_scene, recaption, write_shapes
from inpaintkit.errors import InpaintKitError
from inpaintkit.io import read_image, read_mask


def test_same_seed_and_index_give_the_same_scene():
    a, b = make_scene(3, 7), make_scene(3, 7)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask) and a.caption == b.caption
    c = make_scene(3, 8)
    assert not np.array_equal(a.image, c.image)
    assert not np.array_equal(a.image, make_scene(4, 7).image)


@pytest.mark.parametrize("index", range(12))
def test_mask_covers_exactly_one_shape(index):
    sc = make_scene(0, index)
    assert sc.image.shape == (64, 64, 3) and sc.image.dtype == np.uint8
    assert 2 <= len(sc.shapes) <= 3
    hidden = sc.shape_masks[sc.hidden]
    assert sc.mask[hidden].all()  # the whole hidden shape is hole
    for i, sil in enumerate(sc.shape_masks):
        if i != sc.hidden:
            assert not (sc.mask & sil).any()  # no other shape is touched
    assert sc.mask.sum() < 3 * hidden.sum()  # a grown silhouette, not a big box


@pytest.mark.parametrize("index", range(6))
def test_caption_names_every_shape_and_colours_are_distinct(index):
    sc = make_scene(1, index)
    colours = [s.colour for s in sc.shapes]
    assert len(set(colours)) == len(colours)
    assert len({s.position for s in sc.shapes}) == len(sc.shapes)
    for s in sc.shapes:
        assert s.colour in COLOURS and s.kind in KINDS and s.position in POSITIONS
        assert f"{s.colour} {s.kind} at the {s.position}" in sc.caption
        # the drawn colour is the named one: the shape's pixels are close to its colour
        x0, y0, x1, y1 = s.box
        sil = sc.shape_masks[sc.shapes.index(s)]
        inner = sc.image[sil].astype(float).mean(0)
        assert np.abs(inner - np.array(COLOURS[s.colour])).max() < 45


def test_recaption_changes_only_the_hidden_colour():
    sc = make_scene(0, 5)
    old = sc.shapes[sc.hidden]
    other = next(c for c in COLOURS if c != old.colour)
    new = recaption(sc, other)
    assert f"{other} {old.kind} at the {old.position}" in new
    assert f"{old.colour} {old.kind} at the {old.position}" not in new
    assert len(new.split()) == len(sc.caption.split())
    with pytest.raises(InpaintKitError, match="unknown colour"):
        recaption(sc, "teal")


def test_write_shapes_files_index_and_captions(tmp_path):
    out = write_shapes(tmp_path / "shapes", 12, seed=2)
    sc = make_scene(2, 4)
    assert np.array_equal(read_image(out / "images" / "00004.png").rgb, sc.image)
    assert np.array_equal(read_mask(out / "masks" / "00004.png"), sc.mask)
    caps = read_captions(out / "captions.jsonl")
    assert caps["images/00004"] == [sc.caption]
    recs = read_index(out / "index.jsonl")
    assert [r["split"] for r in recs].count("val") == 1 and len(recs) == 12
    assert recs[4]["captions"] == [sc.caption] and recs[4]["mask"] == str(out / "masks" / "00004.png")
    scene = json.loads((out / "scenes.jsonl").read_text().splitlines()[4])
    assert scene["hidden"] == sc.hidden and scene["shapes"][sc.hidden]["colour"] == sc.shapes[sc.hidden].colour


@pytest.mark.parametrize("index", range(8))
def test_removed_scene_lacks_only_the_hidden_shape(index):
    sc = make_scene(5, index)
    hidden = sc.shapes[sc.hidden]
    others = [s for i, s in enumerate(sc.shapes) if i != sc.hidden]
    # identical outside the hidden shape's silhouette, different inside it
    assert np.array_equal(sc.removed[~sc.shape_masks[sc.hidden]], sc.image[~sc.shape_masks[sc.hidden]])
    inside = sc.shape_masks[sc.hidden]
    assert np.abs(sc.removed[inside].astype(int) - sc.image[inside].astype(int)).mean() > 20
    # what is left there is grey background (low saturation), not the shape's colour
    left = sc.removed[inside].astype(float)
    assert (left.max(1) - left.min(1)).mean() < 25
    assert np.abs(left.mean(0) - np.array(COLOURS[hidden.colour])).max() > 45
    # the removal's caption names the other shapes, not the hidden one
    assert hidden.phrase() not in sc.removed_caption
    assert all(s.phrase() in sc.removed_caption for s in others)


def test_removed_caption_of_a_one_shape_scene_is_empty():
    sc = make_scene(0, 3, min_shapes=1, max_shapes=1)
    assert len(sc.shapes) == 1 and sc.removed_caption == "" and sc.caption == sc.shapes[0].phrase()


def test_write_shapes_with_removals_indexes_each_scene_twice(tmp_path):
    plain = write_shapes(tmp_path / "plain", 4, seed=2)
    assert not (plain / "removed").exists() and len(read_index(plain / "index.jsonl")) == 4
    out = write_shapes(tmp_path / "rm", 12, seed=2, removals=True)
    recs = read_index(out / "index.jsonl")
    assert len(recs) == 24 and [r["split"] for r in recs].count("val") == 2
    sc = make_scene(2, 4)
    shown, removal = recs[8], recs[9]
    assert shown["captions"] == [sc.caption] and removal["captions"] == [sc.removed_caption, ""]
    assert removal["mask"] == shown["mask"] and removal["split"] == shown["split"]
    assert np.array_equal(read_image(removal["path"]).rgb, sc.removed)
    scene = json.loads((out / "scenes.jsonl").read_text().splitlines()[4])
    assert scene["removed"] == "removed/00004.png" and scene["removed_caption"] == sc.removed_caption
    one = read_index(
        write_shapes(tmp_path / "one", 2, seed=0, min_shapes=1, max_shapes=1, removals=True) / "index.jsonl"
    )
    assert one[1]["captions"] == [""]


def test_bad_arguments_are_user_errors(tmp_path):
    with pytest.raises(InpaintKitError, match="count"):
        write_shapes(tmp_path / "x", 0)
    with pytest.raises(InpaintKitError, match="size"):
        make_scene(0, 0, size=16)


def test_cli_data_shapes(cli, tmp_path):
    code, out, err = cli("data", "shapes", "--count", "3", "--out", tmp_path / "s", "--seed", "1")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "s" / "images").iterdir()) == ["00000.png", "00001.png", "00002.png"]
    assert np.array_equal(read_image(tmp_path / "s" / "images" / "00001.png").rgb, make_scene(1, 1).image)
    code, out, err = cli("data", "shapes", "--count", "2", "--out", tmp_path / "r", "--removals")
    assert code == 0, err
    assert "removals" in out and (tmp_path / "r" / "removed" / "00001.png").is_file()


def test_training_crops_use_each_record_s_own_mask(tmp_path):
    from inpaintkit.data.dataset import TrainCrops, validation_set

    out = write_shapes(tmp_path / "shapes", 4, seed=2)
    recs = read_index(out / "index.jsonl")
    never = lambda rng, shape: np.ones(shape, bool)  # noqa: E731  (the mix must not be used)
    ds = TrainCrops(recs, 64, 1.0, 1.0, True, never, seed=0)
    for k in range(6):
        item = ds[k]
        rec = recs[ds.photo_index(k)]
        img = (item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        mask = item["mask"][0].numpy() > 0.5
        own, src = read_mask(rec["mask"]), read_image(rec["path"]).rgb
        flipped = not np.array_equal(img, src)
        assert np.array_equal(img, src[:, ::-1] if flipped else src)
        assert np.array_equal(mask, own[:, ::-1] if flipped else own)  # flipped together with the image
        assert item["caption"] == rec["captions"][0]
    val = validation_set(recs, 2, 64, 1.0, lambda j, rng, shape: np.ones(shape, bool), seed=0)
    assert np.array_equal(val["mask"][1, 0].numpy() > 0.5, read_mask(recs[1]["mask"]))
