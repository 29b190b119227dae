"""Horner's rule for the IRR's root search (:mod:`simsib.contract.irr`), compiled.

The NPV of each column of a block of cash flows at a discount factor ``x``, and its slope in
``s = log(1 + r)``, column by column, with the operations of the numpy loops they replaced in
their order (``value = value * x``, then ``+`` the coefficient: two roundings, no fused
multiply-add), so the same numbers to the last bit, without a pass over the block for each
period (0.3 ms a chunk of 1,000 draws).  Compiled with numba (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def horner(coef_by_period, x):  # pragma: no cover  (compiled)
    """NPV of each column of ``coef_by_period`` (W, P) at each row of ``x`` (k, P): (k, P)."""
    width = coef_by_period.shape[0]
    out = np.empty(x.shape)
    for r in range(x.shape[0]):
        for p in range(x.shape[1]):
            xp = x[r, p]
            value = coef_by_period[width - 1, p]
            for t in range(width - 2, -1, -1):
                value = value * xp
                value = value + coef_by_period[t, p]
            out[r, p] = value
    return out


@njit(cache=True)
def horner_with_slope(coef_by_period, x):  # pragma: no cover  (compiled)
    """(NPV, dNPV/ds) of each column of ``coef_by_period`` (W, P) at ``x`` (P,)."""
    width, n = coef_by_period.shape
    values, slopes = np.empty(n), np.empty(n)
    for p in range(n):
        xp = x[p]
        value = coef_by_period[width - 1, p]
        slope = 0.0
        for t in range(width - 2, -1, -1):
            slope = slope * xp
            slope = slope + value
            value = value * xp
            value = value + coef_by_period[t, p]
        values[p] = value
        slopes[p] = slope * -xp
    return values, slopes
