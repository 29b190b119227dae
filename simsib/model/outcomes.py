"""What an outcome process returns: sums per draw, start cohort and calendar quarter.

:class:`CohortQuarterly` is the interface between the model and the contract: every outcome
process (:mod:`simsib.model.processes`) fills it for the treated and the counterfactual paths,
and every payment mechanism (:mod:`simsib.contract.mechanisms`) reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_QUARTER = 3


@dataclass(frozen=True)
class CohortQuarterly:
    """Sums per draw, start cohort and calendar quarter, shape (n_draws, n_cohorts, n_quarters).

    Days are calendar days (months × 365.25/12).  ``starts``/``completed`` are per cohort,
    shape (n_draws, n_cohorts).  Every tracking window ends by the measurement end, so days and
    events after it are zero by construction.
    """

    child_days: np.ndarray
    care_days_treated: np.ndarray
    care_days_counterfactual: np.ndarray
    completions_due: np.ndarray  # completions counted in the quarter the therapy ends
    milestone_block_days: dict[int, np.ndarray]  # block length N -> accrued whole-block days
    milestone_people: dict[int, np.ndarray]  # N -> people whose first N days are out of care
    starts: np.ndarray
    completed: np.ndarray
    # Cube name -> its totals over quarters (n_draws, n_cohorts), where the simulation summed
    # them on the way (the compiled kernel does, at no cost); see by_cohort.
    days_by_cohort: dict[str, np.ndarray] = field(default_factory=dict)

    def by_cohort(self, name: str) -> np.ndarray:
        """Totals over quarters of the cube ``name``, shape (n_draws, n_cohorts)."""
        total = self.days_by_cohort.get(name)
        return getattr(self, name).sum(axis=2) if total is None else total


