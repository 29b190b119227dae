"""Importance weights: normalising in log space, their diagnostics, resampling, weighted statistics.

* :func:`normalise` -- weights from log-likelihoods without overflow (log-sum-exp), and the log
  of their mean (the estimate of the data's marginal likelihood under the prior).
* :func:`effective_sample_size` -- Kish's ``1 / Σ w²``: how many independent draws the weighted
  ones are worth.
* :func:`pareto_k` -- the shape of a generalised Pareto fitted to the largest weights (Vehtari,
  Simpson, Gelman, Yao & Gabry 2024, "Pareto smoothed importance sampling", JMLR 25:72).  Below
  0.5 the weights' variance is finite; up to about 0.7 estimates are still usable; above it the
  weighted estimates are unreliable whatever the effective sample size says.
* :func:`systematic_resample` -- indices of ``n`` draws by systematic resampling (one uniform,
  the lowest-variance standard scheme; Douc, Cappé & Moulines 2005), sorted.
"""

from __future__ import annotations

import numpy as np


def normalise(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """(weights summing to 1, log of the mean unnormalised weight); all −inf gives NaN weights."""
    log_weights = np.asarray(log_weights, dtype=float)
    top = np.max(log_weights)
    if not np.isfinite(top):
        return np.full(log_weights.shape, np.nan), -np.inf
    scaled = np.exp(log_weights - top)
    total = scaled.sum()
    return scaled / total, float(top + np.log(total) - np.log(log_weights.size))


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalised weights, ``1 / Σ w²``."""
    return float(1.0 / np.sum(np.square(weights)))


def pareto_k(log_weights: np.ndarray) -> float:
    """Pareto shape k̂ of the upper tail of the weights (PSIS; inf when the tail is too short).

    The tail is the largest ``min(n/5, 3√n)`` weights; the fit is Zhang & Stephens' (2009)
    empirical-Bayes estimate, with PSIS's weakly informative prior pulling k̂ towards 0.5.
    """
    lw = np.asarray(log_weights, dtype=float)
    lw = lw[np.isfinite(lw)]
    n = lw.size
    if n < 5:
        return float("inf")
    lw = lw - lw.max()
    tail_length = int(np.ceil(min(0.2 * n, 3.0 * np.sqrt(n))))
    ordered = np.sort(lw)
    cutoff = max(ordered[-tail_length - 1], np.log(np.finfo(float).tiny))
    tail = np.sort(np.exp(lw[lw > cutoff]) - np.exp(cutoff))
    tail = tail[tail > 0]
    if tail.size <= 4:
        return float("inf")
    return _generalised_pareto_shape(tail)


def _generalised_pareto_shape(exceedances: np.ndarray) -> float:
    """Zhang & Stephens (2009) estimate of a generalised Pareto's shape k (the sign of PSIS).

    ``exceedances`` sorted ascending and positive.
    """
    x = exceedances
    n = x.size
    m = 30 + int(np.sqrt(n))
    b = 1.0 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
    b /= 3.0 * x[int(n / 4 + 0.5) - 1]
    b += 1.0 / x[-1]
    k = np.log1p(-b[:, None] * x).mean(axis=1)
    profile = n * (np.log(-(b / k)) - k - 1.0)
    weights = 1.0 / np.exp(profile - profile[:, None]).sum(axis=1)
    keep = weights >= 10 * np.finfo(float).eps
    b, weights = b[keep], weights[keep] / weights[keep].sum()
    k_hat = float(np.log1p(-np.sum(b * weights) * x).mean())
    return (n * k_hat + 10 * 0.5) / (n + 10)


def systematic_resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn with probabilities ``weights`` by systematic resampling, ascending.

    Each draw ``i`` appears ``⌊n·w_i⌋`` or ``⌈n·w_i⌉`` times.
    """
    cumulative = np.cumsum(weights)
    cumulative /= cumulative[-1]
    positions = (np.arange(n) + rng.random()) / n
    return np.minimum(np.searchsorted(cumulative, positions, side="right"), weights.size - 1)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """Σ w·x over the defined (non-NaN) values, renormalised; NaN when none is defined."""
    values = np.asarray(values, dtype=float)
    defined = ~np.isnan(values)
    total = weights[defined].sum()
    return float((weights[defined] * values[defined]).sum() / total) if total > 0 else float("nan")


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, probabilities) -> np.ndarray:
    """Quantiles of the weighted empirical distribution (the smallest value whose cumulative
    weight reaches p), over the defined values."""
    values = np.asarray(values, dtype=float)
    defined = ~np.isnan(values)
    if not defined.any():
        return np.full(len(probabilities), np.nan)
    order = np.argsort(values[defined], kind="stable")
    sorted_values = values[defined][order]
    cumulative = np.cumsum(weights[defined][order])
    cumulative /= cumulative[-1]
    index = np.searchsorted(cumulative, np.asarray(probabilities) - 1e-12, side="left")
    return sorted_values[np.minimum(index, sorted_values.size - 1)]


def probability_integral_transform(
    values: np.ndarray, weights: np.ndarray, truth: float, rng: np.random.Generator
) -> float:
    """Weighted share of draws below ``truth``, ties broken uniformly at random: uniform on (0, 1)
    when ``truth`` is a draw from the distribution the weighted draws represent."""
    below = weights[values < truth].sum()
    tied = weights[values == truth].sum()
    return float((below + rng.random() * tied) / weights.sum())
