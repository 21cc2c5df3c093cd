"""The Ray engine: a pool of Ray actors, each built once from the work factory, fed a few items at a time.

Imported only for ``--engine ray`` (``ray`` is the optional extra ``inpaintkit[distributed]``). Ray Core actors
rather than Ray Data: the items are paths and the results a few numbers or records, so an actor pool with a bounded
window of tasks streams them with no pyarrow/pandas dependency and keeps every write in the worker that made it.

Faults: an actor whose process dies (killed, out of memory, node lost) is restarted by Ray (``max_restarts=-1``)
and the tasks it held are resubmitted (``max_task_retries``); an item that kills its worker every time becomes a
``Failure`` after ``MAX_TASK_RETRIES`` retries instead of being retried forever. A user error in an item
(``InpaintKitError``) is a ``Failure`` at once, as on the local engine; a worker that cannot start (a model that
does not load on that node) stops the job with one line.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError

from ..errors import InpaintKitError
from . import IN_FLIGHT_PER_WORKER, EngineOptions, Failure, WorkFactory, call_work, single_thread

#: retries of an item whose worker died while running it (then it is reported as failed)
MAX_TASK_RETRIES = 3
#: object store of a local Ray started by us: items and results are small (paths, records, feature vectors)
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20


@ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=MAX_TASK_RETRIES)
class EngineWorker:
    """One Ray worker: builds the work once (models loaded here), then runs items."""

    def __init__(self, factory: WorkFactory):
        single_thread()
        self.work = factory()

    def run(self, item: Any) -> Any:
        return call_work(self.work, item)


def connect(opts: EngineOptions, log: Callable[[str], None]) -> bool:
    """Start or join Ray unless this process already holds a Ray session; True if this call started it."""
    if ray.is_initialized():  # a caller (a test, a notebook, the benchmark) already connected
        return False
    t0 = time.perf_counter()
    common = {"logging_level": logging.WARNING, "log_to_driver": True}
    try:
        if opts.address is None:
            # on 127.0.0.1 only when ray was first imported through check_ray (inpaintkit.engine.LOOPBACK_ENV)
            ctx = ray.init(address="local", num_cpus=opts.jobs, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **common)
            where = f"started a local Ray ({int(ray.cluster_resources().get('CPU', 0))} CPUs)"
        else:
            ctx = ray.init(address=opts.address, **common)
            nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
            where = (
                f"joined the Ray cluster at {opts.address} ({nodes} node(s), "
                f"{int(ray.cluster_resources().get('CPU', 0))} CPUs)"
            )
    except ConnectionError as e:
        raise InpaintKitError(
            f"--ray-address {opts.address}: no Ray cluster there ({e}); start one with "
            "`ray start --head` or drop --ray-address to start a local Ray"
        ) from None
    log(f"ray: {where} in {time.perf_counter() - t0:.1f} s")
    url = getattr(ctx, "dashboard_url", None)
    if url:
        log(f"ray: dashboard at {url if '://' in url else 'http://' + url}")
    return True


def _died_message(e: RayActorError) -> str:
    """The line that says why: the exception raised in the worker's ``__init__``, else the first line of Ray's."""
    lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(e)).splitlines() if ln.strip()]
    if not lines:
        return type(e).__name__
    if e.actor_init_failed:
        return lines[-1].removeprefix(f"{InpaintKitError.__module__}.{InpaintKitError.__name__}: ")
    return lines[0][:200]


def ray_map(
    opts: EngineOptions, factory: WorkFactory, items: Iterable[Any], *, log: Callable[[str], None]
) -> Iterator[tuple[int, Any]]:
    """``(index, result)`` for every item, in the order they finish, from a pool of ``EngineWorker`` actors.

    Connects to (or starts) Ray and asks for the workers now; the items go out when the iterator is advanced."""
    started = connect(opts, log)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    n = opts.jobs or cpus
    if n > cpus:  # an actor that can never get its CPU would hold its items forever
        log(f"ray: --jobs {n} is more than the cluster's {cpus} CPUs; using {cpus} workers")
        n = cpus
    log(f"ray: {n} worker(s)")
    actors = [EngineWorker.remote(factory) for _ in range(n)]
    return _run(actors, items, started)


def _run(actors: list[Any], items: Iterable[Any], started: bool) -> Iterator[tuple[int, Any]]:
    n = len(actors)
    try:
        source = enumerate(items)
        pending: dict[Any, tuple[int, int]] = {}  # ObjectRef -> (item index, actor index)

        def submit(a: int) -> None:
            for i, item in source:
                pending[actors[a].run.remote(item)] = (i, a)
                return

        for _ in range(1 + IN_FLIGHT_PER_WORKER):
            for a in range(n):
                submit(a)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            i, a = pending.pop(ref)
            try:
                res = ray.get(ref)
            except RayTaskError as e:  # a bug in the work itself: stop, as the local engine does
                raise e.as_instanceof_cause() from None
            except RayActorError as e:
                msg = _died_message(e)
                if e.actor_init_failed:  # the worker cannot even start: every item would fail the same way
                    raise InpaintKitError(f"a Ray worker could not start: {msg}") from None
                res = Failure(
                    f"item {i}: its Ray worker died {MAX_TASK_RETRIES + 1} times while running it "
                    f"(out of memory?): {msg}"
                )
            yield i, res
            submit(a)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
