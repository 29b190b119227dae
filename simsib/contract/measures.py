"""Measures a contract can observe to a date: what review rules and return grids read.

Each measure is taken over the served young people and the quarters before a date (a review's
quarter, or each draw's measurement end for a grid), so a decision taken at a review uses only
what was known then.  Add a measure here and to
:data:`simsib.scenario.format.capital.MEASURES` together.
"""

from __future__ import annotations

import numpy as np

from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly


def _share(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def observe(
    name: str,
    outcomes: CohortQuarterly,
    served: np.ndarray,
    before: np.ndarray,
    paid: np.ndarray,
    inputs: DrawInputs,
) -> np.ndarray:
    """One measure per draw, shape (n,), over the quarters before ``before``.

    Parameters
    ----------
    outcomes : outcomes as simulated (every cohort, every quarter)
    served : (n, C) bool, cohorts the contract serves (the SPV's stop and the draw's own dates)
    before : (n,) int, the first quarter not observed
    paid : (n, T) £ outcome payments received each quarter
    """
    n, n_cohorts = served.shape
    n_quarters = paid.shape[1]
    seen_cohorts = served & (np.arange(n_cohorts)[None, :] < before[:, None])
    seen_quarters = np.arange(n_quarters)[None, :] < before[:, None]
    if name == "young_people_started":
        return (outcomes.starts * seen_cohorts).sum(axis=1)
    if name == "care_proportion_treated":
        keep = seen_cohorts[:, :, None] & seen_quarters[:, None, : outcomes.child_days.shape[2]]
        return _share((outcomes.care_days_treated * keep).sum(axis=(1, 2)), (outcomes.child_days * keep).sum(axis=(1, 2)))
    if name == "event_reduction":
        return _event_reduction(outcomes, seen_cohorts, seen_quarters)
    if name in ("outcome_payments", "outcome_payments_share_of_cap"):
        received = (paid * seen_quarters).sum(axis=1)
        return received if name == "outcome_payments" else _share(received, inputs["contract.cap"])
    raise ValueError(f"unknown measure {name!r}")


def _event_reduction(outcomes: CohortQuarterly, seen_cohorts: np.ndarray, seen_quarters: np.ndarray) -> np.ndarray:
    """The share by which events seen so far fell below the comparison rate, over every recurrent cohort.

    ``1 − events ÷ (comparison rate × person-days)``, with events and person-days of the quarters
    seen, as an interim evaluation would report it (Rikers, E63); NaN where nothing was expected.
    """
    groups = [g for g in (outcomes.groups.values() if outcomes.groups else [outcomes]) if g.event_days is not None]
    if not groups:
        raise ValueError("the measure 'event_reduction' needs a recurrent_events cohort")
    observed = expected = 0.0
    for group in groups:
        keep = seen_cohorts[:, :, None] & seen_quarters[:, None, : group.event_days.shape[2]]
        events = (group.events_treated * keep).sum(axis=(1, 2))
        days = (group.event_days * keep).sum(axis=(1, 2))
        if group.comparison_events is not None:
            rate = _share(group.comparison_events, group.comparison_days)
        else:  # no comparison group: the cohort's own counterfactual rate
            rate = _share((group.events_counterfactual * keep).sum(axis=(1, 2)), days)
        observed = observed + events
        expected = expected + np.nan_to_num(rate) * days
    return 1.0 - _share(observed, expected)
