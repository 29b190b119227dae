"""Tests for simsib.model.referrals: team starts, ramp-up, negative-binomial demand, capacity, target.

Hand-worked expected means first; then Monte Carlo checks of the simulated counts against
them, each within 4 standard errors of the negative-binomial mean
(variance ``μ + μ²/k`` for mean ``μ`` and size ``k``; binomial thinning keeps the size).
"""

from __future__ import annotations

import numpy as np
import pytest

from simsib.model.care_paths import simulate_people
from simsib.model.inputs import sample_inputs
from simsib.model.referrals import active_team_share, expected_referrals, monthly_capacity, monthly_starts
from simsib.model.streams import chunk_seed, stream
from simsib.scenario.loader import load_scenario

N_SE = 4.0

# Every referral input fixed, so each draw has the same expected monthly mean.
FIXED = (
    "referrals.service_start_month=0",
    "referrals.service_end_month=36",
    "referrals.teams=2",
    "referrals.team_start_delay_months=1.5",
    "referrals.team_stagger_months=2",
    "referrals.referrals_per_month=8",
    "referrals.referral_dispersion=3",
    "referrals.referral_conversion=0.6",
    "referrals.ramp_initial_fraction=0.25",
    "referrals.ramp_months=12",
    "referrals.target_young_people=1000000",
)
# 100 therapists × 50 families ÷ 0.25 months: capacity never binds.
NO_CAPACITY_LIMIT = (
    "referrals.therapists_per_team=100",
    "referrals.caseload_per_therapist=50",
    "referrals.months_per_case=0.25",
)


def setup(*overrides: str, n_draws: int = 10, seed: int = 5):
    # No waiting list unless a test asks for one: these tests check demand, capacity and target
    # on their own (tests/test_waiting_list.py checks the queue).
    sc = load_scenario(None, ["referrals.max_wait_months=0", *overrides])
    chunk = chunk_seed(seed, 0)
    return sc, sample_inputs(sc, chunk, n_draws), chunk


# --- hand-worked means ----------------------------------------------------------------------

HAND = (
    "referrals.service_end_month=24",
    "referrals.teams=1",
    "referrals.team_start_delay_months=2.5",
    "referrals.team_stagger_months=0",
    "referrals.referrals_per_month=10",
    "referrals.ramp_initial_fraction=0.2",
    "referrals.ramp_months=10",
    "referrals.therapists_per_team=4",
    "referrals.caseload_per_therapist=4",
    "referrals.months_per_case=4",
)


def test_expected_referrals_one_team_hand_worked():
    # Team from month 2.5: half of month 2 active.  Ramp 0.2 -> 1 over 10 months from 2.5,
    # read at mid-month: month 3 is 0.1 through (0.28), month 7 half-way (0.6), month 12 full.
    sc, inputs, _ = setup(*HAND, n_draws=2)
    mean = expected_referrals(sc, inputs)
    assert mean.shape == (2, 24)
    np.testing.assert_allclose(mean[:, [0, 1, 2, 3, 7, 12, 23]],
                               np.tile([0, 0, 1.0, 2.8, 6.0, 10.0, 10.0], (2, 1)), rtol=1e-12, atol=1e-12)


def test_expected_referrals_and_capacity_two_staggered_teams_hand_worked():
    # Teams from months 2.5 and 5.5 (stagger 3): active share 0.25 in month 2, 0.5 in months
    # 3-4, 0.75 in month 5, 1 from month 6.  Month 5: ramp 0.2 + 0.8 × 0.3 = 0.44.
    sc, inputs, _ = setup(*HAND, "referrals.teams=2", "referrals.team_stagger_months=3", n_draws=1)
    mean = expected_referrals(sc, inputs)[0]
    np.testing.assert_allclose(mean[[2, 3, 5, 6]], [10 * 0.2 * 0.25, 10 * 0.28 * 0.5, 10 * 0.44 * 0.75, 10 * 0.52],
                               rtol=1e-12)
    # Capacity per team 4 × 4 ÷ 4 = 4 a month, times active teams, rounded to whole families.
    capacity = monthly_capacity(sc, inputs)[0]
    np.testing.assert_array_equal(capacity[[0, 2, 3, 5, 6, 23]], [0, 2, 4, 6, 8, 8])


def test_zero_length_ramp_is_full_from_the_first_team_start():
    sc, inputs, _ = setup(*HAND, "referrals.ramp_months=0", n_draws=1)
    np.testing.assert_allclose(expected_referrals(sc, inputs)[0, [1, 2, 3]], [0.0, 5.0, 10.0])


# --- Monte Carlo against the means ------------------------------------------------------------


def test_monthly_starts_reproduce_expected_mean_times_conversion():
    n = 20_000
    sc, inputs, chunk = setup(*FIXED, *NO_CAPACITY_LIMIT, n_draws=n)
    converted, starts = monthly_starts(sc, inputs, stream(chunk, "referrals"))
    assert converted.shape == starts.shape == (n, 36)
    np.testing.assert_array_equal(converted, starts)  # neither capacity nor target binds here
    k, p = 3.0, 0.6
    mu_referrals = expected_referrals(sc, inputs)[0]
    assert np.all(expected_referrals(sc, inputs) == mu_referrals)  # same in every draw
    mean = p * mu_referrals
    se = np.sqrt((mean + mean**2 / k) / n)
    z = (starts.mean(axis=0) - mean) / np.where(se > 0, se, 1.0)
    assert np.all(np.abs(z) < N_SE), f"worst month {np.argmax(np.abs(z))}: z = {np.abs(z).max():.2f}"
    assert np.all(starts[:, mean == 0] == 0)
    # Over-dispersion: at steady state (month 14 on) starts are NB with mean 4.8 and size 3.
    steady = starts[:, 14:].ravel().astype(float)
    mu = p * 8.0
    squared = (steady - mu) ** 2
    se_var = squared.std() / np.sqrt(squared.size)
    assert abs(squared.mean() - (mu + mu**2 / k)) < N_SE * se_var


def test_capacity_bounds_starts():
    # 1 therapist × 2 families ÷ 4 months per team: one start a month per two full teams,
    # against about 5 converted referrals a month -- capacity binds almost always.
    sc, inputs, chunk = setup(
        "referrals.therapists_per_team=1", "referrals.caseload_per_therapist=2", "referrals.months_per_case=4",
        n_draws=500,
    )
    _, starts = monthly_starts(sc, inputs, stream(chunk, "referrals"))
    capacity = monthly_capacity(sc, inputs)
    assert np.all(starts <= capacity)
    target = sc.referrals.target_young_people
    assert target is None or starts.sum(axis=1).max() < target  # the target never binds here
    full = capacity == 1
    assert full.sum() > 1000
    # Where one place is free, a start happens unless no referral converts.  Converted referrals
    # are negative binomial (size k) thinned binomially (conversion p): again negative binomial,
    # with mean p·μ and size k, so P(none) = (k / (k + p·μ))^k, month by month and draw by draw.
    k = inputs["referrals.referral_dispersion"][:, None]
    p = inputs["referrals.referral_conversion"][:, None]
    mu = expected_referrals(sc, inputs)
    p_start = np.broadcast_to(1 - (k / (k + p * mu)) ** k, starts.shape)[full]
    # Cells are independent Bernoulli trials: their count has variance Σ π(1 − π).
    observed = np.count_nonzero(starts[full] == 1)
    se = np.sqrt(np.sum(p_start * (1 - p_start)))
    assert abs(observed - p_start.sum()) < N_SE * se, (observed, p_start.sum(), se)


def test_a_ceiling_target_caps_total_starts_and_keeps_the_months_before():
    sc_free, inputs, chunk = setup(*FIXED, *NO_CAPACITY_LIMIT, n_draws=400)
    _, free = monthly_starts(sc_free, inputs, stream(chunk, "referrals"))
    target = int(np.median(free.sum(axis=1)))
    sc = load_scenario(None, ["referrals.max_wait_months=0", *FIXED, *NO_CAPACITY_LIMIT,
                              f"referrals.target_young_people={target}",
                              'referrals.target_rule="ceiling"'])
    _, capped = monthly_starts(sc, sample_inputs(sc, chunk, 400), stream(chunk, "referrals"))
    totals = capped.sum(axis=1)
    assert totals.max() == target and np.mean(totals == target) >= 0.5
    # Same random numbers: months are copied until the running total reaches the target.
    np.testing.assert_array_equal(capped, np.diff(np.minimum(free.cumsum(axis=1), target), axis=1, prepend=0))


def test_service_window_is_respected():
    sc, inputs, chunk = setup(
        "referrals.service_start_month=6", "referrals.service_end_month=30", "referrals.team_start_delay_months=0",
        "referrals.ramp_initial_fraction=1", n_draws=300,
    )
    _, starts = monthly_starts(sc, inputs, stream(chunk, "referrals"))
    assert starts.shape == (300, 30)
    assert not starts[:, :6].any() and starts[:, 6:].sum() > 0
    people = simulate_people(sc, inputs, starts, stream(chunk, "people"))
    assert people.start_calendar.min() >= 6.0 and people.start_calendar.max() < 30.0
    assert np.all(people.cohort == people.start_calendar // 3)


def test_no_starts_before_the_first_team_starts():
    sc, inputs, chunk = setup(n_draws=500)  # Essex: delay ~ Uniform(0, 6)
    _, starts = monthly_starts(sc, inputs, stream(chunk, "referrals"))
    first_month = np.floor(sc.referrals.service_start_month + inputs["referrals.team_start_delay_months"])
    before = np.arange(starts.shape[1])[None, :] < first_month[:, None]
    assert not starts[before].any()


def test_zero_demand_gives_no_referrals():
    sc, inputs, chunk = setup("referrals.referrals_per_month=0", n_draws=20)
    converted, starts = monthly_starts(sc, inputs, stream(chunk, "referrals"))
    assert not converted.any() and not starts.any()


@pytest.mark.parametrize("seed", [0, 1])
def test_same_stream_same_starts(seed):
    sc, inputs, chunk = setup(n_draws=50, seed=seed)
    a = monthly_starts(sc, inputs, stream(chunk, "referrals"))
    b = monthly_starts(sc, inputs, stream(chunk, "referrals"))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("n_teams", [1, 2, 3, 9])
def test_active_team_share_is_the_numpy_expression_to_the_bit(n_teams):
    # The compiled pass replaced this expression; referrals (and so every draw) must not move.
    rng = np.random.default_rng(n_teams)
    starts = rng.uniform(-5.0, 70.0, (200, n_teams))
    starts[::13, -1] = 0.0
    starts[::11, 0] = np.round(starts[::11, 0])  # starts on a month's edge
    for edges in (np.arange(61.0), np.array([0.0, 0.5, 3.0, 3.0, 10.0, 61.0]), np.sort(rng.uniform(0, 60, 20))):
        lo, hi = edges[:-1], edges[1:]
        with np.errstate(invalid="ignore"):
            overlap = np.clip(hi[None, None, :] - np.maximum(starts[:, :, None], lo[None, None, :]), 0, None)
            expected = (np.minimum(overlap, (hi - lo)[None, None, :]) / (hi - lo)).mean(axis=1)
        got = active_team_share(starts, edges)
        assert np.array_equal(got, expected, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(expected))


def test_expected_referrals_pass_is_the_numpy_expression_to_the_bit():
    from simsib.model.referrals import _expected_referrals

    rng = np.random.default_rng(3)
    n, n_months, start = 400, 61, 4
    first, initial = rng.uniform(0, 12, n), rng.uniform(0, 1, n)
    ramp_months, per_month = rng.uniform(0, 24, n), rng.uniform(1, 20, n)
    ramp_months[::7], ramp_months[::11], first[::13] = 0.0, 1e-12, 0.5  # no ramp, a tiny one, a month's middle
    active = rng.uniform(0, 1, (n, n_months))
    active[::5, :10] = 0.0
    months = np.arange(n_months, dtype=float)
    progress = np.clip((months[None, :] + 0.5 - first[:, None]) / np.maximum(ramp_months[:, None], 1e-9), 0.0, 1.0)
    progress = np.where(ramp_months[:, None] > 0, progress, 1.0)
    expected = per_month[:, None] * (initial[:, None] + (1.0 - initial[:, None]) * progress) * active
    expected[:, :start] = 0.0
    got = _expected_referrals(first, initial, ramp_months, per_month, active, start)
    assert np.array_equal(got, expected) and np.array_equal(np.signbit(got), np.signbit(expected))
