"""Image and mask I/O at the public boundary: modes, EXIF, limits, bad files, atomic writes."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from inpaintkit.errors import InpaintKitError, TooLargeError
from inpaintkit.io import encode_image, read_image, read_mask, write_image, write_mask


def _rgb(h=12, w=16, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "CMYK", "1", "YCbCr"])
def test_modes_become_rgb_uint8(tmp_path, mode):
    src = Image.fromarray(_rgb()).convert(mode)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png") if mode != "YCbCr" else tmp_path / "x.jpg"
    src.save(path)
    pic = read_image(path)
    assert pic.rgb.dtype == np.uint8 and pic.rgb.shape == (12, 16, 3)
    assert pic.alpha is None
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(pic.rgb, expected)


def test_alpha_modes_keep_alpha(tmp_path):
    rgba = np.dstack([_rgb(), np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    pic = read_image(tmp_path / "a.png")
    assert np.array_equal(pic.rgb, rgba[..., :3]) and np.array_equal(pic.alpha, rgba[..., 3])
    la = Image.fromarray(rgba, "RGBA").convert("LA")
    la.save(tmp_path / "la.png")
    pic = read_image(tmp_path / "la.png")
    assert pic.alpha is not None and np.array_equal(pic.rgb[..., 0], pic.rgb[..., 2])
    p = Image.fromarray(_rgb()).convert("P")
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    assert read_image(tmp_path / "p.png").alpha is not None


def test_16bit_gray_is_scaled(tmp_path):
    arr = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    pic = read_image(tmp_path / "g16.png")
    assert pic.rgb[0, :, 0].tolist() == [0, 1, 255, 128]


def test_mask_modes(tmp_path):
    hole = np.zeros((8, 8), bool)
    hole[2:5, 3:7] = True
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "l.png")
    Image.fromarray(hole).convert("1").save(tmp_path / "one.png")
    Image.fromarray(np.dstack([hole.astype(np.uint8) * 255] * 3)).save(tmp_path / "rgb.png")
    # canvas-style RGBA: white opaque strokes on a transparent background -> hole where painted
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[hole] = [255, 255, 255, 255]
    rgba[~hole] = [255, 255, 255, 0]  # white but fully transparent: not a hole
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    for name in ("l.png", "one.png", "rgb.png", "rgba.png"):
        assert np.array_equal(read_mask(tmp_path / name), hole), name
    gray = np.full((2, 2), 127, np.uint8)
    gray[0, 0] = 128
    Image.fromarray(gray).save(tmp_path / "thr.png")
    assert read_mask(tmp_path / "thr.png").tolist() == [[True, False], [False, False]]


def test_exif_orientation_applied_to_image_and_mask(tmp_path):
    img = _rgb(10, 20)
    mask = np.zeros((10, 20), np.uint8)
    mask[0:3, 0:5] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW for display
    Image.fromarray(img).save(tmp_path / "i.png", exif=exif)
    Image.fromarray(mask).save(tmp_path / "m.png", exif=exif)
    pic = read_image(tmp_path / "i.png")
    m = read_mask(tmp_path / "m.png", shape=pic.rgb.shape[:2])
    assert pic.rgb.shape == (20, 10, 3) and m.shape == (20, 10)
    assert np.array_equal(pic.rgb, np.rot90(img, -1))
    assert np.array_equal(m, np.rot90(mask, -1) > 127)


@pytest.mark.parametrize(
    "content,expect",
    [
        (b"", "empty file"),
        (b"this is not an image at all", "not an image"),
        ("truncated", "truncated"),
    ],
)
def test_bad_files_name_the_file(tmp_path, content, expect):
    path = tmp_path / "bad.png"
    if content == "truncated":
        Image.fromarray(_rgb(64, 64)).save(path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    with pytest.raises(InpaintKitError, match=expect) as e:
        read_image(path)
    assert "bad.png" in str(e.value) and "\n" not in str(e.value)


def test_missing_and_folder(tmp_path):
    with pytest.raises(InpaintKitError, match="no such file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(InpaintKitError, match="folder"):
        read_image(tmp_path)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but carries no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_pixel_limit_checked_before_decoding(tmp_path):
    # 100k x 100k = 10 GP: decoding it would take 30 GB; the header check must refuse it first.
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(100_000, 100_000))
    with pytest.raises(TooLargeError, match="above the limit"):
        read_image(path)
    with pytest.raises(TooLargeError):
        read_image(path, max_pixels=10**9)
    small = tmp_path / "s.png"
    Image.fromarray(_rgb(20, 20)).save(small)
    with pytest.raises(TooLargeError, match="--max-pixels"):
        read_image(small, max_pixels=399)
    assert read_image(small, max_pixels=400).rgb.shape == (20, 20, 3)


def test_mask_size_mismatch_and_resize(tmp_path):
    m = np.zeros((4, 4), np.uint8)
    m[:2, :2] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    with pytest.raises(InpaintKitError, match="--resize-mask"):
        read_mask(tmp_path / "m.png", shape=(8, 8))
    big = read_mask(tmp_path / "m.png", shape=(8, 8), resize=True)
    assert big.shape == (8, 8) and big[:4, :4].all() and not big[4:, :].any()


def test_write_is_atomic_and_format_from_extension(tmp_path):
    img = _rgb()
    write_image(tmp_path / "o.png", img)
    assert np.array_equal(read_image(tmp_path / "o.png").rgb, img)
    write_image(tmp_path / "o.jpg", img)
    assert Image.open(tmp_path / "o.jpg").format == "JPEG"
    assert read_image(tmp_path / "o.jpg").format == "JPEG" and read_image(tmp_path / "o.png").format == "PNG"
    alpha = np.full(img.shape[:2], 77, np.uint8)
    write_image(tmp_path / "a.png", img, alpha)
    assert np.array_equal(read_image(tmp_path / "a.png").alpha, alpha)
    write_image(tmp_path / "a.jpg", img, alpha)  # JPEG has no alpha: dropped, not an error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "a.png", "o.jpg", "o.png"]  # no temp files
    with pytest.raises(InpaintKitError, match="extension"):
        write_image(tmp_path / "o.xyz", img)
    write_mask(tmp_path / "m.png", np.eye(3, dtype=bool))
    assert np.asarray(Image.open(tmp_path / "m.png")).tolist() == (np.eye(3) * 255).astype(int).tolist()


def test_decode_from_bytes():
    img = _rgb()
    data = encode_image(img, fmt="PNG")
    assert np.array_equal(read_image(data).rgb, img)
    with pytest.raises(InpaintKitError, match="empty data"):
        read_image(b"")
