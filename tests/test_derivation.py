"""The default scenario's derived priors: the script re-derives exactly what essex.toml holds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simsib.analysis import derivation as d
from simsib.scenario.loader import bundled_scenario_path, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "docs" / "derivations" / "essex_default.py"


def script():
    spec = importlib.util.spec_from_file_location("essex_default", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def derived():
    return d.derive()  # the script's own settings: 50,000 prior draws, a few seconds


def test_essex_toml_holds_exactly_what_the_script_derives(derived):
    text = (ROOT / "simsib" / "scenarios" / "essex.toml").read_text(encoding="utf-8")
    for name, block in script().blocks(derived).items():
        assert block in text, f"essex.toml's derived {name} block differs from the script's; rerun {SCRIPT.name} --write"


def test_the_default_scenario_uses_the_derived_numbers(derived):
    essex = load_scenario(bundled_scenario_path("essex"))
    p30, effect = essex.population.p30_entry, essex.effect.log_hazard_ratio
    assert list(p30.weights) == derived.population_weights
    assert [(c.a, c.b) for c in p30.components] == derived.beta
    assert list(effect.weights) == derived.effect_weights
    assert [(c.mean_, c.sd) for c in effect.components] == derived.normal
    ridge = [c for c in essex.correlations if set(c.between) == {d.POPULATION_KEY, d.EFFECT_KEY}]
    assert len(ridge) == 1 and ridge[0].rank == derived.rank_correlation


def test_the_derivation_rests_on_enough_draws_and_moves_the_prior(derived):
    assert derived.effective_draws > 300
    assert abs(sum(s.posterior_weight for s in derived.population) - 1) < 1e-12
    # The data move the prior: the historical-group strand (prior 0.5) cannot produce 10.8%
    # with an effect START allows.
    historical = derived.population[0]
    assert historical.prior_weight == 0.5 and historical.posterior_weight < 0.01


def test_likelihood_by_hand():
    # y on the published value, theta on START's estimate: the kernel is 1, START's density
    # 1/spread; one kernel width away, exp(-1/2); one spread away, exp(-1/2) again.
    spread = np.hypot(d.START_SE, d.HETEROGENEITY)
    weights = d.likelihood(np.array([0.108, 0.118, 0.108, np.nan]), np.array([0.223, 0.223, 0.223 - spread, 0.0]))
    np.testing.assert_allclose(weights, [1 / spread, np.exp(-0.5) / spread, np.exp(-0.5) / spread, 0.0])


def test_weighted_spearman_with_equal_weights_is_spearman():
    rng = np.random.default_rng(2)
    x = rng.random(500)
    y = x + rng.normal(0, 0.3, 500)
    assert abs(d.weighted_spearman(x, y, np.ones(500)) - stats.spearmanr(x, y).statistic) < 1e-9


def test_beta_by_moments_round_trip():
    beta = stats.beta(15.88, 21.61)
    a, b = d.beta_by_moments(float(beta.mean()), float(beta.std()))
    assert (a, b) == (15.88, 21.61)
    assert d.rounded_weights([0.3547, 0.6452, 0.0001]) == [0.355, 0.645, 0.0]
