"""LaMa: Fourier convolutions see the whole image, the generator's contract, the loss wiring."""
from __future__ import annotations

import pytest
import torch

from inpaintkit.layers.ffc import FFC, FourierUnit, SpectralTransform
from inpaintkit.losses import discriminator_adversarial
from inpaintkit.models import create_model
from inpaintkit.models.lama import Lama

torch.set_num_threads(1)


def _lama(**losses):
    torch.manual_seed(0)
    cfg = Lama.tiny_config()
    return create_model("lama", cfg["model"], cfg["discriminator"], {**cfg["losses"], **losses})


def test_fourier_unit_has_a_global_receptive_field():
    torch.manual_seed(0)
    for module in (FourierUnit(4, 4), SpectralTransform(4, 4)):
        module.eval()
        x = torch.rand(1, 4, 32, 32)
        y = x.clone()
        y[:, :, 0, 0] += 1.0  # poke one corner pixel
        diff = (module(x) - module(y)).abs()
        assert module(x).shape == (1, 4, 32, 32)
        assert diff[:, :, 16:, 16:].sum() > 1e-4, "the far half must change: the FFT mixes every position"
    conv = torch.nn.Conv2d(4, 4, 3, padding=1)
    assert (conv(x) - conv(y))[:, :, 16:, 16:].abs().sum() == 0  # a local conv would not


def test_ffc_splits_channels_by_ratio():
    ffc = FFC(64, 64, 3, 0.75, 0.75, padding=1)
    assert ffc.in_g == 48 and ffc.out_g == 48
    assert ffc.l2l.in_channels == 16 and ffc.g2g is not None
    out_l, out_g = ffc((torch.rand(2, 16, 8, 8), torch.rand(2, 48, 8, 8)))
    assert out_l.shape == (2, 16, 8, 8) and out_g.shape == (2, 48, 8, 8)
    local_only = FFC(8, 8, 3, 0.0, 0.0, padding=1)
    assert local_only.g2g is None and local_only.l2g is None
    assert local_only.l2l.padding_mode == "reflect"


def test_generator_shapes_range_and_blind_to_the_hole():
    fam = _lama().eval()
    x = torch.rand(2, 3, 48, 72)
    m = torch.zeros(2, 1, 48, 72)
    m[:, :, 10:30, 20:50] = 1
    out = fam.generator(x, m)
    assert out.shape == (2, 3, 48, 72) and out.min() >= 0 and out.max() <= 1
    y = x.clone()
    y[m.expand_as(y) > 0] = torch.rand(int(m.sum().item()) * 3)  # change only hole pixels
    assert torch.equal(fam.generator(y, m), out)


def test_discriminator_returns_patch_logits_and_features():
    fam = _lama()
    logits, feats = fam.discriminators["patch"](torch.rand(2, 3, 64, 64))
    assert logits.dim() == 4 and logits.shape[:2] == (2, 1) and logits.shape[-1] > 1
    assert len(feats) == Lama.tiny_config()["discriminator"]["n_layers"] + 1


def test_losses_follow_the_config():
    batch = {"image": torch.rand(2, 3, 64, 64), "mask": torch.zeros(2, 1, 64, 64)}
    batch["mask"][:, :, 8:40, 8:40] = 1
    fam = _lama(l1_missing=2.0)
    losses, pred = fam.generator_step(batch, 0)
    assert set(losses) == {"l1_known", "l1_missing", "adv", "feature_matching"}
    known = ((1 - batch["mask"]) * (pred - batch["image"]).abs()).mean()
    assert torch.allclose(losses["l1_known"], 10 * known)
    d = fam.discriminator_step(batch, pred.detach(), 0)
    assert set(d) == {"adv", "r1"} and d["r1"] >= 0
    # hole-aware fake labels: the D loss is the masked non-saturating loss
    torch.manual_seed(1)
    fam2 = _lama(r1=0.0)
    torch.manual_seed(1)
    d2 = fam2.discriminator_step(batch, pred.detach(), 0)
    disc = fam2.discriminators["patch"]
    real, _ = disc(batch["image"])
    fake, _ = disc(pred.detach())
    assert set(d2) == {"adv"}
    assert torch.allclose(d2["adv"], discriminator_adversarial("nonsaturating", real, fake, batch["mask"]), atol=1e-6)
    plain = _lama(mask_as_fake_target=False).discriminator_step(batch, pred.detach(), 0)["adv"]
    assert not torch.allclose(plain, d2["adv"])
    # reconstruction only: no discriminator terms and no discriminator updates
    rec = _lama(adv=0.0, feature_matching=0.0)
    assert set(rec.generator_step(batch, 0)[0]) == {"l1_known"}
    assert rec.discriminator_step(batch, pred.detach(), 0) == {} and not rec.trains_discriminator(0)


def test_perceptual_needs_a_weights_file(tmp_path):
    from inpaintkit.errors import InpaintKitError

    assert _lama().perceptual is None or not _lama().perceptual.available
    with pytest.raises(InpaintKitError):
        _lama(vgg_weights=str(tmp_path / "missing.pth"))
