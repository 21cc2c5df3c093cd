"""The detector's data with today's ``default`` fills (its photo grain) beside the plain ones it was trained on.

The bundled detector's noise trees learn from the train split's *plain* ``default`` fills (the fill without its
grid removal and grain, ``degrid=off grain=0``); its calibration and stack learn from val, which holds both kinds;
test holds today's fills (docs/forensics-history.md, 2026-12-02, "the detector sees `default`'s photo grain": trees trained on the grained fills lose Navier-Stokes
when it is left out). From a data folder whose ``default`` fills are plain (``benchmarks/forensics_fused.py
--steps data,add`` before this round), this script refills every val and test ``default`` record with today's ``default``
(same crop, same mask; each crop found among the untouched records by its known pixels) into WORK/default_now and
writes WORK/all_now/index.jsonl (train as it was, val with both kinds, test grained) and its
``index.pre_tdanet.jsonl``. With ``--plain`` the plain fills are refilled too, with today's weights at ``degrid=off
grain=0`` (train, and val's second kind, into WORK/default_now/SPLIT_plain): the data of a refit for new weights. Then::

    .venv/bin/python benchmarks/forensics_regrain.py --work WORK
    inpaintkit forensics fit-detector --data WORK/all_now --out WORK/fused --cnn default --cnn-jpeg default
    inpaintkit forensics evaluate --data WORK/all_now/index.pre_tdanet.jsonl --model WORK/fused --split test
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    from inpaintkit import create_inpainter
    from inpaintkit.errors import InpaintKitError
    from inpaintkit.io import read_image, read_mask, write_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="the folder with all/index.jsonl (plain default fills)")
    ap.add_argument(
        "--plain",
        action="store_true",
        help="refill the plain fills (train, and val's second kind) with today's weights too (degrid=off grain=0)",
    )
    args = ap.parse_args()
    recs = [json.loads(line) for line in (args.work / "all" / "index.jsonl").read_text().splitlines() if line]
    real: dict[tuple, list[str]] = {}
    for r in recs:
        if r["label"] == 0:
            real.setdefault((r["source_id"], r["crop"], r["split"]), []).append(r["path"])
    model = create_inpainter("default", threads=1)
    plain = create_inpainter("default", threads=1, degrid="off", grain=0) if args.plain else None
    out_root, t0 = args.work / "default_now", time.time()
    now: dict[int, dict] = {}  # record number -> today's fill (val, test)
    flat: dict[int, dict] = {}  # record number -> today's plain fill (train, val; --plain)

    def source(r: dict):
        """The untouched crop a fill was made from (found by the fill's known pixels) and its mask."""
        old = read_image(r["path"]).rgb
        mask = read_mask(r["mask_path"], shape=old.shape[:2])
        crops = [read_image(p).rgb for p in real.get((r["source_id"], r["crop"], r["split"]), [])]
        crops = [c for c in crops if c.shape == old.shape and (c[~mask] == old[~mask]).all()]
        if len(crops) != 1:
            raise InpaintKitError(f"{r['path']}: {len(crops)} untouched crops match its known pixels (expected 1)")
        return crops[0], mask

    def refill(r: dict, crop, mask, inpainter, folder: str) -> dict:
        path = out_root / folder / Path(r["path"]).name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, inpainter.inpaint(crop, mask))
        return dict(r, path=str(path))

    for i, r in enumerate(recs):
        if r["inpainter"] != "default" or (r["split"] == "train" and plain is None):  # train keeps its plain fills
            continue
        crop, mask = source(r)
        if r["split"] != "train":
            now[i] = refill(r, crop, mask, model, r["split"])
        if plain is not None and r["split"] in ("train", "val"):
            flat[i] = refill(r, crop, mask, plain, f"{r['split']}_plain")
    rows = [flat.get(i, r) for i, r in enumerate(recs) if r["split"] == "train"]
    rows += [now.get(i, r) for i, r in enumerate(recs) if r["split"] == "val"]
    rows += [flat.get(i, r) for i, r in enumerate(recs) if r["split"] == "val" and r["inpainter"] == "default"]
    rows += [now.get(i, r) for i, r in enumerate(recs) if r["split"] == "test"]
    dst = args.work / "all_now"
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (dst / "index.pre_tdanet.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows if r["inpainter"] != "tdanet")
    )
    print(
        f"{len(now)} default fills and {len(flat)} plain ones refilled in {time.time() - t0:.0f} s; wrote {dst}/index.jsonl ({len(rows)} records)"
    )


if __name__ == "__main__":
    main()
