"""Seeded fuzzing of inpaintkit's three front doors: the Python API, the CLI and the HTTP server.

    .venv/bin/python benchmarks/fuzz.py                                   # 5000 API, 300 CLI, 1000 server requests
    .venv/bin/python benchmarks/fuzz.py --api 1000 --cli 100 --server 300 --seed 3 --adversarial 2

Inputs mix good and bad: corrupt / truncated / bit-flipped files of every format Pillow reads here, decompression
bombs, odd modes (1-bit, 16-bit, CMYK, palette + transparency, LA / RGBA, EXIF-rotated, animated), tiny and larger
sizes, mismatched masks, odd arrays (float, 4-D, empty, read-only, Fortran-ordered, 0/1 uint8 masks), odd HD
options and memory budgets, and filesystem failures (outputs under a file, in /proc, long names, same-stem inputs).
Every case is checked, and the counts are what the test suite (tests/test_fuzz.py) asserts to be zero:

- ``tracebacks``: an exception other than ``InpaintKitError`` (API), a traceback or crash (CLI);
- ``hangs``: a case past its time limit;
- ``http_5xx``: a server answer >= 500, or a failed connection;
- ``inputs_modified``: an input array or file that changed;
- ``outputs_lost``: a success whose output is missing, of the wrong size, or whose known pixels changed, and
  batch outputs that overwrote each other.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import struct
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from inpaintkit.errors import InpaintKitError  # noqa: E402
from inpaintkit.inpainters import create_inpainter  # noqa: E402
from inpaintkit.inpainters.base import as_mask  # noqa: E402
from inpaintkit.io import read_image, read_mask  # noqa: E402

MAX_PIXELS = 2_000_000  # fuzz inputs above this are refused (keeps a run's memory small)


@dataclass
class Counts:
    cases: int = 0
    ok: int = 0
    user_errors: int = 0
    tracebacks: int = 0
    hangs: int = 0
    http_5xx: int = 0
    inputs_modified: int = 0
    outputs_lost: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # server: good small requests only

    def bad(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 20:
            self.examples.append(f"{kind}: {what}")

    @property
    def failures(self) -> int:
        return self.tracebacks + self.hangs + self.http_5xx + self.inputs_modified + self.outputs_lost

    def line(self, name: str) -> str:
        s = (
            f"{name}: {self.cases} cases in {self.seconds:.1f} s ({self.ok} filled, {self.user_errors} one-line "
            f"errors) | tracebacks {self.tracebacks}, hangs {self.hangs}, 5xx {self.http_5xx}, inputs modified "
            f"{self.inputs_modified}, outputs lost {self.outputs_lost}"
        )
        if self.latencies:
            lat = np.sort(self.latencies)
            s += f" | good small requests p50 {np.percentile(lat, 50):.2f} s, p95 {np.percentile(lat, 95):.2f} s"
        return s


# -- the corpus: encoded files, good and bad -------------------------------------------------------------------------
def _smooth(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    a, b, c = rng.uniform(0.5, 4, 3)
    img = np.dstack([x * a, y * b, (x + y) * c]) + rng.normal(0, 8, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


SIZES = [(1, 1), (2, 3), (5, 7), (8, 8), (9, 9), (16, 16), (17, 33), (48, 64), (64, 64), (96, 128)]
MODES = [
    "png-rgb",
    "png-l",
    "png-1",
    "png-i16",
    "png-p",
    "png-p-trns",
    "png-la",
    "png-rgba",
    "jpeg",
    "jpeg-l",
    "jpeg-cmyk",
    "jpeg-exif6",
    "bmp",
    "tiff",
    "tiff-cmyk",
    "tiff-i16",
    "webp",
    "gif",
    "gif-anim",
    "apng",
    "ppm",
]
EXT = {
    "png": ".png",
    "jpeg": ".jpg",
    "bmp": ".bmp",
    "tiff": ".tif",
    "webp": ".webp",
    "gif": ".gif",
    "apng": ".png",
    "ppm": ".ppm",
}


def encode(arr: np.ndarray, mode: str) -> bytes:
    """An RGB array in one of ``MODES``."""
    im = Image.fromarray(arr)
    buf = io.BytesIO()
    fmt = mode.split("-")[0]
    if mode == "png-l":
        im.convert("L").save(buf, "PNG")
    elif mode == "png-1":
        im.convert("1").save(buf, "PNG")
    elif mode in ("png-i16", "tiff-i16"):
        Image.fromarray(arr[..., 0].astype(np.uint16) * 257).save(buf, "PNG" if fmt == "png" else "TIFF")
    elif mode == "png-p":
        im.convert("P").save(buf, "PNG")
    elif mode == "png-p-trns":
        im.convert("P").save(buf, "PNG", transparency=0)
    elif mode == "png-la":
        im.convert("LA").save(buf, "PNG")
    elif mode == "png-rgba":
        Image.fromarray(np.dstack([arr, arr[..., 0]])).save(buf, "PNG")
    elif mode == "jpeg-l":
        im.convert("L").save(buf, "JPEG")
    elif mode in ("jpeg-cmyk", "tiff-cmyk"):
        im.convert("CMYK").save(buf, "JPEG" if fmt == "jpeg" else "TIFF")
    elif mode == "jpeg-exif6":
        exif = Image.Exif()
        exif[0x0112] = 6
        im.save(buf, "JPEG", exif=exif)
    elif mode == "gif-anim":
        im.save(buf, "GIF", save_all=True, append_images=[Image.fromarray(255 - arr)], duration=50)
    elif mode == "apng":
        im.save(buf, "PNG", save_all=True, append_images=[Image.fromarray(255 - arr)])
    elif fmt == "png":
        im.save(buf, "PNG")
    else:
        im.save(buf, {"jpeg": "JPEG", "bmp": "BMP", "tiff": "TIFF", "webp": "WEBP", "gif": "GIF", "ppm": "PPM"}[fmt])
    return buf.getvalue()


def png_bomb(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w x h pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = zlib.compress(b"\x00" * 64, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def corrupt(data: bytes, rng: np.random.Generator) -> bytes:
    kind = rng.integers(6)
    if kind == 0:
        return data[: int(rng.integers(0, max(1, len(data))))]  # truncated
    if kind == 1:
        b = bytearray(data)
        for _ in range(int(rng.integers(1, 8))):
            i = int(rng.integers(len(b)))
            b[i] ^= 1 << int(rng.integers(8))  # bit flips
        return bytes(b)
    if kind == 2:
        return b""
    if kind == 3:
        return rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8).tobytes()  # garbage
    if kind == 4:
        return data[:16]  # a header only
    return png_bomb(int(rng.integers(1, 200_000)), int(rng.integers(1, 200_000)))


def mask_for(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    kind = rng.integers(5)
    if kind == 0:
        m[:] = True
    elif kind == 1:
        m |= rng.random((h, w)) < 0.3  # noise: many regions
    elif kind == 2:
        pass  # empty
    else:
        y0, x0 = int(rng.integers(h)), int(rng.integers(w))
        m[y0 : y0 + max(1, h // 3), x0 : x0 + max(1, w // 3)] = True
    return m


def sample_file(rng: np.random.Generator, *, large: bool = False) -> tuple[str, bytes, np.ndarray | None]:
    """(format name, bytes, the RGB it encodes or None when it is bad)."""
    h, w = (int(rng.integers(700, 1100)), int(rng.integers(700, 1100))) if large else SIZES[rng.integers(len(SIZES))]
    arr = _smooth(rng, h, w)
    mode = MODES[rng.integers(len(MODES))]
    data = encode(arr, mode)
    if rng.random() < 0.3:
        return mode, corrupt(data, rng), None
    return mode, data, arr


# -- the Python API ---------------------------------------------------------------------------------------------------
API_MODELS = ["telea"] * 30 + ["ns"] * 4 + ["biharmonic"] * 2 + ["patchmatch"] * 2 + ["default"]


def _digest(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return hashlib.sha1(
            np.ascontiguousarray(x).view(np.uint8).tobytes() + str(x.shape).encode() + str(x.dtype).encode()
        ).hexdigest()
    return hashlib.sha1(repr(x).encode()).hexdigest()


def _odd_image(rng: np.random.Generator, arr: np.ndarray) -> Any:
    k = rng.integers(9)
    if k == 0:
        return arr.astype(np.float32) / 255
    if k == 1:
        return arr[None]  # 4-D
    if k == 2:
        return arr[:0]  # empty
    if k == 3:
        ro = arr.copy()
        ro.flags.writeable = False
        return ro
    if k == 4:
        return np.asfortranarray(arr)
    if k == 5:
        return arr[..., 0]  # grayscale
    if k == 6:
        return np.dstack([arr, arr[..., :1]])  # RGBA
    if k == 7:
        return arr[:, ::2]  # strided view
    return arr.tolist() if arr.size < 50 else "not an image"


def _odd_mask(rng: np.random.Generator, m: np.ndarray) -> Any:
    k = rng.integers(8)
    if k == 0:
        return m.astype(np.uint8)  # 0/1 uint8: refused as ambiguous
    if k == 1:
        return m.astype(np.int64) * 255
    if k == 2:
        return m[:-1] if m.shape[0] > 1 else m[:, :0]  # mismatched
    if k == 3:
        return (m.astype(np.uint8) * 255).view(bool)  # bool bytes of 255 (1-bit PNG reads)
    if k == 4:
        ro = m.copy()
        ro.flags.writeable = False
        return ro
    if k == 5:
        return m[..., None]
    if k == 6:
        return m.astype(np.float32)
    return np.asfortranarray(m)


def _options(rng: np.random.Generator) -> dict[str, Any]:
    o: dict[str, Any] = {}
    if rng.random() < 0.5:
        o["hd_strategy"] = ["original", "resize", "crop", "Crop", "RESIZE", "zoom", ""][rng.integers(7)]
    if rng.random() < 0.3:
        o["hd_strategy_resize_limit"] = int(rng.choice([0, 1, 2, 3, 7, 32, 2000, -1]))
    if rng.random() < 0.3:
        o["hd_strategy_crop_margin"] = int(rng.choice([0, 1, 16, 128, -3]))
    if rng.random() < 0.3:
        o["hd_strategy_crop_trigger_size"] = int(rng.choice([1, 8, 40, 800, 0]))
    if rng.random() < 0.2:
        o["memory_budget"] = [None, 10_000, 2_000_000, 50_000_000, -1, "lots"][rng.integers(6)]
    if rng.random() < 0.05:
        o["caption"] = "a bird"  # no classical model takes it
    return o


class ApiFuzzer:
    """``run(n)``: n generated cases through ``Inpainter.inpaint`` (and ``read_image`` / ``read_mask``)."""

    def __init__(self, seed: int = 0, case_limit_s: float = 30.0):
        self.rng = np.random.default_rng(seed)
        self.models: dict[str, Any] = {}
        self.case_limit_s = case_limit_s

    def model(self, name: str) -> Any:
        if name not in self.models:
            self.models[name] = create_inpainter(name, **({"device": "cpu"} if name == "default" else {}))
        return self.models[name]

    def case(self, counts: Counts) -> None:
        rng = self.rng
        name = API_MODELS[rng.integers(len(API_MODELS))]
        large = name == "telea" and rng.random() < 0.02
        mode, data, arr = sample_file(rng, large=large)
        what = f"{name} {mode} {len(data)} B"
        try:
            img: Any
            if rng.random() < 0.5 or arr is None:  # decode the file
                pic = read_image(data, max_pixels=MAX_PIXELS, name="image")
                img = pic.rgb
            else:
                img = arr
            h, w = np.asarray(img).shape[:2]
            m = mask_for(rng, h, w)
            if rng.random() < 0.3:  # the mask goes through a file too, maybe of another size or mode
                mm = m if rng.random() < 0.8 else mask_for(rng, max(1, h // 2), max(1, w + 3))
                mdata = encode(
                    np.repeat(mm[..., None].astype(np.uint8) * 255, 3, 2),
                    ["png-l", "png-1", "png-rgba", "jpeg-l", "gif", "png-p-trns"][rng.integers(6)],
                )
                m = read_mask(mdata, shape=(h, w), resize=bool(rng.random() < 0.5), max_pixels=MAX_PIXELS)
            mask: Any = _odd_mask(rng, m) if rng.random() < 0.15 else m
            if rng.random() < 0.15:
                img = _odd_image(rng, np.asarray(img))
            if name in ("biharmonic", "patchmatch", "default") and h * w > 64 * 64:
                name = "telea"
            opts = _options(rng)
            what += f" {np.asarray(img).shape if not isinstance(img, str) else img} {opts}"
            before = (_digest(img), _digest(mask))
            t0 = time.perf_counter()
            try:
                out = self.model(name).inpaint(img, mask, **opts)
            finally:
                if time.perf_counter() - t0 > self.case_limit_s:
                    counts.bad("hangs", what)
                if (_digest(img), _digest(mask)) != before:
                    counts.bad("inputs_modified", what)
            src = np.asarray(img)
            hole = as_mask(mask)
            if out.shape != src.shape or out.dtype != np.uint8:
                counts.bad("outputs_lost", f"{what}: output {out.shape} {out.dtype}")
            elif not np.array_equal(out[~hole], src[~hole]):
                counts.bad("outputs_lost", f"{what}: known pixels changed")
            else:
                counts.ok += 1
        except InpaintKitError as e:
            counts.user_errors += 1
            if "\n" in str(e):
                counts.bad("tracebacks", f"{what}: multi-line error {e!r}")
        except Exception as e:  # noqa: BLE001 - what we are counting
            counts.bad("tracebacks", f"{what}: {type(e).__name__}: {' '.join(str(e).split())[:200]}")

    def run(self, n: int) -> Counts:
        counts = Counts()
        t0 = time.perf_counter()
        for _ in range(n):
            counts.cases += 1
            self.case(counts)
        counts.seconds = time.perf_counter() - t0
        return counts


# -- the CLI ------------------------------------------------------------------------------------------------------------
def _file_digest(p: Path) -> str | None:
    try:
        return hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else None
    except OSError:
        return None


def _cli(args: list[str]) -> tuple[int, str, str, str | None]:
    """``inpaintkit`` in this process: (exit code, stdout, stderr, the escaped exception if any)."""
    from inpaintkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    escaped = None
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as e:
            code = int(e.code or 0) if not isinstance(e.code, str) else 1
        except BaseException as e:  # noqa: BLE001 - what we are counting
            escaped = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
    return code, out.getvalue(), err.getvalue(), escaped


class CliFuzzer:
    """``run(n, workdir)``: n single-file ``inpaintkit run`` calls with odd files, flags and output paths, plus
    one batch over a folder of mixed files (same stems, corrupt files), counted per file."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed + 1)

    def single(self, counts: Counts, d: Path, i: int) -> None:
        rng = self.rng
        mode, data, arr = sample_file(rng)
        img = d / f"img{i}{EXT[mode.split('-')[0]]}"
        img.write_bytes(data)
        h, w = arr.shape[:2] if arr is not None else (8, 8)
        if rng.random() < 0.15:
            h, w = h + 1, w  # a mask of another size
        mpath = d / f"mask{i}.png"
        mpath.write_bytes(
            encode(
                np.repeat(mask_for(rng, h, w)[..., None].astype(np.uint8) * 255, 3, 2),
                ["png-l", "png-1", "png-rgba"][rng.integers(3)],
            )
        )
        outs = [
            d / f"out{i}.png",
            d / f"out{i}.jpg",
            d / "o" / f"deep{i}" / "x.webp",
            img / "x.png",
            Path("/proc/inpaintkit-fuzz/x.png"),
            d / ("L" * 240 + f"{i}.png"),
            d / f"out{i}.xyz",
            d,
        ]
        out = outs[rng.integers(len(outs))]
        args = [
            "run",
            "-i",
            img,
            "-m",
            mpath,
            "-o",
            out,
            "--model",
            ["telea", "ns", "nope"][rng.choice(3, p=[0.8, 0.15, 0.05])],
        ]
        if rng.random() < 0.2:
            args += ["--hd-strategy", ["crop", "Resize", "bogus"][rng.integers(3)]]
        if rng.random() < 0.15:
            args += ["--opt", ["radius=5", "radius={", "radius=-1", "nope=1", "radius"][rng.integers(5)]]
        if rng.random() < 0.15:
            args += ["--resize-mask"]
        if rng.random() < 0.1:
            args += ["--max-pixels", str(rng.choice([-5, 0, 10, 10_000_000]))]
        if rng.random() < 0.05:
            args[2] = ""  # -i ""
        before = {p: _file_digest(p) for p in (img, mpath)}
        t0 = time.perf_counter()
        code, stdout, stderr, escaped = _cli(args)
        what = f"run {mode} out={out.name[:30]} {' '.join(str(a) for a in args[7:])} -> {code}"
        if time.perf_counter() - t0 > 60:
            counts.bad("hangs", what)
        if escaped or "Traceback" in stderr:
            counts.bad("tracebacks", f"{what}: {escaped or stderr.strip().splitlines()[-1]}")
            return
        if any(_file_digest(p) != v for p, v in before.items()):
            counts.bad("inputs_modified", what)
        if code == 0:
            target = out / f"{img.stem}.png" if out.is_dir() else out
            try:
                got = read_image(target)
            except InpaintKitError:
                counts.bad("outputs_lost", f"{what}: no readable output at {target}")
                return
            src = read_image(img)
            if got.size != src.size:
                counts.bad("outputs_lost", f"{what}: output {got.size} for input {src.size}")
            else:
                counts.ok += 1
        elif code == 2:
            counts.user_errors += 1
            if not stderr.strip() or any(
                not ln.startswith(("error: ", "Usage:", "Try ", "Error: ", "\r", " ")) and ln.strip()
                for ln in stderr.splitlines()
                if "Usage" not in stderr
            ):
                counts.bad("tracebacks", f"{what}: stderr is not one error line: {stderr[:200]!r}")
        else:
            counts.bad("tracebacks", f"{what}: exit code {code}")

    def batch(self, counts: Counts, d: Path, n_files: int) -> None:
        rng = self.rng
        src = d / "batch"
        src.mkdir()
        for i in range(n_files):
            mode, data, _ = sample_file(rng)
            stem = f"p{i // 2}"  # pairs share a stem: p0.png + p0.jpg must both survive
            (src / f"{stem}{EXT[mode.split('-')[0]]}").write_bytes(data)
        files = sorted(src.iterdir())
        mask = d / "batch_mask.png"
        mask.write_bytes(encode(np.full((4, 4, 3), 255, np.uint8), "png-l"))
        before = {p: _file_digest(p) for p in files}
        out = d / "batch_out"
        code, stdout, stderr, escaped = _cli(
            ["run", "-i", src, "-m", mask, "-o", out, "--model", "telea", "--resize-mask"]
        )
        counts.cases += len(files)
        if escaped or "Traceback" in stderr:
            counts.bad("tracebacks", f"batch: {escaped or stderr[-300:]}")
            return
        if any(_file_digest(p) != v for p, v in before.items()):
            counts.bad("inputs_modified", "batch input changed")
        written = sorted(out.iterdir()) if out.is_dir() else []
        errors = sum(1 for ln in stderr.splitlines() if "error: " in ln)
        claimed = int(stdout.split(" of ")[0].strip().split()[-1]) if " of " in stdout else 0
        if claimed != len(written) or claimed + errors != len(files):
            counts.bad(
                "outputs_lost",
                f"batch: {len(files)} files, {claimed} claimed written, {len(written)} present, {errors} errors",
            )
        counts.ok += len(written)
        counts.user_errors += errors

    def run(self, n: int, workdir: Path | None = None) -> Counts:
        counts = Counts()
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            d = Path(tmp)
            for i in range(n):
                counts.cases += 1
                self.single(counts, d, i)
            self.batch(counts, d, 40)
        counts.seconds = time.perf_counter() - t0
        return counts


# -- the server ---------------------------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def server_requests(seed: int, n: int) -> list[dict[str, Any]]:
    """n requests: ``{"method", "path", "json" | "content" | "files" + "data", "good", "image", "mask"}``."""
    rng = np.random.default_rng(seed + 2)
    reqs = []
    for _ in range(n):
        k = rng.integers(20)
        mode, data, arr = sample_file(rng)
        h, w = arr.shape[:2] if arr is not None else (8, 8)
        m = mask_for(rng, h, w)
        mpng = encode(np.repeat(m[..., None].astype(np.uint8) * 255, 3, 2), "png-l")
        good = arr is not None
        r: dict[str, Any] = {"method": "POST", "path": "/api/v1/inpaint", "image": data if good else None, "mask": m}
        if k < 9:
            r["json"] = {"image": _b64(data), "mask": _b64(mpng)}
            if rng.random() < 0.3:
                r["json"].update(_options(rng))
                r["json"].pop("memory_budget", None)
                r["json"].pop("caption", None)
        elif k < 12:
            r["files"] = {"image": ("i", data), "mask": ("m", mpng)}
            r["data"] = {"hd_strategy": ["crop", "Original", "zoom"][rng.integers(3)]}
        elif k == 12:
            r["content"] = "[" * int(rng.integers(10, 200_000)) + "]"
            r["headers"] = {"content-type": "application/json"}
        elif k == 13:
            r["content"] = '{"image": "x", "mask": "y", "hd_strategy_crop_margin": ' + "7" * 5000 + "}"
            r["headers"] = {"content-type": "application/json"}
        elif k == 14:
            r["json"] = {"image": _b64(data), "mask": _b64(encode(np.zeros((h + 1, w, 3), np.uint8), "png-l"))}
        elif k == 15:
            r["json"] = {"image": "data:image/png;base64,!!!", "mask": 7, "model": ["nope", "", None][rng.integers(3)]}
        elif k == 16:
            r.update(
                path="/api/v1/adjust_mask",
                json={
                    "mask": _b64(mpng),
                    "operate": ["expand", "shrink", "reverse", "melt"][rng.integers(4)],
                    "kernel_size": int(rng.choice([0, 3, 600, -1])),
                },
            )
        elif k == 17:
            r.update(
                method="GET",
                path=["/healthz", "/api/v1/models", "/api/v1/model", "/api/v1/nope", "/../etc/passwd"][rng.integers(5)],
            )
        elif k == 18:
            r.update(path="/api/v1/model", json={"name": "ns"})
        else:
            r["content"] = rng.integers(0, 256, int(rng.integers(0, 3000)), dtype=np.uint8).tobytes()
            r["headers"] = {
                "content-type": ["application/json", "multipart/form-data; boundary=x", "text/plain", ""][
                    rng.integers(4)
                ]
            }
        r["good"] = (
            good
            and k < 12
            and "json" in r
            and not any(v in ("zoom",) or (isinstance(v, int) and v <= 0) for v in r["json"].values())
            and "files" not in r
        )
        reqs.append(r)
    return reqs


def adversarial_request(side: int = 1001, step: int = 44, model: str = "default") -> dict[str, Any]:
    """The many-region request of issue 19: a 1001x1001 photo, 529 single-pixel holes."""
    rng = np.random.default_rng(0)
    arr = _smooth(rng, side, side)
    m = np.zeros((side, side), bool)
    m[::step, ::step] = True
    return {
        "method": "POST",
        "path": "/api/v1/inpaint",
        "good": False,
        "image": encode(arr, "png-rgb"),
        "mask": m,
        "json": {
            "image": _b64(encode(arr, "png-rgb")),
            "mask": _b64(encode(np.repeat(m[..., None].astype(np.uint8) * 255, 3, 2), "png-l")),
            "model": model,
        },
    }


def run_server(url: str, reqs: list[dict[str, Any]], concurrency: int = 8, timeout: float = 120.0) -> Counts:
    """Send ``reqs`` at ``concurrency`` over keep-alive connections (one per thread) and check every answer."""
    import threading

    import httpx

    counts = Counts()
    lock = threading.Lock()
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=url, timeout=timeout)
        return local.c

    def one(r: dict[str, Any]) -> None:
        kw = {k: r[k] for k in ("json", "content", "files", "data", "headers") if k in r}
        t0 = time.perf_counter()
        what = f"{r['method']} {r['path']} {('json keys ' + ','.join(r['json'])) if isinstance(r.get('json'), dict) else ''}"
        try:
            resp = client().request(r["method"], r["path"], **kw)
        except httpx.TimeoutException:
            with lock:
                counts.bad("hangs", what)
            return
        except httpx.HTTPError as e:
            with lock:
                counts.bad("http_5xx", f"{what}: connection failed ({type(e).__name__}: {e})")
            return
        dt = time.perf_counter() - t0
        with lock:
            counts.cases += 1
            if resp.status_code >= 500:
                counts.bad("http_5xx", f"{what}: {resp.status_code} {resp.text[:200]}")
            elif resp.status_code >= 400:
                counts.user_errors += 1
                try:
                    detail = resp.json()["detail"]
                    assert isinstance(detail, str) and "\n" not in detail
                except Exception:  # noqa: BLE001
                    counts.bad("tracebacks", f"{what}: {resp.status_code} without a one-line detail")
            else:
                counts.ok += 1
                if r["good"] and r["path"] == "/api/v1/inpaint":
                    counts.latencies.append(dt)
        if resp.status_code == 200 and r["path"] == "/api/v1/inpaint" and r.get("image") is not None:
            try:
                src = read_image(r["image"]).rgb
                out = read_image(resp.content).rgb
                lossy = resp.headers.get("content-type") != "image/png"
                m = r["mask"]
                ok = out.shape == src.shape and (lossy or np.array_equal(out[~m], src[~m]))
            except (InpaintKitError, IndexError, ValueError) as e:
                ok = False
                what += f" ({e})"
            if not ok:
                with lock:
                    counts.bad("outputs_lost", f"{what}: answer does not keep the known pixels")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as ex:
        list(ex.map(one, reqs))
    counts.seconds = time.perf_counter() - t0
    return counts


def live_server_counts(
    n: int, seed: int = 0, concurrency: int = 8, adversarial: int = 2, extra_args: list[str] | None = None
) -> Counts:
    """Start ``inpaintkit serve`` on loopback and fuzz it: n requests plus ``adversarial`` many-region ones first."""
    from inpaintkit.server.background import BackgroundServer

    reqs = [adversarial_request() for _ in range(adversarial)] + server_requests(seed, n)
    args = ["--model", "telea", "--workers", "2", "--queue", "16", "--max-pixels", str(MAX_PIXELS), *(extra_args or [])]
    with BackgroundServer(args, timeout=120) as url:
        return run_server(url, reqs, concurrency)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--api", type=int, default=5000)
    ap.add_argument("--cli", type=int, default=300)
    ap.add_argument("--server", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--adversarial", type=int, default=2, help="many-region requests sent first (model default)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    total = 0
    if a.api:
        c = ApiFuzzer(a.seed).run(a.api)
        print(c.line("api"), *c.examples, sep="\n  ", flush=True)
        total += c.failures
    if a.cli:
        c = CliFuzzer(a.seed).run(a.cli)
        print(c.line("cli"), *c.examples, sep="\n  ", flush=True)
        total += c.failures
    if a.server:
        c = live_server_counts(a.server, a.seed, a.concurrency, a.adversarial)
        print(c.line("server"), *c.examples, sep="\n  ", flush=True)
        total += c.failures
    print(json.dumps({"failures": total}))
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
