"""`inpaintkit run` and `inpaintkit list`: single files, batches, bad input, never overwriting inputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inpaintkit.io import read_image


def _write(path, h=24, w=32, seed=0, mode="RGB"):
    arr = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return arr


def _mask(path, h=24, w=32):
    m = np.zeros((h, w), np.uint8)
    m[5:12, 8:20] = 255
    Image.fromarray(m).save(path)
    return m > 127


def test_list_shows_every_inpainter_and_default(cli):
    code, out, _ = cli("list")
    assert code == 0
    for name in ("telea", "ns", "biharmonic"):
        assert name in out
    assert "default for `inpaintkit run`" in out


def test_single_file(cli, tmp_path):
    img = _write(tmp_path / "a.png")
    hole = _mask(tmp_path / "m.png")
    code, out, err = cli(
        "run",
        "--model",
        "telea",
        "--image",
        tmp_path / "a.png",
        "--mask",
        tmp_path / "m.png",
        "--output",
        tmp_path / "out" / "a_filled.png",
        "--opt",
        "radius=5",
    )
    assert code == 0, err
    assert "wrote" in out
    res = read_image(tmp_path / "out" / "a_filled.png").rgb
    assert np.array_equal(res[~hole], img[~hole]) and not np.array_equal(res[hole], img[hole])


def test_batch_by_stem_with_failures_reported(cli, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(3):
        _write(tmp_path / "imgs" / f"p{i}.png", seed=i)
    _mask(tmp_path / "masks" / "p0.png")
    _mask(tmp_path / "masks" / "p1_mask.png")
    # p2 has no mask; a zero-byte "image" is in the folder too
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"")
    code, out, err = cli(
        "run", "--model", "ns", "--image", tmp_path / "imgs", "--mask", tmp_path / "masks", "--output", tmp_path / "out"
    )
    assert code == 1
    assert "2 of 4 images written" in out and "2 failed" in out
    assert "p2.png: no mask named p2" in err and "broken.jpg: empty file" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png"]


def test_one_mask_for_all_and_jpeg_output(cli, tmp_path):
    (tmp_path / "imgs").mkdir()
    for i in range(2):
        _write(tmp_path / "imgs" / f"q{i}.png", seed=i)
    _mask(tmp_path / "m.png")
    code, out, err = cli(
        "run",
        "--model",
        "telea",
        "-i",
        tmp_path / "imgs",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "o",
        "--ext",
        "jpg",
    )
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["q0.jpg", "q1.jpg"]
    assert Image.open(tmp_path / "o" / "q0.jpg").format == "JPEG"


def test_refuses_to_overwrite_inputs(cli, tmp_path):
    _write(tmp_path / "a.png")
    _mask(tmp_path / "m.png")
    before = (tmp_path / "a.png").read_bytes()
    code, _, err = cli(
        "run", "--model", "telea", "-i", tmp_path / "a.png", "-m", tmp_path / "m.png", "-o", tmp_path / "a.png"
    )
    assert code == 2 and "overwrite an input" in err
    assert (tmp_path / "a.png").read_bytes() == before
    code, _, err = cli("run", "--model", "telea", "-i", tmp_path, "-m", tmp_path / "m.png", "-o", tmp_path)
    assert code == 2 and "output folder is an input folder" in err


def test_user_errors_are_one_line(cli, tmp_path):
    _write(tmp_path / "a.png")
    _mask(tmp_path / "m.png", 10, 10)
    cases = [
        (["--model", "nope"], "unknown inpainter 'nope'; choose from:"),
        (["--model", "telea"], "mask is 10x10 but"),
        (["--model", "telea", "--hd-strategy", "zoom"], "--hd-strategy 'zoom'"),
        (["--model", "telea", "--opt", "radius"], "expected KEY=VALUE"),
        (["--model", "telea", "--opt", "radius=-1"], "radius must be a positive integer"),
        (["--model", "telea", "--max-pixels", "100"], "above the limit"),
    ]
    for extra, msg in cases:
        code, out, err = cli(
            "run", "-i", tmp_path / "a.png", "-m", tmp_path / "m.png", "-o", tmp_path / "o.png", *extra
        )
        assert code != 0, extra
        assert msg in err, (extra, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.png").exists()
    code, _, err = cli("run", "-i", tmp_path / "missing.png", "-m", tmp_path / "m.png", "-o", tmp_path / "o.png")
    assert code == 2 and "no such file" in err


def test_resize_mask_flag(cli, tmp_path):
    _write(tmp_path / "a.png")
    m = np.zeros((12, 16), np.uint8)
    m[2:6, 4:10] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    code, _, err = cli(
        "run",
        "--model",
        "telea",
        "-i",
        tmp_path / "a.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "o.png",
        "--resize-mask",
    )
    assert code == 0, err


def test_alpha_and_modes_round_trip(cli, tmp_path):
    rgba = np.dstack([_write(tmp_path / "tmp.png"), np.full((24, 32), 100, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    hole = _mask(tmp_path / "m.png")
    code, _, err = cli(
        "run", "--model", "telea", "-i", tmp_path / "a.png", "-m", tmp_path / "m.png", "-o", tmp_path / "o.png"
    )
    assert code == 0, err
    out = read_image(tmp_path / "o.png")
    assert (out.alpha == 100).all() and np.array_equal(out.rgb[~hole], rgba[..., :3][~hole])
    for mode, ext in (("P", "png"), ("L", "png"), ("CMYK", "jpg"), ("I;16", "png")):
        src = tmp_path / f"src_{mode.replace(';', '')}.{ext}"
        if mode == "I;16":
            Image.fromarray((np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 80)).save(src)
        else:
            _write(src, mode=mode)
        code, _, err = cli(
            "run", "--model", "telea", "-i", src, "-m", tmp_path / "m.png", "-o", tmp_path / f"o_{src.stem}.png"
        )
        assert code == 0, (mode, err)
        assert read_image(tmp_path / f"o_{src.stem}.png").rgb.shape == (24, 32, 3)


def test_one_pixel_and_full_hole(cli, tmp_path):
    Image.fromarray(np.full((1, 1, 3), 7, np.uint8)).save(tmp_path / "one.png")
    Image.fromarray(np.full((1, 1), 255, np.uint8)).save(tmp_path / "onem.png")
    code, _, err = cli(
        "run", "--model", "telea", "-i", tmp_path / "one.png", "-m", tmp_path / "onem.png", "-o", tmp_path / "o.png"
    )
    assert code == 0, err
    assert read_image(tmp_path / "o.png").rgb.shape == (1, 1, 3)


@pytest.mark.slow
def test_per_call_options_and_samples(cli, tmp_path):
    img = _write(tmp_path / "a.png", 40, 48)
    m = np.zeros((40, 48), np.uint8)
    m[10:24, 12:30] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    hole = m > 127
    # seed is a per-call option of patchmatch: --opt reaches inpaint(); --samples writes one file per seed
    code, _, err = cli(
        "run",
        "--model",
        "patchmatch",
        "-i",
        tmp_path / "a.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "o.png",
        "--samples",
        "3",
    )
    assert code == 0, err
    outs = [read_image(tmp_path / f"o_sample{k}.png").rgb for k in range(3)]
    assert all(np.array_equal(o[~hole], img[~hole]) for o in outs)
    code, _, err = cli(
        "run",
        "--model",
        "patchmatch",
        "-i",
        tmp_path / "a.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "s1.png",
        "--opt",
        "seed=1",
    )
    assert code == 0, err
    assert np.array_equal(read_image(tmp_path / "s1.png").rgb, outs[1])
    code, _, err = cli(
        "run",
        "--model",
        "telea",
        "-i",
        tmp_path / "a.png",
        "-m",
        tmp_path / "m.png",
        "-o",
        tmp_path / "t.png",
        "--caption",
        "a red kite",
    )
    assert code == 2 and "does not take a caption" in err
