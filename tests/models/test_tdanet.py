"""TDANet: shapes and invariants of the generator, the training step's losses, a 3-step training run from
configs/tdanet.yaml, and the trained run as a captioned, seeded inpainter (API and CLI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaintkit.data.shapes import make_scene
from inpaintkit.models import create_model
from inpaintkit.models.tdanet import TDANet

LOSS_KEYS = {"kl_rec", "kl_g", "l1_rec", "l1_g", "adv", "feature_matching", "match_word", "match_sentence"}


def tiny(prefill: str = "binomial") -> TDANet:
    torch.manual_seed(0)
    cfg = TDANet.tiny_config()
    cfg["model"] = {**cfg["model"], "prefill": prefill}
    return create_model("tdanet", **cfg)


def scenes(n=4, seed=0):
    sc = [make_scene(seed, i) for i in range(n)]
    img = torch.stack([torch.from_numpy(s.image).permute(2, 0, 1).float() / 255 for s in sc])
    mask = torch.stack([torch.from_numpy(s.mask)[None].float() for s in sc])
    return sc, img, mask


def test_predict_keeps_known_pixels_and_seeds_give_diverse_fills():
    fam = tiny().eval()
    sc, img, mask = scenes()
    caps = [s.caption for s in sc]
    a = fam.predict(img, mask, caption=caps, seed=0)
    assert a.shape == img.shape and torch.isfinite(a).all()
    assert torch.equal(a * (1 - mask), img * (1 - mask))
    assert torch.equal(a, fam.predict(img, mask, caption=caps, seed=0))  # reproducible
    b = fam.predict(img, mask, caption=caps, seed=1)
    assert (a - b).abs().sum() > 0 and torch.equal(b * (1 - mask), img * (1 - mask))
    c = fam.predict(img, mask, caption=["a blue circle at the top left"] * 4, seed=0)
    assert (a - c).abs().sum() > 0  # the caption reaches the output
    assert torch.isfinite(fam.predict(img, mask, seed=0)).all()  # no caption at all is fine


def test_diversity_scales_how_far_seeds_spread():
    from inpaintkit.errors import InpaintKitError

    fam = tiny().eval()
    sc, img, mask = scenes()
    caps = [s.caption for s in sc]

    def spread(d):
        a, b = (fam.predict(img, mask, caption=caps, seed=s, diversity=d) for s in (0, 1))
        assert torch.equal(a * (1 - mask), img * (1 - mask)) and torch.equal(b * (1 - mask), img * (1 - mask))
        return (a - b).abs().sum().item()

    assert spread(0.0) == 0.0  # no noise: every seed gives the mean completion
    assert 0 < spread(1.0) < spread(4.0)
    assert torch.equal(
        fam.predict(img, mask, caption=caps, seed=1, diversity=fam.generator.cfg.sample_std),
        fam.predict(img, mask, caption=caps, seed=1),
    )  # the default is model.sample_std
    for bad in (-1, "lots", float("nan"), float("inf")):
        with pytest.raises(InpaintKitError, match="diversity"):
            fam.predict(img, mask, caption=caps, diversity=bad)


def test_prefill_is_the_base_of_the_output_and_none_sees_a_black_hole():
    from inpaintkit.layers.prefill import push_pull_fill

    sc, img, mask = scenes()
    fam = tiny().eval()
    with torch.no_grad():  # RGB heads that add nothing: the output is the pre-fill, whatever the caption
        for conv in fam.generator.decoder.to_rgb:
            conv.weight.zero_()
            conv.bias.zero_()
    out = fam.generator(img * (1 - mask), mask, caption=[s.caption for s in sc])
    expected = push_pull_fill(img * (1 - mask), mask).clamp(1e-3, 1 - 1e-3)
    assert torch.allclose(out, expected, atol=1e-5)
    # what the encoder sees depends only on the visible pixels, with or without a pre-fill
    noisy = img * (1 - mask) + torch.rand_like(img) * mask
    for prefill in ("binomial", "none"):
        g = tiny(prefill).generator.eval()
        assert torch.equal(g.visible_input(img, mask), g.visible_input(noisy, mask))
    assert torch.equal(tiny("none").generator.visible_input(img, mask), img * (1 - mask))


@pytest.mark.parametrize("prefill", ["binomial", "none"])
def test_generator_step_losses_and_gradients(prefill):
    fam = tiny(prefill).train()
    sc, img, mask = scenes()
    batch = {"image": img, "mask": mask, "caption": [s.caption for s in sc]}
    fam.prepare_training(batch["caption"])  # the trainer's call before the first step
    vocab = fam.generator.text.vocab.clone()
    losses, pred, fakes = fam.generator_step(batch, 0)
    assert set(losses) == LOSS_KEYS and pred.shape == img.shape
    assert set(fakes) == {"rec"} and fakes["rec"].shape == img.shape  # for the "rec" discriminator, no state kept
    assert torch.equal(fam.generator.text.vocab, vocab)  # a step never grows the vocabulary
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    sum(losses.values()).backward()
    g = fam.generator
    assert g.text.vocabulary_size >= 10  # built from the captions
    for part in (g.text.embed, g.prior, g.posterior, g.dma, g.encoder, g.decoder, g.match_regions):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters()), part
    d = fam.discriminator_step(batch, pred.detach(), 0, **fakes)
    assert set(d) == {"adv"} and torch.isfinite(d["adv"])
    only_g = fam.discriminator_step(batch, pred.detach(), 0)["adv"]
    assert not torch.allclose(only_g, d["adv"])  # the reconstruction's fake counts
    d["adv"].backward()
    assert all(any(p.grad is not None for p in disc.parameters()) for disc in fam.discriminators.values())


def test_weights_of_zero_drop_their_losses():
    torch.manual_seed(0)
    cfg = TDANet.tiny_config()
    fam = create_model(
        "tdanet",
        cfg["model"],
        cfg["discriminator"],
        {"adv": 0, "feature_matching": 0, "match_word": 0, "match_sentence": 0},
    )
    sc, img, mask = scenes(2)
    losses, *_ = fam.generator_step({"image": img, "mask": mask, "caption": [s.caption for s in sc]}, 0)
    assert set(losses) == {"kl_rec", "kl_g", "l1_rec", "l1_g"}
    assert fam.discriminator_step({"image": img, "mask": mask}, img, 0) == {}


def test_perceptual_term_on_the_bundled_features_and_a_subset_of_the_batch():
    torch.manual_seed(0)
    cfg = TDANet.tiny_config()
    off = create_model("tdanet", cfg["model"], cfg["discriminator"], {})
    assert off.perceptual is None  # 0 by default: runs made before the term existed train as they did
    fam = create_model(
        "tdanet",
        cfg["model"],
        cfg["discriminator"],
        {"perceptual": 2.0, "perceptual_layers": ["relu1_2"], "perceptual_max_images": 2},
    ).train()
    sc, img, mask = scenes(3)
    losses, pred, _ = fam.generator_step({"image": img, "mask": mask, "caption": [s.caption for s in sc]}, 0)
    assert set(losses) == LOSS_KEYS | {"perceptual"}
    expected, _ = fam.perceptual(pred[:2], img[:2])  # the first two images only
    assert torch.allclose(losses["perceptual"], 2.0 * expected) and losses["perceptual"] > 0
    losses["perceptual"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in fam.generator.decoder.parameters())
    assert not any(k.startswith("perceptual") for k in fam.state_dict())  # the VGG is never saved


@pytest.fixture
def run_dir(tdanet_run):
    return tdanet_run  # tests/conftest.py: three steps from configs/tdanet.yaml on 10 shapes scenes


def test_three_step_training_gives_a_captioned_seeded_inpainter(run_dir):
    from inpaintkit.inpainters import create_inpainter, get_inpainter_entry

    assert get_inpainter_entry("tdanet").text_guided is True
    inp = create_inpainter("tdanet", checkpoint=str(run_dir), device="cpu")
    assert set(inp.call_options) == {"caption", "seed", "diversity"}
    assert inp.family.generator.text.vocabulary_size > 10  # the vocabulary came back with the weights
    sc = make_scene(7, 0)
    a = inp(sc.image, sc.mask, caption=sc.caption, seed=0)
    b = inp(sc.image, sc.mask, caption=sc.caption, seed=1)
    for out in (a, b):
        assert out.dtype == np.uint8 and np.array_equal(out[~sc.mask], sc.image[~sc.mask])
    assert not np.array_equal(a, b)
    again = create_inpainter("tdanet", checkpoint=str(run_dir), device="cpu")
    assert np.array_equal(again(sc.image, sc.mask, caption=sc.caption, seed=0), a)  # reload reproduces
    assert inp(sc.image, sc.mask, caption="", seed=0).shape == sc.image.shape


def test_cli_run_with_caption_and_samples(cli, run_dir, tmp_path):
    from inpaintkit.io import read_image, write_image, write_mask

    sc = make_scene(7, 1)
    write_image(tmp_path / "in.png", sc.image)
    write_mask(tmp_path / "m.png", sc.mask)
    code, out, err = cli(
        "run",
        "-i",
        tmp_path / "in.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "out.png",
        "--model",
        "tdanet",
        "--checkpoint",
        run_dir,
        "--caption",
        sc.caption,
        "--samples",
        "2",
    )
    assert code == 0, err
    s0, s1 = (read_image(tmp_path / f"out_sample{i}.png").rgb for i in range(2))
    assert not np.array_equal(s0, s1)
    assert np.array_equal(s0[~sc.mask], sc.image[~sc.mask]) and np.array_equal(s1[~sc.mask], sc.image[~sc.mask])
    code, _, err = cli(
        "run",
        "-i",
        tmp_path / "in.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "d.png",
        "--model",
        "tdanet",
        "--checkpoint",
        run_dir,
        "--caption",
        sc.caption,
        "--opt",
        "diversity=0",
        "--samples",
        "2",
    )
    assert code == 0, err
    assert np.array_equal(read_image(tmp_path / "d_sample0.png").rgb, read_image(tmp_path / "d_sample1.png").rgb)
    code, _, err = cli(
        "run",
        "-i",
        tmp_path / "in.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "e.png",
        "--model",
        "tdanet",
        "--checkpoint",
        run_dir,
        "--opt",
        "diversity=-2",
    )
    assert code == 2 and "error: diversity: expected a finite number >= 0" in err and not (tmp_path / "e.png").exists()
    code, _, err = cli(
        "run",
        "-i",
        tmp_path / "in.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "t.png",
        "--model",
        "telea",
        "--caption",
        "a red circle",
    )
    assert code == 2 and "does not take a caption" in err


def test_prepare_training_builds_the_vocabulary_most_frequent_first_and_keeps_loaded_words():
    from inpaintkit.layers.text import word_hash

    fam = tiny("none")
    enc = fam.generator.text
    enc.add_words(["zebra"])  # a word a loaded run already had
    fam.prepare_training(["a red square", "a red circle", "blue"])
    slots = {h: i for i, h in enumerate(enc.vocab.tolist()) if h}
    assert slots[word_hash("zebra")] == 2
    order = sorted(("a", "red", "square", "circle", "blue"), key=lambda w: slots[word_hash(w)])
    assert order == ["a", "red", "blue", "circle", "square"]  # by count, then alphabetical
    before = enc.vocab.clone()
    fam.prepare_training(["a red square"])  # resume: nothing new
    assert torch.equal(enc.vocab, before)
