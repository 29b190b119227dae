"""Tests for simsib.model.care_paths: care entry, the MST effect, episodes, windows and aggregation.

Stochastic checks compare an empirical share with its exact value and allow 4 standard errors,
``4 * sqrt(p (1 - p) / n)``; with the fixed seeds used here they are deterministic, and a
wrong model (e.g. an effect applied on the wrong scale) misses by tens of standard errors.
Exact properties (coupling, windows, bookkeeping) are checked per person.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import simsib
from simsib.model.binning import QuarterBinner as _QuarterBinner
from simsib.model.care_aggregate import aggregate
from simsib.model.care_paths import People, _episodes, simulate_people, treated_entry, weibull_scale
from simsib.model.inputs import sample_inputs
from simsib.model.outcomes import DAYS_PER_MONTH
from simsib.model.streams import chunk_seed, stream
from simsib.scenario.loader import load_scenario

N_SE = 4.0

# Care-episode parameters pinned here, so the checks below do not move when the bundled
# scenario's evidence-based values are revised.
CARE = (
    "care.short_stay_share=0.4",
    "care.short_stay_median_months=1.4",
    "care.short_stay_sigma=0.9",
    "care.long_stay_median_months=24",
    "care.long_stay_sigma=0.6",
)

# No censoring of entry before month 60: every child is 11 at start (18th birthday 72-84 months
# away), the tracking window is 60 months and measurement ends long after the last start.
UNCENSORED = (
    *CARE,
    'population.age_at_start={dist="categorical", values=[11], weights=[1.0]}',
    "contract.tracking_months=60",
    "contract.measurement_end_month=200",
    "population.p30_entry=0.45",
    "population.weibull_shape=0.8",
    "effect.duration_months=24",
    "effect.completion_rate=1",
)


def scenario(*overrides: str):
    return load_scenario(None, list(overrides))


def simulate(sc, n_draws: int = 20, per_month: int = 5, seed: int = 11) -> tuple[People, dict]:
    """People of one chunk with ``per_month`` starts in every service month of every draw."""
    chunk = chunk_seed(seed, 0)
    inputs = sample_inputs(sc, chunk, n_draws)
    starts = np.full((n_draws, sc.referrals.service_end_month), per_month, dtype=np.int64)
    return simulate_people(sc, inputs, starts, stream(chunk, "people")), inputs


def assert_share(observed: np.ndarray, expected: float | np.ndarray, what: str) -> None:
    """Mean of a boolean array equals ``expected`` within N_SE binomial standard errors."""
    n = observed.size
    p = np.mean(expected)
    se = np.sqrt(p * (1 - p) / n)
    assert abs(observed.mean() - p) < N_SE * se, f"{what}: {observed.mean():.5f} vs {p:.5f} (SE {se:.5f}, n {n})"


def cumulative_hazard(t, p30: float, shape: float):
    """H0(t) of a Weibull with P(T <= 30) = p30, written independently of the module."""
    return -np.log1p(-p30) * (np.asarray(t) / 30.0) ** shape


# --- deterministic pieces -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [0.7, 1.0, 2.5])
@pytest.mark.parametrize("p30", [0.01, 0.12, 0.6, 0.99])
def test_weibull_scale_puts_p30_at_30_months(p30, shape):
    scale = weibull_scale(np.array([p30]), np.array([shape]))
    assert 1 - np.exp(-((30.0 / scale) ** shape)) == pytest.approx(p30, rel=1e-12)


def test_weibull_scale_of_zero_risk_is_infinite_and_silent():
    assert np.isinf(weibull_scale(np.array([0.0]), np.array([0.8]))).all()


def test_treated_entry_hand_worked():
    # Exponential (k = 1), λ = 10, HR = 0.5 for the first 5 months: H0(5) = 0.5.
    # E = 0.2 <= HR·H0(5) = 0.25: H0(T1) = E / HR = 0.4 -> T1 = 4.
    # E = 1.0 > 0.25: H0(T1) = E + (1 - HR)·H0(5) = 1.25 -> T1 = 12.5 (H1(12.5) = 0.25 + 0.75 = 1).
    t1 = treated_entry(np.array([0.2, 1.0]), 10.0, 1.0, 0.5, 5.0)
    np.testing.assert_allclose(t1, [4.0, 12.5], rtol=1e-14)


def test_treated_entry_without_effect_or_duration_is_counterfactual():
    e = np.random.default_rng(0).standard_exponential(1000)
    t0 = 40.0 * e ** (1 / 0.8)
    assert np.array_equal(treated_entry(e, 40.0, 0.8, 1.0, 24.0), t0)
    assert np.array_equal(treated_entry(e, 40.0, 0.8, 0.3, 0.0), t0)


def test_episodes_hand_worked():
    # columns: entry, d1, d2, re-enters, gap, to18, window
    cases = np.array([
        [5.0, 10.0, 4.0, 1, 2.0, 12.0, 12.0],   # first stay cut at 18: no re-entry
        [1.0, 2.0, 4.0, 1, 3.0, 40.0, 30.0],    # [1,3], re-entry at 6 for 4 -> [6,10]
        [1.0, 2.0, 40.0, 1, 3.0, 40.0, 30.0],   # second stay cut by the window -> [6,30]
        [1.0, 2.0, 4.0, 0, 3.0, 40.0, 30.0],    # no re-entry -> second empty at the window end
        [35.0, 2.0, 4.0, 1, 3.0, 40.0, 30.0],   # enters after the window -> both empty
        [50.0, 2.0, 4.0, 1, 3.0, 40.0, 30.0],   # would enter after 18 -> both empty
        [np.inf, 2.0, 4.0, 1, 3.0, 40.0, 30.0],  # never enters
    ])
    entry, d1, d2, re, gap, to18, window = cases.T
    got = _episodes(entry, d1, d2, re.astype(bool), gap, to18, window)
    want = np.array([
        [[5, 12], [12, 12]],
        [[1, 3], [6, 10]],
        [[1, 3], [6, 30]],
        [[1, 3], [30, 30]],
        [[30, 30], [30, 30]],
        [[30, 30], [30, 30]],
        [[30, 30], [30, 30]],
    ], dtype=float)
    np.testing.assert_array_equal(got, want)


# --- the quarter binner against brute force ---------------------------------------------------


def brute_force_overlap(draw, cohort, begin, end, weight, shape):
    """Σ weight × |[begin, end) ∩ [3q, 3q+3) ∩ [0, horizon)| in days, one quarter at a time."""
    out = np.zeros(shape)
    horizon = 3 * shape[2]
    for q in range(shape[2]):
        lo, hi = 3.0 * q, min(3.0 * q + 3.0, horizon)
        months = np.clip(np.minimum(end, hi) - np.maximum(begin, lo), 0.0, None)
        np.add.at(out, (draw, cohort, q), weight * months * DAYS_PER_MONTH)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_quarter_binner_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, shape = 5000, (3, 4, 7)
    draw = rng.integers(0, shape[0], n)
    cohort = rng.integers(0, shape[1], n)
    begin = rng.uniform(-2.0, 24.0, n)
    # Some endpoints exactly on quarter edges, at 0 and at the horizon (21); some empty.
    begin[:500] = rng.integers(0, 8, 500) * 3.0
    end = begin + rng.exponential(4.0, n) * (rng.random(n) < 0.9)
    end[500:1000] = rng.integers(0, 8, 500) * 3.0
    end = np.maximum(end, begin)
    weight = rng.uniform(0.5, 2.0, n)
    binner = _QuarterBinner(draw, cohort, *shape)
    want = brute_force_overlap(draw, cohort, begin, end, weight, shape)
    np.testing.assert_allclose(binner.overlap(begin, end, weight), want, rtol=0, atol=1e-9)
    np.testing.assert_allclose(binner.overlap(begin, end), brute_force_overlap(draw, cohort, begin, end, 1.0, shape),
                               rtol=0, atol=1e-9)
    # Trailing dimension (e.g. two episodes per person) shares the person's row.
    begin2 = np.stack([begin, begin + 1.0], 1)
    end2 = np.stack([end, end + 2.0], 1)
    want2 = brute_force_overlap(draw, cohort, begin2[:, 0], end2[:, 0], 1.0, shape)
    want2 += brute_force_overlap(draw, cohort, begin2[:, 1], end2[:, 1], 1.0, shape)
    np.testing.assert_allclose(binner.overlap(begin2, end2), want2, rtol=0, atol=1e-9)


def test_quarter_binner_events_equal_brute_force():
    rng = np.random.default_rng(3)
    n, shape = 2000, (2, 3, 5)
    draw, cohort = rng.integers(0, 2, n), rng.integers(0, 3, n)
    times = rng.uniform(0, 18, n)
    times[:100] = 15.0  # exactly at the horizon: outside
    mask = rng.random(n) < 0.7
    want = np.zeros(shape)
    q = (times // 3).astype(int)
    keep = mask & (q < shape[2])
    np.add.at(want, (draw[keep], cohort[keep], q[keep]), 1.0)
    np.testing.assert_array_equal(_QuarterBinner(draw, cohort, *shape).events(times, mask), want)


def test_aggregate_with_no_people_gives_zeros():
    sc = simsib.load_scenario()
    chunk = chunk_seed(1, 0)
    inputs = sample_inputs(sc, chunk, 4)
    starts = np.zeros((4, sc.referrals.service_end_month), dtype=np.int64)
    people = simulate_people(sc, inputs, starts, stream(chunk, "people"))
    out = aggregate(sc, people, inputs, 4)
    assert out.child_days.shape == (4, sc.n_cohorts, sc.n_quarters)
    assert not out.child_days.any() and not out.care_days_treated.any() and not out.starts.any()


# --- care entry and the effect ----------------------------------------------------------------


@pytest.mark.parametrize("shape", [0.7, 1.0])
def test_share_entering_within_30_months_matches_p30(shape):
    sc = scenario(*UNCENSORED, f"population.weibull_shape={shape}")
    people, _ = simulate(sc, n_draws=40, per_month=20)
    assert np.all(people.window == 60.0)  # nothing censored before month 30
    entered = people.care_counterfactual[:, 0, 0] < 30.0
    assert_share(entered, 0.45, "P(counterfactual entry within 30 months)")


@pytest.mark.parametrize("log_hr", [np.log(0.4), -0.1, 0.5])
def test_treated_survival_is_counterfactual_survival_to_the_power_hr(log_hr):
    """S1(t) = S0(t)^HR while the effect lasts, S0(t)·exp(-(HR-1)·H0(D)) after it."""
    p30, shape, duration, hr = 0.45, 0.8, 24.0, np.exp(log_hr)
    sc = scenario(*UNCENSORED, f"effect.log_hazard_ratio={float(log_hr)!r}")
    people, _ = simulate(sc, n_draws=40, per_month=20)
    h_d = cumulative_hazard(duration, p30, shape)
    for t in (3.0, 12.0, 23.9, 24.0, 30.0, 48.0, 100.0):
        s0 = np.exp(-cumulative_hazard(t, p30, shape))
        s1 = s0**hr if t <= duration else s0 * np.exp(-(hr - 1.0) * h_d)
        assert_share(people.entry_counterfactual > t, s0, f"S0({t})")
        assert_share(people.entry_treated > t, s1, f"S1({t}), HR {hr:.3f}")


def test_treated_entry_moves_the_same_way_as_the_hazard_ratio():
    people, inputs = simulate(simsib.load_scenario(), n_draws=200, per_month=2)
    hr = np.exp(inputs["effect.log_hazard_ratio"])[people.draw]
    t0, t1 = people.entry_counterfactual, people.entry_treated
    assert np.all(t1[hr <= 1] >= t0[hr <= 1])
    assert np.all(t1[hr >= 1] <= t0[hr >= 1])


def test_completion_share_matches_completion_rate():
    sc = simsib.load_scenario()  # completion rate ~ Beta(17, 3) per draw
    people, inputs = simulate(sc, n_draws=200, per_month=5)
    rate = inputs["effect.completion_rate"][people.draw]
    se = np.sqrt(np.sum(rate * (1 - rate))) / rate.size
    assert abs(people.completed.mean() - rate.mean()) < N_SE * se
    # The cohort counts are the same people.
    out = aggregate(sc, people, inputs, 200)
    assert out.completed.sum() == people.completed.sum()
    assert out.starts.sum() == people.draw.size


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_non_completers_get_their_share_of_the_log_hazard_ratio(share):
    log_hr = np.log(0.4)
    sc = scenario(
        *UNCENSORED, "effect.completion_rate=0.5", "effect.duration_months=500",
        f"effect.log_hazard_ratio={float(log_hr)!r}", f"effect.non_completer_effect_share={share}",
    )
    people, _ = simulate(sc, n_draws=40, per_month=20)
    done, dropped = people.completed, ~people.completed
    assert_share(done, 0.5, "completion")
    if share == 0.0:
        assert np.array_equal(people.entry_treated[dropped], people.entry_counterfactual[dropped])
    for t in (12.0, 30.0, 60.0):
        s0 = np.exp(-cumulative_hazard(t, 0.45, 0.8))
        assert_share(people.entry_treated[done] > t, s0 ** np.exp(log_hr), f"completers S1({t})")
        assert_share(people.entry_treated[dropped] > t, s0 ** np.exp(share * log_hr), f"non-completers S1({t})")


# --- hazard ratio 1 and coupling --------------------------------------------------------------


def test_hazard_ratio_one_gives_identical_paths_and_aggregates():
    sc = scenario("effect.log_hazard_ratio=0")
    people, inputs = simulate(sc, n_draws=100, per_month=6)
    assert np.array_equal(people.entry_treated, people.entry_counterfactual)
    assert np.array_equal(people.care_treated, people.care_counterfactual)
    out = aggregate(sc, people, inputs, 100)
    assert np.array_equal(out.care_days_treated, out.care_days_counterfactual)
    assert out.care_days_counterfactual.sum() > 0


def test_smaller_hazard_ratio_never_gives_a_person_more_care_days():
    # Same seed, several fixed hazard ratios (completers and non-completers both): per person,
    # care months are non-decreasing in HR.  1e-9 months allows for rounding only.
    log_hrs = [-2.0, -0.9, -0.3, 0.0, 0.2, 0.9]
    runs = [simulate(scenario(f"effect.log_hazard_ratio={v}"), n_draws=100, per_month=6) for v in log_hrs]
    base = runs[0][0]
    care = []
    for people, _ in runs:
        assert np.array_equal(people.start_calendar, base.start_calendar)
        assert np.array_equal(people.care_counterfactual, base.care_counterfactual)
        care.append(people.care_months("treated"))
    care = np.array(care)  # (n_hr, N), rows in increasing HR
    assert np.all(np.diff(care, axis=0) >= -1e-9)
    assert np.any(np.diff(care, axis=0) > 1.0)  # the effect does change some paths
    counterfactual = base.care_months("counterfactual")
    assert np.all(care[log_hrs.index(0.0)] == counterfactual)


# --- windows, 18th birthdays and child-days ---------------------------------------------------


AGES_17 = 'population.age_at_start={dist="categorical", values=[17], weights=[1.0]}'
AGES_16_17 = 'population.age_at_start={dist="categorical", values=[16, 17], weights=[0.5, 0.5]}'


@pytest.mark.parametrize("overrides", [(), (AGES_17,), (AGES_16_17,)], ids=["essex", "age17", "age16-17"])
def test_care_stays_inside_the_window_and_before_18(overrides):
    sc = scenario(*overrides)
    people, inputs = simulate(sc, n_draws=100, per_month=3)
    c = sc.contract
    window = np.minimum(np.minimum(c.tracking_months, people.to18), c.measurement_end_month - people.start_calendar)
    np.testing.assert_array_equal(people.window, np.clip(window, 0.0, None))
    assert np.all(people.window <= people.to18)
    for care in (people.care_counterfactual, people.care_treated):
        begin, end = care[:, :, 0], care[:, :, 1]
        assert np.all(begin >= 0) and np.all(begin <= end)
        assert np.all(end <= people.window[:, None])
        assert np.all(end <= people.to18[:, None])  # never in care after the 18th birthday
    if overrides == (AGES_17,):
        assert np.mean(people.to18 < c.tracking_months) > 0.9  # the 18th birthday binds

    out = aggregate(sc, people, inputs, 100)
    # Child-days are the window lengths, to the day.
    np.testing.assert_allclose(out.child_days.sum(axis=(1, 2)),
                               np.bincount(people.draw, people.window, minlength=100) * DAYS_PER_MONTH, rtol=1e-12)
    # Care days are inside child-days in every (draw, cohort, quarter), none before the cohort
    # starts and none after measurement ends.
    quarter = np.arange(sc.n_quarters)
    after_end = quarter * 3 >= c.measurement_end_month
    before_cohort = quarter[None, :] < np.arange(sc.n_cohorts)[:, None]
    for care in (out.care_days_treated, out.care_days_counterfactual):
        assert np.all(care <= out.child_days + 1e-9)
        assert not care[:, :, after_end].any() and not care[:, before_cohort].any()
    assert not out.child_days[:, :, after_end].any()


# --- care episodes and re-entry ---------------------------------------------------------------


def lognormal_cdf(x, median, sigma):
    return stats.norm.cdf(np.log(x / median) / sigma)


def test_episode_lengths_follow_the_short_long_mixture():
    sc = scenario(*UNCENSORED, "population.p30_entry=0.8")
    people, _ = simulate(sc, n_draws=40, per_month=20)
    care = people.care_counterfactual
    # Entering in the first 12 months leaves >= 48 months of window: lengths up to 40 months
    # are seen uncut, and selecting on entry time does not select on length.
    early = care[:, 0, 0] < 12.0
    length = care[early, 0, 1] - care[early, 0, 0]
    for x in (0.5, 1.4, 6.0, 24.0, 40.0):
        p = 0.4 * lognormal_cdf(x, 1.4, 0.9) + 0.6 * lognormal_cdf(x, 24.0, 0.6)
        assert_share(length <= x, p, f"P(stay <= {x} months)")


def test_reentry_share_and_gap():
    p_re, gap_mean = 0.3, 0.5
    sc = scenario(
        *UNCENSORED, "population.p30_entry=0.9", "care.short_stay_share=1",
        f"care.reentry_probability={p_re}", f"care.reentry_gap_mean_months={gap_mean}",
    )
    people, _ = simulate(sc, n_draws=40, per_month=20)
    care, window = people.care_counterfactual, people.window
    # Second episodes never begin before the first has ended (for everyone, both paths).
    for c in (care, people.care_treated):
        assert np.all(c[:, 1, 0] >= c[:, 0, 1])
    # Leavers at least 10 months before the window ends (so before 18): a re-entry after an
    # Exp(mean 0.5) gap is then seen unless the gap exceeds 10 months (probability e^-20).
    leavers = (care[:, 0, 0] < window) & (care[:, 0, 1] < window - 10.0)
    reentered = care[leavers, 1, 0] < window[leavers]
    assert_share(reentered, p_re, "P(re-entry | left care)")
    gap = care[leavers, 1, 0][reentered] - care[leavers, 0, 1][reentered]
    assert abs(gap.mean() - gap_mean) < N_SE * gap_mean / np.sqrt(gap.size)  # SD of Exp = its mean
