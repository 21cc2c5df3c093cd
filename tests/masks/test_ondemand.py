"""On-demand learning schedule: shares formula, hardest band, EMA, checkpointing."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.masks import OnDemandSchedule


def test_shares_follow_inverse_psnr_with_remainder_to_hardest():
    s = OnDemandSchedule(n_bands=5, momentum=0.0)
    for band, p in enumerate([10.0, 20.0, 30.0, 40.0, 50.0]):
        s.update(band, p)
    # 64 * (1/p) / sum(1/p) = 28.03, 14.01, 9.34, 7.01, 5.61 -> floors sum to 63, +1 to band 0 (lowest PSNR)
    assert s.shares(64) == [29, 14, 9, 7, 5]


@pytest.mark.parametrize("batch", [0, 1, 3, 7, 16, 64, 257])
def test_shares_sum_to_batch_and_hardest_gets_most(batch):
    s = OnDemandSchedule(momentum=0.5)
    rng = np.random.default_rng(batch)
    for _ in range(20):
        s.update(int(rng.integers(5)), float(rng.uniform(15, 35)))
    shares = s.shares(batch)
    assert sum(shares) == batch and all(x >= 0 for x in shares)
    assert shares[s.hardest()] == max(shares)
    assert s.current_psnr()[s.hardest()] == min(s.current_psnr())


def test_initial_shares_are_equal_with_remainder_to_largest_holes():
    assert OnDemandSchedule().shares(12) == [2, 2, 2, 2, 4]


def test_ema_and_caps():
    s = OnDemandSchedule(momentum=0.9)
    s.update(2, 20.0)
    assert s.update(2, 30.0) == pytest.approx(21.0)
    assert s.update(0, float("inf")) == 100.0
    with pytest.raises(InpaintKitError, match="NaN"):
        s.update(1, float("nan"))
    with pytest.raises(InpaintKitError, match="band must be 0-4"):
        s.update(5, 20.0)


def test_state_round_trip_through_a_weights_only_checkpoint():
    s = OnDemandSchedule(momentum=0.8)
    for band, p in [(0, 18.0), (3, 27.0), (0, 19.0)]:
        s.update(band, p)
    s.shares(32)
    buf = io.BytesIO()
    torch.save({"ondemand": s.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["ondemand"]
    t = OnDemandSchedule(momentum=0.8)
    t.load_state_dict(state)
    assert t.current_psnr() == s.current_psnr() and t.counts == s.counts and t.shares(32) == s.shares(32)
    assert t.log() == s.log()
    with pytest.raises(InpaintKitError, match="saved state has 5 bands, this schedule has 3"):
        OnDemandSchedule(n_bands=3).load_state_dict(state)


def test_log_has_psnr_and_shares():
    s = OnDemandSchedule()
    s.update(4, 15.0)
    s.shares(10)
    log = s.log()
    assert log["ondemand/psnr_band4"] == 15.0 and log["ondemand/psnr_band0"] == 20.0
    assert sum(log[f"ondemand/share_band{i}"] for i in range(5)) == 10
    assert log["ondemand/share_band4"] == max(log[f"ondemand/share_band{i}"] for i in range(5))


def test_masks_batch_matches_shares():
    s = OnDemandSchedule(momentum=0.0)
    for band, p in enumerate([30.0, 28.0, 25.0, 22.0, 18.0]):
        s.update(band, p)
    masks, bands = s.masks(16, 0, (64, 64))
    assert masks.shape == (16, 64, 64) and masks.dtype == bool
    assert np.bincount(bands, minlength=5).tolist() == s.shares(16)
    sides = [int(np.sqrt(m.sum())) for m in masks]
    assert all(m.any() for m in masks)
    # larger band -> larger squares (bands do not overlap: 1-18 ... 73-90 px at 128, halved at 64)
    order = sorted(zip(bands, sides))
    assert all(a[1] <= b[1] for a, b in zip(order, order[1:]) if a[0] < b[0])
