"""Regression tests for issue 19 at the CLI: filesystem errors, silent loss, flag edges, one exit-code rule."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inpaintkit.errors import InpaintKitError
from inpaintkit.io import atomic_write_bytes, write_image


def _pair(folder, name="a.png", h=20, w=24):
    folder.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(img).save(folder / name)
    m = np.zeros((h, w), np.uint8)
    m[5:10, 5:12] = 255
    Image.fromarray(m).save(folder / "mask.png")
    return folder / name, folder / "mask.png"


def _one_error_line(err: str) -> bool:
    """No traceback; every error is one ``error: ...`` line (progress-bar redraws aside)."""
    lines = [ln.split("\r")[-1] for ln in err.strip().splitlines()]
    return "Traceback" not in err and all(ln.startswith("error: ") for ln in lines if "error" in ln)


def test_same_stem_inputs_get_distinct_outputs(cli, tmp_path):
    """x.png + x.jpg reported '2 of 2 written' and left one x.png (issue 19.7)."""
    _, mask = _pair(tmp_path / "in", "x.png")
    Image.open(tmp_path / "in" / "x.png").save(tmp_path / "in" / "x.jpg")
    (tmp_path / "in" / "mask.png").rename(tmp_path / "mask.png")
    code, out, _ = cli(
        "run", "--model", "telea", "-i", tmp_path / "in", "-m", tmp_path / "mask.png", "-o", tmp_path / "out"
    )
    assert code == 0 and "2 of 2 images written" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x_jpg.png", "x_png.png"]


def test_unwritable_outputs_are_one_line_each_and_the_batch_goes_on(cli, tmp_path):
    """Unwritable outputs (read-only folder, /proc, ...) were tracebacks that ended the batch (issue 19.6)."""
    img, mask = _pair(tmp_path / "in")
    code, _, err = cli("run", "--model", "telea", "-i", img, "-m", mask, "-o", "/proc/inpaintkit-test/x.png")
    assert code == 2 and _one_error_line(err) and "/proc/inpaintkit-test/x.png: cannot write" in err
    Image.open(img).save(tmp_path / "in" / "b.png")
    (tmp_path / "out" / "a.png").mkdir(parents=True)  # a folder where a.png's output goes: that write fails
    code, out, err = cli("run", "--model", "telea", "-i", tmp_path / "in", "-m", mask, "-o", tmp_path / "out")
    assert code == 1 and "2 of 3 images written" in out and "a.png: is a folder" in err and _one_error_line(err)
    assert (tmp_path / "out" / "b.png").is_file()


def test_output_under_a_file_and_long_names(cli, tmp_path):
    img, mask = _pair(tmp_path / "in")
    code, _, err = cli("run", "--model", "telea", "-i", img, "-m", mask, "-o", img / "x.png")
    assert code == 2 and _one_error_line(err) and "is a file, not a folder" in err
    long = tmp_path / ("n" * 250 + ".png")  # legal; the old temp name '.<name>.<pid>.tmp' passed 255 characters
    code, _, err = cli("run", "--model", "telea", "-i", img, "-m", mask, "-o", long)
    assert code == 0 and long.is_file() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_write_errors_are_inpaintkit_errors(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    for args, msg in [
        ((tmp_path / "a\0.png", rgb), "NUL"),
        ((tmp_path / "a.png", rgb, np.zeros((3, 3), np.uint8)), "alpha must be"),
        ((tmp_path / "a.png", rgb.astype(float)), "must be uint8"),
        ((tmp_path, rgb), "extension"),
    ]:
        with pytest.raises(InpaintKitError, match=msg):
            write_image(*args)
    with pytest.raises(InpaintKitError, match="is a folder"):
        atomic_write_bytes(tmp_path, b"x")


def test_flag_edges_are_one_line_errors(cli, tmp_path):
    """--opt 'radius={' was a YAML traceback, -i '' processed the current folder, --ext was checked per file,
    --hd-strategy Crop was refused (issue 19.8)."""
    img, mask = _pair(tmp_path / "in")
    out = tmp_path / "o.png"
    cases = [(["--opt", "radius={"], "not valid YAML"), (["--ext", "xyz"], "--ext 'xyz'")]
    for extra, msg in cases:
        code, _, err = cli("run", "--model", "telea", "-i", img, "-m", mask, "-o", out, *extra)
        assert code == 2 and _one_error_line(err) and msg in err, (extra, err)
    code, _, err = cli("run", "--model", "telea", "-i", "", "-m", mask, "-o", tmp_path / "o")
    assert code == 2 and "--image is empty" in err and not (tmp_path / "o").exists()
    code, _, err = cli("run", "--model", "telea", "-i", img, "-m", mask, "-o", out, "--max-pixels", "-5")
    assert code == 2 and "--max-pixels" in err
    code, _, _ = cli("run", "--model", "telea", "-i", img, "-m", mask, "-o", out, "--hd-strategy", "Crop")
    assert code == 0 and out.is_file()


def test_exit_code_rule(cli, tmp_path):
    """0 all written; 1 some inputs failed, the rest written; 2 nothing written (README said 2, code gave 1)."""
    img, mask = _pair(tmp_path / "in")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "b.png").write_bytes(b"junk")
    code, _, err = cli(
        "run", "--model", "telea", "-i", tmp_path / "bad" / "b.png", "-m", mask, "-o", tmp_path / "o.png"
    )
    assert code == 2 and _one_error_line(err)
    code, _, _ = cli("run", "--model", "telea", "-i", tmp_path / "bad", "-m", mask, "-o", tmp_path / "o1")
    assert code == 2
    (tmp_path / "bad" / "a.png").write_bytes(img.read_bytes())
    code, out, _ = cli("run", "--model", "telea", "-i", tmp_path / "bad", "-m", mask, "-o", tmp_path / "o2")
    assert code == 1 and "1 of 2 images written" in out


def test_memory_budget_flag(cli, tmp_path):
    img, mask = _pair(tmp_path / "in")
    code, _, err = cli(
        "run", "--model", "telea", "-i", img, "-m", mask, "-o", tmp_path / "o.png", "--memory-budget-gb", "-1"
    )
    assert code == 2 and "--memory-budget-gb must be >= 0" in err
    code, _, err = cli(
        "run", "--model", "telea", "-i", img, "-m", mask, "-o", tmp_path / "o.png", "--memory-budget-gb", "0.000001"
    )  # 1 kB: not even the image's copies fit
    assert code == 2 and "memory budget" in err
    code, _, _ = cli(
        "run", "--model", "telea", "-i", img, "-m", mask, "-o", tmp_path / "o.png", "--memory-budget-gb", "0"
    )
    assert code == 0 and (tmp_path / "o.png").is_file()
