"""A run written to a folder on disk: simulated chunk by chunk, assembled, summarised, published atomically."""

from __future__ import annotations

import platform
import shutil
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from simsib.run.execution import Executor, run_chunks
from simsib.run.outputs import (
    DRAWS_FILE,
    MANIFEST_FILE,
    QUARTERLY_FILE,
    SCENARIO_FILE,
    SUMMARY_FILE,
    PartialRun,
    assemble,
    column_names,
    column_reader,
    publish,
    quarterly_sample,
    staging_folder,
    write_json,
)
from simsib.run.plan import Progress, make_plan, run_header
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
        summary = {**header, **summarise(column_reader(staging / DRAWS_FILE), n,
                                         column_names(staging / DRAWS_FILE), plan.scenario)}
        write_json(staging / SUMMARY_FILE, summary)
        write_quarterly_csv(staging / QUARTERLY_FILE, quarterly_bands(quarterly_sample(partial, plan.quarterly_sample)))
        write_scenario(staging / SCENARIO_FILE, raw_scenario)
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


def write_scenario(path: Path, raw: dict[str, Any]) -> None:
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
