"""Randomised quasi-Monte Carlo inputs (simsib.model.qmc, simsib.model.sobol): scipy's Sobol points,
stratified marginals, declared rank correlations, common random numbers, and standard errors from
replicates that agree with the spread of independent runs.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.stats import qmc as scipy_qmc

import simsib
from simsib.analysis.estimates import METRICS, estimate, paired_difference
from simsib.model import sobol
from simsib.model.inputs import sample_inputs
from simsib.model.qmc import dimension_registry, input_uniforms, replicate_ids
from simsib.model.streams import chunk_seed
from simsib.run.summary import replicate_se
from simsib.scenario.format import all_quantities
from simsib.scenario.loader import load_scenario

RAMP, COMPLETION = "referrals.ramp_months", "effect.completion_rate"


def scenario(sampling: str, *overrides: str):
    return load_scenario(None, [f'simulation.sampling="{sampling}"', *overrides])


@pytest.mark.parametrize("dims, seed, start, n", [(2, 1, 0, 8), (41, 3, 5, 100), (180, 7, 99_000, 1000),
                                                   (180, 9, (1 << 20) + 3, 257)])
def test_sobol_points_are_scipys_bit_for_bit(dims, seed, start, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scipy's "n is not a power of 2"
        engine = scipy_qmc.Sobol(d=dims, scramble=True, seed=np.random.default_rng(seed))
        if start:
            engine.fast_forward(start)
        expected = engine.random(n)
    directions, shift = sobol.scrambled(dims, np.random.default_rng(seed))
    assert np.array_equal(sobol.points(directions, shift, start, n), expected)
    used = tuple(range(0, dims, 3))  # only some dimensions computed: the same points in those
    directions, shift = sobol.scrambled(dims, np.random.default_rng(seed), used)
    assert np.array_equal(sobol.points(directions, shift, start, n), expected[:, list(used)])


def test_a_run_does_not_import_scipy_stats():
    """scipy.stats takes 0.3 s to import; the Sobol points are computed without it."""
    code = ("import sys; import simsib; "
            "simsib.simulate(simsib.load_scenario(), draws=300, seed=1); "
            "print('scipy.stats' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("sampling", ["sobol", "lhs"])
def test_every_replicate_block_is_stratified(sampling):
    """Each replicate's block of a chunk has one point in each of its equal strata, in every
    dimension: a Latin hypercube by construction, and a block of 2^k Sobol points starting at a
    multiple of 2^k by the net property of the sequence."""
    sc = scenario(sampling, "simulation.chunk_size=1024", "simulation.replicates=8")
    for index in (0, 3):
        uniforms = input_uniforms(sc, chunk_seed(11, index), 1024)
        groups = replicate_ids(sc, 1024)
        for key, u in uniforms.items():
            for r in range(8):
                block = u[groups == r]
                for column in block.T:
                    strata = np.floor(column * block.shape[0]).astype(int)
                    assert np.array_equal(np.sort(strata), np.arange(block.shape[0])), (key, r)


@pytest.mark.parametrize("sampling", ["sobol", "lhs"])
def test_inputs_are_the_declared_marginals_of_the_points(sampling):
    """An uncorrelated input is its distribution's inverse CDF of its points, exactly; a correlated
    one is the Gaussian copula's (simsib.model.copula), whose marginal is the declared
    distribution: a Kolmogorov-Smirnov test against the distribution's own draws."""
    sc = scenario(sampling)
    correlated = {key for c in sc.correlations for key in c.between}
    pooled = {key: [] for key in correlated}
    for index in range(20):
        chunk = chunk_seed(5, index)
        uniforms = input_uniforms(sc, chunk, 1000)
        inputs = sample_inputs(sc, chunk, 1000)
        for key, dist in all_quantities(sc).items():
            if dist.is_fixed:
                assert (inputs[key] == dist.value).all()
            elif key in correlated:
                pooled[key].append(inputs[key])
            else:
                np.testing.assert_array_equal(inputs[key], dist.from_uniforms(uniforms[key]))
    rng = np.random.default_rng(3)
    for key, parts in pooled.items():
        reference = all_quantities(sc)[key].sample(rng, 200_000)
        assert stats.ks_2samp(np.concatenate(parts), reference).pvalue > 1e-3, key


def test_a_mixtures_quantile_function_inverts_its_distribution_function():
    from simsib.model.copula import mixture_quantile

    sc = simsib.load_scenario()
    u = np.linspace(1e-6, 1 - 1e-6, 10_001)
    for key in ("population.p30_entry", "effect.log_hazard_ratio"):
        mixture = all_quantities(sc)[key]
        x = mixture_quantile(mixture, u)
        assert np.all(np.diff(x) >= 0)
        cdf = sum(w * c._frozen().cdf(x) for w, c in zip(mixture.weights, mixture.components))
        assert np.max(np.abs(cdf - u)) < 1e-5, key  # (measured: 1.2e-6 at most)


@pytest.mark.parametrize("sampling", ["sobol", "lhs"])
def test_declared_rank_correlation_is_achieved(sampling):
    """The Gaussian copula on the QMC points: the average over chunks is within 4 standard errors
    of the target, as Iman-Conover's under random sampling (tests/test_sampling.py)."""
    sc = scenario(sampling)
    achieved = [stats.spearmanr(*[sample_inputs(sc, chunk_seed(21, i), 1000)[k] for k in (RAMP, COMPLETION)])[0]
                for i in range(30)]
    se = np.std(achieved, ddof=1) / np.sqrt(len(achieved))
    assert abs(np.mean(achieved) + 0.3) < 4 * se, (np.mean(achieved), se)


@pytest.mark.parametrize("override", [
    "contract.cap=9e6",  # a value changed
    "contract.cap={dist=\"uniform\", low=6e6, high=8e6}",  # a fixed input made uncertain
    'care.residential_share={dist="beta", a=5, b=5}',  # a distribution changed
])
def test_variants_share_every_other_inputs_points(override):
    base, variant = scenario("sobol"), load_scenario(None, [override])
    key = override.split("=")[0]
    chunk = chunk_seed(8, 4)
    before, after = sample_inputs(base, chunk, 600), sample_inputs(variant, chunk, 600)
    for other in before:
        if other != key:
            np.testing.assert_array_equal(before[other], after[other], err_msg=other)


def test_a_variant_without_a_cap_keeps_every_inputs_dimension():
    """The dimensions come from the format, not from the keys a scenario happens to set."""
    capped = simsib.load_scenario()
    uncapped = capped.model_copy(update={"contract": capped.contract.model_copy(update={"cap": None})})
    assert "contract.cap" in all_quantities(capped) and "contract.cap" not in all_quantities(uncapped)
    chunk = chunk_seed(3, 1)
    a, b = input_uniforms(capped, chunk, 300), input_uniforms(uncapped, chunk, 300)
    for key in b:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert set(all_quantities(capped)) <= set(dimension_registry())


def test_replicate_standard_error_by_hand():
    # Equal replicates: sd of the replicate means / sqrt(R).
    values = np.array([1.0, 3.0, 2.0, 6.0, 4.0, 8.0])
    groups = np.array([0, 0, 1, 1, 2, 2])
    means = np.array([2.0, 4.0, 6.0])
    assert replicate_se(values, groups) == pytest.approx(means.std(ddof=1) / np.sqrt(3), rel=1e-15)
    # Unequal replicates (NaN left out): weights 1/4, 1/2, 1/4 on means 1, 3, 9; mean 4;
    # se² = 3/2 * ((1/4·3)² + (1/2·1)² + (1/4·5)²) = 3/2 * (9/16 + 4/16 + 25/16).
    values = np.array([1.0, np.nan, 2.0, 4.0, 9.0])
    groups = np.array([0, 0, 1, 1, 2])
    assert replicate_se(values, groups) == pytest.approx(np.sqrt(1.5 * 38 / 16), rel=1e-15)
    assert replicate_se(np.array([1.0, 2.0]), np.array([0, 0])) is None


def test_analysis_errors_come_from_replicates():
    run = simsib.simulate(simsib.load_scenario(), draws=400, seed=2).draws
    columns = {c: run[c].to_numpy() for c in run}
    groups = columns["replicate"]
    replicates = simsib.load_scenario().simulation.replicates
    assert np.array_equal(groups, np.repeat(np.arange(replicates), 400 // replicates))
    value, se = estimate(METRICS["outcome_payments"], columns)
    assert se == pytest.approx(replicate_se(columns["outcome_payments"], groups), rel=1e-12)
    other = {**columns, "moic_committed": columns["moic_committed"] * 1.1}
    change, change_se = paired_difference(METRICS["moic_committed"], columns, other)
    assert change_se == pytest.approx(replicate_se(0.1 * columns["moic_committed"], groups), rel=1e-9)


@pytest.mark.slow
def test_replicate_errors_agree_with_the_spread_of_independent_runs():
    """Over 30 independent Sobol runs, the standard errors the runs report match the spread of
    their estimates: the ratio is within [0.6, 1.6] (with 30 runs the sample sd alone is uncertain
    by about ±13%; the mean reported SE by about ±3%).  (Measured over 100 runs of 4,000 draws:
    0.94, 0.94 and 0.96 for the three figures.)"""
    sc = simsib.load_scenario()
    figures = (("investor", "moic_committed"), ("investor", "prob_loss"), ("council", "outcome_payments"))
    values = {f: [] for f in figures}
    reported = {f: [] for f in figures}
    for seed in range(1, 31):
        summary = simsib.simulate(sc, draws=2000, seed=seed).summary_dict
        assert summary["standard_errors"]["method"] == "replicates"
        for section, key in figures:
            stats_ = summary[section][key]
            values[(section, key)].append(stats_.get("value", stats_.get("mean")))
            reported[(section, key)].append(stats_["se"])
    for figure in figures:
        ratio = np.sqrt(np.mean(np.square(reported[figure]))) / np.std(values[figure], ddof=1)
        assert 0.6 <= ratio <= 1.6, (figure, ratio)


@pytest.mark.parametrize("sampling", ["sobol", "lhs"])
def test_declared_rank_correlation_is_achieved_within_each_replicate(sampling):
    """The Gaussian copula works draw by draw, so each replicate's block has the declared rank
    correlation too (a 50-draw sample's Spearman ρ is biased towards 0 by about 3/n of ρ: within
    the tolerance)."""
    sc = scenario(sampling)
    achieved = []
    for i in range(20):
        inputs = sample_inputs(sc, chunk_seed(22, i), 1000)
        groups = replicate_ids(sc, 1000)
        for r in np.unique(groups):
            rows = groups == r
            achieved.append(stats.spearmanr(inputs[RAMP][rows], inputs[COMPLETION][rows])[0])
    se = np.std(achieved, ddof=1) / np.sqrt(len(achieved))
    assert abs(np.mean(achieved) + 0.3) < 4 * se, (np.mean(achieved), se)
