"""The ``recurrent_events`` outcome process: events per person over the tracking window.

Peterborough (E54, E62) paid for fewer reconviction *events* among men released from short
sentences than among a matched comparison group.  Per person ``i`` of a recurrent cohort
(months since their start unless stated; per-draw inputs named by their cohort keys, e.g.
``cohorts.0.events_per_year``):

* **Start and age** as every process (:func:`simsib.model.people.draw_starts_and_ages`);
  the window is ``L = clip(min(contract.tracking_months, 12 · (age_limit_years − age),
  contract.measurement_end_month − τ), 0)`` (no age limit: no age term).
* **Person rate** [judgement, gamma-Poisson heterogeneity]: ``λ_i = μ · G_i / k`` with
  ``G_i ~ Gamma(k, 1)``, ``μ = events_per_year / 12`` a month and ``k = rate_dispersion``, so
  ``E λ_i = μ`` and ``Var λ_i = μ² / k``; counts over a window are negative binomial.
* **Counterfactual events**: a Poisson process of rate ``λ_i`` on ``[0, L)``:
  ``N_i ~ Poisson(λ_i · L)`` events at times ``t_ij = L · U_ij``.
* **Treated events** from the *same* events [``log_rate_ratio``: ``RR = exp(·)``, applying for
  ``effect_duration_months`` D, the whole window if none]: an event at ``t_ij < D`` is kept
  when ``V_ij < RR`` (thinning), one at ``t_ij ≥ D`` always.  That is a Poisson process of rate
  ``RR · λ_i`` on ``[0, D)`` and ``λ_i`` after, coupled to the counterfactual one.  ``RR = 1``
  keeps every event (identical paths); a smaller ``RR`` keeps a subset of what a larger one
  keeps (a stronger effect never adds an event).  With ``RR > 1`` (harm) every counterfactual
  event is kept and ``Poisson((RR − 1) λ_i min(D, L))`` more are added at uniform times in
  ``[0, min(D, L))``, drawn after all other variates of the chunk, so that the layout of the
  stream -- and the counterfactual paths -- never depend on the effect.
* **Comparison group** (``comparison_group_size`` m; E62: a propensity-matched national group):
  m people tracked a full window ``T = contract.tracking_months`` at the rate
  ``μ_c = μ · comparison_rate_ratio`` with the same dispersion.  Their total events are drawn
  directly: the sum of m independent negative binomials of size k is negative binomial of size
  ``m k``: ``Λ ~ Gamma(m k, μ_c T / k)``, ``Z ~ Poisson(Λ)``, from the chunk's ``comparison``
  stream keyed by the cohort's name.  Its person-days are ``m · T``.  Without a size, the
  contract compares with the cohort's own counterfactual events.

Returned (:class:`simsib.model.outcomes.CohortQuarterly`): person-days tracked (``event_days``),
treated and counterfactual events by the quarter they happen in, the comparison group's events
and person-days per draw, starts, and completions (everyone completes
``referrals.months_per_case`` after starting).  Care and child-days are zero.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from simsib.model.binning import QuarterBinner
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import DAYS_PER_MONTH, MONTHS_PER_QUARTER, CohortQuarterly, Needs
from simsib.model.process_common import base_outcomes, place_people
from simsib.model.streams import stream
from simsib.scenario.format import ResolvedCohort, Scenario


@dataclass(frozen=True)
class RecurrentPeople:
    """One recurrent cohort's people of a chunk and their events, both paths.

    Per person (N,): ``draw``, ``start`` (calendar month), ``window`` (months tracked).  Per
    event: its person (``*_owner``, index into the people) and its time in months since that
    person's start (``*_time``); the treated events are a subset of the counterfactual ones,
    plus any extra events of a harmful effect.
    """

    draw: np.ndarray
    start: np.ndarray
    window: np.ndarray
    counterfactual_owner: np.ndarray
    counterfactual_time: np.ndarray
    treated_owner: np.ndarray
    treated_time: np.ndarray

    def events_per_person(self, which: str) -> np.ndarray:
        """(N,) events of each person on the ``"treated"`` or ``"counterfactual"`` path."""
        owner = self.treated_owner if which == "treated" else self.counterfactual_owner
        return np.bincount(owner, minlength=self.draw.size)


def recurrent_people(
    scenario: Scenario, cohort: ResolvedCohort, inputs: DrawInputs, starts: np.ndarray, rng: np.random.Generator
) -> RecurrentPeople:
    """Draw one recurrent cohort's people and both paths of their events (see the module docstring)."""
    table = cohort.table

    def per_draw(name: str) -> np.ndarray:
        return inputs[f"{cohort.key}.{name}"]

    n_draws = starts.shape[0]
    n = int(starts.sum())
    draw, start, window = place_people(scenario, table, starts, rng)

    k = per_draw("rate_dispersion")
    monthly_rate = per_draw("events_per_year") / 12.0
    rate = rng.standard_gamma(k[draw]) * (monthly_rate / k)[draw]  # λ_i per month
    counts = rng.poisson(rate * window)
    owner = np.repeat(np.arange(n), counts)  # the person of each counterfactual event
    time = window[owner] * rng.random(owner.size)  # months since start
    keep_u = rng.random(owner.size)
    ratio = np.exp(per_draw("log_rate_ratio"))
    effect_months = (np.full(n_draws, np.inf) if table.effect_duration_months is None
                     else per_draw("effect_duration_months"))
    kept = (time >= effect_months[draw][owner]) | (keep_u < ratio[draw][owner])

    # Harm (RR > 1): extra treated events, drawn after everything else.
    harmed_months = np.minimum(effect_months[draw], window)
    extra_mean = np.maximum(ratio - 1.0, 0.0)[draw] * rate * harmed_months
    extra_owner = np.empty(0, dtype=np.int64)
    extra_time = np.empty(0)
    if (extra_mean > 0).any():
        extra_owner = np.repeat(np.arange(n), rng.poisson(extra_mean))
        extra_time = harmed_months[extra_owner] * rng.random(extra_owner.size)
    return RecurrentPeople(draw, start, window, owner, time, np.concatenate([owner[kept], extra_owner]),
                           np.concatenate([time[kept], extra_time]))


def simulate_recurrent(
    scenario: Scenario, cohort: ResolvedCohort, inputs: DrawInputs, starts: np.ndarray, rng: np.random.Generator,
    needs: Needs = Needs(), chunk: np.random.SeedSequence | None = None,
) -> CohortQuarterly:
    """Events of one recurrent cohort's people, treated and counterfactual, by draw, cohort and quarter.

    Parameters
    ----------
    starts : (n_draws, n_months) int, the cohort's people starting in each month
    rng : the cohort's ``people`` stream
    chunk : the chunk's seed, for the comparison group's own stream (without it the comparison
        group is drawn from ``rng`` after everything else)
    """
    people = recurrent_people(scenario, cohort, inputs, starts, rng)
    n_draws = starts.shape[0]
    draw, start = people.draw, people.start
    start_cohort = (start // MONTHS_PER_QUARTER).astype(np.int64)
    binner = QuarterBinner(draw, start_cohort, n_draws, scenario.n_cohorts, scenario.n_quarters)

    def by_quarter(owners: np.ndarray, times: np.ndarray) -> np.ndarray:
        return QuarterBinner(draw[owners], start_cohort[owners], n_draws, scenario.n_cohorts,
                             scenario.n_quarters).events(start[owners] + times, np.ones(owners.size, dtype=bool))

    comparison_rng = rng if chunk is None else comparison_stream(chunk, cohort)
    comparison_events, comparison_days = comparison_group(scenario, cohort, inputs, comparison_rng)
    return CohortQuarterly(
        **base_outcomes(scenario, inputs, starts, draw, start, binner),
        event_days=binner.overlap(start, start + people.window),
        events_treated=by_quarter(people.treated_owner, people.treated_time),
        events_counterfactual=by_quarter(people.counterfactual_owner, people.counterfactual_time),
        comparison_events=comparison_events,
        comparison_days=comparison_days,
    )


def comparison_group(
    scenario: Scenario, cohort: ResolvedCohort, inputs: DrawInputs, rng: np.random.Generator | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(events, person-days) of the cohort's comparison group per draw, or (None, None) without one."""
    size = cohort.table.comparison_group_size
    if size is None:
        return None, None
    months = float(scenario.contract.tracking_months)
    k = inputs[f"{cohort.key}.rate_dispersion"]
    mean = inputs[f"{cohort.key}.events_per_year"] / 12.0 * inputs[f"{cohort.key}.comparison_rate_ratio"] * months
    # Σ of m negative binomials of size k and mean `mean` each: size m·k, mean m·mean.
    intensity = rng.standard_gamma(size * k) * (mean / k)
    events = rng.poisson(intensity).astype(float)
    return events, np.full(len(k), size * months * DAYS_PER_MONTH)


def comparison_stream(chunk: np.random.SeedSequence, cohort: ResolvedCohort) -> np.random.Generator:
    """The chunk's ``comparison`` stream for one cohort, keyed by its name."""
    return stream(chunk, "comparison", zlib.crc32(cohort.name.encode()))
