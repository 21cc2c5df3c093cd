"""Reading and writing images and masks at the public boundary.

Conventions (asserted here, relied on everywhere else):
- images come out as RGB ``uint8`` arrays ``(H, W, 3)`` plus an optional alpha ``(H, W)`` to restore on output;
- masks come out as ``bool`` arrays ``(H, W)``, **True = hole**; in files, grayscale > 127 is hole;
- EXIF orientation is applied to images and masks alike, so a mask painted over the displayed photo lines up;
- the pixel limit is checked from the header, before a large image is decoded;
- every failure is an ``InpaintKitError`` naming the file; writes are atomic (temp file, then rename).
"""

from __future__ import annotations

import io as _io
import itertools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InpaintKitError, TooLargeError

DEFAULT_MAX_PIXELS = 100_000_000
_tmp_counter = itertools.count()
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm")
_ALPHA_FORMATS = {"PNG", "WEBP", "TIFF", "GIF"}

# We check the pixel count ourselves (configurable, reported as TooLargeError); Pillow's own bomb check
# would otherwise refuse images above ~179 MP even when the user raised our limit.
Image.MAX_IMAGE_PIXELS = None


@dataclass
class Picture:
    """A decoded image: RGB pixels plus what is needed to write it back like the original."""

    rgb: np.ndarray  # (H, W, 3) uint8
    alpha: np.ndarray | None  # (H, W) uint8, or None when the source had no transparency
    mode: str  # the source's Pillow mode ("RGB", "P", "I;16", ...)
    format: str | None  # the source's Pillow format ("PNG", "JPEG", ...)
    name: str = "image"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.rgb.shape[1], self.rgb.shape[0]


def _open(source: str | os.PathLike | bytes, name: str, max_pixels: int | None) -> tuple[Image.Image, str | None]:
    """Open lazily, check the header's size against the limit, then decode fully. Returns (image, format)."""
    try:
        if isinstance(source, (bytes, bytearray)):
            if not source:
                raise InpaintKitError(f"{name}: empty data, not an image")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow's notices on odd files (corrupt EXIF ...): not ours to print
                img = Image.open(_io.BytesIO(source))
        else:
            p = Path(source)
            if "\0" in str(p):
                raise InpaintKitError(f"{str(p)!r}: a path cannot contain a NUL character")
            if not p.exists():
                raise InpaintKitError(f"{name}: no such file")
            if p.is_dir():
                raise InpaintKitError(f"{name}: is a folder, not an image file")
            if p.stat().st_size == 0:
                raise InpaintKitError(f"{name}: empty file (0 bytes), not an image")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                img = Image.open(p)
        w, h = img.size
        if max_pixels is not None and w * h > max_pixels:
            raise TooLargeError(
                f"{name}: {w}x{h} = {w * h / 1e6:.1f} MP is above the limit of {max_pixels / 1e6:.1f} MP; "
                "raise it with --max-pixels"
            )
        if w < 1 or h < 1:
            raise InpaintKitError(f"{name}: image has no pixels ({w}x{h})")
        fmt = img.format  # exif_transpose returns a copy without it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. Pillow's "palette images with transparency" notice
            img.load()
            img = ImageOps.exif_transpose(img) or img
        return img, fmt
    except InpaintKitError:
        raise
    except UnidentifiedImageError:
        raise InpaintKitError(f"{name}: not an image file Pillow can read") from None
    except (PermissionError, IsADirectoryError, FileNotFoundError) as e:
        raise InpaintKitError(f"{name}: cannot open ({_os_reason(e)})") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise InpaintKitError(f"{name}: cannot decode image ({reason}); the file may be truncated or corrupt") from None


def peek_size(data: bytes, name: str = "image") -> tuple[int, int]:
    """(width, height) from an encoded image's header, without decoding its pixels."""
    if not data:
        raise InpaintKitError(f"{name}: empty data, not an image")
    try:
        with Image.open(_io.BytesIO(data)) as img:
            return img.size
    except UnidentifiedImageError:
        raise InpaintKitError(f"{name}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise InpaintKitError(f"{name}: cannot read the image header ({reason})") from None


def _high_bit_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Integer (16/32-bit) or float grayscale to uint8: 16-bit range scaled by 1/257, floats in [0,1] by 255."""
    if arr.dtype.kind == "f":
        scale = 255.0 if np.nanmax(arr, initial=0) <= 1.0 else 1.0
        return np.clip(np.nan_to_num(arr) * scale, 0, 255).round().astype(np.uint8)
    a = arr.astype(np.float64)
    if a.max(initial=0) > 255:
        a = a / 257.0
    return np.clip(a, 0, 255).round().astype(np.uint8)


def pil_to_rgb(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode -> (RGB uint8 (H, W, 3), alpha uint8 (H, W) or None)."""
    mode = img.mode
    alpha = None
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA") if (mode == "PA" or "transparency" in img.info) else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "RGBa", "LA", "La"):
        img = img.convert("RGBA") if mode != "RGBA" else img
        arr = np.asarray(img)
        return np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3])
    if mode.startswith("I") or mode == "F":
        gray = _high_bit_to_uint8(np.asarray(img))
        if gray.ndim == 3:
            gray = gray[..., 0]
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2)), alpha
    if mode != "RGB":
        img = img.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV
    return np.ascontiguousarray(np.asarray(img)), alpha


def pil_to_mask(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> bool (H, W), True = hole. Gray > 127 is hole; transparent pixels count as black."""
    mode = img.mode
    if mode == "1":  # np.asarray gives a bool array whose True bytes are 255: compare, do not reinterpret
        return np.asarray(img.convert("L")) > 127
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img)
        return _high_bit_to_uint8(arr[..., 0] if arr.ndim == 3 else arr) > 127
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA")).astype(np.uint16)
        lum = np.asarray(Image.fromarray(rgba[..., :3].astype(np.uint8)).convert("L")).astype(np.uint16)
        return (lum * rgba[..., 3] // 255) > 127
    return np.asarray(img.convert("L")) > 127


def read_image(
    source: str | os.PathLike | bytes, *, max_pixels: int | None = DEFAULT_MAX_PIXELS, name: str | None = None
) -> Picture:
    """Decode a file path or encoded bytes into a ``Picture`` (EXIF orientation applied)."""
    name = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "image")
    img, fmt = _open(source, name, max_pixels)
    mode = img.mode
    rgb, alpha = pil_to_rgb(img)
    return Picture(rgb, alpha, mode, fmt, name)


def read_mask(
    source: str | os.PathLike | bytes,
    *,
    shape: tuple[int, int] | None = None,
    resize: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    image_name: str = "the image",
) -> np.ndarray:
    """Decode a mask (bool (H, W), True = hole). ``shape`` = (H, W) of the image it belongs to.

    A size mismatch is an error unless ``resize`` is set, which resizes nearest-neighbour.
    """
    name = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "mask")
    img, _ = _open(source, name, max_pixels)
    mask = pil_to_mask(img)
    if shape is not None and mask.shape != tuple(shape):
        if not resize:
            raise InpaintKitError(
                f"{name}: mask is {mask.shape[1]}x{mask.shape[0]} but {image_name} is {shape[1]}x{shape[0]}; "
                "resize it to the image's size (CLI: --resize-mask, nearest-neighbour)"
            )
        if max_pixels is not None and shape[0] * shape[1] > max_pixels:
            raise TooLargeError(
                f"{name}: cannot resize the mask to {shape[1]}x{shape[0]}, above the limit of {max_pixels / 1e6:.1f} MP"
            )
        mask = resize_mask(mask, shape)
    return mask


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to (H, W)."""
    pil = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(pil.resize((shape[1], shape[0]), Image.NEAREST)) > 127


def format_for(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        raise InpaintKitError(f"{path}: cannot write images with extension {ext or '(none)'!r}; use .png or .jpg")
    return fmt


def encode_image(rgb: np.ndarray, alpha: np.ndarray | None = None, fmt: str = "PNG", *, quality: int = 95) -> bytes:
    """RGB uint8 (+ optional alpha) -> encoded bytes in ``fmt`` (alpha dropped where the format has none)."""
    fmt = fmt.upper()
    if fmt == "JPG":
        fmt = "JPEG"
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise InpaintKitError(f"image to write must be uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.dtype != np.uint8 or alpha.shape != rgb.shape[:2]:
            raise InpaintKitError(f"alpha must be uint8 (H, W) = {rgb.shape[:2]}, got {alpha.dtype} {alpha.shape}")
    if alpha is not None and fmt in _ALPHA_FORMATS:
        img = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        img = Image.fromarray(rgb, "RGB")
    buf = _io.BytesIO()
    kw = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    try:
        img.save(buf, format=fmt, **kw)
    except (OSError, ValueError, KeyError) as e:  # e.g. a size the format cannot hold (JPEG > 65535 px)
        raise InpaintKitError(f"cannot encode a {rgb.shape[1]}x{rgb.shape[0]} image as {fmt} ({e})") from None
    return buf.getvalue()


def _os_reason(e: OSError) -> str:
    return e.strerror or " ".join(str(e).split()) or type(e).__name__


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> None:
    """Write via a temp file in the same folder, then rename: readers never see half a file.

    The temp name is short (``.ik-<pid>-<n>.tmp``), so any legal file name can be written. A filesystem failure
    (read-only folder, permission denied, a parent that is a file, disk full) is an ``InpaintKitError`` naming
    ``path``. ``fsync`` flushes the file and its folder to disk (survives power loss, not only a crash).
    """
    path = Path(path)
    try:
        if "\0" in str(path):
            raise InpaintKitError(f"{str(path)!r}: a path cannot contain a NUL character")
        blocker = next((a for a in path.parents if a.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise InpaintKitError(f"{path}: cannot write, {blocker} is a file, not a folder; choose another path")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise InpaintKitError(f"{path}: is a folder; give a file name")
        tmp = path.with_name(f".ik-{os.getpid()}-{next(_tmp_counter)}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
            if fsync:
                fsync_dir(path.parent)
        finally:
            if tmp.exists():
                tmp.unlink()
    except OSError as e:
        raise InpaintKitError(f"{path}: cannot write ({_os_reason(e)}); choose a writable location") from None
    except ValueError as e:  # embedded NUL and the like
        raise InpaintKitError(f"{str(path)!r}: not a usable path ({e})") from None


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_image(
    path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None, *, quality: int = 95
) -> Path:
    """Write atomically in the format of ``path``'s extension. Returns the path."""
    atomic_write_bytes(path, encode_image(rgb, alpha, format_for(path), quality=quality))
    return Path(path)


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write a bool mask as an 8-bit PNG, 255 = hole."""
    buf = _io.BytesIO()
    Image.fromarray(np.asarray(mask, bool).astype(np.uint8) * 255, "L").save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder`` (by extension, hidden files skipped), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InpaintKitError(f"{folder}: not a folder")
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )
