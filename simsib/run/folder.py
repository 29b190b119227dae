"""A run written to a folder on disk: simulated chunk by chunk, verified, assembled, summarised, published whole."""

from __future__ import annotations

import contextlib
import platform
import sys
import time
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from simsib.model.qmc import draw_groups, replicates_text
from simsib.run.execution import Executor, run_chunks
from simsib.run.outputs import (
    DRAWS_FILE,
    MANIFEST_FILE,
    QUARTERLY_FILE,
    SCENARIO_FILE,
    SUMMARY_FILE,
    assemble,
    column_names,
    column_reader,
    numpy_column,
    quarterly_sample,
    verify_outputs,
    write_csv,
    write_json,
)
from simsib.run.ownership import OutputFolder
from simsib.run.partial import PartialRun
from simsib.run.plan import Progress, RunPlan, make_plan, run_header
from simsib.run.precision import (
    CONVERGENCE_FIGURES,
    CONVERGENCE_FILE,
    Convergence,
    columns_for,
    convergence_columns,
    precision_record,
)
from simsib.run.settings import check_scheduler_address
from simsib.run.summary import quarterly_bands, summarise, write_quarterly_csv
from simsib.scenario.format import Scenario


@dataclass(frozen=True)
class RunInfo:
    out_dir: Path
    summary: dict[str, Any]
    manifest: dict[str, Any]


def run_to_folder(
    scenario: Scenario,
    raw_scenario: dict[str, Any],
    out_dir: Path,
    *,
    draws: int | None = None,
    seed: int | None = None,
    precision: Mapping[str, float] | None = None,
    max_draws: int | None = None,
    workers: int = 1,
    executor: Executor = Executor.local,
    scheduler: str | None = None,
    resume: bool = False,
    cashflows: bool = False,
    force: bool = False,
    command: Sequence[str] = (),
    progress: Progress | None = None,
    notice: Callable[[str], None] | None = None,
    extra_files: Callable[[Path, dict], None] | None = None,
) -> RunInfo:
    """Run and publish ``out_dir`` whole (the rules are :mod:`simsib.run.ownership`'s).

    ``draws`` draws; or, with ``precision`` (figure -> target standard error; default the
    scenario's ``simulation.precision`` when ``draws`` is not given), chunks in chunk order until
    every target is met or ``max_draws`` (default ``simulation.max_draws``) is reached -- the
    result then equals a run of the draws it stopped at (see :mod:`simsib.run.precision`).

    With ``resume``, chunks already completed by an interrupted run of the *same* plan (scenario
    hash, entropy, draws, chunk size) are reused if their checksums hold; damaged ones are
    recomputed and reported through ``notice``.  The result is bit-identical to an
    uninterrupted run.  ``resume`` needs the interrupted run's seed (or its recorded entropy).

    Raises
    ------
    ScenarioError
        Before any work: ``out_dir`` is not a usable folder, holds files simsib did not write
        (unless ``force``), or another process is writing it; or ``scheduler`` is malformed.
    """
    started = time.perf_counter()
    if scheduler:
        check_scheduler_address(scheduler)
    targets = dict(precision if precision is not None else ({} if draws is not None else scenario.simulation.precision))
    if targets:
        draws = max_draws or scenario.simulation.max_draws
    with OutputFolder(out_dir, kind="run", force=force) as folder:
        plan = make_plan(scenario, draws, seed, cashflows=cashflows)
        header = run_header(plan, seed)
        identity = {k: header[k] for k in ("draws", "seed_entropy", "chunk_size", "simsib_version", "scenario_sha256")}
        identity.update(cashflows=cashflows, precision=targets, partial_format="arrow-ipc-2")
        partial = PartialRun(folder.out_dir, identity, resume, dict(plan.chunks))
        for index, why in partial.rejected:
            if notice:
                notice(f"chunk {index} of the interrupted run is not used: {why}; recomputing it")
        done = partial.completed()
        if progress and done:
            progress(sum(n for i, n in plan.chunks if i in done))
        monitor = Convergence(scenario, list(targets)) if targets else None
        try:
            used = _simulate(plan, partial, done, monitor, targets, progress,
                             workers=workers, executor=executor, scheduler=scheduler)
        except BaseException:  # interrupted or failed: keep what was computed, for --resume
            with contextlib.suppress(Exception):
                partial.spill()
            raise
        simulated = time.perf_counter()
        if monitor is not None:  # the run is the draws it stopped at, exactly as a run of that many
            plan = replace(plan, draws=monitor.draws)
            header = run_header(plan, seed)
            stopped = "max_draws" if monitor.unmet(targets) else "precise"
            if stopped == "max_draws" and notice:
                notice(_short_of(targets, monitor))

        staging = folder.staging()
        convergence = Convergence(scenario, [*CONVERGENCE_FIGURES, *targets])
        n = assemble(partial, staging, len(plan.chunks), cashflows,
                     on_chunk=lambda index, table: convergence.add(index, _numpy_columns(table, convergence)))
        verify_outputs(staging, plan.draws, cashflows)
        groups = draw_groups(scenario, plan.chunks)
        # A short run's columns are still in memory; a long one's are read back one at a time.
        n_chunks = len(plan.chunks)
        read = (lambda column: partial.column(column, n_chunks)) if partial.in_memory(n_chunks) \
            else column_reader(staging / DRAWS_FILE)
        sample = quarterly_sample(partial, plan.quarterly_sample, len(plan.chunks))
        summary = {**header, **summarise(read, n, column_names(staging / DRAWS_FILE), plan.scenario,
                                         groups=groups, replicates_text=replicates_text(scenario),
                                         quarterly_payments=sample.get("payments"))}
        write_json(staging / SUMMARY_FILE, summary)
        write_quarterly_csv(staging / QUARTERLY_FILE, quarterly_bands(sample))
        write_csv(staging / CONVERGENCE_FILE, convergence_columns(convergence.rows))
        write_scenario(staging / SCENARIO_FILE, raw_scenario)
        manifest = {
            **header,
            "command": list(command),
            "workers": workers,
            "executor": Executor(executor).value,
            "resumed_chunks": len(done),
            "recomputed_chunks": [{"index": i, "reason": why} for i, why in partial.rejected],
            "precision": precision_record(targets, monitor, used, stopped) if monitor is not None else None,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "timings_seconds": {"simulate": round(simulated - started, 3),
                                "total": round(time.perf_counter() - started, 3)},
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "platform": platform.platform(),
        }
        write_json(staging / MANIFEST_FILE, manifest)  # the report (below) reads it
        if extra_files is not None:
            extra_files(staging, summary)
        manifest = folder.publish(staging, manifest)
        partial.remove()
    return RunInfo(folder.out_dir, summary, manifest)


def _simulate(plan: RunPlan, partial: PartialRun, done: set[int], monitor: Convergence | None,
              targets: Mapping[str, float], progress: Progress | None, **execution: Any) -> int:
    """Compute and save the plan's chunks not in ``done``; with a monitor, stop at the first chunk
    boundary (in chunk order) where every target is met.  Returns the most draws the plan allowed."""
    pending: dict[int, dict[str, np.ndarray]] = {}

    def precise() -> bool:  # fold in the completed chunks that continue the prefix, in order
        while monitor.chunks < len(plan.chunks):
            index = monitor.chunks
            if index in pending:
                monitor.add(index, pending.pop(index))
            elif index in done:
                monitor.add(index, _numpy_columns(partial.draws(index), monitor))
            else:
                return False
            if not monitor.unmet(targets):
                return True
        return True

    if monitor is not None and precise():
        return plan.draws
    # closing(): stop the workers at once if saving or the progress callback raises (Ctrl-C), or
    # when the run is precise enough.
    with closing(run_chunks(plan, skip=done, **execution)) as results:
        for chunk in results:
            partial.save(chunk)
            if progress:
                progress(chunk.n_draws)
            if monitor is not None:
                pending[chunk.index] = {c: chunk.draws[c] for c in columns_for(monitor.figures)}
                if precise():
                    break
    return plan.draws


def _numpy_columns(table, monitor: Convergence) -> dict[str, np.ndarray]:
    return {c: numpy_column(table.column(c)) for c in columns_for(monitor.figures)}


def _short_of(targets: Mapping[str, float], monitor: Convergence) -> str:
    unmet = monitor.unmet(targets)
    shown = ", ".join(f"{figure} se {'undefined' if se is None else f'{se:.4g}'} > {targets[figure]:g}"
                      for figure, se in unmet.items())
    return (f"stopped at the maximum of {monitor.draws:,} draws before every target was met: {shown}; "
            "raise --max-draws for more precision")


def write_scenario(path: Path, raw: dict[str, Any]) -> None:
    import tomli_w

    path.write_text(
        "# The resolved scenario of this run (extends and --set applied); rerun it with\n"
        f"# simsib run {path.name}\n" + tomli_w.dumps(drop_none(raw))
    )


def drop_none(node: Any) -> Any:
    """``node`` without its None entries (TOML has no null): for writing a resolved scenario."""
    if isinstance(node, dict):
        return {k: drop_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [drop_none(v) for v in node]
    return node
