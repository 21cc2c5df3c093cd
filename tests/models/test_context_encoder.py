"""context_encoder: fixed native size with resizing, channel-wise FC, tanh output in [0, 1], L2 (+ adversarial)."""

import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.models import create_model
from inpaintkit.models.context_encoder import ChannelWiseFC, ContextEncoder
from inpaintkit.train.config import resolve_config, tiny_config
from tests.models.family_helpers import fit, one_thread  # noqa: F401  (one_thread: autouse)


def _batch(size=64, n=2):
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(n, 1, size, size)
    mask[..., size // 4 : size // 2, size // 4 : size // 2] = 1
    return {"image": torch.rand(n, 3, size, size, generator=g), "mask": mask}


def test_architecture_at_the_native_size():
    fam = create_model("context_encoder", {"size": 128, "channels": 8})
    convs = [m for m in fam.generator.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 32, 64]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert [m.negative_slope for m in fam.generator.encoder if isinstance(m, torch.nn.LeakyReLU)] == [0.1] * 5
    fc = fam.generator.bottleneck[0]
    assert isinstance(fc, ChannelWiseFC) and fc.weight.shape == (64, 16, 16)  # 128/32 = 4 -> 4x4 = 16 positions
    b = _batch(128)
    out = fam.generator(b["image"], b["mask"])
    assert out.shape == (2, 3, 128, 128) and 0 <= out.min() and out.max() <= 1
    assert ContextEncoder.min_size == 64


def test_channel_wise_fc_does_not_mix_channels():
    torch.manual_seed(0)
    fc = ChannelWiseFC(3, 2)
    x = torch.randn(1, 3, 2, 2)
    y = fc(x)
    x2 = x.clone()
    x2[:, 1] += 1.0
    d = (fc(x2) - y).abs().flatten(2).sum(-1)[0]
    assert d[0] == 0 and d[2] == 0 and d[1] > 0
    assert torch.allclose(y[0, 0].flatten(), x[0, 0].flatten() @ fc.weight[0] + fc.bias[0], atol=1e-6)


def test_other_sizes_are_resized_and_holes_survive_downsampling():
    fam = create_model("context_encoder", {"size": 64, "channels": 8}).eval()
    seen = []
    fam.generator.encoder.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    image = torch.rand(1, 3, 200, 130)
    mask = torch.zeros(1, 1, 200, 130)
    mask[..., 100, 60] = 1  # one pixel: still a hole after downsampling to 64x64
    out = fam.generator(image, mask)
    assert out.shape == (1, 3, 200, 130) and seen[0].shape == (1, 4, 64, 64)
    assert seen[0][:, 3].sum() >= 1


def test_losses_with_and_without_adversarial():
    b = _batch()
    plain = create_model("context_encoder", {"channels": 8})
    assert len(plain.discriminators) == 0 and not plain.trains_discriminator(0)
    losses, pred = plain.generator_step(b, 0)
    assert set(losses) == {"l2"}
    assert losses["l2"].item() == pytest.approx(((pred - b["image"]) ** 2 * b["mask"]).mean().item(), rel=1e-5)
    assert plain.discriminator_step(b, pred, 0) == {}
    adv = create_model("context_encoder", {"channels": 8}, {"channels": 8}, {"adv": 0.001})
    losses, pred = adv.generator_step(b, 0)
    assert set(losses) == {"l2", "adv"} and set(adv.discriminator_step(b, pred, 0)) == {"adv"}


def test_overfits_one_batch():
    torch.manual_seed(0)
    fam = create_model("context_encoder", {"channels": 8}).train()
    first, last = fit(fam, _batch(), lambda losses: losses["l2"], steps=10)
    assert last < 0.75 * first


def test_config_errors():
    with pytest.raises(InpaintKitError, match="model: size: Value error, must be a multiple of 32"):
        resolve_config(tiny_config("context_encoder", model={"size": 100}))
    with pytest.raises(InpaintKitError, match="losses: adv"):
        resolve_config(tiny_config("context_encoder", losses={"adv": -1}))
