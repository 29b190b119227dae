"""The SPV's quarterly cash waterfall, vectorised over draws, with its capital structure.

Each quarter ``q`` up to the draw's final quarter (in this order):

1. credit interest on the cash held since the quarter before (``spv.cash_interest_rate``);
   accrue each tranche's coupon on its outstanding capital and unpaid coupon, and pay, from the
   commissioner, any minimum coupon of the first years;
2. receive outcome payments;
3. owe costs: team costs for the share of the quarter each team runs (from its start until
   therapy for the last starters ends, until the end of the quarter the service stopped, or
   until termination), the cost of each young person starting, the management fee while the
   contract runs, and upfront (intermediary) fees in quarter 0.  A provider risk share defers
   part of the team and per-person costs: the provider is paid it only from distributable cash,
   never more than the outcome payments received;
4. call capital: what the drawdown rule calls by then (``spv.upfront_drawdown_share`` at close,
   everything at close, or a schedule), then, if cash is short, more up to the commitment --
   from every tranche pro rata to its commitment;
5. pay costs from cash; what cannot be paid is *unfunded* (borne by the provider) and marks
   the quarter as short;
6. from ``distributions_from_month`` on, distribute cash above the reserve plus the management
   fees still to come; in the final quarter distribute everything (after any early-redemption
   top-up).  Distributions go, in ``spv.distribution_order``: each tranche's capital by priority
   (senior, mezzanine, junior; pro rata within one), then coupons by priority, then the residual
   by upside share; no tranche beyond its return cap, whose excess goes to
   ``spv.capped_excess_to``.  The provider's deferred fee sits where ``provider_risk.paid`` says.

Guarantees pay a share of each covered tranche's lost principal (capital drawn less capital
returned) when the SPV makes its final distribution, or at the scheduled end.

Investor cash flows are ``distributions + minimum coupons + guarantee payouts − drawdowns``
(outflows negative, as in numpy-financial).  Cash is conserved: for every draw and quarter,
``cash[q] = cash[q−1] + interest[q] + paid[q] + topup[q] + drawn[q] − costs_paid[q] − out[q]``,
where ``out = distributed + provider_deferred_paid + capped_excess``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.contract.capital import CapitalStructure, capital_structure
from simsib.contract.timeline import Timeline
from simsib.contract.waterfall_kernel import waterfall_kernel
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.scenario.format import Scenario

LOSS_TOLERANCE = 1e-6  # £ of principal not returned that counts as no loss (float rounding)


@dataclass(frozen=True)
class TrancheFlows:
    """Each tranche's flows, (n_draws, n_tranches, n_quarters) £, and totals (n_draws, n_tranches).

    drawn : capital drawn; distributed : paid by the SPV; minimum_coupons : paid by the
    commissioner; guaranteed : guarantee payouts received; capital_returned : total capital paid back
    """

    drawn: np.ndarray
    distributed: np.ndarray
    minimum_coupons: np.ndarray
    guaranteed: np.ndarray
    capital_returned: np.ndarray

    @property
    def flows(self) -> np.ndarray:
        """Each tranche's cash flows per quarter (outflows negative), (n, K, T)."""
        return self.distributed + self.minimum_coupons + self.guaranteed - self.drawn

    @property
    def lost_principal(self) -> np.ndarray:
        """Capital drawn and never returned by the SPV, per tranche, (n, K) £."""
        lost = self.drawn.sum(axis=2) - self.capital_returned
        return np.where(lost > LOSS_TOLERANCE, lost, 0.0)


@dataclass(frozen=True)
class Waterfall:
    """Quarterly SPV flows, each (n_draws, n_quarters) £, plus the first short quarter.

    ``costs_owed`` are the costs due in cash (less any deferred part of the provider's fee, which
    is ``provider_deferred``).  ``distributed`` is what investors get from the SPV;
    ``provider_deferred_paid`` and ``capped_excess`` are the rest of each quarter's distributable
    cash.  ``guarantee_payouts``
    holds each guarantee's payout per draw, (n, G) £; ``redemption_topup`` the commissioner's
    early-redemption top-up, (n,) £.
    """

    payments: np.ndarray
    drawn: np.ndarray
    costs_owed: np.ndarray
    costs_paid: np.ndarray
    distributed: np.ndarray
    cash: np.ndarray  # balance at the end of each quarter
    first_short_quarter: np.ndarray  # (n_draws,) int; n_quarters if never short
    interest: np.ndarray | None = None
    provider_deferred: np.ndarray | None = None
    provider_deferred_paid: np.ndarray | None = None
    capped_excess: np.ndarray | None = None
    redemption_topup: np.ndarray | None = None
    tranches: TrancheFlows | None = None
    guarantee_payouts: np.ndarray | None = None

    @property
    def investor_receipts(self) -> np.ndarray:
        """What all investors receive per quarter: distributions, and the minimum coupons and
        guarantee payouts where the term sheet has them."""
        if self.tranches is None or not (self.tranches.minimum_coupons.any() or self.tranches.guaranteed.any()):
            return self.distributed
        return self.distributed + (self.tranches.minimum_coupons + self.tranches.guaranteed).sum(axis=1)

    @property
    def investor_flows(self) -> np.ndarray:
        """Investors' cash flows per quarter: receipts minus capital drawn."""
        return self.investor_receipts - self.drawn


def run_waterfall(
    scenario: Scenario,
    inputs: DrawInputs,
    payments: np.ndarray,
    costs: np.ndarray,
    *,
    deferrable: np.ndarray | None = None,
    timeline: Timeline | None = None,
    measures: dict[str, np.ndarray] | None = None,
) -> Waterfall:
    """Run the quarterly waterfall of every draw (compiled: a loop over draws and quarters).

    Parameters
    ----------
    payments, costs : (n_draws, n_quarters) £ received and owed each quarter
    deferrable : (n_draws, n_quarters) £ of ``costs`` a provider risk share may defer (service
        costs); required only when the scenario has ``[spv.provider_risk]``
    timeline : each draw's contract dates (default: the scenario's own)
    measures : the return grids' measures over the whole contract, see :func:`capital_structure`
    """
    n, n_quarters = payments.shape
    structure = capital_structure(scenario, inputs, n_quarters, measures)
    owed = np.ascontiguousarray(costs, dtype=float)
    deferred = np.zeros((n, n_quarters))
    if scenario.spv.provider_risk is not None:
        if deferrable is None:
            raise ValueError("a provider risk share needs the service costs it defers (deferrable=)")
        deferred = deferrable * structure.provider_share[:, None]
        owed = owed - deferred
    if timeline is None:
        final = planned = np.full(n, n_quarters - 1, dtype=np.int64)
        decided = np.full(n, n_quarters, dtype=np.int64)
        redemption = np.zeros(n)
    else:
        final, planned = timeline.final_quarter, timeline.planned_final_quarter
        decided, redemption = timeline.decided_quarter, timeline.redemption_fraction
    return _run(scenario, inputs, payments, owed, deferred, structure, final, planned, decided, redemption, timeline)


def _run(scenario, inputs, payments, owed, deferred, structure: CapitalStructure, final, planned, decided,
         redemption, timeline) -> Waterfall:
    n, n_quarters = payments.shape
    k_count = len(structure.names)
    drawn, paid_costs, distributed, cash_end, interest, provider_paid, excess = (
        np.zeros((n, n_quarters)) for _ in range(7))
    first_short = np.full(n, n_quarters, dtype=np.int64)
    topup = np.zeros(n)
    tr_drawn, tr_dist, tr_min = (np.zeros((n, k_count, n_quarters)) for _ in range(3))
    tr_back = np.zeros((n, k_count))
    waterfall_kernel(
        np.ascontiguousarray(payments, dtype=float), owed, deferred, structure.call_share, structure.commitment,
        structure.priority, structure.coupon_q, structure.cap_q, structure.has_cap, structure.upside,
        structure.min_coupon_q, structure.min_coupon_quarters, inputs["spv.reserve"],
        inputs["spv.management_fee_per_quarter"], structure.idle_rate_q,
        -(-scenario.spv.distributions_from_month // MONTHS_PER_QUARTER),
        np.ascontiguousarray(final, dtype=np.int64), np.ascontiguousarray(planned, dtype=np.int64),
        np.ascontiguousarray(decided, dtype=np.int64), np.ascontiguousarray(redemption, dtype=float),
        structure.order, structure.provider_position,
        drawn, paid_costs, distributed, cash_end, first_short, interest, provider_paid, excess, topup,
        tr_drawn, tr_dist, tr_min, tr_back,
    )
    tranches = TrancheFlows(drawn=tr_drawn, distributed=tr_dist, minimum_coupons=tr_min,
                            guaranteed=np.zeros_like(tr_drawn), capital_returned=tr_back)
    payouts = None
    if scenario.spv.guarantees:
        from simsib.contract.guarantees import guarantee_payouts

        payouts, received = guarantee_payouts(scenario, inputs, tranches, final, planned)
        tranches = TrancheFlows(drawn=tr_drawn, distributed=tr_dist, minimum_coupons=tr_min, guaranteed=received,
                                capital_returned=tr_back)
    return Waterfall(
        payments=payments, drawn=drawn, costs_owed=owed, costs_paid=paid_costs, distributed=distributed, cash=cash_end, first_short_quarter=first_short,
        interest=interest, provider_deferred=deferred, provider_deferred_paid=provider_paid, capped_excess=excess,
        redemption_topup=topup, tranches=tranches, guarantee_payouts=payouts,
    )
