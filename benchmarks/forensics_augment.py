"""Four kinds of training fill for the detector that the data step's inpainters, as run there, do not make
(``forensics_fused.py --steps augment``), all from the train split only, so validation, calibration and test stay as
they were:

- ``grained``: a train fill of Telea, NS, biharmonic or the lama run (one per untouched train crop, seeded) finished
  with the photo-grain step any fill can be given (``inpaintkit.models.grain``: the network's grid out for the lama
  run's fill, then the fine residual of the photo's own quiet tiles copied into the hole at the bundled weight,
  ``DEFAULT_GRAIN``; each record names the fill's maker in ``finished_from``, so leaving that inpainter out of
  training leaves these out too). A fill whose noise looks like the photo's is what made the bundled ``default`` hard to see for a
  detector that had not seen it (left out, 0.848); ``default``'s own fills are never used here.
- ``gridded``: a train fill of Telea, NS, biharmonic or the lama run (one per untouched train crop, seeded) with
  the grid an upsampling network leaves added to its hole (``inpaintkit.forensics.train.finish``'s ``grid``: a
  pattern repeating every 4, 8 or 16 px that changes slowly across the hole, 0.5-2.5x the photo's noise level),
  half of them then finished with the photo-grain step as ``grained``; ``finished_from`` names the fill's maker. The
  noise trees that had not seen ``default`` learned its grid (its strongest evidence in the trees that had: the
  lag-8 correlation) from the lama run's fills alone; with these, ``default`` left out 0.886 -> 0.941 on the noise
  branch alone (docs/forensics-history.md). For the noise trees and the calibration only (WORK/all/index.jsonl):
  the bundled CNNs never saw them; a CNN run can draw the same grid as a finish (``augment.finishes``), which on
  the ``default``-left-out fold's CNN moved it by 0.001.
- ``manipulated``: generic local manipulations (as in ManTra-Net's or TruFor's training pools) of an untouched
  train crop inside one of its fills' masks, each kind a third of the time: *resample* (the crop shrunk to 25-70 %
  and enlarged back, half of them with Gaussian noise at 30-100 % of the photo's own level: structure kept, the
  camera's noise gone), *denoise* (OpenCV's non-local means, strength 4-12) and *heal* (a Poisson clone of another
  photo's crop, ``cv2.seamlessClone``). For the CNN only (``WORK/all/index.cnn.jsonl``): in the noise trees they
  cost ``default`` left out 0.819 -> 0.776 (docs/forensics-history.md).
- ``radius``: Telea and Navier-Stokes fills at the radii the data step does not use (it fills at OpenCV's 3; here
  one of ``RADII`` per fill, seeded): one of each per untouched train crop, through one of its own fills' masks,
  named ``telea`` / ``ns`` (so leaving either out leaves these out too) with the ``radius`` in the record. A CNN
  that had seen radius 3 only scored radius-1 fills far lower (val, JPEG q75: Telea 0.980 at radius 3, 0.879 at 1;
  NS 0.975, 0.827) — and the ``shift`` probe falls back to Telea at radius 1 wherever no copy fits. For the CNN only.

Writes WORK/aug/{grained,gridded,manipulated,radius}/{images,masks} and appends: ``grained`` and ``gridded`` to
WORK/all/index.jsonl (and index.pre_tdanet.jsonl when there is one); WORK/all/index.cnn.jsonl = the CNN's index
(index.pre_tdanet.jsonl when there is one, else index.jsonl, as it stood) + ``grained``, ``manipulated`` and
``radius``. ``--kinds`` makes some of them only, into a WORK/all that has the others (``gridded`` into a WORK/all
augmented before it existed).

    .venv/bin/python benchmarks/forensics_augment.py --work WORK [--kinds gridded]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np

#: the inpainters whose train fills get the grain step, by the name before any ``:`` (``lama``: any ``lama:RUN``)
GRAINED_FROM = ("telea", "ns", "biharmonic", "lama")
GRAINED_SEED = 35
MANIPULATED_SEED = 34
GRIDDED_SEED = 41
#: the ``gridded`` fills' grid strength, as ``finish``'s gain (1.5 x gain x the photo's noise level: 0.5-2.5x), and
#: the share of them then given the photo-grain step
GRIDDED_GAIN = (1 / 3, 5 / 3)
GRIDDED_GRAIN = 0.5
#: the kinds, in the order the step makes them, and those the CNN's index takes
KINDS = ("grained", "gridded", "manipulated", "radius")
CNN_KINDS = ("grained", "manipulated", "radius")
MANIPULATIONS = ("resample", "denoise", "heal")
RADIUS_SEED = 37
#: the radii of the ``radius`` fills (the data step's OpenCV fills use 3)
RADII = (1, 2, 5, 8)
#: the OpenCV inpainters the ``radius`` fills come from: registry name -> OpenCV flag
RADIUS_FILLS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def grained_fills(recs: list[dict], out: Path, seed: int = GRAINED_SEED) -> list[dict]:
    """One ``grained`` record per untouched train crop that has fills of ``GRAINED_FROM`` (images into ``out``)."""
    from inpaintkit.forensics.train import load_sample
    from inpaintkit.io import write_image
    from inpaintkit.models.default import DEFAULT_GRAIN
    from inpaintkit.models.grain import add_grain, remove_grid

    rng = np.random.default_rng(seed)
    pool: dict[tuple, list[dict]] = {}
    for r in recs:
        if r["split"] == "train" and r["label"] == 1 and (r["inpainter"] or "").split(":")[0] in GRAINED_FROM:
            pool.setdefault((r["source_id"], r["crop"]), []).append(r)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for key in sorted(pool):
        r = pool[key][rng.integers(len(pool[key]))]
        rgb, mask = load_sample(r)
        if r["inpainter"].split(":")[0] == "lama":  # a network's fill: its grid out first, as `default` does
            fill = np.clip(remove_grid(rgb, mask), 0, 255).round().astype(np.uint8)
            rgb = np.where(mask[..., None], fill, rgb)
        done = add_grain(rgb, mask, DEFAULT_GRAIN, seed=int(rng.integers(1 << 30)))
        name = hashlib.sha1(f"grained:{r['path']}:0".encode()).hexdigest()[:16]
        path = write_image(out / "images" / f"{name}.png", done)
        rows.append({**r, "path": str(path), "inpainter": "grained", "finished_from": r["inpainter"]})
    return rows


def gridded_fills(recs: list[dict], out: Path, seed: int = GRIDDED_SEED) -> list[dict]:
    """One ``gridded`` record per untouched train crop that has fills of ``GRAINED_FROM`` (images into ``out``)."""
    from inpaintkit.forensics.train import finish, load_sample
    from inpaintkit.io import write_image
    from inpaintkit.models.default import DEFAULT_GRAIN
    from inpaintkit.models.grain import add_grain

    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for _, own in crops_with_fills(recs):
        pool = [f for f in own if f["inpainter"].split(":")[0] in GRAINED_FROM]
        if not pool:
            continue
        src = pool[rng.integers(len(pool))]
        rgb, mask = load_sample(src)
        done = finish(rgb, mask, "grid", float(rng.uniform(*GRIDDED_GAIN)), int(rng.integers(1 << 30)))
        if rng.random() < GRIDDED_GRAIN:
            done = add_grain(done, mask, DEFAULT_GRAIN, seed=int(rng.integers(1 << 30)))
        name = hashlib.sha1(f"gridded:{src['path']}".encode()).hexdigest()[:16]
        path = write_image(out / "images" / f"{name}.png", done)
        rows.append({**src, "path": str(path), "inpainter": "gridded", "finished_from": src["inpainter"]})
    return rows


def manipulate(rgb: np.ndarray, mask: np.ndarray, kind: str, other: np.ndarray, rng: np.random.Generator):
    """``rgb`` with the hole ``mask`` replaced by its ``kind`` manipulation (``other``: the crop a heal clones from),
    feathered over the hole's inner pixel; -> (uint8 image, the kind done: a heal that cannot be placed resamples)."""
    from inpaintkit.forensics.train import noise_sigma

    x = rgb.astype(np.float32)
    h, w = mask.shape
    man = None
    if kind == "heal":
        m8 = (mask * 255).astype(np.uint8)
        m8[0, :] = m8[-1, :] = 0
        m8[:, 0] = m8[:, -1] = 0
        ys, xs = np.nonzero(m8)
        if len(ys) >= 64:
            cy, cx = (ys.min() + ys.max() + 1) // 2, (xs.min() + xs.max() + 1) // 2
            try:
                src = np.ascontiguousarray(cv2.resize(other, (w, h))[..., ::-1])
                man = cv2.seamlessClone(
                    src, np.ascontiguousarray(rgb[..., ::-1]), m8, (int(cx), int(cy)), cv2.NORMAL_CLONE
                )
                man = man[..., ::-1].astype(np.float32)
            except cv2.error:
                man = None
        if man is None:
            kind = "resample"
    if kind == "resample":
        f = float(rng.uniform(0.25, 0.7))
        small = cv2.resize(rgb, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)
        interp = (cv2.INTER_LINEAR, cv2.INTER_CUBIC)[rng.integers(2)]
        man = cv2.resize(small, (w, h), interpolation=interp).astype(np.float32)
        if rng.random() < 0.5:
            grain = rng.normal(0, 1, man.shape).astype(np.float32)
            man += grain * (noise_sigma(rgb, per_channel=True) + 0.3) * float(rng.uniform(0.3, 1.0))
    elif kind == "denoise":
        s = float(rng.uniform(4, 12))
        man = cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(rgb[..., ::-1]), None, s, s, 5, 15)
        man = man[..., ::-1].astype(np.float32)
    a = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0) * mask  # soft just inside the edge, 0 outside
    a = np.maximum(a, cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32))[..., None]
    return np.clip(x * (1 - a) + man * a, 0, 255).round().astype(np.uint8), kind


def crop_key(rec: dict) -> tuple:
    """The crop a record belongs to: its photo, its crop number and its dataset folder (the parent of images/ and
    masks/; a fill's by its mask, which stays in its folder when the fill is redone elsewhere). An index that merges
    several make-dataset folders numbers each folder's crops from 0."""
    folder = Path(rec["mask_path"] if rec["label"] else rec["path"]).parent.parent
    return rec["source_id"], rec["crop"], folder


def crops_with_fills(recs: list[dict]) -> list[tuple[dict, list[dict]]]:
    """(untouched record, its crop's fill records) for each untouched train crop that has fills, in index order."""
    train = [r for r in recs if r["split"] == "train"]
    fills = own_fills(train)
    return [(r, fills[crop_key(r)]) for r in train if not r["label"] and fills.get(crop_key(r))]


def own_fills(train: list[dict]) -> dict[tuple, list[dict]]:
    """``crop_key`` -> the fill records (with a mask) of that crop, in index order."""
    fills: dict[tuple, list[dict]] = {}
    for r in train:
        if r["label"] == 1 and r["mask_path"]:
            fills.setdefault(crop_key(r), []).append(r)
    return fills


def manipulated_fills(recs: list[dict], out: Path, seed: int = MANIPULATED_SEED) -> list[dict]:
    """One ``manipulated`` record per untouched train crop that has fills (images and masks into ``out``)."""
    from inpaintkit.io import read_image, read_mask, write_image, write_mask

    rng = np.random.default_rng(seed)
    real = [r for r in recs if r["split"] == "train" and r["label"] == 0]  # a heal's other crop: any of these
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    for r, choices in crops_with_fills(recs):
        rgb = read_image(r["path"]).rgb
        mask = read_mask(choices[rng.integers(len(choices))]["mask_path"], shape=rgb.shape[:2])
        kind = MANIPULATIONS[rng.integers(len(MANIPULATIONS))]
        other = None
        if kind == "heal":
            others = [o for o in real if o["source_id"] != r["source_id"]]
            other = read_image(others[rng.integers(len(others))]["path"]).rgb
        done, kind = manipulate(rgb, mask, kind, other, rng)
        name = hashlib.sha1(f"{r['path']}:0".encode()).hexdigest()[:16]
        img = write_image(out / "images" / f"{name}.png", done)
        msk = write_mask(out / "masks" / f"{name}.png", mask)
        rows.append(
            {
                **r,
                "path": str(img),
                "label": 1,
                "inpainter": "manipulated",
                "mask_path": str(msk),
                "mask_kind": kind,
                "hole_ratio": float(mask.mean()),
            }
        )
    return rows


def radius_fills(recs: list[dict], out: Path, seed: int = RADIUS_SEED) -> list[dict]:
    """One Telea and one NS record (``RADIUS_FILLS``) per untouched train crop that has fills, each at one of
    ``RADII`` through one of the crop's own fills' masks (images into ``out``)."""
    from inpaintkit.inpainters.opencv import opencv_inpaint
    from inpaintkit.io import read_image, read_mask, write_image

    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for r, own in crops_with_fills(recs):
        rgb = read_image(r["path"]).rgb
        for name, flag in RADIUS_FILLS.items():
            src = own[rng.integers(len(own))]
            radius = int(RADII[rng.integers(len(RADII))])
            done = opencv_inpaint(rgb, read_mask(src["mask_path"], shape=rgb.shape[:2]), radius, flag)
            stem = hashlib.sha1(f"radius:{r['path']}:{name}".encode()).hexdigest()[:16]
            path = write_image(out / "images" / f"{stem}.png", done)
            rows.append({**src, "path": str(path), "inpainter": name, "radius": radius})
    return rows


def augment(work: Path, kinds: tuple[str, ...] = KINDS) -> Path | None:
    """The step: ``kinds`` into WORK/aug, the indexes of WORK/all extended (see the module's text); -> the CNN's
    index (None when there is none: ``kinds`` of the noise trees' only, into a folder without one). Refuses a
    WORK/all that already has one of them (``radius`` fills are not told apart from the data step's: only into a
    folder without a CNN index)."""
    folder = work / "all"
    index = folder / "index.jsonl"
    cnn_index = folder / "index.cnn.jsonl"
    if not index.is_file():
        sys.exit(f"{index}: not found; run the data step first (benchmarks/forensics_fused.py --steps data)")
    recs = [json.loads(line) for line in index.read_text().splitlines() if line]
    cnn_recs = [json.loads(line) for line in cnn_index.read_text().splitlines() if line] if cnn_index.is_file() else []
    have = {r.get("inpainter") for r in recs + cnn_recs} & set(KINDS)
    if have & set(kinds) or ("radius" in kinds and cnn_recs):
        sys.exit(f"{index} already has {', '.join(sorted(have & set(kinds)) or ['an augmented CNN index'])} fills")
    made = {k: [] for k in KINDS}
    makers = {
        "grained": grained_fills,
        "gridded": gridded_fills,
        "manipulated": manipulated_fills,
        "radius": radius_fills,
    }
    for k in KINDS:
        if k in kinds:
            made[k] = makers[k](recs, work / "aug" / k)
    pre = folder / "index.pre_tdanet.jsonl"
    trees = "".join(json.dumps(r) + "\n" for r in made["grained"] + made["gridded"])
    cnn = "".join(json.dumps(r) + "\n" for k in CNN_KINDS for r in made[k])
    if cnn_recs:  # a CNN index made before: these kinds added to it
        with cnn_index.open("a") as f:
            f.write(cnn)
    elif cnn:
        cnn_index.write_text((pre if pre.is_file() else index).read_text() + cnn)
    for path in (index, pre):
        if path.is_file():
            with path.open("a") as f:
                f.write(trees)
    manip = {k: sum(r["mask_kind"] == k for r in made["manipulated"]) for k in MANIPULATIONS}
    print(
        f"augment: {len(made['grained'])} grained, {len(made['gridded'])} gridded, {len(made['manipulated'])} "
        f"manipulated fills {manip}, {len(made['radius'])} at other radii",
        flush=True,
    )
    return cnn_index if cnn_index.is_file() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="the folder with all/index.jsonl (the data step's)")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"some of {','.join(KINDS)} (default: all)")
    args = ap.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        ap.error(f"--kinds: unknown kind {unknown[0]!r}" if unknown else "--kinds: name at least one")
    augment(args.work, kinds)


if __name__ == "__main__":
    main()
