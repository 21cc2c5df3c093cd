"""Peak memory of ``inpaintkit serve`` through one huge full-hole request (issue 19's 36 MP target: < 2 GB).

    .venv/bin/python benchmarks/server_memory.py                         # default model, 6000x6000, full hole
    .venv/bin/python benchmarks/server_memory.py --side 4000 --model telea

Starts a server (one worker), reads its resident memory (VmRSS) after start-up and its peak (VmHWM, from
/proc/PID/status, Linux) after the request, and prints both with the request's status and time.
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inpaintkit.server.background import BackgroundServer  # noqa: E402


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":")
            out[k] = int(v.split()[0]) * 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=6000)
    ap.add_argument("--model", default="default")
    ap.add_argument("--memory-budget-gb", type=float, default=1.5)
    a = ap.parse_args()
    s = a.side
    y, x = np.mgrid[0:s, 0:s].astype(np.uint16)
    rgb = np.dstack([(x // 24) % 256, (y // 24) % 256, ((x + y) // 48) % 256]).astype(np.uint8)
    del x, y
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", compress_level=1)
    img = base64.b64encode(buf.getvalue()).decode()
    buf = io.BytesIO()
    Image.new("L", (s, s), 255).save(buf, "PNG")
    mask = base64.b64encode(buf.getvalue()).decode()
    del rgb
    print(f"request: {s}x{s} = {s * s / 1e6:.0f} MP, full hole, {(len(img) + len(mask)) / 2**20:.1f} MB of JSON")
    args = [
        "--model",
        a.model,
        "--workers",
        "1",
        "--max-upload-mb",
        "200",
        "--max-pixels",
        str(s * s + 1),
        "--memory-budget-gb",
        str(a.memory_budget_gb),
        "--request-timeout",
        "600",
    ]
    with BackgroundServer(args, timeout=180) as url:
        srv = next(p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_server(p, url))
        pid = int(srv.name)
        with httpx.Client(base_url=url, timeout=900) as c:
            c.post(
                "/api/v1/inpaint", json={"image": img[:0] or _tiny(), "mask": _tiny(mask=True), "model": a.model}
            )  # load the model first
            base = _status(pid)
            t0 = time.perf_counter()
            r = c.post("/api/v1/inpaint", json={"image": img, "mask": mask, "model": a.model})
            dt = time.perf_counter() - t0
        peak = _status(pid)
    print(
        f"{a.model}: status {r.status_code} in {dt:.1f} s; server RSS after start-up and a small fill "
        f"{base['VmRSS'] / 2**30:.2f} GB, peak {peak['VmHWM'] / 2**30:.2f} GB "
        f"(budget per fill {a.memory_budget_gb} GB)"
    )


def _tiny(mask: bool = False) -> str:
    buf = io.BytesIO()
    (Image.new("L", (32, 32), 255) if mask else Image.new("RGB", (32, 32), (9, 99, 199))).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _is_server(p: Path, url: str) -> bool:
    try:
        cmd = (p / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in cmd and url.rsplit(":", 1)[1].encode() in cmd


if __name__ == "__main__":
    main()
