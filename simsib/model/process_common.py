"""What the numpy outcome processes (recurrent events, attainment) share: placing a cohort's
people, the tracking window, and the starts, completions and empty care cubes every
:class:`CohortQuarterly` holds."""

from __future__ import annotations

import numpy as np

from simsib.model.binning import QuarterBinner
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.model.people import draw_starts_and_ages, person_cells
from simsib.scenario.format import Scenario


def place_people(scenario: Scenario, table, starts: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each of a cohort's people: ``draw``, ``start`` (calendar month) and ``window`` (months
    tracked), each (N,), N = ``starts.sum()``.  Draws the start days and ages from ``rng`` first,
    as every process does (:mod:`simsib.model.processes`)."""
    draw, month = person_cells(starts)
    start_u, age = draw_starts_and_ages(table.age_at_start, int(starts.sum()), rng)
    start = month + start_u
    return draw, start, tracking_window(scenario, start, age, table.age_limit_years)


def tracking_window(scenario: Scenario, start: np.ndarray, age: np.ndarray, age_limit: int | None) -> np.ndarray:
    """Months tracked per person: the contract's window, cut at the age limit and the measurement end."""
    window = np.minimum(float(scenario.contract.tracking_months), scenario.contract.measurement_end_month - start)
    if age_limit is not None:
        window = np.minimum(window, (float(age_limit) - age) * 12.0)
    return window.clip(min=0.0)


def base_outcomes(scenario: Scenario, inputs: DrawInputs, starts: np.ndarray, draw: np.ndarray,
                  start: np.ndarray, binner: QuarterBinner) -> dict:
    """What every numpy process returns besides its own measures: starts, completions (all
    complete, ``referrals.months_per_case`` after starting) and zero care cubes."""
    n_draws = starts.shape[0]
    n_cohorts = scenario.n_cohorts
    cohort = (start // MONTHS_PER_QUARTER).astype(np.int64)
    per_cohort = np.bincount(draw * n_cohorts + cohort, minlength=n_draws * n_cohorts).reshape(n_draws, n_cohorts)
    finish = start + inputs["referrals.months_per_case"][draw]
    zeros = np.zeros(binner.shape)  # shared, never written: one array for every empty cube
    return dict(
        child_days=zeros, care_days_treated=zeros, care_days_counterfactual=zeros,
        completions_due=binner.events(finish, finish < scenario.contract.measurement_end_month),
        milestone_block_days={}, milestone_people={},
        starts=per_cohort.astype(float), completed=per_cohort.astype(float),
    )
