"""Simulation-based calibration of ``simsib update``: the figures behind tests/test_update_calibration.py.

Synthetic truths from the Essex prior, each observed to date at a random quarter (4-16) and
updated from a fresh prior; prints, per quantity, the Kolmogorov–Smirnov p-value of the
posterior PITs against U(0, 1) and of an overconfident control (weights to the fourth power),
the histogram of the PITs in tenths, the coverage of the posterior 90% interval of total
outcome payments, and the effective sample sizes.

    python benchmarks/calibration.py [--truths 100] [--draws 300] [--paths 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from simsib.analysis.calibration import calibrate, coverage, uniformity
from simsib.scenario.loader import load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truths", type=int, default=100)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--paths", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--posterior-paths", type=int, default=40, help="paths each posterior draw keeps one of")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    started = time.perf_counter()
    result = calibrate(load_scenario(), args.truths, draws=args.draws, paths=args.paths, seed=args.seed,
                       max_rounds=args.rounds, posterior_paths=args.posterior_paths, workers=args.workers)
    seconds = time.perf_counter() - started
    print(f"{args.truths} truths, {args.draws} prior draws x {args.paths} paths each, up to {args.rounds} adaptive "
          f"rounds, posterior paths from {args.posterior_paths}, {args.workers} worker(s): {seconds:.0f} s")
    print(f"{'quantity':38} {'KS p (posterior)':>17} {'KS p (control)':>15}  PIT histogram (tenths)")
    for name in result.quantities:
        histogram = np.histogram(result.posterior_pit[name], bins=10, range=(0, 1))[0]
        print(f"{name:38} {uniformity(result.posterior_pit[name]):17.3f} "
              f"{uniformity(result.control_pit[name]):15.2g}  {' '.join(f'{h:2d}' for h in histogram)}")
    share, se = coverage(result.covered)
    print(f"central 90% of total outcome payments (randomised PIT) holds the truth in {share:.0%} of cases "
          f"(nominal 90% ± 2 se = {0.9 - 2 * se:.0%}-{0.9 + 2 * se:.0%}); the plain interval [p05, p95] in "
          f"{result.covered_plain.mean():.0%}, {result.at_atom.mean():.0%} of truths on an atom (the cap, or none); "
          f"payments already made at the review: {result.covered_to_date.mean():.0%}")
    ess = result.effective_sample_sizes
    print(f"effective sample size: median {np.median(ess):.0f}, 5th percentile {np.percentile(ess, 5):.0f}, "
          f"smallest {ess.min():.1f}")


if __name__ == "__main__":
    main()
