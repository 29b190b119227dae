"""Per-draw metrics for investors, the council and outcomes.

Conventions: money in £, days in calendar days, IRR annualised from quarterly investor flows
(outflows negative), NPV at the scenario's annual discount rate converted to quarterly.
Undefined values are NaN; ``irr_status`` (see :class:`simsib.contract.finance.IrrStatus`) says why an
IRR is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.contract.capital import total_commitment
from simsib.contract.finance import annualise, npv, payback_period
from simsib.contract.irr import irr
from simsib.contract.payments import Payments
from simsib.contract.waterfall import Waterfall
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly
from simsib.model.referrals import team_start_months
from simsib.scenario.format import Scenario, resolve_cohorts

DAYS_PER_WEEK = 7.0
TOTAL_LOSS_MOIC = 0.1  # "total loss": less than 10p back per £1 drawn


@dataclass(frozen=True)
class OutcomeTotals:
    """Served outcomes summed over cohorts and quarters, each (n_draws,): all the metrics need."""

    child_days: np.ndarray
    care_days_treated: np.ndarray
    care_days_counterfactual: np.ndarray
    starts: np.ndarray
    completed: np.ndarray

    @classmethod
    def of(cls, outcomes: CohortQuarterly, cohort_served: np.ndarray | None = None) -> OutcomeTotals:
        """Totals of the outcomes of the ``cohort_served`` ((n, C) bool, default all): the totals
        of :func:`simsib.contract.payments.served_outcomes`, cutting no cube.  (Quarters after the
        measurement end hold nothing to cut: see :class:`CohortQuarterly`.)"""
        n, n_cohorts = outcomes.starts.shape
        cohorts = np.ones((n, n_cohorts)) if cohort_served is None else cohort_served.astype(float)

        def total(name: str) -> np.ndarray:
            return (outcomes.by_cohort(name) * cohorts).sum(axis=1)

        return cls(
            child_days=total("child_days"),
            care_days_treated=total("care_days_treated"),
            care_days_counterfactual=total("care_days_counterfactual"),
            starts=(outcomes.starts * cohorts).sum(axis=1),
            completed=(outcomes.completed * cohorts).sum(axis=1),
        )


def _totals(outcomes: CohortQuarterly | OutcomeTotals) -> OutcomeTotals:
    """Totals of served outcomes, or the totals given."""
    return outcomes if isinstance(outcomes, OutcomeTotals) else OutcomeTotals.of(outcomes)


def daily_care_cost(inputs: DrawInputs, care: str = "care") -> np.ndarray:
    """Average cost of a day in care for the draw's placement mix, £/day, shape (n_draws,).

    ``care`` is the dotted prefix of the [care] table (``cohorts.1.care`` for a cohort's own).
    """
    fostering = (
        inputs[f"{care}.ifa_share_of_fostering"] * inputs[f"{care}.ifa_foster_weekly_cost"]
        + (1.0 - inputs[f"{care}.ifa_share_of_fostering"]) * inputs[f"{care}.la_foster_weekly_cost"]
    )
    residential = inputs[f"{care}.residential_share"]
    weekly = residential * inputs[f"{care}.residential_weekly_cost"] + (1.0 - residential) * fostering
    return weekly / DAYS_PER_WEEK


def scenario_daily_care_cost(scenario: Scenario, inputs: DrawInputs, n: int) -> np.ndarray:
    """The cost of a care day of the scenario's first care cohort (NaN without care), (n,)."""
    care = [c for c in resolve_cohorts(scenario) if c.process == "care"]
    return daily_care_cost(inputs, care[0].prefix["care"]) if care else np.full(n, np.nan)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def investor_metrics(scenario: Scenario, inputs: DrawInputs, waterfall: Waterfall) -> dict[str, np.ndarray]:
    flows = waterfall.investor_flows
    drawn = waterfall.drawn.sum(axis=1)
    distributed = waterfall.investor_receipts.sum(axis=1)
    rate, status = irr(flows)
    quarterly_discount = (1.0 + inputs["spv.discount_rate"]) ** 0.25 - 1.0
    position = np.cumsum(flows, axis=1)
    return {
        "capital_drawn": drawn,
        "distributions": distributed,
        "investor_profit": distributed - drawn,
        "moic_drawn": _safe_divide(distributed, drawn),
        "moic_committed": _safe_divide(distributed, total_commitment(scenario, inputs)),
        "irr": annualise(rate, 4),
        "irr_status": status.astype(np.int8),
        "npv": npv(quarterly_discount, flows),
        "payback_quarter": payback_period(flows),
        "peak_capital_at_risk": np.maximum(-position.min(axis=1), 0.0),
    }


def council_metrics(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly | OutcomeTotals, payments: Payments,
    true_savings: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``outcomes``: of the served cohorts, or just their totals.  ``true_savings``: the £ value
    of every outcome the service changed, when the scenario has named cohorts
    (:func:`simsib.contract.outcome_metrics.true_value`); by default care days avoided × the
    cost of a care day."""
    totals = _totals(outcomes)
    day_cost = scenario_daily_care_cost(scenario, inputs, len(totals.starts))
    paid = payments.paid.sum(axis=1)
    true_days = totals.care_days_counterfactual - totals.care_days_treated
    contract_days = payments.counted_days
    # Share of the paid-for days that MST did not cause: 1 − true ÷ counted, in [0, 1].
    deadweight = np.clip(1.0 - _safe_divide(true_days, contract_days), 0.0, 1.0)
    management = inputs["contract.council_management_cost_per_quarter"] * scenario.n_quarters
    if true_savings is None:
        true_savings = true_days * day_cost
    return {
        "outcome_payments": paid,
        "cap_reached": payments.cap_reached,
        "cap_quarter": payments.cap_quarter,
        "care_days_saved_contract": contract_days,
        "care_days_saved_true": true_days,
        "daily_care_cost": day_cost,
        "contract_savings": contract_days * day_cost,
        "true_savings": true_savings,
        "deadweight_share": deadweight,
        "council_management_costs": management,
        "net_benefit": true_savings - paid - management,
    }


def outcome_metrics(
    scenario: Scenario,
    inputs: DrawInputs,
    outcomes: CohortQuarterly | OutcomeTotals,
    monthly_starts: np.ndarray,
    stop_quarter: np.ndarray,
) -> dict[str, np.ndarray]:
    """``outcomes``: of the served cohorts, or just their totals."""
    totals = _totals(outcomes)
    child, care1, care0 = totals.child_days, totals.care_days_treated, totals.care_days_counterfactual
    months = np.arange(monthly_starts.shape[1])
    served = (months[None, :] // 3) < stop_quarter[:, None]
    # "Year 1" is the first operational year, from the first team's start (E12: Essex's year-1
    # figures run to November 2014, both teams having started late), counted by mid-month.
    first_team = team_start_months(scenario, inputs).min(axis=1)[:, None]
    in_year1 = (months[None, :] + 0.5 >= first_team) & (months[None, :] + 0.5 < first_team + 12)
    return {
        "young_people_started": totals.starts,
        "young_people_completed": totals.completed,
        "year1_starts": (monthly_starts * (served & in_year1)).sum(axis=1).astype(float),
        "child_days": child,
        "care_days_treated": care1,
        "care_days_counterfactual": care0,
        "care_proportion_treated": _safe_divide(care1, child),
        "care_proportion_counterfactual": _safe_divide(care0, child),
    }
