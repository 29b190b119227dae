"""Hand-worked cases: Peterborough's thresholds, payers with their own caps, pro-rata shares of
the payments per mechanism, and how the named cohorts share each month's starts."""

from __future__ import annotations

import numpy as np

from simsib.contract.mechanisms import entitlement_increments
from simsib.contract.payments import _pro_rata, _split_between_payers
from simsib.model.cohorts import split_starts
from simsib.model.inputs import sample_inputs
from simsib.model.outcomes import CohortQuarterly, combine
from simsib.model.streams import chunk_seed, stream
from simsib.scenario.format import resolve_cohorts
from simsib.scenario.loader import bundled_scenario_path, load_scenario

PETERBOROUGH = load_scenario(bundled_scenario_path("peterborough"),
                             ["contract.mechanisms.0.price_per_event=1000"])


def _recurrent(treated: list[float], n_cohorts: int, n_quarters: int) -> CohortQuarterly:
    """One recurrent cohort of four draws: 1,000,000 person-days tracked and ``treated`` events
    (per draw) in start cohort 0, quarter 2; a comparison group with 5,000 events in 5,000,000
    person-days (a rate of 1 per 1,000 days: 1,000 events expected)."""
    n = len(treated)
    cube = np.zeros((n, n_cohorts, n_quarters))
    days, events = cube.copy(), cube.copy()
    days[:, 0, 2] = 1e6
    events[:, 0, 2] = treated
    return CohortQuarterly(
        child_days=cube, care_days_treated=cube, care_days_counterfactual=cube, completions_due=cube,
        milestone_block_days={}, milestone_people={}, starts=np.zeros((n, n_cohorts)),
        completed=np.zeros((n, n_cohorts)), event_days=days, events_treated=events,
        events_counterfactual=events + 100.0, comparison_events=np.full(n, 5000.0),
        comparison_days=np.full(n, 5e6),
    )


def test_peterborough_thresholds_per_cohort_and_overall():
    """Price £1,000 an event; 1,000 events expected per cohort (rate × days tracked).

    | draw | cohort 1 | cohort 2 | overall | paid at cohort 1's result | at cohort 2's (the last) |
    |-----:|---------:|---------:|--------:|-------------------------:|-------------------------:|
    |  0   | 880 (12%) | 950 (5%) | 8.5% | 120 events (passes 10%) | 170 − 120 = 50 (overall passes 7.5%) |
    |  1   | 920 (8%)  | 910 (9%) | 8.5% | nothing                 | 170 (overall settles both) |
    |  2   | 940 (6%)  | 920 (8%) | 7.0% | nothing                 | nothing |
    |  3   | 850 (15%) | 1100 (−10%) | 2.5% | 150                | nothing (the overall test fails; cohort 1 keeps its 150) |

    Cohort 1's result is known in month 22 + 12 + 18 = 52 (quarter 17), cohort 2's in
    46 + 12 + 18 = 76 (quarter 25).
    """
    s = PETERBOROUGH
    c, q = s.n_cohorts, s.n_quarters
    g1, g2 = _recurrent([880, 920, 940, 850], c, q), _recurrent([950, 910, 920, 1100], c, q)
    outcomes = combine([g1, g2], names=["cohort_1", "cohort_2"])
    inputs = sample_inputs(s, chunk_seed(1, 0), 4)
    increments, counted = entitlement_increments(s.contract.mechanisms[0], "contract.mechanisms.0", inputs, outcomes,
                                                 np.ones((4, c)), s)
    expected = np.zeros((4, q))
    expected[0, 17], expected[0, 25] = 120_000, 50_000
    expected[1, 25] = 170_000
    expected[3, 17] = 150_000
    np.testing.assert_allclose(increments, expected, rtol=1e-12)
    np.testing.assert_array_equal(counted, 0.0)
    # Served weights: a cohort not served earns nothing (here: every start cohort of draw 0 unserved).
    served = np.ones((4, c))
    served[0] = 0.0
    increments, _ = entitlement_increments(s.contract.mechanisms[0], "contract.mechanisms.0", inputs, outcomes,
                                           served, s)
    assert increments[0].sum() == 0.0 and increments[1:].sum() == expected[1:].sum()


def test_without_thresholds_every_cohort_is_paid_for_what_it_avoids():
    s = load_scenario(bundled_scenario_path("peterborough"), [
        "contract.mechanisms.0.price_per_event=1000", 'contract.mechanisms.0={ type = "events_avoided", '
        'price_per_event = 1000, results_lag_months = 18 }'])
    c, q = s.n_cohorts, s.n_quarters
    outcomes = combine([_recurrent([880, 1100], c, q), _recurrent([950, 900], c, q)], names=["cohort_1", "cohort_2"])
    inputs = sample_inputs(s, chunk_seed(1, 0), 2)
    increments, _ = entitlement_increments(s.contract.mechanisms[0], "contract.mechanisms.0", inputs, outcomes,
                                           np.ones((2, c)), s)
    assert increments[0, 17] == 120_000 and increments[0, 25] == 50_000
    assert increments[1, 17] == 0.0 and increments[1, 25] == 100_000  # more events than expected earn nothing


def test_payers_pay_their_share_until_their_own_cap():
    s = load_scenario(bundled_scenario_path("care-leavers-rate-card"), ["contract.payers.1.cap=100"])
    inputs = sample_inputs(s, chunk_seed(1, 0), 1)
    paid = np.array([[100.0, 200.0, 300.0]])
    received, totals = _split_between_payers(s, inputs, paid)
    # Council 70%: 70, 140, 210.  Top-up fund 30% of 100, 300, 600 cumulative = 30, 90, 180 -> capped at 100.
    np.testing.assert_allclose(received, [[100.0, 200.0, 220.0]])
    np.testing.assert_allclose(totals["council"], [420.0])
    np.testing.assert_allclose(totals["top_up_fund"], [100.0])


def test_payments_per_mechanism_are_pro_rata_to_their_netted_entitlements():
    shares = _pro_rata(np.array([90.0, 50.0, 0.0]), {"0.a": np.array([10.0, 0.0, 0.0]),
                                                     "1.b": np.array([20.0, 5.0, 0.0])})
    np.testing.assert_allclose(shares["0.a"], [30.0, 0.0, 0.0])
    np.testing.assert_allclose(shares["1.b"], [60.0, 50.0, 0.0])


def test_cohorts_share_each_months_starts_by_their_shares_and_months():
    s = load_scenario(bundled_scenario_path("norfolk"))
    cohorts = resolve_cohorts(s)
    inputs = sample_inputs(s, chunk_seed(2, 0), 400)
    starts = np.full((400, s.referrals.service_end_month), 20)
    edge, home = split_starts(s, cohorts, inputs, starts, stream(chunk_seed(2, 0), "cohorts"))
    np.testing.assert_array_equal(edge + home, starts)
    share = home.sum() / starts.sum()  # 0.25 of the weights, binomial per month
    se = np.sqrt(0.25 * 0.75 / starts.sum())
    assert abs(share - 0.25) < 4 * se
    # Peterborough: cohort 1 takes months 0-21, cohort 2 months 22 on, whatever the shares.
    p = PETERBOROUGH
    months = np.full((3, p.referrals.service_end_month), 7)
    first, second = split_starts(p, resolve_cohorts(p), sample_inputs(p, chunk_seed(2, 0), 3), months,
                                 stream(chunk_seed(2, 0), "cohorts"))
    assert (first[:, :22] == 7).all() and (first[:, 22:] == 0).all() and (second[:, 22:] == 7).all()
    # One cohort draws nothing: the stream is left as it was (Essex's numbers unchanged).
    essex = load_scenario(bundled_scenario_path("essex"))
    rng = stream(chunk_seed(2, 0), "cohorts")
    state = rng.bit_generator.state
    assert split_starts(essex, resolve_cohorts(essex), {}, starts, rng)[0] is starts
    assert rng.bit_generator.state == state
