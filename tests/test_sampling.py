"""Tests for simsib.model.inputs and simsib.model.streams: per-draw inputs, rank correlations, seeds.

Achieved rank correlations are averaged over independent chunks and compared with the target
within 4 standard errors of that average (the SE estimated from the chunk-to-chunk spread).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import simsib
from simsib.model.inputs import correlation_matrix, iman_conover, normal_score_correlation, sample_inputs
from simsib.model.streams import STREAM_NAMES, chunk_seed, input_stream, stream
from simsib.run.pipeline import run_chunk
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Correlation, per_draw_quantities
from simsib.scenario.loader import load_scenario

N_SE = 4.0
# Random sampling: these are the properties of Iman-Conover on a chunk of independent draws (under
# QMC sampling it works within each replicate's block: tests/test_qmc.py).
ESSEX = simsib.load_scenario(None, ['simulation.sampling="random"'])
RAMP, COMPLETION = "referrals.ramp_months", "effect.completion_rate"


def correlations(*pairs: tuple[str, str, float]) -> str:
    """A ``--set`` override replacing the scenario's ``[[correlations]]``."""
    tables = ", ".join(f'{{between = ["{a}", "{b}"], rank = {r}}}' for a, b, r in pairs)
    return f"correlations=[{tables}]"


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(stats.spearmanr(x, y)[0])


def assert_mean_close(values: list[float], target: float, what: str) -> None:
    values = np.asarray(values)
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert abs(values.mean() - target) < N_SE * se, f"{what}: {values.mean():.4f} vs {target} (SE {se:.4f})"


# --- rank correlations ------------------------------------------------------------------------


def test_essex_rank_correlation_is_achieved():
    # Before the arcsine adjustment (normal_score_correlation) this averaged -0.286: ~15 SE off.
    achieved = []
    for i in range(40):
        inputs = sample_inputs(ESSEX, chunk_seed(21, i), 1000)
        achieved.append(spearman(inputs[RAMP], inputs[COMPLETION]))
    assert_mean_close(achieved, -0.3, "Spearman(ramp months, completion rate)")


def test_iman_conover_three_inputs():
    target = np.array([[1.0, 0.7, -0.4], [0.7, 1.0, 0.0], [-0.4, 0.0, 1.0]])
    rng = np.random.default_rng(4)
    achieved = []
    for _ in range(100):
        samples = np.column_stack([rng.lognormal(0, 1, 500), rng.beta(2, 5, 500), rng.integers(0, 1000, 500)])
        out = iman_conover(samples, target, rng)
        np.testing.assert_array_equal(np.sort(out, axis=0), np.sort(samples, axis=0))  # only permuted
        achieved.append(stats.spearmanr(out).statistic)
    achieved = np.array(achieved)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert_mean_close(list(achieved[:, i, j]), target[i, j], f"Spearman[{i},{j}]")


def test_normal_score_correlation_inverts_the_spearman_formula():
    rho = np.array([-0.9, -0.3, 0.0, 0.5, 1.0])
    r = normal_score_correlation(rho)
    np.testing.assert_allclose(6 / np.pi * np.arcsin(r / 2), rho, atol=1e-12)


def test_declared_correlation_between_other_inputs():
    sc = load_scenario(None, [correlations(("population.p30_entry", "effect.log_hazard_ratio", 0.5)),
                              'simulation.sampling="random"'])
    achieved = []
    for i in range(30):
        inputs = sample_inputs(sc, chunk_seed(8, i), 1000)
        achieved.append(spearman(inputs["population.p30_entry"], inputs["effect.log_hazard_ratio"]))
    assert_mean_close(achieved, 0.5, "Spearman(p30, log HR)")


def test_correlations_leave_marginals_unchanged():
    chunk = chunk_seed(3, 0)
    pairs = [(RAMP, COMPLETION, -0.6), ("population.p30_entry", "effect.log_hazard_ratio", 0.4)]
    correlated = sample_inputs(load_scenario(None, [correlations(*pairs), 'simulation.sampling="random"']), chunk, 1000)
    independent = sample_inputs(load_scenario(None, ["correlations=[]", 'simulation.sampling="random"']), chunk, 1000)
    named = {k for a, b, _ in pairs for k in (a, b)}
    for key in independent:
        if key in named:
            assert not np.array_equal(correlated[key], independent[key])  # reordered ...
            np.testing.assert_array_equal(np.sort(correlated[key]), np.sort(independent[key]))  # ... only
        else:
            np.testing.assert_array_equal(correlated[key], independent[key])


def test_impossible_correlations_are_an_error():
    pairs = [(RAMP, COMPLETION, 0.9), (RAMP, "population.p30_entry", 0.9), (COMPLETION, "population.p30_entry", -0.9)]
    # Caught when the scenario is loaded, or at the latest when the matrix is built.
    with pytest.raises(ScenarioError, match="not positive definite"):
        correlation_matrix(load_scenario(None, [correlations(*pairs)]))
    # The sampling stage's own guard, for a scenario that skipped validation.
    unchecked = ESSEX.model_copy(update={"correlations": [Correlation(between=[a, b], rank=r) for a, b, r in pairs]})
    with pytest.raises(ScenarioError, match="not positive definite"):
        sample_inputs(unchecked, chunk_seed(0, 0), 100)


@pytest.mark.parametrize("n_draws", [3, 4, 5])
def test_short_last_chunks_sample(n_draws):
    # Two random permutations of 3-5 scores can be exactly collinear; that used to raise
    # LinAlgError in one chunk of 3 draws in three.
    target = np.array([[1.0, -0.3], [-0.3, 1.0]])
    rng = np.random.default_rng(n_draws)
    for _ in range(300):
        samples = rng.random((n_draws, 2))
        out = iman_conover(samples, target, rng)
        np.testing.assert_array_equal(np.sort(out, axis=0), np.sort(samples, axis=0))
    for i in range(10):
        inputs = sample_inputs(ESSEX, chunk_seed(2, i), n_draws)
        assert all(v.shape == (n_draws,) for v in inputs.values())


# --- streams and reproducibility --------------------------------------------------------------


def test_chunk_seed_is_the_spawned_child():
    children = np.random.SeedSequence(1234).spawn(4)
    for i, child in enumerate(children):
        np.testing.assert_array_equal(chunk_seed(1234, i).generate_state(4), child.generate_state(4))


def test_named_streams_are_distinct_and_stable():
    chunk = chunk_seed(9, 2)
    first = {name: stream(chunk, name).random(4) for name in STREAM_NAMES}
    assert len({tuple(v) for v in first.values()}) == len(STREAM_NAMES)
    for name in STREAM_NAMES:
        np.testing.assert_array_equal(stream(chunk_seed(9, 2), name).random(4), first[name])
    assert not np.array_equal(input_stream(chunk, "a.b").random(4), input_stream(chunk, "a.c").random(4))
    with pytest.raises(ValueError):
        stream(chunk, "no-such-stream")


def test_same_entropy_and_chunk_give_identical_inputs_and_results():
    a = run_chunk(ESSEX, 77, 3, 40)
    b = run_chunk(ESSEX, 77, 3, 40)
    assert a.draws.keys() == b.draws.keys()
    for key in a.draws:
        np.testing.assert_array_equal(a.draws[key], b.draws[key])
    for key in a.quarterly:
        np.testing.assert_array_equal(a.quarterly[key], b.quarterly[key])


def test_different_chunk_or_entropy_gives_different_draws():
    base = sample_inputs(ESSEX, chunk_seed(77, 3), 200)
    for other in (chunk_seed(77, 4), chunk_seed(78, 3)):
        inputs = sample_inputs(ESSEX, other, 200)
        for key in per_draw_quantities(ESSEX):
            assert not np.array_equal(base[key], inputs[key]), key
    a, b = run_chunk(ESSEX, 77, 3, 40), run_chunk(ESSEX, 77, 4, 40)
    assert not np.array_equal(a.draws["care_days_treated"], b.draws["care_days_treated"])


@pytest.mark.parametrize(
    "override",
    [
        'care.residential_share={dist="beta", a=5, b=5}',  # uncorrelated input
        'effect.completion_rate={dist="uniform", low=0.5, high=1}',  # one of a correlated pair
        "population.weibull_shape=0.9",  # made fixed
    ],
)
def test_changing_one_input_leaves_the_others_draws_identical(override):
    chunk = chunk_seed(5, 1)
    base = sample_inputs(ESSEX, chunk, 500)
    key = override.split("=")[0]
    changed = sample_inputs(load_scenario(None, [override, 'simulation.sampling="random"']), chunk, 500)
    assert not np.array_equal(base[key], changed[key])
    for other in base:
        if other != key:
            # Iman-Conover gives each correlated input the ranks of its own score column, so
            # even the partner of a changed correlated input keeps its values.
            np.testing.assert_array_equal(base[other], changed[other], err_msg=other)
