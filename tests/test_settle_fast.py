"""The money side's shortcuts agree with the straightforward computation on simulated draws.

* ``settle`` re-runs only the draws whose stop moved, on outcomes as simulated; the reference
  below re-runs every draw each round on outcomes cut to the served cohorts.
* Contract netting sums outcomes over cohorts before pricing them; a cohort cap too large to
  bind takes the cohort-by-cohort path to the same payments.
* ``draw_columns`` takes the outcome metrics from totals (``OutcomeTotals``); the same metrics
  from the cut cubes must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_scenario

from simsib.contract.costs import cost_schedule
from simsib.contract.council_value import care_value
from simsib.contract.metrics import council_metrics, outcome_metrics
from simsib.contract.payments import measured_quarters, outcome_payments, served_outcomes
from simsib.contract.waterfall import run_waterfall
from simsib.model.inputs import sample_inputs
from simsib.model.referrals import service_close_month
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import draw_columns, settle, simulate_outcomes

DRAWS = 300
SEVERAL = [
    {"type": "days_saved_vs_baseline", "price_per_day": 60, "baseline_care_proportion": 0.55},
    {"type": "engagement", "price_per_person": 1500, "on": "start"},
    {"type": "engagement", "price_per_person": 700, "on": "completion"},
    {"type": "milestone", "price": 800, "block_days": 91, "repeat": True},
    {"type": "milestone", "price": 3000, "block_days": 364, "repeat": False},
]
# Commitments small enough that a third to a half of the draws stop early.
VARIANTS = {
    "essex, drawn as needed": {"spv": {"upfront_drawdown_share": 0.0, "capital_committed": 1_350_000}},
    "cohort netting and cap": {"contract": {"netting": "cohort", "cohort_cap": 400_000},
                               "spv": {"capital_committed": 1_350_000}},
    "several mechanisms, lag 2": {"contract": {"mechanisms": SEVERAL, "cap": 9_000_000, "payment_lag_quarters": 2},
                                  "spv": {"upfront_drawdown_share": 0.0, "capital_committed": 1_500_000}},
}
CLOSE = {"rtol": 1e-12, "atol": 1e-6}  # £ and days


def with_changes(sections, **more):
    """Scenario sections with ``more`` merged in, section by section."""
    merged = {section: dict(values) for section, values in sections.items()}
    for section, values in more.items():
        merged.setdefault(section, {}).update(values)
    return merged


_CHUNKS: dict[str, tuple] = {}


def chunk(name: str):
    """(scenario, inputs, outcomes, monthly starts) for one chunk of a variant, cached."""
    if name not in _CHUNKS:
        scenario = make_scenario(**VARIANTS[name])
        seed = chunk_seed(31, 0)
        inputs = sample_inputs(scenario, seed, DRAWS)
        _CHUNKS[name] = (scenario, inputs, *simulate_outcomes(scenario, inputs, seed))
    return _CHUNKS[name]


def settle_every_draw(scenario, inputs, outcomes, monthly):
    """The fixed point the plain way: every round re-runs every draw on cut outcomes."""
    n, n_cohorts, n_quarters = outcomes.child_days.shape
    measured = measured_quarters(scenario, n_quarters)
    stop = np.full(n, n_quarters)
    while True:
        served = served_outcomes(outcomes, np.arange(n_cohorts)[None, :] < stop[:, None], measured)
        payments = outcome_payments(scenario, inputs, served)
        costs = cost_schedule(scenario, inputs, served.starts, stop,
                              close_month=service_close_month(scenario, monthly))
        waterfall = run_waterfall(scenario, inputs, payments.paid, costs.total)
        new_stop = np.minimum(stop, waterfall.first_short_quarter)
        if np.array_equal(new_stop, stop):
            return served, payments, waterfall, stop
        stop = new_stop


@pytest.mark.parametrize("name", VARIANTS)
def test_settling_only_the_moved_draws_matches_settling_every_draw(name):
    scenario, inputs, outcomes, monthly = chunk(name)
    served, payments, waterfall, stop = settle_every_draw(scenario, inputs, outcomes, monthly)
    result = settle(scenario, inputs, outcomes, monthly)
    assert 0.1 < (stop < scenario.n_cohorts).mean() < 0.9  # some draws re-run, not all
    np.testing.assert_array_equal(result.stop_quarter, stop)
    for field in ("paid", "counted_days", "cap_reached", "cap_quarter"):
        np.testing.assert_allclose(getattr(result.payments, field), getattr(payments, field), **CLOSE)
    assert result.payments.by_mechanism.keys() == payments.by_mechanism.keys()
    for key, due in payments.by_mechanism.items():
        np.testing.assert_allclose(result.payments.by_mechanism[key], due, **CLOSE)
    for field in ("payments", "drawn", "costs_owed", "costs_paid", "distributed", "cash", "first_short_quarter"):
        np.testing.assert_allclose(getattr(result.waterfall, field), getattr(waterfall, field), **CLOSE)
    for field in ("child_days", "care_days_treated", "care_days_counterfactual", "completions_due",
                  "starts", "completed"):
        np.testing.assert_array_equal(getattr(result.outcomes, field), getattr(served, field))
    for n_days, cube in served.milestone_block_days.items():
        np.testing.assert_array_equal(result.outcomes.milestone_block_days[n_days], cube)
    for n_days, cube in served.milestone_people.items():
        np.testing.assert_array_equal(result.outcomes.milestone_people[n_days], cube)


@pytest.mark.parametrize("name", ["essex, drawn as needed", "several mechanisms, lag 2"])
def test_contract_netting_on_cohort_sums_matches_the_cohort_by_cohort_path(name):
    scenario, inputs, outcomes, _ = chunk(name)
    # A cohort cap no cohort can reach: the contract-netted total, computed cohort by cohort.
    unbound = make_scenario(**with_changes(VARIANTS[name], contract={"cohort_cap": 1e10}))
    served = np.random.default_rng(5).random((DRAWS, scenario.n_cohorts)) < 0.8
    summed = outcome_payments(scenario, inputs, outcomes, served)
    measured = measured_quarters(scenario, scenario.n_quarters)
    by_cohort = outcome_payments(unbound, {**inputs, "contract.cohort_cap": np.full(DRAWS, 1e10)},
                                 served_outcomes(outcomes, served, measured))
    np.testing.assert_allclose(summed.paid, by_cohort.paid, **CLOSE)
    np.testing.assert_allclose(summed.counted_days, by_cohort.counted_days, **CLOSE)
    for key, due in by_cohort.by_mechanism.items():
        np.testing.assert_allclose(summed.by_mechanism[key], due, **CLOSE)


@pytest.mark.parametrize("name", VARIANTS)
def test_metrics_from_outcome_totals_match_metrics_from_the_cut_cubes(name):
    scenario, inputs, outcomes, monthly = chunk(name)
    result = settle(scenario, inputs, outcomes, monthly)
    columns = draw_columns(scenario, inputs, result, monthly)
    expected = {**council_metrics(scenario, inputs, result.outcomes, result.payments,
                                  care=care_value(scenario, inputs, result.outcomes)),
                **outcome_metrics(scenario, inputs, result.outcomes, monthly, result.stop_quarter)}
    for column, values in expected.items():
        np.testing.assert_allclose(columns[column], values, **CLOSE, err_msg=column)
