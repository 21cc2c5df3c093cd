"""pconv: native depth, BatchNorm really applied, fine-tune freezes encoder BN, losses, overfit, config errors."""

import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.models import create_model
from inpaintkit.train.config import resolve_config, tiny_config
from tests.models.family_helpers import fit, one_thread  # noqa: F401  (one_thread: autouse)


def _batch(size=64, n=2):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(n, 3, size, size, generator=g)
    mask = torch.zeros(n, 1, size, size)
    mask[..., size // 4 : size // 2, size // 4 : size // 2 + 8] = 1
    return {"image": image, "mask": mask}


def test_native_depth_at_256_reaches_2x2():
    fam = create_model("pconv", {"layer_size": 7, "channels": 4})
    assert [b.conv.kernel_size[0] for b in fam.generator.enc] == [7, 5, 5, 3, 3, 3, 3]
    assert fam.generator.chans == [4, 8, 16, 32, 32, 32, 32]
    seen = []
    fam.generator.enc[-1].register_forward_hook(lambda m, i, o: seen.append(o[0].shape))
    b = _batch(256, 1)
    out = fam.generator(b["image"], b["mask"])
    assert out.shape == (1, 3, 256, 256) and seen == [(1, 32, 2, 2)]
    assert 0 <= out.min() and out.max() <= 1
    # odd sizes are padded inside and cropped back
    fam.eval()
    assert fam.generator(torch.rand(1, 3, 100, 70), torch.zeros(1, 1, 100, 70)).shape == (1, 3, 100, 70)


def test_batchnorm_is_applied():
    torch.manual_seed(0)
    fam = create_model("pconv", **{"model": {"layer_size": 4, "channels": 4}}).eval()
    b = _batch()
    before = fam.generator(b["image"], b["mask"])
    with torch.no_grad():
        fam.generator.enc[1].bn.bias.add_(1.0)  # a BN that is built but never called changes nothing
    assert not torch.allclose(before, fam.generator(b["image"], b["mask"]))
    assert fam.generator.enc[0].bn is None and fam.generator.dec[-1].bn is None and fam.generator.dec[-1].act is None


def test_finetune_freezes_encoder_batchnorm():
    fam = create_model("pconv", {"layer_size": 4, "channels": 4, "finetune": True}).train()
    enc_bn = [blk.bn for blk in fam.generator.enc if blk.bn is not None]
    dec_bn = [blk.bn for blk in fam.generator.dec if blk.bn is not None]
    assert all(not bn.training and not bn.weight.requires_grad for bn in enc_bn)
    assert all(bn.training and bn.weight.requires_grad for bn in dec_bn)
    stats = [bn.running_mean.clone() for bn in enc_bn]
    b = _batch()
    fam.generator(b["image"], b["mask"])
    assert all(torch.equal(s, bn.running_mean) for s, bn in zip(stats, enc_bn))
    assert not torch.equal(dec_bn[0].running_mean, torch.zeros_like(dec_bn[0].running_mean))


def test_loss_keys_and_weights():
    fam = create_model("pconv", {"layer_size": 4, "channels": 4}, losses={"l1_hole": 12.0, "tv": 0.0})
    losses, pred = fam.generator_step(_batch(), 0)
    assert set(losses) == {"l1_valid", "l1_hole", "tv", "perceptual", "style"}  # on the bundled VGG16 features
    from inpaintkit.losses import l1_hole

    b = _batch()
    assert losses["l1_hole"].item() == pytest.approx(12 * l1_hole(pred, b["image"], b["mask"]).item(), rel=1e-5)
    assert losses["tv"].item() == 0


def test_overfits_one_batch():
    torch.manual_seed(0)
    fam = create_model("pconv", {"layer_size": 4, "channels": 8}).train()
    first, last = fit(fam, _batch(32), lambda losses: sum(losses.values()), steps=12)
    assert last < 0.75 * first


def test_config_errors():
    with pytest.raises(InpaintKitError, match="model: layer_size"):
        resolve_config(tiny_config("pconv", model={"layer_size": 3}))
    with pytest.raises(InpaintKitError, match="losses: style_weight: unknown key"):
        resolve_config(tiny_config("pconv", losses={"style_weight": 1.0}))
    with pytest.raises(InpaintKitError, match="discriminator: channels: unknown key"):
        resolve_config(tiny_config("pconv", discriminator={"channels": 8}))


def test_perceptual_and_style_with_vgg_weights(tmp_path):
    from safetensors.torch import save_file

    convs = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256), 14: (256, 256)}
    g = torch.Generator().manual_seed(0)
    sd = {
        f"features.{i}.{k}": (torch.randn(o, c, 3, 3, generator=g) * 0.1 if k == "weight" else torch.zeros(o))
        for i, (o, c) in convs.items()
        for k in ("weight", "bias")
    }
    path = tmp_path / "vgg16.safetensors"
    save_file(sd, str(path))
    fam = create_model("pconv", {"layer_size": 4, "channels": 4}, losses={"vgg_weights": str(path)})
    losses, _ = fam.generator_step(_batch(32), 0)
    assert set(losses) == {"l1_valid", "l1_hole", "tv", "perceptual", "style"}
    assert losses["perceptual"] > 0 and losses["style"] > 0
    assert not any(k.startswith("vgg") for k in fam.generator.state_dict())  # VGG is not part of the weights
