"""The waiting list (simsib.model.waiting_list): hand-worked queues, conservation, monotonicity.

Conservation and monotonicity are checked path by path on the same random numbers, as the
module docstring argues they hold: every converted referral accepted is started, drops out,
lapses or is still waiting at close; more places never lower the starts to date (until the
target closes the service), and a higher drop-out rate never raises them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simsib.contract.costs import cost_schedule
from simsib.model.inputs import sample_inputs
from simsib.model.referrals import intake, service_close_month
from simsib.model.streams import chunk_seed, stream
from simsib.model.waiting_list import binomial_quantile, run_waiting_list, waiting_list
from simsib.scenario.loader import load_scenario

N_SE = 4.0


def queue(converted, places, wait, dropout=0.0, target=None, ceiling=False, uniforms=None):
    converted, places = np.atleast_2d(converted), np.atleast_2d(places)
    n, months = converted.shape
    if uniforms is None:
        uniforms = np.full((n, months, max(wait, 1)), 0.5)
    return run_waiting_list(converted, places, wait, np.full(n, dropout), uniforms, target, ceiling)


def assert_conserved(taken):
    np.testing.assert_array_equal(
        taken.accepted.sum(axis=1),
        taken.starts.sum(axis=1) + taken.dropped_out + taken.lapsed + taken.waiting_at_close,
    )


# --- the binomial quantile ------------------------------------------------------------------


def test_binomial_quantile_is_scipys():
    rng = np.random.default_rng(3)
    u = rng.random(20_000)
    n = rng.integers(0, 400, 20_000)
    p = np.concatenate([rng.random(19_990), [0.0, 1.0, 1e-9, 1 - 1e-9, 0.5, 0.0, 1.0, 0.3, 0.7, 0.99]])
    expected = stats.binom.ppf(u, n, p)
    np.testing.assert_array_equal(binomial_quantile(u, n, p), expected)


def test_binomial_quantile_is_monotone_in_n_and_p_and_keeps_n_minus_k_monotone():
    u = np.random.default_rng(4).random((500, 1))
    n = np.arange(60)[None, :]
    k = binomial_quantile(u, n, 0.3)
    assert np.all(np.diff(k, axis=1) >= 0) and np.all(np.diff(n - k, axis=1) >= 0)
    assert np.all(binomial_quantile(u, n, 0.4) >= k)


# --- hand-worked queues ---------------------------------------------------------------------

# One draw, wait up to 2 months, no drop-outs.  Groups oldest first, then arrivals:
#   m0: [0, 0 | 3], 1 place  -> 1 starts; 2 wait (converted m0)
#   m1: [0, 2 | 0], 1 place  -> 1 starts; 1 waits
#   m2: [1, 0 | 1], 0 places -> the m0 family has waited 2 months: lapses; 1 waits
#   m3: [0, 1 | 0], 0 places -> waits on
#   m4: [1, 0 | 0], 2 places -> it starts (waited 2 months: still allowed)
#   m5: [0, 0 | 2], 0 places -> 2 still waiting when the service ends
CONVERTED = [3, 0, 1, 0, 0, 2]
PLACES = [1, 1, 0, 0, 2, 0]


def test_hand_worked_queue():
    taken = queue(CONVERTED, PLACES, wait=2)
    np.testing.assert_array_equal(taken.starts, [[1, 1, 0, 0, 1, 0]])
    assert (taken.dropped_out[0], taken.lapsed[0], taken.waiting_at_close[0]) == (0, 1, 2)
    assert_conserved(taken)


def test_no_waiting_list_loses_what_capacity_cannot_take():
    taken = queue(CONVERTED, PLACES, wait=0)
    np.testing.assert_array_equal(taken.starts, [np.minimum(CONVERTED, PLACES)])
    assert taken.lapsed[0] == sum(CONVERTED) - taken.starts.sum() and taken.waiting_at_close[0] == 0


def test_a_plan_lets_those_waiting_start_and_a_ceiling_turns_them_away():
    # Target 1, reached in m0 with 2 waiting.  Plan: no new referrals (m2's is not accepted),
    # one of the two starts in m1, the other lapses in m2.  Ceiling: both are turned away.
    plan = queue(CONVERTED, PLACES, wait=2, target=1)
    np.testing.assert_array_equal(plan.starts, [[1, 1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(plan.accepted, [[3, 0, 0, 0, 0, 0]])
    assert (plan.lapsed[0], plan.waiting_at_close[0]) == (1, 0)
    ceiling = queue(CONVERTED, PLACES, wait=2, target=1, ceiling=True)
    np.testing.assert_array_equal(ceiling.starts, [[1, 0, 0, 0, 0, 0]])
    assert (ceiling.lapsed[0], ceiling.waiting_at_close[0]) == (0, 2)
    for taken in (plan, ceiling):
        assert_conserved(taken)


def test_drop_outs_thin_the_queue_each_month_it_waits():
    # 10 arrive in m0, no place until m2: they wait two months, each a 20% drop-out chance, so
    # Binomial(10, 0.64) start in m2.
    n = 4000
    converted = np.zeros((n, 3), dtype=np.int64)
    converted[:, 0] = 10
    places = np.tile([0, 0, 100], (n, 1))
    uniforms = np.random.default_rng(8).random((n, 3, 3))
    taken = queue(converted, places, wait=3, dropout=0.2, uniforms=uniforms)
    started = taken.starts[:, 2]
    expected, sd = 10 * 0.64, np.sqrt(10 * 0.64 * 0.36)
    assert abs(started.mean() - expected) < N_SE * sd / np.sqrt(n)
    np.testing.assert_array_equal(taken.dropped_out, 10 - started)
    assert_conserved(taken)


# --- properties on random queues --------------------------------------------------------------


def random_queue_inputs(seed, n=3000, months=48, wait=3):
    rng = np.random.default_rng(seed)
    converted = rng.negative_binomial(3, 3 / (3 + rng.uniform(2, 9, (n, 1))), (n, months))
    places = rng.integers(0, 9, (n, months))
    dropout = rng.uniform(0, 0.5, n)
    uniforms = rng.random((n, months, wait))
    return converted, places, dropout, uniforms


@pytest.mark.parametrize("target, ceiling", [(None, False), (150, False), (150, True)])
def test_conservation_on_random_queues(target, ceiling):
    converted, places, dropout, uniforms = random_queue_inputs(1)
    taken = run_waiting_list(converted, places, 3, dropout, uniforms, target, ceiling)
    assert_conserved(taken)
    assert np.all(taken.starts <= places)
    if target is not None and ceiling:
        assert taken.starts.sum(axis=1).max() == target
    if target is not None and not ceiling:
        assert taken.starts.sum(axis=1).max() > target  # a plan, not a ceiling


@pytest.mark.parametrize("target, ceiling", [(None, False), (150, False), (150, True)])
def test_more_places_never_lower_starts(target, ceiling):
    converted, places, dropout, uniforms = random_queue_inputs(2)
    extra = np.random.default_rng(9).integers(0, 3, places.shape)
    low = run_waiting_list(converted, places, 3, dropout, uniforms, target, ceiling)
    high = run_waiting_list(converted, places + extra, 3, dropout, uniforms, target, ceiling)
    low_total, high_total = low.starts.sum(axis=1), high.starts.sum(axis=1)
    if target is None:
        # Month by month, the starts to date.
        assert np.all(np.cumsum(high.starts, axis=1) >= np.cumsum(low.starts, axis=1))
        assert (high_total > low_total).mean() > 0.5
    else:
        # A draw that reaches the target sooner closes sooner: never below the target, though.
        assert np.all(high_total >= np.minimum(low_total, target))


def test_a_higher_drop_out_rate_never_raises_starts():
    converted, places, dropout, uniforms = random_queue_inputs(3)
    base = run_waiting_list(converted, places, 3, dropout, uniforms)
    more = run_waiting_list(converted, places, 3, np.minimum(dropout + 0.1, 1.0), uniforms)
    assert np.all(np.cumsum(more.starts, axis=1) <= np.cumsum(base.starts, axis=1))
    assert np.all(more.dropped_out + more.lapsed >= base.dropped_out + base.lapsed)


# --- the scenario's queue ---------------------------------------------------------------------

QUEUE = ("referrals.max_wait_months=3", "referrals.waiting_dropout_per_month=0.2")


def scenario_intake(*overrides, n_draws=400, seed=11):
    sc = load_scenario(None, [*QUEUE, *overrides])
    chunk = chunk_seed(seed, 0)
    inputs = sample_inputs(sc, chunk, n_draws)
    return sc, intake(sc, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))


def test_scenario_queue_conserves_and_more_therapists_never_lower_starts():
    sc, low = scenario_intake("referrals.target_young_people=100000")
    _, high = scenario_intake("referrals.target_young_people=100000", "referrals.therapists_per_team=6")
    assert_conserved(low)
    np.testing.assert_array_equal(low.converted, high.converted)  # same demand, common numbers
    assert np.all(np.cumsum(high.starts, axis=1) >= np.cumsum(low.starts, axis=1))
    # With the queue, fewer converted referrals are lost than without it, draw by draw.
    _, lost = scenario_intake("referrals.target_young_people=100000", "referrals.max_wait_months=0")
    np.testing.assert_array_equal(lost.converted, low.converted)
    assert np.all(low.starts.sum(axis=1) >= lost.starts.sum(axis=1))


def test_the_service_closes_after_the_last_start_once_the_target_is_reached():
    sc = load_scenario(None, ["referrals.target_young_people=2", "referrals.service_end_month=6"])
    starts = np.array([[1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 3]])
    np.testing.assert_array_equal(service_close_month(sc, starts), [2, 6, 6])


def test_teams_are_paid_until_the_families_who_started_last_finish():
    sc = load_scenario(None, ["referrals.teams=1", "referrals.team_start_delay_months=0",
                              "referrals.months_per_case=4", "spv.team_cost_per_quarter=300",
                              "spv.cost_per_young_person=0", "spv.management_fee_per_quarter=0",
                              "spv.upfront_fees=0"])
    inputs = sample_inputs(sc, chunk_seed(0, 0), 2)
    starts = np.zeros((2, sc.n_cohorts))
    costs = cost_schedule(sc, inputs, starts, np.full(2, sc.n_quarters), close_month=np.array([20.0, 60.0]))
    # Closed at month 20: teams paid to month 24 (8 quarters); at month 60: to month 64.
    np.testing.assert_allclose(costs.teams.sum(axis=1), [300 * 8, 300 * 64 / 3])


@pytest.mark.parametrize("wait, target, ceiling", [(3, None, False), (3, 150, False), (3, 150, True),
                                                   (0, None, False), (0, 150, True), (1, 150, False)])
def test_compiled_queue_equals_the_numpy_reference(wait, target, ceiling):
    converted, places, dropout, uniforms = random_queue_inputs(5, wait=max(wait, 1))
    a = run_waiting_list(converted, places, wait, dropout, uniforms, target, ceiling)
    b = waiting_list(converted, places, wait, dropout, uniforms, target, ceiling)
    for field in ("accepted", "starts", "dropped_out", "lapsed", "waiting_at_close"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
