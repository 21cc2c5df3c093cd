"""The photo corpus: ~220 real photographs from Debian and PyPI packages, with provenance, captions and one split.

``photo_sources.tsv`` (beside this file) is the only list of sources cleared for training and quality claims:
one row per photograph, verified by eye as a real camera photo, with its package, version, path and licence.
Kinds of row:

- ``deb``: a file inside a Debian package (``apt-get download`` + ``dpkg -x``);
- ``deb-rcc``: a file inside a Qt resource archive (``container``, an ``.rcc`` under ``usr/share/gcompris-qt/rcc``)
  inside a Debian package, read with ``inpaintkit.data.rcc``;
- ``pypi``: a file inside an installed Python package, its path relative to site-packages.

``fetch_photos(out)`` writes every photo once, as PNG, at most ``max_side`` px on its long side, into
``OUT/{train,val,test}/<id>.png`` plus ``OUT/manifest.csv`` (``MANIFEST_FIELDS``). Exact and near duplicates
(same 64-bit DCT perceptual hash within ``NEAR_DUPLICATE_BITS``) are dropped, the first listed kept. The split is
by photo, fixed and seeded (``assign_splits``: ids ranked by a hash of seed and id, cut 80/10/10); the five photos
held out in earlier releases (``FORCED_TEST``) are always in test. Dropped duplicates are listed in
``OUT/duplicates.csv``; ``OUT/captions.jsonl`` holds the captioned photos' captions (as written, plus short ones
derived from them) for ``inpaintkit prepare --captions``. Captions come from the GCompris
"explore" activities' boards (title + description of each animal or monument).

Re-running skips photos already written and does not download a package whose photos are all there. A package
that cannot be downloaded or unpacked is reported in one line, and the rest still lands.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import InpaintKitError

SOURCES_TSV = Path(__file__).with_name("photo_sources.tsv")
MANIFEST_FIELDS = (
    "id",
    "package",
    "version",
    "path",
    "licence",
    "width",
    "height",
    "sha256",
    "split",
    "title",
    "caption",
    "phash",
)
SPLITS = ("train", "val", "test")
#: Held out since the first release (validated on, never trained on): stay in test so old figures stay comparable.
FORCED_TEST = ("ColdRipple", "BytheWater", "Kite", "coffee", "chelsea")
#: Two photos whose perceptual hashes differ in at most this many of 64 bits are the same picture. Measured on the
#: corpus: one photo shipped twice in GCompris, cropped differently (Neuschwanstein), is 10 bits apart; the closest
#: two different photos are 16.
NEAR_DUPLICATE_BITS = 12


@dataclass(frozen=True)
class Source:
    """One row of ``photo_sources.tsv``."""

    kind: str  # deb | deb-rcc | pypi
    package: str
    version: str
    container: str  # the .rcc inside the package for deb-rcc, else "-"
    path: str
    licence: str

    @property
    def id(self) -> str:
        """A stable, file-name-safe id: the file's stem (its wallpaper folder for KDE's ``contents/images``)."""
        p = Path(self.path)
        stem = p.parts[-4] if p.parent.name == "images" and p.parent.parent.name == "contents" else p.stem
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)


def load_sources(path: str | Path = SOURCES_TSV) -> list[Source]:
    """The rows of a sources TSV (header ``kind package version container path licence``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise InpaintKitError(f"cannot read the photo sources {p}: {e.strerror or e}") from None
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    need = {"kind", "package", "version", "container", "path", "licence"}
    if not rows or not need <= set(rows[0]):
        raise InpaintKitError(f"{p}: not a photo sources TSV (columns {', '.join(sorted(need))})")
    out = [Source(**{k: r[k].strip() for k in need}) for r in rows]
    bad = [s for s in out if s.kind not in ("deb", "deb-rcc", "pypi")]
    if bad:
        raise InpaintKitError(f"{p}: unknown kind {bad[0].kind!r} (deb, deb-rcc or pypi)")
    return out


def unique_ids(sources: Iterable[Source]) -> list[str]:
    """``Source.id`` made unique in list order (a repeated stem gets its package's name in front)."""
    seen: set[str] = set()
    ids = []
    for s in sources:
        i = s.id
        if i in seen:
            i = f"{s.package}-{i}"
        while i in seen:
            i += "_"
        seen.add(i)
        ids.append(i)
    return ids


def assign_splits(ids: Iterable[str], seed: int = 0, fractions: tuple[float, float] = (0.8, 0.1)) -> dict[str, str]:
    """The split of each photo: ids ranked by a hash of (seed, id); the first 80 % train, the next 10 % val, the rest
    test (``FORCED_TEST`` ids always test, counted in the test share). Depends only on the set of ids and the seed."""
    ids = list(dict.fromkeys(ids))
    n = len(ids)
    n_train, n_val = round(fractions[0] * n), round(fractions[1] * n)
    free = sorted(
        (i for i in ids if i not in FORCED_TEST), key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest()
    )
    out = {i: "test" for i in ids if i in FORCED_TEST}
    for rank, i in enumerate(free):
        out[i] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return out


def phash(image: np.ndarray) -> int:
    """64-bit DCT perceptual hash (the low 8×8 frequencies of a 32×32 grey thumbnail against their median)."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])  # the DC term would dominate the median
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def decode_photo(data: bytes, what: str, max_side: int | None) -> np.ndarray:
    """RGB uint8 (H, W, 3) from encoded bytes, EXIF orientation applied, long side at most ``max_side``."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im = ImageOps.exif_transpose(im)
            im = im.convert("RGB")
            if max_side and max(im.size) > max_side:
                scale = max_side / max(im.size)
                im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
            return np.asarray(im).copy()
    except Exception as e:  # noqa: BLE001 - any decoder failure is this file's fault
        raise InpaintKitError(f"{what}: cannot decode ({type(e).__name__}: {e})") from None


# ---------------------------------------------------------------------------------------------------- captions

_OBJECT = re.compile(r"\{[^{}]*\}", re.S)
_QSTR = r'"{key}"\s*:\s*qsTr\("((?:[^"\\]|\\.)*)"\)'


def board_captions(qml_texts: Iterable[str]) -> dict[str, tuple[str, str]]:
    """``{resource file name: (title, description)}`` from GCompris board files.

    Each board lists objects ``{"title": qsTr("..."), "text": qsTr("..."), "image2": "qrc:/.../x.webp", ...}``
    (the explore activities); an object naming a picture (any ``"image*"`` key) captions that picture.
    """
    out: dict[str, tuple[str, str]] = {}
    for text in qml_texts:
        for obj in _OBJECT.findall(text):
            title = re.search(_QSTR.format(key="title"), obj)
            desc = re.search(_QSTR.format(key="text"), obj)
            if not title and not desc:
                continue
            for img in re.findall(r'"image\w*"\s*:\s*"qrc:/[^"]*?([^/"]+\.(?:webp|jpg|jpeg|png))"', obj):
                t = title.group(1) if title else ""
                d = desc.group(1) if desc else ""
                out.setdefault(img, (t.replace('\\"', '"'), d.replace('\\"', '"')))
    return out


def short_captions(title: str, description: str, proper_name: bool = False) -> list[str]:
    """Short captions derived from a board's title and description: the first sentence of the description, and the
    title as a noun phrase (``"Giraffe"`` -> ``"a giraffe"``; a ``proper_name`` such as a monument's stays as
    written: ``"Colosseum"``)."""
    out = []
    first = re.split(r"(?<=[.!?])\s+", description.strip(), maxsplit=1)[0] if description.strip() else ""
    if first and first != description.strip():
        out.append(first)
    t = title.strip().rstrip(".")
    if t:
        common = not proper_name and len(t.split()) <= 3 and t[1:] == t[1:].lower()  # "Giraffe", "Polar bear"
        out.append(("an " if t[:1].lower() in "aeiou" else "a ") + t.lower() if common else t)
    return out


def caption_text(title: str, description: str) -> str:
    """One caption from a board's title and description: ``"Giraffe. The giraffe is ..."``."""
    title, description = title.strip(), description.strip()
    if title and description:
        return f"{title.rstrip('.')}. {description}"
    return title or description


# ---------------------------------------------------------------------------------------------------- reading


def _pypi_root() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _read_sources(sources: list[Source], root: Path) -> Iterable[tuple[Source, bytes, str, str]]:
    """(source, bytes, title, description) for each source found under an unpacked tree ``root``."""
    from .rcc import RccArchive

    archives: dict[str, RccArchive] = {}
    captions: dict[str, dict[str, tuple[str, str]]] = {}
    for s in sources:
        if s.kind == "pypi":
            f = _pypi_root() / s.path
            yield s, f.read_bytes(), "", ""
        elif s.kind == "deb":
            yield s, (root / s.path).read_bytes(), "", ""
        else:
            if s.container not in archives:
                arc = RccArchive(root / s.container)
                archives[s.container] = arc
                qml = [arc.read(p).decode("utf-8", "replace") for p in arc.paths() if p.endswith(".qml")]
                captions[s.container] = board_captions(qml)
            title, desc = captions[s.container].get(Path(s.path).name, ("", ""))
            yield s, archives[s.container].read(s.path), title, desc


def _download(package: str, version: str, dest: Path) -> None:
    """``apt-get download package[=version]`` into dest and ``dpkg -x`` it into ``dest/root``."""
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    specs = [f"{package}={version}", package] if version not in ("", "any", "-") else [package]
    err = ""
    for spec in specs:
        r = subprocess.run(["apt-get", "download", spec], cwd=debs, capture_output=True, text=True)
        if r.returncode == 0:
            break
        err = " ".join((r.stderr or r.stdout).split())[-200:]
    else:
        raise InpaintKitError(f"apt-get download {package} failed ({err}); run `apt-get update` or check the network")
    for deb in sorted(debs.glob(f"{package}_*.deb")):
        r = subprocess.run(["dpkg", "-x", str(deb), str(dest / "root")], capture_output=True, text=True)
        if r.returncode != 0:
            raise InpaintKitError(f"dpkg -x {deb.name} failed ({' '.join(r.stderr.split())[-200:]})")


def _read_csv(p: Path) -> list[dict[str, str]]:
    if not p.is_file():
        return []
    with p.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_manifest(root: str | Path) -> list[dict[str, str]]:
    """The rows of ``ROOT/manifest.csv`` (empty if there is none)."""
    return _read_csv(Path(root) / "manifest.csv")


def corpus_paths(root: str | Path, split: str) -> list[Path]:
    """The image files of one split of a corpus written by ``fetch_photos``, in manifest order."""
    if split not in SPLITS:
        raise InpaintKitError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    rows = read_manifest(root)
    if not rows:
        raise InpaintKitError(f"{root}: no manifest.csv; run `inpaintkit data fetch-photos --out {root}` first")
    return [Path(root) / r["split"] / f"{r['id']}.png" for r in rows if r["split"] == split]


def _write_csv(path: Path, fields: Iterable[str], rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


@dataclass
class FetchResult:
    rows: list[dict]  # the manifest's rows
    duplicates: list[tuple[str, str]]  # (dropped id, kept id), also in OUT/duplicates.csv
    failures: list[str]  # one line per package or photo that could not be had
    per_source: dict[str, int]  # photos written per package


def fetch_photos(
    out: str | Path,
    *,
    sources: list[Source] | None = None,
    max_side: int | None = 1024,
    seed: int = 0,
    unpacked_root: str | Path | None = None,
    downloader: Callable[[str, str, Path], None] = _download,
    progress: bool = True,
) -> FetchResult:
    """Write the corpus into ``out`` (see the module docstring).

    Args:
        sources: rows to fetch (default: ``photo_sources.tsv``).
        max_side: long-side limit in px; ``None`` keeps full size.
        seed: the split's seed.
        unpacked_root: a tree that already holds the packages' files (``dpkg -x`` output); then nothing is downloaded.
        downloader: ``(package, version, dest)`` fetching and unpacking one package into ``dest/root`` (tests pass a
            fake one; the default runs ``apt-get download`` and ``dpkg -x``).
    """
    from tqdm import tqdm

    out = Path(out)
    sources = load_sources() if sources is None else sources
    if (
        unpacked_root is None
        and any(s.kind != "pypi" for s in sources)
        and downloader is _download
        and (shutil.which("apt-get") is None or shutil.which("dpkg") is None)
    ):
        raise InpaintKitError(
            "fetch-photos needs apt-get and dpkg (a Debian/Ubuntu system) for the Debian packages; "
            "elsewhere unpack them by hand and pass --unpacked ROOT"
        )
    for sub in SPLITS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    ids = unique_ids(sources)
    splits = assign_splits(ids, seed)
    old = {r["id"]: r for r in read_manifest(out)}
    done = {i for i, r in old.items() if (out / r["split"] / f"{i}.png").is_file()}
    dropped_before = {r["id"]: r["duplicate_of"] for r in _read_csv(out / "duplicates.csv")}

    result = FetchResult(rows=[], duplicates=[], failures=[], per_source={})
    by_pkg: dict[str, list[int]] = {}
    for k, s in enumerate(sources):
        by_pkg.setdefault(s.package, []).append(k)
    hashes: list[tuple[int, str]] = [(int(old[i]["phash"], 16), i) for i in ids if i in done]
    rows: dict[str, dict] = {i: old[i] for i in ids if i in done}
    bar = tqdm(total=len(sources), desc="photos", unit="photo", disable=not progress)
    bar.update(sum(i in done or i in dropped_before for i in ids))
    with tempfile.TemporaryDirectory(prefix="inpaintkit-photos-") as tmp:
        for pkg, ks in by_pkg.items():
            todo = [k for k in ks if ids[k] not in done and ids[k] not in dropped_before]
            if not todo:
                continue
            root = Path(unpacked_root) if unpacked_root is not None else Path(tmp) / pkg / "root"
            if unpacked_root is None and sources[todo[0]].kind != "pypi":
                try:
                    downloader(pkg, sources[todo[0]].version, Path(tmp) / pkg)
                except InpaintKitError as e:
                    result.failures.append(str(e))
                    bar.update(len(todo))
                    continue
            try:
                items = list(_read_sources([sources[k] for k in todo], root))
            except (OSError, InpaintKitError) as e:
                msg = e.strerror if isinstance(e, OSError) else str(e)
                result.failures.append(f"{pkg}: {msg} ({getattr(e, 'filename', '') or ''})".replace(" ()", ""))
                bar.update(len(todo))
                continue
            for k, (s, data, title, desc) in zip(todo, items):
                pid = ids[k]
                bar.update(1)
                try:
                    img = decode_photo(data, f"{pkg}:{s.path}", max_side)
                except InpaintKitError as e:
                    result.failures.append(str(e))
                    continue
                h = phash(img)
                twin = next((j for hj, j in hashes if hamming(h, hj) <= NEAR_DUPLICATE_BITS), None)
                row = {
                    "id": pid,
                    "package": s.package,
                    "version": s.version,
                    "path": s.path if s.kind != "deb-rcc" else f"{s.container}:{s.path}",
                    "licence": s.licence,
                    "width": img.shape[1],
                    "height": img.shape[0],
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "split": splits[pid],
                    "title": title,
                    "caption": caption_text(title, desc),
                    "phash": f"{h:016x}",
                }
                if twin is not None:
                    dropped_before[pid] = twin
                    continue
                hashes.append((h, pid))
                dst = out / row["split"] / f"{pid}.png"
                tmp_png = dst.with_name(f".{pid}.tmp{os.getpid()}.png")
                Image.fromarray(img).save(tmp_png, compress_level=6)
                os.replace(tmp_png, dst)
                rows[pid] = row
    bar.close()
    result.rows = [rows[i] for i in ids if i in rows]
    result.duplicates = [(i, dropped_before[i]) for i in ids if i in dropped_before]
    _write_csv(out / "manifest.csv", MANIFEST_FIELDS, result.rows)
    _write_csv(
        out / "duplicates.csv", ("id", "duplicate_of"), [{"id": i, "duplicate_of": j} for i, j in result.duplicates]
    )
    # captions for text-guided training (``inpaintkit prepare --captions``): as written, then the short ones
    lines = [
        json.dumps(
            {
                "image": f"{r['split']}/{r['id']}.png",
                "caption": [
                    r["caption"],
                    *short_captions(r["title"], r["caption"].split(". ", 1)[-1], proper_name="monuments" in r["path"]),
                ],
            }
        )
        for r in result.rows
        if r["caption"]
    ]
    tmp = out / f".captions.jsonl.tmp{os.getpid()}"
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, out / "captions.jsonl")
    for r in result.rows:
        result.per_source[r["package"]] = result.per_source.get(r["package"], 0) + 1
    return result
