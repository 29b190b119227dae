"""A simulated draw's observables, written as an observations file: synthetic data with a known truth.

:func:`draw_observations` re-simulates the chunk that holds draw ``K`` of a run (chunks are
pure, so its numbers are the run's) and reads that draw's figures for quarters before
``until_quarter``: per-quarter figures (``referrals``, ``starts``, ``completions``, ``care_days``,
``child_days``, ``payments``), or with ``to_date`` the figures since the contract began at the
end of the last quarter (plus the care proportion to date).  With ``noise`` each figure is
measured with the re-forecast's observation model (:func:`simsib.analysis.likelihood.measure`),
from a stream of its own, so a calibration check can draw its data exactly as the update
assumes they were made.  Updating from such a file and checking where the draw's own inputs and
payments fall among the posterior draws is simulation-based calibration (Talts et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from simsib.analysis.likelihood import RowModel, measure
from simsib.analysis.observations import SERIES, Observation, Observations
from simsib.analysis.observed import simulated_values
from simsib.model.inputs import sample_inputs
from simsib.model.streams import chunk_seed, stream
from simsib.run.observables import observable_series, simulate_history
from simsib.run.pipeline import draw_columns, settle
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario

PER_QUARTER = ("referrals", "starts", "completions", "care_days", "child_days", "payments")
# Figures to date: one of each kind (care days and child-days enter through their ratio).
TO_DATE = ("referrals_to_date", "starts_to_date", "completions_to_date", "care_proportion_to_date", "payments_to_date")
NOISE_KEY = 1  # subkey of the chunk's observations stream used for measurement noise


@dataclass(frozen=True)
class DrawObservations:
    """A draw's figures as observations, and its per-draw columns (its truth)."""

    observations: Observations
    truth: dict[str, float]


def _rows(series: Sequence[str], until_quarter: int, to_date: bool) -> list[Observation]:
    if to_date:
        return [Observation(0, name, 3 * until_quarter, None, 0.0) for name in series]
    return [Observation(0, name, 3 * (q + 1), None, 0.0) for q in range(until_quarter) for name in series]


def draw_observations(
    scenario: Scenario,
    entropy: int,
    chunk_size: int,
    n_draws: int,
    draw: int,
    until_quarter: int,
    *,
    series: Sequence[str] | None = None,
    to_date: bool = False,
    noise: bool = False,
    source: str = "",
) -> DrawObservations:
    """Draw ``draw`` of the run (``entropy``, ``chunk_size``, ``n_draws``) observed before
    ``until_quarter``; see the module docstring."""
    if not 0 <= draw < n_draws:
        raise ScenarioError.single("--draw", f"expected a draw of the run, 0 to {n_draws - 1}", value=draw)
    if not 1 <= until_quarter <= scenario.n_quarters:
        raise ScenarioError.single("--until-quarter", f"expected 1 to {scenario.n_quarters} (observations cover "
                                   "the quarters before it)", value=until_quarter)
    chosen = tuple(series or (TO_DATE if to_date else PER_QUARTER))
    unknown = [name for name in chosen if name not in SERIES]
    if unknown:
        raise ScenarioError.single("--series", "unknown series", value=", ".join(unknown), choices=tuple(SERIES))
    index, position = divmod(draw, chunk_size)
    size = min(chunk_size, n_draws - index * chunk_size)
    chunk = chunk_seed(entropy, index)
    inputs = sample_inputs(scenario, chunk, size)
    history = simulate_history(scenario, inputs, chunk)
    settlement = settle(scenario, inputs, history.outcomes, history.monthly_starts)
    arrays = observable_series(scenario, inputs, history, settlement)
    rows = _rows(chosen, until_quarter, to_date)
    values = simulated_values(Observations(tuple(rows)), arrays)[position:position + 1]
    if noise:
        model = RowModel.of(Observations(tuple(rows)))
        values = measure(model, values, stream(chunk, "observations", NOISE_KEY, position))
    made = [replace(row, line=i + 1, value=float(np.nan_to_num(v)), source=source)
            for i, (row, v) in enumerate(zip(rows, values[0]))
            if not (SERIES[row.series].kind == "share" and np.isnan(v))]  # no child-days yet: no share
    columns = draw_columns(scenario, inputs, settlement, history.monthly_starts)
    truth = {key: float(value[position]) for key, value in columns.items()}
    truth["outcome_payments_to_date"] = float(settlement.waterfall.payments[position, :until_quarter].sum())
    return DrawObservations(Observations(tuple(made)), truth)
