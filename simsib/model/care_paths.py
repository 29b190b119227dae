"""Young people and their care paths, with and without MST, aggregated by cohort and quarter.

Per young person ``i`` (flat arrays over all people of a chunk, with a draw index ``d(i)``;
times in months since that person's MST start unless stated otherwise).  Parameters are the
draw's inputs, named by scenario key; evidence ids (shared/EVIDENCE.md) in brackets.

* **Start**: ``τ = m + U`` in calendar months for a start in month ``m``
  (:mod:`simsib.model.referrals`); quarterly start cohort ``c = floor(τ / 3)``.
* **Age** [judgement: ``population.age_at_start``, ages 11-17 as MST serves (E20, E30)]:
  ``age = whole years + U``; ``to18 = 12 · (A − age)`` months to the age limit
  ``A = population.age_limit_years`` (the 18th birthday for children), when care and
  child-days end.
* **Completion** [E31: ``effect.completion_rate`` ~ Beta(17, 3); E5: 335 of 388]:
  ``completed = U < completion_rate``.  Non-completers get a share of the effect on the log
  scale [judgement: ``effect.non_completer_effect_share``]:
  ``log HR_i = log HR · (1 if completed else non_completer_effect_share)``, with ``log HR``
  drawn once per draw [E26: ``effect.log_hazard_ratio``; E20-E25].
* **Counterfactual entry** [E40, E47: ``population.p30_entry``; E41:
  ``population.weibull_shape`` k ~ Uniform(0.7, 1.0)]: Weibull with cumulative hazard
  ``H0(t) = (t/λ)^k``, ``λ = 30 / (−ln(1 − p30))^(1/k)`` so that ``1 − exp(−H0(30)) = p30``.
  With ``E ~ Exp(1)``: ``T0 = H0⁻¹(E) = λ · E^(1/k)``.
* **Treated entry** from the *same* ``E`` [E27: ``effect.duration_months`` D ~ LogNormal(median
  24, σ 0.6)]: the hazard is ``HR_i · h0(t)`` for ``t ≤ D`` and ``h0(t)`` after, so
  ``H1(t) = HR_i · H0(t)`` for ``t ≤ D`` and ``H1(t) = H0(t) + (HR_i − 1) · H0(D)`` after, and
  ``T1 = H1⁻¹(E)``:  ``T1 = H0⁻¹(E / HR_i)`` if ``E ≤ HR_i · H0(D)``, else
  ``T1 = H0⁻¹(E + (1 − HR_i) · H0(D))``.  Hence ``S1(t) = S0(t)^HR_i`` while the effect lasts
  and ``S1(t) = S0(t) · exp(−(HR_i − 1) · H0(D))`` after it.
* **Episode length** [E42, E43; E15]: ``D_j = median · exp(σ · Z_j)``, ``Z_j ~ N(0, 1)``, with
  ``(median, σ) = (care.short_stay_median_months, care.short_stay_sigma)`` if
  ``U_j < care.short_stay_share`` and the ``long_stay`` pair otherwise.
* **Episodes**: the first is ``[T, min(T + D_1, to18))``.  If it ends before 18, the young
  person re-enters with probability ``care.reentry_probability`` [E44] after a gap
  ``G ~ Exponential(mean care.reentry_gap_mean_months)`` [E44], for ``D_2``:
  ``[T + D_1 + G, min(T + D_1 + G + D_2, to18))``.  At most one re-entry; entries at or after
  18 do not happen.
* **Coupling**: the treated path is the counterfactual path with ``T0`` replaced by ``T1``;
  both share every other random number (completion, durations, re-entry, gap).  ``T1`` is
  non-increasing in ``HR_i`` and care inside ``[0, L]`` is non-increasing in the entry time
  (the path moves later as a whole and the re-entry can fall past 18), so a smaller hazard
  ratio never adds care days; ``HR_i = 1`` (or ``D = 0``) gives ``T1 = T0`` exactly.
* **Starting in care** (a reunification cohort, ``starts_in_care``; Norfolk and Suffolk, E60,
  E61): the same construction with the roles of the states swapped.  The Weibull time
  ``T0 = λ E^(1/k)`` is the time of *leaving* care without the service, with λ set from
  ``population.p30_exit``; the service multiplies the hazard of leaving by ``1 / HR_i``, so
  ``T1 = H1⁻¹(E)`` with ``HR_i`` replaced by ``1 / HR_i`` (an effect that helps, HR < 1,
  brings the exit forward).  The first episode is ``[0, T)``; after it the person re-enters
  as above.  Care inside ``[0, L)`` is non-decreasing in ``T`` (an earlier exit moves the
  re-entry earlier but never lengthens it inside the window, which ends by the age limit), so
  a stronger effect never adds care days here either.
* **Tracking window** [E6, E7: 30 months from start; E4: measurement end]:
  ``L = clip(min(contract.tracking_months, to18, contract.measurement_end_month − τ), 0)``.
  Child-days are ``L`` and care days are ``Σ_j |episode_j ∩ [0, L)|``, converted at
  ``365.25 / 12`` days a month.
* **Completions** are counted in the quarter of ``τ + referrals.months_per_case`` when that is
  before the measurement end.

* **To the age limit** (for the council's accounting beyond the window): the same episodes
  cut at ``to18`` only, neither at the window nor at the measurement end.

Not modelled: care before the MST start (of a cohort starting outside care), a second
re-entry, dependence of durations on age.

Aggregation by cohort and quarter is :mod:`simsib.model.care_aggregate`'s job.
"""


from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.model.people import draw_person_variates, person_cells
from simsib.scenario.format import ResolvedCohort, Scenario, resolve_cohorts

P30_HORIZON_MONTHS = 30.0


@dataclass(frozen=True)
class People:
    """Flat per-person arrays for one chunk (N people across all its draws).

    Times are months since each person's start unless named ``*_calendar``.
    ``care_*`` arrays have shape (N, 2, 2): episode × (begin, end), already cut to the window;
    an absent episode is the empty interval ``[L, L]``.
    """

    draw: np.ndarray  # (N,) int64
    start_calendar: np.ndarray  # (N,) months from contract start
    cohort: np.ndarray  # (N,) int64 quarterly start cohort
    completed: np.ndarray  # (N,) bool
    window: np.ndarray  # (N,) L, months tracked
    entry_counterfactual: np.ndarray  # (N,) T0, may be inf
    entry_treated: np.ndarray  # (N,) T1 >= T0 when HR <= 1
    care_counterfactual: np.ndarray  # (N, 2, 2)
    care_treated: np.ndarray  # (N, 2, 2)
    to18: np.ndarray  # (N,) months to the age limit (the 18th birthday for children)
    # The same episodes cut at the age limit only (not at the window): (N, 2, 2).
    care_counterfactual_to_limit: np.ndarray | None = None
    care_treated_to_limit: np.ndarray | None = None

    def care_months(self, which: str) -> np.ndarray:
        """Care months inside the window per person, (N,)."""
        paths = {"treated": self.care_treated, "counterfactual": self.care_counterfactual}
        if which not in paths:
            raise ValueError(f"which must be 'treated' or 'counterfactual', not {which!r}")
        care = paths[which]
        return (care[:, :, 1] - care[:, :, 0]).sum(axis=1)


def weibull_scale(p30: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """λ such that a Weibull(shape, λ) has P(T ≤ 30 months) = p30 (λ = inf when p30 = 0)."""
    with np.errstate(divide="ignore"):
        rate = -np.log1p(-np.clip(p30, 0.0, 1.0 - 1e-15))
        return P30_HORIZON_MONTHS / rate ** (1.0 / shape)


def treated_entry(
    exp_draw: np.ndarray, scale: np.ndarray, shape: np.ndarray, hazard_ratio: np.ndarray, effect_months: np.ndarray
) -> np.ndarray:
    """Entry time under a proportional hazard ``hazard_ratio`` for the first ``effect_months``.

    All arguments broadcast; ``exp_draw`` is the person's Exp(1) variate shared with the
    counterfactual path.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h_eff = (effect_months / scale) ** shape  # H0 at the end of the effect
        inside = exp_draw <= hazard_ratio * h_eff
        cum_hazard = np.where(inside, exp_draw / hazard_ratio, exp_draw + (1.0 - hazard_ratio) * h_eff)
        return scale * cum_hazard ** (1.0 / shape)


def _episodes(entry, d1, d2, reenters, gap, to18, window) -> np.ndarray:
    """Two care episodes per person cut at 18 and to the window, shape (N, 2, 2)."""
    leave1 = np.minimum(entry + d1, to18)
    second = reenters & (entry + d1 < to18)
    entry2 = np.where(second, entry + d1 + gap, np.inf)
    leave2 = np.minimum(entry2 + d2, to18)
    entry = np.where(entry < to18, entry, np.inf)
    out = np.stack([np.stack([entry, leave1], -1), np.stack([entry2, leave2], -1)], 1)
    out = np.minimum(out, window[:, None, None])
    out[:, :, 1] = np.maximum(out[:, :, 1], out[:, :, 0])
    return out


def simulate_people(
    scenario: Scenario, inputs: DrawInputs, starts: np.ndarray, rng: np.random.Generator,
    cohort: ResolvedCohort | None = None,
) -> People:
    """Draw every young person of a chunk (of one cohort) and both of their care paths.

    Parameters
    ----------
    starts : ndarray of int, shape (n_draws, service_end_month)
        Young people starting in each month (from :func:`simsib.model.referrals.monthly_starts`).
    rng : Generator
        The cohort's ``people`` stream.  Variates are drawn in a fixed order, one array each.
    cohort : the care cohort (default: the scenario's first, the implicit one without [[cohorts]])
    """
    cohort = cohort if cohort is not None else resolve_cohorts(scenario)[0]
    population = cohort.sections["population"]
    v = draw_person_variates(scenario, starts, rng, population.age_at_start)
    draw, month = person_cells(starts)
    start = month + v.start_u
    age = v.age

    def per(section: str, name: str) -> np.ndarray:
        return inputs[cohort.input_key(section, name)][draw]

    completed = v.completion_u < per("effect", "completion_rate")
    exp_draw, short1, z1, reentry_u, gap_exp, short2, z2 = (
        v.exp_draw, v.short1, v.z1, v.reentry_u, v.gap_exp, v.short2, v.z2)

    to18 = (float(population.age_limit_years) - age) * 12.0
    window = np.minimum(
        np.minimum(float(scenario.contract.tracking_months), to18),
        scenario.contract.measurement_end_month - start,
    ).clip(min=0.0)

    in_care = cohort.starts_in_care
    shape = per("population", "weibull_shape")
    scale = weibull_scale(per("population", "p30_exit" if in_care else "p30_entry"), shape)
    entry0 = scale * exp_draw ** (1.0 / shape)
    log_hr = per("effect", "log_hazard_ratio") * np.where(completed, 1.0, per("effect", "non_completer_effect_share"))
    # Starting in care, the service multiplies the hazard of leaving by 1 / HR.
    entry1 = treated_entry(exp_draw, scale, shape, np.exp(-log_hr if in_care else log_hr),
                           per("effect", "duration_months"))

    def duration(u: np.ndarray, z: np.ndarray) -> np.ndarray:
        short = u < per("care", "short_stay_share")
        median = np.where(short, per("care", "short_stay_median_months"), per("care", "long_stay_median_months"))
        sigma = np.where(short, per("care", "short_stay_sigma"), per("care", "long_stay_sigma"))
        return median * np.exp(sigma * z)

    d1, d2 = duration(short1, z1), duration(short2, z2)
    reenters = reentry_u < per("care", "reentry_probability")
    gap = gap_exp * per("care", "reentry_gap_mean_months")

    def paths(entry: np.ndarray, cut: np.ndarray) -> np.ndarray:
        if in_care:  # in care from the start until the exit
            return _episodes(np.zeros_like(entry), entry, d2, reenters, gap, to18, cut)
        return _episodes(entry, d1, d2, reenters, gap, to18, cut)

    return People(
        draw=draw,
        start_calendar=start,
        cohort=(start // MONTHS_PER_QUARTER).astype(np.int64),
        completed=completed,
        window=window,
        entry_counterfactual=entry0,
        entry_treated=entry1,
        care_counterfactual=paths(entry0, window),
        care_treated=paths(entry1, window),
        to18=to18,
        care_counterfactual_to_limit=paths(entry0, to18),
        care_treated_to_limit=paths(entry1, to18),
    )
