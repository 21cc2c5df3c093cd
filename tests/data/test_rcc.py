"""The Qt resource archive reader: nested paths, raw and zlib entries, versions, corrupt files as one-line errors."""

import pytest

from inpaintkit.data.rcc import RccArchive
from inpaintkit.errors import InpaintKitError

from .rcc_writer import write_rcc

FILES = {
    "gcompris/src/activities/a/resource/cat.webp": b"RIFF-cat-bytes" * 20,
    "gcompris/src/activities/a/resource/board/board1.qml": 'title: qsTr("Chat")'.encode(),
    "gcompris/src/activities/b/dog.jpg": bytes(range(256)),
    "top.txt": b"x",
}


@pytest.mark.parametrize("version", [1, 2, 3])
def test_lists_and_reads_every_file(tmp_path, version):
    p = tmp_path / "a.rcc"
    p.write_bytes(write_rcc(FILES, compress={"gcompris/src/activities/b/dog.jpg"}, version=version))
    arc = RccArchive(p)
    assert arc.version == version
    assert arc.paths() == sorted(FILES)
    for path, data in FILES.items():
        assert arc.read(path) == data
    assert arc.read(":/top.txt") == b"x" and "/top.txt" in arc  # Qt's ":/" resource prefix is accepted


def test_errors_are_one_line(tmp_path):
    p = tmp_path / "x.rcc"
    p.write_bytes(b"PK\x03\x04 not a resource archive at all")
    with pytest.raises(InpaintKitError, match="not a Qt resource archive"):
        RccArchive(p)
    good = write_rcc(FILES)
    p.write_bytes(good[: len(good) // 3])  # cut inside the tree / data
    with pytest.raises(InpaintKitError, match="truncated or corrupt"):
        RccArchive(p)
    p.write_bytes(good)
    with pytest.raises(InpaintKitError, match="no file 'nope.png'"):
        RccArchive(p).read("nope.png")
    with pytest.raises(InpaintKitError, match="cannot read"):
        RccArchive(tmp_path / "missing.rcc")
