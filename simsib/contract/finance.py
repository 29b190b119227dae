"""Investor cash-flow arithmetic: IRR, NPV, payback period and money multiple.

Every function takes ``cash_flows`` of shape ``(n, T)``: axis 0 is the Monte Carlo draw, axis 1
the period (a quarter in simsib), period 0 first, amounts in £.  A single series of shape
``(T,)`` is also accepted and gives 0-d results.

Sign convention (as in numpy-financial): flows are seen from the investor.  Money the investor
pays in (capital drawn) is negative; money paid out to the investor (distributions) is positive.

Where a figure is undefined the result is NaN, never an exception: a draw with no outflows has
no money multiple, and :func:`simsib.contract.irr.irr` returns, per draw, a status saying why
its rate is NaN (or -1).  Non-finite cash flows are a bug upstream and raise :class:`ValueError`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["annualise", "as_rows", "money_multiple", "npv", "payback_period", "running_max", "running_sum"]


def running_sum(values: np.ndarray) -> np.ndarray:
    """``np.cumsum(values, axis=-1)``, the same numbers to the last bit, about twice as fast on
    (draws, quarters) arrays.

    numpy accumulates each short row on its own; here the last axis goes first and each step
    adds a whole row of draws (the additions, and their order, are those of ``np.cumsum``).
    Arrays other than float64 go to ``np.cumsum`` (its integer result type).  Returns a new
    C-contiguous array of ``values``' shape.
    """
    return _running(np.add, values) if np.asarray(values).dtype == np.float64 else np.cumsum(values, axis=-1)


def running_max(values: np.ndarray) -> np.ndarray:
    """``np.maximum.accumulate(values, axis=-1)`` for float64 ``values``, as :func:`running_sum`."""
    return _running(np.maximum, np.asarray(values, dtype=np.float64))


def _running(step: np.ufunc, values: np.ndarray) -> np.ndarray:
    two_d = values.ndim == 2  # (draws, quarters), the usual case: a transpose, not moveaxis
    steps = (values.T if two_d else np.moveaxis(values, -1, 0)).copy(order="C")  # a copy: values never change
    for t in range(1, steps.shape[0]):
        step(steps[t - 1 : t], steps[t : t + 1], out=steps[t : t + 1])  # slices: 1-D input too
    return np.ascontiguousarray(steps.T if two_d else np.moveaxis(steps, 0, -1))




def as_rows(cash_flows: np.ndarray) -> tuple[np.ndarray, bool]:
    """``cash_flows`` as a finite float64 array of shape (n, T), and whether it was 1-D."""
    flows = np.asarray(cash_flows, dtype=np.float64)
    if flows.ndim not in (1, 2):
        raise ValueError(
            f"cash_flows must have shape (n, T) or (T,); got an array of shape {flows.shape}"
        )
    one_row = flows.ndim == 1
    flows = np.atleast_2d(flows)
    bad_rows = np.flatnonzero(~np.isfinite(flows).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"cash_flows must be finite; {bad_rows.size} row(s) hold NaN or inf, the first is"
            f" row {bad_rows[0]}: {flows[bad_rows[0]].tolist()!r}"
        )
    return flows, one_row


def annualise(periodic_rate: np.ndarray, periods_per_year: int = 4) -> np.ndarray:
    """Convert a periodic rate to an annual one by compounding: ``(1 + r)**p - 1``.

    Parameters
    ----------
    periodic_rate : array_like, any shape
        Rate per period, e.g. per quarter from :func:`irr`.
    periods_per_year : int, optional
        4 for quarters, 12 for months.

    Returns
    -------
    ndarray of float64, same shape as ``periodic_rate``
        Annual rate.  NaN stays NaN, -1 (total loss) stays -1, and rates below -1 (no
        meaning as a return) give NaN.

    Examples
    --------
    >>> annualise([0.1, -1.0, np.nan]).round(4).tolist()
    [0.4641, -1.0, nan]
    """
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive; got {periods_per_year!r}")
    rate = np.asarray(periodic_rate, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        annual = np.expm1(periods_per_year * np.log1p(rate))  # accurate for small rates
    return np.where(rate < -1, np.nan, annual)


def npv(rate_per_period: float | np.ndarray, cash_flows: np.ndarray) -> np.ndarray:
    """Net present value of each row: ``sum_t cash_flows[:, t] / (1 + rate)**t``.

    As in ``numpy_financial.npv``, the flow at index 0 is not discounted (flows fall at the
    start of their period, or the rate is per period and period 0 is "now").

    Parameters
    ----------
    rate_per_period : float or array_like, shape (n,)
        Discount rate per period, one for all rows or one per row.
    cash_flows : array_like, shape (n, T) or (T,)
        Investor cash flows (£; outflows negative), period 0 first.

    Returns
    -------
    ndarray of float64, shape (n,) or ()
        NPV in £ at period 0.  A rate of -1 gives ±inf or NaN (undefined).

    Examples
    --------
    >>> npv(0.25, [[-100, 125, 0], [-100, 0, 125]]).tolist()
    [0.0, -20.0]
    >>> float(npv([0.08], [[-40_000, 5_000, 8_000, 12_000, 30_000]])[0].round(5))
    3065.22267
    """
    flows, one_row = as_rows(cash_flows)
    rate = np.asarray(rate_per_period, dtype=np.float64)
    if rate.ndim > 1 or (rate.ndim == 1 and rate.shape[0] != flows.shape[0]):
        raise ValueError(
            f"rate_per_period must be a scalar or have shape ({flows.shape[0]},), one rate per"
            f" row of cash_flows; got shape {rate.shape}"
        )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        discount = (1 + rate.reshape(-1, 1)) ** np.arange(flows.shape[1])
        # An extreme rate can overflow or underflow the discount factor; a zero flow is
        # still worth exactly 0 then, not 0/0 = NaN.
        values = np.where(flows == 0, 0.0, flows / discount).sum(axis=1)
    return values[0] if one_row else values


def payback_period(cash_flows: np.ndarray) -> np.ndarray:
    """First period from which the investor's cumulative cash position stays >= 0.

    With ``cum[t] = cash_flows[:, :t + 1].sum()``, the payback period is the first ``t`` such
    that ``cum[u] >= 0`` for every ``u >= t``, given that some earlier ``cum`` was negative.

    Parameters
    ----------
    cash_flows : array_like, shape (n, T) or (T,)
        Investor cash flows (£; outflows negative), period 0 first.

    Returns
    -------
    ndarray of float64, shape (n,) or ()
        Period index (quarters in simsib, counted from period 0); NaN when the cumulative
        position is still negative at the last period (never paid back); 0 when it is never
        negative (nothing to pay back).  A cumulative position within rounding of zero
        (``T * eps * sum |flows| so far``) counts as paid back, so break-even is not lost to
        float error.

    Examples
    --------
    >>> payback_period([[-100, 30, 80, -20, 50], [-100, 50, 40, 0, 0], [0, 10, -5, 0, 0]]).tolist()
    [4.0, nan, 0.0]
    """
    flows, one_row = as_rows(cash_flows)
    n_periods = flows.shape[1]
    cumulative = running_sum(flows)
    rounding = n_periods * np.finfo(np.float64).eps * running_sum(np.abs(flows))
    under_water = cumulative < -rounding
    # The sentinel column (never under water) gives argmax something to find with no periods.
    under_water = np.concatenate([under_water, np.zeros((len(flows), 1), dtype=bool)], axis=1)
    last_under = n_periods - under_water[:, ::-1].argmax(axis=1)
    period = np.where(last_under == n_periods - 1, np.nan, last_under + 1.0)
    period[~under_water.any(axis=1)] = 0.0
    return period[0] if one_row else period


def money_multiple(cash_flows: np.ndarray) -> np.ndarray:
    """Total inflows divided by total outflows of each row (MOIC on capital drawn).

    ``sum(max(c, 0)) / sum(max(-c, 0))`` over the row's periods; flows are netted within
    a period before this is taken, as the matrix holds net flows.

    Parameters
    ----------
    cash_flows : array_like, shape (n, T) or (T,)
        Investor cash flows (£; outflows negative), period 0 first.

    Returns
    -------
    ndarray of float64, shape (n,) or ()
        Multiple (dimensionless; 1.0 is money back, 0.0 is total loss); NaN for rows with no
        outflows.

    Examples
    --------
    >>> money_multiple([[-100, 50, 95], [-50, -50, 0], [0, 10, 0]]).tolist()
    [1.45, 0.0, nan]
    """
    flows, one_row = as_rows(cash_flows)
    inflow = np.clip(flows, 0, None).sum(axis=1)
    outflow = np.clip(-flows, 0, None).sum(axis=1)
    # A vanishing outflow can overflow the ratio to inf, which is the right answer.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        multiple = np.where(outflow > 0, inflow / outflow, np.nan)
    return multiple[0] if one_row else multiple
