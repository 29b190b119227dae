"""Cohorts and the term sheet together: a review that ends the contract early cuts every
cohort's outcomes -- care days, events, milestones, per-person records -- and never raises what
the contract pays, nor what it would have paid without an effect."""

from __future__ import annotations

import numpy as np
import pytest

import simsib
from simsib.scenario.loader import bundled_scenario_path, load_scenario

DRAWS = 200
# A review that always fires: terminate at the given month (young people started is never above 1e9).
TERMINATE = 'contract.reviews=[{{ month = {month}, measure = "young_people_started", when = "below", threshold = 1e9, ' \
            'action = "terminate" }}]'


@pytest.mark.parametrize("name, month", [("suffolk", 24), ("peterborough", 30), ("care-leavers-rate-card", 24),
                                         ("norfolk", 36)])
def test_terminating_early_never_raises_any_draws_payments(name, month):
    scheduled = simsib.simulate(load_scenario(bundled_scenario_path(name)), draws=DRAWS, seed=3).draws
    ended = simsib.simulate(load_scenario(bundled_scenario_path(name), [TERMINATE.format(month=month)]),
                            draws=DRAWS, seed=3).draws
    assert (ended["outcome_payments"] <= scheduled["outcome_payments"] + 1e-6).all()
    assert (ended["payments_without_effect"] <= scheduled["payments_without_effect"] + 1e-6).all()
    assert (ended["young_people_started"] <= scheduled["young_people_started"]).all()
    assert (ended["outcome_payments"] < scheduled["outcome_payments"] - 1.0).mean() > 0.3, "termination changes nothing"
    # Payments per mechanism and payer still add up to the whole.
    parts = sum(ended[c] for c in ended.columns if c.startswith("paid_mechanism_"))
    np.testing.assert_allclose(parts, ended["outcome_payments"], rtol=1e-9, atol=1e-6)
    for column in ("events_counterfactual", "attained_job_start_counterfactual"):
        if column in ended:
            assert (ended[column] <= scheduled[column] + 1e-9).all(), column
            assert (ended[column] < scheduled[column]).any(), column


def test_peterborough_ended_before_cohort_2_reports_pays_cohort_1_at_most():
    """Terminated at month 30, only cohort 1 is measured: its own result (month 52) falls after
    the measurement ends, so nothing is paid, whatever the reductions."""
    ended = simsib.simulate(load_scenario(bundled_scenario_path("peterborough"), [TERMINATE.format(month=30)]),
                            draws=DRAWS, seed=3).draws
    np.testing.assert_array_equal(ended["outcome_payments"], 0.0)
    assert ended["event_reduction_cohort_1"].notna().all()
