"""Scalar helpers of the compiled care kernel (:mod:`simsib.model.care_kernel`).

Each takes and returns scalars (an array passed to an inlined numba function is
reference-counted on every call), except the two flush functions, which run once per draw.
"""

from __future__ import annotations

import math

from numba import njit

DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_QUARTER = 3.0


@njit(cache=True, inline="always")
def interval_terms(begin, end, horizon):
    """Difference terms of the interval [begin, end) ∩ [0, horizon) (calendar months).

    The interval covers ``head = 3(q_b + 1) − begin`` months of the quarter ``q_b`` holding
    ``begin``, all 3 months of each later quarter, and ``tail = 3(q_e + 1) − end`` months less
    in the quarter ``q_e`` holding ``end``.  Recorded as ``partial[q_b] += head``,
    ``slope[q_b + 1] += 1``, ``partial[q_e] −= tail``, ``slope[q_e + 1] −= 1``, and integrated
    by :func:`flush_draw`.  An empty interval gives terms that cancel exactly (slopes are
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
def flush_draw(partial, slope, events, days, day_totals, days_by_quarter, counts, d, summed):
    """Write one draw's rows into ``days[:, d]``, ``day_totals[:, d]`` and ``counts[:, d]``,
    and clear them; the first rows of ``days`` summed over start cohorts into
    ``days_by_quarter[:, d]``, added in cohort order (as ``np.einsum("dcq,dc->dq", ...)`` and
    numpy's sum over that axis add them: the same numbers to the last bit).

    Months in quarter q = partial[q] + 3 × Σ_{q' ≤ q} slope[q'], converted to days.  The two
    spare quarters take the steps of intervals that end at the horizon; they are only cleared.
    ``summed`` (rows of ``days_by_quarter``, Q) is zeroed scratch for those sums.
    """
    n_quarters = days.shape[3]
    n_summed = days_by_quarter.shape[0]
    for k in range(partial.shape[0]):
        for c in range(partial.shape[1]):
            running = 0.0
            total = 0.0
            if k < n_summed:
                for q in range(n_quarters):
                    running += slope[k, c, q]
                    value = (partial[k, c, q] + MONTHS_PER_QUARTER * running) * DAYS_PER_MONTH
                    days[k, d, c, q] = value
                    total += value
                    summed[k, q] += value
            else:
                for q in range(n_quarters):
                    running += slope[k, c, q]
                    value = (partial[k, c, q] + MONTHS_PER_QUARTER * running) * DAYS_PER_MONTH
                    days[k, d, c, q] = value
                    total += value
            day_totals[k, d, c] = total
            for q in range(partial.shape[2]):  # a loop, not a slice: a slice is a counted reference
                partial[k, c, q] = 0.0
                slope[k, c, q] = 0.0
    for k in range(n_summed):
        for q in range(n_quarters):
            days_by_quarter[k, d, q] = summed[k, q]
            summed[k, q] = 0.0
    for k in range(events.shape[0]):
        for c in range(events.shape[1]):
            for q in range(n_quarters):
                counts[k, d, c, q] = events[k, c, q]
                events[k, c, q] = 0.0


@njit(cache=True, inline="always")
def quarter(time):
    """Calendar quarter of a time in months (negative times give negative quarters)."""
    return int(math.floor(time / MONTHS_PER_QUARTER))


@njit(cache=True, inline="always")
def stay(u, z, short_share, short_median, short_sigma, long_median, long_sigma):
    """Length of a care episode: log-normal, short or long stay by the uniform ``u``."""
    short = u < short_share
    # Select the parameters, not the formula: one exp and no hard-to-predict branch.
    median = short_median if short else long_median
    sigma = short_sigma if short else long_sigma
    return median * math.exp(sigma * z)


@njit(cache=True, inline="always")
def episodes(entry, d1, d2, reenters, gap, to18, window):
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


@njit(cache=True)
def flush_horizon(partial, slope, by_cohort, by_quarter, d):
    """Write one draw's horizon rows (kind, start cohort, calendar quarter + 2 spare) into
    ``by_cohort[:, d]``, by quarter counted from the cohort's own (``[k, d, c, j]`` is calendar
    quarter ``c + j``), and their sums over start cohorts, added in cohort order, into
    ``by_quarter[:, d]``; clear them (as :func:`flush_draw`).

    A start cohort's paths span its J quarters only (J = ``by_cohort.shape[3]``): before them
    and after them its row holds exact zeros (the terms of an empty interval cancel), so only
    those are integrated, and written.
    """
    n_quarters = by_quarter.shape[2]
    n_span = by_cohort.shape[3]
    for k in range(partial.shape[0]):
        for q in range(n_quarters):
            by_quarter[k, d, q] = 0.0
        for c in range(partial.shape[1]):
            last = min(c + n_span, n_quarters)
            running = 0.0
            for q in range(c, last):
                running += slope[k, c, q]
                value = (partial[k, c, q] + MONTHS_PER_QUARTER * running) * DAYS_PER_MONTH
                by_cohort[k, d, c, q - c] = value
                by_quarter[k, d, q] += value
            for j in range(max(last - c, 0), n_span):  # past the horizon
                by_cohort[k, d, c, j] = 0.0
            for q in range(c, min(last + 2, partial.shape[2])):
                partial[k, c, q] = 0.0
                slope[k, c, q] = 0.0
