"""Outcome payments: from cohort × quarter outcomes to what the council pays, by quarter.

Each mechanism (:mod:`simsib.contract.mechanisms`) turns outcomes into *entitlement
increments* per draw, start cohort and measurement quarter (£, shape
(n_draws, n_cohorts, n_quarters)).

Netting: each mechanism's cumulative entitlement is netted cumulatively -- over the whole
contract (``netting = "contract"``) or within each cohort (``"cohort"``) -- so a bad quarter
offsets earlier good ones, and the amount due is the running maximum of the cumulative
entitlement, floored at zero: nothing already paid is clawed back.  Mechanisms then add up,
each cohort's cumulative total is limited by ``cohort_cap`` (with contract netting: the
contract-netted total, but at most the sum of the cohorts' capped, cohort-netted totals), the
contract total by ``cap``, and each quarter's payment is made ``payment_lag_quarters`` later.
Nothing measured after ``measurement_end_month`` earns anything.

Payers (``[[contract.payers]]``): each pays its ``share`` of every quarter's payment until its
own ``cap``; a payer's cap, once reached, is not made up by the others, so the SPV receives
less.  Without payers one payer, the commissioner, pays everything.

What each mechanism was paid: the payments (after netting, caps, lags and payers) shared pro
rata to the mechanisms' netted entitlements, so the shares add up to the payments made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simsib.contract.finance import running_max, running_sum
from simsib.contract.mechanisms import entitlement_increments
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import MONTHS_PER_QUARTER, CohortQuarterly, cut_to_served
from simsib.scenario.format import Scenario

IMPLICIT_PAYER = "commissioner"

CAP_TOLERANCE = 1e-6  # £: a cumulative payment this close to the cap counts as reaching it


@dataclass(frozen=True)
class Payments:
    """Outcome payments per draw.

    paid : (n_draws, n_quarters) £ paid in each quarter (after netting, caps, lag and payers):
        what the SPV receives
    counted_days : (n_draws,) care days the mechanisms pay for (days saved vs baseline, days
        out of care net of deadweight, milestone days); the basis of the deadweight share
    by_mechanism : dict name -> (n_draws,) £ due before netting and caps, per mechanism
        (``"<index>.<type>"``)
    cap_reached : (n_draws,) bool
    cap_quarter : (n_draws,) float, quarter in which the cap was reached (paid), NaN if never
    paid_by_mechanism : dict name -> (n_draws,) £ paid for each mechanism (pro rata, see above)
    paid_by_payer : dict payer name -> (n_draws,) £ each payer paid
    """

    paid: np.ndarray
    counted_days: np.ndarray
    by_mechanism: dict[str, np.ndarray]
    cap_reached: np.ndarray
    cap_quarter: np.ndarray
    paid_by_mechanism: dict[str, np.ndarray] = field(default_factory=dict)
    paid_by_payer: dict[str, np.ndarray] = field(default_factory=dict)


def _running_due(cumulative: np.ndarray) -> np.ndarray:
    """Amount due to date: running maximum of the cumulative entitlement, floored at zero."""
    return running_max(np.maximum(cumulative, 0.0))


def measured_quarters(scenario: Scenario, n_quarters: int) -> np.ndarray:
    """(n_quarters,) bool: quarters that start before ``contract.measurement_end_month``."""
    return np.arange(n_quarters) * MONTHS_PER_QUARTER < scenario.contract.measurement_end_month


def served_outcomes(outcomes: CohortQuarterly, cohort_active: np.ndarray, measured: np.ndarray) -> CohortQuarterly:
    """Outcomes of served cohorts in measured quarters only (others zeroed).

    cohort_active : (n_draws, n_cohorts) bool; measured : (n_quarters,) bool
    """
    if cohort_active.all():
        # Nothing to remove (the usual case): outcomes after the measurement end are zero by
        # construction -- windows and events end there -- and payments apply it again.
        return outcomes
    return cut_to_served(outcomes, cohort_active, measured)


def outcome_payments(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, cohort_served: np.ndarray | None = None,
    measured_by_draw: np.ndarray | None = None,
) -> Payments:
    """Payments per draw and quarter for the outcomes of served cohorts: ``outcomes`` already cut
    to them (see :func:`served_outcomes`), or as simulated, with ``cohort_served`` ((n, C) bool)
    marking the served cohorts -- cheaper, as contract netting then needs no cut cubes.

    ``measured_by_draw`` ((n, Q) bool): each draw's own measured quarters, where reviews changed
    its dates (``outcomes`` are then cut to them); mechanisms that pay on results known at a date
    (thresholds) pay only where that date is measured."""
    contract = scenario.contract
    n, n_cohorts, n_quarters = outcomes.child_days.shape
    # Outcomes are zero after the measurement end (windows and events end there), except
    # engagement starts: the starts array also drives costs, so the measurement end is applied
    # to every mechanism here.
    measured = measured_quarters(scenario, n_quarters)
    served = np.ones((n, n_cohorts), dtype=bool) if cohort_served is None else cohort_served
    per_cohort = contract.netting == "cohort" or contract.cohort_cap is not None
    if per_cohort:  # netting or capping cohort by cohort needs the cut cubes themselves
        outcomes = served_outcomes(outcomes, served, measured)
    cohort_weights = None if per_cohort else served.astype(float)
    due_by_cohort = np.zeros((n, n_cohorts, n_quarters)) if per_cohort else None
    due_contract = np.zeros((n, n_quarters))
    counted = np.zeros(n)
    by_mechanism: dict[str, np.ndarray] = {}
    netted: dict[str, np.ndarray] = {}  # each mechanism's netted entitlement at the end, (n,)
    for i, mechanism in enumerate(contract.mechanisms):
        increments, days = entitlement_increments(mechanism, f"contract.mechanisms.{i}", inputs, outcomes,
                                                  cohort_weights, scenario, measured_by_draw)
        counted += days
        name = f"{i}.{mechanism.type}"
        by_quarter = np.where(measured, increments.sum(axis=1) if per_cohort else increments, 0.0)
        by_mechanism[name] = by_quarter.sum(axis=1)
        if per_cohort:
            running = _running_due(np.cumsum(np.where(measured, increments, 0.0), axis=2))
            due_by_cohort += running
            netted[name] = running[:, :, -1].sum(axis=1)
        if contract.netting == "contract":
            running = _running_due(running_sum(by_quarter))
            due_contract += running
            netted[name] = running[:, -1]
    if contract.cohort_cap is not None:
        due_by_cohort = np.minimum(due_by_cohort, inputs["contract.cohort_cap"][:, None, None])
    if contract.netting == "cohort":
        due_contract = due_by_cohort.sum(axis=1)
    elif contract.cohort_cap is not None:
        # A cohort's capped amount needs per-cohort netting, contract netting has no per-cohort
        # amounts: pay the contract-netted total, but never more than the cohorts could earn
        # netted and capped one by one.  Both are non-decreasing, so their minimum is too, and
        # a cohort cap that never binds changes nothing.
        due_contract = np.minimum(due_contract, due_by_cohort.sum(axis=1))
    # Already a running maximum floored at zero: sums and minimums of running maxima of
    # amounts >= 0 (and float addition and min are monotone).
    due = due_contract

    lag = contract.payment_lag_quarters
    if contract.cap is not None:
        cap = inputs["contract.cap"][:, None]
        due = np.minimum(due, cap)
        reached = due >= cap - CAP_TOLERANCE
        cap_reached = reached[:, -1]
        cap_quarter = np.where(cap_reached, np.argmax(reached, axis=1) + lag, np.nan)
    else:
        cap_reached = np.zeros(n, dtype=bool)
        cap_quarter = np.full(n, np.nan)
    due_each_quarter = np.diff(due, axis=1, prepend=0.0)
    paid = np.zeros_like(due_each_quarter)
    paid[:, lag:] = due_each_quarter[:, : n_quarters - lag]
    # The timeline ends `lag` quarters after measurement, so nothing due is ever pushed past
    # it; anything due in the last `lag` quarters is still paid, in the final quarter.
    if lag:
        paid[:, -1] += due_each_quarter[:, n_quarters - lag:].sum(axis=1)
    paid, paid_by_payer = _split_between_payers(scenario, inputs, paid)
    return Payments(paid=paid, counted_days=counted, by_mechanism=by_mechanism,
                    cap_reached=cap_reached, cap_quarter=cap_quarter,
                    paid_by_mechanism=_pro_rata(paid.sum(axis=1), netted), paid_by_payer=paid_by_payer)


def _pro_rata(total: np.ndarray, netted: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``total`` (n,) shared between the mechanisms in proportion to their netted entitlements."""
    if len(netted) == 1:
        return {name: total for name in netted}
    whole = sum(netted.values())
    with np.errstate(divide="ignore", invalid="ignore"):
        return {name: np.where(whole > 0, total * part / np.where(whole > 0, whole, 1.0), 0.0)
                for name, part in netted.items()}


def _split_between_payers(
    scenario: Scenario, inputs: DrawInputs, paid: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """What each payer pays: its share of each quarter's payment until its own cap.

    Returns what the SPV receives per quarter (n, Q) and each payer's total (n,).
    """
    payers = scenario.contract.payers
    if not payers:
        return paid, {IMPLICIT_PAYER: paid.sum(axis=1)}
    cumulative = running_sum(paid)
    received = np.zeros_like(paid)
    totals = {}
    for i, payer in enumerate(payers):
        own = cumulative * inputs[f"contract.payers.{i}.share"][:, None]
        if payer.cap is not None:
            own = np.minimum(own, inputs[f"contract.payers.{i}.cap"][:, None])
        each_quarter = np.diff(own, axis=1, prepend=0.0)
        received += each_quarter
        totals[payer.name] = each_quarter.sum(axis=1)
    return received, totals
