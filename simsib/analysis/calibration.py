"""Simulation-based calibration of the re-forecast (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

For each of ``truths`` synthetic truths: draw one contract from the prior (a random draw of a
one-chunk run with its own seed), observe its figures to date at the end of a random quarter ``Q`` -- measured
with the update's observation model, as the update assumes reports are made
(:func:`simsib.analysis.observe.draw_observations`) -- update a fresh prior (another seed) on
them, and record where the truth falls among the posterior draws: the probability integral
transform (PIT) of each key input (over the weighted draws) and of the total outcome payments
(over the posterior draws, which carry the future's randomness too).  If the update is right,
every PIT is uniform on (0, 1) and the posterior's central 90% of total payments holds the
truth 90% of the time; :func:`uniformity` tests the first, :func:`coverage` measures the second.

A negative control shows the test can fail.  The prior itself is calibrated (a truth drawn from
the prior is uniform among prior draws), so the control is an *overconfident* posterior: the
weights to the fourth power, as if every figure had been reported four times.  Its PITs pile up
at 0 and 1 for the inputs the data inform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from simsib.analysis.observe import TO_DATE, draw_observations
from simsib.analysis.update import DEFAULT_POSTERIOR_PATHS, update
from simsib.analysis.weights import probability_integral_transform, weighted_quantiles
from simsib.run.execution import map_processes, warm_up
from simsib.scenario.format import Scenario

KEY_INPUTS = ("referrals.referrals_per_month", "referrals.ramp_initial_fraction", "referrals.team_start_delay_months",
              "population.p30_entry", "effect.log_hazard_ratio", "effect.completion_rate")
PAYMENTS = "outcome_payments"
INTERVAL = (0.05, 0.95)
CONTROL_POWER = 4


@dataclass
class Calibration:
    """PITs per quantity (truths,), from the posterior and from the overconfident control, and
    whether each truth's total payments fell inside the posterior's central 90% (by its
    randomised PIT; ``covered_plain``: inside [p05, p95]; ``at_atom``: on a value posterior
    draws share, such as the cap)."""

    quantities: tuple[str, ...]
    posterior_pit: dict[str, np.ndarray]
    control_pit: dict[str, np.ndarray]
    covered: np.ndarray
    covered_plain: np.ndarray
    covered_to_date: np.ndarray  # the truth's payments already made, inside the posterior's central 90%
    at_atom: np.ndarray
    review_quarters: np.ndarray
    effective_sample_sizes: np.ndarray
    warnings: list[list[str]] = field(default_factory=list)


def _one_truth(scenario: Scenario, t: int, seed: int, draws: int, paths: int, quarters: tuple[int, int],
               series: Sequence[str], inputs: Sequence[str], max_rounds: int, posterior_paths: int) -> dict:
    """Calibration case ``t``: its PITs, coverage, review quarter, ESS and warnings."""
    truth_entropy, prior_entropy = (int(np.random.SeedSequence(seed, spawn_key=(t, k)).generate_state(1)[0])
                                    for k in (0, 1))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(t, 2))))
    review = int(rng.integers(quarters[0], quarters[1] + 1))
    # A draw of a whole chunk, so that the scenario's rank correlations (imposed within a chunk)
    # hold for the truths as for the prior draws.
    size = scenario.simulation.chunk_size
    made = draw_observations(scenario, truth_entropy, size, size, int(rng.integers(size)), review,
                             series=series, to_date=True, noise=True)
    result = update(scenario, made.observations, draws=draws, seed=prior_entropy, paths=paths,
                    posterior_draws=draws, max_rounds=max_rounds, posterior_paths=posterior_paths)
    weights, pool = result.weights, result.pool
    # The control: an overconfident posterior, as if every figure had been reported four times.
    doubled = weights**CONTROL_POWER / np.sum(weights**CONTROL_POWER)
    out = {"posterior": {}, "control": {}}
    for name in inputs:
        out["posterior"][name] = probability_integral_transform(pool.draws[name], weights, made.truth[name], rng)
        out["control"][name] = probability_integral_transform(pool.draws[name], doubled, made.truth[name], rng)
    paid = result.draws[PAYMENTS].to_numpy()
    equal = np.full(paid.size, 1.0 / paid.size)
    out["posterior"][PAYMENTS] = probability_integral_transform(paid, equal, made.truth[PAYMENTS], rng)
    out["control"][PAYMENTS] = probability_integral_transform(pool.draws[PAYMENTS], doubled, made.truth[PAYMENTS], rng)
    to_date = probability_integral_transform(result.draws["outcome_payments_to_date"].to_numpy(), equal,
                                             made.truth["outcome_payments_to_date"], rng)
    low, high = weighted_quantiles(paid, equal, INTERVAL)
    pit = out["posterior"][PAYMENTS]
    # Total payments have atoms (the cap, nothing at all): the plain interval [p05, p95] then
    # holds more than 90% of a calibrated posterior's truths.  The randomised PIT breaks ties
    # uniformly, so "inside the central 90%" is exactly 90% likely when the posterior is right.
    out.update(covered=bool(INTERVAL[0] <= pit <= INTERVAL[1]), covered_plain=bool(low <= made.truth[PAYMENTS] <= high),
               covered_to_date=bool(INTERVAL[0] <= to_date <= INTERVAL[1]),
               at_atom=bool(np.mean(paid == made.truth[PAYMENTS]) > 0), review=review,
               ess=result.diagnostics.effective_sample_size, warnings=result.diagnostics.warnings)
    return out


def calibrate(
    scenario: Scenario,
    truths: int,
    *,
    draws: int,
    paths: int,
    seed: int,
    quarters: tuple[int, int] = (4, 16),
    series: Sequence[str] = TO_DATE,
    inputs: Sequence[str] = KEY_INPUTS,
    max_rounds: int = 2,
    posterior_paths: int = DEFAULT_POSTERIOR_PATHS,
    workers: int = 1,
) -> Calibration:
    """Run ``truths`` calibration cases (over ``workers`` processes); see the module docstring.

    Every seed derives from ``seed``: truth ``t`` is a draw of a one-chunk run with entropy
    ``SeedSequence(seed, spawn_key=(t, 0))``, its prior's entropy uses ``(t, 1)``, its review
    quarter, which draw, and tie-breaking ``(t, 2)``; so the result does not depend on ``workers``.
    """
    calls = [(scenario, t, seed, draws, paths, quarters, tuple(series), tuple(inputs), max_rounds, posterior_paths)
             for t in range(truths)]
    if workers <= 1:
        cases = [_one_truth(*call) for call in calls]
    else:
        warm_up(scenario)
        cases = [case for _, case in sorted(map_processes(_one_truth, calls, workers), key=lambda r: r[0])]
    quantities = (*inputs, PAYMENTS)
    return Calibration(
        quantities,
        {q: np.array([c["posterior"][q] for c in cases]) for q in quantities},
        {q: np.array([c["control"][q] for c in cases]) for q in quantities},
        np.array([c["covered"] for c in cases]),
        np.array([c["covered_plain"] for c in cases]),
        np.array([c["covered_to_date"] for c in cases]),
        np.array([c["at_atom"] for c in cases]),
        np.array([c["review"] for c in cases]),
        np.array([c["ess"] for c in cases]),
        [c["warnings"] for c in cases],
    )


def uniformity(pits: np.ndarray) -> float:
    """p-value of the Kolmogorov–Smirnov test that ``pits`` are uniform on (0, 1)."""
    from scipy import stats

    return float(stats.kstest(pits, "uniform").pvalue)


def coverage(covered: np.ndarray, nominal: float = 0.9) -> tuple[float, float]:
    """(share of truths inside their 90% interval, its standard error under the nominal rate)."""
    return float(covered.mean()), float(np.sqrt(nominal * (1.0 - nominal) / covered.size))
