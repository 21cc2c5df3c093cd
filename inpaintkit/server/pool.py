"""A bounded worker pool: ``workers`` threads run jobs, at most ``queue_size`` more wait, the rest are refused.

The event loop never runs image work itself: decoding, the model and encoding all happen on the pool, so the
server keeps answering ``/healthz`` (and refusing with 503) while it is busy. A refusal carries an estimate of
when to retry, from the recent average job time.
"""
from __future__ import annotations

import asyncio
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the queue is full."""

    def __init__(self, retry_after: int, capacity: int):
        super().__init__(f"server busy: {capacity} requests are already running or queued; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Timed:
    value: Any
    queued: float  # seconds from submission to a worker picking the job up
    ran: float  # seconds the job itself took


class WorkerPool:
    def __init__(self, workers: int = 2, queue_size: int = 16):
        if workers < 1 or queue_size < 0:
            raise ValueError(f"need workers >= 1 and queue_size >= 0, got {workers}, {queue_size}")
        self.workers = workers
        self.queue_size = queue_size
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inpaintkit-worker")
        self._lock = threading.Lock()
        self._inflight = 0
        self._running = 0
        self._avg_seconds = 1.0  # moving average of job time, for Retry-After

    @property
    def capacity(self) -> int:
        return self.workers + self.queue_size

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"workers": self.workers, "running": self._running, "waiting": self._inflight - self._running,
                    "capacity": self.capacity}

    def _retry_after(self) -> int:
        waves = (self._inflight - self.workers + 1) / self.workers
        return max(1, math.ceil(self._avg_seconds * max(waves, 1)))

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future:
        """Queue ``fn``; raises ``Busy`` when the pool and its queue are full. The future holds a ``Timed``."""
        with self._lock:
            if self._inflight >= self.capacity:
                raise Busy(self._retry_after(), self.capacity)
            self._inflight += 1
        t_submit = time.perf_counter()

        def job() -> Timed:
            t0 = time.perf_counter()
            with self._lock:
                self._running += 1
            try:
                value = fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                with self._lock:
                    self._running -= 1
                    self._avg_seconds = 0.8 * self._avg_seconds + 0.2 * dt
            return Timed(value, t0 - t_submit, dt)

        fut = self._executor.submit(job)

        def done(_: Future) -> None:  # runs when the job ends or is cancelled before it started
            with self._lock:
                self._inflight -= 1

        fut.add_done_callback(done)
        return fut

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Timed:
        """``submit`` and await the result from the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
