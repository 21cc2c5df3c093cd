"""Reproduce the bundled fused detector (noise + duplication + CNN branches) and its figures, on CPU.

    .venv/bin/python benchmarks/forensics_fused.py --corpus /work/corpus --work /work/fx \\
        --inpainters telea,ns,biharmonic,patchmatch,default,lama:RUN_DIR --extra-real 12 --add-inpainters tdanet \\
        --steps data,augment,cnn,cnn-jpeg,add,fit,evaluate,robustness,loo --cnn /work/fx/cnn --cnn-jpeg /work/fx/cnn_jpeg \\
        --install

The photo corpus has train/, val/ and test/ folders of photos (no photo in two). Steps (each CLI step is printed):

1. ``data``: ``inpaintkit forensics make-dataset`` once per folder, 256² crops at 0.5-1x scale, masks irregular,
   lama-thick and boxes. train: 2 crops/photo, each filled by every inpainter of ``--inpainters``; val: 6
   crops/photo, the same; test: 10 crops/photo x 3 fills, taken in turn from those *and* the two probe fills no
   branch ever trains on (``shift``: a copy of another region, ``heat``: a heat-equation fill). ``--extra-real N``:
   N more untouched crops per val photo (for the thresholds; their cheap Telea fills are dropped). The indexes are
   merged into WORK/all/index.jsonl with the split taken from the folder.
   ``augment`` (``benchmarks/forensics_augment.py``): four kinds of train fill the data step does not make —
   ``grained`` (Telea, NS, biharmonic and lama-run fills finished with the photo-grain step) and ``gridded`` (the
   same fills with an upsampling network's grid added, half of them grained too, for the noise trees only; both
   appended to WORK/all),
   ``manipulated`` (resampled, denoised or Poisson-cloned holes) and Telea/NS fills at radii other than 3 (these
   two for the CNN only, WORK/all/index.cnn.jsonl).
2. ``cnn``: ``inpaintkit forensics train --config configs/forensics/corpus.yaml`` on WORK/all (its index.cnn.jsonl
   after ``augment``; train split; the checkpoint with the best val ROC-AUC) into WORK/cnn.
   ``cnn-jpeg``: the CNN branch's network for JPEG inputs: a copy of the ``--cnn`` run folder resumed into
   ``--cnn-jpeg`` to ``--cnn-jpeg-steps`` steps on JPEG-compressed samples only (q40-95; ``inpaintkit forensics
   train --set augment.p_jpeg=1.0 ... data.val_jpeg=75``), exported from its last checkpoint (the resumed run's
   "best" score carries the clean-image phase's, which the JPEG-only steps' q75 scores do not beat). With ``--cnn-jpeg-init JPEG_CNN`` (a detector folder;
   ``default``: today's bundled ``cnn_jpeg/``; the bundled one came from the one bundled before it) it instead
   fine-tunes that JPEG CNN
   (``train.init``, a fresh optimiser, lr 5e-4, 256² samples: ``JPEG_FINE_TUNE``) for ``--cnn-jpeg-steps`` JPEG-only steps on WORK/tv (train + val as
   made, without the extra untouched crops), exported from its best checkpoint by val ROC-AUC at JPEG q75
   (``data.val_jpeg=75``); ``--cnn-jpeg-more-crops N`` adds N more crops per train photo to its samples (WORK/tvm,
   ``more_train_crops``; the bundled JPEG CNN: 4, ``--cnn-jpeg-steps 6000``).
   ``add``: ``--add-inpainters`` (the bundled one: ``tdanet``) fill the crops already made, after the CNN steps
   (so the CNN never sees them): each untouched crop that has fills, with the mask of one of its own fills.
   ``small`` (not in the bundled detector's recipe; measured in docs/forensics-history.md, "Small fills in large
   photos"): small fills in large photos for the calibration: 768x512 crops of the val photos at full
   resolution, each untouched and with one elliptic hole of 0.5-3 % filled by each of ``--inpainters``
   (``benchmarks/forensics_small.py``'s ``make``, seed 11), into WORK/val_small, appended to WORK/all as val.
3. ``fit``: ``inpaintkit forensics fit-detector --data WORK/all --out WORK/fused --cnn CNN [--cnn-jpeg CNN_JPEG]
   --photos CORPUS/val`` (noise trees trained on train, every branch calibrated on val; ``--cnn default``: the
   bundled CNN as it is; the val photos, whole and as crops larger than the CNN's tile, set the CNN branch's
   ``tile_correction``). ``tiles``: only that last part, on ``--tiles-dir`` (default WORK/fused; the bundled
   detector's was set so: ``--steps tiles --tiles-dir inpaintkit/weights/detector``).
4. ``evaluate``: ``inpaintkit forensics evaluate`` on all of test (clean): every branch and the fusion, per
   inpainter; ``robustness``: the same under JPEG q90/75/50 and resize 0.75/0.5 on the first ``--limit-per-source``
   crops of each test photo (CPU time).
5. ``loo``: leave one inpainter out, for each training inpainter X: the noise trees trained and every branch
   calibrated without X, tested on X and on the rest (test split, clean); the probe fills are unseen in every run.
   Done in one process with the block features computed once (the trees are cheap, the features are not). The CNN
   branch is not part of these runs. ``loo-full``: the whole detector, CNN included, for each of ``--loo-full``'s
   inpainters X: the CNN trained from scratch without X (``configs/forensics/corpus.yaml``, ``--loo-cnn-steps``
   steps, ~37-43 min for 6 000 on one thread), ``fit-detector --exclude X --cnn`` that run, then ``inpaintkit forensics
   evaluate --loo`` over all of them (WORK/loo/report).
6. ``--install``: copy fusion.json and the noise trees (noise_lgbm.txt, noise_lgbm_jpeg.txt) into
   inpaintkit/weights/detector; with ``--cnn RUN`` also the CNN's model.safetensors, detector.json and config.yaml,
   and re-export model.onnx from them; with ``--cnn-jpeg RUN`` the same for the JPEG CNN, into its ``cnn_jpeg/``.
   ``--install-kinds png`` or ``jpeg``: only that input kind's half (``install_half``), the bundled other half kept.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SEEN = ("telea", "ns", "biharmonic", "patchmatch", "default")
PROBES = ("shift", "heat")


def run(*args: str) -> None:
    print("$ inpaintkit " + " ".join(shlex.quote(a) for a in args), flush=True)
    subprocess.run([sys.executable, "-m", "inpaintkit", *args], check=True, cwd=REPO)


def make_dataset(images: Path, inpainters: str, masks: str, per_image: int, crops: int, seed: int, out: Path) -> None:
    """One ``inpaintkit forensics make-dataset`` folder: 256² crops at 0.5-1x scale, every sample in one split."""
    run(
        "forensics",
        "make-dataset",
        "--images",
        str(images),
        "--inpainters",
        inpainters,
        "--masks",
        masks,
        "--per-image",
        str(per_image),
        "--crops-per-image",
        str(crops),
        "--scale",
        "0.5-1.0",
        "--val-frac",
        "0",
        "--test-frac",
        "0",
        "--seed",
        str(seed),
        "--out",
        str(out),
    )


#: the data step's mask kinds
MASKS = "irregular,lama-thick,boxes"


def absolute_records(folder: Path) -> list[dict]:
    """The records of ``folder/index.jsonl`` (a ``make-dataset`` folder) with their image and mask paths made
    absolute, so that an index elsewhere can list them."""
    recs = []
    for line in (folder / "index.jsonl").read_text().splitlines():
        r = json.loads(line)
        r["path"] = str(folder / r["path"])
        if r.get("mask_path"):
            r["mask_path"] = str(folder / r["mask_path"])
        recs.append(r)
    return recs


def make_data(corpus: Path, work: Path, seen: tuple[str, ...] = SEEN, extra_real: int = 0) -> Path:
    splits = {"train": (2, len(seen), seen), "val": (6, len(seen), seen), "test": (10, 3, seen + PROBES)}
    for i, (split, (crops, fills, inps)) in enumerate(splits.items()):
        make_dataset(corpus / split, ",".join(inps), MASKS, fills, crops, i + 1, work / split)
    if extra_real:
        # more untouched val crops for the thresholds (the fills of this folder are not used: one cheap Telea fill
        # per crop, because make-dataset always fills)
        make_dataset(corpus / "val", "telea", "irregular", 1, extra_real, 11, work / "val_real")
    lines, tv = [], []  # tv: train + val as made (no extra untouched crops, no test), for the cnn-jpeg fine-tune
    for split in (*splits, *(("val_real",) if extra_real else ())):
        if split == "test":
            tv = list(lines)
        for r in absolute_records(work / split):
            if split == "val_real" and r["label"]:
                continue
            r["split"] = "val" if split == "val_real" else split
            lines.append(json.dumps(r))
    (work / "all").mkdir(parents=True, exist_ok=True)
    (work / "all" / "index.jsonl").write_text("\n".join(lines) + "\n")
    (work / "tv").mkdir(parents=True, exist_ok=True)
    (work / "tv" / "index.jsonl").write_text("\n".join(tv) + "\n")
    return work / "all"


def add_fills(work: Path, spec: str, seed: int = 11) -> int:
    """One more inpainter on the data already made: every untouched crop of WORK/all that has fills (all splits)
    filled by ``spec`` with the mask of one of that crop's fills (seeded), into WORK/add-NAME/, the records
    appended to WORK/all/index.jsonl (the crops stay the ones every other inpainter filled); the index as it stood
    is kept as WORK/all/index.pre_NAME.jsonl (the bundled detector's test figures are on ``index.pre_tdanet.jsonl``:
    no TDANet fills). Returns the count."""
    from inpaintkit.data.dataset import read_index
    from inpaintkit.forensics.train import load_sample
    from inpaintkit.inpainters import create_inpainter_from_spec
    from inpaintkit.io import read_mask, write_image, write_mask

    path = work / "all" / "index.jsonl"
    recs = read_index(path)
    if any(r.get("inpainter") == spec for r in recs):
        sys.exit(f"{path} already has {spec} fills")
    fills: dict[tuple, list[dict]] = {}
    for r in recs:
        if r["label"] and not r.get("finished_from"):  # the augment step's grained fills repeat their makers' masks
            fills.setdefault((r["split"], r["source_id"], r["crop"]), []).append(r)
    model = create_inpainter_from_spec(spec)
    rng = np.random.default_rng(seed)
    out = work / f"add-{spec.split(':')[0]}"
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    done, lines = set(), []
    for r in recs:
        key = (r["split"], r["source_id"], r["crop"])
        if r["label"] or key in done or key not in fills:
            continue
        done.add(key)
        rgb, _ = load_sample(r)
        src = fills[key][rng.integers(len(fills[key]))]
        mask = read_mask(src["mask_path"])
        name = f"{r['split']}_{r['source_id']}_{r['crop']}"
        img_path, mask_path = out / "images" / f"{name}.png", out / "masks" / f"{name}.png"
        write_image(img_path, model.inpaint(rgb, mask))
        write_mask(mask_path, mask)
        lines.append(json.dumps({**src, "inpainter": spec, "path": str(img_path), "mask_path": str(mask_path)}))
    pre = path.with_name(f"index.pre_{spec.split(':')[0]}.jsonl")
    if not pre.exists():
        shutil.copyfile(path, pre)
    with path.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"add: {len(lines)} {spec} fills into {out}", flush=True)
    return len(lines)


#: the cnn-jpeg step's training samples: every one JPEG-compressed, at quality 40-95; its validation (which picks
#: the best checkpoint) on the val images at JPEG q75
JPEG_ONLY = ("augment.p_jpeg=1.0", "augment.jpeg_quality=[40,95]", "data.val_jpeg=75")
#: the cnn-jpeg step's fine-tune of an existing JPEG CNN (``--cnn-jpeg-init``): a fresh optimiser at lr 5e-4, on
#: whole 256² samples (8 a batch, not 128² crops of 16: a 128² crop sees a quarter of a sample, often all fill or
#: no seam). Val ROC-AUC at JPEG q75 (all 924 val images): the JPEG CNN bundled before, 0.923; fine-tuned 3 000 /
#: 5 000 steps on 256²: 0.930 / 0.933 (docs/forensics-history.md, 2026-12-04, "the JPEG CNN on whole 256² samples")
JPEG_FINE_TUNE = ("optim.lr=0.0005", "data.crop=256", "data.batch_size=8", "train.seed=1")
#: ``--cnn-jpeg-more-crops N``: N more 256² crops per train photo (seed 21, each untouched and filled by every
#: inpainter, as the data step's train crops) join WORK/tv's for the fine-tune, in WORK/tvm; the bundled JPEG CNN:
#: N = 4 (3x the train samples), 6 000 steps with these settings, its best checkpoint the last. Val ROC-AUC at JPEG q75
#: (all 924 val images): 0.937, the JPEG CNN bundled before 0.933, 7 000 steps on WORK/tv alone 0.936 (docs/forensics-history.md)
MORE_CROPS_SEED = 21
MORE_CROPS_FINE_TUNE = ("train.seed=4", "train.val_every=500", "train.ckpt_every=500")


def train_more_records(corpus: Path, work: Path, seen: tuple[str, ...], crops: int) -> list[dict]:
    """``crops`` more 256² crops per train photo, each untouched and filled by every inpainter of ``seen`` (made
    once, into WORK/train_more; seed ``MORE_CROPS_SEED``), as records with absolute paths, all in the train split."""
    more = work / "train_more"
    if not (more / "index.jsonl").is_file():
        make_dataset(corpus / "train", ",".join(seen), MASKS, len(seen), crops, MORE_CROPS_SEED, more)
    return absolute_records(more)


def more_train_crops(corpus: Path, work: Path, seen: tuple[str, ...], crops: int) -> Path:
    """WORK/tvm/index.jsonl: WORK/tv's samples and ``crops`` more crops per train photo (``train_more_records``),
    for the cnn-jpeg fine-tune."""
    lines = (work / "tv" / "index.jsonl").read_text().splitlines()
    lines += [json.dumps(r) for r in train_more_records(corpus, work, seen, crops)]
    (work / "tvm").mkdir(parents=True, exist_ok=True)
    (work / "tvm" / "index.jsonl").write_text("\n".join(lines) + "\n")
    return work / "tvm" / "index.jsonl"


def trees_index(corpus: Path, work: Path, seen: tuple[str, ...], crops: int) -> Path:
    """WORK/all/index.more.jsonl: WORK/all/index.jsonl as it stands and ``crops`` more crops per train photo
    (``train_more_records``, the same ones the cnn-jpeg fine-tune takes), for the fit step's noise trees
    (``--fit-more-crops``; the bundled PNG half: 4, docs/forensics-history.md, 2026-12-05: gridded training fills)."""
    out = work / "all" / "index.more.jsonl"
    more = "".join(json.dumps(r) + "\n" for r in train_more_records(corpus, work, seen, crops))
    out.write_text((work / "all" / "index.jsonl").read_text() + more)
    return out


#: the entries of ``fusion.json`` kept per input kind ("png", "jpeg")
KIND_ENTRIES = ("calibration", "stack", "pixel_stack", "exact_rule")
#: a CNN detector's files in a fused detector folder (its own folder, or ``cnn_jpeg/``), besides the ONNX export
CNN_FILES = ("model.safetensors", "detector.json", "config.yaml")


def install_cnn(src: Path, dst: Path) -> None:
    """Copy the CNN detector of ``src`` (``CNN_FILES``) into ``dst`` and export its ONNX model there."""
    from inpaintkit.forensics.detector import export_onnx_detector

    dst.mkdir(parents=True, exist_ok=True)
    for f in CNN_FILES:
        shutil.copyfile(src / f, dst / f)
    export_onnx_detector(dst)


def install_half(fit: Path, dst: Path, kind: str) -> None:
    """Install one input kind's half (``kind``: "png" or "jpeg") of the fused detector in ``fit`` into the bundled
    one at ``dst``; the other half stays. A half is that kind's noise trees (``noise_lgbm.txt`` /
    ``noise_lgbm_jpeg.txt``), its CNN (the folder's own for PNG, ``cnn_jpeg/`` for JPEG, with its ONNX export),
    ``fusion.json``'s entries of that kind (``KIND_ENTRIES``), the CNN branch's ``tile_correction`` of that kind
    and, for JPEG, the duplication branch's shift vote and dense test for JPEG inputs (``jpeg_vote``,
    ``jpeg_dense``). Each input kind is calibrated on its own (``fusion.calibrate``), so the halves of two fits
    combine."""
    from inpaintkit.forensics.cnn import WEIGHTS_FILE, file_digest
    from inpaintkit.forensics.fusion import FUSION_FILE, JPEG_CNN_DIR, SECOND_CNN

    new, meta = json.loads((fit / FUSION_FILE).read_text()), json.loads((dst / FUSION_FILE).read_text())
    if kind == "jpeg" and not new.get("cnn_jpeg"):
        sys.exit(f"{fit}: fitted without a JPEG CNN (--cnn-jpeg RUN)")
    # the JPEG stack takes the PNG network's logit (SECOND_CNN): the halves combine only with the same PNG network
    jpeg_stack = (new if kind == "jpeg" else meta).get("stack", {}).get("jpeg", {})
    if SECOND_CNN in jpeg_stack.get("extra", []) and file_digest(fit / WEIGHTS_FILE) != file_digest(dst / WEIGHTS_FILE):
        sys.exit(
            f"{fit}: its PNG CNN is not the bundled one, and the JPEG stack takes the PNG CNN's logit: install both "
            "halves (--install-kinds png,jpeg) or refit the other half with this CNN"
        )
    for key in KIND_ENTRIES:
        meta.setdefault(key, {})[kind] = new[key][kind]
    # the CNN branch's discount for large inputs belongs to the half too (fits without it: none)
    meta.setdefault("tile_correction", {})[kind] = new.get("tile_correction", {}).get(kind, 0.0)
    if "tile_correction_fit" in new:  # and the flagged shares it was chosen on, or the folder would show stale ones
        fit_shares = new["tile_correction_fit"]
        shares = meta.setdefault("tile_correction_fit", dict(fit_shares))
        for key in ("flagged", "flagged_at_confidence"):  # fits before the confidence rule: "flagged" only
            if key in fit_shares:
                shares.setdefault(key, {})[kind] = fit_shares[key][kind]
    trees, cnn = ("noise_lgbm_jpeg.txt", JPEG_CNN_DIR) if kind == "jpeg" else ("noise_lgbm.txt", ".")
    # the views each CNN runs in: the JPEG half's are its network's and the PNG network's second opinion
    views = {k: v for k, v in new.get("cnn_views", {}).items() if (k == "png") == (kind == "png")}
    meta["cnn_views"] = {**meta.get("cnn_views", {}), **views}
    if kind == "jpeg":
        # the duplication branch's shift vote and dense test for JPEG inputs (folders before them: none)
        for key in ("jpeg_vote", "jpeg_dense"):
            meta.setdefault("duplication", {})[key] = new.get("duplication", {}).get(key, {})
        meta["cnn_jpeg"] = True
        if "val_jpeg_qualities" in new:  # the JPEG copies its calibration and stack saw of each val sample
            meta["val_jpeg_qualities"] = new["val_jpeg_qualities"]
    (dst / FUSION_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    shutil.copyfile(fit / trees, dst / trees)
    if kind == "jpeg":  # its own folder: emptied first (the PNG CNN's files sit among the bundle's others)
        shutil.rmtree(dst / cnn, ignore_errors=True)
    install_cnn(fit / cnn, dst / cnn)
    print(f"installed the {kind.upper()} half of {fit} into {dst}")


def leave_one_out(
    index: Path, out: Path, seen: tuple[str, ...] = SEEN, seed: int = 0, budget: float | None = None
) -> list[dict]:
    """The LOO table (noise + duplication branches, stacked on their margins and map statistics as the bundled
    detector is), features computed once."""
    from inpaintkit.data.dataset import read_index
    from inpaintkit.forensics.duplication import EXACT_LEVEL, DuplicationBranch, exact_share
    from inpaintkit.forensics.evaluate import roc_auc
    from inpaintkit.forensics.fusion import FPR_BUDGET, MAP_SIDE, FusedDetector, calibrate_fusion, map_features
    from inpaintkit.forensics.noise import (
        NoiseBranch,
        block_features,
        fit_noise_rows,
        image_score,
        training_rows,
        upsample,
    )
    from inpaintkit.forensics.train import jpeg, load_sample, rescale

    budget = FPR_BUDGET if budget is None else budget
    t0 = time.time()
    recs = read_index(index)
    rng = np.random.default_rng(seed)
    xs, ys, owner = [], [], []
    for r in (r for r in recs if r["split"] == "train"):  # the augmentation of fit_detector's PNG trees
        rgb, mask = load_sample(r)
        if rng.random() < 0.2:
            rgb, mask = rescale(rgb, mask, float(rng.uniform(0.5, 1.0)))
        x, y = training_rows(rgb, mask if r["label"] else None, rng)
        xs.append(x)
        ys.append(y)
        owner += [r.get("finished_from") or r.get("inpainter")] * len(y)  # a grained X fill goes with X
    x, y, owner = np.concatenate(xs), np.concatenate(ys), np.asarray(owner, object)
    print(f"loo: train features {len(y)} blocks in {time.time() - t0:.0f} s", flush=True)
    models = {name: NoiseBranch(fit_noise_rows(x[owner != name], y[owner != name], seed=seed)) for name in seen}
    print(f"loo: {len(models)} tree models in {time.time() - t0:.0f} s", flush=True)
    dup = DuplicationBranch()
    qualities = (50, 75, 90)

    sides: list[bool] = []  # shift fills the duplication branch found: did it mark the copy, not the source?

    side = (MAP_SIDE, MAP_SIDE)

    def raw_scores(split: str, kinds: tuple[str, ...]) -> tuple[list[dict], dict, dict]:
        """Rows, kind -> branch/model -> raw scores (and "exact": the exact-copy shares), kind -> branch/model ->
        maps: the noise maps shrunk to MAP_SIDE² (as ``map_features`` shrinks them), the duplication maps at full
        size with their levels 0, EXACT_LEVEL and 1 stored as uint8 0, 1, 2."""
        rows, raw = [], {k: {"dup": [], "exact": [], **{m: [] for m in models}} for k in kinds}
        maps = {k: {"dup": [], **{m: [] for m in models}} for k in kinds}
        for i, r in enumerate(r for r in recs if r["split"] == split):
            rgb, mask = load_sample(r)
            rows.append(r)
            for kind in kinds:
                img = jpeg(rgb, qualities[i % 3]) if kind == "jpeg" else rgb
                f = block_features(img)
                flat = f.reshape(-1, f.shape[-1])
                for m, nb in models.items():
                    g = nb.trees.predict(flat).reshape(f.shape[:2])
                    raw[kind][m].append(image_score(g))
                    full = upsample(g, img.shape[:2]).astype(np.float32)  # the map NoiseBranch.predict gives
                    maps[kind][m].append(cv2.resize(full, side, interpolation=cv2.INTER_AREA))
                score, heat = dup.predict(img, jpeg=kind == "jpeg")
                raw[kind]["dup"].append(score)
                raw[kind]["exact"].append(exact_share(heat))  # at full size: a shrunk map mixes the levels
                # the full map (levels 0, EXACT_LEVEL, 1 as 0, 1, 2): what combine reads the exact share from
                maps[kind]["dup"].append(np.round(heat / EXACT_LEVEL).astype(np.uint8))
                if r.get("inpainter") == "shift" and score > 0:
                    sides.append(bool(((heat > 0) & mask).sum() > 0.5 * (heat > 0).sum()))
        return rows, {k: {b: np.asarray(v) for b, v in d.items()} for k, d in raw.items()}, maps

    val_rows, val_raw, val_maps = raw_scores("val", ("png",))  # the table is on clean test images: PNG only
    test_rows, test_raw, test_maps = raw_scores("test", ("png",))
    print(f"loo: val/test scores in {time.time() - t0:.0f} s", flush=True)
    table = []
    y_test = np.array([r["label"] for r in test_rows])
    inp_test = np.array([r.get("inpainter") or "" for r in test_rows], object)
    for name in seen:
        keep = np.array([r.get("inpainter") != name for r in val_rows])
        raw = {k: {"noise": val_raw[k][name][keep], "duplication": val_raw[k]["dup"][keep]} for k in val_raw}
        photos = np.array([r.get("source_id") or r["path"] for r in val_rows])[keep]
        labels = {k: np.array([r["label"] for r in val_rows])[keep] for k in val_raw}
        groups = {k: photos for k in val_raw}
        split = {"noise": 0.75, "duplication": 0.25}
        branches = ["noise", "duplication"]
        feats = {
            k: np.stack(
                [
                    map_features({"noise": a, "duplication": b * np.float32(EXACT_LEVEL)}, branches)
                    for a, b, kept in zip(val_maps[k][name], val_maps[k]["dup"], keep)
                    if kept
                ]
            )
            for k in val_raw
        }
        cal, stack = calibrate_fusion(raw, labels, groups, fpr_budget=budget, split=split, features=feats, seed=seed)
        tau = float(val_raw["png"]["exact"][keep][labels["png"] == 0].max())  # as fit_detector sets it
        det = FusedDetector({"calibration": cal, "stack": stack, "exact_rule": {"png": {"tau": tau}}})
        s = np.array(
            [
                det.combine(
                    {
                        # the noise map blown up to the duplication map's size by whole cells (map_features'
                        # area shrink gives back the same MAP_SIDE² map)
                        "noise": (a, cv2.resize(ma, mb.shape[::-1], interpolation=cv2.INTER_NEAREST)),
                        "duplication": (b, mb * np.float32(EXACT_LEVEL)),
                    },
                    jpeg=False,
                ).score
                for a, b, ma, mb in zip(
                    test_raw["png"][name], test_raw["png"]["dup"], test_maps["png"][name], test_maps["png"]["dup"]
                )
            ]
        )
        real = y_test == 0
        row = {
            "left_out": name,
            "auc_unseen": roc_auc(y_test[real | (inp_test == name)], s[real | (inp_test == name)]),
            "recall_unseen": float((s[inp_test == name] >= 0.5).mean()),
            "fpr": float((s[real] >= 0.5).mean()),
            "n_real": int(real.sum()),
        }
        others = real | np.isin(inp_test, [n for n in seen if n != name])
        row["auc_seen"] = roc_auc(y_test[others], s[others])
        for p in PROBES:
            row[f"auc_{p}"] = roc_auc(y_test[real | (inp_test == p)], s[real | (inp_test == p)])
        table.append(row)
        print(json.dumps(row), flush=True)
    print(f"duplication branch, shift fills found on test: {len(sides)}, copy side marked in {sum(sides)}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "loo.json").write_text(json.dumps({"loo": table, "copy_side": [sum(sides), len(sides)]}, indent=1) + "\n")
    return table


def write_fills_stamp(dst: Path) -> None:
    """DST/fills.json: the SHA-256 of the bundled inpainters' weights whose fills the detector was fitted on (a test
    fails when they change without a refit)."""
    import hashlib

    weights = REPO / "inpaintkit" / "weights"
    stamp: dict = {"why": json.loads((dst / "fills.json").read_text())["why"]} if (dst / "fills.json").is_file() else {}
    for name in ("default", "tdanet"):
        stamp[name] = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((weights / name).iterdir())
            if p.suffix in (".safetensors", ".yaml") and p.name != "discriminators.safetensors"
        }
    stamp["default_finish"] = default_finish()
    (dst / "fills.json").write_text(json.dumps(stamp, indent=2) + "\n")


def default_finish() -> dict:
    """The ``default`` model's finishing options (its grid removal and grain change its fills as much as new
    weights do): recorded in fills.json beside the weights."""
    from inpaintkit.models.default import DEFAULT_DEGRID, DEFAULT_GRAIN

    return {"degrid": DEFAULT_DEGRID, "grain": DEFAULT_GRAIN}


def sibling(name: str):
    """The script ``benchmarks/NAME.py`` as a module: benchmarks/ is not a package, so it is loaded by its path
    (which works however this one was loaded)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def add_small_val(photos: Path, work: Path, inpainters: tuple[str, ...], seed: int = 11) -> int:
    """Small fills in 768x512 crops of the val photos (``forensics_small.make``) into WORK/val_small, their records
    appended to WORK/all/index.jsonl as val samples (once: a second call finds them there). Returns the count."""
    from inpaintkit.data.dataset import read_index

    small = sibling("forensics_small")

    index = work / "all" / "index.jsonl"
    out = work / "val_small"
    if any(str(r["path"]).startswith(str(out) + "/") for r in read_index(index)):
        print(f"small: {out} is already in {index}", flush=True)
        return 0
    recs = small.make(photos, out, list(inpainters), seed, split="val")
    with index.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in recs)
    print(f"small: {len(recs)} val samples of {photos} appended to {index}", flush=True)
    return len(recs)


def train_cnn(index: Path, run_dir: Path, *overrides: str) -> None:
    """The CNN branch's recipe (``configs/forensics/corpus.yaml``) on the data folder ``index`` (its
    ``index.cnn.jsonl`` when the ``augment`` step wrote one, else ``index.jsonl``), into ``run_dir``."""
    config = str(REPO / "configs" / "forensics" / "corpus.yaml")
    data = index / "index.cnn.jsonl"
    run(
        "forensics",
        "train",
        "--config",
        config,
        "--set",
        f"data.index={data if data.is_file() else index / 'index.jsonl'}",
        f"run.dir={run_dir}",
        *overrides,
    )


def fit_detector(index: Path, out: Path, cnn: str | Path, *extra: str) -> None:
    """``inpaintkit forensics fit-detector`` on the data folder ``index`` into ``out`` around the CNN run ``cnn``."""
    run("forensics", "fit-detector", "--data", str(index), "--out", str(out), "--cnn", str(cnn), *extra)


def leave_one_out_full(
    index: Path, out: Path, names: list[str], cnn_steps: int, trees_data: Path | None = None
) -> None:
    """``loo-full``: per inpainter X, a CNN trained without X (on ``index``), the detector fitted without X around it
    (its trees on ``trees_data``, default ``index``: the fit step's data), then one ``forensics evaluate --loo``
    table of every fold (clean test split). Folds already fitted are reused."""
    if not names:
        sys.exit("the loo-full step needs --loo-full NAME[,NAME...] (inpainters of the data to leave out in turn)")
    dets = []
    for name in names:
        tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        cnn, det = out / f"cnn_{tag}", out / f"det_{tag}"
        if not (det / "fusion.json").is_file():
            train_cnn(index, cnn, f"train.steps={cnn_steps}", f"data.exclude_inpainters={json.dumps([name])}")
            fit_detector(trees_data or index, det, cnn, "--exclude", name)
        dets += ["--loo", str(det)]
    run(
        "forensics",
        "evaluate",
        "--data",
        str(index),
        "--model",
        dets[1],
        "--conditions",
        "clean",
        "--out",
        str(out / "report"),
        *dets,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument(
        "--steps",
        default="data,fit,evaluate,robustness,loo",
        help="any of data,augment,add,small,cnn,cnn-jpeg,fit,tiles,evaluate,robustness,loo,loo-full",
    )
    ap.add_argument(
        "--tiles-dir",
        type=Path,
        default=None,
        help="tiles: the fused detector folder whose tile correction is fitted on CORPUS/val (default WORK/fused)",
    )
    ap.add_argument("--val-limit", type=int, default=None, help="fit: calibrate on N val samples (default: all)")
    ap.add_argument(
        "--limit-per-source",
        type=int,
        default=3,
        help="evaluate: the JPEG/resize conditions on the first N crops per photo (clean: all)",
    )
    ap.add_argument(
        "--inpainters",
        default=",".join(SEEN),
        help="data: the inpainters of train and val (specs: NAME or NAME:RUN_DIR), also in test with the probes",
    )
    ap.add_argument("--extra-real", type=int, default=0, help="data: N more untouched crops per val photo")
    ap.add_argument(
        "--add-inpainters",
        default="",
        help="add: more inpainters filling the crops already made (each real crop, a mask of its own fills); "
        "loo: left out in turn like the others",
    )
    ap.add_argument("--cnn", default="default", help="fit: the CNN branch's run folder ('default': the bundled CNN)")
    ap.add_argument(
        "--cnn-jpeg",
        default=None,
        help="cnn-jpeg: the run folder to fine-tune into; fit: the CNN branch's run for JPEG inputs ('default': the "
        "bundled one's; none: the one CNN for both kinds)",
    )
    ap.add_argument(
        "--cnn-jpeg-steps",
        type=int,
        default=12000,
        help="cnn-jpeg: total steps of the resumed run (the bundled one: resumed to 9 000, then in a copy to 12 000)",
    )
    ap.add_argument(
        "--cnn-jpeg-init",
        default=None,
        help="cnn-jpeg: fine-tune this JPEG CNN ('default': the bundled cnn_jpeg/; a fresh optimiser, lr 5e-4, "
        "--cnn-jpeg-steps steps, exported from its best val checkpoint) instead of resuming --cnn",
    )
    ap.add_argument(
        "--cnn-jpeg-more-crops",
        type=int,
        default=0,
        help="cnn-jpeg with --cnn-jpeg-init: N more crops per train photo for the fine-tune (WORK/tvm; the bundled "
        "JPEG CNN: 4)",
    )
    ap.add_argument(
        "--fit-more-crops",
        type=int,
        default=0,
        help="fit, loo, loo-full: N more crops per train photo in the noise trees' training "
        "(WORK/all/index.more.jsonl; the bundled PNG half: 4)",
    )
    ap.add_argument(
        "--loo-full",
        default="ns,default",
        help="loo-full: the inpainters left out in turn with the CNN retrained as well (the two the noise + "
        "duplication leave-one-out scores lowest)",
    )
    ap.add_argument("--loo-cnn-steps", type=int, default=6000, help="loo-full: steps of each fold's CNN")
    ap.add_argument("--install", action="store_true")
    ap.add_argument(
        "--install-kinds",
        choices=("png,jpeg", "png", "jpeg"),
        default="png,jpeg",
        help="png or jpeg: install only that half of the fit (its noise trees, its CNN, fusion.json's entries of that "
        "kind; for jpeg also the JPEG shift vote and dense test), keeping the bundled other half (install_half)",
    )
    args = ap.parse_args()
    steps = set(args.steps.split(","))
    work = args.work
    index = work / "all"
    seen = tuple(args.inpainters.split(","))
    added = tuple(n for n in args.add_inpainters.split(",") if n)
    if "data" in steps:
        make_data(args.corpus, work, seen, args.extra_real)
    if "augment" in steps:  # grain-finished fills, local manipulations, other radii (train split)
        sibling("forensics_augment").augment(work)
    if "cnn" in steps:  # the CNN branch retrained on the corpus (train split; best checkpoint by val ROC-AUC)
        train_cnn(index, work / "cnn")
    if "cnn-jpeg" in steps and args.cnn_jpeg_init:
        # fine-tune an existing JPEG CNN (its weights, a fresh optimiser) on this data
        if args.cnn_jpeg in (None, "default"):
            sys.exit("the cnn-jpeg step needs --cnn-jpeg DIR (where to train)")
        bundled = REPO / "inpaintkit" / "weights" / "detector" / "cnn_jpeg"
        init = bundled if args.cnn_jpeg_init == "default" else Path(args.cnn_jpeg_init)
        more = args.cnn_jpeg_more_crops
        data = more_train_crops(args.corpus, work, seen, more) if more else work / "tv" / "index.jsonl"
        run(
            "forensics",
            "train",
            "--config",
            str(init / "config.yaml"),
            "--set",
            f"data.index={data}",
            f"run.dir={args.cnn_jpeg}",
            f"train.init={init}",
            f"train.steps={args.cnn_jpeg_steps}",
            *JPEG_FINE_TUNE,
            *JPEG_ONLY,
            *(MORE_CROPS_FINE_TUNE if more else ()),
        )
    elif "cnn-jpeg" in steps:
        if args.cnn_jpeg in (None, "default") or args.cnn == "default":
            sys.exit("the cnn-jpeg step needs --cnn RUN (the run to start from) and --cnn-jpeg DIR (where to train)")
        src, dst = Path(args.cnn), Path(args.cnn_jpeg)
        if not dst.exists():  # a copy, so the resume continues the CNN's own run (weights, optimiser, schedule)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("events.out.*"))
        run(
            "forensics",
            "train",
            "--config",
            str(src / "config.yaml"),
            "--set",
            f"run.dir={dst}",
            f"train.steps={args.cnn_jpeg_steps}",
            *JPEG_ONLY,
        )
        from inpaintkit.forensics.train import export_run

        export_run(dst, which="last")
    if "add" in steps:
        for spec in added:
            add_fills(work, spec)
    if "small" in steps:
        add_small_val(args.corpus / "val", work, seen)
    # the noise trees' data, for the fit and the leave-one-out alike: the index, or it and the more crops
    trees_data = index
    if args.fit_more_crops and steps & {"fit", "loo", "loo-full"}:
        trees_data = trees_index(args.corpus, work, seen, args.fit_more_crops)
    if "fit" in steps:
        lim = ["--val-limit", str(args.val_limit)] if args.val_limit else []
        jp = ["--cnn-jpeg", args.cnn_jpeg] if args.cnn_jpeg else []
        fit_detector(trees_data, work / "fused", args.cnn, *jp, *lim, "--photos", str(args.corpus / "val"))
    if "tiles" in steps:
        from inpaintkit.forensics.fusion import set_tile_correction

        folder = args.tiles_dir or work / "fused"
        fit = set_tile_correction(folder, args.corpus / "val")
        print(
            f"tiles: {folder} tile_correction {fit['alpha']} ({fit['n_images']} untouched images; flagged share "
            f"per alpha {fit['flagged']})",
            flush=True,
        )
    if "evaluate" in steps:
        run(
            "forensics",
            "evaluate",
            "--data",
            str(index),
            "--model",
            str(work / "fused"),
            "--split",
            "test",
            "--conditions",
            "clean",
            "--out",
            str(work / "report"),
        )
    if "robustness" in steps:
        run(
            "forensics",
            "evaluate",
            "--data",
            str(index),
            "--model",
            str(work / "fused"),
            "--split",
            "test",
            "--conditions",
            "clean,jpeg90,jpeg75,jpeg50,resize0.75,resize0.5",
            "--limit-per-source",
            str(args.limit_per_source),
            "--out",
            str(work / "report-robust"),
        )
    if "loo" in steps:
        leave_one_out(trees_data, work / "report", seen + added)
    if "loo-full" in steps:
        names = [n for n in args.loo_full.split(",") if n]
        leave_one_out_full(index, work / "loo", names, args.loo_cnn_steps, trees_data)
    if args.install and args.install_kinds in ("png", "jpeg"):
        install_half(work / "fused", REPO / "inpaintkit" / "weights" / "detector", args.install_kinds)
    elif args.install:
        dst = REPO / "inpaintkit" / "weights" / "detector"
        for f in ("fusion.json", "noise_lgbm.txt", "noise_lgbm_jpeg.txt"):
            shutil.copyfile(work / "fused" / f, dst / f)
        if args.cnn != "default":  # a retrained CNN branch: its files, and its ONNX export for `detect`
            install_cnn(work / "fused", dst)
        jdst = dst / "cnn_jpeg"
        if jdst.exists() and args.cnn_jpeg != "default":
            shutil.rmtree(jdst)  # the fit's own JPEG CNN replaces the old one, or none is left
        if args.cnn_jpeg not in (None, "default"):
            install_cnn(work / "fused" / "cnn_jpeg", jdst)
        write_fills_stamp(dst)
        print(f"installed {work / 'fused'} into {dst}")


if __name__ == "__main__":
    main()
