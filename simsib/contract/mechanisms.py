"""Payment mechanisms: how outcomes by cohort and quarter become £ entitlements.

This is the plug-in point for a new way of paying for outcomes.  A mechanism is a scenario table
(a pydantic model in :mod:`simsib.scenario.format.contract`, discriminated on ``type``) and an
*entitlement function* registered for it in :data:`ENTITLEMENTS`::

    entitle(mechanism, view) -> (increments, counted_days)

``view`` (:class:`MechanismView`) gives the mechanism's per-draw parameters (``view.param``,
read from the scenario key ``contract.mechanisms.<i>.<name>``) and the outcomes
(:class:`simsib.model.outcomes.CohortQuarterly`) either per cohort or already summed over the
served cohorts (``view.measure``) -- the function need not know which.  It returns the £
increments (n, C, Q) or (n, Q) and the care days it pays for per draw (n,), the basis of the
deadweight share.  Netting, caps, lags and payers apply afterwards
(:mod:`simsib.contract.payments`), alike for every mechanism.  Entitlements must be linear in
the outcomes with per-draw coefficients (so summing cohorts first is exact).
``tests/test_payments.py`` holds the hand-worked cases and the invariants a new mechanism
must pass (payments never exceed a cap; a higher price never lowers a payment).

Today's mechanisms:

* ``days_saved_vs_baseline`` (Essex, E7): ``price × (baseline × child-days − care days)``;
  negative in a quarter with more care than the baseline.
* ``days_out_of_care`` (Norfolk/Suffolk, E50, E51): ``price × (child-days − care days) × (1 − deadweight)``.
* ``milestone`` (PFP, Birmingham, E52, E53): ``price`` per whole block of N consecutive days out of
  care (``repeat``), or once per young person whose first N days are all out of care.
* ``engagement``: ``price`` per young person starting (or completing) the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly
from simsib.scenario.format import DaysOutOfCare, DaysSavedVsBaseline, Engagement, Milestone, Scenario


def milestone_needs(scenario: Scenario) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Block lengths (repeat) and once-only lengths the scenario's milestones need, in days."""
    ms = [m for m in scenario.contract.mechanisms if isinstance(m, Milestone)]
    return (
        tuple(sorted({m.block_days for m in ms if m.repeat})),
        tuple(sorted({m.block_days for m in ms if not m.repeat})),
    )


def _start_quarter_diagonal(starts: np.ndarray, n_quarters: int) -> np.ndarray:
    """Starts per cohort placed in their own quarter: (n, C) -> (n, C, Q)."""
    n, c = starts.shape
    out = np.zeros((n, c, n_quarters))
    q = np.arange(min(c, n_quarters))
    out[:, q, q] = starts[:, q]
    return out


def _sum_over_cohorts(cube: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``Σ_c weights[n, c] · cube[n, c, q]``, shape (n, Q).

    A batched matrix product, about 4x faster than ``cube.sum(axis=1)`` (a reduction along a
    strided axis); each product is small, so BLAS stays on one thread.
    """
    return np.matmul(weights[:, None, :], cube)[:, 0, :]


@dataclass(frozen=True)
class MechanismView:
    """What an entitlement function sees: its parameters and the outcomes, per cohort or summed.

    ``cohort_weights`` None: arrays are per cohort, (n, C, Q); else (n, C) weights of the
    cohorts to sum (the served ones), and arrays are (n, Q).
    """

    key: str
    inputs: DrawInputs
    outcomes: CohortQuarterly
    cohort_weights: np.ndarray | None = None

    @property
    def by_cohort(self) -> bool:
        return self.cohort_weights is None

    def param(self, name: str) -> np.ndarray:
        """The per-draw input ``<key>.<name>``, shaped to broadcast against measured arrays."""
        value = self.inputs[f"{self.key}.{name}"]
        return value[:, None, None] if self.by_cohort else value[:, None]

    def measure(self, cube: np.ndarray) -> np.ndarray:
        """A (n, C, Q) outcome cube as the mechanism should see it."""
        return cube if self.by_cohort else _sum_over_cohorts(cube, self.cohort_weights)

    @staticmethod
    def total(days: np.ndarray) -> np.ndarray:
        """Per-draw total of a measured array, (n,)."""
        return days.sum(axis=tuple(range(1, days.ndim)))


Entitlement = Callable[[Any, MechanismView], "tuple[np.ndarray, np.ndarray]"]


def days_saved_vs_baseline(mechanism: DaysSavedVsBaseline, view: MechanismView):
    child, care = view.measure(view.outcomes.child_days), view.measure(view.outcomes.care_days_treated)
    days = view.param("baseline_care_proportion") * child - care
    return view.param("price_per_day") * days, view.total(days)


def days_out_of_care(mechanism: DaysOutOfCare, view: MechanismView):
    child, care = view.measure(view.outcomes.child_days), view.measure(view.outcomes.care_days_treated)
    days = (child - care) * (1.0 - view.param("deadweight_share"))
    return view.param("price_per_day") * days, view.total(days)


def milestone(mechanism: Milestone, view: MechanismView):
    n_days = mechanism.block_days
    if mechanism.repeat:
        block_days = view.measure(view.outcomes.milestone_block_days[n_days])
        # Block-days accrue continuously; a block of N days earns one price.
        return view.param("price") * block_days / n_days, view.total(block_days)
    people = view.measure(view.outcomes.milestone_people[n_days])
    return view.param("price") * people, view.total(people) * n_days


def engagement(mechanism: Engagement, view: MechanismView):
    outcomes = view.outcomes
    if mechanism.on == "start":
        count = view.measure(_start_quarter_diagonal(outcomes.starts, outcomes.child_days.shape[2]))
    else:
        count = view.measure(outcomes.completions_due)
    return view.param("price_per_person") * count, np.zeros(len(count))


# Entitlement function by mechanism table.  Append new mechanisms; see the module docstring.
ENTITLEMENTS: dict[type, Entitlement] = {
    DaysSavedVsBaseline: days_saved_vs_baseline,
    DaysOutOfCare: days_out_of_care,
    Milestone: milestone,
    Engagement: engagement,
}


def entitlement_increments(
    mechanism, key: str, inputs: DrawInputs, outcomes: CohortQuarterly, cohort_weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(£ increments, counted days (n,)) for one mechanism at scenario key ``key``.

    Increments have shape (n, C, Q); or, given ``cohort_weights`` (n, C), they are summed over
    cohorts with those weights, shape (n, Q) -- all that contract netting without a cohort cap
    needs.  Every mechanism is linear in the outcomes with per-draw coefficients, so the
    outcomes are summed first: one pass over each cube instead of several.
    """
    entitle = ENTITLEMENTS.get(type(mechanism))
    if entitle is None:  # pragma: no cover - the scenario format only admits registered tables
        raise TypeError(f"no entitlement function for mechanism {type(mechanism).__name__}")
    return entitle(mechanism, MechanismView(key, inputs, outcomes, cohort_weights))
