"""Rate cards (E67): a price per milestone, with optional limits per person and per item.

Per person of the attainment cohorts paid for (served start cohorts only), item ``j`` earns its
price when its milestone is reached inside the person's window.  The payments of a draw are
made in the order the milestones are reached (ties: by person, then in rate-card order), each
``min(price_j, what the person may still earn, what the item may still earn)``: a person's
``cap_per_person`` and an item's ``cap`` over the whole contract are both used up in time
order, so a payment an item's limit stops never counts against the person's.  Each payment
falls in the quarter its milestone is reached.

With both kinds of limit, a higher price (or a higher item limit) can *lower* what the contract
pays: it may spend an item's limit on a person whose own limit would have been reached anyway,
leaving less of the item for later people (``tests/test_mechanism_contract.py`` works an
example).  With only one kind of limit, payments never fall as a price or a limit rises.

The limits need each person's milestones, so rate cards read the per-person records of
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
    person_cohort = outcomes.person_cohort
    served_person = (person_cohort >= 0) & (served[np.arange(n)[:, None], np.maximum(person_cohort, 0)] > 0)
    reached_at = np.stack([np.where(served_person, outcomes.person_attained[item.outcome], np.inf)
                           for item in mechanism.items])  # (J, n, P) calendar months
    key = view.key

    def per_draw(name: str, absent: float) -> np.ndarray:
        return view.inputs[name] if name in view.inputs else np.full(n, absent)

    prices = np.stack([view.inputs[f"{key}.items.{j}.price"] for j in range(len(mechanism.items))])  # (J, n)
    item_caps = np.stack([per_draw(f"{key}.items.{j}.cap", np.inf) for j in range(len(mechanism.items))])
    person_cap = per_draw(f"{key}.cap_per_person", np.inf)
    paid = pay_in_order(reached_at, prices, person_cap, item_caps)
    quarter = (np.where(np.isfinite(reached_at), reached_at, 0.0) // MONTHS_PER_QUARTER).astype(np.int64)
    increments = np.zeros((n, n_quarters))
    for j in range(len(mechanism.items)):
        increments += _by_quarter(paid[j], quarter[j], n_quarters)
    return increments, np.zeros(n)


def pay_in_order(reached_at: np.ndarray, prices: np.ndarray, person_cap: np.ndarray, item_caps: np.ndarray) -> np.ndarray:
    """What each milestone is paid, (J, n, P) £, paying every draw's milestones in time order.

    Parameters
    ----------
    reached_at : (J, n, P) calendar month each person reaches each item's milestone (inf: never)
    prices, item_caps : (J, n) £ per milestone, and each item's limit over the contract (inf: none)
    person_cap : (n,) £ one person may earn (inf: no limit)
    """
    n_items, n, n_people = reached_at.shape
    # Every (item, person) of a draw, flattened person-major so that a stable sort by time breaks
    # ties by person, then by item.
    times = reached_at.transpose(1, 2, 0).reshape(n, n_people * n_items)
    order = np.argsort(times, axis=1, kind="stable")
    reached = np.take_along_axis(np.isfinite(times), order, axis=1)
    depth = int(reached.sum(axis=1).max()) if reached.size else 0  # payments in the busiest draw
    person, item = np.divmod(order[:, :depth], n_items)
    rows = np.arange(n)
    person_left = np.broadcast_to(person_cap[:, None], (n, n_people)).copy()
    item_left = item_caps.T.copy()  # (n, J)
    paid = np.zeros((n, n_people, n_items))
    for rank in range(depth):
        p, j, live = person[:, rank], item[:, rank], reached[:, rank]
        amount = np.where(live, np.minimum(np.minimum(prices[j, rows], person_left[rows, p]), item_left[rows, j]), 0.0)
        amount = np.maximum(amount, 0.0)
        person_left[rows, p] -= amount
        item_left[rows, j] -= amount
        paid[rows, p, j] += amount
    return paid.transpose(2, 0, 1)


def _by_quarter(amounts: np.ndarray, quarter: np.ndarray, n_quarters: int) -> np.ndarray:
    """Sum (n, P) amounts into their (n, P) quarters: (n, Q)."""
    n = amounts.shape[0]
    index = (np.arange(n)[:, None] * n_quarters + np.minimum(quarter, n_quarters - 1)).ravel()
    return np.bincount(index, weights=amounts.ravel(), minlength=n * n_quarters).reshape(n, n_quarters)
