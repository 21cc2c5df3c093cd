"""glcic: architecture, three training phases, local window around the hole, Poisson blending, config errors."""

import numpy as np
import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.models import create_model
from inpaintkit.models.glcic import hole_windows, seamless_blend
from inpaintkit.train.config import resolve_config, tiny_config
from tests.models.family_helpers import fit, one_thread  # noqa: F401  (one_thread: autouse)


def _smooth(size=64, n=2):
    yy, xx = torch.meshgrid(torch.linspace(0, 3, size), torch.linspace(0, 3, size), indexing="ij")
    img = torch.stack([0.5 + 0.4 * torch.sin(xx + p) * torch.cos(yy - p) for p in (0.0, 1.0, 2.0)])
    mask = torch.zeros(n, 1, size, size)
    mask[0, :, 4:20, 40:60] = 1
    mask[1:, :, 30:50, 20:40] = 1
    return {"image": img[None].repeat(n, 1, 1, 1), "mask": mask}


def _tiny(**losses):
    torch.manual_seed(0)
    cfg = {
        "model": {"channels": 8},
        "discriminator": {"channels": 8, "global_size": 64, "local_size": 32},
        "losses": {"phase_generator_steps": 3, "phase_discriminator_steps": 2, **losses},
    }
    return create_model("glcic", **cfg)


def test_completion_network_dilations_and_sigmoid_output():
    fam = _tiny()
    dil = [m.dilation[0] for m in fam.generator.modules() if isinstance(m, torch.nn.Conv2d) and m.dilation[0] > 1]
    assert dil == [2, 4, 8, 16]
    b = _smooth()
    out = fam.generator(b["image"], b["mask"])
    assert out.shape == (2, 3, 64, 64) and 0 <= out.min() and out.max() <= 1
    d = fam.discriminators["global_local"]
    assert len([m for m in d.glob.convs if isinstance(m, torch.nn.Conv2d)]) == 6
    assert len([m for m in d.local.convs if isinstance(m, torch.nn.Conv2d)]) == 5
    assert d(b["image"], b["mask"]).shape == (2, 1)


def test_three_phases():
    fam = _tiny()
    assert [fam.trains_generator(s) for s in range(7)] == [True, True, True, False, False, True, True]
    assert [fam.trains_discriminator(s) for s in range(7)] == [False, False, False, True, True, True, True]
    b = _smooth()
    assert set(fam.generator_step(b, 0)[0]) == {"l2"}  # phase 1: reconstruction only
    losses, pred = fam.generator_step(b, 6)  # joint: alpha-weighted adversarial term
    assert set(losses) == {"l2", "adv"}
    logits = fam.discriminators["global_local"](b["image"] * (1 - b["mask"]) + pred * b["mask"], b["mask"])
    assert losses["adv"].item() == pytest.approx(0.0004 * torch.nn.functional.softplus(-logits).mean().item(), rel=1e-4)
    assert set(fam.discriminator_step(b, pred, 3)) == {"adv"}


def test_local_window_is_centred_on_the_hole_and_stays_inside():
    mask = torch.zeros(3, 1, 64, 64)
    mask[0, :, 10:20, 30:40] = 1  # centre (15, 35)
    mask[1, :, 0:4, 60:64] = 1  # corner: window pushed inside
    assert hole_windows(mask, 16) == [(7, 27), (0, 48), (24, 24)]  # empty mask: centre of the image


def test_local_discriminator_sees_the_hole_window():
    fam = _tiny().eval()
    d = fam.discriminators["global_local"]
    seen = []
    d.local.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    b = _smooth()
    d(b["image"], b["mask"])
    y, x = hole_windows(b["mask"], 32)[0]
    assert torch.equal(seen[0][0], b["image"][0, :, y : y + 32, x : x + 32])


def test_reconstruction_overfits():
    fam = _tiny().train()
    b = _smooth(32)
    b["mask"] = b["mask"][..., :32, :32]
    b["mask"][..., 8:20, 8:24] = 1
    first, last = fit(fam, b, lambda losses: losses["l2"], steps=8)
    assert last < 0.5 * first


def test_poisson_blending_option_keeps_known_pixels():
    rng = np.random.default_rng(0)
    image = (rng.random((40, 50, 3)) * 60 + 100).astype(np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[10:25, 15:35] = True
    fill = np.full_like(image, 30)  # a dark fill: blending pulls it towards the surrounding level
    out = seamless_blend(fill, image, mask)
    assert np.array_equal(out[~mask], fill[~mask])
    assert abs(out[mask].mean() - image[~mask].mean()) < abs(fill[mask].mean() - image[~mask].mean()) / 2
    fam = _tiny().eval()
    b = _smooth()
    plain = fam.predict(b["image"], b["mask"])
    blended = fam.predict(b["image"], b["mask"], poisson_blend=True)
    known = b["mask"].expand_as(plain) == 0
    assert torch.equal(blended[known], plain[known]) and not torch.equal(blended, plain)


def test_config_errors():
    with pytest.raises(InpaintKitError, match="discriminator.*local_size"):
        resolve_config(tiny_config("glcic", discriminator={"global_size": 64, "local_size": 128}))
    with pytest.raises(InpaintKitError, match="phase_generator_steps"):
        resolve_config(tiny_config("glcic", losses={"phase_generator_steps": -1}))
    with pytest.raises(InpaintKitError, match="adv_kind"):
        resolve_config(tiny_config("glcic", losses={"adv_kind": "wasserstein"}))
