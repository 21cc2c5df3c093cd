"""The one test that walks every registered learned family (timm-style): build tiny, forward/backward at 64x64,
shapes, finiteness, composite keeps known pixels, a saved checkpoint reloads to the same outputs, and the
inpainter built from it (``create_inpainter(name, checkpoint=...)``) leaves known pixels bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from inpaintkit.errors import InpaintKitError
from inpaintkit.inpainters import create_inpainter, get_inpainter_entry
from inpaintkit.models import MODELS, create_model, list_models
from inpaintkit.train import checkpoint as ck
from inpaintkit.train.config import resolve_config, tiny_config

NAMES = list_models()


def _batch(n: int = 2, size: int = 64, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, size, size, generator=g)
    mask = torch.zeros(n, 1, size, size)
    mask[:, :, size // 4 : size // 2 + 4, size // 3 : size // 3 + 20] = 1.0  # one box per image
    mask[1:, :, 40:52, 8:30] = 1.0
    return {"image": image, "mask": mask, "caption": ["a photo of a landscape"] * n}


def _build(name: str):
    torch.manual_seed(0)
    return create_model(name, **MODELS.get(name).obj.tiny_config())


def _call_kw(name: str) -> dict:
    return {"caption": "a photo of a landscape"} if get_inpainter_entry(name).text_guided else {}


def test_the_registry_has_the_issue_families():
    assert {"pconv", "glcic", "deepfill_v2", "context_encoder", "pix2pix", "lama"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_shapes_and_finite(name):
    fam = _build(name).train()
    batch = _batch()
    losses, pred, *more = fam.generator_step(batch, 0)  # (losses, pred) or (losses, pred, fakes)
    fakes = more[0] if more else {}
    assert len(more) <= 1 and all(f.shape == pred.shape for f in fakes.values())
    assert pred.shape == (2, 3, 64, 64)
    assert losses, f"{name}: generator_step returned no losses"
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values()), losses
    sum(losses.values()).backward()
    grads = [p.grad for p in fam.generator.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads if g is not None)
    assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{name}: no gradient reached the generator"
    if len(fam.discriminators):
        fam.zero_grad(set_to_none=True)
        d_losses = fam.discriminator_step(batch, pred.detach(), 10**6, **{k: v.detach() for k, v in fakes.items()})
        assert d_losses, f"{name}: discriminator_step returned nothing although the family has discriminators"
        assert all(torch.isfinite(v) for v in d_losses.values()), d_losses
        sum(d_losses.values()).backward()
        d_grads = [p.grad for p in fam.discriminators.parameters() if p.grad is not None]
        assert d_grads and all(torch.isfinite(g).all() for g in d_grads)
        assert all(p.grad is None for p in fam.generator.parameters()), "D step must not reach the generator"


@pytest.mark.parametrize("name", NAMES)
def test_predict_keeps_known_pixels(name):
    fam = _build(name).eval()
    batch = _batch()
    kw = {"caption": batch["caption"]} if _call_kw(name) else {}
    out = fam.predict(batch["image"], batch["mask"], **kw)
    assert out.shape == batch["image"].shape and torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    known = batch["mask"].expand_as(out) == 0
    assert torch.equal(out[known], batch["image"][known])


def _save_run(name: str, fam, run_dir) -> None:
    raw = tiny_config(name, data={"root": str(run_dir), "size": 64}, run={"dir": str(run_dir)})
    cfg = resolve_config(raw)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / ck.CONFIG).write_text(cfg.to_yaml())
    ck.save_checkpoint(
        run_dir,
        1,
        family=name,
        generator=fam.generator,
        discriminators=fam.discriminators,
        ema=None,
        state={"step": 1},
        metrics={"val_psnr": 20.0},
        best=True,
    )


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_reload_reproduces_outputs(name, tmp_path):
    fam = _build(name)
    fam.train()
    fam.generator_step(_batch(seed=1), 0)  # move BatchNorm statistics away from their initial values
    fam.eval()
    run = tmp_path / "run"
    _save_run(name, fam, run)
    batch = _batch(seed=2)
    kw = {"caption": batch["caption"]} if _call_kw(name) else {}
    torch.manual_seed(5)
    expected = fam.predict(batch["image"], batch["mask"], **kw)

    inp = create_inpainter(name, checkpoint=str(run), device="cpu")
    torch.manual_seed(5)
    got = inp.family.predict(batch["image"], batch["mask"], **kw)
    assert torch.equal(got, expected)

    # through the public API: uint8 in and out, known pixels bit-identical, holes filled by the model
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[20:44, 16:40] = True
    out = inp.inpaint(rgb, mask, **_call_kw(name))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], rgb[~mask])
    # the weights file alone (with the run's config.yaml found in a parent folder) loads too
    weights = run / "last" / ck.GENERATOR
    inp2 = create_inpainter(name, checkpoint=str(weights), device="cpu")
    assert np.array_equal(inp2.inpaint(rgb, mask, **_call_kw(name)), out)


def test_checkpoint_of_another_family_is_refused(tmp_path):
    fam = _build("lama").eval()
    _save_run("lama", fam, tmp_path / "run")
    other = next(n for n in NAMES if n != "lama")
    with pytest.raises(InpaintKitError, match="is a 'lama' run, not"):
        create_inpainter(other, checkpoint=str(tmp_path / "run"))
    with pytest.raises(InpaintKitError, match="are 'lama' weights"):
        # a lama weights file placed in a run folder of another family
        cfg = resolve_config(tiny_config(other, run={"dir": str(tmp_path / "o")}))
        (tmp_path / "o").mkdir()
        (tmp_path / "o" / ck.CONFIG).write_text(cfg.to_yaml())
        w = tmp_path / "o" / "generator.safetensors"
        w.write_bytes((tmp_path / "run" / "last" / ck.GENERATOR).read_bytes())
        create_inpainter(other, checkpoint=str(w))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(InpaintKitError, match="needs a trained checkpoint"):
        create_inpainter("lama")
    with pytest.raises(InpaintKitError, match="no such checkpoint"):
        create_inpainter("lama", checkpoint=str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InpaintKitError, match="not a run folder"):
        create_inpainter("lama", checkpoint=str(tmp_path / "empty"))
    cfg = yaml.safe_dump({"model": {"name": "lama"}})
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / ck.CONFIG).write_text(cfg)
    with pytest.raises(InpaintKitError, match="no 'last' checkpoint"):
        create_inpainter("lama", checkpoint=str(tmp_path / "fresh"))
