"""The capital structure in the waterfall: hand-worked cases for each term, the single-class
waterfall kept bit for bit, and the invariants of issue 16 as properties.

Every case runs four quarters on explicit payments and costs, capital called at close (the whole
commitment in quarter 0, unless a case says otherwise), no reserve or fees, and distributions
only in the final quarter (``distributions_from_month = 600``), so each table below is short:

| q | paid | costs | cash after costs |
|---|------|-------|------------------|
| 0 |   0  |   60  |  150 − 60 = 90   |
| 1 |   0  |   30  |        60        |
| 2 |   0  |    0  |        60        |
| 3 |   P  |    0  |      60 + P      |  ← distributed: 60 + P
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import ESSEX_RAW, make_inputs
from hypothesis import given, settings
from hypothesis import strategies as st

from simsib.contract.capital_metrics import tranche_metrics
from simsib.contract.finance import annualise
from simsib.contract.irr import irr
from simsib.contract.timeline import scheduled_timeline
from simsib.contract.waterfall import run_waterfall
from simsib.scenario.loader import validate

COSTS = [60.0, 30.0, 0.0, 0.0]
SENIOR = {"name": "senior", "commitment": 100.0, "priority": "senior"}
JUNIOR = {"name": "junior", "commitment": 50.0, "priority": "junior"}
Q10 = 1.1 ** 0.25 - 1  # a 10% annual rate, per quarter


def scenario(spv=None, contract=None, *, final_only=True):
    """Essex with ``spv``/``contract`` keys replaced (tranches replace capital_committed)."""
    raw = copy.deepcopy(ESSEX_RAW)
    if final_only:
        raw["spv"]["distributions_from_month"] = 600
    raw["spv"].update(spv or {})
    raw["contract"].update(contract or {})
    if "tranches" in (spv or {}):
        del raw["spv"]["capital_committed"]
    return validate(raw)


def run(sc, payments, costs=COSTS, *, upfront=1.0, timeline=None, deferrable=None, measures=None, **overrides):
    payments = np.atleast_2d(np.asarray(payments, dtype=float))
    costs = np.broadcast_to(np.asarray(costs, dtype=float), payments.shape).copy()
    defaults = {"spv__upfront_drawdown_share": upfront, "spv__reserve": 0.0, "spv__management_fee_per_quarter": 0.0}
    if not sc.spv.tranches:
        defaults["spv__capital_committed"] = 150.0
    inputs = make_inputs(sc, payments.shape[0], **{**defaults, **overrides})
    w = run_waterfall(sc, inputs, payments, costs, deferrable=costs if deferrable is None else deferrable,
                      timeline=timeline, measures=measures)
    assert_conserved(w)
    return w


def assert_conserved(w):
    """cash[q] = cash[q−1] + interest + paid + top-up + drawn − costs paid − everything distributed."""
    topup = np.zeros_like(w.cash)
    final = w.drawn.shape[1] - 1 - np.argmax((w.costs_owed + w.payments + w.drawn + w.distributed)[:, ::-1] != 0, axis=1)
    topup[np.arange(len(final)), np.maximum(final, 0)] = w.redemption_topup
    out = w.distributed + w.provider_deferred_paid + w.capped_excess
    previous = np.zeros(w.cash.shape[0])
    for q in range(w.cash.shape[1]):
        expected = previous + w.interest[:, q] + w.payments[:, q] + topup[:, q] + w.drawn[:, q] - w.costs_paid[:, q] - out[:, q]
        np.testing.assert_allclose(w.cash[:, q], expected, atol=1e-9)
        previous = w.cash[:, q]
    np.testing.assert_allclose(w.cash[:, -1], 0.0, atol=1e-9)
    np.testing.assert_allclose(w.tranches.drawn.sum(axis=1), w.drawn, atol=1e-9)
    np.testing.assert_allclose(w.tranches.distributed.sum(axis=1), w.distributed, atol=1e-9)


def received(w):
    """What each tranche received in all, (n, K)."""
    t = w.tranches
    return (t.distributed + t.minimum_coupons + t.guaranteed).sum(axis=2)


# --- the single-class waterfall, bit for bit ---------------------------------------------------


def old_waterfall(received, owed, committed, upfront_share, reserve, fee, first_distribution):
    """simsib's single-class waterfall as it was before tranches (commit 207bcf4), verbatim."""
    n, n_quarters = received.shape
    drawn, paid_costs, distributed, cash_end = (np.zeros((n, n_quarters)) for _ in range(4))
    first_short = np.full(n, n_quarters, dtype=np.int64)
    for d in range(n):
        cash = 0.0
        drawn_total = 0.0
        for q in range(n_quarters):
            cash = cash + received[d, q]
            if q == 0:
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
    return drawn, paid_costs, distributed, cash_end, first_short


@pytest.mark.parametrize("from_month", [0, 30, 600])
def test_one_class_of_investors_gives_the_old_waterfall_bit_for_bit(from_month):
    rng = np.random.default_rng(from_month)
    n, n_quarters = 400, 20
    payments = np.where(rng.random((n, n_quarters)) < 0.5, 0.0, rng.gamma(2.0, 40_000.0, (n, n_quarters)))
    costs = rng.gamma(2.0, 30_000.0, (n, n_quarters)) * (rng.random((n, n_quarters)) < 0.8)
    sc = scenario({"distributions_from_month": from_month}, final_only=False)
    inputs = make_inputs(sc, n, spv__capital_committed=rng.uniform(1e5, 1e6, n),
                         spv__upfront_drawdown_share=rng.choice([0.0, 0.3, 1.0], n),
                         spv__reserve=rng.uniform(0, 5e4, n), spv__management_fee_per_quarter=rng.uniform(0, 1e4, n))
    new = run_waterfall(sc, inputs, payments, costs)
    old = old_waterfall(payments, costs, inputs["spv.capital_committed"], inputs["spv.upfront_drawdown_share"],
                        inputs["spv.reserve"], inputs["spv.management_fee_per_quarter"], -(-from_month // 3))
    for name, before in zip(("drawn", "costs_paid", "distributed", "cash", "first_short_quarter"), old):
        assert np.array_equal(getattr(new, name), before), name
    assert np.array_equal(new.investor_flows, old[2] - old[0])


# --- tranches by priority ----------------------------------------------------------------------


# Senior £100, junior £50, capital first, no coupons, the residual pro rata to commitment:
#
# | P   | out | senior capital | junior capital | residual (2:1) | senior | junior |
# |-----|-----|----------------|----------------|----------------|--------|--------|
# |   0 |  60 |       60       |        0       |        0       |   60   |    0   |  junior lost all first
# |  70 | 130 |      100       |       30       |        0       |  100   |   30   |
# | 140 | 200 |      100       |       50       |   33.3 / 16.7  | 133.3  |  66.7  |
def test_capital_is_returned_by_priority_then_the_residual_pro_rata():
    w = run(scenario({"tranches": [SENIOR, JUNIOR]}), [[0, 0, 0, 0], [0, 0, 0, 70], [0, 0, 0, 140]])
    np.testing.assert_allclose(w.tranches.drawn[:, :, 0], [[100, 50]] * 3)
    np.testing.assert_allclose(received(w), [[60, 0], [100, 30], [400 / 3, 200 / 3]])
    np.testing.assert_allclose(w.tranches.lost_principal, [[40, 50], [0, 20], [0, 0]])
    np.testing.assert_allclose(w.distributed[:, 3], [60, 130, 200])


# Senior coupon 10% a year, compounding quarterly from quarter 1: by quarter 3 it has accrued
# 100 × (1.1^0.75 − 1) = 7.40.  Upside all to the junior.
#
# capital_first, P = 100 (out 160): senior capital 100, junior capital 50, senior coupon 7.40,
#   residual 2.60 to the junior.
# capital_first, P = 50 (out 110): senior 100, junior 10: no coupon before all capital is back.
# by_tranche, P = 50 (out 110): senior capital 100 and coupon 7.40, then the junior 2.60.
def test_coupons_after_capital_or_tranche_by_tranche():
    accrued = 100 * (1.1 ** 0.75 - 1)
    tranches = [{**SENIOR, "coupon": 0.10, "upside_share": 0.0}, {**JUNIOR, "upside_share": 1.0}]
    w = run(scenario({"tranches": tranches}), [[0, 0, 0, 100], [0, 0, 0, 50]])
    np.testing.assert_allclose(received(w), [[100 + accrued, 60 - accrued], [100, 10]])
    w = run(scenario({"tranches": tranches, "distribution_order": "by_tranche"}), [[0, 0, 0, 50]])
    np.testing.assert_allclose(received(w), [[100 + accrued, 10 - accrued]])


def test_tranches_of_one_priority_share_pro_rata():
    a, b = {**SENIOR, "name": "a"}, {**SENIOR, "name": "b", "commitment": 50.0}
    w = run(scenario({"tranches": [a, b]}), [[0, 0, 0, 30]])  # out 90 of 150: 60% to each
    np.testing.assert_allclose(received(w), [[60, 30]])


# --- return cap and return grid ------------------------------------------------------------------


# One class, capped at 10% a year.  Drawn 150 in quarter 0, paid out in quarter 3: at most
# 150 × 1.1^0.75 = 161.10; P = 200 (out 260) leaves 98.90 to the commissioner.
def test_a_return_cap_keeps_the_irr_at_the_cap_and_returns_the_excess():
    w = run(scenario({"return_cap": 0.10}), [[0, 0, 0, 200], [0, 0, 0, 50]])
    ceiling = 150 * 1.1 ** 0.75
    np.testing.assert_allclose(w.distributed[:, 3], [ceiling, 110])
    np.testing.assert_allclose(w.capped_excess[:, 3], [260 - ceiling, 0], atol=1e-9)
    rate, _ = irr(w.investor_flows)
    assert annualise(rate[0]) == pytest.approx(0.10, abs=1e-12)


def test_a_capped_tranche_passes_its_share_of_the_residual_to_the_others():
    tranches = [{**SENIOR, "return_cap": 0.10, "upside_share": 0.5}, {**JUNIOR, "upside_share": 0.5}]
    w = run(scenario({"tranches": tranches}), [[0, 0, 0, 200]])  # out 260: residual 110
    senior = 100 * 1.1 ** 0.75  # capital 100 plus 7.40 of the residual, then capped
    np.testing.assert_allclose(received(w), [[senior, 260 - senior]])
    assert w.capped_excess.sum() == pytest.approx(0.0, abs=1e-9)


# Newpin's grid (E64): 0 below 55%, 3% from 55%, 7.5% from 60%, 12% from 65%, 15% from 70%.
# A measure of 0.62 gives 7.5%: coupon and cap both, so 100 × 1.075^0.75 with enough cash.
@pytest.mark.parametrize("measure, rate", [(0.50, 0.0), (0.55, 0.03), (0.62, 0.075), (0.90, 0.15), (np.nan, 0.0)])
def test_a_return_grid_sets_coupon_and_cap_from_the_outcome_rate(measure, rate):
    grid = {"measure": "outcome_payments_share_of_cap", "thresholds": [0.55, 0.60, 0.65, 0.70],
            "returns": [0.0, 0.03, 0.075, 0.12, 0.15], "source": "E64"}
    tranches = [{**SENIOR, "return_grid": grid, "upside_share": 0.0}, {**JUNIOR, "upside_share": 1.0}]
    w = run(scenario({"tranches": tranches}), [[0, 0, 0, 300]],
            measures={"outcome_payments_share_of_cap": np.array([measure])})
    assert received(w)[0, 0] == pytest.approx(100 * (1 + rate) ** 0.75, rel=1e-12)


# Minimum coupon 8% a year for one year, paid by the commissioner in quarters 1-4 on the
# capital outstanding (100): 100 × (1.08^0.25 − 1) in each of quarters 1, 2 and 3.  It prepays
# the tranche's coupon, so with a 0% coupon the SPV owes it nothing more.
def test_the_commissioners_minimum_coupon_is_paid_quarterly_in_the_first_years():
    tranches = [{**SENIOR, "minimum_coupon": 0.08, "minimum_coupon_years": 1, "upside_share": 0.0},
                {**JUNIOR, "upside_share": 1.0}]
    w = run(scenario({"tranches": tranches}), [[0, 0, 0, 100]])
    paid = 100 * (1.08 ** 0.25 - 1)
    np.testing.assert_allclose(w.tranches.minimum_coupons[0, 0], [0, paid, paid, paid])
    np.testing.assert_allclose(w.tranches.distributed[0].sum(axis=1), [100, 60])
    np.testing.assert_allclose(w.investor_flows.sum(), 160 + 3 * paid - 150)


# --- drawdown rules, idle cash, provider risk share, early redemption ------------------------------


# Schedule: half of the commitment in month 0, half in month 6 (quarter 2); nothing at close
# otherwise.  q0: call 75, pay 60 (cash 15); q1: owe 30, short 15, draw 15 (drawn 90);
# q2: the schedule calls the rest, 150 − 90 = 60.
def test_drawdown_on_a_schedule_with_calls_when_short():
    drawdown = {"rule": "schedule", "schedule": [{"month": 0, "share": 0.5}, {"month": 6, "share": 0.5}]}
    w = run(scenario({"drawdown": drawdown}), [[0, 0, 0, 0]], upfront=0.0)
    np.testing.assert_allclose(w.drawn, [[75, 15, 60, 0]])
    w = run(scenario({"drawdown": {"rule": "at_close"}}), [[0, 0, 0, 0]], upfront=0.0)
    np.testing.assert_allclose(w.drawn, [[150, 0, 0, 0]])


# 10% a year on idle cash: 90 held after q0 earns 90·i in q1, and so on.
def test_interest_on_idle_cash():
    w = run(scenario({"cash_interest_rate": 0.10}), [[0, 0, 0, 0]])
    c1 = 90 * (1 + Q10) - 30
    c2 = c1 * (1 + Q10)
    np.testing.assert_allclose(w.interest[0], [0, 90 * Q10, c1 * Q10, c2 * Q10])
    np.testing.assert_allclose(w.distributed[0, 3], c2 * (1 + Q10))


# Half of the service costs deferred (30 and 15), paid before investors' capital but never more
# than the outcome payments received.  Cash after costs is 150 − 45 = 105, plus P.
@pytest.mark.parametrize("payment, provider", [(20, 20), (100, 45)])
def test_the_providers_deferred_fee_is_paid_only_from_outcome_payments(payment, provider):
    risk = {"share": 0.5, "paid": "before_capital"}
    w = run(scenario({"provider_risk": risk}), [[0, 0, 0, payment]])
    np.testing.assert_allclose(w.provider_deferred[0], [30, 15, 0, 0])
    np.testing.assert_allclose(w.costs_owed[0], [30, 15, 0, 0])
    assert w.provider_deferred_paid.sum() == pytest.approx(provider)
    assert w.distributed.sum() == pytest.approx(105 + payment - provider)


# Terminated with a 75% early-redemption floor: investors drew 150 and the SPV holds 60 at the
# end, so the commissioner tops up 0.75 × 150 − 60 = 52.5.
def test_an_early_redemption_floor_is_topped_up_by_the_commissioner():
    sc = scenario()
    timeline = scheduled_timeline(sc, 2)
    timeline = type(timeline)(**{**timeline.__dict__, "final_quarter": np.array([3, 3]),
                                 "planned_final_quarter": np.array([3, 3]),
                                 "redemption_fraction": np.array([0.75, 0.75])})
    w = run(sc, [[0, 0, 0, 0], [0, 0, 0, 100]], timeline=timeline)
    np.testing.assert_allclose(w.redemption_topup, [52.5, 0.0])
    np.testing.assert_allclose(w.distributed[:, 3], [112.5, 160])


# --- guarantees ----------------------------------------------------------------------------------


# P = 0: the senior loses 40.  A guarantee of 75% up to £20 pays 20; a second, of all the rest,
# pays the remaining 20; the junior (uncovered) keeps its loss of 50.
def test_guarantees_cover_a_share_of_lost_principal_up_to_a_limit_in_order():
    guarantees = [{"guarantor": "foundation", "tranche": "senior", "share": 0.75, "limit": 20.0},
                  {"guarantor": "council", "party": "commissioner", "tranche": "senior"}]
    w = run(scenario({"tranches": [SENIOR, JUNIOR], "guarantees": guarantees}), [[0, 0, 0, 0], [0, 0, 0, 70]])
    np.testing.assert_allclose(w.guarantee_payouts, [[20, 20], [0, 0]])
    np.testing.assert_allclose(w.tranches.guaranteed[:, :, 3], [[40, 0], [0, 0]])
    np.testing.assert_allclose(received(w), [[100, 0], [100, 30]])
    metrics = tranche_metrics(scenario({"tranches": [SENIOR, JUNIOR], "guarantees": guarantees}), w)
    np.testing.assert_allclose(metrics["moic_senior"], [1.0, 1.0])
    np.testing.assert_allclose(metrics["guarantee_received_senior"], [40, 0])


# --- invariants as properties ------------------------------------------------------------------

amounts = st.floats(0, 300, allow_nan=False, allow_infinity=False)


@st.composite
def structures(draw):
    """Two or three tranches with random priorities, commitments, coupons and caps."""
    k = draw(st.integers(2, 3))
    tranches = []
    for i in range(k):
        tranche = {"name": f"t{i}", "commitment": draw(st.floats(10, 200)),
                   "priority": draw(st.sampled_from(["senior", "mezzanine", "junior"]))}
        if draw(st.booleans()):
            tranche["coupon"] = draw(st.floats(0, 0.2))
        if draw(st.booleans()):
            tranche["return_cap"] = draw(st.floats(0, 0.3))
        tranches.append(tranche)
    order = draw(st.sampled_from(["capital_first", "by_tranche"]))
    payments = [0, 0, draw(amounts), draw(amounts)]
    costs = [draw(st.floats(0, 400)), draw(amounts), draw(amounts), 0]
    return tranches, order, payments, costs


@settings(max_examples=60, deadline=None)
@given(structures())
def test_tranche_invariants(case):
    """A senior tranche loses principal only after every more junior one has lost all of its own;
    the tranches, the return caps' excess and nothing else share what one class would get; a
    capped tranche's IRR never passes its cap; a guarantee never lowers any tranche's multiple."""
    tranches, order, payments, costs = case
    structured = scenario({"tranches": tranches, "distribution_order": order})
    w = run(structured, [payments], costs)
    committed = sum(t["commitment"] for t in tranches)
    single = run(scenario(), [payments], costs, spv__capital_committed=committed)
    np.testing.assert_allclose(w.drawn, single.drawn, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(received(w).sum() + w.capped_excess.sum(), single.distributed.sum(), rtol=1e-9, atol=1e-7)
    rank = {"senior": 0, "mezzanine": 1, "junior": 2}
    lost, back = w.tranches.lost_principal[0], w.tranches.capital_returned[0]
    for i, a in enumerate(tranches):
        for j, b in enumerate(tranches):
            if rank[a["priority"]] < rank[b["priority"]] and lost[i] > 1e-6:
                assert back[j] <= 1e-9, (a, b, lost, back)
    for k, tranche in enumerate(tranches):
        if "return_cap" in tranche and w.tranches.drawn[0, k].sum() > 0:
            rate, _ = irr(w.tranches.flows[:, k])
            assert np.isnan(rate[0]) or annualise(rate[0]) <= tranche["return_cap"] + 1e-9
    covered = tranches[0]["name"]
    guaranteed = scenario({"tranches": tranches, "distribution_order": order,
                           "guarantees": [{"guarantor": "g", "tranche": covered, "share": 0.6}]})
    g = run(guaranteed, [payments], costs)
    assert (received(g) >= received(w) - 1e-9).all()
    assert received(g)[0, 0] - received(w)[0, 0] == pytest.approx(g.guarantee_payouts.sum(), abs=1e-9)
    assert g.guarantee_payouts.sum() == pytest.approx(0.6 * w.tranches.lost_principal[0, 0], abs=1e-9)
