"""The internal rate of return of many cash-flow series at once, with the reason where it is undefined.

A vectorised solver for a million rows: safeguarded Newton on ``log(1 + r)``, bracketed by
Descartes' rule of signs or by a scan of NPV signs on a fixed grid (see :func:`irr`).  Cash flows
follow :mod:`simsib.contract.finance`'s conventions: shape ``(n, T)``, investor outflows negative.
"""

from __future__ import annotations

import enum

import numpy as np

from simsib.contract.finance import as_rows
from simsib.contract.irr_kernel import horner, horner_with_slope

__all__ = ["IRR_STATUS_TEXT", "IrrStatus", "irr"]


class IrrStatus(enum.IntEnum):
    """Why :func:`irr` returned the rate it did for one draw (stored as ``int8``)."""

    OK = 0
    TOTAL_LOSS = 1
    NO_INVESTMENT = 2
    NO_SIGN_CHANGE = 3
    NOT_CONVERGED = 4


IRR_STATUS_TEXT: dict[int, str] = {
    IrrStatus.OK.value: "IRR found: NPV is zero at this rate",
    IrrStatus.TOTAL_LOSS.value: (
        "money went in and nothing came back: IRR is -100% (the limit as recoveries tend to 0)"
    ),
    IrrStatus.NO_INVESTMENT.value: (
        "no money went in or came out (every flow is zero): IRR undefined"
    ),
    IrrStatus.NO_SIGN_CHANGE.value: (
        "money came back but none went in: NPV is positive at every rate, IRR undefined"
    ),
    IrrStatus.NOT_CONVERGED.value: (
        "no rate in the searched range makes NPV zero (flows with several sign changes and no"
        " real root, or a root beyond the search range), or the solver ran out of iterations"
    ),
}

# The IRR is sought in s = log(1 + r) per period, where NPV is smooth over the whole real line.
# Above s = 50 (r ~ 5e21 per period) no investment question is being asked.
_MAX_LOG_RATE = 50.0
# Each row is scaled to max |flow| = 1, so for s < 0, |NPV| <= T * exp(|s| * span); capping
# |s| * span at 650 keeps every sum below the float64 overflow at exp(709.8).
_MAX_EXPONENT = 650.0
# Blocks of rows keep the per-period vectors inside the CPU cache (measured: ~2x faster than
# whole 1e6-row columns) and bound the memory of the (rows, grid) matrix of NPVs.
_ROWS_PER_BLOCK = 16384


def _log_rate_grid() -> np.ndarray:
    """Points in s = log(1 + r), ascending, symmetric about 0, where NPV signs are scanned.

    Steps of 0.005 (about 0.5% per quarter, 2% a year) out to |s| = 0.25, where realistic
    rates live and where two roots of a multi-sign-change row could sit close together; then
    each step 10% wider out to |s| = 50.  106 points per side.
    """
    fine = np.arange(1, 51) * 0.005
    coarse = 0.25 * 1.1 ** np.arange(1, 56)
    side = np.concatenate([fine, coarse[coarse < _MAX_LOG_RATE], [_MAX_LOG_RATE]])
    return np.concatenate([-side[::-1], [0.0], side])


_GRID = _log_rate_grid()
_GRID_ZERO = _GRID.size // 2


def irr(
    cash_flows: np.ndarray, *, tol: float = 1e-12, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Periodic internal rate of return of each row, with the reason where it is undefined.

    Parameters
    ----------
    cash_flows : array_like, shape (n, T) or (T,)
        Investor cash flows per period (£; outflows negative), period 0 first.
    tol : float, optional
        Convergence tolerance on ``log(1 + r)``, i.e. roughly on the rate itself.
    max_iter : int, optional
        Newton/bisection iterations allowed per row after the bracketing scan.

    Returns
    -------
    rate : ndarray of float64, shape (n,) or ()
        Periodic rate ``r`` solving ``sum_t cash_flows[t] / (1 + r)**t = 0``; -1.0 for
        ``TOTAL_LOSS``; NaN for every other status except ``OK``.
    status : ndarray of int8, shape (n,) or ()
        :class:`IrrStatus` codes; :data:`IRR_STATUS_TEXT` gives a sentence for each.

    Notes
    -----
    Statuses are decided per row: all flows zero gives ``NO_INVESTMENT``; outflows and no
    inflows (``[-100, 0, 0]`` as much as ``[-100, -50]``) give ``TOTAL_LOSS``; inflows and no
    outflows give ``NO_SIGN_CHANGE``.  Rows with both are solved for ``s = log(1 + r)``,
    vectorised over rows, after dropping leading zeros and scaling each row to max |flow| = 1
    (neither moves the IRR):

    * One sign change (outflows then inflows, or the reverse): by Descartes' rule of signs
      NPV has exactly one root.  It is bracketed by the whole search range and found by
      safeguarded Newton (Numerical Recipes' ``rtsafe``: a Newton step that would leave the
      shrinking bracket, or that does not halve the step before last, becomes a bisection),
      starting from ``s0 = log(M) / (D_in - D_out)``, with ``M`` the money multiple and
      ``D`` the cash-weighted mean period of inflows and of outflows.  About 5 iterations.
    * Several sign changes: there may be several roots.  ``numpy_financial.irr`` returns
      the real root with the smallest ``|r|``, and so does this function.  NPV is evaluated,
      as one matrix product, on a fixed grid of ``s`` (steps of 0.005 out to |s| = 0.25, then
      10% wider each step; see ``_log_rate_grid``); on each side of ``r = 0`` the first cell
      where NPV changes sign brackets the nearest root on that side, which is polished as
      above from the cell's regula falsi point; the one with smaller ``|r|`` is returned.
      Two roots inside one grid cell cancel in the sign scan and are not seen (the next
      root out, or ``NOT_CONVERGED``, is returned instead), and a tangent (double) root is
      never found; numpy_financial usually misses the latter too, because ``np.roots``
      returns it with a tiny imaginary part and only exactly real roots are kept.

    The search is limited to ``s`` in ``[-min(50, 650 / span), 50]``, where ``span`` is the
    number of periods from the row's first to last non-zero flow, so that no sum can overflow;
    for a 40-quarter row that is ``r >= -1 + 1e-7``.  Rows with no root there are
    ``NOT_CONVERGED``.  An ``OK`` rate within 1e-16 of -100% rounds to -1.0, and a flow
    below ~1e-308 of its row's largest counts as zero.

    Examples
    --------
    >>> rate, status = irr([[-100, 110, 0], [-100, 0, 121], [-100, 0, 0], [0, 0, 0], [100, 50, 0]])
    >>> rate.round(6).tolist()
    [0.1, 0.1, -1.0, nan, nan]
    >>> [IrrStatus(code).name for code in status]
    ['OK', 'OK', 'TOTAL_LOSS', 'NO_INVESTMENT', 'NO_SIGN_CHANGE']
    >>> rate, status = irr([-100, 39, 59, 55, 20])
    >>> round(float(rate), 5), IrrStatus(status).name
    (0.28095, 'OK')
    """
    flows, one_row = as_rows(cash_flows)
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number; got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer; got {max_iter!r}")
    n_rows = flows.shape[0]
    rates = np.empty(n_rows)
    statuses = np.empty(n_rows, dtype=np.int8)
    for start in range(0, n_rows, _ROWS_PER_BLOCK):
        block = slice(start, start + _ROWS_PER_BLOCK)
        rates[block], statuses[block] = _irr_block(flows[block], tol, int(max_iter))
    if one_row:
        return rates[0], statuses[0]
    return rates, statuses


def _irr_block(flows: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`irr` for one block of rows of ``flows`` (shape (m, T), finite)."""
    # Scaling a row leaves its IRR unchanged, and max |flow| = 1 is what bounds every sum (see
    # _MAX_EXPONENT).  A flow below ~1e-308 of its row's largest underflows to zero here: a
    # recovery that small is a total loss for any purpose.
    largest = np.abs(flows).max(axis=1, keepdims=True, initial=0.0)
    flows = flows / np.where(largest > 0, largest, 1.0)
    has_out = (flows < 0).any(axis=1)
    has_in = (flows > 0).any(axis=1)
    rates = np.full(flows.shape[0], np.nan)
    statuses = np.full(flows.shape[0], IrrStatus.NOT_CONVERGED, dtype=np.int8)
    statuses[~has_out & ~has_in] = IrrStatus.NO_INVESTMENT
    statuses[~has_out & has_in] = IrrStatus.NO_SIGN_CHANGE
    total_loss = has_out & ~has_in
    statuses[total_loss] = IrrStatus.TOTAL_LOSS
    rates[total_loss] = -1.0
    mixed = np.flatnonzero(has_out & has_in)
    if mixed.size == 0:
        return rates, statuses
    coef, span = _aligned(flows[mixed] if mixed.size < flows.shape[0] else flows)
    lowest = -np.minimum(_MAX_LOG_RATE, _MAX_EXPONENT / span)
    # Descartes' rule of signs: one sign change (either way round) means exactly one root.
    one_change = _sign_changes_once(coef)
    if one_change.all():  # the usual case: skip copying the block
        log_rate = _unique_root(coef, lowest, tol, max_iter)
    else:
        log_rate = np.empty(mixed.size)
        log_rate[one_change] = _unique_root(coef[one_change], lowest[one_change], tol, max_iter)
        several = ~one_change
        log_rate[several] = _nearest_root(coef[several], lowest[several], tol, max_iter)
    solved = ~np.isnan(log_rate)
    rates[mixed[solved]] = np.expm1(log_rate[solved])
    statuses[mixed[solved]] = IrrStatus.OK
    return rates, statuses


def _aligned(flows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows shifted left past their leading zeros (which do not move the IRR).

    Returns the coefficients, shape (m, width) with ``coef[:, 0] != 0`` and width = 1 + the
    largest span, and ``span`` (m,): periods from first to last non-zero flow.  Rows must
    hold a non-zero flow.
    """
    n_periods = flows.shape[1]
    nonzero = flows != 0
    first = nonzero.argmax(axis=1)
    last = n_periods - 1 - nonzero[:, ::-1].argmax(axis=1)
    span = last - first
    width = span.max() + 1
    # Rows starting at period 0 only need trimming (past `last` they are already zero); the
    # gather is paid only for the rows that start later.
    coef = flows[:, :width]
    late = np.flatnonzero(first > 0)
    if late.size:
        coef = coef.copy()
        columns = first[late, None] + np.arange(width)
        shifted = np.take_along_axis(flows[late], np.minimum(columns, n_periods - 1), axis=1)
        shifted[columns > last[late, None]] = 0.0  # clipped duplicates, not flows
        coef[late] = shifted
    return coef, span


def _sign_changes_once(coef: np.ndarray) -> np.ndarray:
    """(m,) bool: all outflows precede all inflows, or all inflows precede all outflows."""
    width = coef.shape[1]
    negative, positive = coef < 0, coef > 0
    first_negative, first_positive = negative.argmax(axis=1), positive.argmax(axis=1)
    last_negative = width - 1 - negative[:, ::-1].argmax(axis=1)
    last_positive = width - 1 - positive[:, ::-1].argmax(axis=1)
    return (last_negative < first_positive) | (last_positive < first_negative)


def _unique_root(coef: np.ndarray, lowest: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    """``log(1 + r)`` of the only NPV root of rows with one sign change (NaN if out of range).

    The bracket is the whole search range ``[lowest, 50]``; the first guess equates the
    money multiple with growth over the gap between the cash-weighted mean dates of inflows
    and outflows, ``M = (1 + r)**(D_in - D_out)``, which is exact for a single in and out.
    """
    if coef.shape[0] == 0:
        return np.empty(0)
    # ``coef`` rows: aligned (coef[:, 0] != 0), scaled to max |flow| = 1, one sign change.
    periods = np.arange(coef.shape[1])
    inflow, outflow = np.clip(coef, 0, None), np.clip(-coef, 0, None)
    total_in, total_out = inflow.sum(axis=1), outflow.sum(axis=1)
    gap = inflow @ periods / total_in - outflow @ periods / total_out  # never 0: dates differ
    guess = np.clip((np.log(total_in) - np.log(total_out)) / gap, lowest, _MAX_LOG_RATE)
    coef_by_period = np.ascontiguousarray(coef.T)
    highest = np.full_like(lowest, _MAX_LOG_RATE)
    f_lowest, f_highest = _npv(coef_by_period, np.stack([lowest, highest]))
    # Same sign at both ends: the root lies beyond the search range.
    inside = np.sign(f_lowest) != np.sign(f_highest)
    if inside.all():
        return _safeguarded_newton(coef_by_period, lowest, highest, f_lowest, guess, tol, max_iter)
    roots = np.full(coef.shape[0], np.nan)
    roots[inside] = _safeguarded_newton(
        coef_by_period[:, inside], lowest[inside], highest[inside], f_lowest[inside],
        guess[inside], tol, max_iter,
    )
    return roots


def _nearest_root(coef: np.ndarray, lowest: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    """``log(1 + r)`` of the NPV root with the smallest |r| per row (NaN if none found).

    ``coef`` (m, width) as from :func:`_aligned`, rows scaled to max |flow| = 1; ``lowest``
    (m,) is each row's lower search limit in ``s``.  See :func:`irr`, Notes, for the method.
    """
    m = coef.shape[0]
    # Clipping the exponent only alters entries that rows beyond their own overflow limit
    # would use, and crossings found there are discarded below.
    powers = np.exp(np.minimum(-np.outer(np.arange(coef.shape[1]), _GRID), 700.0))
    grid_npv = coef @ powers  # (m, G)
    at_zero = grid_npv[:, _GRID_ZERO]
    # Grid points usable on the r < 0 side, counting outward from 0.
    usable_below = np.searchsorted(-_GRID[_GRID_ZERO::-1], -lowest, side="right") - 1

    rows, lows, highs, f_lows, guesses = [], [], [], [], []
    outward = ((slice(_GRID_ZERO, None), _GRID_ZERO), (slice(_GRID_ZERO, None, -1), usable_below))
    for side, usable in outward:  # r > 0, then r < 0
        points, values = _GRID[side], grid_npv[:, side]
        # A product <= 0 is a sign change or a zero at a grid point (the cell ends on the root).
        crossed = values[:, 1:] * at_zero[:, None] <= 0
        cell_end = crossed.argmax(axis=1) + 1
        side_rows = np.flatnonzero(
            crossed[np.arange(m), cell_end - 1] & (cell_end <= usable) & (at_zero != 0)
        )
        cell_end = cell_end[side_rows]
        a, b = points[cell_end - 1], points[cell_end]
        f_a, f_b = values[side_rows, cell_end - 1], values[side_rows, cell_end]
        rows.append(side_rows)
        lows.append(a)
        f_lows.append(f_a)
        highs.append(b)
        guesses.append(a - f_a * (b - a) / (f_b - f_a))  # regula falsi: the cells are small
    roots = _safeguarded_newton(
        np.ascontiguousarray(coef[np.concatenate(rows)].T),
        *(np.concatenate(parts) for parts in (lows, highs, f_lows, guesses)),
        tol,
        max_iter,
    )

    distance = np.full((2, m), np.inf)
    chosen = np.full((2, m), np.nan)
    failed = np.zeros(m, dtype=bool)
    side_roots = np.split(roots, [rows[0].size])
    for k in range(2):
        chosen[k, rows[k]] = side_roots[k]
        distance[k, rows[k]] = np.abs(np.expm1(side_roots[k]))
        # A bracket that was found but not solved might hold the nearer root: report nothing.
        failed[rows[k][np.isnan(side_roots[k])]] = True
    log_rate = np.where(distance[1] < distance[0], chosen[1], chosen[0])
    log_rate[at_zero == 0] = 0.0
    log_rate[failed] = np.nan
    return log_rate


def _npv(coef_by_period: np.ndarray, log_rate: np.ndarray) -> np.ndarray:
    """NPV alone, as :func:`_npv_and_slope` computes it; ``log_rate`` has shape (P,) or (k, P),
    k rates per column evaluated in one pass."""
    x = np.exp(-log_rate)  # numpy's exp, as before: the compiled Horner (irr_kernel) only multiplies and adds
    return horner(np.ascontiguousarray(coef_by_period), np.ascontiguousarray(np.atleast_2d(x))).reshape(x.shape)


def _npv_and_slope(
    coef_by_period: np.ndarray, log_rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """NPV and dNPV/ds at ``s = log(1 + r)``, by Horner's rule in ``x = exp(-s)``.

    ``coef_by_period`` has shape (width, P), period first, so each step reads a contiguous
    vector; ``log_rate`` has shape (P,).  ``NPV = sum_t c_t x**t``, ``dNPV/ds = -x P'(x)``.
    """
    x = np.exp(-log_rate)
    return horner_with_slope(np.ascontiguousarray(coef_by_period), np.ascontiguousarray(x))


def _safeguarded_newton(
    coef_by_period: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    f_a: np.ndarray,
    guess: np.ndarray,
    tol: float,
    max_iter: int,
) -> np.ndarray:
    """Root in ``s`` of each column's NPV inside the bracket [a, b] (NaN if not converged).

    Vectorised ``rtsafe`` (Numerical Recipes, 3rd ed., section 9.4).  NPV changes sign over
    each bracket: ``f_a``, the NPV at ``a``, is non-zero and the NPV at ``b`` has the other
    sign or is zero.  ``guess`` lies in [a, b].
    """
    n_problems = a.size
    roots = np.full(n_problems, np.nan)
    low = np.where(f_a < 0, a, b)  # NPV < 0 at `low`, > 0 at `high`
    high = np.where(f_a < 0, b, a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = guess
        step = step_before = np.abs(b - a)
        live = np.arange(n_problems)
        for _ in range(max_iter):
            if live.size == 0:
                break
            f, slope = _npv_and_slope(coef_by_period, s)
            negative = f < 0
            low = np.where(negative, s, low)
            high = np.where(negative, high, s)
            newton = s - f / slope
            # Bisect when Newton would leave the bracket or is not at least halving the step
            # before last.  The bracket test is inclusive: at the root a step below one ulp
            # lands *on* the bracket end, and must count as converged, not bisect.  NaN/inf
            # Newton points fail it, so a zero slope is safe.
            leaves_bracket = ~((newton - low) * (newton - high) <= 0)
            bisect = leaves_bracket | (np.abs(2 * f) > np.abs(step_before * slope))
            step_before = step
            step = np.where(bisect, 0.5 * (high - low), f / slope)
            s_next = np.where(bisect, low + step, newton)
            converged = (f == 0) | (np.abs(step) < tol)
            roots[live[converged]] = np.where(f == 0, s, s_next)[converged]
            keep = ~converged
            if not keep.all():
                coef_by_period = coef_by_period[:, keep]
                live, s_next, low, high = live[keep], s_next[keep], low[keep], high[keep]
                step, step_before = step[keep], step_before[keep]
            s = s_next
    return roots


