"""inpaintkit.device.pick_device: the one place a torch device is chosen."""

from __future__ import annotations

import pytest
import torch

from inpaintkit.device import pick_device
from inpaintkit.errors import InpaintKitError


def test_auto_and_cpu():
    assert pick_device("cpu") == torch.device("cpu")
    want = "cuda" if torch.cuda.is_available() else None
    assert pick_device("auto").type in ((want,) if want else ("mps", "cpu"))


@pytest.mark.parametrize("name", ["meta", "gpu0", "xla"])
def test_unknown_devices_are_one_line_errors(name):
    with pytest.raises(InpaintKitError, match="use auto, cpu, cuda, cuda:N or mps"):
        pick_device(name)


def test_a_missing_cuda_device_is_named():
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(InpaintKitError, match="cuda"):
        pick_device(f"cuda:{n}" if n else "cuda")


def test_fid_features_check_their_device_first():
    from inpaintkit.evaluate.perceptual import FIDFeatures

    with pytest.raises(InpaintKitError, match="unknown device 'meta'"):
        FIDFeatures("/nonexistent.pth", "meta")  # checked before the weights are read
