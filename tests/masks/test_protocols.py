"""Evaluation mask protocols: bucket sets, ratios, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from inpaintkit.errors import InpaintKitError
from inpaintkit.masks import PROTOCOLS, create_mask_generator, generate_protocol, mask_ratio


def test_pconv_buckets_and_ratios():
    sets = generate_protocol("pconv", size=128, per_bucket=6, seed=0)
    assert list(sets) == ["0.01-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5", "0.5-0.6"]
    for bucket, items in sets.items():
        lo, hi = (float(x) for x in bucket.split("-"))
        assert len(items) == 6
        for m, meta in items:
            assert m.shape == (128, 128) and m.dtype == bool
            assert lo <= mask_ratio(m) < hi and meta["ratio"] == pytest.approx(mask_ratio(m), abs=1e-6)
            assert meta["kind"] == "irregular" and meta["bucket"] == bucket and meta["protocol"] == "pconv"


def test_lama_protocol_uses_the_three_sets():
    sets = generate_protocol("lama", size=256, per_bucket=3, seed=1)
    assert list(sets) == ["thin", "medium", "thick"]
    assert [items[0][1]["kind"] for items in sets.values()] == ["lama-thin", "lama-medium", "lama-thick"]
    assert all(0 < meta["ratio"] <= 0.5 for items in sets.values() for _, meta in items)


def test_box_half_is_one_half_side_square():
    ((bucket, items),) = generate_protocol("box-half", size=200, per_bucket=5, seed=0).items()
    assert bucket == "box-half"
    positions = set()
    for m, _ in items:
        ys, xs = np.nonzero(m)
        assert m.sum() == 100 * 100 and np.ptp(ys) == 99 and np.ptp(xs) == 99
        positions.add((ys.min(), xs.min()))
    assert len(positions) > 1


def test_protocols_are_seeded_and_masks_regenerate_from_meta():
    a = generate_protocol("pconv", size=128, per_bucket=3, seed=7)
    b = generate_protocol("pconv", size=128, per_bucket=4, seed=7)  # more masks: the first ones unchanged
    c = generate_protocol("pconv", size=128, per_bucket=3, seed=8)
    for bucket in a:
        for (ma, meta), (mb, _) in zip(a[bucket], b[bucket]):
            np.testing.assert_array_equal(ma, mb)
            np.testing.assert_array_equal(
                ma, create_mask_generator(meta["kind"], **meta["params"])(meta["seed"], (128, 128))
            )
        assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a[bucket], c[bucket]))


def test_protocol_errors():
    assert set(PROTOCOLS) == {"pconv", "lama", "box-half"}
    with pytest.raises(InpaintKitError, match="unknown mask protocol 'celeba'; choose from: pconv, lama, box-half"):
        generate_protocol("celeba")
    with pytest.raises(InpaintKitError, match="at least 1"):
        generate_protocol("pconv", per_bucket=0)
