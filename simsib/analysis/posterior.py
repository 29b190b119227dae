"""What a re-forecast learned, as tables of numbers: the content of ``update.json``.

* :func:`input_rows` -- prior vs posterior of every per-draw input (mean and 90% interval);
  for a mixture input, each strand's prior weight and posterior weight.  A draw's strand is
  not recorded, so its posterior weight is ``Σ_i w_i · r_ij``, where ``r_ij`` is the
  probability that value ``v_i`` came from strand ``j``
  (``r_ij ∝ weight_j · density_j(v_i)``): the likelihood depends on the strand only through
  the value, so this is exact, and has less Monte Carlo noise than counting strands.
* :func:`strand_pairs` -- the joint posterior weight of every (population strand, effect
  strand) pair, with the council's true savings in each: the pairs the data cannot tell apart.
* :func:`observation_rows` -- each observed figure beside its prior and posterior predictive.
* :func:`likelihood_by_series` -- each series' log-likelihood under the prior and posterior,
  and the log evidence of that series alone.
* :func:`decision_rows` -- continuing vs terminating at the review under the contract's
  termination terms, from the same draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simsib.analysis.likelihood import CONTINUOUS_CV, COUNT_CV, SHARE_SD, RowModel, predictive_tail
from simsib.analysis.update_chunks import TERMINATED
from simsib.analysis.weights import effective_sample_size, normalise, weighted_mean, weighted_quantiles
from simsib.scenario.distributions import Fixed, Mixture
from simsib.scenario.format import Scenario, all_quantities, per_draw_quantities

if TYPE_CHECKING:
    from simsib.analysis.update import UpdateResult

INTERVAL = (0.05, 0.95)
POPULATION_KEY = "population.p30_entry"
EFFECT_KEY = "effect.log_hazard_ratio"
# Decision figures: (column, whose, higher is better for them).
DECISION = (("distributions", "investor", True), ("moic_committed", "investor", True),
            ("investor_profit", "investor", True), ("outcome_payments", "council", False),
            ("true_savings", "council", True), ("net_benefit", "council", True),
            ("young_people_started", "outcomes", True))


def _stats(values: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float | None]:
    values = np.asarray(values, dtype=float)
    w = np.full(values.size, 1.0 / values.size) if weights is None else weights
    mean = weighted_mean(values, w)
    low, high = weighted_quantiles(values, w, INTERVAL)
    clean = (lambda x: None if not np.isfinite(x) else float(x))
    return {"mean": clean(mean), "p05": clean(low), "p95": clean(high)}


def responsibilities(mixture: Mixture, values: np.ndarray) -> np.ndarray:
    """(n, strands) probability that each value came from each strand of ``mixture``."""
    values = np.asarray(values, dtype=float)
    columns = []
    for weight, component in zip(mixture.weights, mixture.components):
        if isinstance(component, Fixed):
            density = (values == float(component.value)).astype(float)
        else:
            frozen = component._frozen()
            density = frozen.pdf(values) if hasattr(frozen, "pdf") else frozen.pmf(values)
        columns.append(weight * np.asarray(density, dtype=float))
    joint = np.column_stack(columns)
    total = joint.sum(axis=1, keepdims=True)
    return np.where(total > 0, joint / np.where(total > 0, total, 1.0), 1.0 / joint.shape[1])


def _strand_label(component: Any, index: int) -> str:
    return getattr(component, "source", None) or f"strand {index + 1}: {component.describe()}"


def input_rows(scenario: Scenario, prior_draws: dict[str, np.ndarray], weighted_draws: dict[str, np.ndarray],
               weights: np.ndarray) -> dict[str, Any]:
    """Prior vs posterior of every per-draw input, keyed by its dotted key.

    ``prior_draws``: the prior's draws; ``weighted_draws`` and ``weights``: the weighted draws
    (prior and adaptive) that represent the posterior.
    """
    quantities = all_quantities(scenario)
    out = {}
    for key in per_draw_quantities(scenario):
        values = weighted_draws[key]
        row: dict[str, Any] = {"prior": _stats(prior_draws[key]), "posterior": _stats(values, weights)}
        dist = quantities[key]
        if isinstance(dist, Mixture):
            r = responsibilities(dist, values)
            row["strands"] = [{"strand": _strand_label(c, j), "prior_weight": float(w),
                               "posterior_weight": float(weights @ r[:, j])}
                              for j, (w, c) in enumerate(zip(dist.weights, dist.components))]
        out[key] = row
    return out


def strand_pairs(scenario: Scenario, prior_draws: dict[str, np.ndarray], weighted_draws: dict[str, np.ndarray],
                 weights: np.ndarray) -> list[dict]:
    """Joint posterior weight of each (population strand, effect strand) pair, and the council's
    mean true savings and payments in it; empty unless both inputs are mixtures."""
    quantities = all_quantities(scenario)
    population, effect = quantities.get(POPULATION_KEY), quantities.get(EFFECT_KEY)
    if not (isinstance(population, Mixture) and isinstance(effect, Mixture)):
        return []

    def joint(draws: dict[str, np.ndarray], i: int, j: int) -> np.ndarray:
        return (responsibilities(population, draws[POPULATION_KEY])[:, i]
                * responsibilities(effect, draws[EFFECT_KEY])[:, j])

    rows = []
    for i, pop in enumerate(population.components):
        for j, eff in enumerate(effect.components):
            posterior = weights * joint(weighted_draws, i, j)
            mass = float(posterior.sum())
            row = {"population": _strand_label(pop, i), "effect": _strand_label(eff, j),
                   "prior_weight": float(joint(prior_draws, i, j).mean()), "posterior_weight": mass}
            for metric in ("true_savings", "outcome_payments", "net_benefit"):
                row[f"posterior_mean_{metric}"] = (float(posterior @ weighted_draws[metric] / mass)
                                                   if mass > 1e-12 else None)
            rows.append(row)
    return rows


def observation_rows(result: UpdateResult) -> list[dict[str, Any]]:
    """Each observed figure, its prior and posterior predictive (simulated values), and how far
    in the tails it lies of each (two-sided, measurement error included)."""
    observations, model = result.observations, RowModel.of(result.observations)
    columns = result.pool.spec.observations.columns(observations)
    prior_values = result.pool.simulated[:result.pool.n_prior, 0][:, columns]  # a path per draw
    prior_tail = predictive_tail(model, prior_values)
    posterior_tail = predictive_tail(model, result.posterior_simulated)
    rows = []
    for j, row in enumerate(observations.rows):
        rows.append({
            "line": row.line, "series": row.series, "month": row.month_end, "quarter": row.quarter,
            "cohort": row.cohort, "value": row.value, "sd": row.sd, "source": row.source,
            "prior": _stats(prior_values[:, j]), "posterior": _stats(result.posterior_simulated[:, j]),
            "prior_tail_p": float(prior_tail[j]), "posterior_tail_p": float(posterior_tail[j]),
        })
    return rows


def likelihood_by_series(result: UpdateResult) -> dict[str, dict[str, float]]:
    """Per series: rows, mean log-likelihood under the prior and the posterior, the log evidence
    of the series alone (log mean likelihood over the prior draws) and the effective sample
    size its rows alone would leave."""
    out = {}
    for series in result.observations.series_used:
        columns = [j for j, row in enumerate(result.observations.rows) if row.series == series]
        loglik = result.log_likelihood[:, columns].sum(axis=1)
        alone, evidence = normalise(loglik)
        finite = np.isfinite(loglik)
        out[series] = {
            "rows": len(columns),
            "prior_mean": float(loglik[finite].mean()) if finite.any() else None,
            "posterior_mean": float(result.weights[finite] @ loglik[finite] / result.weights[finite].sum())
            if finite.any() else None,
            "log_evidence_alone": evidence if np.isfinite(evidence) else None,
            "ess_alone": effective_sample_size(alone) if np.isfinite(evidence) else 0.0,
        }
    return out


def decision_rows(result: UpdateResult) -> list[dict[str, Any]]:
    """Continue vs terminate at the review quarter, per figure: means, the paired difference
    (terminate − continue) with its standard error (from the effective sample size) and the
    probability that terminating is better for whoever the figure matters to."""
    draws, ess = result.draws, min(result.diagnostics.effective_sample_size, len(result.draws))
    rows = []
    for name, whose, higher_better in DECISION:
        go, stop = draws[name].to_numpy(float), draws[f"{TERMINATED}{name}"].to_numpy(float)
        both = ~np.isnan(go) & ~np.isnan(stop)
        difference = stop[both] - go[both]
        better = difference > 0 if higher_better else difference < 0
        rows.append({
            "metric": name, "for": whose, "higher_is_better": higher_better,
            "continue_mean": float(go[both].mean()), "terminate_mean": float(stop[both].mean()),
            "difference_mean": float(difference.mean()),
            "difference_se": float(difference.std(ddof=1) / np.sqrt(ess)) if difference.size > 1 else None,
            "prob_terminate_better": float(better.mean()),
        })
    return rows


def termination_terms(scenario: Scenario) -> str:
    """The contract's termination terms in words (``[contract.termination]``)."""
    terms = scenario.contract.termination
    text = ("terminate at the review date: no new starts and no measurement from it, teams stop; outstanding "
            f"outcome payments {terms.outstanding_payments}")
    floors = [f"{row.fraction:.0%} of capital drawn from month {row.from_month}" for row in terms.early_redemption]
    return text + (f"; early-redemption floor {', '.join(floors)}" if floors else "; no early-redemption floor")


def update_report(result: UpdateResult) -> dict[str, Any]:
    """The content of ``update.json``."""
    diagnostics = result.diagnostics
    q = result.review_quarter
    return {
        "method": {
            "name": ("importance sampling of the inputs with a synthetic likelihood, adaptive proposals, "
                     "systematic resampling, a path per posterior draw by importance resampling, move of the futures"),
            "paths_per_draw": result.pool.paths,
            "observation_model": {
                "counts": f"negative binomial around the draw's count: variance x + ({COUNT_CV} x)^2",
                "days_and_money": f"normal, sd {CONTINUOUS_CV} |x| + floor (30 days, £1,000), truncated at 0",
                "shares": f"normal, sd {SHARE_SD}, truncated to [0, 1]",
                "rows_with_sd": "normal with the row's own sd",
            },
            "likelihood": ("Gaussian with each draw's paths' mean and variance (times 1 + 1/paths) plus the "
                           "measurement variance; rows correlated by one correlation pooled over the prior's paths"),
            "adaptation": ("rounds of Gaussian proposals in the normal scores of the inputs, fitted to the weighted "
                           "draws, with a defensive share of the prior; deterministic-mixture weights"),
            "resampling": "systematic, always (posterior draws equally weighted)",
            "paths": "each posterior draw keeps one of its fresh paths with probability proportional to the "
                     "measurement model's likelihood of the figures along it",
            "move": ("when the effective sample size is below ess_threshold x draws: each posterior draw's "
                     "referrals and new young people from the review quarter simulated afresh; inputs and young "
                     "people already started keep their values"),
            "standard_errors": "Monte Carlo standard errors use the effective sample size",
        },
        "scenario": result.header["scenario"],
        "reference_moic": result.scenario.meta.reference_moic,
        "cap": float(result.scenario.contract.cap.mean()) if result.scenario.contract.cap is not None else None,
        "seed": result.header["seed"],
        "seed_entropy": result.header["seed_entropy"],
        "prior_draws": diagnostics.draws,
        "posterior_draws": diagnostics.posterior_draws,
        "observations": result.observations.file,
        "review_quarter": q,
        "review_month": 3 * q,
        "diagnostics": diagnostics.to_dict(),
        "log_likelihood": likelihood_by_series(result),
        "fit": observation_rows(result),
        "inputs": input_rows(result.scenario, result.pool.prior_draws, result.pool.draws, result.weights),
        "strand_pairs": strand_pairs(result.scenario, result.pool.prior_draws, result.pool.draws, result.weights),
        "decision": {"review_quarter": q, "terms": termination_terms(result.scenario), "rows": decision_rows(result)},
        "warnings": list(diagnostics.warnings),
    }


def _figure(stats: dict, key: str) -> float | None:
    value = stats.get(key)
    return None if value is None else float(value)


def stage_rows(results: list[UpdateResult]) -> list[dict[str, Any]]:
    """The forecast at signing (the prior draws) and after each review, one row each: P(loss),
    MOIC, outcome payments, P(cap reached), the effective sample size, and the weight of each
    strand of the population-risk and effect mixtures (``<input>#<strand number>``)."""
    from simsib.run.summary import summarise

    prior = results[0].pool.prior_draws
    n = results[0].pool.n_prior
    quantities = all_quantities(results[0].scenario)
    mixtures = {key: quantities[key] for key in (POPULATION_KEY, EFFECT_KEY) if isinstance(quantities.get(key), Mixture)}
    prior_summary = summarise(lambda c: prior[c], n)
    stages = [("at signing (prior)", "", 0, prior_summary, prior, np.full(n, 1.0 / n), float(n))]
    for result in results:
        latest = result.observations.file.split(" + ")[-1]
        stages.append((f"after {latest.rsplit('/', 1)[-1]}", result.observations.file, 3 * result.review_quarter,
                       result.summary_dict, result.pool.draws, result.weights,
                       result.diagnostics.effective_sample_size))
    rows = []
    for label, files, month, summary, draws, weights, ess in stages:
        investor, council = summary["investor"], summary["council"]
        row = {"stage": label, "observations": files, "review_month": month, "effective_sample_size": ess,
               "prob_loss": investor["prob_loss"]["value"], "prob_loss_se": investor["prob_loss"]["se"],
               "moic_p05": _figure(investor["moic_committed"], "p05"),
               "moic_median": _figure(investor["moic_committed"], "p50"),
               "moic_p95": _figure(investor["moic_committed"], "p95"),
               "payments_mean": _figure(council["outcome_payments"], "mean"),
               "payments_se": _figure(council["outcome_payments"], "se"),
               "payments_p05": _figure(council["outcome_payments"], "p05"),
               "payments_median": _figure(council["outcome_payments"], "p50"),
               "payments_p95": _figure(council["outcome_payments"], "p95"),
               "prob_cap_reached": council["prob_cap_reached"]["value"],
               "prob_cap_reached_se": council["prob_cap_reached"]["se"],
               "true_savings_mean": _figure(council["true_savings"], "mean")}
        for key, mixture in mixtures.items():
            r = responsibilities(mixture, draws[key])
            for j in range(r.shape[1]):
                row[f"{key}#{j + 1}"] = float(weights @ r[:, j])
        rows.append(row)
    return rows
