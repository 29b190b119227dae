"""Outcome processes: from the people of a chunk to treated and counterfactual aggregates.

This is the plug-in point for a new kind of outcome.  A process is a function

    simulate(scenario, inputs, starts, rng, needs) -> CohortQuarterly

that receives the scenario, the chunk's per-draw inputs (:mod:`simsib.model.inputs`), the young
people starting each month ``starts`` (n_draws, n_months) from :mod:`simsib.model.referrals`,
the chunk's ``people`` stream, and what the contract's mechanisms need measured (``needs``); it
draws its own person-level randomness (start with :func:`simsib.model.people.draw_person_variates`
so every process shares the same start times, ages and completions), simulates the treated and
the counterfactual path of every person *from the same random numbers*, and returns their sums
per draw, start cohort and quarter (:class:`simsib.model.outcomes.CohortQuarterly`).  Windows,
cohorts and quarters follow the conventions of :mod:`simsib.model.care_paths`.

Register it in :data:`PROCESSES`; ``tests/test_kernels.py`` and ``tests/test_care_paths.py``
show the checks every process must pass (effect 1 gives identical paths; a stronger effect never
worsens a path; the compiled path equals its numpy reference).

Today's process is ``care`` (state occupancy: time in care after an edge-of-care service).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from simsib.model.care_paths import weibull_scale
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly
from simsib.model.people import draw_person_variates
from simsib.scenario.format import Scenario


def simulate_care(
    scenario: Scenario,
    inputs: DrawInputs,
    starts: np.ndarray,
    rng: np.random.Generator,
    milestone_blocks: tuple[int, ...] = (),
    milestone_once: tuple[int, ...] = (),
) -> CohortQuarterly:
    """Care (state occupancy): ``aggregate(simulate_people(...))`` of :mod:`simsib.model.care_paths`,
    in one compiled pass.

    See :mod:`simsib.model.care_kernel`; ``tests/test_kernels.py`` checks the two agree.
    """
    from simsib.model import care_kernel as kernels

    n_draws = starts.shape[0]
    v = draw_person_variates(scenario, starts, rng)
    out = kernels.empty_outputs(n_draws, scenario.n_cohorts, scenario.n_quarters,
                                len(milestone_blocks), len(milestone_once))
    shape = inputs["population.weibull_shape"]
    scale = weibull_scale(inputs["population.p30_entry"], shape)
    # Counterfactual entry times as in simulate_people, vectorised: numpy's SIMD power takes
    # about 3 ns a person, a scalar pow inside the kernel about 20 ns.
    people_per_draw = starts.sum(axis=1)
    entry_counterfactual = np.repeat(scale, people_per_draw) * v.exp_draw ** np.repeat(1.0 / shape, people_per_draw)
    kernels.accumulate_paths(
        starts, v.start_u, v.age, v.completion_u, entry_counterfactual, v.exp_draw, v.short1, v.z1,
        v.reentry_u, v.gap_exp, v.short2, v.z2,
        inputs["effect.completion_rate"], scale, shape, inputs["effect.duration_months"],
        *kernels.per_draw_hazards(scale, shape, inputs["effect.log_hazard_ratio"],
                                  inputs["effect.non_completer_effect_share"], inputs["effect.duration_months"]),
        inputs["care.short_stay_share"], inputs["care.short_stay_median_months"], inputs["care.short_stay_sigma"],
        inputs["care.long_stay_median_months"], inputs["care.long_stay_sigma"],
        inputs["care.reentry_probability"], inputs["care.reentry_gap_mean_months"],
        inputs["referrals.months_per_case"],
        float(scenario.contract.tracking_months), float(scenario.contract.measurement_end_month),
        np.asarray(milestone_blocks, dtype=np.float64), np.asarray(milestone_once, dtype=np.float64),
        out["days"], out["day_totals"], out["counts"], out["starts"], out["completions"],
    )
    days, totals, counts = out["days"], out["day_totals"], out["counts"]
    return CohortQuarterly(
        child_days=days[kernels.CHILD],
        care_days_treated=days[kernels.CARE_TREATED],
        care_days_counterfactual=days[kernels.CARE_COUNTERFACTUAL],
        completions_due=counts[kernels.COMPLETIONS_DUE],
        milestone_block_days={n: days[kernels.FIRST_BLOCK + j] for j, n in enumerate(milestone_blocks)},
        milestone_people={n: counts[kernels.FIRST_ONCE + j] for j, n in enumerate(milestone_once)},
        starts=out["starts"],
        completed=out["completions"],
        days_by_cohort={"child_days": totals[kernels.CHILD], "care_days_treated": totals[kernels.CARE_TREATED],
                        "care_days_counterfactual": totals[kernels.CARE_COUNTERFACTUAL]},
    )




Process = Callable[..., CohortQuarterly]

# Outcome process by name.  Append new processes; see the module docstring for the contract.
PROCESSES: dict[str, Process] = {"care": simulate_care}


def simulate_aggregates(
    scenario: Scenario,
    inputs: DrawInputs,
    starts: np.ndarray,
    rng: np.random.Generator,
    milestone_blocks: tuple[int, ...] = (),
    milestone_once: tuple[int, ...] = (),
) -> CohortQuarterly:
    """The scenario's outcome process run on a chunk's starts (today: always ``care``)."""
    return PROCESSES["care"](scenario, inputs, starts, rng, milestone_blocks, milestone_once)
