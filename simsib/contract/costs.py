"""What the SPV owes each quarter: team costs, per-person costs and fees.

Team costs run pro rata from each team's start until therapy for the families who started last
ends -- ``months_per_case`` after the service closed (the target was reached, or the service
period ended: :func:`simsib.model.referrals.service_close_month`) -- or until the end of the
quarter in which the SPV stopped the service; each young person starting
costs ``spv.cost_per_young_person`` in their start quarter; the management fee falls every
quarter of the contract, and upfront (intermediary) fees in quarter 0.  With a per-draw
timeline (:mod:`simsib.contract.timeline`), teams stop at a termination and fees end with the
draw's final distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.contract.timeline import Timeline
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

    @property
    def service(self) -> np.ndarray:
        """The provider's costs (teams and per young person): what a provider risk share defers."""
        return self.teams + self.per_young_person


def cost_schedule(
    scenario: Scenario, inputs: DrawInputs, starts_by_cohort: np.ndarray, stop_quarter: np.ndarray,
    timeline: Timeline | None = None, *, close_month: np.ndarray | None = None,
) -> CostSchedule:
    """Costs owed per quarter.

    Parameters
    ----------
    starts_by_cohort : (n_draws, n_cohorts) young people starting in each quarter (served only)
    stop_quarter : (n_draws,) int, first quarter with no new starts (n_quarters if none)
    timeline : each draw's own dates (default: the scenario's): teams stop at a termination or
        at the draw's own service end, and fees with its final distribution
    close_month : (n_draws,) month the service closed to new families, as
        :func:`simsib.model.referrals.service_close_month` gives it (default: the service end)
    """
    n = starts_by_cohort.shape[0]
    n_quarters = scenario.n_quarters
    edges = np.arange(n_quarters + 1, dtype=float) * MONTHS_PER_QUARTER
    # Teams run until the families who started last finish therapy, or to the end of the
    # quarter in which the SPV stopped the service.
    closed = np.full(n, float(scenario.referrals.service_end_month)) if close_month is None else close_month
    if timeline is not None:  # never after the draw's own service end (not extended)
        closed = np.minimum(closed, timeline.service_end_month)
    last_therapy_ends = closed + inputs["referrals.months_per_case"]
    if timeline is not None:
        last_therapy_ends = np.minimum(last_therapy_ends, timeline.terminated_month)
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
    if timeline is not None:
        fees[np.arange(n_quarters)[None, :] > timeline.final_quarter[:, None]] = 0.0
    return CostSchedule(teams=teams, per_young_person=per_person, fees=fees)
