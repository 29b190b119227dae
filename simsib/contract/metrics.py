"""Per-draw metrics for investors, the council and outcomes.

Conventions: money in £, days in calendar days, IRR annualised from quarterly investor flows
(outflows negative), NPV at the scenario's annual discount rate converted to quarterly.

The council's accounts are a finance officer's (:mod:`simsib.contract.council_value`): care
avoided in a quarter is valued at that quarter's prices; ``net_benefit`` is the cash sum and
``net_benefit_pv`` discounts each quarter's savings, payments and management costs to the
contract start at ``spv.discount_rate``; savings are counted inside the tracking windows (what
the contract pays for) and, as ``*_to_18``, to each young person's 18th birthday (what the
council avoids).
Undefined values are NaN; ``irr_status`` (see :class:`simsib.contract.finance.IrrStatus`) says why an
IRR is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simsib.contract.capital import total_commitment
from simsib.contract.finance import annualise, npv, payback_period, running_sum
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


def deadweight_share(true_days: np.ndarray, counted_days: np.ndarray, paid: np.ndarray) -> np.ndarray:
    """Share of what the council paid for care days that the service did not truly avoid, (n,).

    ``1 − true ÷ counted`` clipped to [0, 1] where the contract counted care days saved (a draw
    where the service increased care is 1: none of the paid days were avoided).  Where the
    contract counted no days saved, or fewer than none, over the whole contract, yet paid (each
    quarter's payment is against that quarter's count), none of what it paid is for a care day
    truly avoided: 1; if it paid nothing either, 0 (nothing was paid for deadweight).  Undefined
    (NaN) only where the contract counts no care days at all (exactly zero) -- mechanisms that pay
    for something else (reoffending events, attainment), to which a days-based deadweight does
    not apply, or a draw in which nobody started.

    Parameters
    ----------
    true_days, counted_days : (n,) care days truly avoided, and counted by the contract
    paid : (n,) £ outcome payments
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip(1.0 - true_days / np.where(counted_days > 0, counted_days, 1.0), 0.0, 1.0)
    share = np.where(counted_days > 0, share, 1.0)
    share = np.where(paid > 0, share, np.where(counted_days > 0, share, 0.0))
    return np.where(counted_days == 0, np.nan, share)


def investor_metrics(scenario: Scenario, inputs: DrawInputs, waterfall: Waterfall) -> dict[str, np.ndarray]:
    flows = waterfall.investor_flows
    drawn = waterfall.drawn.sum(axis=1)
    distributed = waterfall.investor_receipts.sum(axis=1)
    rate, status = irr(flows)
    quarterly_discount = (1.0 + inputs["spv.discount_rate"]) ** 0.25 - 1.0
    position = running_sum(flows)
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


def discount_factors(inputs: DrawInputs, n_quarters: int) -> np.ndarray:
    """``(1 + spv.discount_rate)^(−q/4)`` for quarter ``q``, (n_draws, n_quarters)."""
    quarters = np.arange(n_quarters) / 4.0
    return (1.0 + inputs["spv.discount_rate"][:, None]) ** -quarters[None, :]


def council_metrics(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly | OutcomeTotals, payments: Payments,
    true_savings: np.ndarray | None = None, care: Any = None,
) -> dict[str, np.ndarray]:
    """``outcomes``: of the served cohorts, or just their totals.  ``true_savings``: the £ value
    of every outcome the service changed, when the scenario has named cohorts
    (:func:`simsib.contract.outcome_metrics.true_value`).  ``care``: the care avoided by quarter
    at each quarter's prices (:class:`simsib.contract.council_value.CareValue`; None when not all
    cohorts are care, or not computed): it gives the true savings, their present value and the
    savings to the 18th birthday.  Without it the true savings are care days avoided × the cost of
    a care day at contract-start prices, and the present values are undefined (NaN)."""
    totals = _totals(outcomes)
    n = len(totals.starts)
    day_cost = scenario_daily_care_cost(scenario, inputs, n)
    paid = payments.paid.sum(axis=1)
    true_days = totals.care_days_counterfactual - totals.care_days_treated
    contract_days = payments.counted_days
    deadweight = deadweight_share(true_days, contract_days, paid)
    per_quarter = inputs["contract.council_management_cost_per_quarter"]
    discount = discount_factors(inputs, payments.paid.shape[1])
    undefined = np.full(n, np.nan)
    if care is not None:
        true_savings = care.window.sum(axis=1)
        true_pv = (care.window * discount[:, : care.window.shape[1]]).sum(axis=1)
        contract_price = care.tracked_price
    else:
        if true_savings is None:
            true_savings = true_days * day_cost
        true_pv, contract_price = undefined, 1.0
    council = {
        "outcome_payments": paid,
        "cap_reached": payments.cap_reached,
        "cap_quarter": payments.cap_quarter,
        "care_days_saved_contract": contract_days,
        "care_days_saved_true": true_days,
        "daily_care_cost": day_cost,
        "contract_savings": contract_days * day_cost * contract_price,
        "true_savings": true_savings,
        "deadweight_share": deadweight,
        "deadweight_paid": deadweight * paid,
        "true_savings_pv": true_pv,
        "outcome_payments_pv": (payments.paid * discount).sum(axis=1),
        "care_days_saved_to_18": undefined,
        "true_savings_to_18": undefined,
        "true_savings_to_18_pv": undefined,
    }
    if care is not None and care.to_age_limit is not None:
        council["care_days_saved_to_18"] = care.days_to_age_limit
        council["true_savings_to_18"] = care.to_age_limit.sum(axis=1)
        council["true_savings_to_18_pv"] = (
            care.to_age_limit * discount_factors(inputs, care.to_age_limit.shape[1])).sum(axis=1)
    return with_net_benefits(council, per_quarter * scenario.n_quarters, per_quarter * discount.sum(axis=1))


def with_net_benefits(council: dict[str, np.ndarray], management: np.ndarray, management_pv: np.ndarray,
                      other_costs: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``council`` with its management costs and every net benefit (cash and present value,
    inside the windows and to the 18th birthday): savings less payments, management costs and
    ``other_costs`` (the term sheet's, counted undiscounted: their timing is not split)."""
    other = 0.0 if other_costs is None else other_costs
    council["council_management_costs"] = management
    council["net_benefit"] = council["true_savings"] - council["outcome_payments"] - management - other
    council["net_benefit_pv"] = council["true_savings_pv"] - council["outcome_payments_pv"] - management_pv - other
    council["net_benefit_to_18"] = council["true_savings_to_18"] - council["outcome_payments"] - management - other
    council["net_benefit_to_18_pv"] = (council["true_savings_to_18_pv"] - council["outcome_payments_pv"]
                                       - management_pv - other)
    return council


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
