"""The ``care`` outcome process (state occupancy): both care paths of a care cohort, compiled.

``aggregate(simulate_people(...))`` of :mod:`simsib.model.care_paths` and
:mod:`simsib.model.care_aggregate`, in one compiled pass (:mod:`simsib.model.care_kernel`);
``tests/test_kernels.py`` checks the two agree.  The equations, with their evidence ids, are in
:mod:`simsib.model.care_paths`.
"""

from __future__ import annotations

import numpy as np

from simsib.model.care_paths import weibull_scale
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly, Needs, horizon_quarters
from simsib.model.people import draw_person_variates
from simsib.scenario.format import ResolvedCohort, Scenario


def simulate_care(
    scenario: Scenario, cohort: ResolvedCohort, inputs: DrawInputs, starts: np.ndarray, rng: np.random.Generator,
    needs: Needs = Needs(),
) -> CohortQuarterly:
    """Care paths of one care cohort's people, summed by draw, start cohort and quarter.

    Parameters
    ----------
    starts : (n_draws, n_months) int, the cohort's people starting in each month
    rng : the cohort's ``people`` stream
    needs : what the mechanisms need measured beyond care and child-days
    """
    from simsib.model import care_kernel as kernels

    def per(section: str, name: str) -> np.ndarray:
        return inputs[cohort.input_key(section, name)]

    population = cohort.sections["population"]
    in_care = cohort.starts_in_care
    n_draws = starts.shape[0]
    v = draw_person_variates(scenario, starts, rng, population.age_at_start)
    n_horizon = horizon_quarters(scenario) if needs.horizon else (0, 0)
    out = kernels.empty_outputs(n_draws, scenario.n_cohorts, scenario.n_quarters, len(needs.milestone_blocks),
                                len(needs.milestone_once), len(needs.point_days), len(needs.offset_days), n_horizon,
                                needs.completions, needs.horizon and needs.horizon_counterfactual)
    shape = per("population", "weibull_shape")
    scale = weibull_scale(per("population", "p30_exit" if in_care else "p30_entry"), shape)
    # Counterfactual entry times as in simulate_people, scale * E^(1/k): the power vectorised
    # (numpy's SIMD power takes about 3 ns a person, a scalar pow inside the kernel about 20 ns),
    # the product by the scale in the kernel (the same product, without an (N,) array of scales).
    entry_root = v.exp_draw ** np.repeat(1.0 / shape, starts.sum(axis=1))
    log_hr = per("effect", "log_hazard_ratio")
    kernels.accumulate_paths(
        starts, v.start_u, v.age, v.completion_u, entry_root, v.exp_draw, v.short1, v.z1,
        v.reentry_u, v.gap_exp, v.short2, v.z2,
        per("effect", "completion_rate"), scale, shape, per("effect", "duration_months"),
        # Starting in care, the service multiplies the hazard of *leaving* by 1 / HR.
        *kernels.per_draw_hazards(scale, shape, -log_hr if in_care else log_hr,
                                  per("effect", "non_completer_effect_share"), per("effect", "duration_months")),
        per("care", "short_stay_share"), per("care", "short_stay_median_months"), per("care", "short_stay_sigma"),
        per("care", "long_stay_median_months"), per("care", "long_stay_sigma"),
        per("care", "reentry_probability"), per("care", "reentry_gap_mean_months"),
        inputs["referrals.months_per_case"],
        float(scenario.contract.tracking_months), float(scenario.contract.measurement_end_month),
        float(population.age_limit_years), in_care,
        *(np.asarray(values, dtype=np.float64) for values in
          (needs.milestone_blocks, needs.milestone_once, needs.point_days, needs.offset_days)),
        out["days"], out["day_totals"], out["days_by_quarter"], out["counts"], out["horizon_days"],
        out["horizon_by_quarter"], out["starts"], out["completions"],
    )
    return _unstack(out, needs)


def _unstack(out: dict[str, np.ndarray], needs: Needs) -> CohortQuarterly:
    """The kernel's stacked rows (see :data:`simsib.model.care_kernel.CHILD`) as named fields."""
    from simsib.model import care_kernel as kernels

    days, totals, counts = out["days"], out["day_totals"], out["counts"]
    n_blocks, n_once, n_points = len(needs.milestone_blocks), len(needs.milestone_once), len(needs.point_days)
    first_offset = kernels.FIRST_BLOCK + 2 * n_blocks
    first_once = kernels.FIRST_ONCE if needs.completions else 0  # no row for completions otherwise
    first_point = first_once + 2 * n_once

    def rows(first: int, keys: tuple[int, ...], source: np.ndarray) -> dict[int, np.ndarray]:
        return {n: source[first + j] for j, n in enumerate(keys)}

    horizon = needs.horizon
    counterfactual = horizon and needs.horizon_counterfactual
    by_quarter = out["days_by_quarter"]
    return CohortQuarterly(
        child_days=days[kernels.CHILD],
        care_days_treated=days[kernels.CARE_TREATED],
        care_days_counterfactual=days[kernels.CARE_COUNTERFACTUAL],
        completions_due=counts[kernels.COMPLETIONS_DUE] if needs.completions else None,
        milestone_block_days=rows(kernels.FIRST_BLOCK, needs.milestone_blocks, days),
        milestone_people=rows(first_once, needs.milestone_once, counts),
        starts=out["starts"],
        completed=out["completions"],
        days_by_cohort={"child_days": totals[kernels.CHILD], "care_days_treated": totals[kernels.CARE_TREATED],
                        "care_days_counterfactual": totals[kernels.CARE_COUNTERFACTUAL]},
        days_by_quarter={"child_days": by_quarter[kernels.CHILD], "care_days_treated": by_quarter[kernels.CARE_TREATED],
                         "care_days_counterfactual": by_quarter[kernels.CARE_COUNTERFACTUAL]},
        milestone_block_days_counterfactual=rows(kernels.FIRST_BLOCK + n_blocks, needs.milestone_blocks, days),
        milestone_people_counterfactual=rows(first_once + n_once, needs.milestone_once, counts),
        out_of_state_at=rows(first_point, needs.point_days, counts),
        out_of_state_at_counterfactual=rows(first_point + n_points, needs.point_days, counts),
        in_state_at=rows(first_point + 2 * n_points, needs.point_days, counts),
        in_state_at_counterfactual=rows(first_point + 3 * n_points, needs.point_days, counts),
        days_from={n: (days[first_offset + 3 * j], days[first_offset + 3 * j + 1], days[first_offset + 3 * j + 2])
                   for j, n in enumerate(needs.offset_days)},
        state_days_avoided_to_horizon=out["horizon_by_quarter"][0] if horizon else None,
        state_days_avoided_to_horizon_by_cohort=out["horizon_days"][0] if horizon else None,
        counterfactual_state_days_to_horizon=out["horizon_by_quarter"][1] if counterfactual else None,
        counterfactual_state_days_to_horizon_by_cohort=out["horizon_days"][1] if counterfactual else None,
    )
