"""The term sheet as arrays: each tranche's commitment, priority and rates per draw, the capital
calls of the drawdown rule, and the return grids read from the draw's outcomes.

Rates in the scenario are annual; the waterfall works in quarters, so every rate ``r`` becomes
``(1 + r) ** 0.25 - 1`` (compounding: four quarters at the quarterly rate make the annual one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsib.contract.waterfall_kernel import NO_PROVIDER, ORDERS, PROVIDER_POSITIONS
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.scenario.format import Scenario
from simsib.scenario.format.capital import PRIORITIES, SINGLE_TRANCHE

QUARTERS_PER_YEAR = 4


def quarterly(annual: np.ndarray) -> np.ndarray:
    """Quarterly rate equivalent to an annual rate (compounding), any shape."""
    return np.expm1(np.log1p(np.asarray(annual, dtype=float)) / QUARTERS_PER_YEAR)


def tranche_names(scenario: Scenario) -> tuple[str, ...]:
    """The tranches' names, in the scenario's order (one, ``investors``, without [[spv.tranches]])."""
    return tuple(t.name for t in scenario.spv.tranches) or (SINGLE_TRANCHE,)


def total_commitment(scenario: Scenario, inputs: DrawInputs) -> np.ndarray:
    """Committed capital per draw, £, shape (n,): ``spv.capital_committed``, or the tranches' total."""
    if not scenario.spv.tranches:
        return inputs["spv.capital_committed"]
    return sum(inputs[f"spv.tranches.{i}.commitment"] for i in range(len(scenario.spv.tranches)))


def is_plain(scenario: Scenario) -> bool:
    """True for the SPV simsib always had: one class of investors, nothing but capital and
    distributions (no coupon, cap, guarantee, interest, provider risk, schedule or review)."""
    spv = scenario.spv
    return (not spv.tranches and spv.return_cap is None and not spv.guarantees and spv.provider_risk is None
            and spv.drawdown.rule == "when_short" and spv.cash_interest_rate.is_fixed
            and float(spv.cash_interest_rate.value) == 0.0 and not scenario.contract.reviews)


@dataclass(frozen=True)
class CapitalStructure:
    """What the compiled waterfall needs of the term sheet (K tranches, T quarters).

    commitment, coupon_q, cap_q, upside, min_coupon_q : (n, K); rates per quarter, upside
        shares normalised to 1 per draw
    priority : (K,) int, 0 senior, 1 mezzanine, 2 junior; has_cap : (K,) bool;
    min_coupon_quarters : (K,) int, the last quarter with a minimum coupon (0: none)
    call_share : (n, T) share of the commitment called by each quarter (before cash runs short)
    idle_rate_q : (n,) quarterly interest on idle cash; provider_share : (n,) share of service
        costs deferred; provider_position, order : codes of simsib.contract.waterfall_kernel
    """

    names: tuple[str, ...]
    commitment: np.ndarray
    priority: np.ndarray
    coupon_q: np.ndarray
    cap_q: np.ndarray
    has_cap: np.ndarray
    upside: np.ndarray
    min_coupon_q: np.ndarray
    min_coupon_quarters: np.ndarray
    call_share: np.ndarray
    idle_rate_q: np.ndarray
    provider_share: np.ndarray
    provider_position: int
    order: int


def grid_rate(grid, measure: np.ndarray) -> np.ndarray:
    """The annual return a grid gives each draw's measure, shape (n,): ``returns[k]``, k the number
    of thresholds at or below the measure (an undefined measure, NaN, gets the lowest row)."""
    value = np.where(np.isnan(measure), -np.inf, measure)
    return np.asarray(grid.returns, dtype=float)[np.searchsorted(grid.thresholds, value, side="right")]


def call_shares(scenario: Scenario, inputs: DrawInputs, n_quarters: int) -> np.ndarray:
    """Share of the commitment called by each quarter, before any call because cash runs short,
    shape (n, T): the upfront share at close, everything (at_close) or the schedule's calls."""
    spv = scenario.spv
    upfront = inputs["spv.upfront_drawdown_share"][:, None]
    if spv.drawdown.rule == "at_close":
        return np.ones((upfront.shape[0], n_quarters))
    scheduled = np.zeros(n_quarters)
    for call in spv.drawdown.schedule:
        quarter = call.month // MONTHS_PER_QUARTER
        if quarter < n_quarters:
            scheduled[quarter:] += call.share
    return np.minimum(upfront + scheduled[None, :], 1.0) if spv.drawdown.schedule else np.repeat(upfront, n_quarters, 1)


def capital_structure(
    scenario: Scenario, inputs: DrawInputs, n_quarters: int, measures: dict[str, np.ndarray] | None = None
) -> CapitalStructure:
    """The term sheet of ``scenario`` for each draw.

    measures : the observed measure of each return grid over the whole contract, by measure name,
        each (n,) (see :func:`simsib.contract.measures.observe`); needed only with grids.
    """
    spv = scenario.spv
    n = inputs["spv.reserve"].shape[0]
    names = tranche_names(scenario)
    k_count = len(names)
    commitment = np.empty((n, k_count))
    coupon = np.zeros((n, k_count))
    cap = np.zeros((n, k_count))
    has_cap = np.zeros(k_count, dtype=bool)
    upside = np.empty((n, k_count))
    min_coupon = np.zeros((n, k_count))
    min_quarters = np.zeros(k_count, dtype=np.int64)
    priority = np.zeros(k_count, dtype=np.int64)
    if not spv.tranches:
        commitment[:, 0] = inputs["spv.capital_committed"]
        upside[:, 0] = 1.0
        if spv.return_cap is not None:
            has_cap[0] = True
            cap[:, 0] = quarterly(inputs["spv.return_cap"])
    for i, tranche in enumerate(spv.tranches):
        key = f"spv.tranches.{i}"
        commitment[:, i] = inputs[f"{key}.commitment"]
        priority[i] = PRIORITIES.index(tranche.priority)
        if tranche.return_grid is not None:
            rate = grid_rate(tranche.return_grid, (measures or {})[tranche.return_grid.measure])
            coupon[:, i] = cap[:, i] = quarterly(rate)
            has_cap[i] = True
        else:
            if tranche.coupon is not None:
                coupon[:, i] = quarterly(inputs[f"{key}.coupon"])
            if tranche.return_cap is not None:
                cap[:, i] = quarterly(inputs[f"{key}.return_cap"])
                has_cap[i] = True
        if tranche.minimum_coupon is not None:
            min_coupon[:, i] = quarterly(inputs[f"{key}.minimum_coupon"])
            min_quarters[i] = QUARTERS_PER_YEAR * tranche.minimum_coupon_years
        upside[:, i] = commitment[:, i] if tranche.upside_share is None else inputs[f"{key}.upside_share"]
    if spv.tranches:
        totals = upside.sum(axis=1, keepdims=True)
        upside = np.divide(upside, totals, out=np.full_like(upside, 1.0 / k_count), where=totals > 0)
    risk = spv.provider_risk
    return CapitalStructure(
        names=names, commitment=commitment, priority=priority, coupon_q=coupon, cap_q=cap, has_cap=has_cap,
        upside=upside, min_coupon_q=min_coupon, min_coupon_quarters=min_quarters,
        call_share=call_shares(scenario, inputs, n_quarters),
        idle_rate_q=quarterly(inputs["spv.cash_interest_rate"]),
        provider_share=inputs["spv.provider_risk.share"] if risk else np.zeros(n),
        provider_position=PROVIDER_POSITIONS[risk.paid] if risk else NO_PROVIDER,
        order=ORDERS[spv.distribution_order],
    )


def grid_measures(scenario: Scenario) -> tuple[str, ...]:
    """The measures the scenario's return grids read (none without grids)."""
    return tuple(dict.fromkeys(t.return_grid.measure for t in scenario.spv.tranches if t.return_grid))
