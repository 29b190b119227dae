"""Review dates: termination and extension rules, their place in the settlement, and what they
change for the council and investors.

Each test settles the same simulated Essex chunk with and without a review, so the differences
are the review's alone (the outcomes are identical: a termination rule never reaches the model).
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
from helpers import ESSEX_RAW

from simsib.contract.measures import observe
from simsib.contract.timeline import decide, scheduled_timeline
from simsib.model.inputs import sample_inputs
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import draw_columns, settle, simulate_outcomes
from simsib.run.settlement import _at_rows
from simsib.scenario.loader import validate

DRAWS = 400
STARTS_BELOW = {"month": 36, "measure": "young_people_started", "when": "below", "threshold": 150.0}
# The default referrals are at low risk (derived from Essex's 10.8%): a care proportion above 12% at
# month 30 is the worse tail, about one draw in ten.
CARE_ABOVE = {"month": 30, "measure": "care_proportion_treated", "when": "above", "threshold": 0.12}
PAYMENTS_BELOW = {"month": 48, "measure": "outcome_payments", "when": "below", "threshold": 1.5e6}


def variant(reviews=(), termination=None, spv=None, contract=None):
    raw = copy.deepcopy(ESSEX_RAW)
    raw["contract"]["reviews"] = [dict(r) for r in reviews]
    if termination is not None:
        raw["contract"]["termination"] = termination
    raw["contract"].update(contract or {})
    raw["spv"].update(spv or {})
    return validate(raw)


@functools.lru_cache(maxsize=4)
def chunk(upfront: float = 1.0):
    """Inputs, outcomes and monthly starts of one Essex chunk (reviews never reach the model)."""
    base = variant(spv={"upfront_drawdown_share": upfront})
    seed = chunk_seed(5, 0)
    inputs = sample_inputs(base, seed, DRAWS)
    outcomes, monthly = simulate_outcomes(base, inputs, seed)
    return base, inputs, outcomes, monthly


def both(reviews, termination=None, upfront=1.0):
    base, inputs, outcomes, monthly = chunk(upfront)
    reviewed = variant(reviews, termination, spv={"upfront_drawdown_share": upfront})
    return (settle(base, inputs, outcomes, monthly), settle(reviewed, inputs, outcomes, monthly), reviewed, inputs,
            outcomes, monthly)


# --- decide: each draw's dates after a review ----------------------------------------------------


def test_a_termination_moves_every_date_of_the_draws_it_fires_for():
    sc = variant([STARTS_BELOW], {"outstanding_payments": "paid",
                                  "early_redemption": [{"from_month": 24, "fraction": 0.5},
                                                       {"from_month": 48, "fraction": 0.75}]})
    timeline, changed = decide(sc, scheduled_timeline(sc, 3), 0, np.array([True, False, True]))
    assert changed.tolist() == [True, False, True]
    # Essex: 20 cohorts (service to month 60), measured to month 96 (quarter 32), lag 1, final 33.
    assert timeline.service_end_cohort.tolist() == [12, 20, 12]
    assert timeline.measure_end_quarter.tolist() == [12, 32, 12]
    assert timeline.final_quarter.tolist() == [13, 33, 13]  # outcomes to quarter 11 paid in 12
    assert timeline.planned_final_quarter.tolist() == [33, 33, 33]
    assert timeline.decided_quarter.tolist() == [12, 34, 12]
    assert timeline.terminated.tolist() == [True, False, True]
    assert timeline.redemption_fraction.tolist() == [0.5, 0.0, 0.5]  # month 36: the month-24 row
    assert timeline.forfeit_from.tolist() == [34, 34, 34]
    again, changed = decide(sc, timeline, 0, np.array([True, True, True]))
    assert changed.tolist() == [False, True, False]  # a terminated draw is not reviewed again


def test_forfeited_payments_end_at_termination():
    sc = variant([STARTS_BELOW], {"outstanding_payments": "forfeited"})
    timeline, _ = decide(sc, scheduled_timeline(sc, 1), 0, np.array([True]))
    assert (timeline.final_quarter[0], timeline.forfeit_from[0]) == (12, 12)


def test_an_extension_moves_the_service_measurement_and_final_quarter_later():
    sc = variant([{**STARTS_BELOW, "action": "extend", "extend_months": 12}])
    assert sc.envelope().n_quarters == sc.n_quarters + 4
    timeline, _ = decide(sc, scheduled_timeline(sc, 2), 0, np.array([True, False]))
    assert timeline.service_end_cohort.tolist() == [24, 20]
    assert timeline.measure_end_quarter.tolist() == [36, 32]
    assert timeline.final_quarter.tolist() == [37, 33]
    assert timeline.service_end_month.tolist() == [72.0, 60.0]


# --- termination in the settlement -------------------------------------------------------------


@pytest.mark.parametrize("review", [STARTS_BELOW, CARE_ABOVE, PAYMENTS_BELOW])
@pytest.mark.parametrize("outstanding", ["paid", "forfeited"])
@pytest.mark.parametrize("upfront", [1.0, 0.0])
def test_termination_never_raises_outcome_payments(review, outstanding, upfront):
    """Per draw: the same payments before the review, never more in all, and nothing changes in
    draws the rule does not fire for."""
    plain, reviewed, _, _, _, _ = both([review], {"outstanding_payments": outstanding}, upfront)
    terminated = reviewed.timeline.terminated if reviewed.timeline is not None else np.zeros(DRAWS, bool)
    assert 0 < terminated.sum() < DRAWS, "the rule should fire for some draws and not others"
    before, after = plain.payments.paid, reviewed.payments.paid
    assert (after.sum(axis=1) <= before.sum(axis=1) + 1e-6).all()
    quarter = review["month"] // 3
    np.testing.assert_array_equal(after[:, :quarter], before[:, :quarter])
    assert np.array_equal(after[~terminated], before[~terminated])
    assert np.array_equal(reviewed.waterfall.distributed[~terminated], plain.waterfall.distributed[~terminated])


@pytest.mark.parametrize("review", [STARTS_BELOW, CARE_ABOVE, PAYMENTS_BELOW])
def test_a_review_decides_on_the_quarters_before_it(review):
    """The draws terminated are exactly those whose measure, over the quarters before the review,
    crosses the threshold in the settlement without the review: nothing after it is seen."""
    plain, reviewed, _, inputs, outcomes, _ = both([review])
    served = np.arange(outcomes.starts.shape[1])[None, :] < plain.stop_quarter[:, None]
    value = observe(review["measure"], outcomes, served, np.full(DRAWS, review["month"] // 3), plain.payments.paid, inputs)
    with np.errstate(invalid="ignore"):
        fires = value < review["threshold"] if review["when"] == "below" else value > review["threshold"]
    assert np.array_equal(reviewed.timeline.terminated, fires)


def test_after_termination_nothing_starts_nothing_is_measured_and_the_contract_settles_early():
    plain, reviewed, sc, inputs, _, monthly = both([STARTS_BELOW], {"early_redemption": [{"from_month": 24, "fraction": 0.5}]})
    t = reviewed.timeline
    gone = t.terminated
    assert (reviewed.cohort_served[gone][:, 12:] == False).all()  # noqa: E712
    cut = reviewed.outcomes
    assert (cut.child_days[gone][:, :, 12:] == 0).all()
    final = t.final_quarter
    quarters = np.arange(reviewed.waterfall.payments.shape[1])[None, :]
    assert (reviewed.waterfall.payments[quarters > final[:, None]] == 0).all()
    assert (reviewed.waterfall.costs_owed[quarters > final[:, None]] == 0).all()
    assert (reviewed.waterfall.cash[np.arange(DRAWS), final] == 0).all()
    # The commissioner tops investors up to half their drawn capital where the SPV cannot.
    columns = draw_columns(sc, inputs, reviewed, monthly)
    received = columns["distributions"]
    np.testing.assert_array_less(0.5 * columns["capital_drawn"][gone] - 1e-6, received[gone])
    assert (columns["early_redemption_payments"][~gone] == 0).all()
    assert columns["early_redemption_payments"][gone].max() > 0
    # Its cost is in the council's net benefit; management costs stop with the contract.
    management = 10_000 * (final + 1.0)
    np.testing.assert_allclose(columns["council_management_costs"], management)
    expected = (columns["true_savings"] - columns["outcome_payments"]
                - management - columns["early_redemption_payments"])
    np.testing.assert_allclose(columns["net_benefit"], expected, rtol=1e-12, atol=1e-6)
    assert columns["terminated"].sum() == gone.sum()
    np.testing.assert_array_equal(columns["termination_quarter"][gone], 12.0)


def test_settling_draws_alone_gives_what_they_get_in_the_chunk():
    """Reviews keep draws independent: a draw settles the same alone as among others."""
    base, inputs, outcomes, monthly = chunk()
    sc = variant([STARTS_BELOW, PAYMENTS_BELOW])
    whole = settle(sc, inputs, outcomes, monthly)
    rows = np.array([3, 17, 42, 101, 250])
    alone = settle(sc, _at_rows(inputs, rows), _at_rows(outcomes, rows), monthly[rows])
    for name in ("paid",):
        np.testing.assert_array_equal(getattr(alone.payments, name), getattr(whole.payments, name)[rows])
    np.testing.assert_array_equal(alone.waterfall.distributed, whole.waterfall.distributed[rows])
    np.testing.assert_array_equal(alone.stop_quarter, whole.stop_quarter[rows])


# --- guarantees called at termination --------------------------------------------------------------


@pytest.mark.parametrize("paid_at, expected", [("final_distribution", "final"), ("scheduled_end", "planned")])
def test_a_guarantee_pays_at_termination_or_at_the_scheduled_end(paid_at, expected):
    _, _, outcomes, monthly = chunk()
    guarantee = {"guarantor": "foundation", "share": 0.75, "paid_at": paid_at}
    sc = variant([STARTS_BELOW], spv={"guarantees": [guarantee]})
    inputs = sample_inputs(sc, chunk_seed(5, 0), DRAWS)  # the chunk's inputs, and the guarantee's
    s = settle(sc, inputs, outcomes, monthly)
    t = s.timeline
    lost = s.waterfall.tranches.lost_principal[:, 0]
    np.testing.assert_allclose(s.waterfall.guarantee_payouts[:, 0], 0.75 * lost)
    quarter = t.final_quarter if expected == "final" else t.planned_final_quarter
    called = lost > 0
    assert called.any() and (t.terminated & called).any()
    got = s.waterfall.tranches.guaranteed[:, 0, :]
    np.testing.assert_allclose(got[np.arange(DRAWS), quarter], 0.75 * lost)


# --- extension ---------------------------------------------------------------------------------------


def test_an_extension_that_always_fires_is_the_longer_contract():
    """An extension rule that fires in every draw gives the contract written with the longer dates
    (same envelope, so the same care paths)."""
    always = {"month": 36, "measure": "young_people_started", "when": "above", "threshold": -1.0,
              "action": "extend", "extend_months": 12}
    extended = variant([always])
    longer = variant(contract={"measurement_end_month": 108}, spv={})
    raw = copy.deepcopy(ESSEX_RAW)
    raw["referrals"]["service_end_month"] = {"value": 72}
    raw["contract"]["measurement_end_month"] = {"value": 108}
    longer = validate(raw)
    seed = chunk_seed(9, 0)
    inputs = sample_inputs(extended, seed, 200)
    outcomes, monthly = simulate_outcomes(extended, inputs, seed)
    outcomes_longer, _ = simulate_outcomes(longer, inputs, seed)
    np.testing.assert_array_equal(outcomes.child_days, outcomes_longer.child_days)
    a, b = settle(extended, inputs, outcomes, monthly), settle(longer, inputs, outcomes, monthly)
    assert a.timeline.extended_months.tolist() == [12] * 200
    np.testing.assert_allclose(a.payments.paid, b.payments.paid, rtol=1e-12, atol=1e-6)
    # Before the review the SPV plans on the scheduled end; after it, on the extended one.
    np.testing.assert_allclose(a.waterfall.distributed.sum(axis=1), b.waterfall.distributed.sum(axis=1), rtol=1e-9)
    ca, cb = draw_columns(extended, inputs, a, monthly), draw_columns(longer, inputs, b, monthly)
    for name in ("young_people_started", "care_days_treated", "outcome_payments", "moic_committed"):
        np.testing.assert_allclose(ca[name], cb[name], rtol=1e-12, atol=1e-6)


def test_draws_not_extended_keep_the_scheduled_contract():
    never = {"month": 36, "measure": "young_people_started", "when": "below", "threshold": -1.0,
             "action": "extend", "extend_months": 12}
    sc = variant([never])
    seed = chunk_seed(9, 0)
    inputs = sample_inputs(sc, seed, 200)
    outcomes, monthly = simulate_outcomes(sc, inputs, seed)
    s = settle(sc, inputs, outcomes, monthly)
    assert s.waterfall.payments.shape[1] == sc.n_quarters + 4
    assert (s.timeline.final_quarter == sc.n_quarters - 1).all()
    assert (s.waterfall.payments[:, sc.n_quarters:] == 0).all() and (s.waterfall.drawn[:, sc.n_quarters:] == 0).all()
    columns = draw_columns(sc, inputs, s, monthly)
    assert not columns["extended"].any()
    assert (columns["young_people_started"] <= s.simulated.starts[:, :sc.n_cohorts].sum(axis=1)).all()
