"""One chunk of draws through every stage: inputs → referrals → people → outcomes → money → metrics.

The pipeline never knows it is part of a larger run: it takes the run's entropy and its chunk
index, derives its own streams (``simsib.streams``) and returns plain arrays, so chunks can be
run in any order, on any worker, and give identical numbers.

The SPV can run out of money, which stops new starts, which changes later payments and costs.
Because a stop at quarter ``s`` only removes start cohorts ``≥ s`` -- whose outcomes, payments
and per-person costs all fall in quarters ``≥ s`` -- the settlement below is a monotone fixed
point: run the money, find each draw's first quarter it could not pay its costs, remove the
cohorts from there, and repeat until no draw's stop moves (usually one or two rounds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simsib.carepaths import CohortQuarterly, simulate_aggregates
from simsib.cashflows import Waterfall, cost_schedule, run_waterfall
from simsib.metrics import council_metrics, investor_metrics, outcome_metrics
from simsib.payments import Payments, measured_quarters, milestone_needs, outcome_payments, served_outcomes
from simsib.referrals import monthly_starts
from simsib.sampling import DrawInputs, sample_inputs
from simsib.scenario import Scenario, per_draw_quantities
from simsib.streams import chunk_seed, stream

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

    outcomes: CohortQuarterly  # served cohorts only
    payments: Payments
    waterfall: Waterfall
    stop_quarter: np.ndarray  # (n,) first quarter with no new starts (n_quarters if none)
    unfunded_costs: np.ndarray  # (n,) £ costs the SPV could not pay


def simulate_outcomes(
    scenario: Scenario, inputs: DrawInputs, chunk: np.random.SeedSequence
) -> tuple[CohortQuarterly, np.ndarray]:
    """Referrals and care paths for a chunk: (outcomes by cohort and quarter, monthly starts)."""
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"))
    blocks, once = milestone_needs(scenario)
    return simulate_aggregates(scenario, inputs, starts, stream(chunk, "people"), blocks, once), starts


def settle(scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly) -> Settlement:
    """Payments and the cash waterfall, stopping new starts where the SPV runs out of capital."""
    n, n_cohorts, n_quarters = outcomes.child_days.shape
    measured = measured_quarters(scenario, n_quarters)
    cohorts = np.arange(n_cohorts)
    stop = np.full(n, n_quarters, dtype=np.int64)
    for _ in range(n_quarters + 1):  # monotone: each round moves stops earlier or ends
        served = served_outcomes(outcomes, cohorts[None, :] < stop[:, None], measured)
        payments = outcome_payments(scenario, inputs, served)
        costs = cost_schedule(scenario, inputs, served.starts, stop)
        waterfall = run_waterfall(scenario, inputs, payments.paid, costs.total)
        new_stop = np.minimum(stop, waterfall.first_short_quarter)
        if np.array_equal(new_stop, stop):
            break
        stop = new_stop
    unfunded = (waterfall.costs_owed - waterfall.costs_paid).sum(axis=1)
    return Settlement(served, payments, waterfall, stop, unfunded)


def quarterly_series(monthly: np.ndarray, stop: np.ndarray, waterfall: Waterfall) -> dict[str, np.ndarray]:
    """Per-draw quarterly series for percentile bands, each (n, n_quarters)."""
    n, n_quarters = waterfall.payments.shape
    months = np.zeros((n, n_quarters * 3))
    months[:, : monthly.shape[1]] = monthly[:, : n_quarters * 3]
    starts = months.reshape(n, n_quarters, 3).sum(axis=2)
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
    columns.update(council_metrics(scenario, inputs, settlement.outcomes, settlement.payments))
    columns.update(outcome_metrics(scenario, inputs, settlement.outcomes, monthly, settlement.stop_quarter))
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
