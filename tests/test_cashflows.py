"""The SPV cash waterfall, the cost schedule and the stop fixed point: hand-worked cases.

Tables in the comments give, per quarter, what the SPV receives (``paid``), owes (``costs``),
draws from investors (``drawn``), pays (``paid costs``), distributes (``dist``) and holds at
the end of the quarter (``cash``).  Every table also satisfies the conservation law
``cash[q] = cash[q−1] + paid[q] + drawn[q] − costs_paid[q] − distributed[q]`` with final cash 0,
which each test checks too.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_inputs, make_scenario

from simsib.contract.costs import cost_schedule
from simsib.contract.payments import measured_quarters, outcome_payments, served_outcomes
from simsib.contract.waterfall import run_waterfall
from simsib.model.inputs import sample_inputs
from simsib.model.outcomes import CohortQuarterly
from simsib.model.referrals import service_close_month
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import settle, simulate_outcomes
from simsib.scenario.loader import bundled_scenario_path, load_raw

ESSEX_RAW = load_raw(bundled_scenario_path())


def waterfall(payments, costs, *, committed, reserve=0.0, distributions_from_month=0, upfront_share=0.0,
              management_fee=0.0):
    """Run the waterfall on explicit costs; ``management_fee`` only sets the fees held back."""
    payments = np.atleast_2d(np.asarray(payments, dtype=float))
    costs = np.atleast_2d(np.asarray(costs, dtype=float))
    scenario = make_scenario(spv={"distributions_from_month": distributions_from_month})
    inputs = make_inputs(scenario, payments.shape[0], spv__capital_committed=committed, spv__reserve=reserve,
                         spv__upfront_drawdown_share=upfront_share,
                         spv__management_fee_per_quarter=management_fee)
    return run_waterfall(scenario, inputs, payments, costs)


def assert_cash_conserved(w):
    previous = np.zeros(w.cash.shape[0])
    for q in range(w.cash.shape[1]):
        expected = previous + w.payments[:, q] + w.drawn[:, q] - w.costs_paid[:, q] - w.distributed[:, q]
        np.testing.assert_allclose(w.cash[:, q], expected, atol=1e-9)
        previous = w.cash[:, q]
    np.testing.assert_allclose(w.cash[:, -1], 0.0, atol=1e-9)
    assert (w.cash >= -1e-9).all() and (w.drawn >= 0).all() and (w.distributed >= 0).all()
    assert (w.costs_paid <= w.costs_owed + 1e-9).all()


PAYMENTS = [0, 0, 50, 150, 100, 30]
COSTS = [100, 80, 60, 40, 10, 5]


# Committed £250, reserve £20, distributions from month 9 (quarter 3), nothing drawn up front:
#
# | q | paid | costs | cash + paid | drawn | costs paid | dist | cash |
# |---|------|-------|-------------|-------|------------|------|------|
# | 0 |    0 |  100  |      0      |  100  |    100     |   0  |   0  |  draw only what is short
# | 1 |    0 |   80  |      0      |   80  |     80     |   0  |   0  |
# | 2 |   50 |   60  |     50      |   10  |     60     |   0  |   0  |  payments recycled
# | 3 |  150 |   40  |    150      |    0  |     40     |  90  |  20  |  above the reserve
# | 4 |  100 |   10  |    120      |    0  |     10     |  90  |  20  |
# | 5 |   30 |    5  |     50      |    0  |      5     |  45  |   0  |  final: everything
#
# drawn 190 of 250; distributed 225 = drawn + paid − costs = 190 + 330 − 295.
def test_waterfall_draws_only_when_short_recycles_and_keeps_a_reserve():
    w = waterfall(PAYMENTS, COSTS, committed=250, reserve=20, distributions_from_month=9)
    np.testing.assert_allclose(w.drawn, [[100, 80, 10, 0, 0, 0]])
    np.testing.assert_allclose(w.costs_paid, [COSTS])
    np.testing.assert_allclose(w.distributed, [[0, 0, 0, 90, 90, 45]])
    np.testing.assert_allclose(w.cash, [[0, 0, 0, 20, 20, 0]])
    np.testing.assert_allclose(w.investor_flows, [[-100, -80, -10, 90, 90, 45]])
    assert w.first_short_quarter[0] == 6  # never short
    assert_cash_conserved(w)


# Committed only £150: the commitment runs out in quarter 1.
#
# | q | paid | costs | cash + paid | drawn | costs paid | unfunded | dist | cash |
# |---|------|-------|-------------|-------|------------|----------|------|------|
# | 0 |    0 |  100  |      0      |  100  |    100     |     0    |   0  |   0  |
# | 1 |    0 |   80  |      0      |   50  |     50     |    30    |   0  |   0  |  first short quarter
# | 2 |   50 |   60  |     50      |    0  |     50     |    10    |   0  |   0  |
# | 3 |  150 |   40  |    150      |    0  |     40     |     0    |  90  |  20  |
# | 4 |  100 |   10  |    120      |    0  |     10     |     0    |  90  |  20  |
# | 5 |   30 |    5  |     50      |    0  |      5     |     0    |  45  |   0  |
#
# unfunded costs 40; drawn 150 (the whole commitment); distributed 225 = 150 + 330 − 255.
def test_waterfall_when_the_commitment_runs_out():
    w = waterfall(PAYMENTS, COSTS, committed=150, reserve=20, distributions_from_month=9)
    np.testing.assert_allclose(w.drawn, [[100, 50, 0, 0, 0, 0]])
    np.testing.assert_allclose(w.costs_paid, [[100, 50, 50, 40, 10, 5]])
    np.testing.assert_allclose((w.costs_owed - w.costs_paid).sum(axis=1), [40.0])
    np.testing.assert_allclose(w.distributed, [[0, 0, 0, 90, 90, 45]])
    assert w.first_short_quarter[0] == 1
    assert_cash_conserved(w)


# A share of the commitment drawn at financial close (quarter 0, before costs):
#
# share 1, committed 250:                         share 0.5, committed 250:
# | q | cash + paid | drawn | paid | dist | cash |  | q | cash + paid | drawn | dist | cash |
# | 0 |   0 + 250   |  250  | 100  |   0  | 150  |  | 0 |   0 + 125   |  125  |   0  |  25  |
# | 1 |     150     |    0  |  80  |   0  |  70  |  | 1 |     25      |   55  |   0  |   0  |
# | 2 |     120     |    0  |  60  |   0  |  60  |  | 2 |     50      |   10  |   0  |   0  |
# | 3 |     210     |    0  |  40  | 150  |  20  |  | 3..5 as in the first table      |
# | 4 |     120     |    0  |  10  |  90  |  20  |
# | 5 |      50     |    0  |   5  |  45  |   0  |
def test_waterfall_upfront_drawdown():
    w = waterfall(PAYMENTS, COSTS, committed=250, reserve=20, distributions_from_month=9, upfront_share=1.0)
    np.testing.assert_allclose(w.drawn, [[250, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(w.distributed, [[0, 0, 0, 150, 90, 45]])
    assert_cash_conserved(w)
    w = waterfall(PAYMENTS, COSTS, committed=250, reserve=20, distributions_from_month=9, upfront_share=0.5)
    np.testing.assert_allclose(w.drawn, [[125, 55, 10, 0, 0, 0]])
    np.testing.assert_allclose(w.distributed, [[0, 0, 0, 90, 90, 45]])
    assert_cash_conserved(w)


# Distributions start in the first quarter that begins at or after `distributions_from_month`
# (quarter q covers months [3q, 3q + 3)).  £100 arrives in each quarter, nothing is owed.
@pytest.mark.parametrize("month, first_quarter", [(0, 0), (1, 1), (3, 1), (6, 2), (7, 3), (15, 5), (40, 5)])
def test_distributions_start_from_the_given_month(month, first_quarter):
    w = waterfall([100] * 6, [0] * 6, committed=0, distributions_from_month=month)
    expected = np.zeros(6)
    expected[first_quarter] = 100 * (first_quarter + 1)  # everything held until then
    expected[first_quarter + 1:] = 100
    np.testing.assert_allclose(w.distributed, [expected])
    assert_cash_conserved(w)


def test_waterfall_rows_are_independent_draws():
    # Row 0 is the first table, row 1 the second (commitment 150), row 2 has nothing at all.
    payments = np.array([PAYMENTS, PAYMENTS, [0] * 6], dtype=float)
    costs = np.array([COSTS, COSTS, [0] * 6], dtype=float)
    scenario = make_scenario(spv={"distributions_from_month": 9})
    inputs = make_inputs(scenario, 3, spv__reserve=20, spv__upfront_drawdown_share=0.0)
    inputs["spv.capital_committed"] = np.array([250.0, 150.0, 500.0])
    w = run_waterfall(scenario, inputs, payments, costs)
    np.testing.assert_allclose(w.drawn.sum(axis=1), [190, 150, 0])
    np.testing.assert_allclose(w.distributed.sum(axis=1), [225, 225, 0])
    np.testing.assert_array_equal(w.first_short_quarter, [6, 1, 6])
    assert_cash_conserved(w)


# --- cost schedule ----------------------------------------------------------------------------

# Two teams: the first starts at month 1.5 (delay), the second 3 months later (stagger) at 4.5.
# Service ends at month 9 (cohorts 0..2), therapy lasts 4 months, so teams run until month 13.
# Measurement to month 12 with a one-quarter lag: 6 quarters.  £300 per team-quarter.
#
# | q | months  | team 1 months | team 2 months | team-quarters | teams £ |
# |---|---------|---------------|---------------|---------------|---------|
# | 0 |  0 – 3  |  1.5          |  0            |  0.5          |   150   |
# | 1 |  3 – 6  |  3            |  1.5          |  1.5          |   450   |
# | 2 |  6 – 9  |  3            |  3            |  2            |   600   |
# | 3 |  9 – 12 |  3            |  3            |  2            |   600   |
# | 4 | 12 – 15 |  1            |  1            |  2/3          |   200   |
# | 5 | 15 – 18 |  0            |  0            |  0            |     0   |
#
# per young person £100, starts per cohort [2, 5, 3]  -> [200, 500, 300, 0, 0, 0]
# management fee £20 a quarter, upfront fees £1,000   -> [1020, 20, 20, 20, 20, 20]
#
# The service stops new starts from quarter 2: teams run to the end of quarter 2 (month 9):
#   teams [150, 450, 600, 0, 0, 0]; cohort 2 is not served, so per-person [200, 500, 0, ...].
# Stopped from quarter 0: teams run to month 3: [150, 0, 0, 0, 0, 0].
def cost_case():
    scenario = make_scenario(
        referrals={"teams": 2, "service_start_month": 0, "service_end_month": 9},
        contract={"measurement_end_month": 12, "payment_lag_quarters": 1},
    )
    inputs = make_inputs(
        scenario, 1,
        referrals__team_start_delay_months=1.5, referrals__team_stagger_months=3.0,
        referrals__months_per_case=4.0, spv__team_cost_per_quarter=300.0,
        spv__cost_per_young_person=100.0, spv__management_fee_per_quarter=20.0, spv__upfront_fees=1000.0,
    )
    return scenario, inputs


def test_cost_schedule():
    scenario, inputs = cost_case()
    assert (scenario.n_quarters, scenario.n_cohorts) == (6, 3)
    costs = cost_schedule(scenario, inputs, np.array([[2.0, 5.0, 3.0]]), np.array([6]))
    np.testing.assert_allclose(costs.teams, [[150, 450, 600, 600, 200, 0]])
    np.testing.assert_allclose(costs.per_young_person, [[200, 500, 300, 0, 0, 0]])
    np.testing.assert_allclose(costs.fees, [[1020, 20, 20, 20, 20, 20]])
    np.testing.assert_allclose(costs.total, [[1370, 970, 920, 620, 220, 20]])


@pytest.mark.parametrize("stop, teams", [
    (2, [150, 450, 600, 0, 0, 0]),
    (0, [150, 0, 0, 0, 0, 0]),
    (3, [150, 450, 600, 600, 0, 0]),
])
def test_cost_schedule_after_a_stop(stop, teams):
    scenario, inputs = cost_case()
    starts = np.array([[2.0, 5.0, 3.0]]) * (np.arange(3) < stop)
    costs = cost_schedule(scenario, inputs, starts, np.array([stop]))
    np.testing.assert_allclose(costs.teams, [teams])
    np.testing.assert_allclose(costs.per_young_person[0, :3], [200, 500, 300][:stop] + [0] * (3 - stop))
    np.testing.assert_allclose(costs.fees, [[1020, 20, 20, 20, 20, 20]])


# --- the stop fixed point in pipeline.settle ---------------------------------------------------

# One team from month 0, therapy 3 months, service to month 9 (cohorts 0, 1, 2, one start each),
# measured to month 12, lag 1 -> 6 quarters.  Costs: £100 a team-quarter, £10 a start.
# Contract: £1 per day saved against b = 0.5; each cohort has 100 child-days and no care in
# every measured quarter after its start quarter (50 days saved a quarter).  Committed £150.
#
# Round 1 (nobody stopped):
#   costs    [110, 110, 110, 100, 0, 0]     (team months 0-12, starts q0-q2)
#   earned   q1 50, q2 100, q3 150          -> paid (lag 1) [0, 0, 50, 100, 150, 0]
#   drawn    q0 110, q1 40 (commitment spent); q1 pays only 40 of 110 -> short in q1: stop = 1
# Round 2 (cohorts 1, 2 not served; team runs to the end of quarter 1):
#   costs    [110, 100, 0, 0, 0, 0]
#   earned   q1 50, q2 50, q3 50            -> paid [0, 0, 50, 50, 50, 0]
#   drawn    [110, 40, 0, 0, 0, 0]; unfunded 60 in q1; first short quarter still 1: fixed point.
#   cash     [0, 0, 50, 100, 150, 0]; everything (150) distributed in the final quarter.
def stop_case():
    scenario = make_scenario(
        referrals={"teams": 1, "service_start_month": 0, "service_end_month": 9},
        contract={"measurement_end_month": 12, "payment_lag_quarters": 1, "netting": "contract",
                  "mechanisms": [{"type": "days_saved_vs_baseline", "price_per_day": 1.0,
                                  "baseline_care_proportion": 0.5}]},
        spv={"distributions_from_month": 18},
    )
    inputs = make_inputs(
        scenario, 1,
        referrals__team_start_delay_months=0.0, referrals__team_stagger_months=0.0,
        referrals__months_per_case=3.0, spv__team_cost_per_quarter=100.0, spv__cost_per_young_person=10.0,
        spv__management_fee_per_quarter=0.0, spv__upfront_fees=0.0, spv__reserve=0.0,
        spv__capital_committed=150.0, spv__upfront_drawdown_share=0.0, contract__cap=1e9,
    )
    child = np.zeros((1, 3, 6))
    for cohort in range(3):
        child[0, cohort, cohort + 1:4] = 100.0
    zeros = np.zeros_like(child)
    data = CohortQuarterly(
        child_days=child, care_days_treated=zeros, care_days_counterfactual=zeros, completions_due=zeros,
        milestone_block_days={}, milestone_people={}, starts=np.ones((1, 3)), completed=np.ones((1, 3)),
    )
    return scenario, inputs, data


def test_settle_stops_new_starts_when_capital_runs_out():
    scenario, inputs, data = stop_case()
    result = settle(scenario, inputs, data, np.zeros((1, 9)))
    assert result.stop_quarter.tolist() == [1]
    np.testing.assert_array_equal(result.outcomes.starts, [[1, 0, 0]])
    assert result.outcomes.child_days[:, 1:].sum() == 0  # stopped cohorts are not tracked
    np.testing.assert_allclose(result.payments.paid, [[0, 0, 50, 50, 50, 0]])
    np.testing.assert_allclose(result.waterfall.costs_owed, [[110, 100, 0, 0, 0, 0]])
    np.testing.assert_allclose(result.waterfall.drawn, [[110, 40, 0, 0, 0, 0]])
    np.testing.assert_allclose(result.waterfall.distributed, [[0, 0, 0, 0, 0, 150]])
    np.testing.assert_allclose(result.unfunded_costs, [60.0])
    assert result.waterfall.first_short_quarter.tolist() == [1]
    assert_cash_conserved(result.waterfall)


def test_settle_without_a_shortfall_serves_everyone():
    scenario, inputs, data = stop_case()
    inputs["spv.capital_committed"] = np.array([1000.0])
    result = settle(scenario, inputs, data, np.zeros((1, 9)))
    assert result.stop_quarter.tolist() == [scenario.n_quarters]
    np.testing.assert_allclose(result.payments.paid, [[0, 0, 50, 100, 150, 0]])
    np.testing.assert_allclose(result.waterfall.costs_owed, [[110, 110, 110, 100, 0, 0]])
    np.testing.assert_allclose(result.unfunded_costs, [0.0])


def rerun(scenario, inputs, outcomes, stop, monthly):
    """One round of settle's loop for a given stop vector."""
    n, n_cohorts, n_quarters = outcomes.child_days.shape
    served = served_outcomes(outcomes, np.arange(n_cohorts)[None, :] < stop[:, None],
                             measured_quarters(scenario, n_quarters))
    payments = outcome_payments(scenario, inputs, served)
    costs = cost_schedule(scenario, inputs, served.starts, stop, close_month=service_close_month(scenario, monthly))
    return served, payments, costs, run_waterfall(scenario, inputs, payments.paid, costs.total)


def test_settle_is_a_fixed_point_on_simulated_draws():
    # Essex with a fifth of its commitment, drawn as needed: most draws run out of capital.
    scenario = make_scenario(spv={"capital_committed": 600_000, "upfront_drawdown_share": 0.0})
    chunk = chunk_seed(20240601, 0)
    inputs = sample_inputs(scenario, chunk, 200)
    outcomes, monthly = simulate_outcomes(scenario, inputs, chunk)
    result = settle(scenario, inputs, outcomes, monthly)
    stop = result.stop_quarter
    n_quarters = scenario.n_quarters
    assert 0.5 < (stop < scenario.n_cohorts).mean()  # the case is a real test of stopping

    # The stop is the first quarter the unstopped service could not pay for: the money before
    # quarter s does not depend on cohorts from s on.
    *_, unstopped = rerun(scenario, inputs, outcomes, np.full(len(stop), n_quarters), monthly)
    np.testing.assert_array_equal(stop, unstopped.first_short_quarter)

    # Fixed point: one more round with the settled stops reproduces everything.
    served, payments, costs, w = rerun(scenario, inputs, outcomes, stop, monthly)
    np.testing.assert_array_equal(np.minimum(stop, w.first_short_quarter), stop)
    np.testing.assert_array_equal(payments.paid, result.payments.paid)
    np.testing.assert_array_equal(w.distributed, result.waterfall.distributed)
    np.testing.assert_array_equal(w.drawn, result.waterfall.drawn)

    # Cohorts from the stop quarter earn nothing and cost nothing.
    cohort = np.arange(scenario.n_cohorts)[None, :]
    late = cohort >= stop[:, None]
    assert result.outcomes.starts[late].sum() == 0
    assert result.outcomes.child_days[late].sum() == 0
    quarter = np.arange(n_quarters)[None, :]
    assert costs.per_young_person[quarter >= stop[:, None]].sum() == 0
    assert costs.teams[quarter > stop[:, None]].sum() == 0
    assert_cash_conserved(result.waterfall)


# Fees of £10 a quarter are owed to the end; the SPV holds back the fees still to come before it
# distributes (reserve 0, distributions from quarter 0, committed 0):
#
# | q | paid | costs | cash + paid | costs paid | fees to come | dist | cash |
# |---|------|-------|-------------|------------|--------------|------|------|
# | 0 |  100 |   10  |     100     |     10     |      30      |  60  |  30  |
# | 1 |    0 |   10  |      30     |     10     |      20      |   0  |  20  |
# | 2 |    0 |   10  |      20     |     10     |      10      |   0  |  10  |
# | 3 |    0 |   10  |      10     |     10     |   (final)    |   0  |   0  |
def test_waterfall_holds_back_the_management_fees_still_to_come():
    w = waterfall([100, 0, 0, 0], [10, 10, 10, 10], committed=0.0, management_fee=10.0)
    np.testing.assert_allclose(w.distributed[0], [60, 0, 0, 0])
    np.testing.assert_allclose(w.cash[0], [30, 20, 10, 0])
    np.testing.assert_allclose(w.costs_paid[0], [10, 10, 10, 10])  # nothing left unfunded
    assert_cash_conserved(w)
