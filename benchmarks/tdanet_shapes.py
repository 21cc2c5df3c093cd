"""Does the caption matter? TDANet on the synthetic captioned shapes (``inpaintkit data shapes``).

Every test mask hides one whole shape, so its colour is knowable only from the caption. For a trained run:

1. hole-PSNR with the true caption vs with a caption naming another colour for the hidden shape (target: the true
   caption >= 3 dB better) and with an empty caption; and, against the scene *without* the hidden shape, the
   hole-PSNR of the fill with an empty caption and with a caption naming only the other shapes (next to Telea's):
   a caption that names nothing at the hole should continue the background (``inpaintkit data shapes --removals``);
2. the fill's mean colour over the hidden shape vs the colour the caption names, for every colour: a confusion
   matrix (rows: named colour, columns: nearest palette colour of the fill);
3. diverse samples: ``--samples`` seeds per input differ inside the hole and keep every known pixel;
4. real photos (``--photos``: 4 tiles each at ``--photo-size``, a box and three irregular holes per tile) with an
   empty caption and with a free-form one: known pixels kept, hole-PSNR next to Telea, Navier-Stokes and the
   bundled default model, colour artefacts (the fill's CIELAB chroma minus its surroundings'), and a figure.

Train on CPU at 64x64 on shapes, their removals (the scene without the hidden shape, captioned without it or "":
``inpaintkit data shapes --removals``) and crops of real photos (``--mix`` writes that index: the shapes index plus
64x64 crops of the photos, each captioned with its photo's captions — from the photo corpus's ``captions.jsonl``,
else ``benchmarks/data/photo_captions.csv`` — or "": ``captions_of``), then evaluate. About 25 img/s of training on 2 threads. Our run for the
README's figures (~100 minutes) trained 4 000 steps on shapes + uncaptioned crops with caption_dropout 0.1, resumed
to 13 000 on captioned crops with ``--set model.caption_dropout=0``, then to 17 000 on the removal index below —
see docs/readme/tdanet.md for all three commands. The last stage::

    inpaintkit data shapes --count 1500 --out data/shapes_rm --seed 0 --removals
    python benchmarks/tdanet_shapes.py --mix data/shapes_rm/index.jsonl TRAIN_PHOTOS... --photo-crops 2000 \\
        --out data/shapes_rm_photos
    inpaintkit train --resume runs/tdanet_shapes --set data.root=data/shapes_rm_photos/index.jsonl train.steps=17000
    python benchmarks/tdanet_shapes.py --run runs/tdanet_shapes/last/generator_ema.safetensors --count 200 \\
        --samples 4 --out docs/figures/tdanet --photos HELD_OUT_PHOTOS... --photo-size 64 128

``--min-shapes 1 --max-shapes 1`` (data and benchmark alike) gives the one-shape variant. With
``caption_dropout=0`` an empty caption only ever comes with a photo crop or a removal, so it means "no object
named: continue the surroundings"; a scene whose hidden shape is still there always has its full caption.
docs/readme/tdanet.md has the figures and how our run was made.

Test scenes use another seed than the training scenes (``--seed 1``), so none was seen in training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from inpaintkit.data.shapes import COLOURS, make_scene, recaption
from inpaintkit.inpainters import create_inpainter
from inpaintkit.io import read_image, write_image
from inpaintkit.metrics import hole_psnr

NAMES = list(COLOURS)
PALETTE = np.array([COLOURS[c] for c in NAMES], np.float64)


def chroma_excess(fill: np.ndarray, mask: np.ndarray) -> float:
    """Mean CIELAB chroma inside the hole minus that of a ring of known pixels around it (ring width 1/16 of the
    side): how much more colourful the fill is than its surroundings. A coloured blob painted into a grey photo
    scores tens of units; a fill that continues its surroundings, about 0."""
    import cv2

    lab = cv2.cvtColor(fill, cv2.COLOR_RGB2LAB).astype(np.float64)  # 8-bit: L*255/100, a*+128, b*+128
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    r = max(1, fill.shape[0] // 16)
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool) & ~mask
    return float(chroma[mask].mean() - chroma[ring].mean())


#: A fill whose chroma exceeds its surroundings' by more than this (CIELAB units) counts as a colour artefact.
BLOB_CHROMA = 10.0


def nearest_colour(rgb: np.ndarray) -> int:
    return int(np.argmin(((PALETTE - rgb) ** 2).sum(1)))


#: Hand-written captions of the photos used before the corpus existed ("a tabby cat with green eyes"), by file stem.
PHOTO_CAPTIONS_CSV = Path(__file__).resolve().parent / "data" / "photo_captions.csv"


def photo_captions(path: Path = PHOTO_CAPTIONS_CSV) -> dict[str, str]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return {row["image"]: row["caption"] for row in csv.DictReader(f)}


def captions_of(photos: list[str]) -> dict[str, list[str]]:
    """Each photo's captions: those of the photo corpus (``captions.jsonl`` beside the split folders, written by
    ``inpaintkit data fetch-photos``: the description as written, its first sentence, "a giraffe"), else the
    hand-written one of ``PHOTO_CAPTIONS_CSV`` for its stem, else none. Keys are the paths as given."""
    hand, corpora, out = photo_captions(), {}, {}
    for p in photos:
        path = Path(p).resolve()
        root = path.parent.parent
        if root not in corpora:
            f = root / "captions.jsonl"
            corpora[root] = (
                {(root / r["image"]).resolve(): list(r["caption"]) for r in map(json.loads, f.read_text().splitlines())}
                if f.is_file()
                else {}
            )
        caps = corpora[root].get(path) or ([hand[path.stem]] if path.stem in hand else [])
        out[p] = [c for c in caps if c]
    return out


def central_square(rgb: np.ndarray, n: int) -> np.ndarray:
    """The photo's central square, resized to n x n (area): a captioned photo's subject stays in view."""
    import cv2

    h, w = rgb.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return cv2.resize(rgb[y : y + side, x : x + side], (n, n), interpolation=cv2.INTER_AREA)


def photo_tiles(rgb: np.ndarray, n: int) -> list[np.ndarray]:
    """The photo's central square, resized to 2n x 2n (area), cut into four n x n tiles."""
    sq = central_square(rgb, 2 * n)
    return [sq[y : y + n, x : x + n] for y in (0, n) for x in (0, n)]


def photo_eval(inp, photos: list[str], n: int, out: Path) -> dict:
    """Real photos: 4 tiles of each photo x (a centred box of 1/4 x 3/8 of the side, and one irregular mask of
    each pconv bucket 0.1-0.2 / 0.2-0.3 / 0.3-0.4). TDANet with an empty caption and with the photo's free-form
    caption vs Telea, Navier-Stokes and the bundled default model: mean hole-PSNR, known pixels kept, colour
    artefacts (``chroma_excess``: mean, and the share of fills above ``BLOB_CHROMA``), a figure."""
    from inpaintkit.masks import generate_protocol

    box = np.zeros((n, n), bool)
    box[3 * n // 8 : 5 * n // 8, 5 * n // 16 : 11 * n // 16] = True
    irregular = generate_protocol("pconv", size=n, per_bucket=len(photos) * 4, seed=0)
    others = {name: create_inpainter(name) for name in ("telea", "ns", "default")}
    captions = {p: (c[0] if c else "") for p, c in captions_of(photos).items()}
    scores: dict[str, list[float]] = {k: [] for k in ("tdanet_empty", "tdanet_caption", *others)}
    excess: dict[str, list[float]] = {k: [] for k in scores}
    kept, rows, t, truth_excess, diffs = True, [], 0, [], []
    for p in photos:
        caption = captions[p]
        for tile in photo_tiles(read_image(p).rgb, n):
            masks = [box] + [irregular[b][t][0] for b in ("0.1-0.2", "0.2-0.3", "0.3-0.4")]
            t += 1
            for j, mask in enumerate(masks):
                truth_excess.append(chroma_excess(tile, mask))
                if j == 0:  # diversity on a real photo: 4 seeds, empty caption, the box hole
                    seeds = [inp(tile, mask, caption="", seed=s).astype(float) for s in range(4)]
                    diffs += [np.abs(seeds[a][mask] - seeds[b][mask]).mean() for a in range(4) for b in range(a)]
                fills = {
                    "tdanet_empty": inp(tile, mask, caption=""),
                    "tdanet_caption": inp(tile, mask, caption=caption),
                }
                fills.update({name: o(tile, mask) for name, o in others.items()})
                kept &= all(np.array_equal(f[~mask], tile[~mask]) for f in fills.values())
                for k, f in fills.items():
                    scores[k].append(hole_psnr(f, tile, mask))
                    excess[k].append(chroma_excess(f, mask))
                if j in (0, 2) and len(rows) < 10 and t % 2 == 1:
                    shown = np.where(mask[..., None], 255, tile).astype(np.uint8)
                    rows.append(
                        np.concatenate(
                            [
                                shown,
                                fills["tdanet_empty"],
                                fills["tdanet_caption"],
                                fills["telea"],
                                fills["default"],
                                tile,
                            ],
                            axis=1,
                        )
                    )
    k = max(1, 192 // n)
    write_image(out / f"tdanet_photos_{n}.png", np.kron(np.concatenate(rows, axis=0), np.ones((k, k, 1), np.uint8)))
    return {
        "size": n,
        "photos": [Path(p).stem for p in photos],
        "pairs": len(scores["telea"]),
        "known_pixels_kept": bool(kept),
        "box_4_seeds_mean_abs_diff_in_hole": round(float(np.mean(diffs)), 2),
        "hole_psnr": {k: round(float(np.mean(v)), 2) for k, v in scores.items()},
        "chroma_excess": {k: round(float(np.mean(v)), 2) for k, v in excess.items()},
        "chroma_excess_truth": round(float(np.mean(truth_excess)), 2),
        f"share_chroma_excess_gt_{BLOB_CHROMA:g}": {
            k: round(float(np.mean(np.array(v) > BLOB_CHROMA)), 3) for k, v in excess.items()
        },
        "share_tdanet_empty_ge_telea": round(
            float(np.mean(np.array(scores["tdanet_empty"]) >= np.array(scores["telea"]))), 3
        ),
    }


def flatness(rgb: np.ndarray) -> float:
    """Mean |Laplacian| of the grey image: low on sky, fog and still water, high on foliage and fur."""
    import cv2

    return float(np.abs(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)).mean())


def captioned_eval(inp, photos: list[str], n: int, out: Path, samples: int = 4) -> dict:
    """Real captioned photos (the corpus's test split): does the caption help?

    Each captioned photo's central square at n x n with five holes (a centred box of 1/4 x 3/8 of the side, a
    centred half-side box, one irregular mask of each pconv bucket 0.1-0.2 / 0.2-0.3 / 0.3-0.4) is filled by TDANet
    with its **true** caption (the description as written), its **short** caption ("a cat"), a **wrong** caption
    (the next captioned photo's description) and the **empty** caption, and by Telea, biharmonic and ``default``.
    Scores per fill: hole PSNR and ``lpips_hed`` (the bundled VGG16 features); per pair, whether the true caption
    beats the wrong one. Then the blob check on the flattest half of all the photos' tiles (4 per photo,
    ``flatness``): the colour excess (``chroma_excess``) of TDANet's fill with an empty and with a wrong caption
    (a caption naming an animal over a foggy sky is the case that painted blobs before) next to Telea's; and the
    spread of ``samples`` seeds in the hole. Writes ``out/tdanet_captioned_{n}.npz`` (every fill and original, with
    photo ids) for the detectability stage and a figure."""
    from inpaintkit.backbones.vgg import HEDPerceptual
    from inpaintkit.masks import generate_protocol

    caps = captions_of(photos)
    captioned = [p for p in photos if caps[p]]
    if len(captioned) < 2:
        raise SystemExit(f"captioned_eval: {len(captioned)} captioned photos among {len(photos)}; need 2")
    hed = HEDPerceptual()
    irregular = generate_protocol("pconv", size=n, per_bucket=len(captioned), seed=0)
    small = np.zeros((n, n), bool)
    small[3 * n // 8 : 5 * n // 8, 5 * n // 16 : 11 * n // 16] = True
    half = np.zeros((n, n), bool)
    half[n // 4 : 3 * n // 4, n // 4 : 3 * n // 4] = True
    others = {name: create_inpainter(name) for name in ("telea", "biharmonic", "default")}
    keys = ("true", "short", "wrong", "empty", *others)
    psnr: dict[str, list[float]] = {k: [] for k in keys}
    lpips: dict[str, list[float]] = {k: [] for k in keys}
    fills_all: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    originals, ids, masks_all, rows, diffs = [], [], [], [], []
    for i, p in enumerate(captioned):
        img = central_square(read_image(p).rgb, n)
        cap_true, cap_short = caps[p][0], caps[p][-1]
        cap_wrong = caps[captioned[(i + 1) % len(captioned)]][0]
        masks = [small, half] + [irregular[b][i][0] for b in ("0.1-0.2", "0.2-0.3", "0.3-0.4")]
        for j, mask in enumerate(masks):
            fills = {
                "true": inp(img, mask, caption=cap_true),
                "short": inp(img, mask, caption=cap_short),
                "wrong": inp(img, mask, caption=cap_wrong),
                "empty": inp(img, mask, caption=""),
            }
            fills.update({name: o(img, mask) for name, o in others.items()})
            for k, f in fills.items():
                psnr[k].append(hole_psnr(f, img, mask))
                lpips[k].append(hed.score(f, img))
                fills_all[k].append(f)
            originals.append(img)
            masks_all.append(mask)
            ids.append(Path(p).stem)
            if j == 1:
                seeds = [inp(img, mask, caption=cap_true, seed=s).astype(float) for s in range(samples)]
                diffs += [np.abs(seeds[a][mask] - seeds[b][mask]).mean() for a in range(samples) for b in range(a)]
                if len(rows) < 8:
                    shown = np.where(mask[..., None], 255, img).astype(np.uint8)
                    rows.append(np.concatenate([shown, *(fills[k] for k in keys), img], axis=1))
    k = max(1, 192 // n)
    out.mkdir(parents=True, exist_ok=True)
    write_image(out / f"tdanet_captioned_{n}.png", np.kron(np.concatenate(rows, axis=0), np.ones((k, k, 1), np.uint8)))
    np.savez_compressed(
        out / f"tdanet_captioned_{n}.npz",
        originals=np.stack(originals),
        masks=np.stack(masks_all),
        ids=np.array(ids),
        **{f"fill_{k}": np.stack(v) for k, v in fills_all.items()},
    )
    t, w = np.array(psnr["true"]), np.array(psnr["wrong"])
    lt, lw = np.array(lpips["true"]), np.array(lpips["wrong"])
    per_photo = {}
    for pid in dict.fromkeys(ids):
        sel = np.array(ids) == pid
        per_photo[pid] = {
            "true_minus_wrong_db": round(float((t[sel] - w[sel]).mean()), 3),
            "wrong_minus_true_lpips": round(float((lw[sel] - lt[sel]).mean()), 4),
        }

    # blob check on flat tiles: every photo's four tiles, the flattest half
    tiles = [tile for p in photos for tile in photo_tiles(read_image(p).rgb, n)]
    flat = sorted(tiles, key=flatness)[: max(1, len(tiles) // 2)]
    excess: dict[str, list[float]] = {"tdanet_empty": [], "tdanet_wrong": [], "telea": [], "truth": []}
    wrong_caps = [caps[c][0] for c in captioned]
    for i, tile in enumerate(flat):
        for mask in (small, half):
            excess["tdanet_empty"].append(chroma_excess(inp(tile, mask, caption=""), mask))
            excess["tdanet_wrong"].append(chroma_excess(inp(tile, mask, caption=wrong_caps[i % len(wrong_caps)]), mask))
            excess["telea"].append(chroma_excess(others["telea"](tile, mask), mask))
            excess["truth"].append(chroma_excess(tile, mask))
    return {
        "size": n,
        "captioned_photos": [Path(p).stem for p in captioned],
        "pairs": int(len(t)),
        "hole_psnr": {k: round(float(np.mean(v)), 2) for k, v in psnr.items()},
        "lpips_hed": {k: round(float(np.mean(v)), 4) for k, v in lpips.items()},
        "true_minus_wrong_db": round(float((t - w).mean()), 3),
        "share_pairs_true_better_psnr": round(float(np.mean(t > w)), 3),
        "wrong_minus_true_lpips": round(float((lw - lt).mean()), 4),
        "share_pairs_true_better_lpips": round(float(np.mean(lt < lw)), 3),
        "photos_true_better_psnr": int(sum(v["true_minus_wrong_db"] > 0 for v in per_photo.values())),
        "photos_true_better_lpips": int(sum(v["wrong_minus_true_lpips"] > 0 for v in per_photo.values())),
        "per_photo": per_photo,
        "empty_minus_telea_db": round(float(np.mean(psnr["empty"]) - np.mean(psnr["telea"])), 3),
        "samples": samples,
        "sample_mean_abs_diff_in_hole": round(float(np.mean(diffs)), 2),
        "flat_tiles": len(flat),
        "flat_chroma_excess": {k: round(float(np.mean(v)), 2) for k, v in excess.items()},
        f"flat_share_chroma_excess_gt_{BLOB_CHROMA:g}": {
            k: round(float(np.mean(np.array(v) > BLOB_CHROMA)), 3) for k, v in excess.items()
        },
    }


def captioned_detectability(npz: Path, seed: int = 0) -> dict:
    """``detectability`` (``inpaintkit evaluate --realism``'s out-of-fold ROC-AUC of a per-method real-vs-filled
    detector on noise-branch features, folds grouped by photo; 0.5 = indistinguishable) of every method in a
    ``captioned_eval`` npz: the fills of each method against the untouched squares."""
    from inpaintkit.evaluate.realism import NoiseFeatures, RealismInput, detectability

    data = np.load(npz)
    ids = [str(i) for i in data["ids"]]
    methods = [k[len("fill_") :] for k in data.files if k.startswith("fill_")]
    feats = NoiseFeatures()
    real, fake, keys = {}, {}, []
    for j, pid in enumerate(ids):
        if pid not in real:
            real[pid] = feats(data["originals"][j])
        for m in methods:
            key = (m, "all", pid, str(j))
            keys.append(key)
            fake[key] = feats(data[f"fill_{m}"][j])
    res = detectability(methods, [], RealismInput(keys, list(real), real, fake), seed=seed)
    return {m: {k: round(v, 3) for k, v in res["table"]["all"][m].items()} for m in methods}


def evaluate(
    run: str,
    count: int,
    seed: int,
    samples: int,
    out: Path,
    photos: list[str] | None = None,
    min_shapes: int = 2,
    max_shapes: int = 3,
    photo_sizes: tuple[int, ...] = (64,),
    captioned: list[str] | None = None,
) -> dict:
    torch.set_num_threads(1)
    inp = create_inpainter("tdanet", checkpoint=run, device="cpu")
    rng = np.random.default_rng(seed)
    res: dict = {"run": run, "count": count, "seed": seed, "shapes_per_scene": [min_shapes, max_shapes]}
    true_p, wrong_p, empty_p = [], [], []
    telea = create_inpainter("telea")
    background: dict[str, list[float]] = {"empty_caption": [], "other_shapes_caption": [], "telea": []}
    confusion = np.zeros((len(NAMES), len(NAMES)), int)
    figure_rows = []
    t0 = time.perf_counter()
    for i in range(count):
        sc = make_scene(seed, i, min_shapes=min_shapes, max_shapes=max_shapes)
        hidden = sc.shapes[sc.hidden]
        sil = sc.shape_masks[sc.hidden]
        fill_true = inp(sc.image, sc.mask, caption=sc.caption)
        other = NAMES[(NAMES.index(hidden.colour) + int(rng.integers(1, len(NAMES)))) % len(NAMES)]
        fill_wrong = inp(sc.image, sc.mask, caption=recaption(sc, other))
        fill_empty = inp(sc.image, sc.mask, caption="")
        true_p.append(hole_psnr(fill_true, sc.image, sc.mask))
        wrong_p.append(hole_psnr(fill_wrong, sc.image, sc.mask))
        empty_p.append(hole_psnr(fill_empty, sc.image, sc.mask))
        # a caption that names nothing at the hole: does the fill continue the background (the scene without it)?
        background["empty_caption"].append(hole_psnr(fill_empty, sc.removed, sc.mask))
        background["other_shapes_caption"].append(
            hole_psnr(inp(sc.image, sc.mask, caption=sc.removed_caption), sc.removed, sc.mask)
        )
        background["telea"].append(hole_psnr(telea(sc.image, sc.mask), sc.removed, sc.mask))
        for named in NAMES:  # the confusion: what colour comes out when the caption names `named`?
            fill = fill_true if named == hidden.colour else inp(sc.image, sc.mask, caption=recaption(sc, named))
            confusion[NAMES.index(named), nearest_colour(fill[sil].mean(0))] += 1
        if len(figure_rows) < 6:
            shown = np.where(sc.mask[..., None], 255, sc.image).astype(np.uint8)
            figure_rows.append(np.concatenate([shown, fill_true, fill_wrong, fill_empty, sc.image], axis=1))
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["hole_psnr_true_caption"] = round(float(np.mean(true_p)), 2)
    res["hole_psnr_wrong_colour"] = round(float(np.mean(wrong_p)), 2)
    res["hole_psnr_empty_caption"] = round(float(np.mean(empty_p)), 2)
    res["gap_true_minus_wrong_db"] = round(res["hole_psnr_true_caption"] - res["hole_psnr_wrong_colour"], 2)
    res["background_hole_psnr"] = {k: round(float(np.mean(v)), 2) for k, v in background.items()}
    res["share_true_better"] = round(float(np.mean(np.array(true_p) > np.array(wrong_p))), 3)
    res["colour_accuracy"] = round(float(np.trace(confusion) / confusion.sum()), 3)
    res["confusion"] = {"colours": NAMES, "rows_named_cols_filled": confusion.tolist()}

    # diverse samples: differ in the hole, identical outside it
    diffs, kept = [], True
    sample_rows = []
    for i in range(min(count, 16)):
        sc = make_scene(seed, i, min_shapes=min_shapes, max_shapes=max_shapes)
        fills = [inp(sc.image, sc.mask, caption=sc.caption, seed=s) for s in range(samples)]
        kept &= all(np.array_equal(f[~sc.mask], sc.image[~sc.mask]) for f in fills)
        diffs += [
            np.abs(fills[a][sc.mask].astype(float) - fills[b][sc.mask].astype(float)).mean()
            for a in range(samples)
            for b in range(a + 1, samples)
        ]
        if len(sample_rows) < 4:
            shown = np.where(sc.mask[..., None], 255, sc.image).astype(np.uint8)
            sample_rows.append(np.concatenate([shown, *fills], axis=1))
    res["samples"] = samples
    res["sample_mean_abs_diff_in_hole"] = round(float(np.mean(diffs)), 2)
    res["sample_min_abs_diff_in_hole"] = round(float(np.min(diffs)), 2)
    res["samples_keep_known_pixels"] = bool(kept)

    out.mkdir(parents=True, exist_ok=True)
    up = lambda a: np.kron(a, np.ones((3, 3, 1), np.uint8))  # noqa: E731  (3x nearest for viewing)
    write_image(out / "tdanet_shapes_captions.png", up(np.concatenate(figure_rows, axis=0)))
    write_image(out / "tdanet_shapes_samples.png", up(np.concatenate(sample_rows, axis=0)))

    if photos:
        res["photos"] = [photo_eval(inp, photos, n, out) for n in photo_sizes]
    if captioned:
        res["captioned"] = [captioned_eval(inp, captioned, n, out, samples) for n in photo_sizes]
        for c in res["captioned"]:
            c["detectability"] = captioned_detectability(out / f"tdanet_captioned_{c['size']}.npz")
    (out / "tdanet_shapes.json").write_text(json.dumps(res, indent=1))
    return res


def mixed_index(
    shapes_index: str, photos: list[str], out: Path, count: int = 1500, seed: int = 0, shapes_share: float | None = None
) -> Path:
    """``out/index.jsonl``: the shapes index plus ``count`` 64x64 crops of ``photos``. A crop of a captioned photo
    (``captions_of``) is a square of 0.5-1 of the short side, so its subject stays in view, and gets the photo's
    captions plus "" (the data loader picks one per sample); a crop of an uncaptioned photo is 0.15-1 of the short
    side and gets no caption. Crops go round the photos in order. ``shapes_share`` (0-1): keep only enough shape
    records (a seeded random subset) for that share of the index; None keeps them all."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    small, caps, known = [], [], captions_of(photos)
    for p in photos:
        caps.append([*known[p], ""] if known[p] else [])
        rgb = read_image(p).rgb
        s = 512 / min(rgb.shape[:2])
        small.append(cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA))
    base = Path(shapes_index).resolve().parent
    recs = []
    for line in Path(shapes_index).read_text().splitlines():
        r = json.loads(line)
        recs.append({**r, "path": str(base / r["path"]), "mask": str(base / r["mask"])})
    if shapes_share is not None:
        if not 0 <= shapes_share < 1:
            raise ValueError(f"shapes_share: expected 0 <= share < 1, got {shapes_share}")
        keep = min(len(recs), round(count * shapes_share / (1 - shapes_share)))
        recs = [recs[i] for i in sorted(rng.permutation(len(recs))[:keep])]
    for i in range(count):
        img, img_caps = small[i % len(small)], caps[i % len(small)]
        h, w = img.shape[:2]
        side = int(min(h, w) * rng.uniform(0.5 if img_caps else 0.15, 1.0))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        write_image(
            out / f"photo_{i:05d}.png",
            cv2.resize(img[y : y + side, x : x + side], (64, 64), interpolation=cv2.INTER_AREA),
        )
        recs.append({"path": str(out / f"photo_{i:05d}.png"), "split": "train", "captions": img_caps})
    (out / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return out / "index.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run folder (or its weights file) of a tdanet training on shapes")
    ap.add_argument("--count", type=int, default=200, help="test scenes")
    ap.add_argument("--seed", type=int, default=1, help="test scene seed (training used 0)")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument(
        "--photos",
        nargs="*",
        default=None,
        help="held-out real photos for the empty/free-form caption "
        "check (4 tiles each, box + irregular holes, vs Telea, NS and the default model)",
    )
    ap.add_argument(
        "--photo-size",
        type=int,
        nargs="+",
        default=[64],
        help="side(s) of the photo tiles (default: the training size)",
    )
    ap.add_argument(
        "--captioned",
        nargs="*",
        default=None,
        help="real photos for the caption check (the corpus's test split: captions from its captions.jsonl): true vs "
        "wrong vs empty caption, Telea, biharmonic and default alongside, the blob check on the flattest tiles",
    )
    ap.add_argument("--min-shapes", type=int, default=2, help="as given to `inpaintkit data shapes`")
    ap.add_argument("--max-shapes", type=int, default=3)
    ap.add_argument("--out", default="docs/figures/tdanet")
    ap.add_argument(
        "--mix",
        nargs="+",
        metavar=("SHAPES_INDEX", "PHOTO"),
        default=None,
        help="instead of evaluating: write --out/index.jsonl = shapes index + crops of these photos",
    )
    ap.add_argument("--photo-crops", type=int, default=1500, help="with --mix: how many photo crops")
    ap.add_argument(
        "--shapes-share",
        type=float,
        default=None,
        help="with --mix: share of shape records in the index (default: all)",
    )
    args = ap.parse_args()
    if args.mix:
        print(
            mixed_index(
                args.mix[0], args.mix[1:], Path(args.out), count=args.photo_crops, shapes_share=args.shapes_share
            )
        )
        return
    if not args.run:
        ap.error("--run is required (or --mix to write a mixed index)")
    res = evaluate(
        args.run,
        args.count,
        args.seed,
        args.samples,
        Path(args.out),
        args.photos,
        args.min_shapes,
        args.max_shapes,
        args.photo_size,
        args.captioned,
    )
    json.dump(res, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
