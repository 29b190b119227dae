"""What an entitlement function sees: :class:`MechanismView` (see :mod:`simsib.contract.mechanisms`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly


def sum_over_cohorts(cube: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``Σ_c weights[n, c] · cube[n, c, q]``, shape (n, Q).

    Added in cohort order (``einsum``), as the simulation's own sums over cohorts
    (``CohortQuarterly.days_by_quarter``) are: a draw's payments are the same to the last bit
    whichever way its outcomes were summed (cut to a review's dates or not).  A batched matrix
    product would be about twice as fast here but adds in another order.
    """
    return np.einsum("dcq,dc->dq", cube, weights)


@dataclass(frozen=True)
class MechanismView:
    """What an entitlement function sees: its parameters and the outcomes, per cohort or summed.

    ``outcomes`` are those of the named cohorts the mechanism pays for (all of them together).
    ``cohort_weights`` None: arrays are per start cohort, (n, C, Q); else (n, C) weights of the
    start cohorts to sum (the served ones, 0 or 1), and arrays are (n, Q).  ``scenario`` and
    ``paid`` (the named cohorts paid for, :class:`simsib.scenario.format.ResolvedCohort`) are for
    mechanisms that work cohort by cohort (thresholds, per-person caps); ``measured_by_draw``
    ((n, Q) bool, None: every quarter) the quarters each draw measures, where reviews changed its
    dates, for mechanisms that pay on a result known at a date.
    """

    key: str
    inputs: DrawInputs
    outcomes: CohortQuarterly
    cohort_weights: np.ndarray | None = None
    scenario: Any = None
    paid: tuple = ()
    measured_by_draw: np.ndarray | None = None

    def known(self, quarter: int) -> np.ndarray:
        """(n,) bool: draws that measure ``quarter`` (a result due then is known to the contract)."""
        n = self.outcomes.child_days.shape[0]
        return np.ones(n, dtype=bool) if self.measured_by_draw is None else self.measured_by_draw[:, quarter]

    @property
    def by_cohort(self) -> bool:
        return self.cohort_weights is None

    @property
    def n_quarters(self) -> int:
        return self.outcomes.child_days.shape[2]

    def param(self, name: str) -> np.ndarray:
        """The per-draw input ``<key>.<name>``, shaped to broadcast against measured arrays."""
        value = self.inputs[f"{self.key}.{name}"]
        return value[:, None, None] if self.by_cohort else value[:, None]

    def measure(self, cube: np.ndarray) -> np.ndarray:
        """A (n, C, Q) outcome cube as the mechanism should see it: as it is, or summed over the
        served cohorts -- from the sums the simulation made on the way, where it made them."""
        if self.by_cohort:
            return cube
        name = self.outcomes.summed_name(cube)
        if name is not None:
            return self.outcomes.by_quarter(name, self.cohort_weights)
        return sum_over_cohorts(cube, self.cohort_weights)

    @staticmethod
    def total(days: np.ndarray) -> np.ndarray:
        """Per-draw total of a measured array, (n,)."""
        return days.sum(axis=tuple(range(1, days.ndim)))

    def require_contract_view(self) -> np.ndarray:
        """The served weights (n, C), for mechanisms netted over the whole contract only."""
        if self.cohort_weights is None:  # pragma: no cover - the scenario format forbids it
            raise ValueError(f"{self.key}: this mechanism needs netting over the whole contract")
        return self.cohort_weights
