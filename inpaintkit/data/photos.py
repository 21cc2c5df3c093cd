"""Real photographs for training and experiments, from Debian wallpaper packages plus scikit-image's samples.

``fetch_photos(out)`` runs ``apt-get download`` for the wallpaper packages into a temporary folder, unpacks them
with ``dpkg -x``, and copies a curated list of real photographs (the largest resolution of each; many wallpapers in
these packages are drawings or renders and are left out) plus scikit-image's bundled photos into

    OUT/train/     photos to train on
    OUT/holdout/   held-out photos (ColdRipple, BytheWater, Kite, coffee, chelsea): validate on these, never train

``collect_photos(extracted_root, out)`` does the copying from an already unpacked tree (``dpkg -x`` output).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from ..errors import InpaintKitError

PACKAGES = ("plasma-workspace-wallpapers", "ukui-wallpapers", "gnome-backgrounds", "lomiri-wallpapers-20.04",
            "desktop-base")
#: Single-file photographs, relative to ``usr/share``.
BACKGROUNDS = ("backgrounds/Kleiber_by_Lukas_Baubkus.jpg", "backgrounds/Infinite-Sea_by_Aury88.jpg")
#: KDE wallpapers that are photographs: ``wallpapers/<NAME>/contents/images/<WxH>.jpg``.
WALLPAPERS = ("FallenLeaf", "Path", "DarkestHour", "summer_1am", "EveningGlow", "Grey", "Kite", "ColorfulCups",
              "OneStandsOut", "ColdRipple", "BytheWater")
SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field", "immunohistochemistry",
           "retina")
HOLDOUT = ("ColdRipple", "BytheWater", "Kite", "coffee", "chelsea")


def _pixels(path: Path) -> int:
    with Image.open(path) as im:
        return im.size[0] * im.size[1]


def collect_photos(extracted_root: str | Path, out: str | Path, skimage_samples: bool = True) -> dict[str, list[Path]]:
    """Copy the curated photos from an unpacked tree (containing ``usr/share``) into ``out/train`` and
    ``out/holdout``. Returns the written paths per folder."""
    share = Path(extracted_root) / "usr" / "share"
    out = Path(out)
    written: dict[str, list[Path]] = {"train": [], "holdout": []}
    for sub in written:
        (out / sub).mkdir(parents=True, exist_ok=True)

    def put(name: str, write) -> None:
        sub = "holdout" if name in HOLDOUT else "train"
        dst = out / sub / f"{name}.{'png' if name in SKIMAGE else 'jpg'}"
        write(dst)
        written[sub].append(dst)

    for rel in BACKGROUNDS:
        src = share / rel
        if src.is_file():
            put(src.stem, lambda dst, src=src: shutil.copyfile(src, dst))
    for name in WALLPAPERS:
        images = sorted((share / "wallpapers" / name / "contents" / "images").glob("*.jpg"))
        if images:
            best = max(images, key=_pixels)  # the largest resolution
            put(name, lambda dst, src=best: shutil.copyfile(src, dst))
    if not written["train"] and not written["holdout"]:
        raise InpaintKitError(f"{extracted_root}: none of the expected wallpapers under usr/share/backgrounds or "
                              "usr/share/wallpapers; is this the `dpkg -x` output of the wallpaper packages?")
    if skimage_samples:
        import skimage.data

        for name in SKIMAGE:
            arr = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skimage.data, name)()
            put(name, lambda dst, arr=arr: Image.fromarray(arr).convert("RGB").save(dst))
    return written


def fetch_photos(out: str | Path) -> dict[str, list[Path]]:
    """``apt-get download`` the wallpaper packages, unpack them and collect the photos into ``out``."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise InpaintKitError("fetch-photos needs apt-get and dpkg (a Debian/Ubuntu system); on other systems "
                              f"download the packages {', '.join(PACKAGES)} by hand and use collect_photos()")
    with tempfile.TemporaryDirectory(prefix="inpaintkit-photos-") as tmp:
        tmp_p = Path(tmp)
        debs = tmp_p / "debs"
        debs.mkdir()
        for pkg in PACKAGES:
            r = subprocess.run(["apt-get", "download", pkg], cwd=debs, capture_output=True, text=True)
            if r.returncode != 0:
                reason = " ".join((r.stderr or r.stdout).split())[-300:]
                raise InpaintKitError(f"apt-get download {pkg} failed ({reason}); run `apt-get update` first or "
                                      "check the network")
        root = tmp_p / "root"
        root.mkdir()
        for deb in sorted(debs.glob("*.deb")):
            r = subprocess.run(["dpkg", "-x", str(deb), str(root)], capture_output=True, text=True)
            if r.returncode != 0:
                raise InpaintKitError(f"dpkg -x {deb.name} failed ({' '.join(r.stderr.split())[-300:]})")
        return collect_photos(root, out)
