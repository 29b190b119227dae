"""Invariants of the money side on simulated draws of the Essex scenario and variants.

Each property holds draw by draw (or quarter by quarter), so a few hundred draws per variant
are enough; variants share random numbers (same seed; inputs keyed by name), so a comparison
between two variants is a comparison of the same young people under two contracts.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import simsib
from simsib.model.inputs import sample_inputs
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import draw_columns, settle, simulate_outcomes
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

DRAWS = 300
ESSEX_RAW = load_raw(bundled_scenario_path())


def variant(changes: tuple = ()):
    """Essex with ``changes``: (dotted path, value) pairs; a value of None deletes the key."""
    raw = copy.deepcopy(ESSEX_RAW)
    for path, value in changes:
        *parents, key = path.split(".")
        node = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return validate(raw)


_RUNS: dict[str, tuple] = {}


def run(changes: tuple = (), entropy: int = 2024, draws: int = DRAWS):
    """One chunk through the pipeline: (scenario, inputs, settlement, per-draw columns), cached."""
    key = repr((changes, entropy, draws))
    if key not in _RUNS:
        _RUNS[key] = _run(changes, entropy, draws)
    return _RUNS[key]


def _run(changes: tuple, entropy: int, draws: int):
    scenario = variant(changes)
    chunk = chunk_seed(entropy, 0)
    inputs = sample_inputs(scenario, chunk, draws)
    outcomes, monthly = simulate_outcomes(scenario, inputs, chunk)
    settlement = settle(scenario, inputs, outcomes, monthly)
    return scenario, inputs, settlement, draw_columns(scenario, inputs, settlement, monthly)


NO_CAP = (("contract.cap", None),)
VARIANTS = {
    "essex": (),
    "low cap": (("contract.cap", 3_000_000),),
    "cohort netting and cap": (("contract.netting", "cohort"), ("contract.cohort_cap", 400_000)),
    "contract netting, cohort cap": (("contract.cohort_cap", 300_000),),
    "lag 2, reserve, early distributions": (
        ("contract.payment_lag_quarters", 2), ("spv.reserve", 500_000), ("spv.distributions_from_month", 24),
    ),
    "drawn as needed, small commitment": (
        ("spv.upfront_drawdown_share", 0.0), ("spv.capital_committed", 1_500_000),
    ),
    "several mechanisms": (
        ("contract.cap", 9_000_000),
        ("contract.mechanisms", [
            {"type": "days_saved_vs_baseline", "price_per_day": 60, "baseline_care_proportion": 0.55},
            {"type": "engagement", "price_per_person": 1500, "on": "completion"},
            {"type": "milestone", "price": 800, "block_days": 91, "repeat": True},
        ]),
    ),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_payments_never_exceed_the_cap(name):
    scenario, inputs, settlement, _ = run(VARIANTS[name])
    cumulative = np.cumsum(settlement.payments.paid, axis=1)
    cap = inputs["contract.cap"][:, None] if scenario.contract.cap is not None else np.inf
    assert (cumulative <= cap + 1e-6).all()
    assert (settlement.payments.paid >= -1e-9).all()  # nothing is ever clawed back
    if scenario.contract.cap is not None:
        reached = settlement.payments.cap_reached
        np.testing.assert_allclose(cumulative[reached, -1], inputs["contract.cap"][reached])
        assert (cumulative[~reached, -1] < inputs["contract.cap"][~reached]).all()


@pytest.mark.parametrize("name", VARIANTS)
def test_cash_is_conserved_quarter_by_quarter(name):
    _, inputs, settlement, _ = run(VARIANTS[name])
    w = settlement.waterfall
    previous = np.zeros(w.cash.shape[0])
    scale = 1e-9 * inputs["spv.capital_committed"].max()
    for q in range(w.cash.shape[1]):
        expected = previous + w.payments[:, q] + w.drawn[:, q] - w.costs_paid[:, q] - w.distributed[:, q]
        np.testing.assert_allclose(w.cash[:, q], expected, rtol=0, atol=scale)
        previous = w.cash[:, q]
    np.testing.assert_allclose(w.cash[:, -1], 0.0, rtol=0, atol=scale)  # everything distributed
    assert (w.cash >= -scale).all()
    assert (w.drawn.sum(axis=1) <= inputs["spv.capital_committed"] + scale).all()
    assert (w.costs_paid <= w.costs_owed + scale).all()


@pytest.mark.parametrize("name", VARIANTS)
def test_distributions_never_exceed_capital_drawn_plus_payments(name):
    _, _, settlement, columns = run(VARIANTS[name])
    w = settlement.waterfall
    cumulative_in = np.cumsum(w.drawn + w.payments, axis=1)
    assert (np.cumsum(w.distributed, axis=1) <= cumulative_in + 1e-6).all()
    np.testing.assert_allclose(columns["distributions"], w.distributed.sum(axis=1))
    np.testing.assert_allclose(columns["outcome_payments"], w.payments.sum(axis=1))
    np.testing.assert_allclose(columns["distributions"] + w.costs_paid.sum(axis=1),
                               columns["capital_drawn"] + columns["outcome_payments"], rtol=1e-12)


def test_doubling_the_price_without_a_cap_doubles_payments_exactly():
    # A commitment no draw can exhaust keeps the served cohorts the same in both variants.
    base = NO_CAP + (("spv.capital_committed", 50_000_000),)
    one = simsib.simulate(variant(base), draws=DRAWS, seed=7).draws
    two = simsib.simulate(variant(base + (("contract.mechanisms.0.price_per_day", 150),)), draws=DRAWS, seed=7).draws
    assert not one["service_stopped_early"].any() and not two["service_stopped_early"].any()
    assert (one["outcome_payments"] > 0).mean() > 0.9
    np.testing.assert_array_equal(two["outcome_payments"].to_numpy(), 2 * one["outcome_payments"].to_numpy())
    np.testing.assert_array_equal(two["care_days_saved_contract"], one["care_days_saved_contract"])


@pytest.mark.parametrize("scenario_changes", [
    (),
    (("spv.upfront_drawdown_share", 0.0), ("spv.capital_committed", 1_500_000)),
], ids=["essex", "small commitment drawn as needed"])
def test_a_higher_cap_never_lowers_any_draws_distributions(scenario_changes):
    caps = [2_000_000, 4_000_000, 7_200_000, 9_000_000, None]
    distributions = [run(scenario_changes + (("contract.cap", cap),))[3]["distributions"] for cap in caps]
    for lower, higher in zip(distributions, distributions[1:]):
        assert (higher >= lower - 1e-6).all()
    assert (distributions[-1] > distributions[0] + 1.0).mean() > 0.5  # the cap matters


def test_zero_effect_and_a_matching_baseline_give_no_contract_savings():
    """With no effect (hazard ratio 1) and a baseline equal to the population's own
    counterfactual care proportion, the days saved against the baseline average zero.

    The baseline is measured on one seed (π̂ = Σ care ÷ Σ child-days over a pilot run) and
    tested on another, so the check is not circular; its standard error combines the test
    run's mean and the pilot's ratio estimate (delta method).
    """
    population = (("effect.log_hazard_ratio", 0.0), ("population.p30_entry", 0.6), NO_CAP[0])
    _, _, _, pilot = run(population, entropy=11)
    child0, care0 = pilot["child_days"], pilot["care_days_counterfactual"]
    baseline = care0.sum() / child0.sum()
    ratio_se = np.std(care0 - baseline * child0, ddof=1) / np.sqrt(len(child0)) / child0.mean()

    _, _, settlement, test = run(population + (("contract.mechanisms.0.baseline_care_proportion", baseline),),
                                 entropy=12)
    # Hazard ratio 1: the treated path is the counterfactual path, and true savings are nil.
    np.testing.assert_array_equal(test["care_days_treated"], test["care_days_counterfactual"])
    np.testing.assert_array_equal(test["care_days_saved_true"], 0.0)
    # The contract pays for b × child-days − care days, draw by draw.
    np.testing.assert_allclose(test["care_days_saved_contract"],
                               baseline * test["child_days"] - test["care_days_treated"], rtol=1e-9, atol=1e-6)
    saved = test["care_days_saved_contract"]
    se = np.hypot(saved.std(ddof=1) / np.sqrt(len(saved)), ratio_se * test["child_days"].mean())
    assert abs(saved.mean()) < 4 * se
