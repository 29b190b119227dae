"""The compiled kernel agrees with the readable numpy reference model, cell by cell."""

from __future__ import annotations

import numpy as np
import pytest

import simsib
from simsib.contract.payments import measured_quarters
from simsib.model.care_paths import aggregate, simulate_people
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
