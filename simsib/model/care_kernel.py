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

* Each interval is recorded in O(1) as difference terms (:func:`_interval_terms`), integrated
  once per draw (:func:`_flush_draw`), instead of walking the quarters it spans.
* The helpers inlined into the loop take and return scalars only.  An array passed to an
  inlined numba function is reference-counted on every call (two atomic operations each
  way); with five intervals a person that was a fifth of the kernel's time.  So the loop
  itself writes into the arrays.
* Per-draw parameters are read into locals once per draw; the counterfactual entry time is
  computed beforehand by numpy, whose vectorised power is far cheaper than a scalar ``pow``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_QUARTER = 3.0


@njit(cache=True, inline="always")
def _interval_terms(begin, end, horizon):
    """Difference terms of the interval [begin, end) ∩ [0, horizon) (calendar months).

    The interval covers ``head = 3(q_b + 1) − begin`` months of the quarter ``q_b`` holding
    ``begin``, all 3 months of each later quarter, and ``tail = 3(q_e + 1) − end`` months less
    in the quarter ``q_e`` holding ``end``.  Recorded as ``partial[q_b] += head``,
    ``slope[q_b + 1] += 1``, ``partial[q_e] −= tail``, ``slope[q_e + 1] −= 1``, and integrated
    by :func:`_flush_draw`.  An empty interval gives terms that cancel exactly (slopes are
    whole numbers).  Returns (q_b, head, q_e, tail).
    """
    if begin < 0.0:
        begin = 0.0
    if end > horizon:
        end = horizon
    if end <= begin:
        return 0, 0.0, 0, 0.0
    q_begin = int(begin * (1.0 / MONTHS_PER_QUARTER))  # non-negative: int() is floor
    q_end = int(end * (1.0 / MONTHS_PER_QUARTER))
    return (q_begin, (q_begin + 1) * MONTHS_PER_QUARTER - begin,
            q_end, (q_end + 1) * MONTHS_PER_QUARTER - end)


@njit(cache=True)
def _flush_draw(partial, slope, events, days, day_totals, counts, d):
    """Write one draw's rows into ``days[:, d]``, ``day_totals[:, d]`` and ``counts[:, d]``,
    and clear them.

    Months in quarter q = partial[q] + 3 × Σ_{q' ≤ q} slope[q'], converted to days.  The two
    spare quarters take the steps of intervals that end at the horizon; they are only cleared.
    """
    n_quarters = days.shape[3]
    for k in range(partial.shape[0]):
        for c in range(partial.shape[1]):
            running = 0.0
            total = 0.0
            for q in range(n_quarters):
                running += slope[k, c, q]
                value = (partial[k, c, q] + MONTHS_PER_QUARTER * running) * DAYS_PER_MONTH
                days[k, d, c, q] = value
                total += value
            day_totals[k, d, c] = total
            for q in range(partial.shape[2]):  # a loop, not a slice: a slice is a counted reference
                partial[k, c, q] = 0.0
                slope[k, c, q] = 0.0
    for k in range(events.shape[0]):
        for c in range(events.shape[1]):
            for q in range(n_quarters):
                counts[k, d, c, q] = events[k, c, q]
                events[k, c, q] = 0.0


@njit(cache=True, inline="always")
def _quarter(time):
    """Calendar quarter of a time in months (negative times give negative quarters)."""
    return int(math.floor(time / MONTHS_PER_QUARTER))


@njit(cache=True, inline="always")
def _stay(u, z, short_share, short_median, short_sigma, long_median, long_sigma):
    """Length of a care episode: log-normal, short or long stay by the uniform ``u``."""
    short = u < short_share
    # Select the parameters, not the formula: one exp and no hard-to-predict branch.
    median = short_median if short else long_median
    sigma = short_sigma if short else long_sigma
    return median * math.exp(sigma * z)


@njit(cache=True, inline="always")
def _episodes(entry, d1, d2, reenters, gap, to18, window):
    """Two care episodes (begin, end) cut at 18 and to the window; see carepaths._episodes."""
    leave1 = min(entry + d1, to18)
    second = reenters and (entry + d1 < to18)
    entry2 = entry + d1 + gap if second else math.inf
    leave2 = min(entry2 + d2, to18)
    if not entry < to18:
        entry = math.inf
    a1 = min(entry, window)
    b1 = max(min(leave1, window), a1)
    a2 = min(entry2, window)
    b2 = max(min(leave2, window), a2)
    return a1, b1, a2, b2


# Rows of the stacked outputs of accumulate_paths: ``days``, then milestone blocks follow;
# ``counts``, then once-only milestones follow.
CHILD, CARE_TREATED, CARE_COUNTERFACTUAL, FIRST_BLOCK = 0, 1, 2, 3
COMPLETIONS_DUE, FIRST_ONCE = 0, 1


@njit(cache=True)
def accumulate_paths(
    monthly_starts, start_u, age, completion_u, entry_counterfactual, exp_draw, short1, z1, reentry_u, gap_exp,
    short2, z2,
    completion_rate, scale, shape, effect_months, hr_completed, hr_not_completed, h_effect_end, speedup_completed,
    speedup_not_completed, short_share, short_median, short_sigma, long_median, long_sigma,
    reentry_probability, reentry_gap_mean, months_per_case,
    tracking_months, measurement_end, block_days, once_days,
    days, day_totals, counts, starts, completions,
):
    """Simulate both care paths of every person and sum them by draw, cohort and quarter.

    ``monthly_starts`` (n_draws, n_months) counts the people starting in each month; the
    per-person arrays (N,) list them in that order (draw by draw, month by month): the
    uniforms placing the start in its month and deciding completion, the age (years), the
    counterfactual entry time (months after start) and the other variates.  Per draw
    (n_draws,): the model parameters, with the Weibull ``scale`` set from p30 and the hazards
    and speed-ups from :func:`per_draw_hazards`.

    Outputs, overwritten: ``days`` (3 + len(block_days), n, C, Q) -- child, treated care,
    counterfactual care and whole-block days (rows :data:`CHILD` …) -- with their totals over
    quarters ``day_totals`` (3 + len(block_days), n, C), and ``counts``
    (1 + len(once_days), n, C, Q) -- completions due, then people whose first spell out of care
    reaches each milestone (rows :data:`COMPLETIONS_DUE` …).  Added to: ``starts`` and
    ``completions`` (n, C).
    """
    n_draws, n_months = monthly_starts.shape
    n_kinds, _, n_cohorts, n_quarters = days.shape
    horizon = n_quarters * MONTHS_PER_QUARTER
    # One draw's intervals, as difference rows (kind, cohort, quarter + 2 spare), written into
    # `days` once the draw is done: small enough to stay in the L1 cache.
    partial = np.zeros((n_kinds, n_cohorts, n_quarters + 2))
    slope = np.zeros((n_kinds, n_cohorts, n_quarters + 2))
    events = np.zeros((counts.shape[0], n_cohorts, n_quarters))  # the same for event counts
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
                to18 = (18.0 - age[i]) * 12.0
                window = max(min(min(tracking_months, to18), measurement_end - s), 0.0)
                starts[d, c] += 1.0
                done = completion_u[i] < rate
                if done:
                    completions[d, c] += 1.0
                    finish = s + case_months
                    q = _quarter(finish)
                    if finish < measurement_end and 0 <= q < n_quarters:
                        events[COMPLETIONS_DUE, c, q] += 1.0

                # Entry to care: the same Exp(1) variate under both hazards (carepaths.treated_entry).
                entry0 = entry_counterfactual[i]
                hr = hr_c if done else hr_n
                if hr == 1.0 or (hr < 1.0 and entry0 >= window):
                    # Same path, or the treated entry is later still (HR < 1) and neither is in the window.
                    entry1 = entry0
                else:
                    e = exp_draw[i]
                    if e <= hr * h_eff:  # entry while the effect lasts: the whole clock runs at HR
                        entry1 = entry0 * (speed_c if done else speed_n)
                    elif effect_end >= window:
                        # Entry after the effect ends, so after the window: the path has no
                        # care in it, whatever the exact time (and no pow to pay for it).
                        entry1 = math.inf
                    else:
                        entry1 = lam * (e + (1.0 - hr) * h_eff) ** inv_k

                qb, head, qe, tail = _interval_terms(s, s + window, horizon)
                partial[CHILD, c, qb] += head
                slope[CHILD, c, qb + 1] += 1.0
                partial[CHILD, c, qe] -= tail
                slope[CHILD, c, qe + 1] -= 1.0
                if min(entry0, entry1) >= window:
                    # Neither path enters care inside the window (most young people): no care
                    # days, and the whole window is one out-of-care spell.
                    a1 = b1 = a2 = b2 = window
                else:
                    dur1 = _stay(short1[i], z1[i], p_short, short_med, short_sig, long_med, long_sig)
                    reenters = reentry_u[i] < p_reentry
                    dur2 = 0.0  # only a second episode has one
                    if reenters:
                        dur2 = _stay(short2[i], z2[i], p_short, short_med, short_sig, long_med, long_sig)
                    gap = gap_exp[i] * gap_mean
                    # Counterfactual path first, then the treated one (whose spells the
                    # milestones below use): both share every variate but the entry time.
                    for path in range(2):
                        kind = CARE_COUNTERFACTUAL if path == 0 else CARE_TREATED
                        entry = entry0 if path == 0 else entry1
                        a1, b1, a2, b2 = _episodes(entry, dur1, dur2, reenters, gap, to18, window)
                        for episode in range(2):
                            begin, end = (a1, b1) if episode == 0 else (a2, b2)
                            qb, head, qe, tail = _interval_terms(s + begin, s + end, horizon)
                            partial[kind, c, qb] += head
                            slope[kind, c, qb + 1] += 1.0
                            partial[kind, c, qe] -= tail
                            slope[kind, c, qe + 1] -= 1.0

                # Milestones of the treated path.  Its out-of-care spells in the window are
                # [0, a1), [b1, a2) and [b2, window) (carepaths._out_of_care_spells).
                for j in range(block_days.shape[0]):
                    block = block_days[j] / DAYS_PER_MONTH
                    for spell in range(3):
                        begin = 0.0 if spell == 0 else (b1 if spell == 1 else b2)
                        end = a1 if spell == 0 else (max(a2, b1) if spell == 1 else window)
                        whole = math.floor((max(end, begin) - begin) / block + 1e-9) * block
                        qb, head, qe, tail = _interval_terms(s + begin, s + begin + whole, horizon)
                        partial[FIRST_BLOCK + j, c, qb] += head
                        slope[FIRST_BLOCK + j, c, qb + 1] += 1.0
                        partial[FIRST_BLOCK + j, c, qe] -= tail
                        slope[FIRST_BLOCK + j, c, qe + 1] -= 1.0
                for j in range(once_days.shape[0]):
                    reach = once_days[j] / DAYS_PER_MONTH
                    q = _quarter(s + reach)
                    if a1 >= reach - 1e-9 and 0 <= q < n_quarters:  # the first spell lasts N days
                        events[FIRST_ONCE + j, c, q] += 1.0
                i += 1
        _flush_draw(partial, slope, events, days, day_totals, counts, d)


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


def empty_outputs(n_draws: int, n_cohorts: int, n_quarters: int, n_blocks: int, n_once: int):
    """Output arrays for :func:`accumulate_paths`.

    ``days``, ``day_totals`` and ``counts`` are written whole, draw by draw, so they need no
    zeroing (zeroing fresh pages was a tenth of the kernel's time); ``starts`` and
    ``completions`` are summed.
    """
    cube = (n_draws, n_cohorts, n_quarters)
    return dict(
        days=np.empty((FIRST_BLOCK + n_blocks, *cube)), day_totals=np.empty((FIRST_BLOCK + n_blocks, n_draws, n_cohorts)),
        counts=np.empty((FIRST_ONCE + n_once, *cube)),
        starts=np.zeros((n_draws, n_cohorts)), completions=np.zeros((n_draws, n_cohorts)),
    )
