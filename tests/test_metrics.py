"""Per-draw metrics (investor, council, outcomes) and summary statistics.

Hand-worked cases on tiny inputs, identities and consistency checks on simulated Essex draws,
and the summary's standard errors against brute-force computations.
"""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest
from helpers import EPS, discounted_gross, make_inputs, make_scenario, npv_tolerance
from scipy.stats import norm

from simsib.contract.council_value import care_value
from simsib.contract.finance import npv
from simsib.contract.irr import IrrStatus
from simsib.contract.metrics import council_metrics, daily_care_cost, investor_metrics, outcome_metrics
from simsib.contract.payments import Payments
from simsib.contract.waterfall import Waterfall
from simsib.model.inputs import sample_inputs
from simsib.model.outcomes import CohortQuarterly
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import draw_columns, settle, simulate_outcomes
from simsib.run.summary import DISTRIBUTIONS, distribution, expected_shortfall, probability, summarise
from simsib.scenario.loader import bundled_scenario_path, load_raw

ESSEX_RAW = load_raw(bundled_scenario_path())


# --- investor metrics, by hand ------------------------------------------------------------------

# The first waterfall of test_cashflows (committed £250):
#
# | q | drawn | distributed | flow | position |
# |---|-------|-------------|------|----------|
# | 0 |  100  |      0      | −100 |   −100   |
# | 1 |   80  |      0      |  −80 |   −180   |
# | 2 |   10  |      0      |  −10 |   −190   |  <- peak capital at risk 190
# | 3 |    0  |     90      |   90 |   −100   |
# | 4 |    0  |     90      |   90 |    −10   |
# | 5 |    0  |     45      |   45 |     35   |  <- paid back in quarter 5
#
# drawn 190, distributed 225, profit 35; MOIC on drawn 225/190 = 1.184211, on committed 0.9.
# IRR: NPV(r) = 0 at r = 5.309242% a quarter, (1 + r)^4 − 1 = 22.988908% a year.
# NPV at 10% a year (2.411369% a quarter): Σ flow_t / 1.02411369^t = 17.904198.
def hand_waterfall(n_quarters=6):
    drawn = np.array([[100, 80, 10, 0, 0, 0]], dtype=float)
    distributed = np.array([[0, 0, 0, 90, 90, 45]], dtype=float)
    zeros = np.zeros_like(drawn)
    return Waterfall(payments=zeros, drawn=drawn, costs_owed=zeros, costs_paid=zeros, distributed=distributed,
                     cash=zeros, first_short_quarter=np.array([n_quarters]))


def test_investor_metrics_by_hand():
    scenario = make_scenario()
    inputs = make_inputs(scenario, 1, spv__capital_committed=250.0, spv__discount_rate=0.10)
    m = investor_metrics(scenario, inputs, hand_waterfall())
    np.testing.assert_allclose(m["capital_drawn"], [190.0])
    np.testing.assert_allclose(m["distributions"], [225.0])
    np.testing.assert_allclose(m["investor_profit"], [35.0])
    np.testing.assert_allclose(m["moic_drawn"], [225 / 190])
    np.testing.assert_allclose(m["moic_committed"], [0.9])
    flows = np.array([-100, -80, -10, 90, 90, 45.0])
    assert m["irr_status"][0] == IrrStatus.OK
    np.testing.assert_allclose((1 + m["irr"][0]) ** 0.25 - 1, npf.irr(flows), rtol=1e-9)
    # NPV at 10% a year, discounting quarter t by 1.1^(t/4).
    np.testing.assert_allclose(m["npv"], [sum(f / 1.1 ** (t / 4) for t, f in enumerate(flows))], rtol=1e-12)
    np.testing.assert_array_equal(m["payback_quarter"], [5.0])
    np.testing.assert_allclose(m["peak_capital_at_risk"], [190.0])


def test_investor_metrics_total_loss_and_nothing_drawn():
    # Draw 0: £100 drawn, nothing back -> MOIC 0, IRR −100% (total loss), never paid back.
    # Draw 1: nothing drawn, nothing distributed -> MOIC on drawn undefined, IRR undefined.
    scenario = make_scenario()
    inputs = make_inputs(scenario, 2, spv__capital_committed=100.0, spv__discount_rate=0.0)
    drawn = np.array([[100, 0, 0], [0, 0, 0]], dtype=float)
    zeros = np.zeros_like(drawn)
    w = Waterfall(payments=zeros, drawn=drawn, costs_owed=zeros, costs_paid=zeros, distributed=zeros,
                  cash=zeros, first_short_quarter=np.array([3, 3]))
    m = investor_metrics(scenario, inputs, w)
    np.testing.assert_array_equal(m["moic_drawn"], [0.0, np.nan])
    np.testing.assert_array_equal(m["moic_committed"], [0.0, 0.0])
    np.testing.assert_array_equal(m["irr"][:1], [-1.0])
    assert np.isnan(m["irr"][1])
    assert m["irr_status"].tolist() == [IrrStatus.TOTAL_LOSS, IrrStatus.NO_INVESTMENT]
    assert np.isnan(m["payback_quarter"][0])


# --- council and outcome metrics, by hand ------------------------------------------------------

# Daily care cost: fostering 0.4 × £850 + 0.6 × £600 = £700 a week; with 20% residential at
# £3,000: 0.2 × 3000 + 0.8 × 700 = £1,160 a week = £165.714286 a day.
#
# | draw | counterfactual care | treated care | true days | counted days | deadweight     |
# |------|---------------------|--------------|-----------|--------------|----------------|
# |  0   |   30 + 30           |  10 + 10     |    40     |     100      | 1 − 40/100 = 0.6 |
# |  1   |   10 + 10           |  20 + 20     |   −20     |      50      | 1 (clipped)    |
# |  2   |   10 + 10           |  10 + 10     |     0     |     −30      | 0 (nothing paid)  |
#
# paid £5,000, £2,000, £0; council management £10,000 a quarter × 6 quarters = £60,000.
# draw 0: true savings 40 × 165.714286 = £6,628.57; contract savings £16,571.43;
#         net benefit 6,628.57 − 5,000 − 60,000 = −£58,371.43.
def test_council_metrics_by_hand():
    scenario = make_scenario(contract={"measurement_end_month": 12, "payment_lag_quarters": 1})
    assert scenario.n_quarters == 6
    inputs = make_inputs(scenario, 3, care__ifa_share_of_fostering=0.4, care__ifa_foster_weekly_cost=850,
                         care__la_foster_weekly_cost=600, care__residential_share=0.2,
                         care__residential_weekly_cost=3000, contract__council_management_cost_per_quarter=10_000,
                         care__cost_inflation=0.0, spv__discount_rate=0.0)
    care0 = np.array([[[30, 30]], [[10, 10]], [[10, 10]]], dtype=float)
    care1 = np.array([[[10, 10]], [[20, 20]], [[10, 10]]], dtype=float)
    child = np.full((3, 1, 2), 100.0)
    outcomes = CohortQuarterly(child_days=child, care_days_treated=care1, care_days_counterfactual=care0,
                               completions_due=np.zeros_like(child), milestone_block_days={}, milestone_people={},
                               starts=np.ones((3, 1)), completed=np.ones((3, 1)))
    paid = np.zeros((3, 6))
    paid[0, 3], paid[1, 2] = 5000, 2000
    payments = Payments(paid=paid, counted_days=np.array([100.0, 50.0, -30.0]), by_mechanism={},
                        cap_reached=np.zeros(3, dtype=bool), cap_quarter=np.full(3, np.nan))
    day = 1160 / 7
    np.testing.assert_allclose(daily_care_cost(inputs), [day] * 3)
    m = council_metrics(scenario, inputs, outcomes, payments, care=care_value(scenario, inputs, outcomes))
    np.testing.assert_allclose(m["outcome_payments"], [5000, 2000, 0])
    np.testing.assert_allclose(m["care_days_saved_true"], [40, -20, 0])
    np.testing.assert_allclose(m["care_days_saved_contract"], [100, 50, -30])
    np.testing.assert_allclose(m["true_savings"], [40 * day, -20 * day, 0])
    np.testing.assert_allclose(m["contract_savings"], [100 * day, 50 * day, -30 * day])
    np.testing.assert_array_equal(m["deadweight_share"], [0.6, 1.0, 0.0])
    np.testing.assert_allclose(m["deadweight_paid"], [3000, 2000, 0])
    np.testing.assert_allclose(m["council_management_costs"], [60_000] * 3)
    np.testing.assert_allclose(m["net_benefit"][0], 40 * day - 5000 - 60_000)
    np.testing.assert_allclose(m["net_benefit"][0], -58_371.428571, rtol=1e-9)
    # No inflation and no discounting in these inputs: present values are cash values.
    np.testing.assert_allclose(m["net_benefit_pv"], m["net_benefit"], rtol=1e-12)


# The same draw 0 with care costs growing 10% a year and a 5% discount rate.  Its 20 days saved
# in quarter 0 are valued at 1.1^(1.5/12) of contract-start prices, those of quarter 1 at
# 1.1^(4.5/12); the £5,000 paid in quarter 3 is worth 5000 / 1.05^(3/4) at the start, and the
# £10,000 a quarter of management over 6 quarters sum_q 10000 / 1.05^(q/4).  The contract's
# 100 days follow the child-days, equal in both quarters: valued at the mean of the two indices.
def test_council_accounts_inflate_care_costs_and_discount_flows_by_hand():
    scenario = make_scenario(contract={"measurement_end_month": 12, "payment_lag_quarters": 1})
    inputs = make_inputs(scenario, 1, care__ifa_share_of_fostering=0.4, care__ifa_foster_weekly_cost=850,
                         care__la_foster_weekly_cost=600, care__residential_share=0.2,
                         care__residential_weekly_cost=3000, contract__council_management_cost_per_quarter=10_000,
                         care__cost_inflation=0.10, spv__discount_rate=0.05)
    child = np.full((1, 1, 2), 100.0)
    outcomes = CohortQuarterly(child_days=child, care_days_treated=np.full((1, 1, 2), 10.0),
                               care_days_counterfactual=np.full((1, 1, 2), 30.0),
                               completions_due=np.zeros_like(child), milestone_block_days={}, milestone_people={},
                               starts=np.ones((1, 1)), completed=np.ones((1, 1)))
    paid = np.zeros((1, 6))
    paid[0, 3] = 5000
    payments = Payments(paid=paid, counted_days=np.array([100.0]), by_mechanism={},
                        cap_reached=np.zeros(1, dtype=bool), cap_quarter=np.full(1, np.nan))
    m = council_metrics(scenario, inputs, outcomes, payments, care=care_value(scenario, inputs, outcomes))
    day = 1160 / 7
    p0, p1 = 1.1 ** (1.5 / 12), 1.1 ** (4.5 / 12)
    np.testing.assert_allclose(m["true_savings"], [20 * day * (p0 + p1)], rtol=1e-12)
    np.testing.assert_allclose(m["contract_savings"], [100 * day * (p0 + p1) / 2], rtol=1e-12)
    np.testing.assert_allclose(m["net_benefit"], [20 * day * (p0 + p1) - 5000 - 60_000], rtol=1e-12)
    true_pv = 20 * day * (p0 + p1 / 1.05 ** 0.25)
    management_pv = sum(10_000 / 1.05 ** (q / 4) for q in range(6))
    np.testing.assert_allclose(m["true_savings_pv"], [true_pv], rtol=1e-12)
    np.testing.assert_allclose(m["outcome_payments_pv"], [5000 / 1.05 ** 0.75], rtol=1e-12)
    np.testing.assert_allclose(m["net_benefit_pv"], [true_pv - 5000 / 1.05 ** 0.75 - management_pv], rtol=1e-12)


# One draw, service months 0-8, first team from month 1, stopped from quarter 2 (months 6+
# not served):
#   monthly starts [1, 2, 0, 3, 1, 0, 2, 2, 1]; year 1 = months 1-12 from the first team's start,
#   served: months 1-5 -> 2+0+3+1+0 = 6
#   served cohorts: starts [3, 4, 0], completed [2, 4, 0]
#   child-days 400, treated care 100, counterfactual care 160 -> proportions 0.25 and 0.4
def test_outcome_metrics_by_hand():
    scenario = make_scenario()
    child = np.array([[[100, 100, 0], [0, 100, 100], [0, 0, 0]]], dtype=float)
    care1 = np.array([[[20, 30, 0], [0, 25, 25], [0, 0, 0]]], dtype=float)
    care0 = np.array([[[40, 40, 0], [0, 40, 40], [0, 0, 0]]], dtype=float)
    outcomes = CohortQuarterly(child_days=child, care_days_treated=care1, care_days_counterfactual=care0,
                               completions_due=np.zeros_like(child), milestone_block_days={}, milestone_people={},
                               starts=np.array([[3.0, 4.0, 0.0]]), completed=np.array([[2.0, 4.0, 0.0]]))
    monthly = np.array([[1, 2, 0, 3, 1, 0, 2, 2, 1]])
    inputs = make_inputs(scenario, 1, referrals__team_start_delay_months=1.0)
    m = outcome_metrics(scenario, inputs, outcomes, monthly, np.array([2]))
    assert m["young_people_started"].tolist() == [7.0]
    assert m["young_people_completed"].tolist() == [6.0]
    assert m["year1_starts"].tolist() == [6.0]
    np.testing.assert_allclose(m["care_proportion_treated"], [0.25])
    np.testing.assert_allclose(m["care_proportion_counterfactual"], [0.4])


# --- identities and consistency on simulated draws -----------------------------------------------

_RUNS: dict[str, tuple] = {}
VARIANTS = {
    "essex": {},
    "drawn as needed": {"spv": {"upfront_drawdown_share": 0.0, "capital_committed": 1_500_000},
                        "care": {"cost_inflation": 0.0}},
    # Distributions from month 24 while the service still runs: draws can follow distributions.
    "early distributions": {"spv": {"upfront_drawdown_share": 0.0, "distributions_from_month": 24}},
}


def simulated(name, draws=300):
    if name not in _RUNS:
        scenario = make_scenario(**VARIANTS[name])
        chunk = chunk_seed(99, 0)
        inputs = sample_inputs(scenario, chunk, draws)
        outcomes, monthly = simulate_outcomes(scenario, inputs, chunk)
        settlement = settle(scenario, inputs, outcomes, monthly)
        _RUNS[name] = (settlement, draw_columns(scenario, inputs, settlement, monthly))
    return _RUNS[name]


@pytest.mark.parametrize("name", VARIANTS)
def test_moic_and_irr_agree(name):
    settlement, m = simulated(name)
    flows = settlement.waterfall.investor_flows
    status = m["irr_status"]
    ok = status == IrrStatus.OK
    assert ok.mean() > 0.6
    # Nothing back at all is a total loss at −100%; otherwise the IRR is found unless the flows
    # change sign more than once (a draw after distributions began) and have no root.
    nothing_back = m["distributions"] == 0
    np.testing.assert_array_equal(status == IrrStatus.TOTAL_LOSS, nothing_back)
    np.testing.assert_array_equal(m["irr"][nothing_back], -1.0)
    signs = np.sign(flows)
    sign_changes = [np.count_nonzero(np.diff(row[row != 0])) for row in signs]
    assert all(sign_changes[i] > 1 for i in np.flatnonzero(status == IrrStatus.NOT_CONVERGED))
    assert set(np.unique(status)) <= {IrrStatus.OK, IrrStatus.TOTAL_LOSS, IrrStatus.NOT_CONVERGED}
    moic = m["moic_drawn"]
    # MOIC ≥ 1 (money back) if and only if the IRR is ≥ 0.
    assert (m["irr"][ok & (moic > 1 + 1e-9)] > 0).all()
    assert (m["irr"][ok & (moic < 1 - 1e-9)] < 0).all()
    # The IRR is a root of the NPV: at the quarterly IRR the flows are worth nothing.
    # Tolerance: the solver's (1e-12 on log(1 + r), see helpers.npv_tolerance) plus the annualise
    # round trip (1 + q)^4 − 1 -> (1 + a)^(1/4) − 1, which perturbs 1 + q by a few eps (say 4)
    # relative, moving the NPV by at most t·4·eps of the discounted gross flows.
    quarterly = (1 + m["irr"][ok]) ** 0.25 - 1
    round_trip = flows.shape[1] * 4 * EPS * discounted_gross(quarterly, flows[ok])
    assert (np.abs(npv(quarterly, flows[ok])) <= npv_tolerance(quarterly, flows[ok]) + round_trip).all()
    # NPV at a zero rate is the investor's profit.
    np.testing.assert_allclose(npv(0.0, flows), m["investor_profit"], atol=1e-6)


@pytest.mark.parametrize("name", VARIANTS)
def test_metric_identities(name):
    _, m = simulated(name)
    # Deadweight counts every draw: undefined only where the contract paid for no care days at all.
    defined = ~np.isnan(m["deadweight_share"])
    assert (defined == (m["care_days_saved_contract"] != 0)).all()
    assert ((m["deadweight_share"][defined] >= 0) & (m["deadweight_share"][defined] <= 1)).all()
    assert (m["deadweight_share"][(m["care_days_saved_contract"] < 0) & (m["outcome_payments"] > 0)] == 1).all()
    np.testing.assert_allclose(m["deadweight_paid"][defined], (m["deadweight_share"] * m["outcome_payments"])[defined])
    np.testing.assert_allclose(m["net_benefit"],
                               m["true_savings"] - m["outcome_payments"] - m["council_management_costs"])
    at_start_prices = m["care_days_saved_contract"] * m["daily_care_cost"]
    inflation = m.get("care.cost_inflation", np.zeros(len(at_start_prices)))
    if not inflation.any():  # savings at contract-start prices
        np.testing.assert_allclose(m["true_savings"], m["care_days_saved_true"] * m["daily_care_cost"])
        np.testing.assert_allclose(m["contract_savings"], at_start_prices)
    else:  # the contract's days are valued at a mean of the quarters' price indices
        nonzero = at_start_prices != 0
        ratio = m["contract_savings"][nonzero] / at_start_prices[nonzero]
        assert (ratio >= 1 - 1e-12).all() and (ratio <= (1 + inflation[nonzero]) ** 9 + 1e-12).all()  # 34 quarters
    # Payments are never negative, so discounting (at a positive rate) never raises them.
    assert (m["outcome_payments_pv"] <= m["outcome_payments"] + 1e-6).all()
    assert (m["outcome_payments_pv"] > 0).mean() > 0.5
    np.testing.assert_allclose(m["care_days_saved_true"], m["care_days_counterfactual"] - m["care_days_treated"])
    np.testing.assert_allclose(m["investor_profit"], m["distributions"] - m["capital_drawn"])
    np.testing.assert_allclose(m["moic_drawn"], m["distributions"] / m["capital_drawn"])
    assert (m["peak_capital_at_risk"] <= m["capital_drawn"] + 1e-6).all()
    assert (m["young_people_completed"] <= m["young_people_started"]).all()
    both = m["care_proportion_treated"], m["care_proportion_counterfactual"]
    assert all(((p >= 0) & (p <= 1)).all() for p in both)


# --- summary statistics ------------------------------------------------------------------------

def test_distribution_statistics():
    # NaN draws are left out: mean of 1..4 = 2.5, sd = √(5/3) (squares 2.25+0.25+0.25+2.25 = 5,
    # over n − 1 = 3), se = sd / √4 = √(5/3)/2.
    d = distribution(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    assert d["n"] == 4 and d["mean"] == 2.5 and d["p50"] == 2.5
    np.testing.assert_allclose(d["se"], np.sqrt(5 / 3) / 2, rtol=1e-12)
    np.testing.assert_allclose([d["p05"], d["p25"], d["p75"], d["p95"]], [1.15, 1.75, 3.25, 3.85])
    rng = np.random.default_rng(3)
    x = rng.lognormal(size=1000)
    d = distribution(x)
    np.testing.assert_allclose(d["se"], np.sqrt(((x - x.mean()) ** 2).sum() / 999 / 1000))
    assert distribution(np.array([7.0]))["se"] is None
    assert distribution(np.array([np.nan]))["mean"] is None


def test_probability():
    # 1 of 4: p = 1/4, se = √(1/4 × 3/4 / 4) = √3/8.
    p = probability(np.array([True, False, False, False]))
    assert p["value"] == 0.25
    np.testing.assert_allclose(p["se"], np.sqrt(3) / 8, rtol=1e-12)
    assert probability(np.zeros(10, dtype=bool)) == {"value": 0.0, "se": 0.0}


@pytest.mark.parametrize("n", [10, 20, 999, 1000, 4321])
def test_expected_shortfall_against_brute_force(n):
    x = np.random.default_rng(n).normal(size=n)
    es = expected_shortfall(np.append(x, np.nan))  # NaN draws are left out
    k = max(1, int(0.05 * n))
    worst = np.sort(x)[:k]
    assert es["value"] == pytest.approx(worst.mean(), rel=1e-12)
    assert es["var"] == worst[-1]
    # Influence function of the lower-tail mean: (X − VaR)·1{X ≤ VaR} / tail.
    terms = np.array([(v - worst[-1]) if v <= worst[-1] else 0.0 for v in x])
    se = np.sqrt(((terms - terms.mean()) ** 2).sum() / (n - 1)) / (0.05 * np.sqrt(n))
    assert es["se"] == pytest.approx(se, rel=1e-10)
    assert expected_shortfall(np.array([np.nan]))["value"] is None


def test_expected_shortfall_standard_error_matches_its_spread():
    # Over 200 independent samples of 4,000 normals, the spread of the estimate matches the
    # reported standard error.  The spread itself is estimated to within 1/√(2·199) = 5%
    # (one standard error), so allow four.
    rng = np.random.default_rng(5)
    samples = rng.normal(size=(200, 4000))
    results = [expected_shortfall(s) for s in samples]
    spread = np.std([r["value"] for r in results], ddof=1)
    mean_se = np.mean([r["se"] for r in results])
    assert abs(spread / mean_se - 1) < 4 / np.sqrt(2 * 199)
    # and the estimate is centred on the true value: E[X | X ≤ q05] = −φ(Φ⁻¹(0.05))/0.05 for a
    # standard normal.
    true_es = -norm.pdf(norm.ppf(0.05)) / 0.05
    assert abs(np.mean([r["value"] for r in results]) - true_es) < 4 * mean_se / np.sqrt(200)


def test_summarise_probabilities_and_tail():
    rng = np.random.default_rng(8)
    n = 400
    columns = {column: rng.normal(size=n) for _, _, column in DISTRIBUTIONS}
    moic_drawn = rng.uniform(0, 2, size=n)
    moic_drawn[:10] = np.nan  # nothing drawn: no money at risk, not a loss
    columns.update(
        moic_drawn=moic_drawn, moic_committed=moic_drawn * 0.9, irr_status=np.zeros(n, dtype=np.int8),
        cap_reached=rng.random(n) < 0.3, service_stopped_early=np.zeros(n, dtype=bool),
    )
    columns["irr"][:5] = np.nan
    summary = summarise(lambda c: columns[c], n)
    loss = summary["investor"]["prob_loss"]
    assert loss["value"] == pytest.approx(np.sum(moic_drawn[10:] < 1) / n)
    assert summary["investor"]["prob_total_loss"]["value"] == pytest.approx(np.sum(moic_drawn[10:] < 0.1) / n)
    assert summary["investor"]["irr"]["nan_share"] == pytest.approx(5 / n)
    assert summary["investor"]["es05"]["of"] == "moic_committed"
    worst = np.sort(moic_drawn[10:] * 0.9)[: int(0.05 * (n - 10))]
    assert summary["investor"]["es05"]["value"] == pytest.approx(worst.mean())
    assert summary["council"]["prob_cap_reached"]["value"] == pytest.approx(columns["cap_reached"].mean())
    for section, key, column in DISTRIBUTIONS:
        assert summary[section][key]["mean"] == pytest.approx(np.nanmean(columns[column]))


# Days in care to each 18th birthday (beyond the window): one draw, one cohort, horizon quarters
# 0-3: counterfactual [30, 30, 20, 10], treated [10, 10, 20, 10] -> 20, 20, 0, 0 days avoided.
# At 10% a year and a 5% discount rate, as above: quarters 0 and 1 valued at 1.1^(1.5/12) and
# 1.1^(4.5/12), quarter 1 discounted by 1.05^(1/4).  The window (quarters 0-1) holds only 10 days
# avoided, in quarter 0.
def test_savings_to_the_18th_birthday_by_hand():
    scenario = make_scenario(contract={"measurement_end_month": 12, "payment_lag_quarters": 1})
    inputs = make_inputs(scenario, 1, care__ifa_share_of_fostering=0.4, care__ifa_foster_weekly_cost=850,
                         care__la_foster_weekly_cost=600, care__residential_share=0.2,
                         care__residential_weekly_cost=3000, contract__council_management_cost_per_quarter=0,
                         care__cost_inflation=0.10, spv__discount_rate=0.05)
    child = np.array([[[100.0, 0.0]]])
    outcomes = CohortQuarterly(
        child_days=child, care_days_treated=np.array([[[20.0, 0.0]]]), care_days_counterfactual=np.array([[[30.0, 0.0]]]),
        completions_due=np.zeros_like(child), milestone_block_days={}, milestone_people={},
        starts=np.ones((1, 1)), completed=np.ones((1, 1)),
        state_days_avoided_to_horizon=np.array([[20.0, 20.0, 0.0, 0.0]]),
        state_days_avoided_to_horizon_by_cohort=np.array([[[20.0, 20.0, 0.0, 0.0]]]))
    payments = Payments(paid=np.zeros((1, 6)), counted_days=np.array([45.0]), by_mechanism={},
                        cap_reached=np.zeros(1, dtype=bool), cap_quarter=np.full(1, np.nan))
    m = council_metrics(scenario, inputs, outcomes, payments, care=care_value(scenario, inputs, outcomes))
    day = 1160 / 7
    p0, p1 = 1.1 ** (1.5 / 12), 1.1 ** (4.5 / 12)
    np.testing.assert_allclose(m["true_savings"], [10 * day * p0], rtol=1e-12)
    np.testing.assert_allclose(m["care_days_saved_to_18"], [40.0])
    np.testing.assert_allclose(m["true_savings_to_18"], [20 * day * (p0 + p1)], rtol=1e-12)
    np.testing.assert_allclose(m["true_savings_to_18_pv"], [20 * day * (p0 + p1 / 1.05 ** 0.25)], rtol=1e-12)
    np.testing.assert_allclose(m["net_benefit_to_18"] - m["net_benefit"], m["true_savings_to_18"] - m["true_savings"],
                               rtol=1e-12)


def test_no_effect_saves_nothing_to_the_18th_birthday():
    scenario = make_scenario(effect={"log_hazard_ratio": 0.0})
    chunk = chunk_seed(3, 0)
    inputs = sample_inputs(scenario, chunk, 200)
    outcomes, monthly = simulate_outcomes(scenario, inputs, chunk)
    columns = draw_columns(scenario, inputs, settle(scenario, inputs, outcomes, monthly), monthly)
    assert outcomes.state_days_avoided_to_horizon is not None  # the run measures it
    np.testing.assert_array_equal(columns["care_days_saved_to_18"], 0.0)
    np.testing.assert_array_equal(columns["true_savings_to_18"], 0.0)
