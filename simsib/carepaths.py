"""Young people and their care paths, with and without MST, aggregated by cohort and quarter.

Per young person (flat arrays over all people of a chunk, with a draw index; times in months
since that person's MST start unless stated otherwise):

* start time: uniform within the start month; quarterly start cohort ``c = floor(start / 3)``.
* age at start: whole years from ``population.age_at_start`` plus a uniform fraction;
  ``to18`` = months to the 18th birthday, when care and child-days end.
* completion ~ Bernoulli(completion rate of the draw); non-completers get a share of the effect
  on the log scale: ``log HR_i = log HR × (1 if completed else non_completer_effect_share)``.
* counterfactual entry ``T0``: Weibull with cumulative hazard ``H0(t) = (t/λ)^k``, ``λ`` set so
  that ``1 − exp(−H0(30)) = p30``.  With ``E ~ Exp(1)``, ``T0 = H0⁻¹(E)``.
* treated entry ``T1`` from the *same* ``E``: the hazard is multiplied by ``HR_i`` for the first
  ``D_eff`` months (effect duration), so ``S1(t) = S0(t)^HR`` while the effect lasts:
  ``T1 = H0⁻¹(E / HR)`` if ``E ≤ HR·H0(D_eff)``, else ``H0⁻¹(E + (1 − HR)·H0(D_eff))``.
* episode 1 lasts ``D1`` from a short/long log-normal mixture, ending at 18 at the latest;
  if it ends before 18, re-entry happens with probability ``p_re`` after an exponential gap,
  and episode 2 lasts ``D2`` from the same mixture.
* The treated path is the counterfactual path shifted from ``T0`` to ``T1``: both share every
  random number (durations, re-entry, gap), so a smaller hazard ratio never adds care days.
* Tracking window: ``[0, L]`` with ``L = min(tracking_months, to18, measurement_end − start)``.
  Child-days are ``L`` in days; care days are the episodes' overlap with the window.

Aggregation never builds a people × days array: each interval's overlap with each calendar
quarter is accumulated with ``np.bincount`` (a difference-array of partial first quarters and
unit slopes, then a cumulative sum), so memory grows with draws × cohorts × quarters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.sampling import DrawInputs
from simsib.scenario import Scenario

DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_QUARTER = 3
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
        care = self.care_treated if which == "treated" else self.care_counterfactual
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
        Young people starting in each month (from :func:`simsib.referrals.monthly_starts`).
    rng : Generator
        The chunk's ``people`` stream.  Variates are drawn in a fixed order, one array each.
    """
    n_draws, n_months = starts.shape
    flat_counts = starts.ravel()
    cell = np.repeat(np.arange(flat_counts.size), flat_counts)
    draw = cell // n_months
    n = cell.size

    start = (cell % n_months) + rng.random(n)
    whole_age = scenario.population.age_at_start.from_uniforms(rng.random((n, 1)))
    age = whole_age + rng.random(n)
    completed = rng.random(n) < inputs["effect.completion_rate"][draw]
    exp_draw = rng.standard_exponential(n)
    short1 = rng.random(n)
    z1 = rng.standard_normal(n)
    reentry_u = rng.random(n)
    gap_exp = rng.standard_exponential(n)
    short2 = rng.random(n)
    z2 = rng.standard_normal(n)

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


@dataclass(frozen=True)
class CohortQuarterly:
    """Sums per draw, start cohort and calendar quarter, shape (n_draws, n_cohorts, n_quarters).

    Days are calendar days (months × 365.25/12).  ``starts``/``completed`` are per cohort,
    shape (n_draws, n_cohorts).
    """

    child_days: np.ndarray
    care_days_treated: np.ndarray
    care_days_counterfactual: np.ndarray
    completions_due: np.ndarray  # completions counted in the quarter the therapy ends
    milestone_block_days: dict[int, np.ndarray]  # block length N -> accrued whole-block days
    milestone_people: dict[int, np.ndarray]  # N -> people whose first N days are out of care
    starts: np.ndarray
    completed: np.ndarray


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
