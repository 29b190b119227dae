"""Per-draw metrics for investors, the council and outcomes.

Conventions: money in £, days in calendar days, IRR annualised from quarterly investor flows
(outflows negative), NPV at the scenario's annual discount rate converted to quarterly.
Undefined values are NaN; ``irr_status`` (see :class:`simsib.finance.IrrStatus`) says why an
IRR is missing.
"""

from __future__ import annotations

import numpy as np

from simsib.carepaths import CohortQuarterly
from simsib.cashflows import Waterfall
from simsib.finance import annualise, irr, npv, payback_period
from simsib.payments import Payments
from simsib.referrals import team_start_months
from simsib.sampling import DrawInputs
from simsib.scenario import Scenario

DAYS_PER_WEEK = 7.0
TOTAL_LOSS_MOIC = 0.1  # "total loss": less than 10p back per £1 drawn


def daily_care_cost(inputs: DrawInputs) -> np.ndarray:
    """Average cost of a day in care for the draw's placement mix, £/day, shape (n_draws,)."""
    fostering = (
        inputs["care.ifa_share_of_fostering"] * inputs["care.ifa_foster_weekly_cost"]
        + (1.0 - inputs["care.ifa_share_of_fostering"]) * inputs["care.la_foster_weekly_cost"]
    )
    residential = inputs["care.residential_share"]
    weekly = residential * inputs["care.residential_weekly_cost"] + (1.0 - residential) * fostering
    return weekly / DAYS_PER_WEEK


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def investor_metrics(scenario: Scenario, inputs: DrawInputs, waterfall: Waterfall) -> dict[str, np.ndarray]:
    flows = waterfall.investor_flows
    drawn = waterfall.drawn.sum(axis=1)
    distributed = waterfall.distributed.sum(axis=1)
    rate, status = irr(flows)
    quarterly_discount = (1.0 + inputs["spv.discount_rate"]) ** 0.25 - 1.0
    position = np.cumsum(flows, axis=1)
    return {
        "capital_drawn": drawn,
        "distributions": distributed,
        "investor_profit": distributed - drawn,
        "moic_drawn": _safe_divide(distributed, drawn),
        "moic_committed": _safe_divide(distributed, inputs["spv.capital_committed"]),
        "irr": annualise(rate, 4),
        "irr_status": status.astype(np.int8),
        "npv": npv(quarterly_discount, flows),
        "payback_quarter": payback_period(flows),
        "peak_capital_at_risk": np.maximum(-position.min(axis=1), 0.0),
    }


def council_metrics(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, payments: Payments
) -> dict[str, np.ndarray]:
    day_cost = daily_care_cost(inputs)
    paid = payments.paid.sum(axis=1)
    true_days = (outcomes.care_days_counterfactual - outcomes.care_days_treated).sum(axis=(1, 2))
    contract_days = payments.counted_days
    # Share of the paid-for days that MST did not cause: 1 − true ÷ counted, in [0, 1].
    deadweight = np.clip(1.0 - _safe_divide(true_days, contract_days), 0.0, 1.0)
    management = inputs["contract.council_management_cost_per_quarter"] * scenario.n_quarters
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
    outcomes: CohortQuarterly,
    monthly_starts: np.ndarray,
    stop_quarter: np.ndarray,
) -> dict[str, np.ndarray]:
    child = outcomes.child_days.sum(axis=(1, 2))
    care1 = outcomes.care_days_treated.sum(axis=(1, 2))
    care0 = outcomes.care_days_counterfactual.sum(axis=(1, 2))
    months = np.arange(monthly_starts.shape[1])
    served = (months[None, :] // 3) < stop_quarter[:, None]
    # "Year 1" is the first operational year, from the first team's start (E12: Essex's year-1
    # figures run to November 2014, both teams having started late), counted by mid-month.
    first_team = team_start_months(scenario, inputs).min(axis=1)[:, None]
    in_year1 = (months[None, :] + 0.5 >= first_team) & (months[None, :] + 0.5 < first_team + 12)
    return {
        "young_people_started": outcomes.starts.sum(axis=1),
        "young_people_completed": outcomes.completed.sum(axis=1),
        "year1_starts": (monthly_starts * (served & in_year1)).sum(axis=1).astype(float),
        "child_days": child,
        "care_days_treated": care1,
        "care_days_counterfactual": care0,
        "care_proportion_treated": _safe_divide(care1, child),
        "care_proportion_counterfactual": _safe_divide(care0, child),
    }
