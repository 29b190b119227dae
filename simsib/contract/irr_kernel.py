"""Horner's rule for the IRR's root search (:mod:`simsib.contract.irr`), compiled.

The NPV of each column of a block of cash flows at a discount factor ``x``, and its slope in
``s = log(1 + r)``, period by period over all columns, with the operations of the numpy loops
they replaced in their order (``value * x``, then ``+`` the coefficient: two roundings, no fused
multiply-add), so the same numbers to the last bit, without the loops' temporaries (the IRR of
a chunk of 1,000 Essex draws 0.68 -> 0.55 ms).  Compiled with numba (``cache=True``).
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
            out[r, p] = coef_by_period[width - 1, p]
        # Periods outside, columns inside: independent columns side by side (vectorised), not
        # one column's chain of dependent steps at a time.
        for t in range(width - 2, -1, -1):
            for p in range(x.shape[1]):
                out[r, p] = out[r, p] * x[r, p] + coef_by_period[t, p]
    return out


@njit(cache=True)
def horner_with_slope(coef_by_period, x):  # pragma: no cover  (compiled)
    """(NPV, dNPV/ds) of each column of ``coef_by_period`` (W, P) at ``x`` (P,)."""
    width, n = coef_by_period.shape
    values, slopes = coef_by_period[width - 1].copy(), np.zeros(n)
    for t in range(width - 2, -1, -1):
        for p in range(n):
            slopes[p] = slopes[p] * x[p] + values[p]
            values[p] = values[p] * x[p] + coef_by_period[t, p]
    for p in range(n):
        slopes[p] = slopes[p] * -x[p]
    return values, slopes
