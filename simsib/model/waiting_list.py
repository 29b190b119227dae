"""The waiting list: converted referrals above capacity wait for a place, drop out or lapse.

Per draw (axis 0) and service month ``m = 0 … M − 1`` (``M = service_end_month``), with
``C_m`` the converted referrals and ``P_m`` the places the active therapists can take on
(:mod:`simsib.model.referrals`), ``W = max_wait_months`` and ``d = waiting_dropout_per_month``:

* **State.** At the start of month ``m``, ``w_{m,a}`` families who converted in month
  ``m − a`` (``a = 1 … W``) are still waiting.
* **Arrivals.** ``A_m = C_m`` while the service is open, else 0.
* **Places.** ``P_m``; under a ``ceiling`` target rule also at most the target less the starts
  so far.
* **Starts take the queue first, oldest first** [judgement: a waiting list is served in
  order].  With the groups in the order ``L = (w_{m,W}, …, w_{m,1}, A_m)`` and ``Λ_j`` the sum
  of the groups before group ``j``, group ``j`` gets ``min(L_j, max(P_m − Λ_j, 0))`` places:
  ``S_m = min(Σ_j L_j, P_m)``.
* **Lapses.** What is left of the oldest group (``w_{m,W}``) has waited the longest allowed
  [judgement: MST is a crisis service; a family still waiting after ``W`` months is no longer
  at the edge of care it was referred for] and leaves the list.
* **Drop-outs.** Every other group left over (and the arrivals left over) waits into month
  ``m + 1``; of the ``n`` in a group, ``D ~ Binomial(n, d)`` drop out in that month
  [judgement: the crisis resolves, the young person enters care, or the family disengages].
  What remains is ``w_{m+1, a+1}``.
* **Target** (``target_young_people``, when set).  Once ``Σ_{m' ≤ m} S_m'`` reaches it the
  service takes no new referrals from month ``m + 1``.  Under the ``plan`` rule the families
  already waiting still start as places allow (Essex planned 380 and served 388, E11, E5);
  under the ``ceiling`` rule they are turned away at once.
* **Close.** Families still waiting when the service ends (month ``M``), or turned away at a
  ceiling, are *waiting at close*.

Conservation, for every draw: ``Σ_m A_m = Σ_m S_m + drop-outs + lapses + waiting at close``.
``W = 0`` is "no waiting list": converted referrals above capacity lapse in the month they
convert, as before this module existed.

Randomness.  Drop-outs are drawn by inverting the binomial distribution function at one
uniform per draw, month and group, all drawn up front from the chunk's ``waiting`` stream, so
their number depends only on the draws, months and ``W`` -- never on the capacity, the drop-out
rate or the queue.  At a fixed uniform the binomial quantile is nondecreasing in ``n`` and in
``d``, and ``n − D`` is nondecreasing in ``n`` (``Bin(n+1, d)`` lies stochastically between
``Bin(n, d)`` and ``Bin(n, d) + 1``).  Hence, on the same random numbers, more places in any
month never lengthen any group of the queue, never add a drop-out or a lapse, and so never lower
the starts to date -- until the target is reached, after which a draw that reached it earlier
closes earlier (under a plan it may then start fewer than a draw that reached it later with a
longer queue, but never fewer than the target).  Converted referrals come from the
``referrals`` stream as before, so a variant of the queue's inputs leaves them unchanged.

Code.  :func:`run_waiting_list` is the readable reference, vectorised over draws with a loop
over months; :func:`waiting_list` is the same loop compiled (numba), which the model uses;
``tests/test_waiting_list.py`` checks that they agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, vectorize


@dataclass(frozen=True)
class Intake:
    """Who converts, starts and leaves the list, per draw.

    converted : (n_draws, n_months) int64, converted referrals (demand for a place), as drawn
    accepted : (n_draws, n_months) int64, those of them who joined while the service was open
    starts : (n_draws, n_months) int64, young people starting MST
    dropped_out, lapsed, waiting_at_close : (n_draws,) int64, families who left the list by
        dropping out, by waiting the longest allowed, or because the service closed
    """

    converted: np.ndarray
    accepted: np.ndarray
    starts: np.ndarray
    dropped_out: np.ndarray
    lapsed: np.ndarray
    waiting_at_close: np.ndarray


def _binomial_quantile(u, n, p):
    """Smallest ``k`` with ``P(Binomial(n, p) ≤ k) ≥ u``.

    Sums the probabilities ``k = 0, 1, …`` in log space, so a large ``n`` does not underflow
    ``P(X = 0)``; the loop stops at the quantile, a handful of steps for the queues here.
    ``n ≤ 0`` or ``p ≤ 0`` gives 0, ``p ≥ 1`` gives ``n``.
    """
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    log_odds = math.log(p) - math.log1p(-p)
    log_pmf = n * math.log1p(-p)  # log P(X = 0)
    cdf = math.exp(log_pmf)
    k = 0
    while cdf < u and k < n:
        # P(X = k + 1) = P(X = k) · (n − k)/(k + 1) · p/(1 − p)
        log_pmf += math.log(n - k) - math.log(k + 1) + log_odds
        k += 1
        cdf += math.exp(log_pmf)
    return k


_BINOMIAL_QUANTILE_UFUNC = []


def binomial_quantile(u, n, p):
    """:func:`_binomial_quantile` as a compiled ufunc (arrays broadcast), for the numpy reference
    and the tests; the compiled queue has it inline (:func:`_queue`).

    Built on first use: an eagerly typed ``vectorize`` compiles (or loads its cache) at import,
    which every ``simsib run`` would pay at start-up for a function only the reference calls.
    """
    if not _BINOMIAL_QUANTILE_UFUNC:
        _BINOMIAL_QUANTILE_UFUNC.append(vectorize(["int64(float64, int64, float64)"], cache=True)(_binomial_quantile))
    return _BINOMIAL_QUANTILE_UFUNC[0](u, n, p)


def run_waiting_list(
    converted: np.ndarray,
    places: np.ndarray,
    max_wait: int,
    dropout: np.ndarray,
    uniforms: np.ndarray,
    target: int | None = None,
    ceiling: bool = False,
) -> Intake:
    """The queue of the module docstring, vectorised over draws (a loop over months).

    The readable reference: :func:`waiting_list` gives the same numbers from a compiled loop
    (``tests/test_waiting_list.py`` checks it), as numpy's per-call overhead over 60 months
    of small arrays cost a tenth of a chunk's time.

    Parameters
    ----------
    converted : (n_draws, n_months) int, converted referrals ``C_m``
    places : (n_draws, n_months) int, places the therapists can take on ``P_m``
    max_wait : ``W``, months a family may wait after the month it converts (0: no list)
    dropout : (n_draws,) share of those waiting who drop out each month
    uniforms : (n_draws, n_months, max(W, 1)) uniforms on [0, 1) for the drop-outs
    target : starts that close the service (None: no target); ``ceiling``: the target's rule
    """
    n, n_months = converted.shape
    starts = np.zeros((n, n_months), dtype=np.int64)
    accepted = np.zeros((n, n_months), dtype=np.int64)
    waiting = np.zeros((n, max_wait), dtype=np.int64)  # oldest first: column 0 waited W months
    dropped, lapsed, closed_out = (np.zeros(n, dtype=np.int64) for _ in range(3))
    started = np.zeros(n, dtype=np.int64)
    is_open = np.ones(n, dtype=bool)
    dropout = np.asarray(dropout, dtype=float)[:, None]
    for m in range(n_months):
        arrivals = np.where(is_open, converted[:, m], 0)
        accepted[:, m] = arrivals
        room = places[:, m].astype(np.int64)
        if target is not None and ceiling:
            room = np.minimum(room, np.maximum(target - started, 0))
        groups = np.concatenate([waiting, arrivals[:, None]], axis=1)  # oldest first
        before = np.cumsum(groups, axis=1) - groups
        taken = np.minimum(groups, np.maximum(room[:, None] - before, 0))
        starts[:, m] = taken.sum(axis=1)
        started += starts[:, m]
        left = groups - taken
        if max_wait > 0:
            lapsed += left[:, 0]
            staying = left[:, 1:]
            leaving = binomial_quantile(uniforms[:, m, :], staying, dropout)  # (n, W)
            dropped += leaving.sum(axis=1)
            waiting = staying - leaving
        else:
            lapsed += left[:, 0]
        if target is not None:
            reached = is_open & (started >= target)
            is_open &= ~reached
            if ceiling and max_wait > 0:
                closed_out += np.where(reached, waiting.sum(axis=1), 0)
                waiting[reached] = 0
    closed_out += waiting.sum(axis=1)
    return Intake(converted=converted, accepted=accepted, starts=starts, dropped_out=dropped, lapsed=lapsed,
                  waiting_at_close=closed_out)


def waiting_list(
    converted: np.ndarray,
    places: np.ndarray,
    max_wait: int,
    dropout: np.ndarray,
    uniforms: np.ndarray,
    target: int | None = None,
    ceiling: bool = False,
) -> Intake:
    """:func:`run_waiting_list`, compiled: a loop over draws and months (same arguments)."""
    n, n_months = converted.shape
    starts, accepted = (np.zeros((n, n_months), dtype=np.int64) for _ in range(2))
    dropped, lapsed, closed_out = (np.zeros(n, dtype=np.int64) for _ in range(3))
    _queue(np.ascontiguousarray(converted, dtype=np.int64), np.ascontiguousarray(places, dtype=np.int64),
           int(max_wait), np.ascontiguousarray(dropout, dtype=np.float64), np.ascontiguousarray(uniforms),
           -1 if target is None else int(target), bool(ceiling), starts, accepted, dropped, lapsed, closed_out)
    return Intake(converted=converted, accepted=accepted, starts=starts, dropped_out=dropped, lapsed=lapsed,
                  waiting_at_close=closed_out)


@njit(cache=True)
def _queue(converted, places, max_wait, dropout, uniforms, target, ceiling,
           starts, accepted, dropped, lapsed, closed_out):  # pragma: no cover  (compiled)
    """The steps of the module docstring, draw by draw and month by month, into the zeroed
    outputs; ``target`` −1 means none.  ``waiting[a]`` is group ``a``, oldest first."""
    n, n_months = converted.shape
    waiting = np.zeros(max(max_wait, 1), dtype=np.int64)
    # log k for whole k up to the largest group (no group outgrows the month it converted in),
    # with the drop-out rate's logs below: _binomial_quantile's own values, each computed once.
    log_whole = np.zeros(max(converted.max() if converted.size else 0, 0) + 2)
    for k in range(1, log_whole.size):
        log_whole[k] = math.log(k)
    for d in range(n):
        waiting[:] = 0
        started = 0
        is_open = True
        p = dropout[d]
        log_stay, log_odds = 0.0, 0.0
        if 0.0 < p < 1.0:
            log_stay = math.log1p(-p)
            log_odds = math.log(p) - math.log1p(-p)
        for m in range(n_months):
            arrivals = converted[d, m] if is_open else 0
            accepted[d, m] = arrivals
            room = places[d, m]
            if target >= 0 and ceiling:
                room = min(room, max(target - started, 0))
            taken = 0
            for a in range(max_wait):  # the queue first, oldest first
                take = min(waiting[a], room - taken)
                waiting[a] -= take
                taken += take
            take = min(arrivals, room - taken)
            arrivals -= take
            taken += take
            starts[d, m] = taken
            started += taken
            if max_wait > 0:
                lapsed[d] += waiting[0]
                for a in range(max_wait - 1):
                    waiting[a] = waiting[a + 1]
                waiting[max_wait - 1] = arrivals
                for a in range(max_wait):
                    # _binomial_quantile(uniforms[d, m, a], waiting[a], p), inline.
                    group = waiting[a]
                    if group <= 0 or p <= 0.0:
                        continue
                    leaving = group
                    if p < 1.0:
                        u = uniforms[d, m, a]
                        log_pmf = group * log_stay
                        cdf = math.exp(log_pmf)
                        leaving = 0
                        while cdf < u and leaving < group:
                            log_pmf += log_whole[group - leaving] - log_whole[leaving + 1] + log_odds
                            leaving += 1
                            cdf += math.exp(log_pmf)
                    dropped[d] += leaving
                    waiting[a] -= leaving
            else:
                lapsed[d] += arrivals
            if target >= 0 and is_open and started >= target:
                is_open = False
                if ceiling and max_wait > 0:
                    closed_out[d] += waiting[:max_wait].sum()
                    waiting[:] = 0
        if max_wait > 0:
            closed_out[d] += waiting[:max_wait].sum()
