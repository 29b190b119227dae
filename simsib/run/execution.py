"""Running chunks: in this process, over local worker processes, or on a Dask cluster.

A run of ``draws`` draws is split into fixed-size chunks (``simulation.chunk_size``); chunk
``i`` always uses the i-th child of the run's SeedSequence, so *which* worker runs a chunk,
and when, never changes a number.  Executors yield results in completion order; callers put
them back in chunk order.  A bounded number of chunks is in flight (one per local worker,
two per Dask worker), so memory is bounded by the chunk size, not the number of draws.

Failures end the run: a worker process that dies, a Dask scheduler that cannot be reached or
is lost, or a chunk that fails on the cluster raise :class:`ExecutionError` (exit code 1).
Whatever ends the run early -- an error, Ctrl-C, or the caller closing the iterator -- stops
the workers at once (local processes are terminated; Dask futures are cancelled).  Callers
should close the iterator of :func:`run_chunks` when they stop early (``contextlib.closing``).
:func:`~simsib.run.processes.map_processes` (the local pool) offers the same guarantees to any
other work spread over processes.
"""

from __future__ import annotations

import ctypes
import socket
import uuid
from contextlib import closing
from typing import Callable, Iterable, Iterator
from urllib.parse import urlsplit

from simsib.model.qmc import prepare_sobol
from simsib.run import pipeline
from simsib.run.pipeline import ChunkResult, run_chunk
from simsib.run.plan import RunPlan
from simsib.run.processes import TERMINATE_SECONDS, end_of_startup, map_processes  # noqa: F401  (re-exported)
from simsib.run.settings import ExecutionError, Executor, default_workers  # noqa: F401  (re-exported)
from simsib.scenario.format import Scenario

DASK_CONNECT_SECONDS = 10.0  # a reachable scheduler answers well within this
DASK_WORKERS_SECONDS = 60.0  # how long to wait for the first worker to join the scheduler
# glibc mallopt parameters (malloc.h) and the values set by tune_allocator().
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's maximum: arrays up to 32 MB come from the heap
_TRIM_THRESHOLD_BYTES = 256 << 20  # keep up to 256 MB of freed heap for the next chunk
_TOP_PAD_BYTES = 64 << 20
_allocator_tuned = False


def tune_allocator() -> None:
    """Let this process reuse freed memory instead of returning it to the OS after every array.

    A chunk allocates and frees hundreds of temporary arrays of a few MB.  By default glibc
    hands blocks that large back to the kernel at once (mmap, heap trimming), so every new
    array page-faults afresh: 10-15% of a chunk's CPU time here, more on some virtual machines.
    Raising the thresholds keeps them in the heap.  Numbers are unaffected; the price is that
    a process running chunks keeps its peak heap (bounded by the chunk size).  Called once per
    process that runs chunks; a no-op where the C library has no ``mallopt`` (not glibc).
    """
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - musl, macOS, Windows
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    mallopt(_M_TOP_PAD, _TOP_PAD_BYTES)


def _run(plan: RunPlan, index: int, size: int) -> ChunkResult:
    tune_allocator()
    # `run_chunk` is looked up in this module at call time: the one seam where a test can
    # substitute a chunk function (forked workers inherit the substitution).
    return run_chunk(plan.scenario, plan.entropy, index, size,
                     quarterly=plan.wants_quarterly(index), cashflows=plan.cashflows)


def warm_up(scenario: Scenario, entropy: int | None = None) -> None:
    """Load the compiled kernels in this process, before it forks workers.

    Loading numba's cached machine code takes about 0.2 s per process; done once here, every
    forked worker inherits it instead of loading it again.  A two-draw chunk touches every
    kernel; its numbers are discarded (chunks are pure, so nothing else changes).  With the
    run's ``entropy``, its Sobol scrambles are drawn here too, once rather than in every worker.
    """
    pipeline.run_chunk(scenario, 0, 0, 2, quarterly=False)
    if entropy is not None:
        prepare_sobol(scenario, entropy)


def run_chunks(
    plan: RunPlan,
    *,
    workers: int = 1,
    executor: Executor = Executor.local,
    scheduler: str | None = None,
    skip: Iterable[int] = (),
) -> Iterator[ChunkResult]:
    """Yield the results of every chunk not in ``skip``, in completion order.

    ``workers <= 1`` (local) runs the chunks in this process.  Close the returned iterator
    (``contextlib.closing``) if you stop consuming it early, so workers stop at once.
    """
    skipped = set(skip)
    todo = [(i, n) for i, n in plan.chunks if i not in skipped]
    if executor == Executor.dask:
        end_of_startup()
        return _run_dask(plan, todo, workers, scheduler)
    if workers <= 1 or len(todo) <= 1:
        return _run_here(plan, todo)
    return _run_processes(plan, todo, workers)


def _run_here(plan: RunPlan, todo: list[tuple[int, int]]) -> Iterator[ChunkResult]:
    for position, (index, size) in enumerate(todo):
        yield _run(plan, index, size)
        if position == 0:  # the first chunk loaded the kernels: start-up is over
            end_of_startup()


def _bounded(submit: Callable, todo: list[tuple], in_flight: int, wait_some: Callable) -> Iterator:
    """Yield futures as they complete, submitting lazily: at most ``in_flight`` pending."""
    queue = iter(todo)
    pending = [submit(*item) for _, item in zip(range(in_flight), queue)]
    while pending:
        done, pending = wait_some(pending)
        for future in done:
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(submit(*nxt))
            yield future


_FORKED_PLAN: RunPlan | None = None  # the plan forked workers inherit (see _run_processes)


def _run_inherited(index: int, size: int) -> ChunkResult:
    return _run(_FORKED_PLAN, index, size)


def _run_processes(plan: RunPlan, todo: list[tuple[int, int]], workers: int) -> Iterator[ChunkResult]:
    global _FORKED_PLAN
    warm_up(plan.scenario, plan.entropy)
    # The workers fork with the plan in memory, so each call sends two numbers, not the pickled
    # scenario (3 ms a chunk in the parent alone).
    _FORKED_PLAN = plan
    with closing(map_processes(_run_inherited, [(index, size) for index, size in todo], workers)) as results:
        for _, result in results:
            yield result


# Dask --------------------------------------------------------------------------------------


def _check_reachable(scheduler: str) -> None:
    """Fail fast, with a clear message, when nothing listens at a tcp:// scheduler address.

    Dask's own connect retries a refused connection until its timeout; a refused TCP
    connection is certain to fail, so say so at once.
    """
    parts = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    if parts.scheme != "tcp" or not parts.hostname:
        return
    try:
        port = parts.port or 8786
    except ValueError:
        raise ExecutionError(f"bad Dask scheduler address {scheduler!r}: the port must be a number") from None
    try:
        with socket.create_connection((parts.hostname, port), timeout=DASK_CONNECT_SECONDS):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ExecutionError(
            f"cannot reach the Dask scheduler at {scheduler} ({reason}); is `dask scheduler` "
            f"running there, and is port {port} open?"
        ) from None


def _connect_dask(scheduler: str | None, workers: int):
    """(client, cluster or None): a client of ``scheduler``, or of a new local cluster."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a runtime dependency
        raise ExecutionError(f"the dask executor needs dask.distributed: {exc}") from None
    if not scheduler:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1,
                               processes=True, dashboard_address=":0")
        return Client(cluster), cluster
    _check_reachable(scheduler)
    try:
        client = Client(scheduler, timeout=f"{DASK_CONNECT_SECONDS}s")
    except (OSError, TimeoutError) as exc:
        raise ExecutionError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
    try:
        client.wait_for_workers(1, timeout=DASK_WORKERS_SECONDS)
    except (OSError, TimeoutError):
        client.close()
        raise ExecutionError(
            f"the Dask scheduler at {scheduler} has no workers (none joined within "
            f"{DASK_WORKERS_SECONDS:.0f} s); start some with `dask worker {scheduler}`"
        ) from None
    return client, None


def _run_dask(
    plan: RunPlan, todo: list[tuple[int, int]], workers: int, scheduler: str | None
) -> Iterator[ChunkResult]:
    from dask.distributed import wait

    client, cluster = _connect_dask(scheduler, workers)
    # Keys unique to this run: two runs with the same seed on one cluster must never share
    # (or cancel) each other's results.
    token = uuid.uuid4().hex[:16]
    outstanding: set = set()

    def submit(index: int, size: int):
        future = client.submit(_run, plan, index, size, pure=False, key=f"simsib-{token}-chunk-{index}")
        outstanding.add(future)
        return future

    def wait_some(pending):
        result = wait(pending, return_when="FIRST_COMPLETED")
        return sorted(result.done, key=lambda f: f.key), list(result.not_done)

    try:
        n_workers = len(client.scheduler_info().get("workers", {})) or max(1, workers)
        for future in _bounded(submit, todo, 2 * n_workers, wait_some):
            result = future.result()
            outstanding.discard(future)  # dropping the last reference frees it on the cluster
            del future
            yield result
    except ExecutionError:
        raise
    except Exception as exc:  # noqa: BLE001 - a lost cluster or a remote failure ends the run
        where = f"the Dask cluster at {scheduler}" if scheduler else "the local Dask cluster"
        text = str(exc)
        if "connection-lost" in text or "lost the connection" in text:
            reason = "lost the connection to the scheduler"
        else:  # Dask's messages can run to many lines; the first says what happened
            reason = f"{type(exc).__name__}: {text.strip().splitlines()[0] if text.strip() else ''}"
        raise ExecutionError(f"the run failed on {where}: {reason}; no outputs were written") from None
    finally:
        try:
            if outstanding:
                client.cancel(list(outstanding))
        except Exception:  # noqa: BLE001 - best effort: the connection may be gone
            pass
        client.close()
        if cluster is not None:
            cluster.close()
