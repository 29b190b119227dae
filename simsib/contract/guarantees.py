"""Guarantees and principal protection: who pays how much of a tranche's lost principal, and when.

A guarantee covers ``share`` of its tranche's lost principal -- capital drawn that the SPV never
returned -- up to ``limit``.  Guarantees of one tranche apply in the scenario's order, each to
the loss the ones before it left, so together they never pay more than the loss.  Each pays when
the SPV makes its final distribution (at the end, or at an early termination) or, with
``paid_at = "scheduled_end"``, at the contract's scheduled end (the later of the two).

Guarantees sit outside the SPV: they change no distribution, so a guarantee never lowers any
draw's return to the tranche it covers.
"""

from __future__ import annotations

import numpy as np

from simsib.model.inputs import DrawInputs
from simsib.scenario.format import Scenario


def guarantee_payouts(
    scenario: Scenario, inputs: DrawInputs, tranches, final_quarter: np.ndarray, planned_final: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each guarantee's payout and what each tranche receives.

    Parameters
    ----------
    tranches : :class:`simsib.contract.waterfall.TrancheFlows` of the SPV (before guarantees)
    final_quarter, planned_final : (n,) int, each draw's final and scheduled final quarter

    Returns
    -------
    payouts : (n, G) £ paid by each guarantee
    received : (n, K, T) £ each tranche receives from guarantees, by quarter
    """
    from simsib.contract.capital import tranche_names

    names = tranche_names(scenario)
    n, k_count, n_quarters = tranches.drawn.shape
    uncovered = tranches.lost_principal.copy()
    payouts = np.zeros((n, len(scenario.spv.guarantees)))
    received = np.zeros((n, k_count, n_quarters))
    rows = np.arange(n)
    for g, guarantee in enumerate(scenario.spv.guarantees):
        k = names.index(guarantee.tranche)
        key = f"spv.guarantees.{g}"
        pay = inputs[f"{key}.share"] * uncovered[:, k]
        if guarantee.limit is not None:
            pay = np.minimum(pay, inputs[f"{key}.limit"])
        pay = np.minimum(pay, uncovered[:, k])
        uncovered[:, k] -= pay
        payouts[:, g] = pay
        quarter = final_quarter if guarantee.paid_at == "final_distribution" else np.maximum(final_quarter, planned_final)
        received[rows, k, np.minimum(quarter, n_quarters - 1)] += pay
    return payouts, received
