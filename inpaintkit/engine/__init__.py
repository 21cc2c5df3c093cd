"""Batch engines: the same per-item work in this process, in a local process pool, or on a Ray cluster.

Every batch command (``run``, ``evaluate``, ``forensics make-dataset``, ``detect``) describes its work as a
*work factory* — a small picklable object whose call builds the per-worker state once (models loaded, threads
set) and returns the function that does one item — plus an iterable of items (paths and names, never pixels).
``map_items`` runs that on the chosen engine and yields ``(index, result)`` as items finish:

- ``local``, one job: in this process (no pickling, the default);
- ``local``, ``jobs > 1``: a pool of spawned processes on this machine;
- ``ray``: a pool of Ray actors (``inpaintkit.engine.ray_engine``), one model load per actor, on a local Ray
  or on a cluster (``address="auto"`` or ``HOST:PORT``).

The work function is the same object on every engine and every random choice in it is seeded per item, so the
outputs do not depend on the engine or the number of workers. Items stream: at most a few per worker are in
flight, so a million paths never become a million pending tasks. A user error for one item (unreadable file, bad
mask: ``InpaintKitError``) becomes a ``Failure`` result for that item, on every engine, and is never retried; a
Ray worker that dies (killed, out of memory) is restarted by Ray and its items retried a few times.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import InpaintKitError

ENGINES = ("local", "ray")
#: items queued per worker beyond the one it is running (keeps workers busy without materialising the item list)
IN_FLIGHT_PER_WORKER = 2
INSTALL_HINT = "pip install 'inpaintkit[distributed]'"
#: Ray's switch (read once, at ``import ray``) that, at "0", makes a local Ray use and listen on 127.0.0.1 only
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"

Work = Callable[[Any], Any]
WorkFactory = Callable[[], Work]


@dataclass(frozen=True)
class EngineOptions:
    """Where a batch runs (the ``--engine``, ``--jobs`` and ``--ray-address`` flags)."""

    kind: str = "local"
    #: local: worker processes (None: 1, in this process); ray: Ray workers (None: one per CPU of the cluster)
    jobs: int | None = None
    #: ray only: None starts a local Ray on this machine; "auto" joins the cluster this node belongs to;
    #: "HOST:PORT" (or "ray://HOST:10001") joins that cluster
    address: str | None = None

    def check(self) -> None:
        if self.kind not in ENGINES:
            raise InpaintKitError(f"--engine {self.kind!r}: choose from {', '.join(ENGINES)}")
        if self.jobs is not None and self.jobs < 1:
            raise InpaintKitError(f"--jobs {self.jobs}: must be at least 1")
        if self.address is not None and self.kind != "ray":
            raise InpaintKitError("--ray-address: only with --engine ray")

    @property
    def parallel(self) -> bool:
        """Whether items run outside this process (so workers hold their own copy of the models)."""
        return self.kind == "ray" or (self.jobs or 1) > 1


@dataclass(frozen=True)
class Failure:
    """An item that failed with a user error (reported, not retried)."""

    message: str


def single_thread() -> None:
    """One compute thread in this process — OpenMP, OpenCV, numpy's BLAS, torch: worker processes share the cores,
    and on a busy machine threads waiting for work cost more CPU than they save (the forensic noise branch, on a
    busy 2-core machine: 49 ms of CPU per 256² image with the default threads, 28 ms with one). Results do not
    depend on the thread count. torch is only touched if the work already imported it."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import cv2
    from threadpoolctl import threadpool_limits  # (a scikit-learn dependency) numpy's BLAS read its env at import

    cv2.setNumThreads(1)
    threadpool_limits(1, user_api="blas")
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(1)


def call_work(work: Work, item: Any) -> Any:
    """One item; a user error becomes a ``Failure`` (the same on every engine)."""
    try:
        return work(item)
    except InpaintKitError as e:
        return Failure(str(e))


def check_ray(address: str | None = None) -> None:
    """Import Ray, or a one-line error (not a traceback) when it is not installed.

    With no ``address`` a local Ray is started later: before the first ``import ray``, Ray is told this is a
    one-machine cluster, so its node address is 127.0.0.1 and its servers (GCS, raylet, workers) listen on the
    loopback interface only (by default they listen on every interface).
    """
    if address is None and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray  # noqa: F401
    except ImportError:
        raise InpaintKitError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None


def map_items(
    opts: EngineOptions,
    factory: WorkFactory,
    items: Iterable[Any],
    *,
    total: int | None = None,
    desc: str = "",
    progress: bool = True,
    ordered: bool = False,
    log: Callable[[str], None] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Run ``factory()(item)`` for every item on the engine ``opts``; yield ``(index, result)`` per item.

    Args:
        factory: picklable; called once per worker (model loading goes there). With ``local`` and one job it is
            called once, in this process.
        items: iterated lazily, as workers free up.
        total: number of items, for the progress bar.
        ordered: yield in item order (results that finish early wait in a buffer) instead of as they finish.
        log: where engine messages go (Ray start-up, dashboard link); default stderr.
    """
    from tqdm import tqdm

    opts.check()
    log = log or (lambda s: print(s, file=sys.stderr))
    if opts.kind == "ray":
        check_ray(opts.address)
        from .ray_engine import ray_map

        stream = ray_map(opts, factory, items, log=log)  # connects (or starts Ray) now, before the bar
    elif (opts.jobs or 1) > 1:
        stream = _pool_map(opts.jobs, factory, items)
    else:
        work = factory()
        stream = ((i, call_work(work, it)) for i, it in enumerate(items))
    bar = tqdm(total=total, desc=desc or None, unit="img", file=sys.stderr, disable=not progress)
    try:
        it = _in_order(stream) if ordered else stream
        for i, res in it:
            bar.update()
            yield i, res
    finally:
        bar.close()
        stream.close()


def _in_order(stream: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    waiting: dict[int, Any] = {}
    nxt = 0
    for i, res in stream:
        waiting[i] = res
        while nxt in waiting:
            yield nxt, waiting.pop(nxt)
            nxt += 1


# ---------------------------------------------------------------------------------------------------------------
# local process pool
# ---------------------------------------------------------------------------------------------------------------
_WORK: Work | None = None


def _init_pool_worker(factory: WorkFactory) -> None:
    global _WORK
    single_thread()
    _WORK = factory()


def _pool_call(item: Any) -> Any:
    assert _WORK is not None
    return call_work(_WORK, item)


def _pool_map(jobs: int, factory: WorkFactory, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch/OpenCV threads
    source = enumerate(items)
    with cf.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init_pool_worker, initargs=(factory,)
    ) as pool:
        pending: dict[cf.Future, int] = {}
        try:
            while True:
                for i, item in source:
                    pending[pool.submit(_pool_call, item)] = i
                    if len(pending) >= jobs * (1 + IN_FLIGHT_PER_WORKER):
                        break
                if not pending:
                    return
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    try:
                        res = fut.result()
                    except cf.process.BrokenProcessPool:
                        raise InpaintKitError(
                            "a worker process died (out of memory?); re-run the same command "
                            "to resume, with fewer --jobs or --engine ray (which retries)"
                        ) from None
                    yield i, res
        except BaseException:  # a failure, Ctrl-C or the caller stopping: drop the queued items
            pool.shutdown(wait=False, cancel_futures=True)
            raise
