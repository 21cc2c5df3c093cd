"""The measures of benchmarks/tdanet_shapes.py that our TDANet claims rest on: hole-PSNR, the colour-artefact
measure (chroma excess), nearest palette colour, and the mixed training index (shapes + captioned photo crops)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("tdanet_shapes")


def grey_scene(rng, n=64):
    img = np.clip(rng.normal(128, 6, (n, n, 1)).repeat(3, axis=2), 0, 255).astype(np.uint8)
    mask = np.zeros((n, n), bool)
    mask[24:40, 20:44] = True
    return img, mask


def test_chroma_excess_flags_a_coloured_blob_not_a_grey_continuation(bench, rng):
    img, mask = grey_scene(rng)
    assert abs(bench.chroma_excess(img, mask)) < 1.0  # the truth continues its surroundings
    blob = img.copy()
    blob[mask] = (200, 60, 60)
    assert bench.chroma_excess(blob, mask) > 40 > bench.BLOB_CHROMA
    faint = img.copy()
    faint[mask] = (136, 124, 124)  # a slight tint stays under the threshold
    assert 0 < bench.chroma_excess(faint, mask) < bench.BLOB_CHROMA
    # a colourful photo whose fill matches its colourful surroundings is no artefact
    blue = np.zeros_like(img)
    blue[...] = (30, 80, 200)
    assert abs(bench.chroma_excess(blue, mask)) < 1e-6


def test_hole_psnr_and_nearest_colour(bench, rng):
    img, mask = grey_scene(rng)
    from inpaintkit.metrics import PSNR_CAP

    assert bench.hole_psnr(img, img, mask) == PSNR_CAP  # a perfect fill: capped (the one PSNR), not infinite
    off = img.copy()
    off[mask] = np.clip(off[mask].astype(int) + 10, 0, 255)
    assert bench.hole_psnr(off, img, mask) == pytest.approx(20 * np.log10(255 / 10), abs=0.05)
    for i, name in enumerate(bench.NAMES):
        assert bench.nearest_colour(np.array(bench.COLOURS[name], float) + 5) == i


def test_mixed_index_adds_captioned_photo_crops_to_the_shapes_index(bench, tmp_path):
    from inpaintkit.data.shapes import write_shapes
    from inpaintkit.io import read_image, write_image

    shapes = write_shapes(tmp_path / "shapes", 4, seed=0, removals=True)
    photo = np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    known = next(iter(bench.photo_captions()))  # a stem with a hand-written caption
    write_image(tmp_path / f"{known}.png", photo)
    index = bench.mixed_index(str(shapes / "index.jsonl"), [str(tmp_path / f"{known}.png")], tmp_path / "mix", count=5)
    recs = [json.loads(line) for line in index.read_text().splitlines()]
    assert len(recs) == 8 + 5
    assert all(Path(r["path"]).is_absolute() and Path(r["path"]).is_file() for r in recs)
    assert all(Path(r["mask"]).is_file() for r in recs[:8]) and not any("mask" in r for r in recs[8:])
    assert recs[8]["captions"] == [bench.photo_captions()[known], ""]
    assert read_image(recs[8]["path"]).rgb.shape == (64, 64, 3)


def test_captions_come_from_the_corpus_captions_file_and_shapes_share_trims_the_shapes(bench, tmp_path):
    from inpaintkit.data.shapes import write_shapes
    from inpaintkit.io import write_image

    corpus = tmp_path / "corpus"
    (corpus / "train").mkdir(parents=True)
    photo = np.random.default_rng(2).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    for name in ("giraffe", "fog"):
        write_image(corpus / "train" / f"{name}.png", photo)
    caps = ["Giraffe. The tallest animal.", "Giraffe.", "a giraffe"]
    (corpus / "captions.jsonl").write_text(json.dumps({"image": "train/giraffe.png", "caption": caps}) + "\n")
    paths = [str(corpus / "train" / "giraffe.png"), str(corpus / "train" / "fog.png")]
    assert bench.captions_of(paths) == {paths[0]: caps, paths[1]: []}

    shapes = write_shapes(tmp_path / "shapes", 6, seed=0, removals=True)  # 12 shape records
    index = bench.mixed_index(str(shapes / "index.jsonl"), paths, tmp_path / "mix", count=4, shapes_share=0.5)
    recs = [json.loads(line) for line in index.read_text().splitlines()]
    assert sum("mask" in r for r in recs) == 4 and len(recs) == 8  # as many shape records as photo crops
    assert [r["captions"] for r in recs[4:]] == [[*caps, ""], [], [*caps, ""], []]
    with pytest.raises(ValueError, match="shapes_share"):
        bench.mixed_index(str(shapes / "index.jsonl"), paths, tmp_path / "mix2", count=4, shapes_share=1.0)
