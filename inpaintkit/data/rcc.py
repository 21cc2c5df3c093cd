"""A reader for Qt's binary resource archives (``.rcc``), enough to list and extract files.

GCompris ships its activity pictures (many of them real photographs, see ``photo_sources.tsv``) inside ``.rcc``
files. The format, as Qt's ``rcc`` writes it (``qtbase/src/tools/rcc/rcc.cpp``, read by ``qresource.cpp``):

- header: ``b"qres"``, then big-endian u32 ``version`` (1-3), ``tree_offset``, ``data_offset``, ``names_offset``,
  and from version 3 on a u32 of the compression flags used in the file;
- tree: fixed-size nodes (14 bytes, + 8 for a modification time from version 2), node 0 is the root. A node is
  u32 name offset, u16 flags (1 = zlib, 2 = directory, 4 = zstd), then for a directory u32 child count and u32 index
  of its first child, for a file u16 country, u16 language and u32 data offset;
- names: u16 length (UTF-16 code units), u32 hash, the name in UTF-16BE;
- data: u32 size then the bytes. zlib entries start with a big-endian u32 of the uncompressed size (qCompress),
  zstd entries are one zstd frame.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InpaintKitError

_ZLIB, _DIRECTORY, _ZSTD = 0x01, 0x02, 0x04


@dataclass(frozen=True)
class RccEntry:
    """One file in an archive: its path inside it (``a/b/c.webp``), flags and where its data starts."""

    path: str
    flags: int
    data_offset: int


class RccArchive:
    """An ``.rcc`` file opened for reading: ``paths()`` lists the files, ``read(path)`` returns one's bytes.

    Raises ``InpaintKitError`` naming the file when it is not a Qt resource archive or is truncated.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._buf = self.path.read_bytes()
        except OSError as e:
            raise InpaintKitError(f"cannot read {self.path}: {e.strerror or e}") from None
        if self._buf[:4] != b"qres" or len(self._buf) < 20:
            raise InpaintKitError(f"{self.path} is not a Qt resource archive (no 'qres' header)")
        self.version, self._tree, self._data, self._names = struct.unpack_from(">IIII", self._buf, 4)
        if self.version not in (1, 2, 3):
            raise InpaintKitError(f"{self.path}: unsupported Qt resource format version {self.version}")
        self._node_size = 14 if self.version == 1 else 22
        self._entries: dict[str, RccEntry] = {}
        self._walk(0, "", depth=0)

    def _unpack(self, fmt: str, offset: int) -> tuple:
        try:
            return struct.unpack_from(fmt, self._buf, offset)
        except struct.error:
            raise InpaintKitError(f"{self.path} is truncated or corrupt (read past its end at byte {offset})") from None

    def _name(self, offset: int) -> str:
        (n,) = self._unpack(">H", self._names + offset)
        start = self._names + offset + 6  # u16 length, u32 hash
        raw = self._buf[start : start + 2 * n]
        if len(raw) != 2 * n:
            raise InpaintKitError(f"{self.path} is truncated or corrupt (a name runs past its end)")
        return raw.decode("utf-16-be")

    def _walk(self, index: int, prefix: str, depth: int) -> None:
        if depth > 64:
            raise InpaintKitError(f"{self.path} is corrupt (directory tree deeper than 64 levels)")
        node = self._tree + index * self._node_size
        name_off, flags = self._unpack(">IH", node)
        name = "" if index == 0 else self._name(name_off)
        path = f"{prefix}/{name}" if prefix else name
        if flags & _DIRECTORY:
            count, first = self._unpack(">II", node + 6)
            for child in range(first, first + count):
                self._walk(child, path, depth + 1)
        else:
            (data_off,) = self._unpack(">I", node + 10)
            self._entries[path] = RccEntry(path, flags, data_off)

    def paths(self) -> list[str]:
        """Every file's path inside the archive, sorted."""
        return sorted(self._entries)

    def __contains__(self, path: str) -> bool:
        return path.lstrip("/") in self._entries

    def read(self, path: str) -> bytes:
        """The (decompressed) bytes of the file at ``path`` (``a/b.webp``; a leading ``/`` or ``:/`` is ignored)."""
        key = path.removeprefix(":").lstrip("/")
        entry = self._entries.get(key)
        if entry is None:
            raise InpaintKitError(f"{self.path}: no file {key!r} in the archive ({len(self._entries)} files)")
        start = self._data + entry.data_offset
        (size,) = self._unpack(">I", start)
        blob = self._buf[start + 4 : start + 4 + size]
        if len(blob) != size:
            raise InpaintKitError(f"{self.path}: {key} is truncated ({len(blob)} of {size} bytes)")
        try:
            if entry.flags & _ZSTD:
                import zstandard  # only archives with zstd entries need it

                return zstandard.ZstdDecompressor().decompress(blob, max_output_size=1 << 30)
            if entry.flags & _ZLIB:
                return zlib.decompress(blob[4:])  # qCompress: a u32 of the plain size, then a zlib stream
        except (zlib.error, ValueError, RuntimeError) as e:  # zstandard raises ZstdError (a RuntimeError)
            raise InpaintKitError(f"{self.path}: {key} does not decompress ({e})") from None
        return blob
