"""Synthetic (random, seeded) perceptual-metric weights saved in the real file formats."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inpaintkit.backbones.inception import FIDInceptionV3
from inpaintkit.evaluate.perceptual import LPIPS_CHANNELS


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The suite runs on 2 shared cores (often with xdist): a second intra-op thread only adds contention
    (a synthetic Inception pass measured 0.7 s with one thread, 11 s with two on the loaded machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def fid_weights(tmp_path_factory):
    """A random InceptionV3 in pytorch-fid's key format (+ its unused 1008-class fc, as in the real file).

    Kaiming-normal convs and random BN statistics keep the activations at a useful scale through 94 layers.
    """
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for mod in net.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
        elif isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.normal_(0, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    sd["fc.weight"], sd["fc.bias"] = torch.randn(1008, 2048), torch.zeros(1008)
    path = tmp_path_factory.mktemp("fid") / "pt_inception-synthetic.pth"
    torch.save(sd, path)
    return path


def _vgg_state(seed: int) -> dict[str, torch.Tensor]:
    """Random weights under torchvision's ``vgg16().features`` keys (conv indices 0, 2, 5, ...)."""
    g = torch.Generator().manual_seed(seed)
    sd, idx, cin = {}, 0, 3
    for convs in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for cout in convs:
            sd[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2.0 / (9 * cin)) ** 0.5
            sd[f"features.{idx}.bias"] = torch.zeros(cout)
            idx, cin = idx + 2, cout
        idx += 1  # the pool
    return sd


@pytest.fixture(scope="session")
def lpips_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("lpips")
    g = torch.Generator().manual_seed(1)
    lins = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for i, c in enumerate(LPIPS_CHANNELS)}
    torch.save(lins, d / "vgg.pth")
    torch.save(_vgg_state(2), d / "vgg16.pth")
    torch.save({**lins, **_vgg_state(2)}, d / "merged.pth")
    return d
