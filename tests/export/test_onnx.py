"""ONNX export of learned models and the onnxruntime runtime: outputs match torch; errors are one line."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from inpaintkit.errors import InpaintKitError
from inpaintkit.export import OnnxGraph, export_onnx
from inpaintkit.models import create_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_unet():
    torch.manual_seed(0)
    fam = create_model(
        "lama",
        {"arch": "unet", "ngf": 8, "n_downsampling": 2, "n_blocks": 1},
        {"ndf": 8, "n_layers": 2},
        {"perceptual": 0.0},
    ).eval()
    torch.nn.init.normal_(fam.generator.head.weight, std=0.05)  # not just the pre-fill
    return fam


@pytest.fixture(scope="module")
def exported(tiny_unet, tmp_path_factory):
    return export_onnx(tiny_unet, tmp_path_factory.mktemp("onnx") / "tiny.onnx", metadata={"note": "test"})


@pytest.mark.slow
def test_export_matches_torch_at_other_sizes(tiny_unet, exported):
    graph = OnnxGraph(exported)
    assert graph.family == "lama" and graph.pad_multiple == 8 and graph.metadata["note"] == "test"
    rng = np.random.default_rng(0)
    for n, h, w in [(1, 64, 64), (2, 48, 96)]:  # dynamic batch, height and width (multiples of 8)
        x = rng.random((n, 3, h, w), dtype=np.float32)
        m = np.zeros((n, 1, h, w), np.float32)
        m[..., h // 4 : h // 2, w // 3 : w // 2] = 1
        with torch.no_grad():
            ref = tiny_unet.predict(torch.from_numpy(x), torch.from_numpy(m)).numpy()
        out = graph(x, m)
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() <= 1e-3
        assert np.array_equal(out * (1 - m), x * (1 - m))  # composited: known pixels exactly kept


@pytest.mark.slow
def test_export_keeps_the_fft_as_dft_nodes(exported):
    ops = {node.op_type for node in onnx.load(str(exported)).graph.node}
    assert "DFT" in ops  # the FFC blocks' rfft2/irfft2


def test_export_and_runtime_errors(tiny_unet, tmp_path):
    with pytest.raises(InpaintKitError, match=r"end in \.onnx"):
        export_onnx(tiny_unet, tmp_path / "model.bin")
    with pytest.raises(InpaintKitError, match="no such ONNX file"):
        OnnxGraph(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(InpaintKitError, match="not a loadable ONNX model"):
        OnnxGraph(tmp_path / "junk.onnx")


@pytest.mark.slow
def test_cli_runtime_onnx_matches_torch(tiny_unet, tmp_path, cli, monkeypatch):
    """A trained run under --runtime onnx: exported once into the cache, same pixels as torch (rounding aside)."""
    from PIL import Image

    from inpaintkit.train.checkpoint import save_checkpoint
    from inpaintkit.train.config import resolve_config, tiny_config

    run = tmp_path / "run"
    cfg = resolve_config(
        tiny_config(
            "lama",
            model={"arch": "unet", "ngf": 8, "n_downsampling": 2, "n_blocks": 1},
            discriminator={"ndf": 8, "n_layers": 2},
            losses={"perceptual": 0.0},
            run={"dir": str(run)},
        )
    )
    run.mkdir()
    (run / "config.yaml").write_text(cfg.to_yaml())
    save_checkpoint(
        run,
        1,
        family="lama",
        generator=tiny_unet.generator,
        discriminators=tiny_unet.discriminators,
        ema=None,
        state={"step": 1},
        best=True,
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    m = np.zeros((60, 90), np.uint8)
    m[20:40, 30:70] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    outs = {}
    for rt in ("torch", "onnx"):
        code, out, err = cli(
            "run",
            "--model",
            f"lama:{run}",
            "--runtime",
            rt,
            "-i",
            tmp_path / "a.png",
            "-m",
            tmp_path / "m.png",
            "-o",
            tmp_path / f"{rt}.png",
        )
        assert code == 0, err
        outs[rt] = np.asarray(Image.open(tmp_path / f"{rt}.png")).astype(int)
    assert np.abs(outs["torch"] - outs["onnx"]).max() <= 1
    assert len(list((tmp_path / "cache" / "inpaintkit" / "onnx").glob("lama-*.onnx"))) == 1
    code, _, err = cli(
        "run",
        "--model",
        "telea",
        "--runtime",
        "onnx",
        "-i",
        tmp_path / "a.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "t.png",
    )
    assert code != 0 and "not a network" in err
    code, _, err = cli(
        "run",
        "--model",
        f"lama:{run}",
        "--runtime",
        "tensorrt",
        "-i",
        tmp_path / "a.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "t.png",
    )
    assert code != 0 and "choose from torch, onnx" in err


def test_cli_export_errors(cli, tmp_path):
    code, _, err = cli("export", "--model", "telea", "--output", tmp_path / "x.onnx")
    assert code != 0 and "not a network" in err
    code, _, err = cli("export", "--format", "tflite", "--output", tmp_path / "x.onnx")
    assert code != 0 and "choose from onnx" in err
    code, _, err = cli("export", "--model", "lama", "--output", tmp_path / "x.onnx")
    assert code != 0 and "needs a trained checkpoint" in err
