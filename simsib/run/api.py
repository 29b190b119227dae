"""The Python API: :func:`simulate` a scenario in memory and get DataFrames back."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from simsib.model.qmc import draw_groups, replicates_text
from simsib.run.execution import Executor, run_chunks
from simsib.run.pipeline import QUARTERLY_SERIES, ChunkResult
from simsib.run.plan import RunPlan, make_plan, run_header
from simsib.run.summary import flatten, quarterly_bands, summarise
from simsib.scenario.format import Scenario


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
    groups = draw_groups(scenario, plan.chunks)
    summary = {**header, **summarise(lambda c: table[c].to_numpy(), len(table), list(table.columns), scenario,
                                     groups=groups, replicates_text=replicates_text(scenario),
                                     quarterly_payments=sample.get("payments"))}
    return SimulationResult(scenario, header, table, pd.DataFrame(quarterly_bands(sample)), summary, sample, flows)
