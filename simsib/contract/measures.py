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
    if name in ("outcome_payments", "outcome_payments_share_of_cap"):
        received = (paid * seen_quarters).sum(axis=1)
        return received if name == "outcome_payments" else _share(received, inputs["contract.cap"])
    raise ValueError(f"unknown measure {name!r}")
