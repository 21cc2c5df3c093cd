#!/usr/bin/env bash
# The default model's GPU recipe (benchmarks/train_default.py phase 10) on the `device` tool's lent machine, sized
# for its limits (64 MiB of working tree per call, 10 min per command, ~15 min of device time per session).
#
#   bash benchmarks/device_default.sh pack PHOTOS   # here: .gpu/ (photos as JPEG q90, short side 576) + .whl/
#   # move aside for the call what it does not need (tree <= 64 MiB), e.g. to /tmp/hold:
#   #   inpaintkit/weights/{detector,tdanet} inpaintkit/weights/default/model.onnx docs tests
#   # device run, carry [".gpu", ".whl"], timeout_s 600:
#   #   bash benchmarks/device_default.sh run 540 [STEPS] [WORKERS]
#   # then move the files back; the weights come back as $OUT/best_gen.safetensors, $OUT/best_disc.safetensors,
#   # $OUT/last_gen.safetensors, $OUT/last_disc.safetensors, $OUT/logs.tgz (the tool returns at most 8 files
#   #   per call: two runs side by side, each with its own OUT and RUNS, return 10; fetch the rest in a second call)
#
# `run` is train_default.py's latest GPU recipe (phase 10) alone from the bundled default (--phase9-from; generator
# and discriminator): 256² crops of 0.8-1.0 of the short side, v5's losses with the perceptual term x2, cosine from
# 2e-4 over STEPS (default 2800: what ~8 min allowed this round); it stops at the DEADLINE (seconds) whatever the
# step; the best and the last validation checkpoints come back. Throughput on an H200 (docs/default-model.md, "v6",
# "v7"): one run alone with 14 loader workers ~8 steps/s; two side by side with 7 workers each ~5 steps/s each, the
# GPU at 96 % utilization a minute in (two candidates per loan is the better use of it). One loader sample costs
# ~6.5 ms of one CPU core, so the loader is not what limits a run.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
pack)
    photos=${2:?usage: pack PHOTOS (the corpus folder with train/ and val/)}
    mkdir -p .git/info .gpu .whl
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || printf '/.gpu/\n/.whl/\n' >> .git/info/exclude
    .venv/bin/python - "$photos" <<'PY'
import sys
from pathlib import Path
from PIL import Image
src, dst = Path(sys.argv[1]), Path(".gpu/photos")
for split in ("train", "val"):
    (dst / split).mkdir(parents=True, exist_ok=True)
    for p in sorted((src / split).iterdir()):
        im = Image.open(p).convert("RGB")
        s = 576 / min(im.size)
        if s < 1:
            im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
        im.save(dst / split / f"{p.stem}.jpg", quality=90)
PY
    # the device's Python (3.12) has torch, numpy, OpenCV, scikit-image ... but not pydantic
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
        "$(.venv/bin/python -c 'import pydantic; print("pydantic==" + pydantic.VERSION)')" \
        "$(.venv/bin/pip list 2>/dev/null | awk '$1=="pydantic_core"{print "pydantic-core==" $2}')" \
        "$(.venv/bin/pip list 2>/dev/null | awk '$1=="annotated-types"{print "annotated-types==" $2}')" \
        "$(.venv/bin/pip list 2>/dev/null | awk '$1=="typing-inspection"{print "typing-inspection==" $2}')"
    du -sh .gpu .whl
    ;;
run)
    deadline=${2:-540} steps=${3:-2800} workers=${4:-14}
    # a smoke test here: DEVICE=cpu PY=.venv/bin/python SKIP_WHEELS=1 EXTRA="data.size=32 train.batch_size=2"
    # (EXTRA: more phase 9 settings, after --phase9-set)
    py=${PY:-python3}
    [ -n "${SKIP_WHEELS:-}" ] || "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
    out=${OUT:-/tmp/device_out} runs=${RUNS:-/tmp/device_runs}  # RUNS: a second run side by side needs its own
    mkdir -p "$out"; rm -rf "$runs"
    nvidia-smi -L 2>/dev/null || true
    rc=0
    # shellcheck disable=SC2086
    timeout "$deadline" "$py" benchmarks/train_default.py --photos .gpu/photos --out "$runs" \
        --phase9-from inpaintkit/weights/default/generator.safetensors --phase9-device "${DEVICE:-cuda}" \
        --phase10-steps "$steps" --phase9-workers "$workers" --phase9-set run.tensorboard=false ${EXTRA:-} \
        > "$runs.log" 2>&1 || rc=$?
    grep -E "val PSNR|trained|rror" "$runs.log" | tail -12 || true
    echo "train rc $rc (124: stopped at the deadline)"
    mkdir -p "$runs"
    cp "$runs.log" "$runs/train.log"
    if [ -e "$runs/phase9/best" ]; then
        cp -L "$runs/phase9/best/generator_ema.safetensors" "$out/best_gen.safetensors"
        cp -L "$runs/phase9/best/discriminators.safetensors" "$out/best_disc.safetensors"
        cp -L "$runs/phase9/last/generator_ema.safetensors" "$out/last_gen.safetensors"
        cp -L "$runs/phase9/last/discriminators.safetensors" "$out/last_disc.safetensors"
    else
        echo "no checkpoint before the deadline: only logs.tgz comes back"
    fi
    tar czf "$out/logs.tgz" -C "$runs" --exclude='*.safetensors' --exclude='*.pt' .
    ;;
*)
    echo "usage: $0 pack PHOTOS | run [DEADLINE_S] [STEPS] [WORKERS]" >&2
    exit 2
    ;;
esac
