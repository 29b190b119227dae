"""Outcome payments: hand-worked cases with known answers on tiny inputs.

Every test builds a :class:`CohortQuarterly` by hand -- 1 to 3 draws, 1 or 2 start cohorts,
4 to 6 quarters, days in calendar days -- and works the expected payments out in a table in
the comments.  Notation in the tables:

* ``b·child − care``: days saved against the baseline proportion ``b`` in that quarter;
* ``cum``: cumulative entitlement (£) to the end of the quarter;
* ``due``: running maximum of ``cum`` floored at zero -- what has been earned to date
  (a bad quarter offsets earlier good ones; nothing already paid is clawed back);
* ``paid``: the increase in ``due``, shifted by the payment lag.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import make_inputs

from simsib.contract.mechanisms import milestone_needs
from simsib.contract.payments import measured_quarters, outcome_payments, served_outcomes
from simsib.model.care_aggregate import aggregate
from simsib.model.care_paths import People
from simsib.model.outcomes import CohortQuarterly
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

ESSEX_RAW = load_raw(bundled_scenario_path())

DAYS_SAVED = {"type": "days_saved_vs_baseline", "price_per_day": 10.0, "baseline_care_proportion": 0.5}


def make_scenario(mechanisms, *, cap=None, cohort_cap=None, lag=0, netting="contract",
                  measurement_end=18, service_end=60):
    """The Essex scenario with its contract replaced (prices etc. fixed, so inputs are exact)."""
    raw = copy.deepcopy(ESSEX_RAW)
    contract = raw["contract"]
    contract.pop("cap", None)
    contract.pop("cohort_cap", None)
    contract.update(mechanisms=mechanisms, payment_lag_quarters=lag, netting=netting,
                    measurement_end_month=measurement_end)
    if cap is not None:
        contract["cap"] = cap
    if cohort_cap is not None:
        contract["cohort_cap"] = cohort_cap
    raw["referrals"]["service_end_month"] = service_end
    return validate(raw)


def outcomes(child, care, *, care0=None, completions=None, blocks=None, people=None, starts=None):
    """A CohortQuarterly from (n, C, Q) arrays; absent series are zero."""
    child = np.asarray(child, dtype=float)
    care = np.asarray(care, dtype=float)
    n, c, q = child.shape
    zeros = np.zeros((n, c, q))
    starts = np.zeros((n, c)) if starts is None else np.asarray(starts, dtype=float)
    return CohortQuarterly(
        child_days=child,
        care_days_treated=care,
        care_days_counterfactual=care if care0 is None else np.asarray(care0, dtype=float),
        completions_due=zeros if completions is None else np.asarray(completions, dtype=float),
        milestone_block_days={k: np.asarray(v, dtype=float) for k, v in (blocks or {}).items()},
        milestone_people={k: np.asarray(v, dtype=float) for k, v in (people or {}).items()},
        starts=starts,
        completed=starts,
    )


def pay(mechanisms, data, n_draws=1, **kwargs):
    overrides = kwargs.pop("inputs", {})
    scenario = make_scenario(mechanisms, **kwargs)
    return outcome_payments(scenario, make_inputs(scenario, n_draws, **overrides), data)


# --- days_saved_vs_baseline (Essex) ----------------------------------------------------------

# price £10/day, baseline b = 0.5, one draw, one cohort, six quarters, no lag, no cap:
#
# | q | child | care | b·child−care | £ incr | cum  | due | paid |
# |---|-------|------|--------------|--------|------|-----|------|
# | 0 |  100  |  60  |     −10      |  −100  | −100 |   0 |   0  |   <- nothing below zero
# | 1 |  100  |  20  |      30      |   300  |  200 | 200 | 200  |
# | 2 |  100  |  40  |      10      |   100  |  300 | 300 | 100  |
# | 3 |  100  |  90  |     −40      |  −400  | −100 | 300 |   0  |   <- bad quarter: not clawed back
# | 4 |  100  |  30  |      20      |   200  |  100 | 300 |   0  |   <- only rebuilds the deficit
# | 5 |  100  |  20  |      30      |   300  |  400 | 400 | 100  |
#
# total paid 400 = price × Σ days (40) because the final cumulative is the running maximum.
CHILD_1 = [[[100, 100, 100, 100, 100, 100]]]
CARE_1 = [[[60, 20, 40, 90, 30, 20]]]


def test_days_saved_nets_cumulatively_and_never_claws_back():
    result = pay([DAYS_SAVED], outcomes(CHILD_1, CARE_1))
    np.testing.assert_allclose(result.paid, [[0, 200, 100, 0, 0, 100]])
    np.testing.assert_allclose(result.counted_days, [40.0])
    np.testing.assert_allclose(result.by_mechanism["0.days_saved_vs_baseline"], [400.0])
    assert not result.cap_reached[0] and np.isnan(result.cap_quarter[0])


def test_days_saved_ends_below_its_peak():
    # Same as above but the last quarter is bad too: care 90 -> −40 days, −£400.
    # cum: −100, 200, 300, −100, 100, −300; due stays at the peak 300, so £300 is paid although
    # over the whole contract the days saved sum to −30.
    care = [[[60, 20, 40, 90, 30, 90]]]
    result = pay([DAYS_SAVED], outcomes(CHILD_1, care))
    np.testing.assert_allclose(result.paid, [[0, 200, 100, 0, 0, 0]])
    np.testing.assert_allclose(result.counted_days, [-30.0])


# Lag: measured quarters 0..3 only (measurement end month 12), quarters 4 and 5 follow.
#
# | q | b·child−care | cum £ | due | due this q | paid, lag 1 | paid, lag 2 |
# |---|--------------|-------|-----|------------|-------------|-------------|
# | 0 |     −10      |  −100 |   0 |     0      |      0      |      0      |
# | 1 |      30      |   200 | 200 |   200      |      0      |      0      |
# | 2 |      10      |   300 | 300 |   100      |    200      |      0      |
# | 3 |     −40      |  −100 | 300 |     0      |    100      |    200      |
# | 4 |       —      |  −100 | 300 |     0      |      0      |    100      |
# | 5 |       —      |  −100 | 300 |     0      |      0      |      0      |
@pytest.mark.parametrize("lag, expected", [
    (0, [0, 200, 100, 0, 0, 0]),
    (1, [0, 0, 200, 100, 0, 0]),
    (2, [0, 0, 0, 200, 100, 0]),
])
def test_days_saved_paid_with_a_lag(lag, expected):
    child = [[[100, 100, 100, 100, 0, 0]]]
    care = [[[60, 20, 40, 90, 0, 0]]]
    result = pay([DAYS_SAVED], outcomes(child, care), lag=lag, measurement_end=12)
    np.testing.assert_allclose(result.paid, [expected])


def test_lagged_payment_due_past_the_end_is_paid_in_the_final_quarter():
    # Measured to month 15 (quarters 0..4), lag 2: quarter 4 earns +60 days = +£600
    # (cum 500, due 500, +£200 due in q4), which would fall in q6 -- past the timeline -- so it
    # is paid in the final quarter 5.  (A scenario's timeline always has room for the lag.)
    child = [[[100, 100, 100, 100, 100, 0]]]
    care = [[[60, 20, 40, 90, -10, 0]]]
    result = pay([DAYS_SAVED], outcomes(child, care), lag=2, measurement_end=15)
    np.testing.assert_allclose(result.paid, [[0, 0, 0, 200, 100, 200]])


# --- days_out_of_care with deadweight (Norfolk, Suffolk) -------------------------------------

# price £2/day, deadweight 0.25:
#
# | q | child | care | out of care | × (1 − 0.25) | £   |
# |---|-------|------|-------------|--------------|-----|
# | 0 |   90  |   0  |      90     |     67.5     | 135 |
# | 1 |   90  |  30  |      60     |     45       |  90 |
# | 2 |   90  |  90  |       0     |      0       |   0 |
# | 3 |   45  |  15  |      30     |     22.5     |  45 |
#
# total £270 for 135 counted days.  A second draw with deadweight 1 earns nothing.
def test_days_out_of_care_less_deadweight():
    mech = {"type": "days_out_of_care", "price_per_day": 2.0, "deadweight_share": 0.25}
    child = [[[90, 90, 90, 45]]] * 2
    care = [[[0, 30, 90, 15]]] * 2
    result = pay([mech], outcomes(child, care), n_draws=2,
                 inputs={"contract__mechanisms__0__deadweight_share": [0.25, 1.0]}, measurement_end=12)
    np.testing.assert_allclose(result.paid, [[135, 90, 0, 45], [0, 0, 0, 0]])
    np.testing.assert_allclose(result.counted_days, [135.0, 0.0])


# --- milestone (PFP, Birmingham) -------------------------------------------------------------

# repeat: price £500 per whole block of 91 days out of care.  The aggregation accrues whole
# blocks evenly over time, so a block straddling a quarter end is paid half in each:
#
# | q | block-days | blocks | £    |
# |---|------------|--------|------|
# | 0 |    91      |  1     |  500 |
# | 1 |   136.5    |  1.5   |  750 |
# | 2 |    45.5    |  0.5   |  250 |
# | 3 |     0      |  0     |    0 |
#
# total 3 blocks = £1,500; counted days 273.
def test_milestone_pays_per_block():
    mech = {"type": "milestone", "price": 500.0, "block_days": 91, "repeat": True}
    zeros = np.zeros((1, 1, 4))
    data = outcomes(zeros, zeros, blocks={91: [[[91, 136.5, 45.5, 0]]]})
    result = pay([mech], data, measurement_end=12)
    np.testing.assert_allclose(result.paid, [[500, 750, 250, 0]])
    np.testing.assert_allclose(result.counted_days, [273.0])


# once: price £1,000 per young person whose first 182 days are out of care, in the quarter the
# 182nd day falls:  people [1, 0, 2, 0] -> £ [1000, 0, 2000, 0]; counted days 3 × 182 = 546.
def test_milestone_pays_once_per_person():
    mech = {"type": "milestone", "price": 1000.0, "block_days": 182, "repeat": False}
    zeros = np.zeros((1, 1, 4))
    data = outcomes(zeros, zeros, people={182: [[[1, 0, 2, 0]]]})
    result = pay([mech], data, measurement_end=12)
    np.testing.assert_allclose(result.paid, [[1000, 0, 2000, 0]])
    np.testing.assert_allclose(result.counted_days, [546.0])


def _two_people(scenario):
    """Two young people of one draw, tracked 30 months (times in months since each start).

    A starts at month 0 (cohort 0) and is in care in months [10, 12): out-of-care spells
      [0, 10) and [12, 30).
    B starts at month 4 (cohort 1) and is in care in months [1, 20): spells [0, 1), [20, 30).
    """
    window = np.array([30.0, 30.0])
    care = np.array([[[10.0, 12.0], [30.0, 30.0]], [[1.0, 20.0], [30.0, 30.0]]])
    people = People(
        draw=np.array([0, 0]), start_calendar=np.array([0.0, 4.0]), cohort=np.array([0, 1]),
        completed=np.array([True, True]), window=window,
        entry_counterfactual=care[:, 0, 0], entry_treated=care[:, 0, 0],
        care_counterfactual=care, care_treated=care, to18=np.array([60.0, 60.0]),
    )
    blocks, once = milestone_needs(scenario)
    return aggregate(scenario, people, make_inputs(scenario, 1), 1, blocks, once)


# From care paths: a block of 91 days is 91 / 30.4375 = 2.9897 months.
#
# | person | spell (months) | length | whole 91-day blocks | first spell >= 91 days? |
# |--------|----------------|--------|---------------------|-------------------------|
# |   A    |   [0, 10)      |   10   |  3                  |  yes (reached month 2.99, q0) |
# |   A    |   [12, 30)     |   18   |  6                  |                         |
# |   B    |   [0, 1)       |    1   |  0                  |  no                     |
# |   B    |   [20, 30)     |   10   |  3                  |                         |
#
# 12 blocks (1,092 block-days) at £500 = £6,000; one person reaches the once-only milestone.
# With 365-day blocks (12.0 months): A's 18-month spell holds 1 block, nothing else does, and
# nobody's first spell lasts 365 days.
def test_milestones_from_care_paths():
    mechanisms = [
        {"type": "milestone", "price": 500.0, "block_days": 91, "repeat": True},
        {"type": "milestone", "price": 2000.0, "block_days": 91, "repeat": False},
        {"type": "milestone", "price": 700.0, "block_days": 365, "repeat": True},
        {"type": "milestone", "price": 900.0, "block_days": 365, "repeat": False},
    ]
    scenario = make_scenario(mechanisms, measurement_end=36, service_end=6)
    data = _two_people(scenario)
    np.testing.assert_allclose(data.milestone_block_days[91].sum(), 12 * 91)
    np.testing.assert_allclose(data.milestone_block_days[365].sum(), 365)
    assert data.milestone_people[91][0, 0, 0] == 1 and data.milestone_people[91].sum() == 1
    assert data.milestone_people[365].sum() == 0
    result = outcome_payments(scenario, make_inputs(scenario, 1), data)
    np.testing.assert_allclose(result.by_mechanism["0.milestone"], [12 * 500.0])
    np.testing.assert_allclose(result.by_mechanism["1.milestone"], [2000.0])
    np.testing.assert_allclose(result.by_mechanism["2.milestone"], [700.0])
    np.testing.assert_allclose(result.by_mechanism["3.milestone"], [0.0])
    np.testing.assert_allclose(result.paid.sum(), 12 * 500 + 2000 + 700)


# --- engagement ------------------------------------------------------------------------------

# start: £100 per young person in the quarter they start; starts per cohort [3, 2]:
#   £ per quarter [300, 200, 0, 0].
# completion: £50 per completion in the quarter therapy ends;
#   completions  cohort 0: [0, 2, 1, 0], cohort 1: [0, 0, 1, 1]  -> £ [0, 100, 100, 50].
def test_engagement_on_start_and_on_completion():
    zeros = np.zeros((1, 2, 4))
    completions = [[[0, 2, 1, 0], [0, 0, 1, 1]]]
    data = outcomes(zeros, zeros, completions=completions, starts=[[3, 2]])
    on_start = pay([{"type": "engagement", "price_per_person": 100.0, "on": "start"}], data, measurement_end=12)
    on_completion = pay([{"type": "engagement", "price_per_person": 50.0, "on": "completion"}], data,
                        measurement_end=12)
    np.testing.assert_allclose(on_start.paid, [[300, 200, 0, 0]])
    np.testing.assert_allclose(on_completion.paid, [[0, 100, 100, 50]])
    np.testing.assert_allclose(on_start.counted_days, [0.0])  # engagement pays for no care days


# --- several mechanisms add up; each is netted on its own ------------------------------------

# days saved (£10, b 0.5): days [−20, −20, 10, 0] -> cum £ [−200, −400, −300, −300] -> due 0
# engagement on start (£100): 2 starts in q0                                   -> £200 in q0
# milestone once (£1,000, 91 days): 1 person in q2                             -> £1,000 in q2
# total paid [200, 0, 1000, 0]: the days-saved deficit does not claw back the other mechanisms.
def test_mechanisms_add_up_and_are_netted_separately():
    mechanisms = [
        DAYS_SAVED,
        {"type": "engagement", "price_per_person": 100.0, "on": "start"},
        {"type": "milestone", "price": 1000.0, "block_days": 91, "repeat": False},
    ]
    data = outcomes([[[100, 100, 100, 100]]], [[[70, 70, 40, 50]]], people={91: [[[0, 0, 1, 0]]]},
                    starts=[[2]])
    result = pay(mechanisms, data, measurement_end=12)
    np.testing.assert_allclose(result.paid, [[200, 0, 1000, 0]])
    assert set(result.by_mechanism) == {"0.days_saved_vs_baseline", "1.engagement", "2.milestone"}
    np.testing.assert_allclose(result.by_mechanism["0.days_saved_vs_baseline"], [-300.0])
    np.testing.assert_allclose(result.by_mechanism["1.engagement"], [200.0])
    np.testing.assert_allclose(result.by_mechanism["2.milestone"], [1000.0])
    singles = sum(pay([m], data, measurement_end=12).paid for m in mechanisms)
    np.testing.assert_allclose(result.paid, singles)


# --- netting by contract or by cohort, cohort cap, total cap ----------------------------------

# price £1/day, b 0.5, two cohorts; child 100 a quarter once a cohort has started.
#
# days saved       q0   q1   q2   q3
# cohort 0         10   10  −30    0
# cohort 1          0   20   10   10
#
# netting = "contract": both cohorts together
#   Σ days          10   30  −20   10
#   cum             10   40   20   30
#   due             10   40   40   40      paid [10, 30, 0, 0]   total 40
# netting = "cohort": each cohort on its own
#   cohort 0 cum    10   20  −10  −10  ->  due 10 20 20 20
#   cohort 1 cum     0   20   30   40  ->  due  0 20 30 40
#   due             10   40   50   60      paid [10, 30, 10, 10] total 60
CHILD_2 = [[[100, 100, 100, 100], [0, 100, 100, 100]]]
CARE_2 = [[[40, 40, 80, 50], [0, 30, 40, 40]]]
PRICE_1 = {**DAYS_SAVED, "price_per_day": 1.0}


@pytest.mark.parametrize("netting, expected", [
    ("contract", [10, 30, 0, 0]),
    ("cohort", [10, 30, 10, 10]),
])
def test_netting_by_contract_or_by_cohort(netting, expected):
    result = pay([PRICE_1], outcomes(CHILD_2, CARE_2), netting=netting, measurement_end=12)
    np.testing.assert_allclose(result.paid, [expected])
    np.testing.assert_allclose(result.counted_days, [30.0])  # Σ days saved, before netting


# Cohort cap, netting = "cohort": cap each cohort's due.  Cap £25:
#   cohort 0 due 10 20 20 20 (under the cap); cohort 1 due 0 20 25 25
#   due 10 40 45 45                                       paid [10, 30, 5, 0]  total 45
# Cohort cap, netting = "contract": the contract-netted due (10 40 40 40, as above), but never
# more than the sum of the cohorts' capped, cohort-netted dues.
#   cap £25: Σ capped = 10 40 45 45 -> min = 10 40 40 40  paid [10, 30, 0, 0]  total 40
#   cap £15: cohort 0 10 15 15 15, cohort 1 0 15 15 15, Σ 10 30 30 30
#            -> min = 10 30 30 30                         paid [10, 20, 0, 0]  total 30
@pytest.mark.parametrize("netting, cohort_cap, expected", [
    ("cohort", 25.0, [10, 30, 5, 0]),
    ("contract", 25.0, [10, 30, 0, 0]),
    ("contract", 15.0, [10, 20, 0, 0]),
    ("cohort", 1e9, [10, 30, 10, 10]),  # a cap that never binds changes nothing
    ("contract", 1e9, [10, 30, 0, 0]),
])
def test_cohort_cap(netting, cohort_cap, expected):
    result = pay([PRICE_1], outcomes(CHILD_2, CARE_2), netting=netting, cohort_cap=cohort_cap,
                 measurement_end=12)
    np.testing.assert_allclose(result.paid, [expected])


# Contract netting nets cohorts before their caps.  One mechanism (£1/day), cohort cap £10:
#
# |              | q0  | q1  | q2  | q3  |
# |--------------|-----|-----|-----|-----|
# | A days       |  12 |  −2 |   0 |   0 |
# | B days       |  −2 |   0 |   0 |   0 |
# | contract cum |  10 |   8 |   8 |   8 |   -> netted due 10 10 10 10
# | A netted     |  12 |  12 |  12 |  12 |   -> capped 10
# | B netted     |   0 |   0 |   0 |   0 |
# | due          |  10 |  10 |  10 |  10 |   = min(10, 10 + 0): paid [10, 0, 0, 0]
#
# (B's deficit is set against A's 12 days before A's cap, so 10 net days earn £10.)
def test_contract_netting_nets_cohorts_before_their_caps():
    child = [[[100, 100, 100, 100], [100, 100, 100, 100]]]
    care = [[[38, 52, 50, 50], [52, 50, 50, 50]]]
    result = pay([PRICE_1], outcomes(child, care), cohort_cap=10.0, measurement_end=12)
    np.testing.assert_allclose(result.paid, [[10, 0, 0, 0]])


# One cohort, contract netting, days saved (£10, b 0.5) [−20, −20, 10, 0] and engagement on
# start (£100) for 2 starts:
#   days saved netted: 0 0 0 0;  engagement: 200 200 200 200;  netted total 200 200 200 200
#   cohort cap £150: cohort-netted and capped 150 -> due 150   paid [150, 0, 0, 0]
#   cohort cap £1e9 (never binds): due 200, as with no cohort cap.
@pytest.mark.parametrize("netting", ["contract", "cohort"])
@pytest.mark.parametrize("cohort_cap, expected", [(None, 200.0), (1e9, 200.0), (150.0, 150.0)])
def test_cohort_cap_with_several_mechanisms(netting, cohort_cap, expected):
    mechanisms = [DAYS_SAVED, {"type": "engagement", "price_per_person": 100.0, "on": "start"}]
    data = outcomes([[[100, 100, 100, 100]]], [[[70, 70, 40, 50]]], starts=[[2]])
    result = pay(mechanisms, data, netting=netting, cohort_cap=cohort_cap, measurement_end=12)
    np.testing.assert_allclose(result.paid, [[expected, 0, 0, 0]])


# Total cap £35, contract netting: due 10 40 40 40 -> min(due, 35) = 10 35 35 35.
#   lag 0: paid [10, 25, 0, 0], cap reached in q1;  lag 1: paid [0, 10, 25, 0], reached (paid) in q2.
# Cap £40 equals the total: reached in q1.  Cap £60: never reached.
@pytest.mark.parametrize("cap, lag, expected, cap_quarter", [
    (35.0, 0, [10, 25, 0, 0], 1.0),
    (35.0, 1, [0, 10, 25, 0], 2.0),
    (40.0, 0, [10, 30, 0, 0], 1.0),
    (60.0, 0, [10, 30, 0, 0], np.nan),
])
def test_total_cap(cap, lag, expected, cap_quarter):
    result = pay([PRICE_1], outcomes(CHILD_2, CARE_2), cap=cap, lag=lag, measurement_end=12)
    np.testing.assert_allclose(result.paid, [expected])
    assert result.cap_reached[0] == (not np.isnan(cap_quarter))
    np.testing.assert_equal(result.cap_quarter, [cap_quarter])


def test_cap_applies_to_the_sum_of_mechanisms():
    # CHILD_2/CARE_2 days saved earn £40 (contract netting), engagement 2 × £100 in q0.
    # Total due 210, 240, 240, 240 -> cap £220: paid [210, 10, 0, 0].
    mechanisms = [PRICE_1, {"type": "engagement", "price_per_person": 100.0, "on": "start"}]
    data = outcomes(CHILD_2, CARE_2, starts=[[2, 0]])
    result = pay(mechanisms, data, cap=220.0, measurement_end=12)
    np.testing.assert_allclose(result.paid, [[210, 10, 0, 0]])
    assert result.cap_reached[0] and result.cap_quarter[0] == 1


# --- draws are independent rows -------------------------------------------------------------

# Three draws with the outcomes of the first table (CHILD_1, CARE_1):
#   draw 0: price £10                       -> paid [0, 200, 100, 0, 0, 100]     (as above)
#   draw 1: price £20, cap £350             -> due 0 400 600 ... -> min 350: paid [0, 350, 0, 0, 0, 0]
#   draw 2: baseline 0.2: days 20 − care = [−40, 0, −20, −70, −10, 0] never positive -> nothing
def test_draws_are_independent():
    data = outcomes(CHILD_1 * 3, CARE_1 * 3)
    result = pay([DAYS_SAVED], data, n_draws=3, cap=1e9, inputs={
        "contract__mechanisms__0__price_per_day": [10.0, 20.0, 10.0],
        "contract__mechanisms__0__baseline_care_proportion": [0.5, 0.5, 0.2],
        "contract__cap": [1e9, 350.0, 1e9],
    })
    np.testing.assert_allclose(result.paid, [
        [0, 200, 100, 0, 0, 100],
        [0, 350, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ])
    np.testing.assert_array_equal(result.cap_reached, [False, True, False])
    np.testing.assert_allclose(result.counted_days, [40.0, 40.0, -140.0])


# --- measurement end and served cohorts -------------------------------------------------------

def test_measured_quarters():
    # A quarter counts if it starts before the measurement end (month 7 -> quarters 0, 1, 2).
    scenario = make_scenario([DAYS_SAVED], measurement_end=7)
    np.testing.assert_array_equal(measured_quarters(scenario, 5), [True, True, True, False, False])


# Measurement ends at month 6: quarters 0 and 1 count.  Four cohorts, one start each,
# engagement on start £100, and days saved (£10, b 0.5) of 10 a quarter for cohort 0:
#   engagement: cohorts 0 and 1 start in measured quarters -> £200 (cohorts 2, 3: nothing)
#   days saved: 10 + 10 days in quarters 0, 1               -> £200
# Cohort 1 is not served (the SPV stopped it): its start neither earns nor is counted.
def test_nothing_measured_after_the_end_earns_anything():
    mechanisms = [DAYS_SAVED, {"type": "engagement", "price_per_person": 100.0, "on": "start"}]
    scenario = make_scenario(mechanisms, measurement_end=6)
    child = np.zeros((1, 4, 6))
    child[0, 0] = 100
    care = np.where(child > 0, 40.0, 0.0)
    data = outcomes(child, care, starts=[[1, 1, 1, 1]])
    measured = measured_quarters(scenario, 6)
    everyone = served_outcomes(data, np.ones((1, 4), dtype=bool), measured)
    result = outcome_payments(scenario, make_inputs(scenario, 1), everyone)
    np.testing.assert_allclose(result.by_mechanism["0.days_saved_vs_baseline"], [200.0])
    np.testing.assert_allclose(result.by_mechanism["1.engagement"], [200.0])
    np.testing.assert_allclose(result.paid, [[200, 200, 0, 0, 0, 0]])

    some = served_outcomes(data, np.array([[True, False, True, True]]), measured)
    np.testing.assert_array_equal(some.starts, [[1, 0, 1, 1]])
    result = outcome_payments(scenario, make_inputs(scenario, 1), some)
    np.testing.assert_allclose(result.paid, [[200, 100, 0, 0, 0, 0]])


def test_served_outcomes_zero_unserved_cohorts_and_unmeasured_quarters():
    rng = np.random.default_rng(0)
    shape = (2, 3, 5)
    data = outcomes(rng.random(shape), rng.random(shape), completions=rng.random(shape),
                    blocks={91: rng.random(shape)}, people={91: rng.random(shape)},
                    starts=rng.random((2, 3)))
    active = np.array([[True, True, False], [True, False, False]])
    measured = np.array([True, True, True, False, False])
    cut = served_outcomes(data, active, measured)
    keep = active[:, :, None] & measured[None, None, :]
    for name in ("child_days", "care_days_treated", "care_days_counterfactual", "completions_due"):
        np.testing.assert_array_equal(getattr(cut, name), np.where(keep, getattr(data, name), 0.0))
    np.testing.assert_array_equal(cut.milestone_block_days[91], np.where(keep, data.milestone_block_days[91], 0))
    np.testing.assert_array_equal(cut.starts, np.where(active, data.starts, 0.0))

