"""``inpaintkit prepare``: reproducible splits by source image, sizes, captions, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from inpaintkit.data.dataset import load_records, read_index
from inpaintkit.data.prepare import prepare
from inpaintkit.errors import InpaintKitError


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    for i in range(20):
        w, h = 40 + i, 30 + 2 * i
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            d / ("sub" if i % 3 == 0 else "") / f"img{i:02d}.png"
        )
    (d / ".hidden.png").write_bytes(b"not an image")
    (d / "notes.txt").write_text("x")
    return d


def test_index_is_reproducible_and_split_by_image(folder, tmp_path):
    a = prepare(folder, tmp_path / "a.jsonl", split="0.7,0.2,0.1", seed=0)
    b = prepare(folder, tmp_path / "b.jsonl", split="0.7,0.2,0.1", seed=0)
    c = prepare(folder, tmp_path / "c.jsonl", split="0.7,0.2,0.1", seed=1)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text() and a == b
    assert [r["split"] for r in a] != [r["split"] for r in c]
    assert len(a) == 20  # hidden file and non-images skipped
    counts = {s: sum(r["split"] == s for r in a) for s in ("train", "val", "test")}
    assert counts == {"train": 14, "val": 4, "test": 2}
    rec = next(r for r in a if r["path"].endswith("img03.png"))
    assert (rec["width"], rec["height"]) == (43, 36) and rec["path"] == "imgs/sub/img03.png"
    assert "captions" not in rec
    # the index reads back with paths resolved, and splits select records
    recs = read_index(tmp_path / "a.jsonl")
    assert all(Image.open(r["path"]).size for r in recs)
    assert len(load_records(tmp_path / "a.jsonl", "val")) == 4


def test_captions_csv_and_jsonl(folder, tmp_path):
    csv = tmp_path / "caps.csv"
    csv.write_text('image,caption\nimg01.png,a red thing\nimg01.png,"a thing, red"\nsub/img03.png,three\n')
    recs = prepare(folder, tmp_path / "i.jsonl", captions=csv)
    by = {r["path"].rsplit("/", 1)[-1]: r for r in recs}
    assert by["img01.png"]["captions"] == ["a red thing", "a thing, red"]
    assert by["img03.png"]["captions"] == ["three"] and by["img02.png"]["captions"] == []
    jl = tmp_path / "caps.jsonl"
    jl.write_text(json.dumps({"image": "img05.png", "caption": "five"}) + "\n")
    recs = prepare(folder, tmp_path / "j.jsonl", captions=jl)
    assert next(r for r in recs if r["path"].endswith("img05.png"))["captions"] == ["five"]
    jl.write_text(json.dumps({"image": "missing.png", "caption": "x"}) + "\n")
    with pytest.raises(InpaintKitError, match="name images not in"):
        prepare(folder, tmp_path / "k.jsonl", captions=jl)


def test_errors(folder, tmp_path, cli):
    with pytest.raises(InpaintKitError, match="sum to 1"):
        prepare(folder, tmp_path / "x.jsonl", split="0.5,0.1,0.1")
    with pytest.raises(InpaintKitError, match="not a folder"):
        prepare(tmp_path / "none", tmp_path / "x.jsonl")
    with pytest.raises(InpaintKitError, match="no 'val' images"):
        prepare(folder, tmp_path / "y.jsonl", split="1,0,0")
        load_records(tmp_path / "y.jsonl", "val")
    code, out, _ = cli("prepare", "--images", folder, "--out", tmp_path / "z.jsonl", "--seed", "3")
    assert code == 0 and "20 images (train 16, val 2, test 2)" in out
    code, _, err = cli("prepare", "--images", folder, "--out", tmp_path / "z.jsonl", "--split", "1,2")
    assert code == 2 and err.startswith("error: --split")
