"""Re-forecasting a running contract from what has been observed: :func:`update`.

The method (README, "Re-forecasting a running contract", says why this one):

1. **Prior.**  ``N`` draws of the scenario's inputs, each simulated along ``paths`` paths (the
   first is exactly ``simsib run``'s draw for the same seed), keeping every path's value of
   every observed figure (:mod:`simsib.analysis.update_pool`).
2. **Likelihood and weights.**  The figures given a draw's inputs are taken to be Gaussian with
   its paths' mean and variance plus measurement error (the synthetic likelihood of
   :mod:`simsib.analysis.likelihood`); each draw's log-likelihood, normalised in log space,
   is its weight (:mod:`simsib.analysis.weights`).
3. **Diagnostics.**  Effective sample size, Pareto k̂, the draws compatible with every figure
   (within :data:`Z_MAX` standard deviations) and each figure's prior predictive tail.  No
   compatible draw is an error (:class:`ScenarioError`, exit 2); few effective draws, heavy
   tails or a prior-data conflict are warnings that travel with the result.
4. **Adaptation.**  While the effective sample size is below ``target_ess``, up to
   ``max_rounds`` rounds each draw ``min(N, chunk_size)`` new inputs from a proposal fitted to
   the weighted draws, simulate their paths and reweight every draw so far (adaptive multiple
   importance sampling, :mod:`simsib.analysis.adaptive`).
5. **Resampling.**  ``min(N, posterior_draws)`` posterior draws by systematic resampling,
   always, so the posterior draws written are equally weighted and every tool reads them as it
   reads a run.  Each is given a path of its own: ``posterior_paths`` fresh paths of its inputs, one
   kept with probability ∝ the measurement model's likelihood of the observed figures along it
   (importance resampling), so its past agrees with the figures within their measurement error.
6. **Move.**  When the effective sample size is below ``ess_threshold · N``, each kept path's
   future from the review quarter -- referrals and the young people starting from then -- is
   simulated afresh from its own past (:func:`simsib.run.observables.continue_history`); young
   people already started keep their paths.  The figures depend only on the past, so nothing
   the weights rest on changes.

Standard errors of posterior figures use the effective sample size in place of the number of
draws.  Every random number comes from the seed (:func:`simsib.model.streams.update_seed`
with the subkeys of :mod:`simsib.analysis.update_chunks`), so the same scenario, observations
and seed give the same numbers for any number of workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from simsib.analysis.likelihood import RowModel, SyntheticLikelihood, fit_synthetic, predictive_tail
from simsib.analysis.observations import Observations, check_against, read_observations
from simsib.analysis.observed import summarised
from simsib.analysis.update_chunks import CHOICE_KEY, posterior_chunk
from simsib.analysis.update_pool import (
    Pool,
    adapt,
    concatenate,
    independent_draws,
    log_weights,
    run_batches,
    simulate_prior,
)
from simsib.analysis.weights import effective_sample_size, normalise, pareto_k, systematic_resample
from simsib.model.streams import update_seed
from simsib.run.plan import run_header
from simsib.run.summary import PERCENTILES, distribution, flatten, summarise
from simsib.scenario.errors import Problem, ScenarioError
from simsib.scenario.format import Scenario, all_quantities, per_draw_quantities

Z_MAX = 5.0  # a draw is compatible with a figure within this many of its standard deviations
ESS_WARNING = 100  # fewer effective draws than this: the prior barely explains the data
PARETO_WARNING = 0.7  # PSIS: weighted estimates unreliable above this
CONFLICT_TAIL = 0.001  # a figure in the prior predictive's extreme 0.1%: prior-data conflict
FIT_TAIL = 0.01  # a figure in the posterior predictive's extreme 1%: the posterior cannot fit it
MANY_ROWS = 12  # more figures than this, with few effective draws: suggest summarising them
DEFAULT_ESS_THRESHOLD = 0.5
DEFAULT_TARGET_ESS = 1000
DEFAULT_MAX_ROUNDS = 10
DEFAULT_PATHS = 20  # simulated paths per draw of the inputs, for the synthetic likelihood
DEFAULT_POSTERIOR_DRAWS = 4000
# Paths a posterior draw chooses its own from (importance resampling given the figures).  With
# 10, the chosen paths' past figures were spread well beyond their measurement error (the
# calibration check's payments to date: 97% inside the central 90%); with 40, 92%
# (benchmarks/calibration.py --posterior-paths).
DEFAULT_POSTERIOR_PATHS = 40
BAND_SERIES = ("starts", "cumulative_starts", "payments", "investor_position", "spv_cash", "distributions",
               "capital_drawn")


@dataclass
class Diagnostics:
    """How far the weighted draws can be trusted: part of the answer, not a log line."""

    draws: int  # prior draws
    effective_sample_size: float
    pareto_k: float
    max_weight: float
    distinct_draws: int  # distinct weighted draws among the resampled ones
    compatible_draws: int  # prior draws within Z_MAX of every figure
    log_evidence: float  # log mean likelihood over the prior draws: the data's marginal likelihood
    prior_effective_sample_size: float  # before adaptation
    adaptive_rounds: int
    pool_draws: int  # prior and adaptive draws together
    moved: bool
    ess_threshold: float
    posterior_draws: int
    assemble_seconds: float  # adaptation, and re-running the posterior draws' batches (and moving them)
    warnings: list[str] = field(default_factory=list)

    @property
    def ess_share(self) -> float:
        return self.effective_sample_size / self.draws

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["pareto_k"] = self.pareto_k if np.isfinite(self.pareto_k) else None
        out["ess_share"] = self.ess_share
        out["assemble_seconds"] = round(self.assemble_seconds, 3)
        out["warnings"] = list(self.warnings)
        return out


@dataclass
class UpdateResult:
    """A posterior forecast, shaped like :class:`simsib.run.api.SimulationResult`.

    draws : posterior draws (equally weighted): the run's columns, money to date and to come at
        the review, ``terminate_*`` figures, and ``prior_draw`` (the weighted draw each descends
        from: a prior draw's number, or ``N`` and up for adaptive draws)
    weights : (P,) normalised importance weights of the weighted draws (the prior's first)
    log_likelihood : (P, rows) each weighted draw's log-likelihood of each observed row on its
        own (the synthetic likelihood's marginals; the weights use their joint, correlated form)
    """

    scenario: Scenario
    observations: Observations
    header: dict[str, Any]
    draws: pd.DataFrame
    quarterly: pd.DataFrame
    summary_dict: dict[str, Any] = field(repr=False)
    weights: np.ndarray = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    log_likelihood: np.ndarray = field(repr=False)
    pool: Pool = field(repr=False)
    posterior_simulated: np.ndarray = field(repr=False)
    likelihood: SyntheticLikelihood = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """One row per headline statistic (mean, se, percentiles), posterior; se from the ESS."""
        return pd.DataFrame(flatten(self.summary_dict)).set_index("metric")

    @property
    def review_quarter(self) -> int:
        return self.observations.review_quarter


def _posterior(pool: Pool, ancestors: np.ndarray, paths: int, review: int, move: bool, stage: int, workers: int):
    """Posterior draws with the inputs of weighted draws ``ancestors``, in that order, in batches
    of ``chunk_size``, each along one of ``paths`` paths drawn given the data (:func:`posterior_chunk`)."""
    scenario, size = pool.spec.scenario, pool.plan.chunk_size
    fixed = {key: float(dist.value) for key, dist in all_quantities(scenario).items() if dist.is_fixed}
    uncertain = list(per_draw_quantities(scenario))
    calls = []
    for index, start in enumerate(range(0, len(ancestors), size)):
        rows = ancestors[start:start + size]
        inputs = {**{k: pool.draws[k][rows] for k in uncertain}, **{k: np.full(len(rows), v) for k, v in fixed.items()}}
        calls.append((pool.spec, index, inputs, paths, review, move, stage))
    return concatenate(run_batches(posterior_chunk, calls, workers, scenario))


def _incompatible(observations: Observations, simulated: np.ndarray, z: np.ndarray) -> ScenarioError:
    """No draw within Z_MAX of every figure: say which figures no draw comes near."""
    problems = []
    closest = np.nanmin(np.abs(z), axis=0)
    for j, row in enumerate(observations.rows):
        if closest[j] <= Z_MAX:
            continue
        values = simulated[:, j][~np.isnan(simulated[:, j])]
        spread = (f"the prior draws give {np.percentile(values, 1):.4g} to {np.percentile(values, 99):.4g} "
                  "(1st-99th percentile)" if values.size else "no prior draw can show this figure")
        problems.append(Problem(f"line {row.line}", f"{row.label}: no prior draw comes within {Z_MAX:g} standard "
                                f"deviations of it ({spread}); the scenario cannot produce this figure",
                                value=row.value, has_value=True))
    if not problems:  # every figure is reachable, but never all at once
        problems.append(Problem("", f"no prior draw comes within {Z_MAX:g} standard deviations of every figure at "
                                "once: the figures contradict each other under this scenario"))
    return ScenarioError(problems, file=observations.file)


def _warnings(observations: Observations, diagnostics: Diagnostics, prior_tail: np.ndarray,
              posterior_tail: np.ndarray) -> list[str]:
    out = []
    if diagnostics.effective_sample_size < ESS_WARNING:
        out.append(f"the prior barely explains the data: the weights are worth only "
                   f"{diagnostics.effective_sample_size:.0f} draws (of {diagnostics.pool_draws:,} weighted, "
                   f"{diagnostics.draws:,} of them from the prior; {diagnostics.distinct_draws} distinct among the "
                   "posterior draws); figures and their standard errors rest on those few -- rerun with more "
                   "--draws, or question the prior")
    if diagnostics.effective_sample_size < ESS_WARNING and len(observations) > MANY_ROWS:
        out.append(f"{len(observations)} observed figures: each adds its own noise to the likelihood, and with many "
                   "the weights rest on a few draws; condition on fewer, cumulative figures (--summarise)")
    if diagnostics.pareto_k > PARETO_WARNING:
        out.append(f"the weights are heavy-tailed (Pareto k = {diagnostics.pareto_k:.2f} > {PARETO_WARNING}): "
                   "weighted estimates are unreliable whatever the effective sample size")
    for j, row in enumerate(observations.rows):
        if prior_tail[j] < CONFLICT_TAIL:
            out.append(f"prior-data conflict: {row.label} = {row.value:g} lies in the prior predictive's extreme "
                       f"tail (two-sided p = {prior_tail[j]:.2g})")
        if posterior_tail[j] < FIT_TAIL:
            out.append(f"the posterior does not reproduce {row.label} = {row.value:g} (two-sided p = "
                       f"{posterior_tail[j]:.2g}): the scenario cannot match it together with the other figures")
    return out


def _scaled_se(summary: dict, draws: int, ess: float) -> dict:
    """Standard errors with the effective sample size in place of the number of draws."""
    factor = np.sqrt(draws / ess)
    for section in ("investor", "council", "outcomes", "review"):
        for stats in summary.get(section, {}).values():
            if not isinstance(stats, dict) or stats.get("se") is None:
                continue
            if set(stats) == {"value", "se"}:  # a probability
                stats["se"] = float(np.sqrt(stats["value"] * (1.0 - stats["value"]) / ess))
            else:
                stats["se"] = float(stats["se"] * factor)
    return summary


def bands(sample: dict[str, np.ndarray], series: Sequence[str]) -> pd.DataFrame:
    """Tidy percentile bands per quarter, as ``quarterly.csv`` (draws without a value left out)."""
    rows = []
    for name in series:
        values = sample.get(name)
        if values is None:
            continue
        for q in range(values.shape[1]):
            column = values[:, q][~np.isnan(values[:, q])]
            row = {"quarter": q, "month_end": 3 * (q + 1), "series": name,
                   "mean": float(column.mean()) if column.size else np.nan}
            pct = np.percentile(column, PERCENTILES) if column.size else np.full(len(PERCENTILES), np.nan)
            row.update({f"p{p:02d}": float(v) for p, v in zip(PERCENTILES, pct)})
            row["n"] = int(column.size)
            rows.append(row)
    return pd.DataFrame(rows)


def condition(prior: Pool, observations: Observations, stage: int = 0, *,
              ess_threshold: float = DEFAULT_ESS_THRESHOLD, target_ess: float | None = None,
              max_rounds: int = DEFAULT_MAX_ROUNDS, posterior_draws: int | None = None,
              posterior_paths: int = DEFAULT_POSTERIOR_PATHS, workers: int = 1) -> UpdateResult:
    """Condition the ``prior`` draws on ``observations`` (some of the rows the prior simulated).

    ``target_ess`` (default ``min(1000, N/4)``) and ``max_rounds`` govern adaptation (0 rounds:
    the prior draws alone); ``posterior_draws`` (default :data:`DEFAULT_POSTERIOR_DRAWS`, at
    most ``N``) is the size of the resampled posterior sample, and ``posterior_paths`` the paths
    each posterior draw chooses its own from.
    """
    n, entropy = prior.n_prior, prior.plan.entropy
    rows = prior.spec.observations.columns(observations)
    model = RowModel.of(observations)
    simulated = prior.simulated[:n, :, rows]
    choice = np.random.Generator(np.random.PCG64(update_seed(entropy, 0, CHOICE_KEY, stage)))
    likelihood = fit_synthetic(model, simulated, choice)
    z = likelihood.residuals(simulated)
    compatible = (np.abs(z) <= Z_MAX).all(axis=1)
    if not compatible.any():
        raise _incompatible(observations, simulated[:, 0], z)
    prior_weights, log_evidence = normalise(likelihood.log_likelihood(simulated))
    started = time.perf_counter()
    target = min(DEFAULT_TARGET_ESS, n / 4) if target_ess is None else target_ess
    pool, loglik = adapt(prior, likelihood, rows, stage, target, max_rounds, workers)
    logw = log_weights(pool, loglik)
    weights, _ = normalise(logw)
    ess = effective_sample_size(weights)
    rng = np.random.Generator(np.random.PCG64(update_seed(entropy, 0, 0, stage)))
    size = min(n, posterior_draws or DEFAULT_POSTERIOR_DRAWS)
    ancestors = systematic_resample(weights, size, rng)
    move = ess < ess_threshold * n
    columns, quarterly, posterior_simulated = _posterior(pool, ancestors, posterior_paths, observations.review_quarter,
                                                         move, stage, workers)
    posterior_simulated = posterior_simulated[:, rows]
    diagnostics = Diagnostics(
        draws=n, effective_sample_size=ess, pareto_k=pareto_k(logw), max_weight=float(weights.max()),
        distinct_draws=int(np.unique(ancestors).size), compatible_draws=int(compatible.sum()),
        log_evidence=log_evidence, prior_effective_sample_size=effective_sample_size(prior_weights),
        adaptive_rounds=len(pool.proposals), pool_draws=pool.n, moved=bool(move), ess_threshold=ess_threshold,
        posterior_draws=size, assemble_seconds=time.perf_counter() - started,
    )
    # The prior predictive from each draw's first path: one sample of it per draw.
    diagnostics.warnings = _warnings(observations, diagnostics, predictive_tail(model, simulated[:, 0]),
                                     predictive_tail(model, posterior_simulated))
    table = pd.DataFrame({"prior_draw": ancestors, **columns})
    summary = summarise(lambda c: table[c].to_numpy(), size)
    summary["review"] = {key: distribution(table[key].to_numpy()) for key in table.columns
                         if key.endswith(("_to_date", "_to_come"))}
    header = {**run_header(pool.plan, pool.seed),
              "observations": observations.file, "review_quarter": observations.review_quarter,
              "review_month": 3 * observations.review_quarter, "effective_sample_size": ess}
    summary = {**header, "draws": size, "prior_draws": n, **_scaled_se(summary, size, min(ess, size))}
    series = BAND_SERIES + tuple(s for s in observations.series_used if s not in BAND_SERIES)
    return UpdateResult(pool.spec.scenario, observations, header, table, bands(quarterly, series), summary,
                        weights, diagnostics, likelihood.row_log_likelihood(pool.simulated[:, :, rows]), pool,
                        posterior_simulated, likelihood)


def _as_observations(value: Observations | str | Path, scenario: Scenario) -> Observations:
    return value if isinstance(value, Observations) else read_observations(value, scenario)


def update_stages(
    scenario: Scenario,
    stages: Sequence[Observations | str | Path],
    draws: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    ess_threshold: float = DEFAULT_ESS_THRESHOLD,
    target_ess: float | None = None,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    posterior_draws: int | None = None,
    paths: int = DEFAULT_PATHS,
    posterior_paths: int = DEFAULT_POSTERIOR_PATHS,
    summarise: bool = False,
) -> list[UpdateResult]:
    """One prior run conditioned on what is known at successive reviews: stage ``k`` on the rows
    of ``stages[0]`` to ``stages[k]`` (with ``summarise``, those rows
    :func:`~simsib.analysis.observations.summarised`).  The prior is sampled at random
    (:func:`~simsib.analysis.update_pool.independent_draws`)."""
    scenario = independent_draws(scenario)
    read = [_as_observations(s, scenario) for s in stages]
    known = [reduce(Observations.and_then, read[:k + 1]) for k in range(len(read))]
    if summarise:
        known = [summarised(k) for k in known]
    combined = Observations.union(known)
    check_against(combined, scenario)
    prior = simulate_prior(scenario, combined, draws, seed, paths=paths, workers=workers)
    return [condition(prior, observations, stage, ess_threshold=ess_threshold, target_ess=target_ess,
                      max_rounds=max_rounds, posterior_draws=posterior_draws, posterior_paths=posterior_paths,
                      workers=workers)
            for stage, observations in enumerate(known)]


def update(
    scenario: Scenario,
    observations: Observations | str | Path,
    draws: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    ess_threshold: float = DEFAULT_ESS_THRESHOLD,
    target_ess: float | None = None,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    posterior_draws: int | None = None,
    paths: int = DEFAULT_PATHS,
    posterior_paths: int = DEFAULT_POSTERIOR_PATHS,
    summarise: bool = False,
) -> UpdateResult:
    """Re-forecast ``scenario`` given ``observations`` (an :class:`Observations`, or a CSV path or
    bundled name such as ``"essex-year1"``).

    Same scenario, observations and seed give identical numbers for any ``workers``.

    Examples
    --------
    >>> import simsib
    >>> result = simsib.update(simsib.load_scenario(), "essex-year1", draws=500, seed=1)
    >>> result.diagnostics.effective_sample_size > 1
    True
    """
    return update_stages(scenario, [observations], draws, seed, workers=workers, ess_threshold=ess_threshold,
                         target_ess=target_ess, max_rounds=max_rounds, posterior_draws=posterior_draws,
                         paths=paths, posterior_paths=posterior_paths, summarise=summarise)[0]
