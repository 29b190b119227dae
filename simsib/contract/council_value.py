"""The care the council avoids, quarter by quarter, as a finance officer values it.

For every care cohort (the implicit one, or each named ``[[cohorts]]`` table with
``process = "care"``), per draw and calendar quarter ``q``:

* **inside the tracking windows** (what the contract pays for): care days avoided
  ``Σ_c (counterfactual − treated)`` over the served start cohorts ``c``, in quarters the draw
  measures;
* **to each young person's 18th birthday** (what the council really avoids): the same from
  each person's start to their age limit, cut neither by the window nor by the measurement end
  (:attr:`simsib.model.outcomes.CohortQuarterly.state_days_avoided_to_horizon`, measured when the
  model is asked for it);

each valued at the cohort's cost of a care day (:func:`simsib.contract.metrics.daily_care_cost`,
at contract-start prices) times the price index of the quarter,
``(1 + care.cost_inflation)^((3q + 1.5)/12)`` (the quarter's middle, in years).  Present values
discount quarter ``q`` by ``(1 + spv.discount_rate)^(−q/4)``, as the investors' NPV does.

A scenario with a cohort of another process (reconvictions, milestones) has no quarterly £
value here (:func:`simsib.contract.outcome_metrics.true_value` values those in total): its
present values are left undefined (NaN) rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.contract.metrics import daily_care_cost
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly
from simsib.scenario.format import Scenario, resolve_cohorts


@dataclass(frozen=True)
class CareValue:
    """£ of care avoided per draw and quarter, at each quarter's prices.

    window : (n_draws, n_quarters) inside the tracking windows, in measured quarters
    tracked_price : (n_draws,) the price index averaged over the tracked child-days: the price
        at which days the contract counts (baseline × child-days − care days) are valued
    to_age_limit : (n_draws, n_horizon_quarters) to each person's 18th birthday, or None when
        the model did not measure it
    days_to_age_limit : (n_draws,) care days avoided to the 18th birthday, or None
    """

    window: np.ndarray
    tracked_price: np.ndarray
    to_age_limit: np.ndarray | None
    days_to_age_limit: np.ndarray | None


def care_price_index(inputs: DrawInputs, n_quarters: int, care: str = "care") -> np.ndarray:
    """Price of care in each quarter relative to contract start, (n_draws, n_quarters).

    ``(1 + <care>.cost_inflation)`` to the power of the quarter's middle in years, ``(3q + 1.5)/12``.
    """
    middle_years = (np.arange(n_quarters) * 3.0 + 1.5) / 12.0
    return (1.0 + inputs[f"{care}.cost_inflation"][:, None]) ** middle_years[None, :]


def care_value(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, cohort_served: np.ndarray | None = None,
    measured_by_draw: np.ndarray | None = None, *, counterfactual: bool = False,
) -> CareValue | None:
    """The value of the care avoided, by quarter (module docstring); None when a cohort is not care.

    cohort_served : (n_draws, n_cohorts) bool, default all; measured_by_draw : (n_draws,
    n_quarters) bool, the quarters each draw measures (default all: the cubes hold nothing after
    the measurement end).  ``counterfactual=True`` values the care the served young people would
    have had without the service instead (what doing nothing costs), on the same terms.
    """
    cohorts = resolve_cohorts(scenario)
    if any(c.process != "care" for c in cohorts):
        return None
    n, n_cohorts, n_quarters = outcomes.child_days.shape
    window = np.zeros((n, n_quarters))
    tracked, tracked_at_prices = np.zeros(n), np.zeros(n)
    to_limit = days_to_limit = None
    for cohort in cohorts:
        group = outcomes.group(cohort.name)
        prefix = cohort.prefix["care"]
        day = daily_care_cost(inputs, prefix)[:, None]
        saved = group.by_quarter("care_days_counterfactual", cohort_served)
        if not counterfactual:
            saved = saved - group.by_quarter("care_days_treated", cohort_served)
        if measured_by_draw is not None:
            saved = saved * measured_by_draw[:, :n_quarters]
        prices = care_price_index(inputs, n_quarters, prefix)
        window += saved * prices * day
        child = group.by_quarter("child_days", cohort_served)
        tracked += child.sum(axis=1)
        tracked_at_prices += (child * prices).sum(axis=1)
        horizon = (group.counterfactual_to_horizon if counterfactual else group.avoided_to_horizon)(cohort_served)
        if horizon is None:  # not measured
            continue
        value = horizon * care_price_index(inputs, horizon.shape[1], prefix) * day
        to_limit = value if to_limit is None else _added(to_limit, value)
        days_to_limit = horizon.sum(axis=1) if days_to_limit is None else days_to_limit + horizon.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tracked_price = np.where(tracked > 0, tracked_at_prices / np.where(tracked > 0, tracked, 1.0), 1.0)
    return CareValue(window=window, tracked_price=tracked_price, to_age_limit=to_limit,
                     days_to_age_limit=days_to_limit)


def _added(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b for (n, Q) arrays of possibly different widths (zeros beyond the shorter)."""
    width = max(a.shape[1], b.shape[1])
    out = np.zeros((a.shape[0], width))
    out[:, : a.shape[1]] += a
    out[:, : b.shape[1]] += b
    return out
