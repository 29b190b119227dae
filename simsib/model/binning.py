"""Sums by draw, start cohort and calendar quarter, with ``np.bincount``: the numpy processes'
aggregation.

An interval ``[a, b)`` (calendar months, clipped to the horizon) overlaps quarter
``q = [3q, 3q + 3)`` by ``P_q + 3 · Σ_{q' ≤ q} S_q'``, where each endpoint ``t`` adds
``±((⌊t/3⌋ + 1) · 3 − t)`` to ``P`` at its own quarter and ``±1`` to the slope ``S`` from the
next quarter on (``+`` for ``a``, ``−`` for ``b``).  Both are accumulated per (draw, cohort) row
with ``np.bincount`` and summed with one cumulative sum, so memory grows with draws × cohorts ×
quarters, never with people × days.
"""

from __future__ import annotations

import numpy as np

from simsib.model.outcomes import DAYS_PER_MONTH, MONTHS_PER_QUARTER


class QuarterBinner:
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
        An interval with ``end <= begin`` adds nothing.
        """
        # Intervals per person (1, or e.g. 2 episodes); a chunk may have no people at all.
        extra = begin.size // self.row.size if self.row.size else 1
        row = np.repeat(self.row, extra) if extra > 1 else self.row
        w = np.broadcast_to(np.asarray(weight, dtype=float), (self.row.size,))
        w = np.repeat(w, extra) if extra > 1 else w
        begin, end = begin.ravel(), end.ravel()
        end = np.maximum(end, begin)
        qa, pa = self._endpoint_terms(begin)
        qb, pb = self._endpoint_terms(end)
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
        q = np.floor(t / MONTHS_PER_QUARTER).astype(np.int64)
        inside = (q >= 0) & (q < self.shape[2])
        counts = np.bincount((self.row[mask] + q)[inside], minlength=self.n_bins)
        return counts.reshape(-1, self.width)[:, : self.shape[2]].reshape(self.shape).astype(float)
