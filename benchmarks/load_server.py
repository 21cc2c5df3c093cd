"""Load test of ``inpaintkit serve``: N requests at concurrency C against a live server on loopback.

    .venv/bin/python benchmarks/load_server.py                      # starts its own server (telea), 200 x 8
    .venv/bin/python benchmarks/load_server.py --url http://127.0.0.1:8080 --model patchmatch

Each request is what an IOPaint script sends: JSON with a base64 PNG photo (512x512 crop of a real photo) and a
base64 PNG mask (seeded brush strokes, ~8 % of the image), answered with a PNG. Reports:

- latency p50 / p95 / max and throughput at concurrency C, and the number of errors (target: 0);
- the model's own time (the ``inpaint`` call, from the server's ``Server-Timing: model`` entry, and measured
  in this process for reference);
- the server's overhead per request: latency minus queue wait minus model time (HTTP, JSON, base64, PNG decode
  and encode), p50 (target <= 30 ms); and, from a sequential pass (concurrency 1, no queueing), p50 latency minus
  p50 model time.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inpaintkit.inpainters import create_inpainter  # noqa: E402
from inpaintkit.io import read_image  # noqa: E402
from inpaintkit.server.background import BackgroundServer  # noqa: E402

DEFAULT_PHOTO = Path("/work/photos/extracted/usr/share/wallpapers/FallenLeaf/contents/images/1920x1080.jpg")


def make_inputs(photo: Path, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A size x size RGB crop of ``photo`` (centre square, resized) and a seeded brush-stroke mask."""
    rgb = read_image(photo).rgb
    h, w = rgb.shape[:2]
    s = min(h, w)
    crop = rgb[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(4):
        pts = np.cumsum(rng.integers(-40, 41, size=(6, 2)), axis=0) + rng.integers(size // 4, 3 * size // 4, size=2)
        cv2.polylines(mask, [np.clip(pts, 0, size - 1).astype(np.int32)], False, 255, int(rng.integers(10, 22)))
    return np.ascontiguousarray(crop), mask > 0


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def timing(header: str) -> dict[str, float]:
    """``Server-Timing: queue;dur=1.2, model;dur=3.4`` -> {"queue": 0.0012, "model": 0.0034} (seconds)."""
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            out[name] = float(dur) / 1000
    return out


def run(url: str, body: bytes, n: int, concurrency: int) -> tuple[list[dict], float]:
    def one(_: int) -> dict:
        t0 = time.perf_counter()
        try:
            r = client.post(f"{url}/api/v1/inpaint", content=body, headers={"content-type": "application/json"})
            lat = time.perf_counter() - t0
            ok = r.status_code == 200 and r.content[:4] == b"\x89PNG"
            return {"ok": ok, "status": r.status_code, "latency": lat, **timing(r.headers.get("server-timing", ""))}
        except httpx.HTTPError as e:
            return {"ok": False, "status": type(e).__name__, "latency": time.perf_counter() - t0}

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=120, limits=limits) as client:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, range(n)))
        return results, time.perf_counter() - t0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="An already running server; default: start one on a free loopback port.")
    ap.add_argument("--model", default="telea")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--sequential", type=int, default=40, help="Requests of the concurrency-1 pass (0: skip).")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument(
        "--photo",
        type=Path,
        default=DEFAULT_PHOTO if DEFAULT_PHOTO.is_file() else ROOT / "inpaintkit" / "assets" / "sample.jpg",
    )
    ap.add_argument("--workers", type=int, default=2, help="Server worker threads (when this script starts it).")
    ap.add_argument("--queue", type=int, default=16, help="Server queue size (when this script starts it).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pid", type=int, help="The server's process id with --url, for the CPU-time figures.")
    ap.add_argument("--json", type=Path, help="Also write the figures here.")
    args = ap.parse_args()

    rgb, mask = make_inputs(args.photo, args.size, args.seed)
    body = json.dumps(
        {
            "image": base64.b64encode(png(rgb)).decode(),
            "mask": base64.b64encode(png(mask.astype(np.uint8) * 255)).decode(),
            "model": args.model,
        }
    ).encode()
    inp = create_inpainter(args.model)
    own = []
    for _ in range(15):
        t0 = time.perf_counter()
        inp.inpaint(rgb, mask)
        own.append(time.perf_counter() - t0)
    print(
        f"photo {args.photo.name} -> {args.size}x{args.size}, hole {mask.mean() * 100:.1f} %, body {len(body) / 1e6:.2f} MB; "
        f"{args.model} in this process: p50 {statistics.median(own) * 1000:.1f} ms"
    )

    server = None
    url, pid = args.url, args.pid
    if url is None:
        server = BackgroundServer(["--model", args.model, "--workers", str(args.workers), "--queue", str(args.queue)])
        url = server.__enter__()
        pid = server.proc.pid
    try:
        run(url, body, 5, 1)  # warm up: model built, connections open
        figures = {
            "model": args.model,
            "size": args.size,
            "photo": args.photo.name,
            "own_p50_ms": statistics.median(own) * 1000,
        }
        if args.sequential:
            cpu0 = process_cpu_seconds(pid) if pid else None
            seq, _ = run(url, body, args.sequential, 1)
            cpu_per_request = (process_cpu_seconds(pid) - cpu0) / len(seq) if pid else float("nan")
            ok = [r for r in seq if r["ok"]]
            lat = [r["latency"] for r in ok]
            model = [r["model"] for r in ok]
            figures["sequential"] = {
                "requests": len(seq),
                "errors": len(seq) - len(ok),
                "latency_p50_ms": pct(lat, 50) * 1000,
                "model_p50_ms": pct(model, 50) * 1000,
                "overhead_p50_ms": (pct(lat, 50) - pct(model, 50)) * 1000,
                "decode_p50_ms": pct([r["decode"] for r in ok], 50) * 1000,
                "encode_p50_ms": pct([r["encode"] for r in ok], 50) * 1000,
                # CPU seconds the server process spent per request, and in the model: independent of other load
                "server_cpu_per_request_ms": cpu_per_request * 1000,
                "model_cpu_mean_ms": statistics.fmean(r["model_cpu"] for r in ok) * 1000,
                "cpu_overhead_ms": (cpu_per_request - statistics.fmean(r["model_cpu"] for r in ok)) * 1000,
            }
        res, wall = run(url, body, args.requests, args.concurrency)
        ok = [r for r in res if r["ok"]]
        lat = [r["latency"] for r in ok]
        over = [r["latency"] - r.get("queue", 0) - r.get("model", 0) for r in ok]
        figures["load"] = {
            "requests": len(res),
            "concurrency": args.concurrency,
            "errors": len(res) - len(ok),
            "error_statuses": sorted({str(r["status"]) for r in res if not r["ok"]}),
            "throughput_rps": len(res) / wall,
            "latency_p50_ms": pct(lat, 50) * 1000,
            "latency_p95_ms": pct(lat, 95) * 1000,
            "latency_max_ms": max(lat) * 1000 if lat else float("nan"),
            "queue_p50_ms": pct([r.get("queue", 0) for r in ok], 50) * 1000,
            "model_p50_ms": pct([r.get("model", 0) for r in ok], 50) * 1000,
            "overhead_p50_ms": pct(over, 50) * 1000,
            "overhead_p95_ms": pct(over, 95) * 1000,
        }
    finally:
        if server is not None:
            server.__exit__(None, None, None)

    L = figures["load"]
    print(
        f"\n{L['requests']} requests, concurrency {L['concurrency']}: {L['errors']} errors {L['error_statuses'] or ''}"
    )
    print(
        f"  latency p50 {L['latency_p50_ms']:.1f} ms, p95 {L['latency_p95_ms']:.1f} ms, max {L['latency_max_ms']:.1f} ms; "
        f"{L['throughput_rps']:.1f} req/s"
    )
    print(f"  of which queue wait p50 {L['queue_p50_ms']:.1f} ms, model p50 {L['model_p50_ms']:.1f} ms")
    print(
        f"  server overhead (latency - queue - model): p50 {L['overhead_p50_ms']:.1f} ms, p95 {L['overhead_p95_ms']:.1f} ms"
    )
    if "sequential" in figures:
        S = figures["sequential"]
        print(
            f"sequential ({S['requests']} requests, {S['errors']} errors): latency p50 {S['latency_p50_ms']:.1f} ms, "
            f"model p50 {S['model_p50_ms']:.1f} ms -> overhead p50 {S['overhead_p50_ms']:.1f} ms "
            f"(PNG+base64 decode {S['decode_p50_ms']:.1f} ms, PNG encode {S['encode_p50_ms']:.1f} ms, "
            f"rest: HTTP, JSON, framework)"
        )
        print(
            f"  CPU time: server {S['server_cpu_per_request_ms']:.1f} ms per request, model {S['model_cpu_mean_ms']:.1f} ms "
            f"-> CPU overhead {S['cpu_overhead_ms']:.1f} ms per request (what the overhead is on an idle core)"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if L["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
