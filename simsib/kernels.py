"""The hot path: one compiled pass over all young people of a chunk.

:func:`accumulate_paths` does, person by person and without temporaries, what
:func:`simsib.carepaths.simulate_people` followed by :func:`simsib.carepaths.aggregate` does with
whole-array numpy operations: both care paths, the tracking window, milestones, and their
overlap with each calendar quarter, added straight into the (draw, cohort, quarter) sums.  The
numpy pair is the readable reference; ``tests/test_kernels.py`` checks that the two agree.
The random numbers are drawn beforehand by numpy (:func:`simsib.carepaths.draw_person_variates`),
so the kernel is deterministic and the streams are the same either way.

Compiled with numba (``cache=True``: compiled once per machine, then loaded from disk).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_QUARTER = 3.0


@njit(cache=True, inline="always")
def _add_interval(out, d, c, begin, end, n_quarters, weight):
    """out[d, c, q] += weight × |[begin, end) ∩ quarter q| (months), for calendar months."""
    horizon = n_quarters * MONTHS_PER_QUARTER
    if begin < 0.0:
        begin = 0.0
    if end > horizon:
        end = horizon
    if end <= begin:
        return
    q = int(math.floor(begin / MONTHS_PER_QUARTER))  # float // compiles to a slow fmod-based floor
    while q < n_quarters:
        lo = q * MONTHS_PER_QUARTER
        hi = lo + MONTHS_PER_QUARTER
        x0 = begin if begin > lo else lo
        x1 = end if end < hi else hi
        if x1 > x0:
            out[d, c, q] += (x1 - x0) * weight
        if end <= hi:
            break
        q += 1


@njit(cache=True, inline="always")
def _add_event(out, d, c, time, n_quarters):
    q = int(math.floor(time / MONTHS_PER_QUARTER))
    if 0 <= q < n_quarters:
        out[d, c, q] += 1.0


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


@njit(cache=True)
def accumulate_paths(
    draw, start, age, completed, exp_draw, short1, z1, reentry_u, gap_exp, short2, z2,
    scale, shape, hr_completed, hr_not_completed, h_effect_end,
    short_share, short_median, short_sigma, long_median, long_sigma,
    reentry_probability, reentry_gap_mean, months_per_case,
    tracking_months, measurement_end, block_days, once_days,
    child, care_treated, care_counterfactual, completions_due, blocks, once, starts, completions,
):
    """Simulate both care paths of every person and add them into the output sums.

    Per person (N,): ``draw``, ``start`` (calendar months), ``age`` (years), ``completed``
    (bool) and the person's variates.  Per draw (n_draws,): the model parameters, with the
    Weibull ``scale`` already set from p30 and the hazards from :func:`per_draw_hazards`.  Outputs are added to in place: ``child``,
    ``care_treated``, ``care_counterfactual``, ``completions_due`` (n, C, Q) in days or counts;
    ``blocks`` (len(block_days), n, C, Q) whole-block days; ``once`` (len(once_days), n, C, Q)
    counts; ``starts``, ``completions`` (n, C).
    """
    n_quarters = child.shape[2]
    for i in range(draw.shape[0]):
        d = draw[i]
        s = start[i]
        c = int(math.floor(s / MONTHS_PER_QUARTER))
        to18 = (18.0 - age[i]) * 12.0
        window = min(min(tracking_months, to18), measurement_end - s)
        if window < 0.0:
            window = 0.0
        starts[d, c] += 1.0
        done = completed[i]
        if done:
            completions[d, c] += 1.0
            finish = s + months_per_case[d]
            if finish < measurement_end:
                _add_event(completions_due, d, c, finish, n_quarters)

        # Entry to care: the same Exp(1) variate under both hazards (carepaths.treated_entry).
        inv_k = 1.0 / shape[d]
        lam = scale[d]
        e = exp_draw[i]
        entry0 = lam * e**inv_k
        hr = hr_completed[d] if done else hr_not_completed[d]
        if hr == 1.0 or (hr < 1.0 and entry0 >= window):
            # Same path, or the treated entry is later still (HR < 1) and neither is in the window.
            entry1 = entry0
        else:
            h_eff = h_effect_end[d]
            if e <= hr * h_eff:
                entry1 = lam * (e / hr) ** inv_k
            else:
                entry1 = lam * (e + (1.0 - hr) * h_eff) ** inv_k

        _add_interval(child, d, c, s, s + window, n_quarters, DAYS_PER_MONTH)
        if min(entry0, entry1) >= window:
            # Neither path enters care inside the window (most young people): no care days,
            # and the whole window is one out-of-care spell.
            a1 = b1 = a2 = b2 = window
        else:
            if short1[i] < short_share[d]:
                dur1 = short_median[d] * math.exp(short_sigma[d] * z1[i])
            else:
                dur1 = long_median[d] * math.exp(long_sigma[d] * z1[i])
            if short2[i] < short_share[d]:
                dur2 = short_median[d] * math.exp(short_sigma[d] * z2[i])
            else:
                dur2 = long_median[d] * math.exp(long_sigma[d] * z2[i])
            reenters = reentry_u[i] < reentry_probability[d]
            gap = gap_exp[i] * reentry_gap_mean[d]
            a1, b1, a2, b2 = _episodes(entry0, dur1, dur2, reenters, gap, to18, window)
            _add_interval(care_counterfactual, d, c, s + a1, s + b1, n_quarters, DAYS_PER_MONTH)
            _add_interval(care_counterfactual, d, c, s + a2, s + b2, n_quarters, DAYS_PER_MONTH)
            a1, b1, a2, b2 = _episodes(entry1, dur1, dur2, reenters, gap, to18, window)
            _add_interval(care_treated, d, c, s + a1, s + b1, n_quarters, DAYS_PER_MONTH)
            _add_interval(care_treated, d, c, s + a2, s + b2, n_quarters, DAYS_PER_MONTH)

        if block_days.shape[0] == 0 and once_days.shape[0] == 0:
            continue
        # Treated out-of-care spells in the window (carepaths._out_of_care_spells).
        spell_begin = (0.0, b1, b2)
        spell_end = (a1, max(a2, b1), window)
        for j in range(block_days.shape[0]):
            block = block_days[j] / DAYS_PER_MONTH
            for m in range(3):
                begin = spell_begin[m]
                length = max(spell_end[m], begin) - begin
                whole = math.floor(length / block + 1e-9) * block
                _add_interval(blocks[j], d, c, s + begin, s + begin + whole, n_quarters, DAYS_PER_MONTH)
        for j in range(once_days.shape[0]):
            reach = once_days[j] / DAYS_PER_MONTH
            if a1 >= reach - 1e-9:  # the first spell, [0, a1), lasts N days
                _add_event(once[j], d, c, s + reach, n_quarters)


@njit(cache=True)
def per_draw_hazards(scale, shape, log_hr, non_completer_share, effect_months):
    """Per draw: hazard ratio for completers and non-completers, and H0 at the effect's end.

    Compiled so that the values come from the same maths library as the kernel's own.
    """
    n = scale.shape[0]
    hr_completed, hr_not_completed, h_effect_end = np.empty(n), np.empty(n), np.empty(n)
    for d in range(n):
        hr_completed[d] = math.exp(log_hr[d])
        hr_not_completed[d] = math.exp(log_hr[d] * non_completer_share[d])
        h_effect_end[d] = (effect_months[d] / scale[d]) ** shape[d]
    return hr_completed, hr_not_completed, h_effect_end


def empty_outputs(n_draws: int, n_cohorts: int, n_quarters: int, n_blocks: int, n_once: int):
    """Zeroed output arrays for :func:`accumulate_paths`."""
    cube = (n_draws, n_cohorts, n_quarters)
    return dict(
        child=np.zeros(cube), care_treated=np.zeros(cube), care_counterfactual=np.zeros(cube),
        completions_due=np.zeros(cube), blocks=np.zeros((n_blocks, *cube)), once=np.zeros((n_once, *cube)),
        starts=np.zeros((n_draws, n_cohorts)), completions=np.zeros((n_draws, n_cohorts)),
    )
