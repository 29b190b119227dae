"""Per-draw inputs: the systematic uncertainty, drawn once per Monte Carlo draw.

Every quantity of the scenario (see :func:`simsib.scenario.format.all_quantities`) becomes an array of
shape ``(n_draws,)``; fixed values become constant arrays, so later stages never branch on
"is this uncertain?".  Each input is drawn by inverse CDF from uniforms: independent ones from
its own named stream (``simulation.sampling = "random"``), or its coordinates of the chunk's
randomised quasi-Monte Carlo points (``"sobol"``, ``"lhs"``; :mod:`simsib.model.qmc`).  Declared
rank correlations are then imposed, under random sampling by the Iman-Conover method, which only
*reorders* the sampled values within a chunk (every marginal distribution is left exactly as
drawn); under QMC sampling by the Gaussian copula that Iman-Conover approaches on large chunks,
draw by draw (:mod:`simsib.model.copula`), so that the replicates stay independent.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special

from simsib.model.copula import gaussian_copula, normal_score_correlation
from simsib.model.qmc import Uniforms, input_uniforms
from simsib.model.streams import input_stream, stream
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario, all_quantities, per_draw_quantities

DrawInputs = dict[str, np.ndarray]


def sample_inputs(scenario: Scenario, chunk: np.random.SeedSequence, n_draws: int) -> DrawInputs:
    """Draw every per-draw input for one chunk.

    Returns
    -------
    dict of str -> ndarray, shape (n_draws,)
        Keyed by dotted scenario key, e.g. ``"effect.log_hazard_ratio"``.
    """
    uniforms = input_uniforms(scenario, chunk, n_draws)
    quantities = all_quantities(scenario)
    correlated: dict[str, np.ndarray] = {}
    if active_correlations(scenario) and n_draws > 2:
        keys, target = correlation_matrix(scenario)
        if uniforms is None:
            samples = iman_conover(np.column_stack([draw_input(k, quantities[k], chunk, n_draws, None) for k in keys]),
                                   target, stream(chunk, "correlation"))
            correlated = {key: samples[:, j] for j, key in enumerate(keys)}
        else:
            # QMC sampling: the Gaussian copula draw by draw (simsib.model.copula), never a
            # reordering across draws, so the replicates stay independent.  The correlated
            # inputs' own quantiles are never computed (a beta's is about 0.4 ms a chunk).
            drawn = gaussian_copula([quantities[k] for k in keys], [uniforms[k][:, 0] for k in keys], target)
            correlated = dict(zip(keys, drawn))
    # In the scenario's order, whichever inputs were correlated.
    return {key: correlated[key] if key in correlated else draw_input(key, dist, chunk, n_draws, uniforms)
            for key, dist in quantities.items()}


def draw_input(key: str, dist, chunk: np.random.SeedSequence, n_draws: int, uniforms: Uniforms | None) -> np.ndarray:
    """One input's draws for a chunk, shape (n_draws,): constant if fixed, else by inverse CDF of
    its QMC uniforms (``uniforms``) or of its own stream's random numbers (``uniforms`` None)."""
    if dist.is_fixed:
        return np.full(n_draws, float(dist.value))
    if uniforms is None:
        return dist.sample(input_stream(chunk, key), n_draws)
    return dist.from_uniforms(uniforms[key])


def active_correlations(scenario: Scenario) -> list:
    """Declared correlations between two uncertain inputs (one naming a fixed input is inactive)."""
    uncertain = per_draw_quantities(scenario)
    return [c for c in scenario.correlations if all(k in uncertain for k in c.between)]


def correlation_matrix(scenario: Scenario) -> tuple[list[str], np.ndarray]:
    """The inputs named in ``[[correlations]]`` and their target rank-correlation matrix."""
    keys: list[str] = []
    for corr in active_correlations(scenario):
        for key in corr.between:
            if key not in keys:
                keys.append(key)
    target = np.eye(len(keys))
    for corr in active_correlations(scenario):
        i, j = keys.index(corr.between[0]), keys.index(corr.between[1])
        target[i, j] = target[j, i] = corr.rank
    # Both the declared rank correlations and the normal-score correlations that realise them
    # must be a valid correlation matrix.
    if min(np.linalg.eigvalsh(target).min(), np.linalg.eigvalsh(normal_score_correlation(target)).min()) <= 1e-10:
        raise ScenarioError.single(
            "correlations", "the declared rank correlations are not jointly possible "
            "(their matrix is not positive definite)", value=[c.between for c in scenario.correlations],
        )
    return keys, target


def iman_conover(samples: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reorder each column of ``samples`` so their rank (Spearman) correlation approaches ``target``.

    Iman & Conover (1982): build van der Waerden scores whose Pearson correlation is
    :func:`normal_score_correlation` of the target, then give each sample column the ranks of
    its score column.  Columns are permuted, never changed.

    Parameters
    ----------
    samples : ndarray, shape (n, k)
    target : ndarray, shape (k, k), positive definite rank-correlation matrix
    """
    n, k = samples.shape
    base = _van_der_waerden_scores(n)
    scores = np.column_stack([rng.permutation(base) for _ in range(k)])
    # Remove the scores' chance correlation, then impose the target (Cholesky both ways).  In a
    # very small chunk (a short last chunk of 3-5 draws) two random permutations can be exactly
    # collinear; their chance correlation cannot then be removed, only the target imposed.
    try:
        chance = np.linalg.cholesky(np.corrcoef(scores, rowvar=False))
    except np.linalg.LinAlgError:
        chance = np.eye(k)
    wanted = np.linalg.cholesky(normal_score_correlation(target))
    scores = scores @ np.linalg.inv(chance).T @ wanted.T
    out = np.empty_like(samples)
    for j in range(k):
        # The draw with the r-th smallest score gets the r-th smallest sample.
        out[np.argsort(scores[:, j]), j] = np.sort(samples[:, j])
    return out


@functools.lru_cache(maxsize=8)
def _van_der_waerden_scores(n: int) -> np.ndarray:
    """Normal quantiles at i / (n + 1), i = 1..n; the same for every chunk of n draws.

    Read-only, as it is shared between chunks.
    """
    scores = special.ndtri(np.arange(1, n + 1) / (n + 1))  # normal quantiles, as stats.norm.ppf
    scores.flags.writeable = False
    return scores
