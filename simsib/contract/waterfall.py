"""The SPV's quarterly cash waterfall, vectorised over draws.

Each quarter ``q`` (in this order):

1. receive outcome payments;
2. owe costs: team costs for the share of the quarter each team runs (from its start until
   therapy for the last starters ends, or until the end of the quarter the service stopped),
   the cost of each young person starting, the management fee while the contract runs, and
   upfront (intermediary) fees in quarter 0;
3. if cash is short, draw investor capital up to what is left of the commitment (a share of the
   commitment, ``upfront_drawdown_share``, is drawn at financial close in quarter 0);
4. pay costs from cash; what cannot be paid is *unfunded* (borne by the provider) and marks
   the quarter as short;
5. from ``distributions_from_month`` on, distribute cash above the reserve plus the management
   fees still to come (an SPV does not pay out money it knows it will owe) to investors; in the
   final quarter distribute everything.

Outcome payments are therefore recycled into delivery until distributions begin.  Investor
cash flows are ``distributions − drawdowns`` (outflows negative, as in numpy-financial).
Cash is conserved: for every draw and quarter,
``cash[q] = cash[q−1] + paid[q] + drawn[q] − costs_paid[q] − distributed[q]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.scenario.format import Scenario


@dataclass(frozen=True)
class Waterfall:
    """Quarterly SPV flows, each (n_draws, n_quarters) £, plus the first short quarter."""

    payments: np.ndarray
    drawn: np.ndarray
    costs_owed: np.ndarray
    costs_paid: np.ndarray
    distributed: np.ndarray
    cash: np.ndarray  # balance at the end of each quarter
    first_short_quarter: np.ndarray  # (n_draws,) int; n_quarters if never short

    @property
    def investor_flows(self) -> np.ndarray:
        """Investors' cash flows per quarter: distributions minus capital drawn."""
        return self.distributed - self.drawn


def run_waterfall(scenario: Scenario, inputs: DrawInputs, payments: np.ndarray, costs: np.ndarray) -> Waterfall:
    """Run the quarterly waterfall of every draw (compiled: a loop over draws and quarters).

    Parameters
    ----------
    payments, costs : (n_draws, n_quarters) £ received and owed each quarter
    """
    n, n_quarters = payments.shape
    drawn, paid_costs, distributed, cash_end = (np.zeros((n, n_quarters)) for _ in range(4))
    first_short = np.full(n, n_quarters, dtype=np.int64)
    _waterfall(
        np.ascontiguousarray(payments, dtype=float), np.ascontiguousarray(costs, dtype=float),
        inputs["spv.capital_committed"], inputs["spv.upfront_drawdown_share"], inputs["spv.reserve"],
        inputs["spv.management_fee_per_quarter"],
        -(-scenario.spv.distributions_from_month // MONTHS_PER_QUARTER),
        drawn, paid_costs, distributed, cash_end, first_short,
    )
    return Waterfall(
        payments=payments, drawn=drawn, costs_owed=costs, costs_paid=paid_costs,
        distributed=distributed, cash=cash_end, first_short_quarter=first_short,
    )


@njit(cache=True)
def _waterfall(received, owed, committed, upfront_share, reserve, fee, first_distribution,
               drawn, paid_costs, distributed, cash_end, first_short):
    """The steps of the module docstring, draw by draw and quarter by quarter, into the
    zeroed outputs; ``first_short`` starts at n_quarters.  Compiled: the quarters of a draw
    are sequential, so numpy could only loop over them in Python (34 passes a chunk)."""
    n, n_quarters = received.shape
    for d in range(n):
        cash = 0.0
        drawn_total = 0.0
        for q in range(n_quarters):
            cash = cash + received[d, q]
            if q == 0:  # capital called at financial close, before any cost is due
                upfront = upfront_share[d] * committed[d]
                cash += upfront
                drawn[d, 0] += upfront
                drawn_total += upfront
            draw = min(max(owed[d, q] - cash, 0.0), committed[d] - drawn_total)
            drawn[d, q] += draw
            drawn_total += draw
            cash += draw
            pay = min(owed[d, q], cash)
            paid_costs[d, q] = pay
            cash -= pay
            if owed[d, q] - pay > 1e-6 and first_short[d] == n_quarters:
                first_short[d] = q
            if q == n_quarters - 1:
                out = cash
            elif q >= first_distribution:
                fees_to_come = fee[d] * (n_quarters - 1 - q)
                out = max(cash - reserve[d] - fees_to_come, 0.0)
            else:
                out = 0.0
            distributed[d, q] = out
            cash -= out
            cash_end[d, q] = cash
