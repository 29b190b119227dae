"""Benchmark: re-forecasting 10,000 prior draws against 20 quarters of observations, on one core.

The observations are a simulated Essex draw's figures for quarters 0-19 (``simsib observe``'s
per-quarter series: referrals, starts, completions, care days, child-days, payments: 120 rows).
Timed separately, each best of ``--repeat``:

* the prior run -- every draw along ``--paths`` paths (excluded from the target);
* **the update**: fitting the synthetic likelihood, every draw's log-likelihood, the weights in
  log space, effective sample size, Pareto k, the prior predictive tails, and systematic
  resampling -- target at most 2 s;
* one adaptive round (``N`` new draws, each along ``--paths`` paths) and its reweighting;
* assembling the posterior: ``--posterior`` draws each along ``--paths`` fresh paths, one kept
  by importance resampling, then the move step (each kept path's future re-simulated from the
  review quarter) -- and the move step alone.

    taskset -c 1 python benchmarks/update.py [--draws 10000] [--paths 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from simsib.analysis.likelihood import RowModel, fit_synthetic, predictive_tail
from simsib.analysis.observe import draw_observations
from simsib.analysis.update_chunks import posterior_chunk
from simsib.analysis.update_pool import adapt, log_weights, simulate_prior
from simsib.analysis.weights import effective_sample_size, normalise, pareto_k, systematic_resample
from simsib.model.streams import update_seed
from simsib.run.observables import continue_history, simulate_history, take_rows
from simsib.scenario.format import all_quantities, per_draw_quantities
from simsib.scenario.loader import load_scenario

QUARTERS = 20
MOVE_QUARTER = 8  # a review with most of the service still to come
TARGET_SECONDS = 2.0


def best(function, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--paths", type=int, default=20)
    parser.add_argument("--posterior", type=int, default=1_000, help="posterior draws to assemble")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    scenario = load_scenario()
    observations = draw_observations(scenario, 2024, scenario.simulation.chunk_size, 1, 0, QUARTERS).observations
    model = RowModel.of(observations)
    rows = len(observations)
    columns = list(range(rows))
    prior_seconds, prior = best(lambda: simulate_prior(scenario, observations, args.draws, 1, paths=args.paths), 1)
    print(f"prior run: {args.draws:,} draws x {args.paths} paths ({args.draws * args.paths:,} simulated contracts), "
          f"{rows} observed rows: {prior_seconds:.1f} s (excluded)")

    def weigh():
        likelihood = fit_synthetic(model, prior.simulated, np.random.default_rng(0))
        loglik = likelihood.log_likelihood(prior.simulated)
        weights, _ = normalise(loglik)
        diagnostics = effective_sample_size(weights), pareto_k(loglik), predictive_tail(model, prior.simulated[:, 0])
        ancestors = systematic_resample(weights, args.draws, np.random.default_rng(1))
        return likelihood, weights, diagnostics, ancestors

    seconds, (likelihood, weights, (ess, k, _), ancestors) = best(weigh, args.repeat)
    print(f"update (likelihood, weights, ESS, Pareto k, predictive tails, resampling) of {args.draws:,} draws "
          f"against {QUARTERS} quarters ({rows} rows): {seconds:.2f} s "
          f"({'within' if seconds <= TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:.0f} s target); "
          f"effective sample size {ess:.1f}, Pareto k {k:.2f}")

    round_seconds, (grown, loglik) = best(lambda: adapt(prior, likelihood, columns, 0, np.inf, 1, 1), 1)
    grown_ess = effective_sample_size(normalise(log_weights(grown, loglik))[0])
    added = grown.n - prior.n
    print(f"one adaptive round ({added:,} new draws x {args.paths} paths, reweighting "
          f"{grown.n:,}): {round_seconds:.1f} s; effective sample size {ess:.1f} -> {grown_ess:.1f}")

    fixed = {key: float(d.value) for key, d in all_quantities(scenario).items() if d.is_fixed}
    chosen = ancestors[:args.posterior]
    inputs = {**{k: prior.draws[k][chosen] for k in per_draw_quantities(scenario)},
              **{k: np.full(len(chosen), v) for k, v in fixed.items()}}
    review = observations.review_quarter
    assemble_seconds, _ = best(lambda: [posterior_chunk(prior.spec, i, {k: v[s:s + 1000] for k, v in inputs.items()},
                                                        args.paths, review, True, 0)
                                        for i, s in enumerate(range(0, len(chosen), 1000))], 1)
    print(f"posterior assembly, {len(chosen):,} draws x {args.paths} paths, importance-resampled, moved: "
          f"{assemble_seconds:.1f} s")
    history = simulate_history(scenario, take_rows(inputs, np.arange(len(chosen))), update_seed(1, 0, 9))
    for quarter in (MOVE_QUARTER, review):
        seconds, _ = best(lambda: continue_history(scenario, inputs, history, quarter, update_seed(1, 0, 10)),
                          args.repeat)
        print(f"the move step alone from quarter {quarter} (each draw's referrals, waiting list and new young "
              f"people re-simulated): {seconds:.2f} s for {len(chosen):,} draws, {1e3 * seconds / len(chosen):.2f} ms a draw")


if __name__ == "__main__":
    main()
