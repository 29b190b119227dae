"""Young people and their care paths, with and without MST, aggregated by cohort and quarter.

Per young person ``i`` (flat arrays over all people of a chunk, with a draw index ``d(i)``;
times in months since that person's MST start unless stated otherwise).  Parameters are the
draw's inputs, named by scenario key; evidence ids (shared/EVIDENCE.md) in brackets.

* **Start**: ``τ = m + U`` in calendar months for a start in month ``m``
  (:mod:`simsib.model.referrals`); quarterly start cohort ``c = floor(τ / 3)``.
* **Age** [judgement: ``population.age_at_start``, ages 11-17 as MST serves (E20, E30)]:
  ``age = whole years + U``; ``to18 = 12 · (18 − age)`` months to the 18th birthday, when care
  and child-days end.
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
* **Tracking window** [E6, E7: 30 months from start; E4: measurement end]:
  ``L = clip(min(contract.tracking_months, to18, contract.measurement_end_month − τ), 0)``.
  Child-days are ``L`` and care days are ``Σ_j |episode_j ∩ [0, L)|``, converted at
  ``365.25 / 12`` days a month.
* **Completions** are counted in the quarter of ``τ + referrals.months_per_case`` when that is
  before the measurement end.

Not modelled: care before the MST start, a second re-entry, dependence of durations on age.

Aggregation never builds a people × days array.  An interval ``[a, b)`` (calendar months,
clipped to the horizon) overlaps quarter ``q = [3q, 3q + 3)`` by
``P_q + 3 · Σ_{q' ≤ q} S_q'``, where each endpoint ``t`` adds ``±((⌊t/3⌋ + 1) · 3 − t)`` to
``P`` at its own quarter and ``±1`` to the slope ``S`` from the next quarter on (``+`` for
``a``, ``−`` for ``b``).  Both are accumulated per (draw, cohort) row with ``np.bincount`` and
summed with one cumulative sum, so memory grows with draws × cohorts × quarters.
"""


from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import DAYS_PER_MONTH, MONTHS_PER_QUARTER, CohortQuarterly
from simsib.model.people import draw_person_variates, person_cells
from simsib.scenario.format import Scenario

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
    to18: np.ndarray  # (N,) months to 18th birthday

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
    scenario: Scenario, inputs: DrawInputs, starts: np.ndarray, rng: np.random.Generator
) -> People:
    """Draw every young person of a chunk and both of their care paths.

    Parameters
    ----------
    starts : ndarray of int, shape (n_draws, service_end_month)
        Young people starting in each month (from :func:`simsib.model.referrals.monthly_starts`).
    rng : Generator
        The chunk's ``people`` stream.  Variates are drawn in a fixed order, one array each.
    """
    v = draw_person_variates(scenario, starts, rng)
    draw, month = person_cells(starts)
    start = month + v.start_u
    age = v.age
    completed = v.completion_u < inputs["effect.completion_rate"][draw]
    exp_draw, short1, z1, reentry_u, gap_exp, short2, z2 = (
        v.exp_draw, v.short1, v.z1, v.reentry_u, v.gap_exp, v.short2, v.z2)

    def per(key: str) -> np.ndarray:
        return inputs[key][draw]

    to18 = (18.0 - age) * 12.0
    window = np.minimum(
        np.minimum(float(scenario.contract.tracking_months), to18),
        scenario.contract.measurement_end_month - start,
    ).clip(min=0.0)

    shape = per("population.weibull_shape")
    scale = weibull_scale(per("population.p30_entry"), shape)
    entry0 = scale * exp_draw ** (1.0 / shape)
    log_hr = per("effect.log_hazard_ratio") * np.where(completed, 1.0, per("effect.non_completer_effect_share"))
    entry1 = treated_entry(exp_draw, scale, shape, np.exp(log_hr), per("effect.duration_months"))

    def duration(u: np.ndarray, z: np.ndarray) -> np.ndarray:
        short = u < per("care.short_stay_share")
        median = np.where(short, per("care.short_stay_median_months"), per("care.long_stay_median_months"))
        sigma = np.where(short, per("care.short_stay_sigma"), per("care.long_stay_sigma"))
        return median * np.exp(sigma * z)

    d1, d2 = duration(short1, z1), duration(short2, z2)
    reenters = reentry_u < per("care.reentry_probability")
    gap = gap_exp * per("care.reentry_gap_mean_months")
    care0 = _episodes(entry0, d1, d2, reenters, gap, to18, window)
    care1 = _episodes(entry1, d1, d2, reenters, gap, to18, window)
    return People(
        draw=draw,
        start_calendar=start,
        cohort=(start // MONTHS_PER_QUARTER).astype(np.int64),
        completed=completed,
        window=window,
        entry_counterfactual=entry0,
        entry_treated=entry1,
        care_counterfactual=care0,
        care_treated=care1,
        to18=to18,
    )


class _QuarterBinner:
    """Accumulates interval lengths per (draw, cohort, quarter) with bincount."""

    def __init__(self, draw: np.ndarray, cohort: np.ndarray, n_draws: int, n_cohorts: int, n_quarters: int):
        self.shape = (n_draws, n_cohorts, n_quarters)
        # Two spare quarters: an interval ending exactly at the horizon puts its slope change
        # one past the end.
        self.width = n_quarters + 2
        self.row = (draw * n_cohorts + cohort) * self.width
        self.n_bins = n_draws * n_cohorts * self.width
        self.horizon = n_quarters * MONTHS_PER_QUARTER

    def _endpoint_terms(self, times: np.ndarray):
        t = np.clip(times, 0.0, self.horizon)
        q = (t // MONTHS_PER_QUARTER).astype(np.int64)
        return q, (q + 1) * MONTHS_PER_QUARTER - t

    def overlap(self, begin: np.ndarray, end: np.ndarray, weight: float | np.ndarray = 1.0) -> np.ndarray:
        """Σ weight × |[begin, end) ∩ quarter| in days; begin/end are calendar months.

        ``begin``/``end`` may have trailing dimensions (e.g. episodes); they share the row.
        """
        # Intervals per person (1, or e.g. 2 episodes); a chunk may have no people at all.
        extra = begin.size // self.row.size if self.row.size else 1
        row = np.repeat(self.row, extra) if extra > 1 else self.row
        w = np.broadcast_to(np.asarray(weight, dtype=float), (self.row.size,))
        w = np.repeat(w, extra) if extra > 1 else w
        qa, pa = self._endpoint_terms(begin.ravel())
        qb, pb = self._endpoint_terms(end.ravel())
        idx = np.concatenate([row + qa, row + qb])
        partial = np.bincount(idx, weights=np.concatenate([w * pa, -w * pb]), minlength=self.n_bins)
        slope = np.bincount(idx + 1, weights=np.concatenate([w, -w]), minlength=self.n_bins + 1)[:-1]
        partial = partial.reshape(-1, self.width)
        slope = slope.reshape(-1, self.width)
        months = partial + MONTHS_PER_QUARTER * np.cumsum(slope, axis=1)
        return (months[:, : self.shape[2]] * DAYS_PER_MONTH).reshape(self.shape)

    def events(self, times: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Count of events at calendar month ``times`` (where ``mask``) per quarter."""
        t = times[mask]
        q = (t // MONTHS_PER_QUARTER).astype(np.int64)
        inside = q < self.shape[2]
        counts = np.bincount((self.row[mask] + q)[inside], minlength=self.n_bins)
        return counts.reshape(-1, self.width)[:, : self.shape[2]].reshape(self.shape).astype(float)


def _out_of_care_spells(people: People) -> np.ndarray:
    """Treated out-of-care spells inside the window, shape (N, 3, 2), months since start."""
    c = people.care_treated
    zero = np.zeros_like(people.window)
    begins = np.stack([zero, c[:, 0, 1], c[:, 1, 1]], 1)
    ends = np.stack([c[:, 0, 0], np.maximum(c[:, 1, 0], c[:, 0, 1]), people.window], 1)
    return np.stack([begins, np.maximum(ends, begins)], -1)


def aggregate(
    scenario: Scenario,
    people: People,
    inputs: DrawInputs,
    n_draws: int,
    milestone_blocks: tuple[int, ...] = (),
    milestone_once: tuple[int, ...] = (),
) -> CohortQuarterly:
    """Sum people's window, care and milestone days into (draw, cohort, quarter) arrays."""
    n_cohorts, n_quarters = scenario.n_cohorts, scenario.n_quarters
    binner = _QuarterBinner(people.draw, people.cohort, n_draws, n_cohorts, n_quarters)
    s = people.start_calendar
    child = binner.overlap(s, s + people.window)
    care1 = binner.overlap(s[:, None] + people.care_treated[:, :, 0], s[:, None] + people.care_treated[:, :, 1])
    care0 = binner.overlap(
        s[:, None] + people.care_counterfactual[:, :, 0], s[:, None] + people.care_counterfactual[:, :, 1]
    )
    completion_time = s + inputs["referrals.months_per_case"][people.draw]
    in_measurement = completion_time < scenario.contract.measurement_end_month
    completions_due = binner.events(completion_time, people.completed & in_measurement)

    block_days: dict[int, np.ndarray] = {}
    once: dict[int, np.ndarray] = {}
    if milestone_blocks or milestone_once:
        spells = _out_of_care_spells(people)
        for n_days in milestone_blocks:
            block = n_days / DAYS_PER_MONTH
            length = spells[:, :, 1] - spells[:, :, 0]
            whole = np.floor(length / block + 1e-9) * block
            # Whole blocks accrue evenly over the spell's first `whole` months (timing within
            # a quarter is approximate; totals are exact).
            block_days[n_days] = binner.overlap(s[:, None] + spells[:, :, 0], s[:, None] + spells[:, :, 0] + whole)
        for n_days in milestone_once:
            reach = n_days / DAYS_PER_MONTH
            first_spell = spells[:, 0, 1] - spells[:, 0, 0]
            once[n_days] = binner.events(s + reach, first_spell >= reach - 1e-9)

    cohort_index = people.draw * n_cohorts + people.cohort
    starts = np.bincount(cohort_index, minlength=n_draws * n_cohorts).reshape(n_draws, n_cohorts)
    completed = np.bincount(cohort_index[people.completed], minlength=n_draws * n_cohorts)
    return CohortQuarterly(
        child_days=child,
        care_days_treated=care1,
        care_days_counterfactual=care0,
        completions_due=completions_due,
        milestone_block_days=block_days,
        milestone_people=once,
        starts=starts.astype(float),
        completed=completed.reshape(n_draws, n_cohorts).astype(float),
    )
