"""Tests for simsib.scenario.distributions: inverse-CDF sampling, moments, support and validation."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from scipy import stats

from simsib.scenario.distributions import Beta, Distribution, Fixed, Probability, Quantity, as_distribution, within

Z95 = 1.6448536269514722
N_DRAWS = 20_000
U_GRID = np.linspace(0.0005, 0.9995, 401)

# (table, independent scipy equivalent) for every family scipy can check directly.
SCIPY_CASES: dict[str, tuple[dict[str, Any], Any]] = {
    "uniform": ({"dist": "uniform", "low": 0.1, "high": 0.3}, stats.uniform(0.1, 0.2)),
    "triangular": ({"dist": "triangular", "low": 1, "mode": 2, "high": 5}, stats.triang(0.25, loc=1, scale=4)),
    "normal": ({"dist": "normal", "mean": -0.22, "sd": 0.36}, stats.norm(-0.22, 0.36)),
    "normal truncated": (
        {"dist": "normal", "mean": 0.8, "sd": 0.3, "low": 0, "high": 1},
        stats.truncnorm(-0.8 / 0.3, 0.2 / 0.3, loc=0.8, scale=0.3),
    ),
    "normal lower bound only": (
        {"dist": "normal", "mean": 1, "sd": 2, "low": 0},
        stats.truncnorm(-0.5, np.inf, loc=1, scale=2),
    ),
    "lognormal mu": ({"dist": "lognormal", "mu": 3, "sigma": 0.6}, stats.lognorm(0.6, scale=math.exp(3))),
    "lognormal median": ({"dist": "lognormal", "median": 24, "sigma": 0.6}, stats.lognorm(0.6, scale=24)),
    "lognormal p05/p95": (
        {"dist": "lognormal", "p05": 10, "p95": 50},
        stats.lognorm(math.log(5) / (2 * Z95), scale=math.sqrt(500)),
    ),
    "beta": ({"dist": "beta", "a": 17, "b": 3, "source": "E31"}, stats.beta(17, 3)),
    "beta mean/concentration": ({"dist": "beta", "mean": 0.85, "concentration": 20}, stats.beta(17, 3)),
    "gamma": ({"dist": "gamma", "shape": 2, "scale": 3}, stats.gamma(2, scale=3)),
    "gamma mean/sd": ({"dist": "gamma", "mean": 6, "sd": 4}, stats.gamma(2.25, scale=16 / 6)),
    "weibull": ({"dist": "weibull", "shape": 1.5, "scale": 10}, stats.weibull_min(1.5, scale=10)),
    "negative_binomial": (
        {"dist": "negative_binomial", "mean": 4, "dispersion": 2},
        stats.nbinom(2, 2 / 6),
    ),
    "poisson": ({"dist": "poisson", "mean": 3.5}, stats.poisson(3.5)),
}
DISCRETE = {"negative_binomial", "poisson"}

OTHER_CASES: dict[str, Any] = {
    "fixed": 0.5,
    "fixed table": {"value": 0.5, "source": "judgement: typical of similar programmes"},
    "categorical": {"dist": "categorical", "values": [3, 1, 2], "weights": [0.2, 0.3, 0.5]},
    "mixture": {
        "dist": "mixture",
        "components": [{"dist": "normal", "mean": 0.223, "sd": 0.25}, 0, {"dist": "beta", "a": 2, "b": 5}],
        "weights": [0.4, 0.4, 0.2],
    },
    "nested mixture": {
        "dist": "mixture",
        "components": [
            {"dist": "poisson", "mean": 2},
            {"dist": "mixture", "components": [{"dist": "uniform", "low": 5, "high": 6}, 10], "weights": [0.7, 0.3]},
        ],
        "weights": [0.5, 0.5],
    },
}
ALL_CASES = {name: table for name, (table, _) in SCIPY_CASES.items()} | OTHER_CASES


class Plain(BaseModel):
    x: Quantity


class M(BaseModel):
    x: Annotated[Quantity, within(0, 1, "a probability")]


def error_list(table: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as raised:
        Plain.model_validate({"x": table})
    return raised.value.errors()


# --- sampling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCIPY_CASES)
def test_from_uniforms_matches_scipy_ppf(name: str) -> None:
    table, reference = SCIPY_CASES[name]
    draws = as_distribution(table).from_uniforms(U_GRID[:, None])
    assert draws.shape == U_GRID.shape and draws.dtype == np.float64
    if name in DISCRETE:
        np.testing.assert_array_equal(draws, reference.ppf(U_GRID))
    else:
        np.testing.assert_allclose(draws, reference.ppf(U_GRID), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", SCIPY_CASES)
def test_mean_and_support_match_scipy(name: str) -> None:
    table, reference = SCIPY_CASES[name]
    distribution = as_distribution(table)
    assert distribution.mean() == pytest.approx(reference.mean(), rel=1e-12)
    assert distribution.support() == pytest.approx(reference.support(), rel=1e-15)


@pytest.mark.parametrize("name", ALL_CASES)
def test_sample_mean_within_four_standard_errors(name: str) -> None:
    distribution = as_distribution(ALL_CASES[name])
    draws = distribution.sample(np.random.default_rng(20240611), N_DRAWS)
    standard_error = draws.std(ddof=1) / math.sqrt(N_DRAWS)
    assert abs(draws.mean() - distribution.mean()) <= 4 * standard_error


@pytest.mark.parametrize("name", ALL_CASES)
def test_draws_lie_in_support_even_at_extreme_uniforms(name: str) -> None:
    distribution = as_distribution(ALL_CASES[name])
    low, high = distribution.support()
    extremes = np.array([0.0, 1e-300, 0.5, 1 - 1e-17, 1.0])
    u = np.column_stack([extremes] * distribution.n_uniforms)
    draws = np.concatenate([distribution.sample(np.random.default_rng(7), 5_000), distribution.from_uniforms(u)])
    assert np.all(np.isfinite(draws))
    assert np.all((draws >= low) & (draws <= high))


@pytest.mark.parametrize("name", sorted(DISCRETE))
def test_count_families_return_whole_numbers(name: str) -> None:
    draws = as_distribution(SCIPY_CASES[name][0]).sample(np.random.default_rng(3), 1_000)
    assert draws.dtype == np.float64
    np.testing.assert_array_equal(draws, np.round(draws))


def test_same_generator_seed_gives_identical_draws() -> None:
    distribution = as_distribution(OTHER_CASES["nested mixture"])
    first = distribution.sample(np.random.default_rng(11), 1_000)
    second = distribution.sample(np.random.default_rng(11), 1_000)
    np.testing.assert_array_equal(first, second)


def test_from_uniforms_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 1\)"):
        as_distribution(0.5).from_uniforms(np.full(4, 0.5))


def test_fixed_consumes_one_column_and_repeats_its_value() -> None:
    fixed = as_distribution(2.5)
    assert fixed.is_fixed and fixed.n_uniforms == 1
    np.testing.assert_array_equal(fixed.from_uniforms(np.array([[0.1], [0.9]])), [2.5, 2.5])
    assert not as_distribution(SCIPY_CASES["beta"][0]).is_fixed


def test_categorical_inverse_cdf_is_sorted_by_value() -> None:
    categorical = as_distribution(OTHER_CASES["categorical"])  # 1: 0.3, 2: 0.5, 3: 0.2 once sorted
    u = np.array([0.1, 0.29, 0.31, 0.79, 0.81, 0.99])[:, None]
    np.testing.assert_array_equal(categorical.from_uniforms(u), [1, 1, 2, 2, 3, 3])
    assert categorical.mean() == pytest.approx(1.9)
    assert categorical.support() == (1, 3)


# --- alternative parameterisations ------------------------------------------------------------


@pytest.mark.parametrize("p05, p95", [(0.7, 0.95), (0.01, 0.2), (0.3, 0.35), (1e-4, 0.5), (0.9, 0.9999)])
def test_beta_quantile_form_hits_both_quantiles(p05: float, p95: float) -> None:
    beta = as_distribution({"dist": "beta", "p05": p05, "p95": p95})
    # The documented 1e-6 (Beta: "solved ... to within 1e-6"), taken relative to each quantile and
    # to its distance from 1, so it binds for quantiles near 0 (1e-4) and near 1 (0.9999) alike;
    # the fit (least squares on the logit scale, xtol 1e-15) lands within a few eps of both.
    target = np.array([p05, p95])
    for quantiles in (beta.from_uniforms(np.array([[0.05], [0.95]])), stats.beta(*beta.ab).ppf([0.05, 0.95])):
        np.testing.assert_allclose(quantiles, target, rtol=1e-6, atol=0)
        np.testing.assert_allclose(1 - quantiles, 1 - target, rtol=1e-6, atol=0)


@pytest.mark.parametrize("p05, p95", [(10, 50), (0.2, 0.21), (1e-3, 1e3)])
def test_lognormal_quantile_form_hits_both_quantiles(p05: float, p95: float) -> None:
    lognormal = as_distribution({"dist": "lognormal", "p05": p05, "p95": p95})
    np.testing.assert_allclose(lognormal.from_uniforms(np.array([[0.05], [0.95]])), [p05, p95], rtol=1e-12)


def test_beta_mean_concentration_equals_ab_form() -> None:
    by_mean = as_distribution({"dist": "beta", "mean": 0.85, "concentration": 20})
    by_ab = as_distribution({"dist": "beta", "a": 17, "b": 3})
    assert by_mean.ab == pytest.approx((17, 3), rel=1e-14)
    np.testing.assert_allclose(by_mean.from_uniforms(U_GRID[:, None]), by_ab.from_uniforms(U_GRID[:, None]), rtol=1e-12)


def test_lognormal_median_form_equals_mu_form() -> None:
    by_median = as_distribution({"dist": "lognormal", "median": 24, "sigma": 0.6})
    by_mu = as_distribution({"dist": "lognormal", "mu": math.log(24), "sigma": 0.6})
    np.testing.assert_allclose(by_median.from_uniforms(U_GRID[:, None]), by_mu.from_uniforms(U_GRID[:, None]), rtol=1e-14)


# --- mixtures ---------------------------------------------------------------------------------


def test_mixture_component_shares_within_four_standard_errors() -> None:
    weights = [0.2, 0.5, 0.3, 0.0]
    mixture = as_distribution({"dist": "mixture", "components": [0, 1, 2, 3], "weights": weights})
    draws = mixture.sample(np.random.default_rng(5), N_DRAWS)
    for value, weight in enumerate(weights):
        share = np.mean(draws == value)
        assert abs(share - weight) <= 4 * math.sqrt(weight * (1 - weight) / N_DRAWS)
    assert mixture.mean() == pytest.approx(0.5 + 0.6)


def test_mixture_column_zero_picks_component_and_rest_feed_it() -> None:
    mixture = as_distribution(
        {"dist": "mixture", "weights": [0.5, 0.5], "components": [
            {"dist": "uniform", "low": 0, "high": 1}, {"dist": "uniform", "low": 10, "high": 11}]}
    )
    assert mixture.n_uniforms == 2
    np.testing.assert_allclose(mixture.from_uniforms(np.array([[0.1, 0.3], [0.9, 0.3]])), [0.3, 10.3])


def test_mixture_never_draws_a_zero_weight_component() -> None:
    mixture = as_distribution({"dist": "mixture", "components": [7, 1, 8, 2], "weights": [0, 0.5, 0, 0.5]})
    draws = mixture.from_uniforms(np.array([[0.0, 0.5], [0.5, 0.5], [np.nextafter(1, 0), 0.5], [1.0, 0.5]]))
    np.testing.assert_array_equal(draws, [1, 2, 2, 2])


def test_nested_mixture_uses_one_column_per_level() -> None:
    nested = as_distribution(
        {"dist": "mixture", "weights": [0.5, 0.5], "components": [
            5, {"dist": "mixture", "weights": [0.5, 0.5], "components": [
                {"dist": "uniform", "low": 0, "high": 1}, {"dist": "uniform", "low": 2, "high": 3}]}]}
    )
    assert nested.n_uniforms == 3
    u = np.array([[0.2, 0.9, 0.9], [0.7, 0.2, 0.4], [0.7, 0.8, 0.4]])
    np.testing.assert_allclose(nested.from_uniforms(u), [5, 0.4, 2.4])
    assert nested.support() == (0, 5)
    assert nested.mean() == pytest.approx(0.5 * 5 + 0.25 * 0.5 + 0.25 * 2.5)


# --- validation -------------------------------------------------------------------------------

INVALID: dict[str, tuple[Any, tuple[str | int, ...]]] = {
    "sd zero": ({"dist": "normal", "mean": 0, "sd": 0}, ("x", "normal", "sd")),
    "sd negative": ({"dist": "normal", "mean": 0, "sd": -1}, ("x", "normal", "sd")),
    "lognormal p05 above p95": ({"dist": "lognormal", "p05": 50, "p95": 10}, ("x", "lognormal", "p95")),
    "beta p05 equal p95": ({"dist": "beta", "p05": 0.4, "p95": 0.4}, ("x", "beta", "p95")),
    "categorical weights sum": (
        {"dist": "categorical", "values": [1, 2], "weights": [0.5, 0.4]}, ("x", "categorical", "weights")),
    "categorical weights length": (
        {"dist": "categorical", "values": [1, 2, 3], "weights": [0.5, 0.5]}, ("x", "categorical", "weights")),
    "mixture weights sum": ({"dist": "mixture", "components": [1, 2], "weights": [0.6, 0.6]}, ("x", "mixture", "weights")),
    "mixture bad component": (
        {"dist": "mixture", "components": [1, {"dist": "poisson", "mean": -1}], "weights": [0.5, 0.5]},
        ("x", "mixture", "components", 1, "poisson", "mean")),
    "beta mean above 1": ({"dist": "beta", "mean": 1.2, "concentration": 5}, ("x", "beta", "mean")),
    "beta mean 0": ({"dist": "beta", "mean": 0, "concentration": 5}, ("x", "beta", "mean")),
    "nan parameter": ({"dist": "normal", "mean": math.nan, "sd": 1}, ("x", "normal", "mean")),
    "inf parameter": ({"dist": "normal", "mean": 0, "sd": math.inf}, ("x", "normal", "sd")),
    "nan plain number": (math.nan, ("x",)),
    "inf fixed value": ({"value": -math.inf}, ("x", "fixed", "value")),
    "bool parameter": ({"dist": "beta", "a": True, "b": 3}, ("x", "beta", "a")),
    "bool plain": (True, ("x",)),
    "string number": ({"dist": "poisson", "mean": "3"}, ("x", "poisson", "mean")),
    "unknown dist": ({"dist": "gaussian", "mean": 0, "sd": 1}, ("x",)),
    "no dist and no value": ({"mean": 0, "sd": 1}, ("x",)),
    "unknown key": ({"dist": "weibull", "shape": 2, "scale": 3, "loc": 1}, ("x", "weibull", "loc")),
    "unknown key on fixed": ({"value": 1, "sauce": "E1"}, ("x", "fixed", "sauce")),
    "lognormal incomplete": ({"dist": "lognormal", "median": 24}, ("x", "lognormal", "sigma")),
    "lognormal two forms": (
        {"dist": "lognormal", "median": 24, "sigma": 0.6, "p05": 10, "p95": 50}, ("x", "lognormal", "p05")),
    "lognormal mu and median": ({"dist": "lognormal", "mu": 3, "median": 24, "sigma": 0.6}, ("x", "lognormal", "median")),
    "beta incomplete": ({"dist": "beta", "a": 2}, ("x", "beta", "b")),
    "gamma two forms": ({"dist": "gamma", "shape": 2, "scale": 3, "mean": 6}, ("x", "gamma", "mean")),
    "bad source": ({"dist": "beta", "a": 2, "b": 3, "source": "Smith 2019"}, ("x", "beta", "source")),
    "uniform empty": ({"dist": "uniform", "low": 1, "high": 1}, ("x", "uniform", "high")),
    "triangular mode outside": ({"dist": "triangular", "low": 0, "mode": 2, "high": 1}, ("x", "triangular", "mode")),
    "normal truncation reversed": (
        {"dist": "normal", "mean": 0, "sd": 1, "low": 1, "high": 0}, ("x", "normal", "high")),
    "categorical empty": ({"dist": "categorical", "values": [], "weights": []}, ("x", "categorical", "values")),
}


def test_booleans_are_not_numbers() -> None:
    (error,) = error_list({"dist": "beta", "a": True, "b": 3})
    assert "not a boolean" in error["msg"]


@pytest.mark.parametrize("name", INVALID)
def test_invalid_input_is_reported_at_the_offending_key(name: str) -> None:
    table, location = INVALID[name]
    assert location in [error["loc"] for error in error_list(table)]


def test_unknown_dist_lists_the_valid_tags() -> None:
    (error,) = error_list({"dist": "gaussian", "mean": 0, "sd": 1})
    assert error["type"] == "union_tag_invalid"
    assert "'lognormal'" in error["msg"] and "'negative_binomial'" in error["msg"]


def test_lognormal_form_errors_name_the_forms() -> None:
    for table in [{"dist": "lognormal", "median": 24}, {"dist": "lognormal", "p95": 50}, {"dist": "lognormal"}]:
        (error,) = error_list(table)
        assert "(mu, sigma), (median, sigma) or (p05, p95)" in error["msg"]


def test_all_problems_in_a_table_are_reported_together() -> None:
    errors = error_list({"dist": "normal", "mean": math.nan, "sd": -1, "typo": 3})
    assert {error["loc"] for error in errors} == {("x", "normal", "mean"), ("x", "normal", "sd"), ("x", "normal", "typo")}


@pytest.mark.parametrize(
    "source", ["E26", "E20, E22", "E20,E22 pooled", "E31: table 2", "E5 (sensitivity)", "judgement: similar to Essex"]
)
def test_good_sources_are_accepted(source: str) -> None:
    assert as_distribution({"value": 1, "source": source}).source == source


@pytest.mark.parametrize("source", ["", "E26x", "e26", "expert opinion", "judgement:", "judgement", "E"])
def test_bad_sources_say_what_is_expected(source: str) -> None:
    (error,) = error_list({"value": 1, "source": source})
    assert error["loc"] == ("x", "fixed", "source") and "EVIDENCE id" in error["msg"]


# --- Quantity and within ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        (0.3, Fixed(dist="fixed", value=0.3)),
        (0, Fixed(dist="fixed", value=0.0)),
        ({"value": 0.3, "source": "E5"}, Fixed(dist="fixed", value=0.3, source="E5")),
        ({"dist": "beta", "a": 17, "b": 3, "source": "E31"}, Beta(dist="beta", a=17, b=3, source="E31")),
    ],
)
def test_quantity_accepts_numbers_value_tables_and_distributions(given: Any, expected: Any) -> None:
    assert M(x=given).x == expected
    assert M(x=expected).x == expected  # an existing distribution passes through


def test_within_rejects_unbounded_normal_for_a_probability() -> None:
    with pytest.raises(ValidationError) as raised:
        M(x={"dist": "normal", "mean": 0.5, "sd": 0.1})
    (error,) = raised.value.errors()
    assert error["loc"] == ("x",)
    assert "expected a probability in [0, 1]; this normal distribution ranges over (-inf, inf)" in error["msg"]


def test_within_accepts_truncated_normal_and_beta() -> None:
    assert M(x={"dist": "normal", "mean": 0.5, "sd": 0.1, "low": 0, "high": 1}).x.support() == (0, 1)
    assert M(x={"dist": "beta", "mean": 0.3, "concentration": 10}).x.mean() == pytest.approx(0.3)


def test_within_checks_fixed_values_and_mixture_hull() -> None:
    with pytest.raises(ValidationError, match=r"expected a probability in \[0, 1\]; got 1.5"):
        M(x=1.5)
    with pytest.raises(ValidationError, match=r"ranges over \[0.5, 2\]"):
        M(x={"dist": "mixture", "components": [0.5, {"dist": "uniform", "low": 1, "high": 2}], "weights": [0.5, 0.5]})


def test_probability_alias_and_plain_distribution_field() -> None:
    class Inputs(BaseModel):
        p: Probability
        d: Distribution

    inputs = Inputs(p=0.4, d={"dist": "poisson", "mean": 2})
    assert inputs.p.mean() == 0.4 and inputs.d.describe() == "Poisson(2)"


def test_distributions_are_frozen_and_hashable() -> None:
    beta = as_distribution({"dist": "beta", "a": 17, "b": 3})
    with pytest.raises(ValidationError):
        beta.a = 2
    mixture = as_distribution(OTHER_CASES["mixture"])
    assert hash(mixture) == hash(as_distribution(OTHER_CASES["mixture"]))


@pytest.mark.parametrize(
    "given, text",
    [
        ({"dist": "beta", "a": 17, "b": 3}, "Beta(17, 3)"),
        ({"dist": "normal", "mean": -0.22, "sd": 0.36}, "Normal(-0.22, 0.36)"),
        ({"dist": "lognormal", "median": 24, "sigma": 0.6}, "LogNormal(median 24, σ 0.6)"),
        (0.5, "Fixed 0.5"),
        (2_500_000, "Fixed 2,500,000"),
        (OTHER_CASES["mixture"], "Mixture[0.4 Normal(0.223, 0.25); 0.4 Fixed 0; 0.2 Beta(2, 5)]"),
        ({"dist": "normal", "mean": 0.5, "sd": 0.1, "low": 0}, "Normal(0.5, 0.1) truncated to [0, inf)"),
    ],
)
def test_describe(given: Any, text: str) -> None:
    assert as_distribution(given).describe() == text


# --- properties -------------------------------------------------------------------------------

positive = st.floats(min_value=0.05, max_value=200, allow_nan=False)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
uniforms = st.lists(st.floats(min_value=0, max_value=1), min_size=2, max_size=50)

families = st.one_of(
    st.builds(lambda a, b: {"dist": "beta", "a": a, "b": b}, positive, positive),
    st.builds(lambda m, s: {"dist": "normal", "mean": m, "sd": s}, finite, st.floats(min_value=1e-3, max_value=1e3)),
    st.builds(lambda m, s, lo, w: {"dist": "normal", "mean": m, "sd": s, "low": m + lo * s, "high": m + (lo + w) * s},
              finite, st.floats(min_value=1e-3, max_value=1e3), st.floats(min_value=-5, max_value=5),
              st.floats(min_value=0.01, max_value=10)),
    st.builds(lambda lo, w: {"dist": "uniform", "low": lo, "high": lo + w}, finite, st.floats(min_value=1e-3, max_value=1e3)),
)


@settings(max_examples=150, deadline=None)
@given(table=families, u=uniforms)
def test_from_uniforms_is_monotone_in_u(table: dict[str, Any], u: list[float]) -> None:
    draws = as_distribution(table).from_uniforms(np.sort(np.array(u + [0.0, 1.0]))[:, None])
    assert np.all(np.diff(draws) >= 0)


def test_truncated_normal_stays_finite_and_inside_its_bounds_at_the_extremes():
    # Found by hypothesis: scipy's truncnorm.ppf overflowed to inf at u = 1 - 2**-53.
    dist = as_distribution({"dist": "normal", "mean": 0.0, "sd": 1.0, "low": -0.0625, "high": 8.9375})
    draws = dist.from_uniforms(np.array([[0.0], [0.5], [1.0 - 1e-15], [1.0]]))
    assert np.all(np.isfinite(draws))
    assert np.all((draws >= -0.0625) & (draws <= 8.9375))
    assert np.all(np.diff(draws) >= 0)
