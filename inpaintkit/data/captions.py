"""Caption files -> ``{image_key: [caption, ...]}``, and matching captions to image files.

Three layouts are read (``read_captions`` picks by what ``source`` is):

- a **CSV** (``.csv``) or **JSON Lines** (``.jsonl``) table of (image, caption) rows. A CSV has a header naming an
  image column (``image``, ``file``, ``file_name``, ``filename``, ``path``) and a ``caption`` (or ``text``) column,
  or no header and exactly two columns. A JSONL row is ``{"image": ..., "caption": "..." | [...]}``. An image on
  several rows collects all its captions.
- a **CUB-200-2011 style folder** (Reed et al. 2016's ``text_c10``): one ``.txt`` per image, one caption per
  non-empty line, in sub-folders mirroring the image folders (``001.Black_footed_Albatross/X_0046_18.txt``).
- a **COCO captions JSON** (``captions_train2017.json``): ``images`` (``id``, ``file_name``) and ``annotations``
  (``image_id``, ``caption``).

Keys are image paths as written in the source, in POSIX form, without extension: ``"birds/x.jpg"`` and
``"birds/x.png"`` both give ``"birds/x"``. ``match_captions`` pairs image files with keys: by path relative to the
images folder, else by file stem when that stem is unique among the keys.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path, PurePosixPath
from typing import Iterable

from ..errors import InpaintKitError

IMAGE_COLUMNS = ("image", "file", "file_name", "filename", "path", "image_path")
CAPTION_COLUMNS = ("caption", "text", "captions")


def caption_key(path: str | os.PathLike) -> str:
    """``"a/b/c.jpg"`` (or ``a\\b\\c.jpg``) -> ``"a/b/c"``: the key captions are stored under."""
    s = str(path).replace("\\", "/")
    while s.startswith("./"):
        s = s[2:]
    p = PurePosixPath(s)
    return str(p.with_suffix("")) if p.suffix else str(p)


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def _add(out: dict[str, list[str]], image: str, captions: Iterable[str]) -> None:
    for c in captions:
        c = _clean(c)
        if c:
            out.setdefault(caption_key(image), []).append(c)


def _read_csv(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InpaintKitError(f"{path}: empty caption table; expected rows of image,caption")
    header = [h.strip().lower() for h in rows[0]]
    img_col = next((header.index(c) for c in IMAGE_COLUMNS if c in header), None)
    cap_col = next((header.index(c) for c in CAPTION_COLUMNS if c in header), None)
    if img_col is not None and cap_col is not None:
        body = rows[1:]
    elif len(header) == 2 and img_col is None and cap_col is None:
        img_col, cap_col, body = 0, 1, rows  # headerless two-column table
    else:
        raise InpaintKitError(
            f"{path}: CSV header needs an image column ({'/'.join(IMAGE_COLUMNS)}) and a "
            f"caption column ({'/'.join(CAPTION_COLUMNS)}), got {', '.join(rows[0])}"
        )
    for i, row in enumerate(body, start=2 if body is not rows else 1):
        if len(row) <= max(img_col, cap_col) or not row[img_col].strip():
            raise InpaintKitError(f"{path}: line {i} has no image or no caption; expected image,caption")
        _add(out, row[img_col].strip(), [row[cap_col]])
    return out


def _read_jsonl(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InpaintKitError(f"{path}: line {i} is not valid JSON") from None
        if not isinstance(row, dict):
            raise InpaintKitError(f"{path}: line {i} must be an object with image and caption")
        image = next((row[c] for c in IMAGE_COLUMNS if c in row), None)
        caps = next((row[c] for c in CAPTION_COLUMNS if c in row), None)
        if not isinstance(image, str) or caps is None:
            raise InpaintKitError(f'{path}: line {i} needs an "image" and a "caption" key')
        _add(out, image, [caps] if isinstance(caps, str) else [str(c) for c in caps])
    return out


def _read_coco(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise InpaintKitError(f"{path}: not valid JSON") from None
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise InpaintKitError(
            f'{path}: not a COCO captions file (needs "images" and "annotations"); '
            "use .jsonl or .csv for (image, caption) tables"
        )
    names = {img["id"]: img["file_name"] for img in data["images"]}
    out: dict[str, list[str]] = {}
    for ann in data["annotations"]:
        name = names.get(ann.get("image_id"))
        if name is None:
            raise InpaintKitError(
                f'{path}: annotation {ann.get("id")} names image_id {ann.get("image_id")} that is not in "images"'
            )
        _add(out, name, [ann.get("caption", "")])
    return out


def _read_folder(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    files = sorted(p for p in path.rglob("*.txt") if not p.name.startswith("."))
    if not files:
        raise InpaintKitError(f"{path}: no .txt caption files in this folder (CUB style: one .txt per image)")
    for p in files:
        _add(out, p.relative_to(path).as_posix(), p.read_text(encoding="utf-8", errors="replace").splitlines())
    return out


def read_captions(source: str | os.PathLike) -> dict[str, list[str]]:
    """Read captions from a CSV/JSONL table, a COCO captions JSON or a CUB-style folder of ``.txt`` files.

    Returns ``{image_key: [caption, ...]}`` in source order; whitespace is collapsed and empty captions dropped.
    """
    path = Path(source)
    if not path.exists():
        raise InpaintKitError(f"{path}: no such caption file or folder")
    if path.is_dir():
        return _read_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".json":
        return _read_coco(path)
    raise InpaintKitError(
        f"{path}: unknown caption format {suffix or '(none)'!r}; use .csv, .jsonl, a COCO "
        "captions .json or a folder of .txt files"
    )


def match_captions(
    images: Iterable[str | os.PathLike], root: str | os.PathLike, captions: dict[str, list[str]]
) -> dict[str, list[str]]:
    """Captions for each image path: by its path relative to ``root`` (no extension), else by a unique stem.

    Images without captions are left out of the result.
    """
    by_stem: dict[str, list[str] | None] = {}
    for key, caps in captions.items():
        stem = PurePosixPath(key).name
        by_stem[stem] = None if stem in by_stem else caps  # None marks an ambiguous stem
    root = Path(root)
    out: dict[str, list[str]] = {}
    for img in images:
        p = Path(img)
        try:
            rel = caption_key(p.relative_to(root).as_posix())
        except ValueError:
            rel = caption_key(p.name)
        caps = captions.get(rel) or by_stem.get(p.stem)
        if caps:
            out[str(img)] = list(caps)
    return out
