"""Re-forecasting a running contract from what has been observed: :func:`update`.

The method (README, "Re-forecasting a running contract", says why this one):

1. **Prior.**  ``N`` draws of the scenario, simulated exactly as ``simsib run`` would with the same
   seed, keeping each draw's simulated value of every observed figure
   (:mod:`simsib.analysis.update_chunks`).
2. **Weights.**  ``log w_i = Σ_rows log p(y_r | draw i)`` under the observation model of
   :mod:`simsib.analysis.likelihood`, normalised in log space (:mod:`simsib.analysis.weights`).
3. **Diagnostics.**  Effective sample size, Pareto k̂, the draws compatible with every figure
   (within :data:`Z_MAX` standard deviations) and each figure's prior predictive tail.  No
   compatible draw is an error (:class:`ScenarioError`, exit 2); few effective draws, heavy
   tails or a prior-data conflict are warnings that travel with the result.
4. **Resampling.**  ``N`` draws by systematic resampling, always, so the posterior draws
   written are equally weighted and every tool reads them as it reads a run.
5. **Move.**  When the effective sample size is below ``ess_threshold · N``, every resampled
   draw's future from the review quarter is simulated afresh from its own past
   (:func:`simsib.run.observables.continue_history`): repeated draws keep their inputs and
   their history but not their futures.  The observed figures depend only on the past, so the
   weights stay exact; the inputs are not moved, so the posterior of the inputs rests on the
   distinct prior draws that survived.

Standard errors of posterior figures use the effective sample size in place of ``N``.
Every random number comes from the seed: the prior's chunks, the resampling
(``update_seed(entropy, 0, 0, stage)``) and the moves (``update_seed(entropy, chunk, 1, stage,
batch)``), so the same scenario, observations and seed give the same numbers for any number of
workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from simsib.analysis.likelihood import RowModel, log_likelihood, predictive_tail, standardised_residuals
from simsib.analysis.observations import Observations, check_against, read_observations
from simsib.analysis.update_chunks import PathsChunk, UpdateSpec, posterior_chunk, prior_chunk
from simsib.analysis.weights import effective_sample_size, normalise, pareto_k, systematic_resample
from simsib.model.streams import update_seed
from simsib.run.execution import map_processes, warm_up
from simsib.run.plan import RunPlan, make_plan, run_header
from simsib.run.summary import PERCENTILES, distribution, flatten, summarise
from simsib.scenario.errors import Problem, ScenarioError
from simsib.scenario.format import Scenario

Z_MAX = 5.0  # a draw is compatible with a figure within this many of its standard deviations
ESS_WARNING = 100  # fewer effective draws than this: the prior barely explains the data
PARETO_WARNING = 0.7  # PSIS: weighted estimates unreliable above this
CONFLICT_TAIL = 0.001  # a figure in the prior predictive's extreme 0.1%: prior-data conflict
FIT_TAIL = 0.01  # a figure in the posterior predictive's extreme 1%: the posterior cannot fit it
DEFAULT_ESS_THRESHOLD = 0.5
BAND_SERIES = ("starts", "cumulative_starts", "payments", "investor_position", "spv_cash", "distributions",
               "capital_drawn")


@dataclass
class Prior:
    """The prior draws of a re-forecast, with everything any stage needs (axis 0 the draw)."""

    spec: UpdateSpec
    plan: RunPlan
    draws: dict[str, np.ndarray]
    simulated: np.ndarray  # (N, rows of the last stage)
    chunk_index: np.ndarray  # (N,) the prior chunk of each draw
    position: np.ndarray  # (N,) its position in that chunk
    seconds: float
    seed: int | None = None

    @property
    def n(self) -> int:
        return self.simulated.shape[0]


@dataclass
class Diagnostics:
    """How far the weighted prior draws can be trusted: part of the answer, not a log line."""

    draws: int
    effective_sample_size: float
    pareto_k: float
    max_weight: float
    distinct_draws: int  # prior draws among the resampled ones
    compatible_draws: int
    log_evidence: float  # log of the mean likelihood: the data's marginal likelihood under the prior
    moved: bool
    ess_threshold: float
    posterior_draws: int
    assemble_seconds: float  # re-running the posterior draws' chunks (and moving them)
    warnings: list[str] = field(default_factory=list)

    @property
    def ess_share(self) -> float:
        return self.effective_sample_size / self.draws

    def to_dict(self) -> dict[str, Any]:
        return {
            "draws": self.draws, "effective_sample_size": self.effective_sample_size, "ess_share": self.ess_share,
            "pareto_k": self.pareto_k if np.isfinite(self.pareto_k) else None, "max_weight": self.max_weight,
            "distinct_draws": self.distinct_draws, "compatible_draws": self.compatible_draws,
            "log_evidence": self.log_evidence, "moved": self.moved, "ess_threshold": self.ess_threshold,
            "posterior_draws": self.posterior_draws, "assemble_seconds": round(self.assemble_seconds, 3),
            "warnings": list(self.warnings),
        }


@dataclass
class UpdateResult:
    """A posterior forecast, shaped like :class:`simsib.run.api.SimulationResult`.

    draws : posterior draws (equally weighted): the run's columns, money to date and to come at
        the review, ``stop_*`` figures, and ``prior_draw`` (the prior draw each descends from)
    weights : (N,) the importance weights of the prior draws (sum 1)
    log_likelihood : (N, rows) each prior draw's log-likelihood of each observed row
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
    prior: Prior = field(repr=False)
    posterior_simulated: np.ndarray = field(repr=False)
    quarterly_sample: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per headline statistic (mean, se, percentiles), posterior; se from the ESS."""
        return pd.DataFrame(flatten(self.summary_dict)).set_index("metric")

    @property
    def review_quarter(self) -> int:
        return self.observations.review_quarter

    def report(self) -> dict[str, Any]:
        """Everything ``update.json`` holds: method, diagnostics, likelihood by series, prior vs
        posterior of every input and mixture strand, the fit to each figure, the decision."""
        from simsib.analysis.posterior import update_report

        return update_report(self)


# --- running chunks -------------------------------------------------------------------------


def _map(function: Callable[..., PathsChunk], calls: list[tuple], workers: int, scenario: Scenario) -> list:
    if workers <= 1 or len(calls) <= 1:
        return [function(*call) for call in calls]
    warm_up(scenario)
    return [result for _, result in sorted(map_processes(function, calls, workers), key=lambda r: r[0])]


def _concatenate(chunks: Sequence[PathsChunk]) -> tuple[dict, dict, np.ndarray]:
    draws = {k: np.concatenate([c.draws[k] for c in chunks]) for k in chunks[0].draws}
    quarterly = {k: np.concatenate([c.quarterly[k] for c in chunks]) for k in chunks[0].quarterly}
    return draws, quarterly, np.concatenate([c.simulated for c in chunks])


def simulate_prior(
    scenario: Scenario, observations: Observations, draws: int | None, seed: int | None, *, workers: int = 1
) -> Prior:
    """The prior run (``simsib run``'s numbers for the same seed), keeping what the update needs."""
    started = time.perf_counter()
    plan = make_plan(scenario, draws, seed)
    spec = UpdateSpec(scenario, plan.entropy, plan.chunk_size, observations)
    chunks = _map(prior_chunk, [(spec, index, size) for index, size in plan.chunks], workers, scenario)
    columns, _, simulated = _concatenate(chunks)
    chunk_index = np.concatenate([np.full(size, index) for index, size in plan.chunks])
    position = np.concatenate([np.arange(size) for _, size in plan.chunks])
    return Prior(spec, plan, columns, simulated, chunk_index, position, time.perf_counter() - started,
                 seed)


def _posterior(prior: Prior, ancestors: np.ndarray, review: int, move: bool, stage: int, workers: int):
    """Posterior draws descending from prior draws ``ancestors`` (ascending), in that order; with
    ``move``, their futures from the ``review`` quarter drawn afresh."""
    sizes = dict(prior.plan.chunks)
    chunk_of = prior.chunk_index[ancestors]
    calls = [(prior.spec, int(index), sizes[int(index)], prior.position[ancestors[chunk_of == index]],
              review, move, stage) for index in np.unique(chunk_of)]
    return _concatenate(_map(posterior_chunk, calls, workers, prior.spec.scenario))


# --- conditioning ---------------------------------------------------------------------------


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
                   f"{diagnostics.effective_sample_size:.0f} of {diagnostics.draws:,} draws "
                   f"({diagnostics.distinct_draws} distinct prior draws survive); figures and their standard "
                   "errors rest on those few -- rerun with more --draws, or question the prior")
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
            if stats.get("se") is None:
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


def condition(prior: Prior, observations: Observations, stage: int = 0, *,
              ess_threshold: float = DEFAULT_ESS_THRESHOLD, posterior_draws: int | None = None,
              workers: int = 1) -> UpdateResult:
    """Condition ``prior`` on ``observations`` (the first rows of the prior's observations).

    ``posterior_draws`` (default: the scenario's ``simulation.draws``, at most the prior's) is
    the size of the resampled posterior sample.
    """
    n, rows = prior.n, len(observations)
    model = RowModel.of(observations)
    simulated = prior.simulated[:, :rows]
    loglik = log_likelihood(model, simulated)
    z = standardised_residuals(model, simulated)
    compatible = (np.abs(z) <= Z_MAX).all(axis=1)
    if not compatible.any():
        raise _incompatible(observations, simulated, z)
    total = loglik.sum(axis=1)
    weights, log_evidence = normalise(total)
    ess = effective_sample_size(weights)
    rng = np.random.Generator(np.random.PCG64(update_seed(prior.plan.entropy, 0, 0, stage)))
    size = min(n, posterior_draws or prior.spec.scenario.simulation.draws)
    ancestors = systematic_resample(weights, size, rng)
    move = ess < ess_threshold * n
    started = time.perf_counter()
    columns, quarterly, posterior_simulated = _posterior(prior, ancestors, observations.review_quarter, move,
                                                         stage, workers)
    posterior_simulated = posterior_simulated[:, :rows]
    assemble_seconds = time.perf_counter() - started
    diagnostics = Diagnostics(
        draws=n, effective_sample_size=ess, pareto_k=pareto_k(total), max_weight=float(weights.max()),
        distinct_draws=int(np.unique(ancestors).size), compatible_draws=int(compatible.sum()),
        log_evidence=log_evidence, moved=bool(move), ess_threshold=ess_threshold,
        posterior_draws=size, assemble_seconds=assemble_seconds,
    )
    diagnostics.warnings = _warnings(observations, diagnostics, predictive_tail(model, simulated),
                                     predictive_tail(model, posterior_simulated))
    table = pd.DataFrame({"prior_draw": ancestors, **columns})
    summary = summarise(lambda c: table[c].to_numpy(), size)
    summary["review"] = {key: distribution(table[key].to_numpy()) for key in table.columns
                         if key.endswith(("_to_date", "_to_come"))}
    header = {**run_header(prior.plan, prior.seed),
              "observations": observations.file, "review_quarter": observations.review_quarter,
              "review_month": 3 * observations.review_quarter, "effective_sample_size": ess}
    summary = {**header, "draws": size, "prior_draws": n, **_scaled_se(summary, size, min(ess, size))}
    series = BAND_SERIES + tuple(s for s in observations.series_used if s not in BAND_SERIES)
    return UpdateResult(prior.spec.scenario, observations, header, table, bands(quarterly, series), summary,
                        weights, diagnostics, loglik, prior, posterior_simulated, quarterly)


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
    posterior_draws: int | None = None,
) -> list[UpdateResult]:
    """One prior run conditioned on what is known at successive reviews: stage ``k`` on the rows
    of ``stages[0]`` to ``stages[k]``."""
    read = [_as_observations(s, scenario) for s in stages]
    combined = reduce(Observations.and_then, read)
    check_against(combined, scenario)
    prior = simulate_prior(scenario, combined, draws, seed, workers=workers)
    results, known = [], None
    for stage, observations in enumerate(read):
        known = observations if known is None else known.and_then(observations)
        results.append(condition(prior, known, stage, ess_threshold=ess_threshold, posterior_draws=posterior_draws,
                                 workers=workers))
    return results


def update(
    scenario: Scenario,
    observations: Observations | str | Path,
    draws: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    ess_threshold: float = DEFAULT_ESS_THRESHOLD,
    posterior_draws: int | None = None,
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
                         posterior_draws=posterior_draws)[0]
