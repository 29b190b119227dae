"""Per-draw metrics of the capital structure: each tranche's return, each guarantor's payout, the
contract's early end, and what the term sheet costs or returns to the council and the provider.

Columns appear only where the scenario has the feature, so a scenario with one class of
investors and no term-sheet extras keeps exactly the columns it always had.  A tranche's MOIC is
on the capital it drew, counting what it received from the SPV, the commissioner's minimum
coupons and guarantees; its IRR is annualised from those quarterly flows.
"""

from __future__ import annotations

import numpy as np

from simsib.contract.capital import tranche_names
from simsib.contract.finance import annualise
from simsib.contract.irr import irr
from simsib.contract.timeline import Timeline
from simsib.contract.waterfall import Waterfall
from simsib.model.inputs import DrawInputs
from simsib.scenario.format import Scenario


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def tranche_metrics(scenario: Scenario, waterfall: Waterfall) -> dict[str, np.ndarray]:
    """``capital_drawn_<t>``, ``distributions_<t>``, ``moic_<t>``, ``irr_<t>``, ``irr_status_<t>``,
    ``lost_principal_<t>`` and, where guaranteed, ``guarantee_received_<t>`` of each tranche
    ``t`` of [[spv.tranches]] (none without them: the investor columns are the one tranche's)."""
    if not scenario.spv.tranches:
        return {}
    tranches = waterfall.tranches
    flows = tranches.flows
    covered = {g.tranche for g in scenario.spv.guarantees}
    out: dict[str, np.ndarray] = {}
    for k, name in enumerate(tranche_names(scenario)):
        drawn = tranches.drawn[:, k].sum(axis=1)
        received = (tranches.distributed[:, k] + tranches.minimum_coupons[:, k] + tranches.guaranteed[:, k]).sum(axis=1)
        rate, status = irr(flows[:, k])
        out[f"capital_drawn_{name}"] = drawn
        out[f"distributions_{name}"] = received
        out[f"moic_{name}"] = _ratio(received, drawn)
        out[f"irr_{name}"] = annualise(rate, 4)
        out[f"irr_status_{name}"] = status.astype(np.int8)
        out[f"lost_principal_{name}"] = tranches.lost_principal[:, k]
        if name in covered:
            out[f"guarantee_received_{name}"] = tranches.guaranteed[:, k].sum(axis=1)
    return out


def guarantor_metrics(scenario: Scenario, waterfall: Waterfall) -> dict[str, np.ndarray]:
    """``guarantee_<guarantor>``: what each guarantor pays per draw, £ (several guarantees by one
    guarantor add up)."""
    out: dict[str, np.ndarray] = {}
    for g, guarantee in enumerate(scenario.spv.guarantees):
        key = f"guarantee_{guarantee.guarantor}"
        out[key] = out.get(key, 0.0) + waterfall.guarantee_payouts[:, g]
    return out


def termination_metrics(scenario: Scenario, timeline: Timeline | None, n: int) -> dict[str, np.ndarray]:
    """``terminated``, ``termination_quarter`` (NaN if not), ``extended`` and ``final_quarter``,
    for scenarios with review dates."""
    if not scenario.contract.reviews:
        return {}
    if timeline is None:  # no rule fired in this chunk: every draw on the scenario's dates
        return {"terminated": np.zeros(n, dtype=bool), "termination_quarter": np.full(n, np.nan),
                "extended": np.zeros(n, dtype=bool), "final_quarter": np.full(n, scenario.n_quarters - 1.0)}
    terminated = timeline.terminated
    return {
        "terminated": terminated,
        "termination_quarter": np.where(terminated, timeline.terminated_quarter, np.nan).astype(float),
        "extended": timeline.extended_months > 0,
        "final_quarter": timeline.final_quarter.astype(float),
    }


def party_flows(scenario: Scenario, inputs: DrawInputs, waterfall: Waterfall) -> dict[str, np.ndarray]:
    """What the term sheet moves to and from the council and the provider, per draw, £.

    Council: ``early_redemption_payments``, ``minimum_coupon_payments``,
    ``commissioner_guarantee_payouts`` (costs) and ``capped_excess_returned`` (a refund).
    Provider: ``provider_fees_deferred``, ``provider_deferred_paid``,
    ``provider_guarantee_payouts`` and ``capped_excess_to_provider``.  SPV: ``cash_interest``.
    """
    spv = scenario.spv
    out: dict[str, np.ndarray] = {}
    parties = {g.party for g in spv.guarantees}
    capped = spv.return_cap is not None or any(t.return_cap is not None or t.return_grid for t in spv.tranches)
    if scenario.contract.termination.early_redemption and scenario.contract.reviews:
        out["early_redemption_payments"] = waterfall.redemption_topup
    if any(t.minimum_coupon is not None for t in spv.tranches):
        out["minimum_coupon_payments"] = waterfall.tranches.minimum_coupons.sum(axis=(1, 2))
    for party in ("commissioner", "provider"):
        if party in parties:
            paid = sum(waterfall.guarantee_payouts[:, g] for g, x in enumerate(spv.guarantees) if x.party == party)
            out[f"{party}_guarantee_payouts"] = paid
    if capped:
        target = "capped_excess_returned" if spv.capped_excess_to == "commissioner" else "capped_excess_to_provider"
        out[target] = waterfall.capped_excess.sum(axis=1)
    if spv.provider_risk is not None:
        out["provider_fees_deferred"] = waterfall.provider_deferred.sum(axis=1)
        out["provider_deferred_paid"] = waterfall.provider_deferred_paid.sum(axis=1)
    if not (spv.cash_interest_rate.is_fixed and float(spv.cash_interest_rate.value) == 0.0):
        out["cash_interest"] = waterfall.interest.sum(axis=1)
    return out


def council_term_sheet_cost(flows: dict[str, np.ndarray]) -> np.ndarray | None:
    """What the term sheet costs the council per draw (redemption top-ups, minimum coupons, its
    guarantees, less capped excess returned), £; None when it has no such terms."""
    parts = [flows[k] for k in ("early_redemption_payments", "minimum_coupon_payments",
                                "commissioner_guarantee_payouts") if k in flows]
    if "capped_excess_returned" in flows:
        parts.append(-flows["capped_excess_returned"])
    return sum(parts) if parts else None
