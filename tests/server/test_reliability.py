"""Regression tests for issue 19 at the server: bugs keep the connection, hostile bodies are 4xx, the pool keeps a
lane for small requests, stalled bodies and runaway fills end."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
import time
from contextlib import contextmanager

import numpy as np
import uvicorn
from PIL import Image

from inpaintkit.inpainters.opencv import TeleaInpainter
from inpaintkit.server import Settings, create_app
from inpaintkit.server.background import free_port
from inpaintkit.server.pool import Ticket, WorkerPool


@contextmanager
def serve_in_thread(settings: Settings, holder: dict | None = None):
    """A real uvicorn server for ``settings`` on a free loopback port, in a thread: yields (host, port).

    ``holder["app"]`` receives the application (to reach its models and pool)."""
    port = free_port()
    app = create_app(settings)
    if holder is not None:
        holder["app"] = app
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", timeout_keep_alive=30)
    )
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        t.join(10)


class _BrokenDetector:
    def detect(self, rgb):
        raise RuntimeError("boom")


def test_a_500_keeps_the_keep_alive_connection(image_png, codec):
    """A 500 closed the connection and failed the client's next request (24 collateral failures, issue 19.4)."""
    with serve_in_thread(Settings(models=("telea",), detector=_BrokenDetector(), serve_web=False)) as (host, port):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        body = json.dumps({"image": codec.b64(image_png)})
        conn.request("POST", "/api/v1/detect", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        detail = json.loads(r.read())["detail"]
        assert r.status == 500 and detail == "internal error (RuntimeError); this is a bug in inpaintkit"
        sock = conn.sock
        conn.request("GET", "/healthz")  # same connection
        r2 = conn.getresponse()
        assert r2.status == 200 and json.loads(r2.read())["status"] == "ok" and conn.sock is sock
        conn.close()


def test_a_body_that_never_comes_gets_408_and_the_connection_closes():
    """Headers and no body kept a connection open >= 90 s (issue 19.12)."""
    with serve_in_thread(Settings(models=("telea",), body_timeout=0.5, serve_web=False)) as (host, port):
        with socket.create_connection((host, port), timeout=10) as s:
            t0 = time.monotonic()
            s.sendall(
                b"POST /api/v1/inpaint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n"
            )
            data = b""
            while chunk := s.recv(4096):  # ends when the server closes
                data += chunk
            assert time.monotonic() - t0 < 5
        assert data.startswith(b"HTTP/1.1 408") and b"request body stalled" in data


def test_deep_json_and_huge_integers_are_422(client):
    """JSON nested 100 000 deep or an integer of > 4 300 digits gave 500 (issue 19.4)."""
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post("/api/v1/inpaint", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "nested too deeply" in r.json()["detail"]
    huge = '{"image": "x", "mask": "y", "hd_strategy_crop_margin": ' + "9" * 5000 + "}"
    r = client.post("/api/v1/inpaint", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]


def test_a_fill_past_the_time_budget_stops_with_413(make_client, codec, image_png, hole_png):
    c = make_client(request_timeout=0.0)
    r = c.post("/api/v1/inpaint", json={"image": codec.b64(image_png), "mask": codec.b64(hole_png)})
    assert r.status_code == 413 and "time budget of 0 s" in r.json()["detail"]


def test_heavy_jobs_leave_a_worker_for_light_ones():
    """Two many-region requests held both workers while small requests waited 38 s (issue 19.1)."""
    pool = WorkerPool(workers=2, queue_size=8)
    release = threading.Event()
    started = []

    def slow(tag):
        started.append(tag)
        release.wait(10)
        return tag

    try:
        h1 = pool.submit(slow, "h1", heavy=True)
        h2 = pool.submit(slow, "h2", heavy=True)
        time.sleep(0.1)
        assert started == ["h1"] and pool.stats()["waiting"] == 1  # the second heavy job waits
        light = pool.submit(lambda: "light")
        assert light.result(5).value == "light"  # runs on the free worker while h1 is still busy
        release.set()
        assert h1.result(5).value == "h1" and h2.result(5).value == "h2"
    finally:
        release.set()
        pool.shutdown()


def test_a_job_cancelled_while_queued_never_runs():
    pool = WorkerPool(workers=1, queue_size=4)
    release = threading.Event()
    ran = []
    try:
        first = pool.submit(lambda: release.wait(10))
        ticket = Ticket()
        queued = pool.submit(ran.append, "queued", ticket=ticket)
        assert pool.stats()["waiting"] == 1
        ticket.cancel()
        queued.cancel()
        assert pool.stats()["waiting"] == 0  # its place in the queue is free at once
        release.set()
        first.result(5)
        time.sleep(0.05)
        assert ran == [] and queued.cancelled()
    finally:
        release.set()
        pool.shutdown()


def test_ticket_times_out_after_its_budget():
    t = Ticket(budget=0.05)
    assert not t.cancelled()  # the clock starts when a worker picks the job up
    t.started = time.monotonic()
    assert not t.cancelled()
    time.sleep(0.08)
    assert t.cancelled() and t.timed_out


def test_one_bit_mask_through_the_api(client, image, hole, codec):
    """A 1-bit PNG mask gave a 500 with biharmonic (issue 19.5)."""
    buf = io.BytesIO()
    Image.fromarray(hole.astype(np.uint8) * 255).convert("1").save(buf, format="PNG")
    r = client.post(
        "/api/v1/inpaint",
        json={"image": codec.b64(codec.encode(image)), "mask": codec.b64(buf.getvalue()), "model": "biharmonic"},
    )
    assert r.status_code == 200
    out = codec.decode(r.content)
    assert np.array_equal(out[~hole], image[~hole])


class _Gate(TeleaInpainter):
    """telea that blocks until released, and counts its calls."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.calls = 0

    def inpaint(self, image, mask, **options):
        self.calls += 1
        assert self.release.wait(20)
        return super().inpaint(image, mask, **options)


def test_a_queued_fill_is_dropped_when_its_client_leaves(image_png, hole_png, codec):
    """Work went on after the client had gone (issue 19.1): a queued request whose client disconnects never runs."""
    settings = Settings(models=("telea",), workers=1, serve_web=False)
    app_holder = {}
    gate = _Gate()
    body = json.dumps({"image": codec.b64(image_png), "mask": codec.b64(hole_png)}).encode()
    request = (
        b"POST /api/v1/inpaint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with serve_in_thread(settings, app_holder) as (host, port):
        app_holder["app"].state.models.put("telea", gate)
        first = socket.create_connection((host, port), timeout=10)
        first.sendall(request)
        pool = app_holder["app"].state.pool
        _wait(lambda: pool.stats()["running"] == 1)
        second = socket.create_connection((host, port), timeout=10)
        second.sendall(request)
        _wait(lambda: pool.stats()["waiting"] == 1)
        second.close()  # the client gives up
        _wait(lambda: pool.stats()["waiting"] == 0)  # dropped from the queue at once, not run later
        gate.release.set()
        assert first.recv(12) == b"HTTP/1.1 200"
        first.close()
        time.sleep(0.3)
        assert gate.calls == 1 and pool.stats()["running"] == 0


def _wait(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)
