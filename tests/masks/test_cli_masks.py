"""``inpaintkit masks``: files, manifest, determinism, protocols, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inpaintkit.io import read_mask
from inpaintkit.masks import create_mask_generator, mask_ratio


def _manifest(folder):
    return [json.loads(line) for line in (folder / "masks.jsonl").read_text().splitlines()]


def test_kind_writes_pngs_and_manifest(cli, tmp_path):
    out = tmp_path / "m"
    code, stdout, _ = cli(
        "masks",
        "--kind",
        "irregular",
        "--count",
        "6",
        "--size",
        "80x60",
        "--ratio",
        "0.1-0.2",
        "--seed",
        "3",
        "--output",
        out,
    )
    assert code == 0 and "wrote 6 irregular masks" in stdout
    rows = _manifest(out)
    assert [r["file"] for r in rows] == [f"{i:05d}.png" for i in range(6)]
    for r in rows:
        m = read_mask(out / r["file"])
        assert m.shape == (60, 80)
        assert 0.1 <= mask_ratio(m) < 0.2 and r["ratio"] == pytest.approx(mask_ratio(m), abs=1e-6)
        assert r["kind"] == "irregular" and r["bucket"] == "0.1-0.2" and r["params"]["ratio"] == [0.1, 0.2]
        # the manifest alone regenerates the mask
        regen = create_mask_generator(r["kind"], **r["params"])(r["seed"], (60, 80))
        np.testing.assert_array_equal(regen, m)
    assert not list(out.glob(".*tmp"))


def test_same_seed_same_files(cli, tmp_path):
    args = ["masks", "--kind", "lama-thick", "--count", "4", "--size", "64", "--seed", "1", "--output"]
    assert cli(*args, tmp_path / "a")[0] == 0
    assert cli(*args, tmp_path / "b")[0] == 0
    assert cli(*args[:-3], "--seed", "2", "--output", tmp_path / "c")[0] == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "masks.jsonl").read_bytes() != (tmp_path / "c" / "masks.jsonl").read_bytes()


def test_kind_options_via_opt(cli, tmp_path):
    code, _, _ = cli(
        "masks",
        "--kind",
        "square",
        "--opt",
        "side=32",
        "--opt",
        "reference=64",
        "--count",
        "2",
        "--size",
        "64",
        "--output",
        tmp_path,
    )
    assert code == 0
    assert all(read_mask(tmp_path / r["file"]).sum() == 32 * 32 for r in _manifest(tmp_path))


def test_protocol_writes_one_folder_per_bucket(cli, tmp_path):
    code, stdout, _ = cli(
        "masks", "--protocol", "pconv", "--size", "64", "--per-bucket", "2", "--seed", "0", "--output", tmp_path
    )
    assert code == 0 and "6 buckets x 2 masks" in stdout
    buckets = ["0.01-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5", "0.5-0.6"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == buckets
    rows = _manifest(tmp_path)
    assert len(rows) == 12
    for r in rows:
        lo, hi = (float(x) for x in r["bucket"].split("-"))
        assert r["file"].startswith(r["bucket"] + "/")
        assert lo <= mask_ratio(read_mask(tmp_path / r["file"])) < hi


@pytest.mark.parametrize(
    "args,message",
    [
        (["--kind", "nope"], "unknown mask kind 'nope'; choose from: boxes"),
        (["--kind", "irregular", "--protocol", "lama"], "exactly one of --kind"),
        ([], "exactly one of --kind"),
        (["--kind", "irregular", "--ratio", "0.5-0.2"], "need 0 <= LO < HI <= 1"),
        (["--kind", "irregular", "--size", "12y"], "--size '12y': expected S"),
        (["--kind", "irregular", "--count", "0"], "--count 0: must be at least 1"),
        (["--protocol", "pconv", "--ratio", "0.1-0.2"], "--ratio applies to --kind only"),
        (["--protocol", "pconv", "--count", "3"], "--count applies to --kind only"),
        (["--kind", "boxes", "--per-bucket", "3"], "--per-bucket applies to --protocol only"),
        (["--protocol", "celeba"], "unknown mask protocol 'celeba'"),
        (["--kind", "irregular", "--opt", "foo=1"], "unknown option(s) foo"),
        (["--kind", "file"], "give root=FOLDER"),
    ],
)
def test_bad_flags_are_one_line_errors(cli, tmp_path, args, message):
    code, _, err = cli("masks", *args, "--output", tmp_path / "out")
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out" / "masks.jsonl").exists()


def test_output_that_is_a_file_is_refused(cli, tmp_path):
    f = tmp_path / "x.png"
    f.write_bytes(b"")
    code, _, err = cli("masks", "--kind", "center", "--output", f)
    assert code == 2 and "is a file" in err
