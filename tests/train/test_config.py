"""Config groups: validation, overrides, the configs shipped for every model, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from inpaintkit.errors import InpaintKitError
from inpaintkit.models import list_models
from inpaintkit.train.config import GROUPS, load_config, parse_overrides, resolve_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
REQUIRED = ["data.root=/photos", "data.size=128", "train.steps=7", "train.batch_size=3", "run.dir=/tmp/r"]


@pytest.mark.parametrize("name", list_models())
def test_every_model_has_a_config_with_the_required_override_keys(name):
    path = CONFIGS / f"{name}.yaml"
    assert path.is_file(), f"configs/{name}.yaml is missing"
    cfg = load_config(path, REQUIRED)
    assert cfg.family == name
    assert (cfg.data.root, cfg.data.size, cfg.train.steps, cfg.train.batch_size, cfg.run.dir) == (
        "/photos",
        128,
        7,
        3,
        "/tmp/r",
    )
    # the resolved config round-trips through YAML (what the run folder stores)
    again = resolve_config(yaml.safe_load(cfg.to_yaml()))
    assert again.to_dict() == cfg.to_dict()
    assert list(cfg.to_dict()) == list(GROUPS)


def test_unknown_keys_and_wrong_types_are_one_line_errors(tmp_path):
    base = {"model": {"name": "lama"}}
    with pytest.raises(InpaintKitError, match=r"losses: l1_knwon: unknown key"):
        resolve_config({**base, "losses": {"l1_knwon": 3}})
    with pytest.raises(InpaintKitError, match=r"train: steps: .*integer.*'many'"):
        resolve_config({**base, "train": {"steps": "many"}})
    with pytest.raises(InpaintKitError, match="unknown group"):
        resolve_config({**base, "trian": {}})
    with pytest.raises(InpaintKitError, match="model.name is missing"):
        resolve_config({"train": {}})
    with pytest.raises(InpaintKitError, match="unknown model.name 'lamma'; choose from: .*lama"):
        resolve_config({"model": {"name": "lamma"}})
    with pytest.raises(InpaintKitError, match="min_scale"):
        resolve_config({**base, "data": {"min_scale": 0.9, "max_scale": 0.5}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(InpaintKitError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(InpaintKitError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_are_dotted_yaml_scalars_and_checked():
    assert parse_overrides(["train.steps=10", "optim.generator.betas=[0.5, 0.9]", "run.dir=x", "data.flip=false"]) == {
        "train.steps": 10,
        "optim.generator.betas": [0.5, 0.9],
        "run.dir": "x",
        "data.flip": False,
    }
    base = {"model": {"name": "lama"}}
    cfg = load_config(
        base=base,
        overrides=[
            "optim.generator.betas=[0.5, 0.9]",
            "model.n_blocks=2",
            "losses.adv=0",
            "masks.mix=[{kind: boxes, p: 1}]",
        ],
    )
    assert cfg.optim.generator.betas == (0.5, 0.9) and cfg.model.n_blocks == 2 and cfg.losses.adv == 0
    assert cfg.masks.mix == [{"kind": "boxes", "p": 1}]
    with pytest.raises(InpaintKitError, match=r"--set train.stpes: unknown key 'stpes' in train; valid keys: steps"):
        load_config(base=base, overrides=["train.stpes=3"])
    with pytest.raises(InpaintKitError, match=r"--set optim.generator.lrr: unknown key 'lrr' in optim.generator"):
        load_config(base=base, overrides=["optim.generator.lrr=3"])
    with pytest.raises(InpaintKitError, match="unknown group 'foo'"):
        load_config(base=base, overrides=["foo.bar=1"])
    with pytest.raises(InpaintKitError, match="expected KEY=VALUE"):
        parse_overrides(["train.steps"])
    # model.name may be overridden; the other groups are then checked against the new family
    cfg = load_config(base=base, overrides=["model.name=pconv"])
    assert cfg.family == "pconv"


def test_cli_train_resume_and_errors(cli, photos, tmp_path):
    run = tmp_path / "run"
    args = [
        "train",
        "--config",
        str(CONFIGS / "pconv.yaml"),
        "--set",
        f"data.root={photos}",
        "data.size=32",
        "train.steps=2",
        "train.batch_size=2",
        f"run.dir={run}",
        "train.val_every=2",
        "data.val_count=2",
        "data.num_workers=0",
        "train.device=cpu",
        "run.progress=false",
        *[f"model.{k}={v}" for k, v in _tiny("pconv")["model"].items()],
    ]
    code, out, err = cli(*args)
    assert code == 0, err
    assert "trained pconv to step 2" in out and (run / "last").exists()
    code, out, err = cli("train", "--resume", str(run), "--set", "train.steps=3")
    assert code == 0, err
    assert "to step 3" in out
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["model"]["name"] == "pconv" and resolved["train"]["steps"] == 3  # what the resumed run used
    # the run is an inpainter: `inpaintkit run --model pconv --checkpoint RUN_DIR`
    from inpaintkit.io import read_image, write_image, write_mask

    img = read_image(next(photos.iterdir())).rgb
    mask = np.zeros(img.shape[:2], bool)
    mask[10:30, 20:50] = True
    write_image(tmp_path / "in.png", img)
    write_mask(tmp_path / "m.png", mask)
    code, out, err = cli(
        "run",
        "--image",
        tmp_path / "in.png",
        "--mask",
        tmp_path / "m.png",
        "--output",
        tmp_path / "out.png",
        "--model",
        "pconv",
        "--checkpoint",
        run,
    )
    assert code == 0, err
    filled = read_image(tmp_path / "out.png").rgb
    assert np.array_equal(filled[~mask], img[~mask]) and not np.array_equal(filled[mask], img[mask])
    code, _, err = cli("train", "--config", str(CONFIGS / "pconv.yaml"), "--set", "train.stepz=3")
    assert code == 2 and err.startswith("error: --set train.stepz: unknown key 'stepz'")
    code, _, err = cli("train", "--resume", str(tmp_path))
    assert code == 2 and "not a run folder" in err
    code, _, err = cli("train")
    assert code == 2 and "give --config" in err


def _tiny(name):
    from inpaintkit.models import MODELS

    return MODELS.get(name).obj.tiny_config()


def test_old_lama_loss_keys_still_load_with_a_note(tmp_path):
    """``losses.l1_known`` / ``l1_missing`` (earlier versions) were renamed after their loss functions
    ``l1_valid`` / ``l1_hole``: an old run folder's config still loads, with the same weights, and says so."""
    bundled = Path(__file__).resolve().parents[2] / "inpaintkit" / "weights" / "default" / "config.yaml"
    raw = yaml.safe_load(bundled.read_text())
    assert {"l1_valid", "l1_hole"} <= set(raw["losses"])  # shipped files use the new names
    new = load_config(bundled)
    old = dict(
        raw,
        losses={
            ("l1_known" if k == "l1_valid" else "l1_missing" if k == "l1_hole" else k): v
            for k, v in raw["losses"].items()
        },
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    with pytest.warns(
        FutureWarning,
        match=r"losses\.l1_known was renamed losses\.l1_valid; losses\.l1_missing was renamed losses\.l1_hole",
    ):
        cfg = load_config(tmp_path / "config.yaml")
    assert cfg.losses == new.losses and (cfg.losses.l1_valid, cfg.losses.l1_hole) == (1.0, 6.0)
    both = dict(raw, losses={**raw["losses"], "l1_known": 2.0})
    with pytest.raises(InpaintKitError, match="l1_known is the old name of losses.l1_valid; give only l1_valid"):
        resolve_config(both)
