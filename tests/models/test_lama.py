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
    fam = _lama(l1_hole=2.0)
    losses, pred = fam.generator_step(batch, 0)
    assert set(losses) == {"l1_valid", "l1_hole", "adv", "feature_matching", "perceptual"}  # bundled VGG16
    known = ((1 - batch["mask"]) * (pred - batch["image"]).abs()).mean()
    assert torch.allclose(losses["l1_valid"], 10 * known)
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
    rec = _lama(adv=0.0, feature_matching=0.0, perceptual=0.0)
    assert set(rec.generator_step(batch, 0)[0]) == {"l1_valid"}
    assert rec.discriminator_step(batch, pred.detach(), 0) == {} and not rec.trains_discriminator(0)
    # the SSIM term (the v4 default's recipe): 1 - SSIM of the composite, x the weight
    from pydantic import ValidationError

    from inpaintkit.losses import ssim_loss

    with_ssim = _lama(adv=0.0, feature_matching=0.0, perceptual=0.0, ssim=3.0)
    terms, pred = with_ssim.generator_step(batch, 0)
    assert set(terms) == {"l1_valid", "ssim"}
    assert torch.allclose(terms["ssim"], 3.0 * ssim_loss(pred, batch["image"], batch["mask"]))
    with pytest.raises(ValidationError, match="ssim"):
        _lama(ssim=-1.0)


def test_perceptual_uses_the_bundled_features_and_checks_a_given_file(tmp_path):
    from inpaintkit.errors import InpaintKitError

    assert _lama().perceptual.available and _lama(perceptual=0.0).perceptual is None
    assert _lama(perceptual_layers=["relu2_2", "relu3_3"]).perceptual.layers == ("relu2_2", "relu3_3")
    with pytest.raises(InpaintKitError):
        _lama(vgg_weights=str(tmp_path / "missing.pth"))
    with pytest.raises(InpaintKitError, match="unknown VGG16 layer"):
        _lama(perceptual_layers=["conv9_9"])


# ---- arch: unet (the bundled default's generator) and its push-pull pre-fill ------------------------------------
@pytest.mark.parametrize("prefill", ["box", "binomial", "membrane"])
def test_push_pull_keeps_known_pixels_and_fills_from_the_neighbourhood(prefill):
    from functools import partial

    from inpaintkit.layers.prefill import push_pull_fill as pp
    from inpaintkit.models.lama import PREFILLS

    push_pull_fill = partial(pp, **PREFILLS[prefill])

    torch.manual_seed(0)
    x = torch.rand(2, 3, 40, 56)
    m = torch.zeros(2, 1, 40, 56)
    m[:, :, 5:30, 10:40] = 1
    out = push_pull_fill(x * (1 - m), m)
    assert out.shape == x.shape
    assert torch.equal(out * (1 - m), x * (1 - m)), "known pixels come back unchanged"
    flat = torch.full((1, 3, 33, 47), 0.3)  # odd sizes: ceil-mode pyramid
    hole = torch.zeros(1, 1, 33, 47)
    hole[..., 3:30, 4:44] = 1
    assert torch.allclose(push_pull_fill(flat * (1 - hole), hole), flat, atol=1e-6), "a flat image fills flat"
    # left half red, right half blue, a hole across the border: each side of the hole takes its side's colour
    two = torch.zeros(1, 3, 32, 64)
    two[:, 0, :, :32], two[:, 2, :, 32:] = 1.0, 1.0
    gap = torch.zeros(1, 1, 32, 64)
    gap[..., 8:24, 16:48] = 1
    filled = push_pull_fill(two * (1 - gap), gap)
    assert filled[0, 0, 16, 18] > 0.8 and filled[0, 2, 16, 45] > 0.8
    assert float(filled.min()) >= 0.0 and float(filled.max()) <= 1.0 + 1e-6  # a convex blend of known colours
    everything = push_pull_fill(torch.zeros(1, 3, 16, 16), torch.ones(1, 1, 16, 16))
    assert torch.isfinite(everything).all()  # no known pixel at all: no NaN


def test_membrane_relaxation_solves_laplace_in_the_hole():
    """A linear ramp is harmonic: the relaxed fill must come much closer to it than the plain push-pull, and more
    sweeps closer still."""
    from inpaintkit.layers.prefill import push_pull_fill

    h, w = 64, 96
    ramp = torch.linspace(0.1, 0.9, w).expand(1, 3, h, w).clone()
    m = torch.zeros(1, 1, h, w)
    m[..., 16:48, 20:76] = 1

    def err(**kw):
        return float((push_pull_fill(ramp * (1 - m), m, **kw) - ramp).abs().amax())

    plain, relaxed, more = err(), err(relax=(5, 20)), err(relax=(50, 50))
    assert relaxed < 0.5 * plain and more < relaxed, (plain, relaxed, more)


def test_unet_generator_sees_the_prefill_not_the_hole_pixels():
    import inpaintkit.models.lama as lama_mod

    torch.manual_seed(0)
    fam = create_model(
        "lama", {"arch": "unet", "ngf": 8, "n_downsampling": 3, "n_blocks": 1}, {"ndf": 8, "n_layers": 2}, {}
    ).eval()
    x = torch.rand(1, 3, 48, 64)
    m = torch.zeros(1, 1, 48, 64)
    m[..., 10:30, 8:40] = 1
    noisy = x.clone()
    noisy[m.expand_as(x) > 0] = torch.rand(int(m.sum()) * 3)
    with torch.no_grad():
        a, b = fam.predict(x, m), fam.predict(noisy, m)
        out = fam.generator(x * (1 - m), m)
    assert torch.equal(a, b), "hole content must not leak into the fill"
    assert torch.equal(a * (1 - m), x * (1 - m))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    seen = []
    original = lama_mod.push_pull_fill
    try:
        lama_mod.push_pull_fill = lambda i, k, **kw: seen.append(i.clone()) or original(i, k, **kw)
        with torch.no_grad():
            fam.generator(x * (1 - m), m)
    finally:
        lama_mod.push_pull_fill = original
    assert len(seen) == 1 and torch.equal(seen[0], x * (1 - m)), "the pre-fill is computed from the zeroed image"


def test_unet_trains_the_lama_losses():
    torch.manual_seed(0)
    fam = create_model(
        "lama",
        {"arch": "unet", "ngf": 8, "n_downsampling": 2, "n_blocks": 1},
        {"ndf": 8, "n_layers": 2},
        {"l1_hole": 6.0, "perceptual": 0.0},
    )
    img = torch.rand(2, 3, 32, 32)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:20, 8:24] = 1
    losses, pred = fam.generator_step({"image": img, "mask": mask}, 0)
    assert {"l1_valid", "l1_hole", "adv", "feature_matching"} <= set(losses)
    sum(losses.values()).backward()
    assert fam.generator.head.weight.grad is not None and fam.generator.head.weight.grad.abs().sum() > 0


def test_perceptual_on_a_subset_of_the_batch():
    batch = {"image": torch.rand(4, 3, 32, 32), "mask": torch.zeros(4, 1, 32, 32)}
    batch["mask"][:, :, 8:24, 8:24] = 1
    fam = _lama(adv=0.0, feature_matching=0.0, perceptual=1.0, perceptual_layers=["pool1"], perceptual_max_images=2)
    losses, pred = fam.generator_step(batch, 0)
    expected, _ = fam.perceptual(pred[:2], batch["image"][:2])
    assert torch.allclose(losses["perceptual"], expected)
    assert pred.requires_grad
    grad = torch.autograd.grad(losses["perceptual"], pred)[0]
    assert grad[2:].abs().sum() == 0 and grad[:2].abs().sum() > 0  # only the first two images are compared


def test_opencv_sweeps_equal_the_exported_convolution():
    """The eager CPU sweeps (``_relax_cv``, OpenCV) and the convolution that ONNX export traces are the same
    arithmetic: equal results, and the input is left untouched."""
    from inpaintkit.layers.prefill import _membrane_relax, _relax_cv

    g = torch.Generator().manual_seed(0)
    fill = torch.rand(2, 3, 37, 50, generator=g)
    hole = (torch.rand(2, 1, 37, 50, generator=g) > 0.4).float() * torch.rand(2, 1, 37, 50, generator=g)
    before = fill.clone()
    out = _relax_cv(fill, hole, 7)
    ref = _membrane_relax(fill.clone().requires_grad_(True), hole, 7).detach()  # autograd: the traced convolution
    assert torch.equal(fill, before)
    assert float((out - ref).abs().max()) < 1e-6
    assert float((out - fill).abs().max()) > 0.01  # the sweeps did something
