"""Run ``inpaintkit serve`` in a child process on a free loopback port (scripts, benchmarks, tests).

with BackgroundServer(["--model", "telea"]) as url:
    httpx.get(f"{url}/healthz")
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BackgroundServer:
    """Start the server, wait until ``/healthz`` answers, stop it (and only it) on exit.

    Args:
        args: extra ``inpaintkit serve`` arguments (``--model``, ``--workers`` ...).
        timeout: seconds to wait for the server to come up (importing torch can take a while on a busy machine).
        log: file to receive the server's output (default: discarded).
    """

    def __init__(
        self,
        args: list[str] | None = None,
        *,
        host: str = "127.0.0.1",
        timeout: float = 90.0,
        log: str | os.PathLike | None = None,
    ):
        self.args = list(args or [])
        self.host = host
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.timeout = timeout
        self.log = log
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> str:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        cmd = [
            sys.executable,
            "-m",
            "inpaintkit",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
        if out is not subprocess.DEVNULL:
            out.close()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"inpaintkit serve exited with code {self.proc.returncode} before answering ({' '.join(cmd)})"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self.url
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"inpaintkit serve did not answer on {self.url} within {self.timeout:.0f} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc) -> None:
        self.stop()
