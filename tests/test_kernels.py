"""The compiled kernel agrees with the readable numpy reference model, cell by cell."""

from __future__ import annotations

import numpy as np
import pytest

import simsib
from simsib.contract.payments import measured_quarters
from simsib.model.care_aggregate import aggregate
from simsib.model.care_paths import simulate_people
from simsib.model.inputs import sample_inputs
from simsib.model.processes import simulate_aggregates
from simsib.model.referrals import monthly_starts
from simsib.model.streams import chunk_seed, stream
from simsib.scenario.loader import bundled_scenario_path, load_scenario

CASES = [
    ("essex", []),
    ("essex-realised", []),  # measurement ends before every window closes
    ("essex", ["effect.log_hazard_ratio=0.5", "population.weibull_shape=1.3"]),  # harm
    ("essex", ["care.reentry_probability=0.9", "care.short_stay_share=0.8"]),
    ("essex", ["population.p30_entry=0"]),  # nobody ever enters care
    ("essex", ["population.p30_entry=1"]),  # everybody enters at once
]


def _both(name, overrides, blocks=(7, 30), once=(91, 364), n=60, seed=9):
    scenario = load_scenario(bundled_scenario_path(name), overrides)
    chunk = chunk_seed(seed, 0)
    inputs = sample_inputs(scenario, chunk, n)
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
    people = simulate_people(scenario, inputs, starts, stream(chunk, "people"))
    reference = aggregate(scenario, people, inputs, n, blocks, once)
    fast = simulate_aggregates(scenario, inputs, starts, stream(chunk, "people"), blocks, once)
    return reference, fast


@pytest.mark.parametrize("name, overrides", CASES)
def test_kernel_matches_reference(name, overrides):
    reference, fast = _both(name, overrides)
    for field in ("child_days", "care_days_treated", "care_days_counterfactual", "completions_due",
                  "starts", "completed"):
        np.testing.assert_allclose(getattr(fast, field), getattr(reference, field), rtol=0, atol=1e-7,
                                   err_msg=field)
    for n_days in (7, 30):
        np.testing.assert_allclose(fast.milestone_block_days[n_days], reference.milestone_block_days[n_days],
                                   rtol=0, atol=1e-7)
    for n_days in (91, 364):
        np.testing.assert_array_equal(fast.milestone_people[n_days], reference.milestone_people[n_days])
    # The totals the kernel sums on the way are the cubes' totals over quarters ...
    assert set(fast.days_by_cohort) == {"child_days", "care_days_treated", "care_days_counterfactual"}
    for field, totals in fast.days_by_cohort.items():
        np.testing.assert_allclose(totals, getattr(reference, field).sum(axis=2), rtol=0, atol=1e-7, err_msg=field)
    # ... and nothing falls after the measurement end, so totals need no quarter mask.
    scenario = load_scenario(bundled_scenario_path(name), overrides)
    unmeasured = ~measured_quarters(scenario, scenario.n_quarters)
    for cube in (fast.child_days, fast.care_days_treated, fast.care_days_counterfactual, fast.completions_due,
                 *fast.milestone_block_days.values(), *fast.milestone_people.values()):
        assert not cube[:, :, unmeasured].any()


def test_kernel_results_do_not_depend_on_chunking_or_workers():
    scenario = simsib.load_scenario()
    one = simsib.simulate(scenario, draws=300, seed=4, workers=1).draws
    two = simsib.simulate(scenario, draws=300, seed=4, workers=2).draws
    assert one.equals(two)


# --- beyond Essex: cohorts starting in care, age limits, point-in-time, offsets, horizon --------

from simsib.model.care_process import simulate_care  # noqa: E402
from simsib.model.outcomes import Needs, sum_from_cohort_quarters  # noqa: E402
from simsib.scenario.format import resolve_cohorts  # noqa: E402

EVERYTHING = Needs(milestone_blocks=(7, 30), milestone_once=(91, 364), point_days=(98, 400),
                   offset_days=(98, 700), horizon=True, horizon_counterfactual=True)
COHORT_CASES = [
    ("norfolk", 0, []),  # edge of care, with a reunification cohort beside it
    ("norfolk", 1, []),  # starting in care
    ("norfolk", 1, ["effect.log_hazard_ratio=0.5"]),  # harm: the exit comes later
    ("norfolk", 1, ["cohorts.1.population.p30_exit=0"]),  # nobody leaves care
    ("suffolk", 0, ["population.age_limit_years=21"]),  # an older limit: windows and horizons longer
    ("essex-realised", 0, ["population.p30_entry=1"]),  # measurement ends before windows close
]


@pytest.mark.parametrize("name, index, overrides", COHORT_CASES)
def test_kernel_matches_reference_for_every_measure(name, index, overrides):
    scenario = load_scenario(bundled_scenario_path(name), overrides)
    cohort = resolve_cohorts(scenario)[index]
    chunk = chunk_seed(5, 0)
    n = 60
    inputs = sample_inputs(scenario, chunk, n)
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
    people = simulate_people(scenario, inputs, starts, stream(chunk, "people"), cohort)
    reference = aggregate(scenario, people, inputs, n, needs=EVERYTHING)
    fast = simulate_care(scenario, cohort, inputs, starts, stream(chunk, "people"), EVERYTHING)

    def same(a, b, what):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7, err_msg=what)

    for field in ("child_days", "care_days_treated", "care_days_counterfactual", "completions_due",
                  "starts", "completed", "state_days_avoided_to_horizon", "state_days_avoided_to_horizon_by_cohort",
                  "counterfactual_state_days_to_horizon", "counterfactual_state_days_to_horizon_by_cohort"):
        same(getattr(fast, field), getattr(reference, field), field)
    for field in ("milestone_block_days", "milestone_block_days_counterfactual", "milestone_people",
                  "milestone_people_counterfactual", "out_of_state_at", "out_of_state_at_counterfactual",
                  "in_state_at", "in_state_at_counterfactual"):
        assert getattr(fast, field).keys() == getattr(reference, field).keys(), field
        for key in getattr(fast, field):
            same(getattr(fast, field)[key], getattr(reference, field)[key], f"{field}[{key}]")
    for day in EVERYTHING.offset_days:
        for part in range(3):
            same(fast.days_from[day][part], reference.days_from[day][part], f"days_from[{day}][{part}]")
    # Something was measured: the cases are not vacuous.
    assert fast.care_days_counterfactual.sum() > 0 or "p30_exit=0" not in " ".join(overrides)
    assert np.abs(fast.state_days_avoided_to_horizon).sum() > 0 or "p30_exit=0" in " ".join(overrides)


def _days_in(care: np.ndarray) -> np.ndarray:
    """Each person's days in care of (N, 2, 2) episodes (months)."""
    return (care[:, :, 1] - care[:, :, 0]).sum(axis=1) * (365.25 / 12)


@pytest.mark.parametrize("name", ["essex-realised", "essex-2012", "suffolk"])
def test_days_avoided_to_the_age_limit_extend_the_window(name):
    """The days avoided to the age limit are each person's episodes cut at the age limit only (not
    by the window nor the measurement end), summed by start cohort in the cohort's own quarters
    and by calendar quarter; summed over the served cohorts only, they are those cohorts' people's."""
    scenario = load_scenario(bundled_scenario_path(name))
    cohort = resolve_cohorts(scenario)[0]
    chunk = chunk_seed(8, 0)
    n = 200
    inputs = sample_inputs(scenario, chunk, n)
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
    out = simulate_care(scenario, cohort, inputs, starts, stream(chunk, "people"),
                        Needs(horizon=True, horizon_counterfactual=True))
    people = simulate_people(scenario, inputs, starts, stream(chunk, "people"), cohort)
    counterfactual = _days_in(people.care_counterfactual_to_limit)
    avoided = counterfactual - _days_in(people.care_treated_to_limit)
    by_cohort, by_quarter = out.state_days_avoided_to_horizon_by_cohort, out.state_days_avoided_to_horizon
    assert by_cohort.shape[:2] == out.care_days_treated.shape[:2]
    assert by_cohort.shape[2] < by_quarter.shape[1]  # a cohort spans fewer quarters than the horizon
    scale = np.abs(avoided).sum()
    np.testing.assert_allclose(by_quarter.sum(), avoided.sum(), rtol=0, atol=1e-9 * scale)
    # The cohorts' own quarters, laid out by calendar quarter, are the sums over cohorts.
    np.testing.assert_allclose(sum_from_cohort_quarters(by_cohort, by_quarter.shape[1]), by_quarter,
                               rtol=0, atol=1e-9 * scale)
    per_cohort = np.zeros(by_cohort.shape[:2])
    np.add.at(per_cohort, (people.draw, people.cohort), avoided)
    np.testing.assert_allclose(by_cohort.sum(axis=2), per_cohort, rtol=0, atol=1e-9 * scale)
    # Beyond the window: more days are avoided, or fewer, than inside it.
    window = (out.care_days_counterfactual - out.care_days_treated).sum()
    assert abs(by_quarter.sum() - window) > 0.01 * scale
    # Served cohorts only: a stop at each draw's own quarter.
    stop = np.random.default_rng(1).integers(0, scenario.n_cohorts + 1, n)
    served = np.arange(scenario.n_cohorts)[None, :] < stop[:, None]
    expected = np.where(served[people.draw, people.cohort], avoided, 0.0)
    np.testing.assert_allclose(out.avoided_to_horizon(served).sum(axis=1),
                               np.bincount(people.draw, expected, minlength=n), rtol=0, atol=1e-9 * scale)
    np.testing.assert_array_equal(out.avoided_to_horizon(np.ones_like(served)), by_quarter)
    # The counterfactual path's own days, as asked for, the same way.
    expected = np.where(served[people.draw, people.cohort], counterfactual, 0.0)
    np.testing.assert_allclose(out.counterfactual_to_horizon(served).sum(axis=1),
                               np.bincount(people.draw, expected, minlength=n), rtol=0, atol=1e-9 * counterfactual.sum())
    only_avoided = simulate_care(scenario, cohort, inputs, starts, stream(chunk, "people"), Needs(horizon=True))
    assert only_avoided.counterfactual_to_horizon() is None
    np.testing.assert_array_equal(only_avoided.state_days_avoided_to_horizon, by_quarter)


def test_sums_over_cohorts_made_on_the_way_are_numpys_to_the_bit():
    """The kernel's sums of the window cubes over start cohorts are what numpy's sum over that axis
    (and einsum with the served cohorts' weights) gives, bit for bit; the mechanisms and the
    council's accounts use them for draws with every cohort served, einsum for the others."""
    scenario = load_scenario(bundled_scenario_path("essex-2012"))
    chunk = chunk_seed(4, 0)
    n = 300
    inputs = sample_inputs(scenario, chunk, n)
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
    out = simulate_aggregates(scenario, inputs, starts, stream(chunk, "people"))
    assert set(out.days_by_quarter) == {"child_days", "care_days_treated", "care_days_counterfactual"}
    stop = np.random.default_rng(2).integers(0, scenario.n_cohorts + 1, n)
    served = np.arange(scenario.n_cohorts)[None, :] < stop[:, None]
    assert 0 < served.all(axis=1).sum() < n
    for name, total in out.days_by_quarter.items():
        cube = getattr(out, name)
        np.testing.assert_array_equal(total, cube.sum(axis=1), err_msg=name)
        np.testing.assert_array_equal(out.by_quarter(name, served), np.einsum("dcq,dc->dq", cube, served.astype(float)))
        assert out.summed_name(cube) == name


def test_completions_due_are_counted_only_when_asked_for():
    """Without a completion-paying mechanism the kernel writes no event cube; the other measures
    are the same either way."""
    scenario = load_scenario(bundled_scenario_path("essex"))
    cohort = resolve_cohorts(scenario)[0]
    chunk = chunk_seed(6, 0)
    inputs = sample_inputs(scenario, chunk, 80)
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
    asked = Needs(milestone_once=(91,), point_days=(98,), completions=True)
    counted = simulate_care(scenario, cohort, inputs, starts, stream(chunk, "people"), asked)
    left_out = simulate_care(scenario, cohort, inputs, starts, stream(chunk, "people"),
                             Needs(milestone_once=(91,), point_days=(98,), completions=False))
    assert left_out.completions_due is None and counted.completions_due.sum() > 0
    for field in ("care_days_treated", "milestone_people", "out_of_state_at", "in_state_at_counterfactual"):
        a, b = getattr(counted, field), getattr(left_out, field)
        for key in (a if isinstance(a, dict) else [None]):
            np.testing.assert_array_equal(a[key] if key else a, b[key] if key else b, err_msg=field)
