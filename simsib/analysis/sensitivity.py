"""Which uncertain input does a result hinge on?  Tornado, rank correlations and Sobol indices.

The inputs ranked are the scenario's uncertain per-draw quantities
(:func:`simsib.scenario.format.per_draw_quantities`): the systematic risks drawn once per draw.

* **Tornado** and **Spearman rank correlation** come from an ordinary Monte Carlo run (with the
  scenario's declared correlations): the metric's mean over the draws whose input lies in its
  bottom decile, and over those in its top decile, each with its standard error.
* **Sobol indices** (first order S1, total order ST, with bootstrap confidence intervals) come
  from SALib's Sobol'/Saltelli design on the inputs' *uniforms*, each mapped to its input
  through the distribution's ``from_uniforms`` (a mixture needs several uniforms: they form one
  group, so it is ranked as one input).  The design assumes independent inputs, so declared
  correlations are ignored here.  Each design row is simulated as its own one-draw chunk from
  one fixed seed, so the model is a deterministic function of the inputs: the children's own
  randomness is held fixed rather than left to add noise to every index (an input with no
  influence gets exactly zero).
"""

from __future__ import annotations

import warnings
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from simsib.analysis.estimates import Metric, estimate, resolve_metric
from simsib.analysis.variants import VariantSet, probe_columns, run_variants
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import stack_draws
from simsib.model.streams import new_entropy
from simsib.run.execution import map_processes
from simsib.run.pipeline import draw_columns, settle, simulate_outcomes
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario, all_quantities, per_draw_quantities

DECILE = 0.10
SOBOL_N = 512  # base samples; SALib wants a power of two
SOBOL_RESAMPLES = 200
CONF_LEVEL = 0.95
ROWS_PER_BATCH = 512
_SOBOL_SPAWN_KEY = 0x5AB0_1D  # a child of the run's SeedSequence no chunk uses
# sensitivity.csv; ``metric`` lets simsib.report.document label the tornado of a run folder.
COLUMNS = ("metric", "input", "low_mean", "low_se", "high_mean", "high_se", "rank_correlation",
           "S1", "S1_conf", "ST", "ST_conf")


# --- tornado and rank correlations --------------------------------------------------------


def tornado(columns: dict[str, np.ndarray], inputs: Sequence[str], metric: Metric) -> pd.DataFrame:
    """Per input: the metric over draws in the input's bottom and top decile, and Spearman's ρ.

    Returns columns ``input, low_mean, low_se, high_mean, high_se, rank_correlation``.
    """
    y = metric.values(columns)
    rows = []
    for key in inputs:
        x = np.asarray(columns[key], dtype=float)
        low_cut, high_cut = np.quantile(x, [DECILE, 1.0 - DECILE])
        low = estimate(metric, {c: v[x <= low_cut] for c, v in columns.items()})
        high = estimate(metric, {c: v[x >= high_cut] for c, v in columns.items()})
        defined = ~np.isnan(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant column has no rank correlation: NaN
            rho = stats.spearmanr(x[defined], y[defined]).statistic if defined.sum() > 2 else np.nan
        rows.append({"input": key, "low_mean": low[0], "low_se": low[1], "high_mean": high[0],
                     "high_se": high[1], "rank_correlation": float(rho)})
    return pd.DataFrame(rows)


# --- Sobol indices ------------------------------------------------------------------------


def sobol_problem(scenario: Scenario) -> dict[str, Any]:
    """SALib problem over the uniforms of the uncertain inputs, grouped by input."""
    names, groups = [], []
    for key, dist in per_draw_quantities(scenario).items():
        for j in range(dist.n_uniforms):
            names.append(f"{key}[{j}]")
            groups.append(key)
    return {"num_vars": len(names), "names": names, "groups": groups, "bounds": [[0.0, 1.0]] * len(names)}


def inputs_from_uniforms(scenario: Scenario, uniforms: np.ndarray) -> DrawInputs:
    """Per-draw inputs from a design matrix ``uniforms`` (rows, the problem's columns)."""
    n = uniforms.shape[0]
    inputs: DrawInputs = {}
    column = 0
    uncertain = per_draw_quantities(scenario)
    for key, dist in all_quantities(scenario).items():
        if key in uncertain:
            inputs[key] = dist.from_uniforms(uniforms[:, column: column + dist.n_uniforms])
            column += dist.n_uniforms
        else:
            inputs[key] = np.full(n, float(dist.value))
    return inputs


def evaluate_rows(
    scenario: Scenario, inputs: DrawInputs, metric: Metric, model_seed: np.random.SeedSequence
) -> np.ndarray:
    """The metric for each row of ``inputs``, each row simulated as a one-draw chunk seeded by
    ``model_seed`` -- so equal inputs give equal results, whatever the row.  Shape (rows,)."""
    n = len(next(iter(inputs.values())))
    outcomes, monthly = [], []
    for row in range(n):
        one = {k: v[row: row + 1] for k, v in inputs.items()}
        o, m = simulate_outcomes(scenario, one, model_seed)
        outcomes.append(o)
        monthly.append(m)
    monthly_starts = np.concatenate(monthly)
    settlement = settle(scenario, inputs, stack_draws(outcomes), monthly_starts)
    return metric.values(draw_columns(scenario, inputs, settlement, monthly_starts))


def _evaluate_batch(scenario, uniforms, metric_name, available, model_seed) -> np.ndarray:
    metric = resolve_metric(metric_name, available)
    return evaluate_rows(scenario, inputs_from_uniforms(scenario, uniforms), metric, model_seed)


def sobol_indices(
    scenario: Scenario,
    metric: Metric,
    base_samples: int,
    seed: np.random.SeedSequence,
    *,
    available: Sequence[str] = (),
    workers: int = 1,
) -> pd.DataFrame:
    """S1, S1_conf, ST, ST_conf per uncertain input (SALib, ``calc_second_order=False``).

    ``base_samples`` N gives N × (inputs + 2) model runs; ``*_conf`` is the half-width of the
    95% bootstrap interval.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    problem = sobol_problem(scenario)
    design_seq, analyze_seq, model_seed = seed.spawn(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns when N is not a power of two
        design = sobol_sample.sample(problem, base_samples, calc_second_order=False,
                                     seed=np.random.default_rng(design_seq))
    batches = [design[i: i + ROWS_PER_BATCH] for i in range(0, len(design), ROWS_PER_BATCH)]
    args = (metric.name, list(available), model_seed)
    if workers > 1 and len(batches) > 1:
        parts = [None] * len(batches)
        with closing(map_processes(_evaluate_batch, [(scenario, b, *args) for b in batches], workers)) as results:
            for position, part in results:
                parts[position] = part
    else:
        parts = [_evaluate_batch(scenario, batch, *args) for batch in batches]
    y = np.concatenate(parts)
    groups = list(dict.fromkeys(problem["groups"]))
    if np.isnan(y).any():
        raise ScenarioError.single(
            "--metric", f"'{metric.name}' is undefined in {np.isnan(y).mean():.1%} of the Sobol runs; Sobol "
            "indices need a metric defined in every draw (e.g. moic_committed, net_benefit)", value=metric.name,
        )
    if np.ptp(y) == 0.0:  # no input moves the metric at all
        zeros = np.zeros(len(groups))
        return pd.DataFrame({"input": groups, "S1": zeros, "S1_conf": zeros, "ST": zeros, "ST_conf": zeros})
    # SALib skips a seed of 0 (`if seed:`), so draw one from 1 up.
    analyze_seed = int(np.random.default_rng(analyze_seq).integers(1, 2**31 - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=SOBOL_RESAMPLES,
                                       conf_level=CONF_LEVEL, seed=analyze_seed)
    return pd.DataFrame({"input": groups, **{k: np.asarray(result[k], dtype=float)
                                             for k in ("S1", "S1_conf", "ST", "ST_conf")}})


# --- the analysis -------------------------------------------------------------------------


@dataclass
class SensitivityResult:
    """Ranked table (:data:`COLUMNS`, most influential first), the metric and run identity."""

    scenario: Scenario
    metric: Metric
    table: pd.DataFrame
    header: dict[str, Any]
    overall: tuple[float, float]  # the metric (value, se) over all draws


def sensitivity(
    scenario: Scenario,
    metric: str = "moic_committed",
    *,
    draws: int | None = None,
    seed: int | None = None,
    sobol_n: int = SOBOL_N,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> SensitivityResult:
    """Rank the uncertain inputs by their influence on ``metric``.

    ``draws`` Monte Carlo draws give the tornado and rank correlations; ``sobol_n`` base samples
    (0 to skip) give Sobol indices.  Ranked by ST, then by the tornado's swing.
    """
    keys = list(per_draw_quantities(scenario))
    if not keys:
        raise ScenarioError.single("", "the scenario has no uncertain per-draw inputs to rank")
    if sobol_n < 0:
        raise ScenarioError.single("--sobol-n", "expected 0 (skip) or a number of base samples", value=sobol_n)
    available = probe_columns(scenario)
    chosen = resolve_metric(metric, available)
    entropy = int(seed) if seed is not None else new_entropy()
    n_draws = int(draws if draws is not None else scenario.simulation.draws)
    (columns,) = run_variants(VariantSet.of(scenario, [scenario]), entropy, n_draws,
                              columns=sorted(set(keys) | set(chosen.columns)), workers=workers, progress=progress)
    table = tornado(columns, keys, chosen)
    if sobol_n:
        sobol_seed = np.random.SeedSequence(entropy, spawn_key=(_SOBOL_SPAWN_KEY,))
        table = table.merge(sobol_indices(scenario, chosen, sobol_n, sobol_seed, available=available,
                                          workers=workers), on="input")
    else:
        for column in ("S1", "S1_conf", "ST", "ST_conf"):
            table[column] = np.nan
    swing = (table["high_mean"] - table["low_mean"]).abs()
    order = np.lexsort((-swing.fillna(-1).to_numpy(), -table["ST"].fillna(-np.inf).to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "metric", chosen.name)
    table = table[list(COLUMNS)]
    header = {"scenario": scenario.meta.name, "metric": chosen.name, "draws": n_draws, "seed": seed,
              "seed_entropy": entropy, "chunk_size": scenario.simulation.chunk_size, "sobol_base_samples": sobol_n,
              "sobol_model_runs": sobol_n * (len(keys) + 2), "sobol_conf_level": CONF_LEVEL,
              "decile": DECILE}
    return SensitivityResult(scenario, chosen, table, header, estimate(chosen, columns))


