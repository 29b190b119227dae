"""One chunk of draws through every stage: inputs → referrals → people → outcomes → money → metrics.

The pipeline never knows it is part of a larger run: it takes the run's entropy and its chunk
index, derives its own streams (``simsib.model.streams``) and returns plain arrays, so chunks can be
run in any order, on any worker, and give identical numbers.

The SPV can run out of money, which stops new starts, which changes later payments and costs.
Because a stop at quarter ``s`` only removes start cohorts ``≥ s`` -- whose outcomes, payments
and per-person costs all fall in quarters ``≥ s`` -- the settlement below is a monotone fixed
point: run the money, find each draw's first quarter it could not pay its costs, remove the
cohorts from there, and repeat until no draw's stop moves (usually one or two rounds).  Draws
are independent, so each round after the first re-runs only the draws whose stop moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

import numpy as np

from simsib.contract.costs import cost_schedule
from simsib.contract.mechanisms import milestone_needs
from simsib.contract.metrics import OutcomeTotals, council_metrics, investor_metrics, outcome_metrics
from simsib.contract.payments import Payments, measured_quarters, outcome_payments, served_outcomes
from simsib.contract.waterfall import Waterfall, run_waterfall
from simsib.model.inputs import DrawInputs, sample_inputs
from simsib.model.outcomes import CohortQuarterly
from simsib.model.processes import simulate_aggregates
from simsib.model.referrals import monthly_starts
from simsib.model.streams import chunk_seed, stream
from simsib.scenario.format import Scenario, per_draw_quantities

QUARTERLY_SERIES = ("starts", "cumulative_starts", "payments", "investor_position", "spv_cash")


@dataclass
class ChunkResult:
    """Everything one chunk produces.

    draws : column -> (n,) per-draw sampled inputs (dotted keys) and metrics
    quarterly : series -> (n, n_quarters), see :data:`QUARTERLY_SERIES`
    cashflows : (n, n_quarters) investor cash flows, when asked for
    """

    index: int
    draws: dict[str, np.ndarray]
    quarterly: dict[str, np.ndarray] = field(default_factory=dict)
    cashflows: np.ndarray | None = None

    @property
    def n_draws(self) -> int:
        return len(next(iter(self.draws.values())))


@dataclass(frozen=True)
class Settlement:
    """The money side of a chunk once the SPV's stops have settled."""

    simulated: CohortQuarterly  # every cohort, as simulated
    measured: np.ndarray  # (n_quarters,) bool, see measured_quarters
    payments: Payments
    waterfall: Waterfall
    stop_quarter: np.ndarray  # (n,) first quarter with no new starts (n_quarters if none)
    unfunded_costs: np.ndarray  # (n,) £ costs the SPV could not pay

    @property
    def cohort_served(self) -> np.ndarray:
        """(n, n_cohorts) bool: cohorts that start before the stop quarter."""
        return np.arange(self.simulated.starts.shape[1])[None, :] < self.stop_quarter[:, None]

    @cached_property
    def outcomes(self) -> CohortQuarterly:
        """Outcomes of the served cohorts only.  Built when first asked for: a pass over every
        cube, which the metrics avoid (they need only totals, see :class:`OutcomeTotals`)."""
        return served_outcomes(self.simulated, self.cohort_served, self.measured)


def simulate_outcomes(
    scenario: Scenario, inputs: DrawInputs, chunk: np.random.SeedSequence
) -> tuple[CohortQuarterly, np.ndarray]:
    """Referrals and care paths for a chunk: (outcomes by cohort and quarter, monthly starts)."""
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"))
    blocks, once = milestone_needs(scenario)
    return simulate_aggregates(scenario, inputs, starts, stream(chunk, "people"), blocks, once), starts


def _at_rows(value: Any, rows: np.ndarray) -> Any:
    """``value`` -- an array with draws first, or a dict or dataclass of them -- at ``rows``."""
    if isinstance(value, np.ndarray):
        return value[rows]
    if isinstance(value, dict):
        return {key: _at_rows(item, rows) for key, item in value.items()}
    return replace(value, **{f.name: _at_rows(getattr(value, f.name), rows) for f in fields(value)})


def _spliced(whole: Any, rows: np.ndarray, part: Any) -> Any:
    """A copy of ``whole`` (as for :func:`_at_rows`) with ``part`` in place of its ``rows``."""
    if isinstance(whole, np.ndarray):
        out = whole.copy()
        out[rows] = part
        return out
    if isinstance(whole, dict):
        return {key: _spliced(item, rows, part[key]) for key, item in whole.items()}
    return replace(whole, **{f.name: _spliced(getattr(whole, f.name), rows, getattr(part, f.name))
                             for f in fields(whole)})


def _settle_from(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, stop: np.ndarray, measured: np.ndarray
) -> tuple[Payments, Waterfall, np.ndarray]:
    """Settled (payments, waterfall, stops) of draws whose stops are ``stop`` or earlier.

    One round for every draw given, then the same again for the draws whose stop moved only:
    a draw's money depends on its own inputs, outcomes and stop alone.  Stops only move
    earlier, so this ends within ``n_quarters + 1`` rounds.
    """
    cohorts = np.arange(outcomes.child_days.shape[1])
    served = cohorts[None, :] < stop[:, None]
    payments = outcome_payments(scenario, inputs, outcomes, served)
    costs = cost_schedule(scenario, inputs, np.where(served, outcomes.starts, 0.0), stop)
    waterfall = run_waterfall(scenario, inputs, payments.paid, costs.total)
    moved = np.flatnonzero(waterfall.first_short_quarter < stop)
    if moved.size == 0:
        return payments, waterfall, stop
    settled = _settle_from(scenario, _at_rows(inputs, moved), _at_rows(outcomes, moved),
                           waterfall.first_short_quarter[moved], measured)
    return tuple(_spliced(whole, moved, part) for whole, part in zip((payments, waterfall, stop), settled))


def settle(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, stop_quarter: np.ndarray | None = None
) -> Settlement:
    """Payments and the cash waterfall, stopping new starts where the SPV runs out of capital.

    ``stop_quarter`` ((n,) int, optional) stops new starts from that quarter in any case -- a
    decision to stop the service, as opposed to the SPV running out of money.
    """
    n, _, n_quarters = outcomes.child_days.shape
    measured = measured_quarters(scenario, n_quarters)
    stop = np.full(n, n_quarters, dtype=np.int64)
    if stop_quarter is not None:
        stop = np.minimum(stop, np.asarray(stop_quarter, dtype=np.int64))
    payments, waterfall, stop = _settle_from(scenario, inputs, outcomes, stop, measured)
    unfunded = (waterfall.costs_owed - waterfall.costs_paid).sum(axis=1)
    return Settlement(outcomes, measured, payments, waterfall, stop, unfunded)


def quarterly_series(monthly: np.ndarray, stop: np.ndarray, waterfall: Waterfall) -> dict[str, np.ndarray]:
    """Per-draw quarterly series for percentile bands, each (n, n_quarters)."""
    n, n_quarters = waterfall.payments.shape
    months = np.zeros((n, n_quarters * 3))
    months[:, : monthly.shape[1]] = monthly[:, : n_quarters * 3]
    # The three months of each quarter added: far faster than a sum over an axis of length 3.
    starts = months[:, 0::3] + months[:, 1::3] + months[:, 2::3]
    starts = np.where(np.arange(n_quarters)[None, :] < stop[:, None], starts, 0.0)
    return {
        "starts": starts,
        "cumulative_starts": np.cumsum(starts, axis=1),
        "payments": waterfall.payments,
        "investor_position": np.cumsum(waterfall.investor_flows, axis=1),
        "spv_cash": waterfall.cash,
    }


def draw_columns(
    scenario: Scenario, inputs: DrawInputs, settlement: Settlement, monthly: np.ndarray
) -> dict[str, np.ndarray]:
    """All per-draw columns: the uncertain inputs (dotted keys), then every metric."""
    columns = {key: inputs[key] for key in per_draw_quantities(scenario)}
    columns.update(investor_metrics(scenario, inputs, settlement.waterfall))
    totals = OutcomeTotals.of(settlement.simulated, settlement.cohort_served)
    columns.update(council_metrics(scenario, inputs, totals, settlement.payments))
    columns.update(outcome_metrics(scenario, inputs, totals, monthly, settlement.stop_quarter))
    short = settlement.waterfall.first_short_quarter
    columns["first_short_quarter"] = np.where(short < scenario.n_quarters, short, np.nan).astype(float)
    columns["service_stopped_early"] = settlement.stop_quarter < scenario.n_cohorts
    columns["unfunded_costs"] = settlement.unfunded_costs
    return columns


def run_chunk(
    scenario: Scenario,
    entropy: int,
    index: int,
    n_draws: int,
    *,
    quarterly: bool = True,
    cashflows: bool = False,
) -> ChunkResult:
    """Simulate chunk ``index`` of a run (``n_draws`` draws) from the run's ``entropy``."""
    chunk = chunk_seed(entropy, index)
    inputs = sample_inputs(scenario, chunk, n_draws)
    outcomes, monthly = simulate_outcomes(scenario, inputs, chunk)
    settlement = settle(scenario, inputs, outcomes)
    return ChunkResult(
        index=index,
        draws=draw_columns(scenario, inputs, settlement, monthly),
        quarterly=quarterly_series(monthly, settlement.stop_quarter, settlement.waterfall) if quarterly else {},
        cashflows=settlement.waterfall.investor_flows if cashflows else None,
    )
