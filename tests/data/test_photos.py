"""The photo corpus fetcher on a fake package tree (no network): extraction from plain files, .rcc archives and
installed PyPI packages, manifest, captions, duplicates, the fixed split, failures and re-runs."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from inpaintkit.data import photos
from inpaintkit.data.photos import Source, assign_splits, fetch_photos, load_sources
from inpaintkit.errors import InpaintKitError

from .rcc_writer import write_rcc

BOARD = """QtObject {
    property var tab: [
        {
            "image": "qrc:/gcompris/src/activities/explore/resource/key.svg",
            "title": qsTr("Giraffe"),
            "text": qsTr("The giraffe is the tallest animal, with a \\"long\\" neck."),
            "image2": "qrc:/gcompris/src/activities/explore/resource/giraffe.webp"
        },
        { "title": qsTr("Nothing"), "text": qsTr("no picture here") }
    ]
}"""


def _photo(seed: int, w: int = 300, h: int = 200) -> np.ndarray:
    """A distinct random photo-like picture (smooth random field: different seeds give different hashes)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 25 + 1, w // 25 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))


def _encode(arr: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def _fake_packages(root):
    """Files a `dpkg -x` of two packages would give: plain JPEGs (one a resized copy) and a GCompris .rcc."""
    d = root / "usr/share/backgrounds"
    d.mkdir(parents=True)
    (d / "big.jpg").write_bytes(_encode(_photo(1, 2000, 1500), "JPEG"))
    (d / "small_copy.jpg").write_bytes(
        _encode(np.asarray(Image.fromarray(_photo(1, 2000, 1500)).resize((400, 300))), "JPEG")
    )
    (d / "Kite.jpg").write_bytes(_encode(_photo(2), "JPEG"))
    rcc = root / "usr/share/gcompris-qt/rcc/explore.rcc"
    rcc.parent.mkdir(parents=True)
    rcc.write_bytes(
        write_rcc(
            {
                "gcompris/src/activities/explore/resource/giraffe.webp": _encode(_photo(3), "WEBP"),
                "gcompris/src/activities/explore/resource/tree.webp": _encode(_photo(4), "WEBP"),
                "gcompris/src/activities/explore/resource/board/board1.qml": BOARD.encode(),
            },
            compress={"gcompris/src/activities/explore/resource/board/board1.qml"},
        )
    )


SOURCES = [
    Source("deb", "walls", "1.0", "-", "usr/share/backgrounds/big.jpg", "CC0"),
    Source("deb", "walls", "1.0", "-", "usr/share/backgrounds/small_copy.jpg", "CC0"),
    Source("deb", "walls", "1.0", "-", "usr/share/backgrounds/Kite.jpg", "CC0"),
    Source(
        "deb-rcc",
        "gcompris",
        "3.1",
        "usr/share/gcompris-qt/rcc/explore.rcc",
        "gcompris/src/activities/explore/resource/giraffe.webp",
        "GPL-3+",
    ),
    Source(
        "deb-rcc",
        "gcompris",
        "3.1",
        "usr/share/gcompris-qt/rcc/explore.rcc",
        "gcompris/src/activities/explore/resource/tree.webp",
        "GPL-3+",
    ),
    Source("pypi", "scikit-learn", "any", "-", "sklearn/datasets/images/china.jpg", "CC-BY-2.0"),
]


class FakeApt:
    """Stands in for apt-get download + dpkg -x: unpacks the fake tree, or fails for the named packages."""

    def __init__(self, tree, broken=()):
        self.tree, self.broken, self.calls = tree, set(broken), []

    def __call__(self, package, version, dest):
        self.calls.append(package)
        if package in self.broken:
            raise InpaintKitError(f"apt-get download {package} failed (E: Unable to locate package {package})")
        import shutil

        shutil.copytree(self.tree, dest / "root")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    _fake_packages(root)
    return root


def _manifest(out):
    with open(out / "manifest.csv", newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def test_fetch_writes_photos_manifest_captions_and_drops_duplicates(tmp_path, tree):
    apt = FakeApt(tree)
    out = tmp_path / "corpus"
    res = fetch_photos(out, sources=SOURCES, max_side=512, downloader=apt, progress=False)
    assert res.failures == [] and sorted(apt.calls) == ["gcompris", "walls"]  # pypi rows need no download
    rows = _manifest(out)
    assert set(rows) == {"big", "Kite", "giraffe", "tree", "china"}
    assert res.duplicates == [("small_copy", "big")]  # a resized copy is the same picture
    with open(out / "duplicates.csv", newline="") as f:
        assert list(csv.DictReader(f)) == [{"id": "small_copy", "duplicate_of": "big"}]
    assert rows["Kite"]["split"] == "test"  # held out since the first release
    for pid, r in rows.items():
        img = Image.open(out / r["split"] / f"{pid}.png")
        assert img.mode == "RGB" and max(img.size) <= 512 and img.size == (int(r["width"]), int(r["height"]))
        assert len(r["sha256"]) == 64 and len(r["phash"]) == 16
    assert rows["big"]["width"] == "512" and rows["big"]["height"] == "384"  # long side limited, aspect kept
    assert rows["giraffe"]["title"] == "Giraffe"
    assert rows["giraffe"]["caption"] == 'Giraffe. The giraffe is the tallest animal, with a "long" neck.'
    assert rows["tree"]["caption"] == ""  # no board names it
    assert rows["giraffe"]["path"].startswith("usr/share/gcompris-qt/rcc/explore.rcc:gcompris/")
    assert rows["china"]["package"] == "scikit-learn" and rows["china"]["licence"] == "CC-BY-2.0"
    assert res.per_source == {"walls": 2, "gcompris": 2, "scikit-learn": 1}
    lines = [json.loads(x) for x in (out / "captions.jsonl").read_text().splitlines()]
    assert lines == [
        {
            "image": f"{rows['giraffe']['split']}/giraffe.png",
            "caption": ['Giraffe. The giraffe is the tallest animal, with a "long" neck.', "a giraffe"],
        }
    ]


def test_short_captions():
    assert photos.short_captions("Giraffe", "The giraffe is tall. It eats leaves.") == [
        "The giraffe is tall.",
        "a giraffe",
    ]
    assert photos.short_captions("Elephant", "") == ["an elephant"]
    assert photos.short_captions("Colosseum", "A big arena.", proper_name=True) == ["Colosseum"]


@pytest.mark.slow
def test_rerun_skips_what_is_there_and_full_size_keeps_size(tmp_path, tree):
    out = tmp_path / "corpus"
    fetch_photos(out, sources=SOURCES[:3], max_side=None, downloader=FakeApt(tree), progress=False)
    assert Image.open(out / _manifest(out)["big"]["split"] / "big.png").size == (2000, 1500)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    apt = FakeApt(tree)
    res = fetch_photos(out, sources=SOURCES[:3], max_side=None, downloader=apt, progress=False)
    assert apt.calls == []  # every photo (and the known duplicate) is there: nothing downloaded
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == before
    assert len(res.rows) == 2 and res.duplicates == [("small_copy", "big")]


def test_a_package_that_cannot_be_had_is_named_and_the_rest_lands(tmp_path, tree):
    out = tmp_path / "corpus"
    res = fetch_photos(out, sources=SOURCES, downloader=FakeApt(tree, broken={"gcompris"}), progress=False)
    assert len(res.failures) == 1 and "apt-get download gcompris failed" in res.failures[0]
    assert set(_manifest(out)) == {"big", "Kite", "china"}


def test_split_is_fixed_seeded_and_80_10_10():
    ids = [f"photo{i:03d}" for i in range(200)] + ["coffee", "chelsea"]
    a, b = assign_splits(ids), assign_splits(list(reversed(ids)))
    assert a == b  # depends on the set of ids, not their order
    counts = {s: sum(v == s for v in a.values()) for s in ("train", "val", "test")}
    assert counts == {"train": 162, "val": 20, "test": 20}
    assert a["coffee"] == a["chelsea"] == "test"
    other = assign_splits(ids, seed=1)
    assert other != a and sum(v == "train" for v in other.values()) == 162


def test_the_packaged_sources_list(tmp_path):
    rows = load_sources()
    assert len(rows) >= 210 and {r.kind for r in rows} == {"deb", "deb-rcc", "pypi"}
    assert all(r.licence for r in rows)
    ids = photos.unique_ids(rows)
    assert len(set(ids)) == len(ids)
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(InpaintKitError, match="not a photo sources TSV"):
        load_sources(bad)


def test_needs_apt_for_debian_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(photos.shutil, "which", lambda name: None)
    with pytest.raises(InpaintKitError, match="needs apt-get and dpkg"):
        fetch_photos(tmp_path / "out", sources=SOURCES[:1], progress=False)


def test_cli_fetch_photos_from_an_unpacked_tree(tmp_path, tree, cli):
    src = tmp_path / "sources.tsv"
    src.write_text(
        "kind\tpackage\tversion\tcontainer\tpath\tlicence\n"
        + "".join(f"{s.kind}\t{s.package}\t{s.version}\t{s.container}\t{s.path}\t{s.licence}\n" for s in SOURCES[:3])
    )
    code, stdout, err = cli("data", "fetch-photos", "--out", tmp_path / "c", "--unpacked", tree, "--sources", src)
    assert code == 0, err
    assert "2 photos" in stdout and "1 duplicates dropped" in stdout and "walls 2" in stdout
