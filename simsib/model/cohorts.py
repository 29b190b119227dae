"""Sharing each month's starts among the scenario's named cohorts.

Each start in month ``m`` joins cohort ``g`` with probability ``share_g / Σ_h share_h`` over the
cohorts ``h`` taking starts in month ``m`` (``starts_from_month ≤ m < starts_before_month``), so
the counts per month are multinomial given the month's starts.  They are drawn as a chain of
binomials, one array per cohort for all draws and months, from the chunk's ``cohorts`` stream:
``N_g ~ Binomial(N − Σ_{h < g} N_h, p_g / Σ_{h ≥ g} p_h)``.  A scenario with one cohort draws
nothing (Essex's streams are unchanged).
"""

from __future__ import annotations

import numpy as np

from simsib.model.inputs import DrawInputs
from simsib.scenario.format import ResolvedCohort, Scenario


def active_months(scenario: Scenario, cohort: ResolvedCohort, n_months: int) -> np.ndarray:
    """(n_months,) bool: the months in which ``cohort`` takes starts."""
    table = cohort.table
    months = np.arange(n_months)
    if table is None:
        return np.ones(n_months, dtype=bool)
    end = n_months if table.starts_before_month is None else table.starts_before_month
    return (months >= table.starts_from_month) & (months < end)


def split_starts(
    scenario: Scenario, cohorts: tuple[ResolvedCohort, ...], inputs: DrawInputs, starts: np.ndarray,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Each cohort's starts per month, (n_draws, n_months) int each, summing to ``starts``.

    ``rng`` is the chunk's ``cohorts`` stream; nothing is drawn when there is one cohort.
    """
    if len(cohorts) == 1:
        return [starts]
    n_draws, n_months = starts.shape
    # Weight of each cohort in each draw and month: its share where it takes starts, else 0.
    weights = np.stack([
        inputs[f"{c.key}.share"][:, None] * active_months(scenario, c, n_months)[None, :] for c in cohorts
    ])  # (G, n, M)
    remaining = starts.astype(np.int64)
    weight_left = weights.sum(axis=0)
    out = []
    for g in range(len(cohorts) - 1):
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(weight_left > 0, weights[g] / np.where(weight_left > 0, weight_left, 1.0), 0.0)
        taken = rng.binomial(remaining, np.clip(p, 0.0, 1.0))
        out.append(taken)
        remaining = remaining - taken
        weight_left = weight_left - weights[g]
    out.append(remaining)
    return out
