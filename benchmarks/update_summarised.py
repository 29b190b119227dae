"""Twenty quarters of figures, every one or summarised: what the update's effective sample size makes of them.

The same simulated Essex draw as ``benchmarks/update.py`` (its per-quarter referrals, starts,
completions, care days, child-days and payments for quarters 0-19: 120 figures) updated twice
from the same prior, with all 120 figures and with ``summarise`` (figures to date at each year
end and at quarter 19: 30).  Prints the effective sample size before and after adaptation, the
Pareto k, and where the draw's own inputs and total payments fall in each posterior.

    python benchmarks/update_summarised.py [--draws 4000] [--paths 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time

from simsib.analysis.observe import draw_observations
from simsib.analysis.update import update
from simsib.analysis.weights import weighted_quantiles
from simsib.scenario.loader import load_scenario

INPUTS = ("referrals.referrals_per_month", "referrals.team_start_delay_months", "population.p30_entry",
          "effect.log_hazard_ratio")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--paths", type=int, default=20)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    scenario = load_scenario()
    made = draw_observations(scenario, 2024, scenario.simulation.chunk_size, 1, 0, 20)
    for summarise in (False, True):
        started = time.perf_counter()
        result = update(scenario, made.observations, draws=args.draws, seed=1, paths=args.paths,
                        summarise=summarise, workers=args.workers)
        d = result.diagnostics
        print(f"{'summarised' if summarise else 'every figure'}: {len(result.observations)} figures, "
              f"{time.perf_counter() - started:.0f} s; effective sample size {d.prior_effective_sample_size:.1f} "
              f"from the prior, {d.effective_sample_size:.1f} after {d.adaptive_rounds} adaptive rounds "
              f"({d.pool_draws:,} draws weighted), Pareto k {d.pareto_k:.2f}")
        for key in INPUTS:
            low, high = weighted_quantiles(result.pool.draws[key], result.weights, (0.05, 0.95))
            print(f"  {key:36} truth {made.truth[key]:8.3f}   posterior 90% {low:8.3f} – {high:8.3f}")
        paid = result.draws["outcome_payments"]
        print(f"  {'total outcome payments':36} truth {made.truth['outcome_payments']:10,.0f}   posterior 90% "
              f"{paid.quantile(0.05):10,.0f} – {paid.quantile(0.95):10,.0f}")


if __name__ == "__main__":
    main()
