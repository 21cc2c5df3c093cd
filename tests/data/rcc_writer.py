"""A tiny Qt resource archive (.rcc) writer for tests: the same layout Qt's rcc tool writes (version 3)."""

from __future__ import annotations

import struct
import zlib


def write_rcc(files: dict[str, bytes], compress: set[str] = frozenset(), version: int = 3) -> bytes:
    """Bytes of an .rcc holding ``files`` (``"a/b/c.webp": data``); paths in ``compress`` are stored zlib-compressed
    (qCompress: big-endian plain size, then the zlib stream)."""
    tree: dict = {}
    for path, data in files.items():
        node = tree
        *dirs, name = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[name] = (path, data)

    names, name_off = bytearray(), {}
    data_blob, nodes = bytearray(), []

    def name_offset(n: str) -> int:
        if n not in name_off:
            name_off[n] = len(names)
            enc = n.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(n), 0) + enc)
        return name_off[n]

    # breadth first: a directory's children are contiguous, as Qt lays them out
    nodes.append(["", tree])
    i = 0
    layout: list[tuple] = []
    while i < len(nodes):
        name, content = nodes[i]
        if isinstance(content, dict):
            first = len(nodes)
            for child in sorted(content):
                nodes.append([child, content[child]])
            layout.append(("dir", name, len(content), first))
        else:
            path, data = content
            flags = 0
            if path in compress:
                data = struct.pack(">I", len(data)) + zlib.compress(data)
                flags = 1
            off = len(data_blob)
            data_blob.extend(struct.pack(">I", len(data)) + data)
            layout.append(("file", name, flags, off))
        i += 1
    node_size = 14 if version == 1 else 22
    tree_bytes = bytearray()
    for kind, name, a, b in layout:
        noff = name_offset(name) if name else 0
        if kind == "dir":
            tree_bytes += struct.pack(">IHII", noff, 2, a, b)
        else:
            tree_bytes += struct.pack(">IHHHI", noff, a, 0, 0, b)
        if node_size == 22:
            tree_bytes += b"\0" * 8
    header_len = 24 if version >= 3 else 20
    tree_off = header_len
    data_off = tree_off + len(tree_bytes)
    names_off = data_off + len(data_blob)
    header = b"qres" + struct.pack(">IIII", version, tree_off, data_off, names_off)
    if version >= 3:
        header += struct.pack(">I", 1 if compress else 0)
    return bytes(header + tree_bytes + data_blob + names)
