"""Each draw's own contract dates, and the review rules that move them (issue 16, E63, E66).

Without reviews every draw runs on the scenario's dates.  A review at month ``M`` (a quarter end,
quarter ``R = M / 3``) reads a measure over the quarters before ``R`` and, where its rule fires:

* **terminate**: no young person starts from quarter ``R`` and nothing is measured from it; teams
  stop at month ``M``.  With ``outstanding_payments = "paid"`` outcomes measured before ``R`` are
  still paid with the usual lag and the SPV makes its final distribution in quarter ``R + lag``;
  with ``"forfeited"`` nothing is paid from ``R`` and the final distribution is in quarter ``R``.
  An early-redemption floor (the last ``[[contract.termination.early_redemption]]`` row from on
  or before ``M``) tops investors up to that share of the capital drawn, paid by the commissioner.
* **extend**: the service, the measurement and the final distribution move ``extend_months``
  later.  The model simulates every draw on the scenario's *envelope* (every extension taken,
  :meth:`simsib.scenario.format.Scenario.envelope`); a draw is cut to its own dates here.

All dates are in quarters of the envelope's timeline.  Reviews are applied in date order, each
on the settlement as it stands (see :mod:`simsib.run.settlement`); a terminated draw is not
reviewed again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from simsib.model.outcomes import MONTHS_PER_QUARTER, CohortQuarterly, cut_to_served
from simsib.scenario.format import Scenario


@dataclass(frozen=True)
class Timeline:
    """Per-draw contract dates, each (n,), in quarters of the envelope (months where named so).

    service_end_cohort : first start cohort not served by the contract
    service_end_month : month from which no one starts (before any stop for lack of cash)
    measure_end_quarter : first quarter not measured
    final_quarter : quarter of the SPV's final distribution
    planned_final_quarter : the final quarter as scheduled at signing
    decided_quarter : quarter from which the final quarter is known to differ from the plan
        (n_quarters: never)
    terminated_quarter : quarter a review terminated the contract (n_quarters: not terminated)
    terminated_month : its month (inf: not terminated)
    extended_months : months added by extensions
    forfeit_from : first quarter whose outcome payments are forfeited (n_quarters: none)
    redemption_fraction : early-redemption floor, a share of capital drawn (0: none)
    """

    service_end_cohort: np.ndarray
    service_end_month: np.ndarray
    measure_end_quarter: np.ndarray
    final_quarter: np.ndarray
    planned_final_quarter: np.ndarray
    decided_quarter: np.ndarray
    terminated_quarter: np.ndarray
    terminated_month: np.ndarray
    extended_months: np.ndarray
    forfeit_from: np.ndarray
    redemption_fraction: np.ndarray

    @property
    def terminated(self) -> np.ndarray:
        return np.isfinite(self.terminated_month)


def scheduled_timeline(scenario: Scenario, n: int) -> Timeline:
    """Every draw on the scenario's own dates, in quarters of its envelope."""
    n_quarters = scenario.envelope().n_quarters

    def full(value, dtype=np.int64):
        return np.full(n, value, dtype=dtype)

    return Timeline(
        service_end_cohort=full(scenario.n_cohorts),
        service_end_month=full(scenario.referrals.service_end_month, float),
        measure_end_quarter=full(-(-scenario.contract.measurement_end_month // MONTHS_PER_QUARTER)),
        final_quarter=full(scenario.n_quarters - 1),
        planned_final_quarter=full(scenario.n_quarters - 1),
        decided_quarter=full(n_quarters),
        terminated_quarter=full(n_quarters),
        terminated_month=full(np.inf, float),
        extended_months=full(0),
        forfeit_from=full(n_quarters),
        redemption_fraction=full(0.0, float),
    )


def is_scheduled(scenario: Scenario, timeline: Timeline) -> bool:
    """True when every draw runs on the scenario's own dates and nothing can extend it: the
    money stages can then take the scenario's dates as they are, as simsib always did."""
    return scenario.extension_months == 0 and not timeline.terminated.any()


def decide(scenario: Scenario, timeline: Timeline, review_index: int, fires: np.ndarray) -> tuple[Timeline, np.ndarray]:
    """``timeline`` with review ``review_index`` applied to the draws where its rule ``fires``
    ((n,) bool), and the draws it changed: those still running and measuring at the review."""
    review = scenario.contract.reviews[review_index]
    quarter = review.month // MONTHS_PER_QUARTER
    running = ~timeline.terminated & (quarter < timeline.measure_end_quarter)
    rows = fires & running
    if not rows.any():
        return timeline, rows
    changes: dict[str, np.ndarray] = {}

    def set_rows(name: str, value) -> None:
        array = changes.get(name, getattr(timeline, name)).copy()
        array[rows] = value if np.ndim(value) == 0 else value[rows]
        changes[name] = array

    set_rows("decided_quarter", np.minimum(timeline.decided_quarter, quarter))
    if review.action == "terminate":
        terms = scenario.contract.termination
        lag = scenario.contract.payment_lag_quarters
        forfeit = terms.outstanding_payments == "forfeited"
        set_rows("service_end_cohort", np.minimum(timeline.service_end_cohort, quarter))
        set_rows("service_end_month", np.minimum(timeline.service_end_month, float(review.month)))
        set_rows("measure_end_quarter", np.minimum(timeline.measure_end_quarter, quarter))
        set_rows("final_quarter", np.minimum(timeline.final_quarter, quarter + (0 if forfeit else lag)))
        set_rows("terminated_quarter", quarter)
        set_rows("terminated_month", float(review.month))
        if forfeit:
            set_rows("forfeit_from", quarter)
        floors = [row.fraction for row in terms.early_redemption if row.from_month <= review.month]
        set_rows("redemption_fraction", floors[-1] if floors else 0.0)
    else:
        months = review.extend_months
        quarters = months // MONTHS_PER_QUARTER
        for name in ("service_end_cohort", "measure_end_quarter", "final_quarter"):
            set_rows(name, getattr(timeline, name) + quarters)
        set_rows("service_end_month", timeline.service_end_month + months)
        set_rows("extended_months", timeline.extended_months + months)
    return replace(timeline, **changes), rows


def cut_outcomes(outcomes: CohortQuarterly, served: np.ndarray, measured: np.ndarray) -> CohortQuarterly:
    """Outcomes of the ``served`` cohorts ((n, C) bool) in the ``measured`` quarters ((n, T) bool,
    per draw) only; every other entry zero.  Works field by field, for every outcome process's
    cubes, per-cohort counts, per-person records and named cohorts
    (:func:`simsib.model.outcomes.cut_to_served`)."""
    return cut_to_served(outcomes, served, measured)
