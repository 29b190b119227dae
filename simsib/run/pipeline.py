"""One chunk of draws through every stage: inputs → referrals → people → outcomes → money → metrics.

The pipeline never knows it is part of a larger run: it takes the run's entropy and its chunk
index, derives its own streams (``simsib.model.streams``) and returns plain arrays, so chunks can be
run in any order, on any worker, and give identical numbers.

The money side -- payments, costs and the waterfall, with the SPV's stops for lack of cash and
the contract's review dates -- is settled in :mod:`simsib.run.settlement`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simsib.contract.capital_metrics import (
    council_term_sheet_cost,
    guarantor_metrics,
    party_flows,
    termination_metrics,
    tranche_metrics,
)
from simsib.contract.council_value import care_value
from simsib.contract.finance import running_sum
from simsib.contract.mechanisms import model_needs
from simsib.contract.metrics import (
    OutcomeTotals,
    council_metrics,
    discount_factors,
    investor_metrics,
    outcome_metrics,
    with_net_benefits,
)
from simsib.contract.outcome_metrics import cohort_metrics, payment_metrics, true_value
from simsib.contract.waterfall import Waterfall
from simsib.model.inputs import DrawInputs, sample_inputs
from simsib.model.outcomes import CohortQuarterly
from simsib.model.processes import simulate_cohorts
from simsib.model.qmc import REPLICATE_COLUMN, replicate_ids
from simsib.model.referrals import monthly_starts
from simsib.model.streams import chunk_seed, stream
from simsib.run.settlement import Settlement, payments_without_effect, settle
from simsib.scenario.format import Scenario, per_draw_quantities

__all__ = ["ChunkResult", "QUARTERLY_SERIES", "Settlement", "draw_columns", "run_chunk", "settle", "simulate_outcomes"]

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


def simulate_outcomes(
    scenario: Scenario, inputs: DrawInputs, chunk: np.random.SeedSequence, *, counterfactual_to_18: bool = False
) -> tuple[CohortQuarterly, np.ndarray]:
    """Referrals and every cohort's outcomes for a chunk: (outcomes by cohort and quarter, monthly starts).

    Simulated on the scenario's envelope (every possible extension taken; the scenario itself
    when nothing can extend it): the money stages cut each draw to its own dates."""
    scenario = scenario.envelope()
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
    # The days in care avoided to each person's 18th birthday too: the council's savings beyond the
    # window (``counterfactual_to_18``: and the counterfactual care to then, what doing nothing costs).
    needs = model_needs(scenario, horizon=True, horizon_counterfactual=counterfactual_to_18)
    return simulate_cohorts(scenario, inputs, starts, chunk, needs), starts


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
        "cumulative_starts": running_sum(starts),
        "payments": waterfall.payments,
        "investor_position": running_sum(waterfall.investor_flows),
        "spv_cash": waterfall.cash,
    }


def council_columns(
    scenario: Scenario, inputs: DrawInputs, settlement: Settlement, totals: OutcomeTotals
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The council's metrics, with what the term sheet changes for it, and the term sheet's flows
    to and from the council and the provider (:func:`party_flows`)."""
    savings = true_value(scenario, inputs, settlement.served_outcomes(), settlement.cohort_served)
    care = care_value(scenario, inputs, settlement.simulated, settlement.cohort_served, settlement.measured_by_draw)
    council = council_metrics(scenario, inputs, totals, settlement.payments, savings, care)
    flows = party_flows(scenario, inputs, settlement.waterfall)
    timeline = settlement.timeline
    cost = council_term_sheet_cost(flows)
    if timeline is not None or cost is not None:
        per_quarter = inputs["contract.council_management_cost_per_quarter"]
        management, management_pv = council["council_management_costs"], None
        if timeline is not None:  # the council manages the contract until its own end
            management = per_quarter * (timeline.final_quarter + 1.0)
            quarters = np.arange(settlement.payments.paid.shape[1])
            managed = quarters[None, :] <= timeline.final_quarter[:, None]
            management_pv = per_quarter * (discount_factors(inputs, quarters.size) * managed).sum(axis=1)
        if management_pv is None:
            management_pv = per_quarter * discount_factors(inputs, settlement.payments.paid.shape[1]).sum(axis=1)
        council = with_net_benefits(council, management, management_pv, cost)
        if cost is not None:
            council["council_term_sheet_cost"] = cost
    return council, flows


def review_changes(
    scenario: Scenario, inputs: DrawInputs, settlement: Settlement, columns: dict[str, np.ndarray],
    monthly: np.ndarray,
) -> dict[str, np.ndarray]:
    """What the review rules change in each draw: with them less without them, on the same care
    paths (``review_change_*``: outcome payments, true savings, net benefit, investors' receipts)."""
    scheduled = settle(scenario, inputs, settlement.simulated, monthly, reviews=False)
    before, _ = council_columns(scenario, inputs, scheduled, scheduled.totals())
    out = {f"review_change_{key}": columns[key] - before[key] for key in ("outcome_payments", "true_savings", "net_benefit")}
    out["review_change_distributions"] = columns["distributions"] - scheduled.waterfall.investor_receipts.sum(axis=1)
    return out


def draw_columns(
    scenario: Scenario, inputs: DrawInputs, settlement: Settlement, monthly: np.ndarray
) -> dict[str, np.ndarray]:
    """All per-draw columns: the uncertain inputs (dotted keys), then every metric."""
    columns = {key: inputs[key] for key in per_draw_quantities(scenario)}
    waterfall = settlement.waterfall
    columns.update(investor_metrics(scenario, inputs, waterfall))
    totals = settlement.totals()
    council, flows = council_columns(scenario, inputs, settlement, totals)
    columns.update({k: v for k, v in council.items() if k != "council_term_sheet_cost"})
    columns.update(outcome_metrics(scenario, inputs, totals, monthly, settlement.service_stop))
    short = waterfall.first_short_quarter
    n_quarters = waterfall.payments.shape[1]
    timeline = settlement.timeline
    columns["first_short_quarter"] = np.where(short < n_quarters, short, np.nan).astype(float)
    own_cohorts = scenario.n_cohorts if timeline is None else timeline.service_end_cohort
    columns["service_stopped_early"] = settlement.stop_quarter < own_cohorts
    columns["unfunded_costs"] = settlement.unfunded_costs
    columns.update(tranche_metrics(scenario, waterfall))
    columns.update(guarantor_metrics(scenario, waterfall))
    columns.update(termination_metrics(scenario, timeline, len(short)))
    columns.update(flows)
    if "council_term_sheet_cost" in council:
        columns["council_term_sheet_cost"] = council["council_term_sheet_cost"]
    if scenario.contract.reviews:
        columns.update(review_changes(scenario, inputs, settlement, columns, monthly))
    # Beyond Essex's columns: payments by mechanism and payer, what the contract would have paid
    # had the service had no effect, and per-cohort outcomes of processes other than care.
    without_effect = payments_without_effect(scenario, inputs, settlement)
    columns.update(payment_metrics(scenario, settlement.payments, without_effect))
    columns.update(cohort_metrics(scenario, inputs, settlement.served_outcomes(), settlement.cohort_served))
    return columns


def replicate_column(scenario: Scenario, index: int, n_draws: int) -> dict[str, np.ndarray]:
    """``{"replicate": (n,)}`` under QMC sampling -- the independent replicate each draw belongs to,
    from which every standard error is computed (:func:`simsib.run.summary.standard_error`) -- and
    nothing under random sampling, whose draws are independent."""
    if scenario.simulation.sampling == "random":
        return {}
    return {REPLICATE_COLUMN: replicate_ids(scenario, n_draws)}


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
    settlement = settle(scenario, inputs, outcomes, monthly)
    return ChunkResult(
        index=index,
        draws={**draw_columns(scenario, inputs, settlement, monthly), **replicate_column(scenario, index, n_draws)},
        quarterly=quarterly_series(monthly, settlement.service_stop, settlement.waterfall) if quarterly else {},
        cashflows=settlement.waterfall.investor_flows if cashflows else None,
    )
