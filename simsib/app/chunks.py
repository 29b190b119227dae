"""The live view's chunks: simulated and settled in this process, or in a worker process that
keeps its share of them -- the machine's second core.

A run's chunks are split into contiguous groups.  The first group lives in the server's own
process; each other group lives in a worker process started once (``spawn``, so it never
inherits the server's threads), which simulates its chunks, keeps their paths, and settles them
for every change the page makes.  Groups work at the same time, and the view joins their
per-draw columns in chunk order, so the numbers are those of one process -- and of ``simsib run``.

A re-simulation is two-phase: every group simulates into a pending set of paths, and only when
all have finished are they committed together; a cancelled or failed simulation is discarded
everywhere, so no group is ever left on other paths than the rest.
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from simsib.analysis.variants import MONEY_ONLY, derive_inputs
from simsib.model.inputs import DrawInputs, sample_inputs
from simsib.model.outcomes import CohortQuarterly
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import draw_columns, settle, simulate_outcomes
from simsib.scenario.format import Scenario
from simsib.scenario.variants import under

Plan = Sequence[tuple[int, int]]  # (chunk index, draws in it)


@dataclass
class SimulatedChunk:
    """One chunk's simulated paths: its seed, per-draw inputs (key -> (n,)), outcomes and
    monthly starts ((n, n_months))."""

    index: int
    seed: np.random.SeedSequence
    n_draws: int
    inputs: DrawInputs
    outcomes: CohortQuarterly
    monthly: np.ndarray


Paths = tuple[Scenario, list[SimulatedChunk]]  # the scenario simulated, and its chunks


class NeedsSimulation(Exception):
    """The change reaches the model: the care paths in memory do not apply."""


class WorkerFailed(RuntimeError):
    """A worker process died or failed: the view cannot go on with its chunks."""


def simulate_chunk(scenario: Scenario, entropy: int, index: int, size: int) -> SimulatedChunk:
    """Sample a chunk's inputs and simulate its outcomes, exactly as ``simsib run`` does."""
    seed = chunk_seed(entropy, index)
    inputs = sample_inputs(scenario, seed, size)
    outcomes, monthly = simulate_outcomes(scenario, inputs, seed)
    return SimulatedChunk(index, seed, size, inputs, outcomes, monthly)


def _model_inputs_equal(a: DrawInputs, b: DrawInputs) -> bool:
    keys = {k for k in (*a, *b) if not under(k, MONEY_ONLY)}
    return all(k in a and k in b and np.array_equal(a[k], b[k]) for k in keys)


def settle_chunks(paths: Paths, scenario: Scenario) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every chunk of ``paths`` settled for ``scenario``: (per-draw columns, joined in chunk order;
    outcome payments by quarter, (n, n_quarters) £).  Raises :class:`NeedsSimulation` if a chunk's
    model inputs differ (the check :func:`simsib.analysis.variants.run_variant_chunk` makes)."""
    simulated_for, chunks = paths
    parts, payments = [], []
    for chunk in chunks:
        inputs = derive_inputs(simulated_for, chunk.inputs, scenario, chunk.seed, chunk.n_draws)
        if not _model_inputs_equal(chunk.inputs, inputs):
            raise NeedsSimulation
        settlement = settle(scenario, inputs, chunk.outcomes, chunk.monthly)
        parts.append(draw_columns(scenario, inputs, settlement, chunk.monthly))
        payments.append(settlement.waterfall.payments)
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}, np.concatenate(payments)


def split_plan(plan: Plan, groups: int) -> list[list[tuple[int, int]]]:
    """Contiguous groups of chunks with about the same number of draws each (none empty)."""
    groups = max(1, min(groups, len(plan)))
    total = sum(size for _, size in plan)
    out: list[list[tuple[int, int]]] = [[] for _ in range(groups)]
    done = 0
    for index, size in plan:
        out[min(groups - 1, done * groups // total)].append((index, size))
        done += size
    return [group for group in out if group]


# --- a worker process ----------------------------------------------------------------------


def _worker_main(conn, cancel, entropy: int, plan: Plan) -> None:
    """A worker's loop: ("simulate", scenario) -> progress and "simulated" (or "cancelled");
    "commit" / "discard"; ("settle", scenario) -> "settled" (or "needs_simulation"); "stop"."""
    from simsib.run.execution import tune_allocator

    # Ctrl-C reaches the whole process group; the server decides when its worker stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_allocator()
    paths: Paths | None = None
    pending: Paths | None = None
    while True:
        try:
            op, argument = conn.recv()
        except (EOFError, OSError):  # the server has gone: so does the worker
            return
        try:
            if op == "simulate":
                chunks = []
                for index, size in plan:
                    if cancel.is_set():
                        break
                    chunks.append(simulate_chunk(argument, entropy, index, size))
                    conn.send(("progress", size))
                pending = (argument, chunks) if len(chunks) == len(plan) else None
                conn.send(("simulated", None) if pending is not None else ("cancelled", None))
            elif op == "commit":
                paths, pending = pending, None
            elif op == "discard":
                pending = None
            elif op == "settle":
                if paths is None:
                    conn.send(("needs_simulation", None))
                    continue
                try:
                    conn.send(("settled", settle_chunks(paths, argument)))
                except NeedsSimulation:
                    conn.send(("needs_simulation", None))
            elif op == "stop":
                return
        except Exception as exc:  # noqa: BLE001 - reported to the server, which says so on the page
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


class RemoteGroup:
    """A group of chunks kept in a worker process (started at once, ``spawn``)."""

    def __init__(self, entropy: int, plan: Plan, cancel):
        context = multiprocessing.get_context("spawn")
        self.plan = list(plan)
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(theirs, cancel, entropy, self.plan), daemon=True,
                                       name="simsib-app-worker")
        self.process.start()
        theirs.close()

    def send(self, op: str, argument: Any = None) -> None:
        try:
            self.conn.send((op, argument))
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def receive(self) -> tuple[str, Any]:
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        if kind == "error":
            raise WorkerFailed(f"the live view's worker process failed: {value}")
        return kind, value

    def poll(self) -> bool:
        return self.conn.poll()

    def _died(self) -> WorkerFailed:
        self.process.join(timeout=1)
        return WorkerFailed(f"the live view's worker process died (exit code {self.process.exitcode}); "
                            "restart simsib app")

    def close(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(("stop", None))
            except OSError:
                pass
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(timeout=5)
        self.conn.close()


def simulate_groups(scenario: Scenario, entropy: int, local_plan: Plan, remotes: Sequence[RemoteGroup], cancel,
                    progress: Callable[[int], None], cancelled: Callable[[], bool]) -> list[SimulatedChunk] | None:
    """Simulate every group at once: the local chunks here, the others in their workers.

    Returns the local chunks, with every worker's pending paths committed; or None, everything
    discarded, if cancelled (``cancelled()`` is asked between chunks and passed on through
    ``cancel``).  ``progress(draws)`` is called as chunks finish anywhere.
    """
    cancel.clear()
    for remote in remotes:
        remote.send("simulate", scenario)
    finished: dict[int, str] = {}

    def drain(block: bool) -> None:
        for position, remote in enumerate(remotes):
            while position not in finished and (block or remote.poll()):
                if cancelled():
                    cancel.set()
                kind, value = remote.receive()
                if kind == "progress":
                    progress(value)
                else:
                    finished[position] = kind

    local = []
    try:
        for index, size in local_plan:
            if cancelled():
                cancel.set()
                break
            local.append(simulate_chunk(scenario, entropy, index, size))
            progress(size)
            drain(block=False)
        drain(block=True)
    except BaseException:
        cancel.set()
        for position, remote in enumerate(remotes):
            if position not in finished and remote.process.is_alive():
                try:  # wait for its answer, so the next request does not read it
                    while remote.receive()[0] == "progress":
                        pass
                except WorkerFailed:
                    pass
        for remote in remotes:
            if remote.process.is_alive():
                remote.send("discard")
        raise
    complete = len(local) == len(local_plan) and all(kind == "simulated" for kind in finished.values())
    for remote in remotes:
        remote.send("commit" if complete else "discard")
    return local if complete else None


def settle_groups(paths: Paths, scenario: Scenario, remotes: Sequence[RemoteGroup]
                  ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Settle every group at once; the columns and payments joined in chunk order."""
    for remote in remotes:
        remote.send("settle", scenario)
    try:
        columns, payments = settle_chunks(paths, scenario)
    finally:  # always read the workers' answers, so the next request does not get them
        answers = [remote.receive() for remote in remotes]
    parts = [(columns, payments)]
    for kind, value in answers:
        if kind == "needs_simulation":
            raise NeedsSimulation
        parts.append(value)
    if len(parts) == 1:
        return columns, payments
    return ({key: np.concatenate([part[0][key] for part in parts]) for key in columns},
            np.concatenate([part[1] for part in parts]))
