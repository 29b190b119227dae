"""Running chunks: in this process, over local worker processes, or on a Dask cluster.

A run of ``draws`` draws is split into fixed-size chunks (``simulation.chunk_size``); chunk
``i`` always uses the i-th child of the run's SeedSequence, so *which* worker runs a chunk,
and when, never changes a number.  Executors yield results in completion order; callers put
them back in chunk order.  At most ``2 × workers`` chunks are in flight, so memory is bounded
by the chunk size, not the number of draws.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Iterator

from simsib.pipeline import ChunkResult, run_chunk
from simsib.scenario import Scenario


class Executor(str, Enum):
    local = "local"
    dask = "dask"


class ExecutionError(RuntimeError):
    """A worker died, or the cluster was lost: the run cannot finish (exit code 1)."""


@dataclass(frozen=True)
class RunPlan:
    """What to compute: the scenario, the run's entropy and its chunks."""

    scenario: Scenario
    entropy: int
    draws: int
    chunk_size: int
    quarterly_sample: int
    cashflows: bool = False

    @property
    def chunks(self) -> list[tuple[int, int]]:
        """(index, draws in chunk) for every chunk, the last one possibly short."""
        full, rest = divmod(self.draws, self.chunk_size)
        sizes = [self.chunk_size] * full + ([rest] if rest else [])
        return list(enumerate(sizes))

    def wants_quarterly(self, index: int) -> bool:
        """Quarterly series are kept only for the first ``quarterly_sample`` draws."""
        return index * self.chunk_size < self.quarterly_sample


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _run(plan: RunPlan, index: int, size: int) -> ChunkResult:
    return run_chunk(plan.scenario, plan.entropy, index, size,
                     quarterly=plan.wants_quarterly(index), cashflows=plan.cashflows)


def run_chunks(
    plan: RunPlan,
    *,
    workers: int = 1,
    executor: Executor = Executor.local,
    scheduler: str | None = None,
    skip: Iterable[int] = (),
) -> Iterator[ChunkResult]:
    """Yield the results of every chunk not in ``skip``, in completion order."""
    todo = [(i, n) for i, n in plan.chunks if i not in set(skip)]
    if executor == Executor.dask:
        yield from _run_dask(plan, todo, workers, scheduler)
    elif workers <= 1 or len(todo) <= 1:
        for index, size in todo:
            yield _run(plan, index, size)
    else:
        yield from _run_processes(plan, todo, workers)


def _bounded(submit, todo: list[tuple[int, int]], in_flight: int, wait_one) -> Iterator:
    """Submit lazily so no more than ``in_flight`` chunks are pending at once."""
    pending = []
    queue = iter(todo)
    for item in queue:
        pending.append(submit(*item))
        if len(pending) >= in_flight:
            break
    while pending:
        done, pending = wait_one(pending)
        for future in done:
            yield future
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(submit(*nxt))


def _run_processes(plan: RunPlan, todo: list[tuple[int, int]], workers: int) -> Iterator[ChunkResult]:
    # fork shares the imported modules with the workers, so they start in milliseconds.
    context = multiprocessing.get_context("fork")
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def wait_one(pending):
        done, rest = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        return done, list(rest)

    finished = False
    try:
        for future in _bounded(lambda i, n: pool.submit(_run, plan, i, n), todo, 2 * workers, wait_one):
            try:
                yield future.result()
            except cf.process.BrokenProcessPool as exc:
                raise ExecutionError(f"a worker process died ({exc}); no outputs were written") from None
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            # An error or Ctrl-C: stop the workers now rather than let them finish their chunks.
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()


def _run_dask(
    plan: RunPlan, todo: list[tuple[int, int]], workers: int, scheduler: str | None
) -> Iterator[ChunkResult]:
    try:
        from dask.distributed import Client, LocalCluster, wait
    except ImportError as exc:  # pragma: no cover - dask is a runtime dependency
        raise ExecutionError(f"the dask executor needs dask.distributed: {exc}") from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise ExecutionError(f"cannot reach the Dask scheduler {scheduler!r}: {exc}") from None

    def submit(i: int, n: int):
        return client.submit(_run, plan, i, n, pure=False, key=f"simsib-chunk-{plan.entropy}-{i}")

    def wait_one(pending):
        result = wait(pending, return_when="FIRST_COMPLETED")
        return result.done, list(result.not_done)

    n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
    try:
        for future in _bounded(submit, todo, 2 * n_workers, wait_one):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 - any remote failure ends the run
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                raise ExecutionError(f"chunk failed on the Dask cluster: {type(exc).__name__}: {exc}") from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
