"""Training crops and validation sets: determinism per sample number, shapes, scales, flips, masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from inpaintkit.data.dataset import StepSampler, TrainCrops, load_records, validation_set
from inpaintkit.errors import InpaintKitError
from inpaintkit.masks import MaskMixture


@pytest.fixture
def recs(tmp_path):
    rng = np.random.default_rng(1)
    for i, (h, w) in enumerate([(90, 120), (200, 150), (64, 64)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
    return load_records(tmp_path, "train")


def _ds(recs, **kw):
    mix = MaskMixture.from_config([{"kind": "boxes", "p": 1.0}])
    args = dict(size=32, min_scale=0.3, max_scale=1.0, flip=True, mask_fn=mix, seed=0, cache_short_side=0)
    args.update(kw)
    return TrainCrops(recs, **args)


def test_samples_are_a_function_of_their_number(recs):
    a, b = _ds(recs), _ds(recs)
    for k in (0, 5, 17):
        x, y = a[k], b[k]
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
    assert not torch.equal(a[0]["image"], a[1]["image"])
    assert not torch.equal(a[0]["image"], _ds(recs, seed=1)[0]["image"])
    s = a[3]
    assert s["image"].shape == (3, 32, 32) and s["image"].dtype == torch.float32
    assert 0 <= s["image"].min() and s["image"].max() <= 1
    assert s["mask"].shape == (1, 32, 32) and set(s["mask"].unique().tolist()) <= {0.0, 1.0}
    assert s["mask"].sum() > 0


def test_each_epoch_visits_every_photo_once(recs):
    ds = _ds(recs)
    for epoch in range(3):
        assert sorted(ds.photo_index(epoch * 3 + i) for i in range(3)) == [0, 1, 2]


def test_loader_with_workers_gives_the_same_batches(recs):
    ds = _ds(recs)
    sampler = StepSampler(0, 2, 4)
    plain = [b["image"] for b in DataLoader(ds, batch_size=4, sampler=sampler, num_workers=0)]
    workers = [b["image"] for b in DataLoader(ds, batch_size=4, sampler=sampler, num_workers=2)]
    assert all(torch.equal(p, w) for p, w in zip(plain, workers)) and len(plain) == 2


def test_no_flip_and_full_scale_is_the_resized_photo(recs):
    one = [r for r in recs if r["path"].endswith("p2.png")]
    ds = _ds(one, size=64, min_scale=1.0, max_scale=1.0, flip=False, mask_fn=None)
    img = np.asarray(Image.open(one[0]["path"]))
    assert torch.equal(ds[0]["image"], torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 255)
    assert ds[0]["mask"].sum() == 0


def test_validation_set_is_fixed(recs):
    mix = MaskMixture.from_config([{"kind": "irregular", "p": 1.0}])
    fn = lambda j, rng, shape: mix(rng, shape)  # noqa: E731
    a = validation_set(recs, 5, 32, 0.6, fn, seed=9, cache_short_side=0)
    b = validation_set(recs, 5, 32, 0.6, fn, seed=9, cache_short_side=0)
    assert a["image"].shape == (5, 3, 32, 32) and a["mask"].shape == (5, 1, 32, 32)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    assert torch.equal(a["image"][0], a["image"][3])  # photos cycle, masks differ
    assert not torch.equal(a["mask"][0], a["mask"][3])


def test_captions_are_drawn_from_the_record(recs):
    recs = [dict(r, captions=["one", "two"]) for r in recs]
    caps = {_ds(recs)[k]["caption"] for k in range(12)}
    assert caps == {"one", "two"}


def test_errors(tmp_path):
    with pytest.raises(InpaintKitError, match="no images"):
        load_records(tmp_path, "train")
    with pytest.raises(InpaintKitError, match="data.root is not set"):
        load_records(None, "train")
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    with pytest.raises(InpaintKitError, match="bad.jsonl:1: not an index record"):
        load_records(tmp_path / "bad.jsonl", "train")
