"""Whole runs: the Python API (:func:`simulate`) and run folders on disk (:func:`run_to_folder`)."""

from __future__ import annotations

import platform
import shutil
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from simsib import __version__
from simsib.run.execution import Executor, RunPlan, run_chunks
from simsib.scenario.loader import scenario_sha256
from simsib.run.outputs import (
    MANIFEST_FILE, QUARTERLY_FILE, SCENARIO_FILE, SUMMARY_FILE, DRAWS_FILE,
    PartialRun, assemble, column_reader, publish, quarterly_sample, staging_folder, write_json,
)
from simsib.run.pipeline import QUARTERLY_SERIES, ChunkResult
from simsib.scenario.format import Scenario
from simsib.model.streams import new_entropy
from simsib.run.summary import PERCENTILES, flatten, summarise

Progress = Callable[[int], None]  # called with the number of draws just completed


def make_plan(
    scenario: Scenario, draws: int | None, seed: int | None, *, cashflows: bool = False
) -> RunPlan:
    """A run plan; an unseeded run gets fresh OS entropy, recorded in its outputs."""
    return RunPlan(
        scenario=scenario,
        entropy=int(seed) if seed is not None else new_entropy(),
        draws=int(draws if draws is not None else scenario.simulation.draws),
        chunk_size=scenario.simulation.chunk_size,
        quarterly_sample=scenario.simulation.quarterly_sample,
        cashflows=cashflows,
    )


def run_header(plan: RunPlan, seed: int | None) -> dict[str, Any]:
    """Identity of a run's results: everything needed to reproduce them, nothing time-dependent."""
    return {
        "scenario": plan.scenario.meta.name,
        "draws": plan.draws,
        "seed": seed,
        "seed_entropy": plan.entropy,
        "chunk_size": plan.chunk_size,
        "simsib_version": __version__,
        "scenario_sha256": scenario_sha256(plan.scenario),
    }


def quarterly_bands(sample: dict[str, np.ndarray]) -> pd.DataFrame:
    """Tidy percentile bands per quarter: quarter, month_end, series, mean, p05 … p95, n."""
    rows = []
    for series in QUARTERLY_SERIES:
        values = sample.get(series)
        if values is None or values.size == 0:
            continue
        pct = np.percentile(values, PERCENTILES, axis=0)
        for q in range(values.shape[1]):
            row = {"quarter": q, "month_end": 3 * (q + 1), "series": series, "mean": float(values[:, q].mean())}
            row.update({f"p{p:02d}": float(pct[i, q]) for i, p in enumerate(PERCENTILES)})
            row["n"] = values.shape[0]
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class SimulationResult:
    """An in-memory run: per-draw table, quarterly bands, and the summary."""

    scenario: Scenario
    header: dict[str, Any]
    draws: pd.DataFrame
    quarterly: pd.DataFrame
    summary_dict: dict[str, Any] = field(repr=False)
    quarterly_sample: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    cashflows: np.ndarray | None = field(repr=False, default=None)

    def summary(self) -> pd.DataFrame:
        """One row per headline statistic: mean, se, percentiles (or value, se for probabilities)."""
        return pd.DataFrame(flatten(self.summary_dict)).set_index("metric")


def collect(chunks: Sequence[ChunkResult], plan: RunPlan) -> tuple[pd.DataFrame, dict, np.ndarray | None]:
    """Chunk results (any order) -> draws table, quarterly sample, cash flows."""
    ordered = sorted(chunks, key=lambda c: c.index)
    draws = pd.DataFrame({k: np.concatenate([c.draws[k] for c in ordered]) for k in ordered[0].draws})
    sample = {
        k: np.concatenate([c.quarterly[k] for c in ordered if c.quarterly])[: plan.quarterly_sample]
        for k in QUARTERLY_SERIES if ordered[0].quarterly
    }
    flows = np.concatenate([c.cashflows for c in ordered]) if plan.cashflows else None
    return draws, sample, flows


def simulate(
    scenario: Scenario,
    draws: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    executor: Executor | str = Executor.local,
    scheduler: str | None = None,
    cashflows: bool = False,
) -> SimulationResult:
    """Run ``draws`` Monte Carlo draws of ``scenario`` in memory.

    Same scenario and seed give identical numbers for any ``workers`` or executor.

    Examples
    --------
    >>> import simsib
    >>> result = simsib.simulate(simsib.load_scenario(), draws=200, seed=1)
    >>> bool(result.draws["moic_committed"].notna().all())
    True
    """
    plan = make_plan(scenario, draws, seed, cashflows=cashflows)
    with closing(run_chunks(plan, workers=workers, executor=Executor(executor), scheduler=scheduler)) as results:
        chunks = list(results)
    table, sample, flows = collect(chunks, plan)
    header = run_header(plan, seed)
    summary = {**header, **summarise(lambda c: table[c].to_numpy(), len(table))}
    return SimulationResult(scenario, header, table, quarterly_bands(sample), summary, sample, flows)


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
    workers: int = 1,
    executor: Executor = Executor.local,
    scheduler: str | None = None,
    resume: bool = False,
    cashflows: bool = False,
    command: Sequence[str] = (),
    progress: Progress | None = None,
    extra_files: Callable[[Path, dict], None] | None = None,
) -> RunInfo:
    """Run and write ``out_dir`` atomically (see :mod:`simsib.run.outputs`).

    With ``resume``, chunks already completed by an interrupted run of the *same* plan (scenario
    hash, entropy, draws, chunk size) are reused; the result is bit-identical to an
    uninterrupted run.  ``resume`` needs the interrupted run's seed (or its recorded entropy).
    """
    started = time.perf_counter()
    plan = make_plan(scenario, draws, seed, cashflows=cashflows)
    header = run_header(plan, seed)
    identity = {k: header[k] for k in ("draws", "seed_entropy", "chunk_size", "simsib_version", "scenario_sha256")}
    identity["cashflows"] = cashflows
    identity["partial_format"] = "arrow-ipc-1"  # chunks stored by another simsib are not reused
    partial = PartialRun(out_dir, identity, resume)
    done = partial.completed()
    if progress and done:
        progress(sum(n for i, n in plan.chunks if i in done))
    # closing(): stop the workers at once if saving or the progress callback raises (Ctrl-C).
    with closing(run_chunks(plan, workers=workers, executor=executor, scheduler=scheduler, skip=done)) as results:
        for chunk in results:
            partial.save(chunk)
            if progress:
                progress(chunk.n_draws)
    simulated = time.perf_counter()

    staging = staging_folder(out_dir)
    try:
        n = assemble(partial, staging, len(plan.chunks), cashflows)
        summary = {**header, **summarise(column_reader(staging / DRAWS_FILE), n)}
        write_json(staging / SUMMARY_FILE, summary)
        quarterly_bands(quarterly_sample(partial, plan.quarterly_sample)).to_csv(staging / QUARTERLY_FILE, index=False)
        _write_scenario(staging / SCENARIO_FILE, raw_scenario)
        manifest = {
            **header,
            "command": list(command),
            "workers": workers,
            "executor": Executor(executor).value,
            "resumed_chunks": len(done),
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "timings_seconds": {"simulate": round(simulated - started, 3),
                                "total": round(time.perf_counter() - started, 3)},
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "platform": platform.platform(),
        }
        write_json(staging / MANIFEST_FILE, manifest)
        if extra_files is not None:
            extra_files(staging, summary)
        publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    partial.remove()
    return RunInfo(out_dir, summary, manifest)


def _write_scenario(path: Path, raw: dict[str, Any]) -> None:
    import tomli_w

    path.write_text(
        "# The resolved scenario of this run (extends and --set applied); rerun it with\n"
        f"# simsib run {path.name}\n" + tomli_w.dumps(_drop_none(raw))
    )


def _drop_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_none(v) for v in node]
    return node
