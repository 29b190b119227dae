"""The fast paths of per-draw sampling give exactly the numbers of the plain ones.

Sampling skips scipy's per-call argument checks (``_ScipyQuantiles``), caches each scenario's
quantities and the Iman-Conover scores.  Results of past runs must reproduce to the bit, so each
shortcut is compared bit for bit with the checked scipy call it replaces; a scipy release that
changed what its checked ``ppf``/``isf`` add around ``_ppf``/``_isf`` would fail here.
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import pytest
from scipy import stats

import simsib
from simsib.model.inputs import _van_der_waerden_scores
from simsib.scenario.distributions import _TINY, _cached_frozen, _cached_quantiles, as_distribution
from simsib.scenario.format import all_quantities, per_draw_quantities
from simsib.scenario.format import scenario as scenario_module
from simsib.scenario.loader import validate

# Every family whose quantiles come from scipy, with parameters from ordinary to extreme, and
# truncations that take each branch of scipy's truncnorm (bounds left of, right of, and around
# the mean; one-sided).
SCIPY_FAMILIES: dict[str, dict[str, Any]] = {
    "beta a/b": {"dist": "beta", "a": 13, "b": 7},
    "beta small shapes": {"dist": "beta", "a": 0.3, "b": 0.05},
    "beta large shapes": {"dist": "beta", "a": 500, "b": 2.5},
    "beta mean/concentration": {"dist": "beta", "mean": 0.85, "concentration": 20},
    "beta p05/p95": {"dist": "beta", "p05": 0.02, "p95": 0.4},
    "gamma": {"dist": "gamma", "shape": 2, "scale": 3},
    "gamma small shape": {"dist": "gamma", "mean": 0.5, "sd": 4},
    "triangular": {"dist": "triangular", "low": 6, "mode": 12, "high": 24},
    "triangular mode at low": {"dist": "triangular", "low": 0, "mode": 0, "high": 1},
    "normal truncated around mean": {"dist": "normal", "mean": 0.8, "sd": 0.3, "low": 0, "high": 1},
    "normal truncated left tail": {"dist": "normal", "mean": 0, "sd": 1, "low": -9, "high": -3},
    "normal truncated right tail": {"dist": "normal", "mean": 0, "sd": 1, "low": 4, "high": 30},
    "normal lower bound only": {"dist": "normal", "mean": 1, "sd": 2, "low": 0},
    "normal upper bound only": {"dist": "normal", "mean": 1, "sd": 2, "high": -5},
    "negative_binomial": {"dist": "negative_binomial", "mean": 4, "dispersion": 2},
    "negative_binomial overdispersed": {"dist": "negative_binomial", "mean": 300, "dispersion": 0.05},
    "poisson": {"dist": "poisson", "mean": 3.5},
    "poisson large mean": {"dist": "poisson", "mean": 1e5},
    # The shape a = mean * concentration underflows to 0, which scipy rejects (NaN draws).
    "beta rejected by scipy": {"dist": "beta", "mean": 1e-300, "concentration": 1e-300},
}
TRUNCATED = {name for name, table in SCIPY_FAMILIES.items() if "low" in table or "high" in table}

# Strictly inside (0, 1), as ppf sees it after from_uniforms clips: the clip limits, the
# smallest doubles, values within an ulp or two of 1, and a fine grid between.
INTERIOR = np.unique(np.concatenate([
    [5e-324, 1e-300, _TINY, 1e-12, 1e-6, 0.5, 1 - 1e-12, np.nextafter(1.0, 0.0) - 2**-53, 1 - _TINY],
    np.linspace(0.0, 1.0, 2001)[1:-1],
]))
# What from_uniforms may be given: including 0, 1 and values it clips.
UNIFORMS = np.concatenate([[0.0, 1.0, -0.5, 1.5], INTERIOR])


def assert_same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal as float64 bit patterns: tells -0.0 from 0.0 and compares NaNs too."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    mismatched = np.flatnonzero(actual.view(np.int64) != expected.view(np.int64))
    assert mismatched.size == 0, f"first differences at q = {INTERIOR[mismatched[:5]]}"


# Boost warns that its root finding gives up at q = 5e-324 for some shapes; scipy's checked
# path returns the same number, which is all this compares.
@pytest.mark.filterwarnings("ignore:Error in function boost")
@pytest.mark.parametrize("name", SCIPY_FAMILIES)
def test_unchecked_ppf_and_isf_equal_scipys_checked_ones(name: str) -> None:
    distribution = as_distribution(SCIPY_FAMILIES[name])
    quantiles, frozen = _cached_quantiles(distribution), _cached_frozen(distribution)
    assert_same_bits(quantiles.ppf(INTERIOR), frozen.ppf(INTERIOR))
    if name in TRUNCATED:  # the only family whose sampling uses isf
        assert_same_bits(quantiles.isf(INTERIOR), frozen.isf(INTERIOR))


@pytest.mark.parametrize("name", sorted(set(SCIPY_FAMILIES) - TRUNCATED))
def test_from_uniforms_equals_scipys_checked_ppf_of_the_clipped_uniforms(name: str) -> None:
    distribution = as_distribution(SCIPY_FAMILIES[name])
    draws = distribution.from_uniforms(UNIFORMS[:, None])
    assert_same_bits(draws, _cached_frozen(distribution).ppf(np.clip(UNIFORMS, _TINY, 1 - _TINY)))


def test_van_der_waerden_scores_are_the_normal_quantiles_and_read_only() -> None:
    for n in (3, 7, 1000):
        scores = _van_der_waerden_scores(n)
        assert_same_bits(scores, stats.norm.ppf(np.arange(1, n + 1) / (n + 1)))
        with pytest.raises(ValueError):
            scores[0] = 0.0  # shared by every chunk of n draws


def test_quantities_are_cached_but_callers_get_their_own_copies() -> None:
    essex = simsib.load_scenario()
    first = all_quantities(essex)
    first.clear()
    per_draw_quantities(essex).clear()
    assert all_quantities(essex) == all_quantities(validate(essex.model_dump(by_alias=True)))
    assert per_draw_quantities(essex) == {k: d for k, d in all_quantities(essex).items() if not d.is_fixed}


def test_a_copy_with_a_changed_quantity_is_walked_afresh() -> None:
    essex = simsib.load_scenario()
    all_quantities(essex)
    effect = essex.effect.model_copy(update={"completion_rate": as_distribution(0.8)})
    fixed = essex.model_copy(update={"effect": effect})
    assert all_quantities(fixed)["effect.completion_rate"].is_fixed
    assert "effect.completion_rate" not in per_draw_quantities(fixed)
    assert "effect.completion_rate" in per_draw_quantities(essex)


def test_the_cache_forgets_a_scenario_when_it_dies() -> None:
    essex = simsib.load_scenario()
    all_quantities(essex)
    key = id(essex)
    assert key in scenario_module._WALKED
    del essex
    gc.collect()
    assert key not in scenario_module._WALKED
