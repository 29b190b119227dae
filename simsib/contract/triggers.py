"""Events avoided against a comparison group, paid only past thresholds (Peterborough, E54, E62).

For each recurrent cohort ``g`` paid for (served start cohorts only), when its result is known
(:func:`simsib.scenario.format.result_month`: its last start, plus the tracking window, plus
``results_lag_months``):

* ``Y_g`` its treated events and ``X_g`` its person-days tracked;
* the comparison rate ``r_g = Z_g / W_g``: the comparison group's events over its person-days
  (:mod:`simsib.model.recurrent`), or, without a comparison group, the cohort's own
  counterfactual events over ``X_g``;
* events avoided ``A_g = r_g X_g − Y_g`` against the ``r_g X_g`` expected, and the reduction
  ``R_g = A_g / (r_g X_g)``.

Payments: with ``cohort_threshold`` t_c, cohort g is paid ``price × max(A_g, 0)`` in its
result quarter if ``R_g ≥ t_c``.  With ``overall_threshold`` t_o, in the last result quarter,
if ``Σ A_g / Σ r_g X_g ≥ t_o``, the contract pays ``price × max(Σ A_g, 0)`` less what the
cohorts were paid (never less than 0): the overall test settles what the cohorts did not.
Without either threshold every cohort is paid for what it avoids.  Peterborough: t_c = 10%,
t_o = 7.5%.  A result due after a draw's measurement ends (a review ended the contract) is never
known, and earns nothing.

Sampling noise alone -- no effect, a comparison group matching the counterfactual -- makes
``A_g`` positive about half the time; the floor at 0 and the thresholds decide how much of that
noise the contract pays for (``payments_without_effect`` in the run's outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.contract.view import MechanismView
from simsib.model.outcomes import MONTHS_PER_QUARTER, CohortQuarterly
from simsib.scenario.format import EventsAvoided, result_month


@dataclass(frozen=True)
class EventRates:
    """One recurrent cohort's events against its comparison, per draw (n,)."""

    treated: np.ndarray  # Y: treated events of served people
    counterfactual: np.ndarray  # their counterfactual events
    days: np.ndarray  # X: person-days tracked
    comparison_rate: np.ndarray  # r: comparison events a person-day

    @property
    def expected(self) -> np.ndarray:
        """Events expected at the comparison rate: r X."""
        return self.comparison_rate * self.days

    @property
    def avoided(self) -> np.ndarray:
        """A = r X − Y."""
        return self.expected - self.treated

    @property
    def reduction(self) -> np.ndarray:
        """R = A / (r X): the share by which events fell against the comparison (NaN if none expected)."""
        return _ratio(self.avoided, self.expected)

    @property
    def true_reduction(self) -> np.ndarray:
        """1 − treated ÷ counterfactual events of the same people (NaN if none)."""
        return _ratio(self.counterfactual - self.treated, self.counterfactual)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def event_rates(group: CohortQuarterly, served: np.ndarray) -> EventRates:
    """:class:`EventRates` of one recurrent cohort's outcomes, for the start cohorts ``served`` (n, C) float."""

    def total(cube: np.ndarray) -> np.ndarray:
        return (cube.sum(axis=2) * served).sum(axis=1)

    treated, counterfactual = total(group.events_treated), total(group.events_counterfactual)
    days = total(group.event_days)
    if group.comparison_events is not None:
        rate = group.comparison_events / group.comparison_days
    else:
        rate = _ratio(counterfactual, days)
        rate = np.where(np.isnan(rate), 0.0, rate)
    return EventRates(treated, counterfactual, days, rate)


def pooled(rates: list[EventRates]) -> EventRates:
    """Several cohorts as one: events and days added, the comparison rate weighted by days."""
    days = sum(r.days for r in rates)
    expected = sum(r.expected for r in rates)
    rate = _ratio(expected, days)
    return EventRates(sum(r.treated for r in rates), sum(r.counterfactual for r in rates), days,
                      np.where(np.isnan(rate), 0.0, rate))


def events_avoided(mechanism: EventsAvoided, view: MechanismView):
    """Entitlement increments (n, Q) of an ``events_avoided`` mechanism; see the module docstring."""
    served = view.require_contract_view()
    price = view.inputs[f"{view.key}.price_per_event"]
    cohort_t = None if mechanism.cohort_threshold is None else view.inputs[f"{view.key}.cohort_threshold"]
    overall_t = None if mechanism.overall_threshold is None else view.inputs[f"{view.key}.overall_threshold"]
    n = served.shape[0]
    increments = np.zeros((n, view.n_quarters))
    paid_so_far = np.zeros(n)
    rates, last_quarter = [], 0
    for cohort in view.paid:
        rate = event_rates(view.outcomes.group(cohort.name), served)
        rates.append(rate)
        quarter = result_month(view.scenario, cohort, mechanism) // MONTHS_PER_QUARTER
        last_quarter = max(last_quarter, quarter)
        if cohort_t is None and overall_t is not None:
            continue  # only the overall test pays
        passed = np.ones(n, dtype=bool) if cohort_t is None else rate.reduction >= cohort_t
        # A result due after a draw's measurement ends (the contract terminated) is never known.
        due = np.where(passed & view.known(quarter), price * np.maximum(rate.avoided, 0.0), 0.0)
        increments[:, quarter] += due
        paid_so_far += due
    if overall_t is not None:
        total = pooled(rates)
        passed = (total.reduction >= overall_t) & view.known(last_quarter)
        due = np.where(passed, np.maximum(price * np.maximum(total.avoided, 0.0) - paid_so_far, 0.0), 0.0)
        increments[:, last_quarter] += due
    return increments, np.zeros(n)
