"""People's care paths summed by draw, start cohort and calendar quarter (the numpy reference).

:func:`aggregate` turns the per-person episodes of :func:`simsib.model.care_paths.simulate_people`
into a :class:`~simsib.model.outcomes.CohortQuarterly`; the compiled kernel
(:mod:`simsib.model.care_kernel`) does the same in one pass and ``tests/test_kernels.py`` checks
that the two agree.

Aggregation never builds a people × days array (:class:`simsib.model.binning.QuarterBinner`).

What is measured, per person (months since start; ``L`` the tracking window):

* child-days ``L`` and care days ``Σ_j |episode_j ∩ [0, L)|`` of both paths;
* milestones, for both paths, on the out-of-care spells ``[0, a1)``, ``[b1, a2)``,
  ``[b2, L)``: whole blocks of N days of each spell (``repeat``), or whether the first spell
  lasts N days (once);
* point in time: whether a person still tracked N days after start (``N < L``) is out of care
  then, or in it, for both paths, counted in the quarter of that day;
* from an offset N: child-days and both paths' care days in ``[N, L)``;
* to the age limit: care days avoided (counterfactual less treated), cut at the age limit only,
  by calendar quarter summed over start cohorts, and by start cohort in quarters counted from
  its own.
"""

from __future__ import annotations

import numpy as np

from simsib.model.binning import QuarterBinner
from simsib.model.care_paths import People
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import DAYS_PER_MONTH, CohortQuarterly, Needs, horizon_quarters
from simsib.scenario.format import Scenario


def out_of_care_spells(care: np.ndarray, window: np.ndarray) -> np.ndarray:
    """A path's out-of-care spells inside the window, shape (N, 3, 2), months since start.

    ``care`` is the path's (N, 2, 2) episodes cut to the window.
    """
    zero = np.zeros_like(window)
    begins = np.stack([zero, care[:, 0, 1], care[:, 1, 1]], 1)
    ends = np.stack([care[:, 0, 0], np.maximum(care[:, 1, 0], care[:, 0, 1]), window], 1)
    return np.stack([begins, np.maximum(ends, begins)], -1)


def _in_care_at(care: np.ndarray, at: float) -> np.ndarray:
    """(N,) bool: the path is in care ``at`` months after start."""
    return ((care[:, :, 0] <= at) & (at < care[:, :, 1])).any(axis=1)


def aggregate(
    scenario: Scenario,
    people: People,
    inputs: DrawInputs,
    n_draws: int,
    milestone_blocks: tuple[int, ...] = (),
    milestone_once: tuple[int, ...] = (),
    needs: Needs | None = None,
) -> CohortQuarterly:
    """Sum people's window, care, milestone, point-in-time, offset and horizon days into
    (draw, cohort, quarter) arrays.  ``needs`` (or just the milestone lengths) says what beyond
    care and child-days to measure."""
    needs = needs if needs is not None else Needs(tuple(milestone_blocks), tuple(milestone_once))
    n_cohorts, n_quarters = scenario.n_cohorts, scenario.n_quarters
    binner = QuarterBinner(people.draw, people.cohort, n_draws, n_cohorts, n_quarters)
    s = people.start_calendar
    paths = {"treated": people.care_treated, "counterfactual": people.care_counterfactual}

    def care_days(care: np.ndarray, start_at: float = 0.0) -> np.ndarray:
        return binner.overlap(s[:, None] + np.maximum(care[:, :, 0], start_at), s[:, None] + care[:, :, 1])

    child = binner.overlap(s, s + people.window)
    care1, care0 = care_days(paths["treated"]), care_days(paths["counterfactual"])
    completion_time = s + inputs["referrals.months_per_case"][people.draw]
    in_measurement = completion_time < scenario.contract.measurement_end_month
    completions_due = binner.events(completion_time, people.completed & in_measurement) if needs.completions else None

    blocks = {"treated": {}, "counterfactual": {}}
    once = {"treated": {}, "counterfactual": {}}
    points = {"treated": {}, "counterfactual": {}}
    points_in = {"treated": {}, "counterfactual": {}}
    for which, care in paths.items():
        spells = out_of_care_spells(care, people.window)
        for n_days in needs.milestone_blocks:
            block = n_days / DAYS_PER_MONTH
            length = spells[:, :, 1] - spells[:, :, 0]
            whole = np.floor(length / block + 1e-9) * block
            # Whole blocks accrue evenly over the spell's first `whole` months (timing within
            # a quarter is approximate; totals are exact).
            blocks[which][n_days] = binner.overlap(s[:, None] + spells[:, :, 0], s[:, None] + spells[:, :, 0] + whole)
        for n_days in needs.milestone_once:
            reach = n_days / DAYS_PER_MONTH
            first_spell = spells[:, 0, 1] - spells[:, 0, 0]
            once[which][n_days] = binner.events(s + reach, first_spell >= reach - 1e-9)
        for n_days in needs.point_days:
            at = n_days / DAYS_PER_MONTH
            in_care = _in_care_at(care, at)
            points[which][n_days] = binner.events(s + at, (at < people.window) & ~in_care)
            points_in[which][n_days] = binner.events(s + at, (at < people.window) & in_care)
    days_from = {}
    for n_days in needs.offset_days:
        start_at = n_days / DAYS_PER_MONTH
        days_from[n_days] = (binner.overlap(s + start_at, s + people.window),
                             care_days(paths["treated"], start_at), care_days(paths["counterfactual"], start_at))

    horizon = {}
    if needs.horizon:
        n_horizon, n_cohort_horizon = horizon_quarters(scenario)
        to_limit = QuarterBinner(people.draw, people.cohort, n_draws, n_cohorts, n_horizon)
        treated, counterfactual = (
            to_limit.overlap(s[:, None] + care[:, :, 0], s[:, None] + care[:, :, 1])
            for care in (people.care_treated_to_limit, people.care_counterfactual_to_limit))
        # By start cohort, quarters counted from the cohort's own: [c, j] is calendar quarter c + j.
        cohort_quarter = np.arange(n_cohorts)[:, None] + np.arange(n_cohort_horizon)[None, :]
        measured = {"state_days_avoided_to_horizon": counterfactual - treated}
        if needs.horizon_counterfactual:
            measured["counterfactual_state_days_to_horizon"] = counterfactual
        for name, calendar in measured.items():
            own = np.take_along_axis(calendar, np.minimum(cohort_quarter, n_horizon - 1)[None], axis=2)
            horizon[name] = calendar.sum(axis=1)
            horizon[f"{name}_by_cohort"] = np.where((cohort_quarter < n_horizon)[None], own, 0.0)

    cohort_index = people.draw * n_cohorts + people.cohort
    starts = np.bincount(cohort_index, minlength=n_draws * n_cohorts).reshape(n_draws, n_cohorts)
    completed = np.bincount(cohort_index[people.completed], minlength=n_draws * n_cohorts)
    return CohortQuarterly(
        child_days=child,
        care_days_treated=care1,
        care_days_counterfactual=care0,
        completions_due=completions_due,
        milestone_block_days=blocks["treated"],
        milestone_people=once["treated"],
        starts=starts.astype(float),
        completed=completed.reshape(n_draws, n_cohorts).astype(float),
        milestone_block_days_counterfactual=blocks["counterfactual"],
        milestone_people_counterfactual=once["counterfactual"],
        out_of_state_at=points["treated"],
        out_of_state_at_counterfactual=points["counterfactual"],
        in_state_at=points_in["treated"],
        in_state_at_counterfactual=points_in["counterfactual"],
        days_from=days_from,
        **horizon,
    )
