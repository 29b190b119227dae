"""Payment mechanisms: how outcomes by cohort and quarter become £ entitlements.

This is the plug-in point for a new way of paying for outcomes.  A mechanism is a scenario table
(a pydantic model in :mod:`simsib.scenario.format.contract`, discriminated on ``type``) and an
*entitlement function* registered for it in :data:`ENTITLEMENTS`::

    entitle(mechanism, view) -> (increments, counted_days)

``view`` (:class:`MechanismView`) gives the mechanism's per-draw parameters (``view.param``,
read from the scenario key ``contract.mechanisms.<i>.<name>``) and the outcomes
(:class:`simsib.model.outcomes.CohortQuarterly`) either per cohort or already summed over the
served cohorts (``view.measure``) -- the function need not know which -- of the named cohorts it pays for
(its ``cohorts`` list; every cohort whose outcome it measures by default).  It returns the £
increments (n, C, Q) or (n, Q) and the care days it pays for per draw (n,), the basis of the
days-based deadweight share (zero for mechanisms that pay for something else).  Netting, caps,
lags and payers apply afterwards (:mod:`simsib.contract.payments`), alike for every mechanism.
Entitlements must be linear in the outcomes with per-draw coefficients (so summing cohorts
first is exact), except those listed in
:data:`simsib.scenario.format.consistency.CONTRACT_NETTING_ONLY` (thresholds, per-person
caps), which always see the summed view and apply the served weights themselves.  A mechanism
measuring something new declares it in :func:`model_needs`.  ``tests/test_payments.py`` holds
hand-worked cases, and ``tests/test_mechanism_contract.py`` the invariants every mechanism must
pass (payments never exceed a cap; a higher price or cap never lowers any draw's payments;
no effect with a matching comparison pays about nothing on average).

Today's mechanisms:

* ``days_saved_vs_baseline`` (Essex, E7): ``price × (baseline × child-days − care days)``;
  negative in a quarter with more care than the baseline.
* ``days_out_of_care`` (Norfolk/Suffolk, E50, E51): ``price × (child-days − care days) × (1 − deadweight)``.
* ``milestone`` (PFP, Birmingham, E52, E53): ``price`` per whole block of N consecutive days out of
  care (``repeat``), or once per young person whose first N days are all out of care.
* ``engagement``: ``price`` per young person starting (or completing) the service.
* ``point_in_time`` (Suffolk, E61): ``price`` per person out of (or in) care N days after start.
* ``events_avoided`` (Peterborough, E54, E62): ``price`` per event avoided against a comparison
  group, with thresholds per cohort and overall (:mod:`simsib.contract.triggers`).
* ``rate_card`` (E67): a price per milestone, caps per person and per item
  (:mod:`simsib.contract.rate_cards`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from simsib.contract.rate_cards import rate_card
from simsib.contract.triggers import events_avoided
from simsib.contract.view import MechanismView
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly, Needs
from simsib.scenario.format import (
    DaysOutOfCare,
    DaysSavedVsBaseline,
    Engagement,
    EventsAvoided,
    Milestone,
    PointInTime,
    RateCard,
    Scenario,
    paid_cohorts,
)


def milestone_needs(scenario: Scenario) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Block lengths (repeat) and once-only lengths the scenario's milestones need, in days."""
    needs = model_needs(scenario)
    return needs.milestone_blocks, needs.milestone_once


def model_needs(scenario: Scenario, horizon: bool = False, horizon_counterfactual: bool = False,
                completions: bool = False) -> Needs:
    """What the scenario's mechanisms need the outcome processes to measure (``horizon``: also
    the days in care avoided to each person's age limit; ``horizon_counterfactual``: and the
    counterfactual path's own; ``completions``: the completions due by quarter, which are counted
    anyway when a mechanism pays on them)."""
    mechanisms = scenario.contract.mechanisms

    def days(kind: type, attribute: str, keep=lambda m: True) -> tuple[int, ...]:
        return tuple(sorted({getattr(m, attribute) for m in mechanisms if isinstance(m, kind) and keep(m)}))

    return Needs(
        milestone_blocks=days(Milestone, "block_days", lambda m: m.repeat),
        milestone_once=days(Milestone, "block_days", lambda m: not m.repeat),
        point_days=days(PointInTime, "at_day"),
        offset_days=days(DaysOutOfCare, "from_day", lambda m: m.from_day > 0),
        horizon=horizon,
        horizon_counterfactual=horizon_counterfactual,
        completions=completions or any(isinstance(m, Engagement) and m.on == "completion" for m in mechanisms),
    )


def _start_quarter_diagonal(starts: np.ndarray, n_quarters: int) -> np.ndarray:
    """Starts per cohort placed in their own quarter: (n, C) -> (n, C, Q)."""
    n, c = starts.shape
    out = np.zeros((n, c, n_quarters))
    q = np.arange(min(c, n_quarters))
    out[:, q, q] = starts[:, q]
    return out


Entitlement = Callable[[Any, MechanismView], "tuple[np.ndarray, np.ndarray]"]


def days_saved_vs_baseline(mechanism: DaysSavedVsBaseline, view: MechanismView):
    child, care = view.measure(view.outcomes.child_days), view.measure(view.outcomes.care_days_treated)
    days = view.param("baseline_care_proportion") * child - care
    return view.param("price_per_day") * days, view.total(days)


def days_out_of_care(mechanism: DaysOutOfCare, view: MechanismView):
    if mechanism.from_day:
        child, care, _ = view.outcomes.days_from[mechanism.from_day]
    else:
        child, care = view.outcomes.child_days, view.outcomes.care_days_treated
    days = (view.measure(child) - view.measure(care)) * (1.0 - view.param("deadweight_share"))
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


def point_in_time(mechanism: PointInTime, view: MechanismView):
    states = view.outcomes.out_of_state_at if mechanism.state == "out" else view.outcomes.in_state_at
    people = view.measure(states[mechanism.at_day])
    return view.param("price_per_person") * people, np.zeros(len(people))


# Entitlement function by mechanism table.  Append new mechanisms; see the module docstring.
ENTITLEMENTS: dict[type, Entitlement] = {
    DaysSavedVsBaseline: days_saved_vs_baseline,
    DaysOutOfCare: days_out_of_care,
    Milestone: milestone,
    Engagement: engagement,
    PointInTime: point_in_time,
    EventsAvoided: events_avoided,
    RateCard: rate_card,
}


def entitlement_increments(
    mechanism, key: str, inputs: DrawInputs, outcomes: CohortQuarterly, cohort_weights: np.ndarray | None = None,
    scenario: Scenario | None = None, measured_by_draw: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(£ increments, counted days (n,)) for one mechanism at scenario key ``key``.

    Increments have shape (n, C, Q); or, given ``cohort_weights`` (n, C), they are summed over
    cohorts with those weights, shape (n, Q) -- all that contract netting without a cohort cap
    needs.  Every linear mechanism is linear in the outcomes with per-draw coefficients, so the
    outcomes are summed first: one pass over each cube instead of several.  ``scenario`` says
    which named cohorts the mechanism pays for (all of ``outcomes`` without it);
    ``measured_by_draw`` ((n, Q) bool) each draw's own measured quarters, if reviews changed them.
    """
    entitle = ENTITLEMENTS.get(type(mechanism))
    if entitle is None:  # pragma: no cover - the scenario format only admits registered tables
        raise TypeError(f"no entitlement function for mechanism {type(mechanism).__name__}")
    paid: tuple = ()
    if scenario is not None:
        paid = paid_cohorts(scenario, mechanism)
        if mechanism.cohorts is not None or len(paid) != len(outcomes.groups):
            outcomes = outcomes.select(tuple(c.name for c in paid))
    return entitle(mechanism, MechanismView(key, inputs, outcomes, cohort_weights, scenario, paid, measured_by_draw))
