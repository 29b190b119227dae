"""The ``attainment`` outcome process: milestones reached at a random time, or not.

Care-leaver and employment contracts (E67) pay per milestone from a rate card: a qualification,
a job start, a job sustained 13 or 26 weeks.  Per person ``i`` of an attainment cohort and each
milestone ``j`` of its ``outcomes`` list (months since start; per-draw inputs named by the
cohort's keys, e.g. ``cohorts.2.outcomes.0.probability``):

* **Start, age and window** as every process: ``L = clip(min(contract.tracking_months,
  12 · (age_limit_years − age), contract.measurement_end_month − τ), 0)``.
* **A milestone of its own** [judgement per scenario]: without the service it is reached at
  ``T0 = λ E^(1/k)``, a Weibull time from the person's ``E ~ Exp(1)``, with ``k =
  weibull_shape`` (1 if none) and λ set so that ``P(T0 ≤ within_months) = probability``
  (:func:`simsib.model.care_paths.weibull_scale`).  With the service the hazard is ``HR · h0``
  for ``effect_duration_months`` D (the whole window if none) and ``h0`` after, ``HR =
  exp(log_hazard_ratio)``; from the *same* ``E``: ``T1 = H1⁻¹(E)``
  (:func:`simsib.model.care_paths.treated_entry`).  ``HR = 1`` gives ``T1 = T0``; a larger ``HR``
  an earlier ``T1``, so a stronger effect never loses a milestone or delays one.  The effect acts
  on timing and so on the probability of reaching the milestone within the window.
* **A milestone that follows another** (``after``, e.g. a job sustained 26 weeks after a job
  start): reached ``delay_months`` after the earlier one, if that one is reached and a uniform
  ``W_ij < probability`` (shared by both paths).
* A milestone counts when reached inside the window (``T < L``), in the quarter of ``τ + T``.

Returned (:class:`simsib.model.outcomes.CohortQuarterly`): people reaching each milestone, both
paths, by quarter (``attained``, ``attained_counterfactual``); per person, the calendar month
each milestone is reached (inf if not), shape (n_draws, max_people), for rate cards' per-person
caps (``person_attained``, ``person_attained_counterfactual``, ``person_cohort``); starts and
completions (everyone completes ``referrals.months_per_case`` after starting).  Care and
child-days are zero.
"""

from __future__ import annotations

import numpy as np

from simsib.model.binning import QuarterBinner
from simsib.model.care_paths import treated_entry, weibull_scale
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import MONTHS_PER_QUARTER, CohortQuarterly, Needs
from simsib.model.process_common import base_outcomes, place_people
from simsib.scenario.format import ResolvedCohort, Scenario


def milestone_times(
    cohort: ResolvedCohort, inputs: DrawInputs, draw: np.ndarray, rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per milestone, (treated, counterfactual) months from start to reaching it, (N,) each; inf: never.

    One variate array per milestone, in list order: ``E ~ Exp(1)`` for a milestone of its own,
    ``W ~ U(0, 1)`` for one that follows another.
    """
    n = draw.size
    times: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for j, outcome in enumerate(cohort.table.outcomes):
        key = f"{cohort.key}.outcomes.{j}"
        probability = inputs[f"{key}.probability"][draw]
        if outcome.after is None:
            exp_draw = rng.standard_exponential(n)
            shape = 1.0 if outcome.weibull_shape is None else inputs[f"{key}.weibull_shape"][draw]
            scale = weibull_scale(probability, shape) * outcome.within_months / 30.0
            counterfactual = scale * exp_draw ** (1.0 / shape)
            ratio = 1.0 if outcome.log_hazard_ratio is None else np.exp(inputs[f"{key}.log_hazard_ratio"][draw])
            effect = np.inf if outcome.effect_duration_months is None else inputs[f"{key}.effect_duration_months"][draw]
            treated = np.where(ratio == 1.0, counterfactual,
                               treated_entry(exp_draw, scale, shape, ratio, effect))
        else:
            follows = rng.random(n) < probability
            delay = inputs[f"{key}.delay_months"][draw]
            earlier_treated, earlier_counterfactual = times[outcome.after]
            treated = np.where(follows, earlier_treated + delay, np.inf)
            counterfactual = np.where(follows, earlier_counterfactual + delay, np.inf)
        times[outcome.name] = (treated, counterfactual)
    return times


def simulate_attainment(
    scenario: Scenario, cohort: ResolvedCohort, inputs: DrawInputs, starts: np.ndarray, rng: np.random.Generator,
    needs: Needs = Needs(),
) -> CohortQuarterly:
    """Milestones of one attainment cohort's people, treated and counterfactual, by draw, cohort and quarter.

    Parameters
    ----------
    starts : (n_draws, n_months) int, the cohort's people starting in each month
    rng : the cohort's ``people`` stream
    """
    table = cohort.table
    n_draws = starts.shape[0]
    n = int(starts.sum())
    draw, start, window = place_people(scenario, table, starts, rng)
    start_cohort = (start // MONTHS_PER_QUARTER).astype(np.int64)
    binner = QuarterBinner(draw, start_cohort, n_draws, scenario.n_cohorts, scenario.n_quarters)

    # Per-person records: person p of draw d sits in column p - (first person of d).
    per_draw = starts.sum(axis=1)
    column = np.arange(n) - np.repeat(np.cumsum(per_draw) - per_draw, per_draw)
    width = int(per_draw.max()) if n else 0
    person_cohort = np.full((n_draws, width), -1, dtype=np.int64)
    person_cohort[draw, column] = start_cohort

    attained, attained_counterfactual, person, person_counterfactual = {}, {}, {}, {}
    for name, (treated, counterfactual) in milestone_times(cohort, inputs, draw, rng).items():
        for months, counts, records in ((treated, attained, person),
                                        (counterfactual, attained_counterfactual, person_counterfactual)):
            reached = months < window
            counts[name] = binner.events(start + months, reached)
            record = np.full((n_draws, width), np.inf)
            record[draw, column] = np.where(reached, start + months, np.inf)
            records[name] = record
    return CohortQuarterly(
        **base_outcomes(scenario, inputs, starts, draw, start, binner),
        attained=attained,
        attained_counterfactual=attained_counterfactual,
        person_attained=person,
        person_attained_counterfactual=person_counterfactual,
        person_cohort=person_cohort,
    )
