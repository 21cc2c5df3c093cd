"""A synthetic captioned data set where only the caption can tell what is in the hole.

Each scene is a few coloured shapes (circle, square, triangle) on a textured, low-saturation background, one shape
per quadrant; the caption names every shape's colour, kind and position ("a red circle at the top left, a blue
square at the bottom right and a green triangle at the top right"). Colours within a scene are distinct. With each
image comes a mask (255 = hole) that covers one shape entirely (its silhouette grown by a few pixels) and nothing
else, so the hidden shape's colour is knowable only from the caption — the test bed of text-guided inpainting
(``benchmarks/tdanet_shapes.py``).

Every scene also has its *removal* counterpart: the same image without the hidden shape (background and the other
shapes only) and a caption naming only the shapes still there. With ``removals=True`` these join the training
index under the same mask, with that caption or "" — so a caption that names nothing at the hole means "continue
the background", not "some coloured shape": without them every training hole hides a shape, and the model learns
to paint a coloured blob into any hole, real photos included.

``write_shapes(out, count)`` writes::

    out/images/00000.png ...   the scenes (RGB)
    out/masks/00000.png ...    the per-image masks, same stem
    out/captions.jsonl         {"image": "images/00000.png", "caption": "..."} (``read_captions`` reads it)
    out/scenes.jsonl           every shape's colour, kind, position and box, and which one is hidden
    out/removed/00000.png ...  (``removals=True``) the scenes without their hidden shape
    out/index.jsonl            the training index (``data.root``): path, split (every 10th scene ``val``),
                               captions and the per-image ``mask`` the training data set uses instead of its mix;
                               with ``removals=True`` one more record per scene: its removal counterpart, captioned
                               [caption of the visible shapes, ""] ("" alone when no other shape is left)

Scene ``i`` depends only on (``seed``, ``i``), so a larger ``count`` extends a data set without changing it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InpaintKitError
from ..io import write_image, write_mask

#: Named colours (RGB), far apart from each other and from the grey backgrounds.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (40, 70, 230),
    "yellow": (240, 220, 30),
    "purple": (150, 40, 200),
    "orange": (250, 130, 20),
}
KINDS: tuple[str, ...] = ("circle", "square", "triangle")
#: Quadrant names, in (row, column) order.
POSITIONS: tuple[str, ...] = ("top left", "top right", "bottom left", "bottom right")
#: How far (pixels at 64²) the mask reaches beyond the hidden shape's silhouette, to cover its anti-aliased edge.
MASK_GROW = 2


@dataclass
class Shape:
    colour: str
    kind: str
    position: str
    #: (x0, y0, x1, y1), exclusive ends.
    box: tuple[int, int, int, int]

    def phrase(self) -> str:
        article = "an" if self.colour[0] in "aeiou" else "a"
        return f"{article} {self.colour} {self.kind} at the {self.position}"


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool, True = hole over shapes[hidden]
    shapes: list[Shape]
    hidden: int
    caption: str
    shape_masks: list[np.ndarray] = field(default_factory=list, repr=False)  # each (H, W) bool silhouette
    #: The same scene without the hidden shape (same background, the other shapes), and its caption.
    removed: np.ndarray | None = field(default=None, repr=False)
    removed_caption: str = ""


def caption_for(shapes: list[Shape], order: list[int] | None = None) -> str:
    """ "a red circle at the top left, a blue square at the bottom right and a green triangle at the top right"."""
    parts = [shapes[i].phrase() for i in (order if order is not None else range(len(shapes)))]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Textured grey: smooth noise + stripes at a random angle + fine grain, with a faint tint. (H, W, 3) float."""
    base = rng.uniform(90, 170)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), size / 10)
    noise = noise / (noise.std() + 1e-6) * rng.uniform(8, 18)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(size / 10, size / 4)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) * rng.uniform(4, 12)
    grain = rng.normal(0, 3, (size, size))
    grey = base + noise + stripes + grain
    tint = rng.uniform(-8, 8, 3)  # low saturation: no background is mistaken for a named colour
    return grey[..., None] + tint


def _draw(kind: str, size: int, cx: float, cy: float, r: float) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] (H, W) of one shape, drawn at 4x and area-downsampled."""
    s = 4
    canvas = np.zeros((size * s, size * s), np.uint8)
    c = (int(round(cx * s)), int(round(cy * s)))
    rs = int(round(r * s))
    if kind == "circle":
        cv2.circle(canvas, c, rs, 255, -1)
    elif kind == "square":
        side = rs * 0.85
        cv2.rectangle(canvas, (int(c[0] - side), int(c[1] - side)), (int(c[0] + side), int(c[1] + side)), 255, -1)
    else:  # triangle pointing up
        pts = np.array(
            [[c[0], c[1] - rs], [c[0] - rs * 0.95, c[1] + rs * 0.8], [c[0] + rs * 0.95, c[1] + rs * 0.8]], np.int32
        )
        cv2.fillPoly(canvas, [pts], 255)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def make_scene(seed: int, index: int, size: int = 64, min_shapes: int = 2, max_shapes: int = 3) -> Scene:
    """Scene ``index`` of the data set with ``seed``: deterministic, independent of every other scene."""
    if size < 32:
        raise InpaintKitError(f"shapes: size must be at least 32 pixels, got {size}")
    if not 1 <= min_shapes <= max_shapes <= len(POSITIONS):
        raise InpaintKitError(
            f"shapes: need 1 <= min_shapes <= max_shapes <= {len(POSITIONS)}, got {min_shapes}, {max_shapes}"
        )
    rng = np.random.default_rng([seed, index])
    n = int(rng.integers(min_shapes, max_shapes + 1))
    cells = rng.choice(len(POSITIONS), size=n, replace=False)
    colours = rng.choice(list(COLOURS), size=n, replace=False)
    kinds = rng.choice(KINDS, size=n)
    background = img = _background(rng, size)
    half = size / 2
    shapes, silhouettes, layers = [], [], []
    for cell, colour, kind in zip(cells, colours, kinds):
        row, col = divmod(int(cell), 2)
        r = rng.uniform(0.26, 0.34) * half  # radius; the centre jitter keeps the shape (and its mask) in its cell
        slack = half / 2 - r - MASK_GROW - 1
        cx = col * half + half / 2 + rng.uniform(-slack, slack)
        cy = row * half + half / 2 + rng.uniform(-slack, slack)
        cover = _draw(str(kind), size, cx, cy, r)
        shade = np.array(COLOURS[str(colour)], np.float32) * rng.uniform(0.92, 1.05)
        img = img * (1 - cover[..., None]) + shade * cover[..., None]
        layers.append((cover[..., None], shade))
        sil = cover > 0
        ys, xs = np.nonzero(sil)
        shapes.append(
            Shape(
                str(colour),
                str(kind),
                POSITIONS[int(cell)],
                (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
            )
        )
        silhouettes.append(sil)
    image = np.clip(img, 0, 255).round().astype(np.uint8)
    hidden = int(rng.integers(n))
    grow = MASK_GROW * max(1, size // 64)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    mask = cv2.dilate(silhouettes[hidden].astype(np.uint8), kernel) > 0
    order = [int(i) for i in rng.permutation(n)]
    removed = background
    for j, (cover, shade) in enumerate(layers):
        if j != hidden:
            removed = removed * (1 - cover) + shade * cover
    removed = np.clip(removed, 0, 255).round().astype(np.uint8)
    return Scene(
        image,
        mask,
        shapes,
        hidden,
        caption_for(shapes, order),
        silhouettes,
        removed,
        caption_for(shapes, [i for i in order if i != hidden]),
    )


def recaption(scene: Scene, hidden_colour: str) -> str:
    """The scene's caption with the hidden shape's colour replaced by ``hidden_colour`` (a counterfactual)."""
    if hidden_colour not in COLOURS:
        raise InpaintKitError(f"unknown colour {hidden_colour!r}; choose from: {', '.join(COLOURS)}")
    old = scene.shapes[scene.hidden]
    phrase = old.phrase()
    new = Shape(hidden_colour, old.kind, old.position, old.box).phrase()
    if phrase not in scene.caption:
        raise ValueError(f"caption {scene.caption!r} does not name {phrase!r}")
    return scene.caption.replace(phrase, new)


def write_shapes(
    out: str | Path,
    count: int,
    *,
    seed: int = 0,
    size: int = 64,
    min_shapes: int = 2,
    max_shapes: int = 3,
    removals: bool = False,
) -> Path:
    """Write ``count`` scenes with their masks, captions and scene descriptions under ``out`` (see module doc)."""
    if count < 1:
        raise InpaintKitError(f"shapes: --count must be at least 1, got {count}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InpaintKitError(f"{out}: is a file; choose a folder for the shapes data set")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    if removals:
        (out / "removed").mkdir(exist_ok=True)
    captions, scenes, index = [], [], []
    for i in range(count):
        sc = make_scene(seed, i, size, min_shapes, max_shapes)
        name = f"{i:05d}.png"
        write_image(out / "images" / name, sc.image)
        write_mask(out / "masks" / name, sc.mask)
        split = "val" if i % 10 == 9 else "train"
        captions.append(json.dumps({"image": f"images/{name}", "caption": sc.caption}))
        scene = {
            "image": f"images/{name}",
            "mask": f"masks/{name}",
            "caption": sc.caption,
            "hidden": sc.hidden,
            "shapes": [asdict(s) for s in sc.shapes],
        }
        index.append(
            json.dumps({"path": f"images/{name}", "split": split, "captions": [sc.caption], "mask": f"masks/{name}"})
        )
        if removals:
            write_image(out / "removed" / name, sc.removed)
            scene.update(removed=f"removed/{name}", removed_caption=sc.removed_caption)
            index.append(
                json.dumps(
                    {
                        "path": f"removed/{name}",
                        "split": split,
                        "captions": [sc.removed_caption, ""] if sc.removed_caption else [""],
                        "mask": f"masks/{name}",
                    }
                )
            )
        scenes.append(json.dumps(scene))
    (out / "captions.jsonl").write_text("\n".join(captions) + "\n")
    (out / "scenes.jsonl").write_text("\n".join(scenes) + "\n")
    (out / "index.jsonl").write_text("\n".join(index) + "\n")
    return out
