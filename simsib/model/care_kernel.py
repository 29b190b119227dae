"""The hot path: one compiled pass over all young people of a chunk.

:func:`accumulate_paths` does, person by person and without temporaries, what
:func:`simsib.model.care_paths.simulate_people` followed by :func:`simsib.model.care_paths.aggregate` does with
whole-array numpy operations: both care paths, the tracking window, milestones, and their
overlap with each calendar quarter, added straight into the (draw, cohort, quarter) sums.  The
numpy pair is the readable reference; ``tests/test_kernels.py`` checks that the two agree.
The random numbers are drawn beforehand by numpy (:func:`simsib.model.people.draw_person_variates`),
so the kernel is deterministic and the streams are the same either way.

Compiled with numba (``cache=True``: compiled once per machine, then loaded from disk).

Performance notes (``benchmarks/throughput.py`` measures them):

* Each interval is recorded in O(1) as difference terms
  (:func:`simsib.model.kernel_parts.interval_terms`), integrated once per draw
  (:func:`simsib.model.kernel_parts.flush_draw`), instead of walking the quarters it spans.
* The helpers inlined into the loop take and return scalars only.  An array passed to an
  inlined numba function is reference-counted on every call (two atomic operations each
  way); with five intervals a person that was a fifth of the kernel's time.  So the loop
  itself writes into the arrays.
* Per-draw parameters are read into locals once per draw; the power in the counterfactual entry
  time, ``E^(1/k)``, is computed beforehand by numpy, whose vectorised power is far cheaper than
  a scalar ``pow`` (the kernel multiplies by the draw's scale: the product numpy made before).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simsib.model.kernel_parts import (
    DAYS_PER_MONTH,
    MONTHS_PER_QUARTER,
    episodes,
    flush_draw,
    flush_horizon,
    interval_terms,
    quarter,
    stay,
)

# Rows of the stacked outputs of accumulate_paths.  ``days``: child-days, treated and
# counterfactual care days, then per block length the treated and then the counterfactual
# whole-block days, then per offset day (child-days, care treated, care counterfactual) from it.
# ``counts``: completions due (only when ``counts`` has a row for them: it has two per once-only
# milestone and four per point day more), then per once-only milestone the treated and then the
# counterfactual people, then per point day the treated and the counterfactual people out of
# care, then the treated and the counterfactual people in care (both only if still tracked).  With no milestones, offsets or points only the first rows exist (Essex).
CHILD, CARE_TREATED, CARE_COUNTERFACTUAL, FIRST_BLOCK = 0, 1, 2, 3
COMPLETIONS_DUE, FIRST_ONCE = 0, 1


@njit(cache=True)
def accumulate_paths(
    monthly_starts, start_u, age, completion_u, entry_root, exp_draw, short1, z1, reentry_u, gap_exp,
    short2, z2,
    completion_rate, scale, shape, effect_months, hr_completed, hr_not_completed, h_effect_end, speedup_completed,
    speedup_not_completed, short_share, short_median, short_sigma, long_median, long_sigma,
    reentry_probability, reentry_gap_mean, months_per_case,
    tracking_months, measurement_end, age_limit, in_state, block_days, once_days, point_days, offset_days,
    days, day_totals, days_by_quarter, counts, horizon_days, horizon_by_quarter, starts, completions,
):
    """Simulate both care paths of every person and sum them by draw, cohort and quarter.

    ``monthly_starts`` (n_draws, n_months) counts the people starting in each month; the
    per-person arrays (N,) list them in that order (draw by draw, month by month): the
    uniforms placing the start in its month and deciding completion, the age (years), the
    root ``exp_draw ** (1 / shape)`` of the counterfactual entry time (months after start:
    ``scale`` times it) and the other variates.  Per draw
    (n_draws,): the model parameters, with the Weibull ``scale`` set from p30 and the hazards
    and speed-ups from :func:`per_draw_hazards`.  Care and child-days end at ``age_limit``
    years (18).

    With ``in_state`` the cohort starts *in* care: the counterfactual entry time is then the time of
    leaving care without the service, the hazards are those of leaving (the caller passes the
    inverse hazard ratio), and the first episode is ``[0, exit)``; re-entry is as after any
    episode (carepaths.simulate_people says the same in numpy).

    Outputs, overwritten: ``days`` (kind, n, C, Q) and their totals over quarters
    ``day_totals`` (kind, n, C), and ``counts`` (kind, n, C, Q), in the rows described above
    :data:`CHILD`; the first rows of ``days`` (child-days and care days of both paths) summed
    over start cohorts, ``days_by_quarter`` (3, n, Q); the days in care avoided (counterfactual
    less treated; in a second row if there is one, the counterfactual path's own) from start to
    the age limit, by start cohort in ``horizon_days`` (1 or 2, n, C, J), by quarter counted
    from the cohort's own (``[:, :, c, j]`` is calendar quarter ``c + j``; J covers the longest
    path, :func:`simsib.model.outcomes.horizon_quarters`), and summed over start cohorts by
    calendar quarter in ``horizon_by_quarter`` (1 or 2, n, H); H = 0: not computed.  Added to: ``starts`` and
    ``completions`` (n, C).
    """
    n_draws, n_months = monthly_starts.shape
    n_kinds, _, n_cohorts, n_quarters = days.shape
    n_blocks, n_once, n_points, n_offsets = block_days.shape[0], once_days.shape[0], point_days.shape[0], offset_days.shape[0]
    first_offset = FIRST_BLOCK + 2 * n_blocks
    first_once = counts.shape[0] - 2 * n_once - 4 * n_points  # FIRST_ONCE, or 0: no completions row
    first_point = first_once + 2 * n_once
    horizon = n_quarters * MONTHS_PER_QUARTER
    n_horizon = horizon_by_quarter.shape[2]
    with_counterfactual = horizon_by_quarter.shape[0] > 1
    horizon_end = n_horizon * MONTHS_PER_QUARTER
    # One draw's intervals, as difference rows (kind, cohort, quarter + 2 spare), written into
    # `days` once the draw is done: small enough to stay in the L1 cache.
    partial = np.zeros((n_kinds, n_cohorts, n_quarters + 2))
    slope = np.zeros((n_kinds, n_cohorts, n_quarters + 2))
    events = np.zeros((counts.shape[0], n_cohorts, n_quarters))  # the same for event counts
    summed = np.zeros((days_by_quarter.shape[0], n_quarters))  # the draw's sums over cohorts
    # The same for the horizon sums: the counterfactual path's intervals added, the treated
    # path's taken away (and the counterfactual's alone in a second row, if asked for).
    h_partial = np.zeros((horizon_by_quarter.shape[0], n_cohorts, n_horizon + 2))
    h_slope = np.zeros((horizon_by_quarter.shape[0], n_cohorts, n_horizon + 2))
    i = 0
    for d in range(n_draws):
        # The draw's parameters as locals: stores into the outputs cannot alias them, so the
        # compiler keeps them in registers.
        rate = completion_rate[d]
        case_months = months_per_case[d]
        lam, inv_k = scale[d], 1.0 / shape[d]
        effect_end = effect_months[d]
        hr_c, hr_n, h_eff = hr_completed[d], hr_not_completed[d], h_effect_end[d]
        speed_c, speed_n = speedup_completed[d], speedup_not_completed[d]
        p_short, short_med, short_sig = short_share[d], short_median[d], short_sigma[d]
        long_med, long_sig = long_median[d], long_sigma[d]
        p_reentry, gap_mean = reentry_probability[d], reentry_gap_mean[d]
        for m in range(n_months):
            for _ in range(monthly_starts[d, m]):
                s = m + start_u[i]  # calendar months
                c = int(s * (1.0 / MONTHS_PER_QUARTER))
                to18 = (age_limit - age[i]) * 12.0
                window = max(min(min(tracking_months, to18), measurement_end - s), 0.0)
                starts[d, c] += 1.0
                done = completion_u[i] < rate
                if done:
                    completions[d, c] += 1.0
                    finish = s + case_months
                    q = quarter(finish)
                    if first_once > 0 and finish < measurement_end and 0 <= q < n_quarters:
                        events[COMPLETIONS_DUE, c, q] += 1.0

                # Entry to care (or, in_state, exit from it): the same Exp(1) variate under both
                # hazards (carepaths.treated_entry).
                entry0 = lam * entry_root[i]  # the counterfactual entry (exit) time
                hr = hr_c if done else hr_n
                speed = speed_c if done else speed_n
                e = exp_draw[i]
                # The treated entry comes no earlier than entry0 · HR^(−1/k) (the hazard is at
                # most HR times the counterfactual's), and no earlier than entry0 with HR <= 1.
                earliest1 = entry0 * speed if hr > 1.0 else entry0
                # Days in care avoided to the age limit, beyond the window, need the exact treated
                # time (the window's shortcuts below only hold inside it).  None are avoided when
                # the two paths are the same (HR = 1), or when neither can enter care before the
                # limit.
                to_limit = n_horizon > 0 and hr != 1.0 and (in_state or earliest1 < to18)
                exact1 = entry0
                if to_limit:
                    if e <= hr * h_eff:
                        exact1 = entry0 * speed
                    elif effect_end >= to18:
                        # Entry after the effect ends, so after the age limit: none before it.
                        exact1 = math.inf
                    else:
                        exact1 = lam * (e + (1.0 - hr) * h_eff) ** inv_k
                if hr == 1.0 or earliest1 >= window:
                    # Same path, or neither enters in the window (whatever the exact treated time).
                    entry1 = entry0
                else:
                    if e <= hr * h_eff:  # entry while the effect lasts: the whole clock runs at HR
                        entry1 = entry0 * speed
                    elif effect_end >= window:
                        # Entry after the effect ends, so after the window: the path has no
                        # care in it (in_state: care throughout it), whatever the exact time
                        # (and no pow to pay for it).
                        entry1 = math.inf
                    elif to_limit:  # the same value, computed once
                        entry1 = exact1
                    else:
                        entry1 = lam * (e + (1.0 - hr) * h_eff) ** inv_k

                qb, head, qe, tail = interval_terms(s, s + window, horizon)
                partial[CHILD, c, qb] += head
                slope[CHILD, c, qb + 1] += 1.0
                partial[CHILD, c, qe] -= tail
                slope[CHILD, c, qe + 1] -= 1.0
                have_stays = False
                dur1 = dur2 = gap = 0.0
                reenters = False
                if not in_state and min(entry0, entry1) >= window:
                    # Neither path enters care inside the window (most young people): no care
                    # days, and the whole window is one out-of-care spell.
                    a1 = b1 = a2 = b2 = window
                    a1c = b1c = a2c = b2c = window
                else:
                    have_stays = True
                    dur1 = stay(short1[i], z1[i], p_short, short_med, short_sig, long_med, long_sig)
                    reenters = reentry_u[i] < p_reentry
                    if reenters:  # only a second episode has a length
                        dur2 = stay(short2[i], z2[i], p_short, short_med, short_sig, long_med, long_sig)
                    gap = gap_exp[i] * gap_mean
                    # Counterfactual path first, then the treated one: both share every variate
                    # but the entry (exit) time.
                    if in_state:
                        a1c, b1c, a2c, b2c = episodes(0.0, entry0, dur2, reenters, gap, to18, window)
                        a1, b1, a2, b2 = episodes(0.0, entry1, dur2, reenters, gap, to18, window)
                    else:
                        a1c, b1c, a2c, b2c = episodes(entry0, dur1, dur2, reenters, gap, to18, window)
                        a1, b1, a2, b2 = episodes(entry1, dur1, dur2, reenters, gap, to18, window)
                    for episode in range(4):
                        kind = CARE_COUNTERFACTUAL if episode < 2 else CARE_TREATED
                        if episode == 0:
                            begin, end = a1c, b1c
                        elif episode == 1:
                            begin, end = a2c, b2c
                        elif episode == 2:
                            begin, end = a1, b1
                        else:
                            begin, end = a2, b2
                        if end > begin:  # (an empty episode's terms would cancel)
                            qb, head, qe, tail = interval_terms(s + begin, s + end, horizon)
                            partial[kind, c, qb] += head
                            slope[kind, c, qb + 1] += 1.0
                            partial[kind, c, qe] -= tail
                            slope[kind, c, qe + 1] -= 1.0

                # Milestones, treated then counterfactual.  A path's out-of-care spells in the
                # window are [0, a1), [b1, a2) and [b2, window) (carepaths.out_of_care_spells).
                for j in range(2 * n_blocks):
                    treated = j < n_blocks
                    block = block_days[j % n_blocks] / DAYS_PER_MONTH
                    row = FIRST_BLOCK + j
                    for spell in range(3):
                        x1, y1, x2, y2 = (a1, b1, a2, b2) if treated else (a1c, b1c, a2c, b2c)
                        begin = 0.0 if spell == 0 else (y1 if spell == 1 else y2)
                        end = x1 if spell == 0 else (max(x2, y1) if spell == 1 else window)
                        whole = math.floor((max(end, begin) - begin) / block + 1e-9) * block
                        qb, head, qe, tail = interval_terms(s + begin, s + begin + whole, horizon)
                        partial[row, c, qb] += head
                        slope[row, c, qb + 1] += 1.0
                        partial[row, c, qe] -= tail
                        slope[row, c, qe + 1] -= 1.0
                for j in range(2 * n_once):
                    reach = once_days[j % n_once] / DAYS_PER_MONTH
                    q = quarter(s + reach)
                    first = a1 if j < n_once else a1c
                    if first >= reach - 1e-9 and 0 <= q < n_quarters:  # the first spell lasts N days
                        events[first_once + j, c, q] += 1.0
                # Point in time: out of (or in) care N days after start, if still tracked then.
                for j in range(2 * n_points):
                    at = point_days[j % n_points] / DAYS_PER_MONTH
                    q = quarter(s + at)
                    x1, y1, x2, y2 = (a1, b1, a2, b2) if j < n_points else (a1c, b1c, a2c, b2c)
                    in_care = (x1 <= at < y1) or (x2 <= at < y2)
                    if at < window and 0 <= q < n_quarters:
                        events[first_point + j + (2 * n_points if in_care else 0), c, q] += 1.0
                # Days from an offset on: child-days and both paths' care days in [offset, window).
                for j in range(n_offsets):
                    start = offset_days[j] / DAYS_PER_MONTH
                    for part in range(5):
                        if part == 0:
                            begin, end, row = start, window, first_offset + 3 * j
                        elif part < 3:
                            begin, end = (a1, b1) if part == 1 else (a2, b2)
                            row = first_offset + 3 * j + 1
                        else:
                            begin, end = (a1c, b1c) if part == 3 else (a2c, b2c)
                            row = first_offset + 3 * j + 2
                        qb, head, qe, tail = interval_terms(s + max(begin, start), s + end, horizon)
                        partial[row, c, qb] += head
                        slope[row, c, qb + 1] += 1.0
                        partial[row, c, qe] -= tail
                        slope[row, c, qe + 1] -= 1.0

                if to_limit:
                    if not have_stays:
                        dur1 = stay(short1[i], z1[i], p_short, short_med, short_sig, long_med, long_sig)
                        reenters = reentry_u[i] < p_reentry
                        if reenters:
                            dur2 = stay(short2[i], z2[i], p_short, short_med, short_sig, long_med, long_sig)
                        gap = gap_exp[i] * gap_mean
                    for path in range(2):
                        entry = exact1 if path == 0 else entry0
                        sign = -1.0 if path == 0 else 1.0
                        if in_state:
                            x1, y1, x2, y2 = episodes(0.0, entry, dur2, reenters, gap, to18, to18)
                        else:
                            x1, y1, x2, y2 = episodes(entry, dur1, dur2, reenters, gap, to18, to18)
                        for episode in range(2):
                            begin, end = (x1, y1) if episode == 0 else (x2, y2)
                            if end > begin:
                                qb, head, qe, tail = interval_terms(s + begin, s + end, horizon_end)
                                h_partial[0, c, qb] += sign * head
                                h_slope[0, c, qb + 1] += sign
                                h_partial[0, c, qe] -= sign * tail
                                h_slope[0, c, qe + 1] -= sign
                                if with_counterfactual and path == 1:
                                    h_partial[1, c, qb] += head
                                    h_slope[1, c, qb + 1] += 1.0
                                    h_partial[1, c, qe] -= tail
                                    h_slope[1, c, qe + 1] -= 1.0
                i += 1
        flush_draw(partial, slope, events, days, day_totals, days_by_quarter, counts, d, summed)
        if n_horizon > 0:
            flush_horizon(h_partial, h_slope, horizon_days, horizon_by_quarter, d)


@njit(cache=True)
def per_draw_hazards(scale, shape, log_hr, non_completer_share, effect_months):
    """Per draw: hazard ratios, H0 at the effect's end, and the entry-time speed-ups.

    Returns HR for completers and non-completers, ``H0(effect_months)``, and for each group
    ``HR^(−1/shape)``: the factor on the counterfactual entry time of someone who enters
    while the effect lasts (``λ (E/HR)^(1/k) = λ E^(1/k) · HR^(−1/k)``).  Compiled so that the
    values come from the same maths library as the kernel's own.
    """
    n = scale.shape[0]
    hr_completed, hr_not_completed, h_effect_end = np.empty(n), np.empty(n), np.empty(n)
    speedup_completed, speedup_not_completed = np.empty(n), np.empty(n)
    for d in range(n):
        hr_completed[d] = math.exp(log_hr[d])
        hr_not_completed[d] = math.exp(log_hr[d] * non_completer_share[d])
        h_effect_end[d] = (effect_months[d] / scale[d]) ** shape[d]
        speedup_completed[d] = hr_completed[d] ** (-1.0 / shape[d])
        speedup_not_completed[d] = hr_not_completed[d] ** (-1.0 / shape[d])
    return hr_completed, hr_not_completed, h_effect_end, speedup_completed, speedup_not_completed


def empty_outputs(n_draws: int, n_cohorts: int, n_quarters: int, n_blocks: int = 0, n_once: int = 0,
                  n_points: int = 0, n_offsets: int = 0, n_horizon: tuple[int, int] = (0, 0),
                  completions: bool = True, horizon_counterfactual: bool = False):
    """Output arrays for :func:`accumulate_paths` (see its rows above :data:`CHILD`).

    ``n_horizon``: (H, J), the horizon's calendar quarters and each start cohort's
    (:func:`simsib.model.outcomes.horizon_quarters`), with a second row for the counterfactual
    path's own days if ``horizon_counterfactual``; ``completions``: a row of ``counts`` for the
    completions due (without it, Essex's kernel writes no event cube at all).  Every array but ``starts`` and
    ``completions`` (which are summed) is written whole, draw by draw, so needs no zeroing
    (zeroing fresh pages was a tenth of the kernel's time).
    """
    cube = (n_draws, n_cohorts, n_quarters)
    n_days = FIRST_BLOCK + 2 * n_blocks + 3 * n_offsets
    calendar, by_cohort = n_horizon
    return dict(
        days=np.empty((n_days, *cube)), day_totals=np.empty((n_days, n_draws, n_cohorts)),
        days_by_quarter=np.empty((FIRST_BLOCK, n_draws, n_quarters)),
        counts=np.empty((FIRST_ONCE * completions + 2 * n_once + 4 * n_points, *cube)),
        horizon_days=np.empty((1 + horizon_counterfactual, n_draws, n_cohorts, by_cohort)),
        horizon_by_quarter=np.empty((1 + horizon_counterfactual, n_draws, calendar)),
        starts=np.zeros((n_draws, n_cohorts)), completions=np.zeros((n_draws, n_cohorts)),
    )
