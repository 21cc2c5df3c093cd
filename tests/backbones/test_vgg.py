"""VGG16 feature extractor: torchvision-format loading, named taps, errors for wrong files."""

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from inpaintkit.backbones import VGG16_TAPS, VGG16Features
from inpaintkit.errors import InpaintKitError

# torchvision vgg16().features indices of the convs up to conv3_3 (pool3 is index 16)
CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256), 14: (256, 256)}


def vgg_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A torchvision-format state dict up to conv3_3 (random values: this tests loading, not features)."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i, (o, c) in CONVS.items():
        sd[f"features.{i}.weight"] = torch.randn(o, c, 3, 3, generator=g) * (2 / (9 * c)) ** 0.5
        sd[f"features.{i}.bias"] = torch.randn(o, generator=g) * 0.01
    sd["classifier.0.weight"] = torch.zeros(2, 2)  # present in torchvision files, ignored
    return sd


@pytest.fixture
def vgg_file(tmp_path):
    path = tmp_path / "vgg16.safetensors"
    save_file(vgg_state_dict(), str(path))
    return path


def test_tap_names_follow_torchvision_indices():
    assert VGG16_TAPS[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert VGG16_TAPS.index("pool3") == 16 and VGG16_TAPS.index("relu4_3") == 22 and len(VGG16_TAPS) == 31


def test_taps_shapes_and_values(vgg_file):
    net = VGG16Features(vgg_file, taps=("relu1_2", "pool1", "pool3"))
    assert len(net.features) == 17  # only up to the deepest tap
    x = torch.rand(2, 3, 32, 32)
    r12, p1, p3 = net(x)
    assert r12.shape == (2, 64, 32, 32) and p1.shape == (2, 64, 16, 16) and p3.shape == (2, 256, 4, 4)
    sd = vgg_state_dict()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    y = F.relu(F.conv2d((x - mean) / std, sd["features.0.weight"], sd["features.0.bias"], padding=1))
    y = F.relu(F.conv2d(y, sd["features.2.weight"], sd["features.2.bias"], padding=1))
    assert torch.allclose(r12, y, atol=1e-5)
    assert torch.allclose(p1, F.max_pool2d(y, 2), atol=1e-5)
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training


def test_torch_file_and_bare_features_keys(tmp_path):
    sd = {k.removeprefix("features."): v for k, v in vgg_state_dict().items() if k.startswith("features.")}
    path = tmp_path / "features.pth"
    torch.save(sd, path)
    a = VGG16Features(path, taps=("relu2_2",), normalize=False)
    x = torch.rand(1, 3, 16, 16)
    ref = F.relu(F.conv2d(x, sd["0.weight"], sd["0.bias"], padding=1))
    assert torch.allclose(a.features[1](a.features[0](x)), ref, atol=1e-6)


def test_wrong_files_are_user_errors(tmp_path):
    with pytest.raises(InpaintKitError, match="does not exist"):
        VGG16Features(tmp_path / "nope.safetensors")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InpaintKitError, match="cannot read VGG16 weights file"):
        VGG16Features(junk)
    other = tmp_path / "other.safetensors"
    save_file({"encoder.weight": torch.zeros(1)}, str(other))
    with pytest.raises(InpaintKitError, match="not a torchvision VGG16 state dict.*features.0.weight"):
        VGG16Features(other)
    bad = vgg_state_dict()
    bad["features.5.weight"] = torch.zeros(128, 32, 3, 3)
    path = tmp_path / "bad.safetensors"
    save_file(bad, str(path))
    with pytest.raises(InpaintKitError, match="wrong shapes.*features.5.weight"):
        VGG16Features(path, taps=("pool2",))
    with pytest.raises(InpaintKitError, match="unknown VGG16 tap"):
        VGG16Features(path, taps=("pool9",))
