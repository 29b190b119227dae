"""Rate cards (E67): a price per milestone, with optional caps per person and per item.

Per person of the attainment cohorts paid for (served start cohorts only), item ``j`` earns
``price_j`` when its milestone is reached inside the person's window.  With ``cap_per_person``
C, a person's items are paid in the order they are reached (ties in rate-card order) until C:
item ``j`` earns ``min(price_j, max(C − earned before it, 0))``.  Each payment falls in the
quarter the milestone is reached.  An item with a ``cap`` is then limited over the whole
contract: its cumulative payment by quarter is ``min(cumulative, cap)``.  Items add up.

The per-person cap needs each person's milestones, so rate cards read the per-person records of
:mod:`simsib.model.attainment` (n_draws, max_people), not the quarterly counts.
"""

from __future__ import annotations

import numpy as np

from simsib.contract.view import MechanismView
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.scenario.format import RateCard


def rate_card(mechanism: RateCard, view: MechanismView):
    """Entitlement increments (n, Q) of a ``rate_card`` mechanism; see the module docstring."""
    served = view.require_contract_view()
    outcomes = view.outcomes
    n, n_quarters = served.shape[0], view.n_quarters
    rows = np.arange(n)[:, None]
    person_cohort = outcomes.person_cohort
    served_person = (person_cohort >= 0) & (served[rows, np.maximum(person_cohort, 0)] > 0)
    reached_at = np.stack([np.where(served_person, outcomes.person_attained[item.outcome], np.inf)
                           for item in mechanism.items])  # (J, n, P) calendar months
    prices = np.stack([view.inputs[f"{view.key}.items.{j}.price"] for j in range(len(mechanism.items))])  # (J, n)
    earned = np.where(np.isfinite(reached_at), prices[:, :, None], 0.0)
    if mechanism.cap_per_person is not None:
        earned = _capped_per_person(earned, reached_at, view.inputs[f"{view.key}.cap_per_person"])
    quarter = np.where(np.isfinite(reached_at), reached_at // MONTHS_PER_QUARTER, 0).astype(np.int64)
    increments = np.zeros((n, n_quarters))
    for j, item in enumerate(mechanism.items):
        by_quarter = _by_quarter(earned[j], quarter[j], n_quarters)
        if item.cap is not None:
            cap = view.inputs[f"{view.key}.items.{j}.cap"][:, None]
            by_quarter = np.diff(np.minimum(np.cumsum(by_quarter, axis=1), cap), axis=1, prepend=0.0)
        increments += by_quarter
    return increments, np.zeros(n)


def _capped_per_person(earned: np.ndarray, reached_at: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Each person's items paid in the order reached until the draw's per-person ``cap`` (n,)."""
    order = np.argsort(reached_at, axis=0, kind="stable")  # (J, n, P): items by time reached
    in_order = np.take_along_axis(earned, order, axis=0)
    before = np.cumsum(in_order, axis=0) - in_order
    paid_in_order = np.minimum(in_order, np.maximum(cap[None, :, None] - before, 0.0))
    capped = np.empty_like(earned)
    np.put_along_axis(capped, order, paid_in_order, axis=0)
    return capped


def _by_quarter(amounts: np.ndarray, quarter: np.ndarray, n_quarters: int) -> np.ndarray:
    """Sum (n, P) amounts into their (n, P) quarters: (n, Q)."""
    n = amounts.shape[0]
    index = (np.arange(n)[:, None] * n_quarters + np.minimum(quarter, n_quarters - 1)).ravel()
    return np.bincount(index, weights=amounts.ravel(), minlength=n * n_quarters).reshape(n, n_quarters)
