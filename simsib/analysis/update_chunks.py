"""The re-forecast's chunks: prior draws with what a review could see of them, and posterior draws.

:func:`prior_chunk` simulates chunk ``index`` of the prior run -- the same streams, so the same
numbers, as :func:`simsib.run.pipeline.run_chunk` -- and keeps, per draw, its per-draw columns
and the simulated value of every observed row: a few hundred bytes a draw, so the prior can
be large.  :func:`posterior_chunk` simulates it again for the draws the resampling chose (with
repeats), keeping also their quarterly series, the money already paid and still to come at
the review quarter, and their figures if new starts stopped at the review quarter; their
futures after the review quarter are simulated afresh
(:func:`simsib.run.observables.continue_history`) when the update moves them.  Both are pure:
every random number comes from the run's entropy and the chunk's index, so any worker can run
any chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.analysis.observations import SERIES, Observations, quarterly_values, simulated_values
from simsib.model.inputs import DrawInputs, sample_inputs
from simsib.model.streams import chunk_seed, update_seed
from simsib.run.execution import tune_allocator
from simsib.run.observables import History, continue_history, observable_series, simulate_history, take_rows
from simsib.run.pipeline import draw_columns, quarterly_series, settle
from simsib.scenario.format import Scenario

MOVE_KEY = 1  # update_seed subkey of re-simulated futures (0 is the resampling)
# Per-draw figures compared between continuing and stopping new starts at the review.
DECISION_METRICS = ("moic_committed", "investor_profit", "distributions", "outcome_payments", "true_savings",
                    "net_benefit", "young_people_started")
# Money split at the review quarter: (column stem, quarterly series).
SPLIT = (("outcome_payments", "payments"), ("distributions", "distributions"), ("capital_drawn", "capital_drawn"))


@dataclass(frozen=True)
class UpdateSpec:
    """What every chunk of one re-forecast needs to know (pickled to worker processes).

    observations : every row any stage conditions on
    """

    scenario: Scenario
    entropy: int
    chunk_size: int
    observations: Observations


@dataclass
class PathsChunk:
    """Per-draw results of one chunk (axis 0 the draw).

    draws : column -> (n,) per-draw inputs and metrics, as in draws.parquet, plus the split at
        the review quarter and the ``stop_*`` figures
    quarterly : series -> (n, n_quarters): the run's quarterly series, distributions and capital
        drawn, and each observed series (by its observations name) at every quarter end
    simulated : (n, n_rows) each observed row's value in each draw
    """

    index: int
    draws: dict[str, np.ndarray]
    quarterly: dict[str, np.ndarray]
    simulated: np.ndarray


def _paths(spec: UpdateSpec, index: int, inputs: DrawInputs, history: History, review: int | None = None
           ) -> PathsChunk:
    """The chunk's per-draw columns and simulated figures; with a ``review`` quarter, also its
    quarterly series, the money split at the review and the ``stop_*`` figures."""
    scenario = spec.scenario
    settlement = settle(scenario, inputs, history.outcomes)
    columns = draw_columns(scenario, inputs, settlement, history.monthly_starts)
    observed = observable_series(scenario, inputs, history, settlement, cohorts=spec.observations.needs_cohorts)
    simulated = simulated_values(spec.observations, observed)
    if review is None:
        return PathsChunk(index, columns, {}, simulated)
    waterfall = settlement.waterfall
    quarterly = quarterly_series(history.monthly_starts, settlement.stop_quarter, waterfall)
    quarterly["distributions"] = waterfall.distributed
    quarterly["capital_drawn"] = waterfall.drawn
    for name in spec.observations.series_used:
        if name not in quarterly:
            quarterly[name] = quarterly_values(SERIES[name], observed)
    for stem, series in SPLIT:
        quarterly_money = quarterly[series]
        columns[f"{stem}_to_date"] = quarterly_money[:, :review].sum(axis=1)
        columns[f"{stem}_to_come"] = quarterly_money[:, review:].sum(axis=1)
    n = len(columns["moic_committed"])
    stopped = settle(scenario, inputs, history.outcomes, stop_quarter=np.full(n, review))
    stopped_columns = draw_columns(scenario, inputs, stopped, history.monthly_starts)
    columns.update({f"stop_{name}": stopped_columns[name] for name in DECISION_METRICS})
    return PathsChunk(index, columns, quarterly, simulated)


def _prior_paths(spec: UpdateSpec, index: int, size: int) -> tuple[DrawInputs, History]:
    chunk = chunk_seed(spec.entropy, index)
    inputs = sample_inputs(spec.scenario, chunk, size)
    return inputs, simulate_history(spec.scenario, inputs, chunk)


def prior_chunk(spec: UpdateSpec, index: int, size: int) -> PathsChunk:
    """Chunk ``index`` (``size`` draws) of the prior run: its per-draw columns (``run_chunk``'s
    numbers) and each draw's value of every observed row."""
    tune_allocator()
    inputs, history = _prior_paths(spec, index, size)
    return _paths(spec, index, inputs, history)


def posterior_chunk(spec: UpdateSpec, index: int, size: int, rows: np.ndarray, review: int, move: bool,
                    stage: int) -> PathsChunk:
    """Draws ``rows`` (positions in prior chunk ``index``, repeats allowed), with everything a
    posterior draw at review quarter ``review`` carries.

    The prior chunk is simulated again (its numbers are the prior run's).  With ``move``, the
    chosen draws' futures from the review quarter are drawn afresh -- the move step of stage
    ``stage`` -- at most ``chunk_size`` draws at a time, each batch from its own stream
    ``update_seed(entropy, index, MOVE_KEY, stage, batch)``.
    """
    tune_allocator()
    inputs_all, history_all = _prior_paths(spec, index, size)
    parts = []
    for batch, start in enumerate(range(0, len(rows), spec.chunk_size)):
        chosen = rows[start:start + spec.chunk_size]
        inputs, history = take_rows(inputs_all, chosen), take_rows(history_all, chosen)
        if move:
            seed = update_seed(spec.entropy, index, MOVE_KEY, stage, batch)
            history = continue_history(spec.scenario, inputs, history, review, seed)
        parts.append(_paths(spec, index, inputs, history, review))
    return PathsChunk(
        index,
        {k: np.concatenate([p.draws[k] for p in parts]) for k in parts[0].draws},
        {k: np.concatenate([p.quarterly[k] for p in parts]) for k in parts[0].quarterly},
        np.concatenate([p.simulated for p in parts]),
    )
