"""The README's pictures of the bundled ``default`` model beside Telea and PatchMatch.

    .venv/bin/python benchmarks/default_samples.py [--eval out/eval_default] [--out docs/img]

1. ``demo.png``: ``make demo``'s input (``inpaintkit/assets/sample.jpg`` with its mask in red), Telea, PatchMatch
   and ``default`` fills, two by two.
2. ``default_grid.png``: test-split 256x256 photos from the evaluation inputs of ``benchmarks/eval_default.py``
   (``--eval`` folder, made by ``eval_default.py --out out/eval_default``), one row per photo with a mask from a
   different set (0.1-0.2 ... 0.5-0.6 and box-half): input with the hole in grey, Telea, PatchMatch, the previous
   default (``--previous SPEC``, e.g. ``lama:old/generator.safetensors``, or ``plain``: today's default without
   its photo grain, which also writes ``grain_zoom.png``: the box-half row's two fills at 2x; or
   ``bundle:DIR``: today's default pipeline, every option at its default, with the weights of an earlier bundle
   folder, DIR/generator.safetensors and the config.yaml beside it; the column is left out without it),
   default, the original.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from inpaintkit import create_inpainter
from inpaintkit.inpainters import create_inpainter_from_spec
from inpaintkit.io import read_image, read_mask, write_image

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("telea", "patchmatch", "default")
ROWS = (
    ("chameleon", "0.1-0.2"),
    ("corn_maze", "0.2-0.3"),
    ("kingfisher", "0.3-0.4"),
    ("polar_bear", "0.4-0.5"),
    ("ocean_waves", "0.5-0.6"),
    ("pika", "box-half"),
)


def label(img: np.ndarray, text: str) -> np.ndarray:
    """The image with a white caption bar above it."""
    bar = np.full((22, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, img])


def hstack(tiles: list[np.ndarray], gap: int = 4) -> np.ndarray:
    h = tiles[0].shape[0]
    sep = np.full((h, gap, 3), 255, np.uint8)
    out = [tiles[0]]
    for t in tiles[1:]:
        out += [sep, t]
    return np.hstack(out)


def default_with_weights(bundle: Path):
    """Today's ``default`` (every finishing step at its default, torch runtime) with the generator of an earlier
    bundle folder: the weights file is not a user option of ``default``, so it is swapped for the construction."""
    from unittest import mock

    import inpaintkit.models.default as default_module

    weights = bundle / "generator.safetensors"
    if not weights.is_file() or not (bundle / "config.yaml").is_file():
        raise SystemExit(f"{bundle}: expected generator.safetensors and config.yaml there")
    with mock.patch.object(default_module, "WEIGHTS", weights):
        return create_inpainter("default", runtime="torch")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=Path("out/eval_default"))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument(
        "--previous",
        default=None,
        help="model spec of the previous default, shown in the grid; 'plain': today's default without its photo "
        "grain (degrid=off grain=0); 'bundle:DIR': today's default with an earlier bundle's weights",
    )
    args = ap.parse_args()
    inpainters = {name: create_inpainter(name, **({"seed": 0} if name == "patchmatch" else {})) for name in MODELS}
    grid_models = {n: inpainters[n] for n in MODELS[:-1]}  # column order: telea, patchmatch, [previous], default
    if args.previous == "plain":
        grid_models["no grain"] = create_inpainter("default", degrid="off", grain=0)
    elif args.previous and args.previous.startswith("bundle:"):
        grid_models["previous default"] = default_with_weights(Path(args.previous.split(":", 1)[1]))
    elif args.previous:
        grid_models["previous default"] = create_inpainter_from_spec(args.previous)
    grid_models["default"] = inpainters["default"]

    pic = read_image(ROOT / "inpaintkit" / "assets" / "sample.jpg").rgb
    mask = read_mask(ROOT / "inpaintkit" / "assets" / "sample_mask.png", shape=pic.shape[:2])
    shown = pic.copy()
    shown[mask] = (255, 0, 0)
    tiles = [label(shown, "input (hole in red)")]
    tiles += [label(inpainters[n].inpaint(pic, mask), n + (" (the default)" if n == "default" else "")) for n in MODELS]
    half = [cv2.resize(t, (t.shape[1] // 2, t.shape[0] // 2), interpolation=cv2.INTER_AREA) for t in tiles]
    top, bottom = hstack(half[:2]), hstack(half[2:])
    write_image(args.out / "demo.png", np.vstack([top, np.full((4, top.shape[1], 3), 255, np.uint8), bottom]))

    rows = []
    for stem, bucket in ROWS:
        img = read_image(args.eval / "inputs" / "images" / f"{stem}.png").rgb
        m = read_mask(args.eval / "inputs" / "masks" / bucket / f"{stem}.png", shape=img.shape[:2])
        shown = img.copy()
        shown[m] = 128
        tiles = [shown] + [model.inpaint(img, m) for model in grid_models.values()] + [img]
        rows.append(hstack(tiles))
    head = hstack([label(np.zeros((0, 256, 3), np.uint8), t) for t in ("input (hole grey)", *grid_models, "original")])
    grid = np.vstack([head] + [np.vstack([r, np.full((4, r.shape[1], 3), 255, np.uint8)]) for r in rows])
    write_image(args.out / "default_grid.png", grid)
    print(f"wrote {args.out / 'demo.png'} and {args.out / 'default_grid.png'}")
    if args.previous == "plain":  # the last row (box-half) without and with the photo grain, at 2x
        stem, bucket = ROWS[-1]
        img = read_image(args.eval / "inputs" / "images" / f"{stem}.png").rgb
        m = read_mask(args.eval / "inputs" / "masks" / bucket / f"{stem}.png", shape=img.shape[:2])
        pair = [label(grid_models[n].inpaint(img, m), n) for n in ("no grain", "default")]
        zoom = [cv2.resize(t, (t.shape[1] * 2, t.shape[0] * 2), interpolation=cv2.INTER_NEAREST) for t in pair]
        write_image(args.out / "grain_zoom.png", hstack(zoom))
        print(f"wrote {args.out / 'grain_zoom.png'}")


if __name__ == "__main__":
    main()
