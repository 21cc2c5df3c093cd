"""pix2pix: U-Net 7 down / 7 up with skips, conditional PatchGAN that sees input and output, L1 x100 + GAN."""

import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.models import create_model
from inpaintkit.train.config import resolve_config, tiny_config
from tests.models.family_helpers import fit, one_thread  # noqa: F401  (one_thread: autouse)


def _batch(size=64, n=2):
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(n, 1, size, size)
    mask[..., 10:30, 20:44] = 1
    return {"image": torch.rand(n, 3, size, size, generator=g), "mask": mask}


def test_unet_7_down_reaches_1x1_at_128():
    fam = create_model("pix2pix", {"channels": 4})
    assert len(fam.generator.down) == 7 and len(fam.generator.up) == 7
    seen = []
    fam.generator.down[-1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    b = _batch(128)
    out = fam.generator(b["image"], b["mask"])
    assert out.shape == (2, 3, 128, 128) and seen == [(2, 32, 1, 1)]
    assert 0 <= out.min() and out.max() <= 1
    # skips: every inner up-conv takes the concatenation of the skip and the deeper output
    assert [u[1].in_channels for u in fam.generator.up] == [8, 16, 32, 64, 64, 64, 32]
    assert sum(isinstance(m, torch.nn.Dropout) for m in fam.generator.modules()) == 2


def test_discriminator_is_conditional():
    torch.manual_seed(0)
    fam = create_model("pix2pix", {"num_downs": 6, "channels": 8}, {"channels": 8}).eval()
    d = fam.discriminators["patch"]
    assert d.layers[0][0].in_channels == 7  # masked image + mask + image
    b = _batch()
    cond = fam.condition(b["image"], b["mask"])
    assert torch.equal(cond[:, 3:], b["mask"]) and cond[:, :3][b["mask"].expand(-1, 3, -1, -1) > 0].eq(0).all()
    other = fam.condition(torch.rand_like(b["image"]), b["mask"])
    assert not torch.allclose(d(cond, b["image"]), d(other, b["image"]))  # the input matters


def test_losses():
    torch.manual_seed(0)
    fam = create_model("pix2pix", {"num_downs": 6, "channels": 8}, {"channels": 8})
    b = _batch()
    losses, pred = fam.generator_step(b, 0)
    assert set(losses) == {"l1", "adv"}
    assert losses["l1"].item() == pytest.approx(100 * (pred - b["image"]).abs().mean().item(), rel=1e-5)
    assert set(fam.discriminator_step(b, pred, 0)) == {"adv"}
    no_gan = create_model("pix2pix", {"num_downs": 6, "channels": 8}, losses={"adv": 0})
    assert set(no_gan.generator_step(b, 0)[0]) == {"l1"} and not no_gan.trains_discriminator(0)


def test_overfits_one_batch():
    torch.manual_seed(0)
    fam = create_model("pix2pix", {"num_downs": 5, "channels": 8}, losses={"adv": 0}).train()
    first, last = fit(fam, _batch(32), lambda losses: losses["l1"], steps=12)
    assert last < 0.8 * first


def test_config_errors():
    with pytest.raises(InpaintKitError, match="model: num_downs"):
        resolve_config(tiny_config("pix2pix", model={"num_downs": 12}))
    with pytest.raises(InpaintKitError, match="model: dropout"):
        resolve_config(tiny_config("pix2pix", model={"dropout": 1.5}))
