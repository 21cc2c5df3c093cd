"""A bounded worker pool: ``workers`` threads run jobs, at most ``queue_size`` more wait, the rest are refused.

The event loop never runs image work itself: decoding, the model and encoding all happen on the pool, so the
server keeps answering ``/healthz`` (and refusing with 503) while it is busy. A refusal carries an estimate of
when to retry, from the recent average job time.

Jobs are *light* or *heavy* (the caller says which: large images are heavy). Light jobs go first, and heavy jobs
never hold more than ``workers - 1`` threads (when there are two or more), so a few expensive requests cannot
make every small request wait behind them. Each job gets a ``Ticket``: the job polls ``ticket.cancelled()``
(the client went away, or the job ran past its time budget) and stops early; a job still queued when it is
cancelled never runs.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
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


@dataclass
class Ticket:
    """A job's cancellation state: ``cancel()`` from anywhere; the job polls ``cancelled()``.

    ``budget`` seconds after the job starts it counts as cancelled too (``timed_out`` tells which).
    """

    budget: float | None = None
    started: float | None = None
    _event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._event.set()

    @property
    def timed_out(self) -> bool:
        return self.budget is not None and self.started is not None and time.monotonic() - self.started > self.budget

    def cancelled(self) -> bool:
        return self._event.is_set() or self.timed_out


@dataclass(eq=False)  # identity: queues remove this job, not an equal one
class _Job:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    heavy: bool
    ticket: Ticket
    future: Future
    submitted: float


class WorkerPool:
    def __init__(self, workers: int = 2, queue_size: int = 16):
        if workers < 1 or queue_size < 0:
            raise ValueError(f"need workers >= 1 and queue_size >= 0, got {workers}, {queue_size}")
        self.workers = workers
        self.queue_size = queue_size
        #: Most threads heavy jobs may hold at once: one is always left for light jobs when there are two.
        self.max_heavy = max(1, workers - 1)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inpaintkit-worker")
        self._lock = threading.RLock()  # re-entered by a queued job's cancel callback
        self._light: deque[_Job] = deque()
        self._heavy: deque[_Job] = deque()
        self._running = 0
        self._running_heavy = 0
        self._avg_seconds = 1.0  # moving average of job time, for Retry-After
        self._closed = False

    @property
    def capacity(self) -> int:
        return self.workers + self.queue_size

    def _waiting(self) -> int:
        return len(self._light) + len(self._heavy)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "workers": self.workers,
                "running": self._running,
                "waiting": self._waiting(),
                "capacity": self.capacity,
            }

    def _retry_after(self) -> int:
        waves = (self._running + self._waiting() - self.workers + 1) / self.workers
        return max(1, math.ceil(self._avg_seconds * max(waves, 1)))

    def submit(
        self, fn: Callable[..., T], *args: Any, heavy: bool = False, ticket: Ticket | None = None, **kwargs: Any
    ) -> Future:
        """Queue ``fn``; raises ``Busy`` when the pool and its queue are full. The future holds a ``Timed``.

        Cancelling the future (or ``ticket``) before a worker picks the job up drops it.
        """
        job = _Job(fn, args, kwargs, heavy, ticket or Ticket(), Future(), time.perf_counter())
        with self._lock:
            if self._closed:
                raise Busy(1, self.capacity)
            if self._running + self._waiting() >= self.capacity:
                raise Busy(self._retry_after(), self.capacity)
            (self._heavy if heavy else self._light).append(job)
        job.future.add_done_callback(lambda f: self._forget(job) if f.cancelled() else None)
        self._dispatch()
        return job.future

    def _next_job(self) -> _Job | None:
        """Under the lock: the job to start now, if a thread is free (light first; heavy within its share)."""
        while self._running < self.workers:
            if self._light:
                job = self._light.popleft()
            elif self._heavy and self._running_heavy < self.max_heavy:
                job = self._heavy.popleft()
            else:
                return None
            if job.ticket.cancelled() or not job.future.set_running_or_notify_cancel():
                if not job.future.done():
                    job.future.cancel()
                    job.future.set_running_or_notify_cancel()
                continue  # cancelled while queued: never runs
            self._running += 1
            self._running_heavy += job.heavy
            return job
        return None

    def _forget(self, job: _Job) -> None:
        """A queued job was cancelled: free its place in the queue now."""
        with self._lock:
            for q in (self._light, self._heavy):
                if job in q:
                    q.remove(job)

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                job = self._next_job()
            if job is None:
                return
            self._executor.submit(self._run, job)

    def _run(self, job: _Job) -> None:
        t0 = time.perf_counter()
        job.ticket.started = time.monotonic()
        error: BaseException | None = None
        try:
            value = job.fn(*job.args, **job.kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting request, which re-raises it
            error = e
        dt = time.perf_counter() - t0
        # the books first, then the result: a client holding its response sees this job gone from /healthz
        with self._lock:
            self._running -= 1
            self._running_heavy -= job.heavy
            self._avg_seconds = 0.8 * self._avg_seconds + 0.2 * dt
        try:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(Timed(value, t0 - job.submitted, dt))
        finally:
            self._dispatch()

    async def run(
        self, fn: Callable[..., T], *args: Any, heavy: bool = False, ticket: Ticket | None = None, **kwargs: Any
    ) -> Timed:
        """``submit`` and await the result from the event loop; cancelling the await cancels the job."""
        ticket = ticket or Ticket()
        fut = self.submit(fn, *args, heavy=heavy, ticket=ticket, **kwargs)
        try:
            return await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            ticket.cancel()
            fut.cancel()
            raise

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            dropped = [*self._light, *self._heavy]
            self._light.clear()
            self._heavy.clear()
        for job in dropped:
            job.ticket.cancel()
            job.future.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
