"""What the SPV owes each quarter: team costs, per-person costs and fees.

Team costs run pro rata from each team's start until therapy for the families who started last
ends -- ``months_per_case`` after the service closed (the target was reached, or the service
period ended: :func:`simsib.model.referrals.service_close_month`) -- or until the end of the
quarter in which the SPV stopped the service; each young person starting
costs ``spv.cost_per_young_person`` in their start quarter; the management fee falls every
quarter of the contract, and upfront (intermediary) fees in quarter 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.model.referrals import team_start_months
from simsib.scenario.format import Scenario


@dataclass(frozen=True)
class CostSchedule:
    """Costs owed per draw and quarter (£, shape (n_draws, n_quarters))."""

    teams: np.ndarray
    per_young_person: np.ndarray
    fees: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.teams + self.per_young_person + self.fees


def cost_schedule(
    scenario: Scenario, inputs: DrawInputs, starts_by_cohort: np.ndarray, stop_quarter: np.ndarray,
    close_month: np.ndarray | None = None,
) -> CostSchedule:
    """Costs owed per quarter.

    Parameters
    ----------
    starts_by_cohort : (n_draws, n_cohorts) young people starting in each quarter (served only)
    stop_quarter : (n_draws,) int, first quarter with no new starts (n_quarters if none)
    close_month : (n_draws,) month the service closed to new families (default: the service end)
    """
    n = starts_by_cohort.shape[0]
    n_quarters = scenario.n_quarters
    edges = np.arange(n_quarters + 1, dtype=float) * MONTHS_PER_QUARTER
    # Teams run until the families who started last finish therapy, or to the end of the
    # quarter in which the SPV stopped the service.
    if close_month is None:
        close_month = np.full(n, float(scenario.referrals.service_end_month))
    last_therapy_ends = close_month + inputs["referrals.months_per_case"]
    team_end = np.minimum(last_therapy_ends, (stop_quarter + 1) * MONTHS_PER_QUARTER)
    starts = team_start_months(scenario, inputs)[:, :, None]  # (n, teams, 1)
    lo, hi = edges[:-1], edges[1:]
    running = np.clip(np.minimum(hi, team_end[:, None, None]) - np.maximum(lo, starts), 0.0, None)
    team_quarters = running.sum(axis=1) / MONTHS_PER_QUARTER  # (n, n_quarters)
    teams = team_quarters * inputs["spv.team_cost_per_quarter"][:, None]

    per_person = np.zeros((n, n_quarters))
    c = min(starts_by_cohort.shape[1], n_quarters)
    per_person[:, :c] = starts_by_cohort[:, :c] * inputs["spv.cost_per_young_person"][:, None]

    fees = np.zeros((n, n_quarters))
    fees += inputs["spv.management_fee_per_quarter"][:, None]
    fees[:, 0] += inputs["spv.upfront_fees"]
    return CostSchedule(teams=teams, per_young_person=per_person, fees=fees)
