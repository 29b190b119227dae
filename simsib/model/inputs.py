"""Per-draw inputs: the systematic uncertainty, drawn once per Monte Carlo draw.

Every quantity of the scenario (see :func:`simsib.scenario.format.all_quantities`) becomes an array of
shape ``(n_draws,)``; fixed values become constant arrays, so later stages never branch on
"is this uncertain?".  Each input is drawn by inverse CDF from uniforms: independent ones from
its own named stream (``simulation.sampling = "random"``), or its coordinates of the chunk's
randomised quasi-Monte Carlo points (``"sobol"``, ``"lhs"``; :mod:`simsib.model.qmc`).  Declared
rank correlations are then imposed by the Iman-Conover method, which only *reorders* the
sampled values within a chunk: every marginal distribution is left exactly as drawn -- under
QMC too, so each input keeps its evenly spread values; what the reordering replaces is the
QMC pairing of the correlated inputs with the others, by the pairing that gives the declared
rank correlations (as @RISK does with Latin hypercubes).  Under QMC sampling the reordering is
done within each replicate's block of the chunk, so the replicates stay independent.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special

from simsib.model.qmc import Uniforms, input_uniforms, replicate_sizes
from simsib.model.streams import input_stream, stream
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario, all_quantities, per_draw_quantities

DrawInputs = dict[str, np.ndarray]
REFINE = 3  # Iman-Conover correction rounds for QMC replicate blocks (small: 50 draws by default)


def sample_inputs(scenario: Scenario, chunk: np.random.SeedSequence, n_draws: int) -> DrawInputs:
    """Draw every per-draw input for one chunk.

    Returns
    -------
    dict of str -> ndarray, shape (n_draws,)
        Keyed by dotted scenario key, e.g. ``"effect.log_hazard_ratio"``.
    """
    uniforms = input_uniforms(scenario, chunk, n_draws)
    inputs = {key: draw_input(key, dist, chunk, n_draws, uniforms) for key, dist in all_quantities(scenario).items()}
    if active_correlations(scenario) and n_draws > 2:
        keys, target = correlation_matrix(scenario)
        samples = np.column_stack([inputs[k] for k in keys])
        if uniforms is None:
            samples = iman_conover(samples, target, stream(chunk, "correlation"))
        else:
            # Under QMC sampling each replicate's block is reordered on its own: reordering across
            # blocks would swap values between replicates, which must stay independent for their
            # spread to be the standard error (simsib.model.qmc).  Each block's scores come from
            # its own stream, so a variant with fewer correlated inputs reorders the others alike.
            start = 0
            for r, size in enumerate(replicate_sizes(scenario, n_draws)):
                rows = slice(start, start + int(size))
                if size > 2:
                    samples[rows] = iman_conover(samples[rows], target, stream(chunk, "correlation", r), refine=REFINE)
                start += int(size)
        for j, key in enumerate(keys):
            inputs[key] = samples[:, j]
    return inputs


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


def normal_score_correlation(rank_correlation: np.ndarray) -> np.ndarray:
    """Pearson correlation of normal scores whose Spearman correlation is ``rank_correlation``.

    For a bivariate normal with correlation r, Spearman's rho is (6/π)·arcsin(r/2); inverting,
    r = 2·sin(π·rho/6).  Without this step a target rank correlation of -0.3 came out as -0.286.
    The diagonal stays 1.
    """
    return 2.0 * np.sin(np.pi * np.asarray(rank_correlation, dtype=float) / 6.0)


def iman_conover(samples: np.ndarray, target: np.ndarray, rng: np.random.Generator, refine: int = 0) -> np.ndarray:
    """Reorder each column of ``samples`` so their rank (Spearman) correlation approaches ``target``.

    Iman & Conover (1982): build van der Waerden scores whose Pearson correlation is
    :func:`normal_score_correlation` of the target, then give each sample column the ranks of
    its score column.  Columns are permuted, never changed.  In a small sample the ranks'
    correlation falls short of the target (by about 4% with 50 draws, 0.5% with 1,000);
    ``refine`` more rounds correct the scores' correlation by what the previous round missed, on
    the same random scores (so no random number more is drawn).

    Parameters
    ----------
    samples : ndarray, shape (n, k)
    target : ndarray, shape (k, k), positive definite rank-correlation matrix
    refine : rounds of correction after the first (0: Iman & Conover's method as published)
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
    decorrelated = scores @ np.linalg.inv(chance).T
    wanted = normal_score_correlation(target)
    adjusted = decorrelated @ np.linalg.cholesky(wanted).T
    for _ in range(refine):
        ranks = np.argsort(np.argsort(adjusted, axis=0), axis=0)
        achieved = np.corrcoef(ranks, rowvar=False)
        trial = wanted + normal_score_correlation(target) - normal_score_correlation(achieved)
        np.fill_diagonal(trial, 1.0)
        try:
            adjusted, wanted = decorrelated @ np.linalg.cholesky(trial).T, trial
        except np.linalg.LinAlgError:  # the correction would leave the valid matrices: keep the last
            break
    out = np.empty_like(samples)
    for j in range(k):
        # The draw with the r-th smallest score gets the r-th smallest sample.
        out[np.argsort(adjusted[:, j]), j] = np.sort(samples[:, j])
    return out


@functools.lru_cache(maxsize=8)
def _van_der_waerden_scores(n: int) -> np.ndarray:
    """Normal quantiles at i / (n + 1), i = 1..n; the same for every chunk of n draws.

    Read-only, as it is shared between chunks.
    """
    scores = special.ndtri(np.arange(1, n + 1) / (n + 1))  # normal quantiles, as stats.norm.ppf
    scores.flags.writeable = False
    return scores
