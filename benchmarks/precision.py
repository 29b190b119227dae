"""Precision per CPU-second: random, Latin hypercube and Sobol sampling of the Essex inputs.

    python benchmarks/precision.py                     # 20 replicates of 10,000 draws per method
    python benchmarks/precision.py --replicates 40 --draws 20000

For each sampling method, ``--replicates`` independent runs (seeds 1, 2, ...) of the bundled
Essex scenario at ``--draws`` draws each, in this process on one core.  For four figures --
mean MOIC on committed capital, P(loss), mean outcome payments and P(cap reached) -- it prints:

- the variance of the estimate across the replicate runs (the truth about precision), and its
  ratio to random sampling's (< 1: the method is more precise at equal draws);
- the mean of the standard errors the runs report, over the spread actually seen (about 1 when
  the reported standard errors are honest; random runs report iid, QMC runs replicate SEs);
- CPU seconds per run, and the CPU time per unit of precision: CPU seconds × variance, relative
  to random (< 1: the method reaches a given precision in less CPU time).

The spread across replicates is itself estimated: with 20 replicates, a variance ratio is
uncertain by about ±45% (its F distribution on 19 and 19 degrees of freedom has a 90% range
of 0.46-2.2), which the table prints next to each ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from simsib.run.api import simulate
from simsib.scenario.loader import load_scenario

FIGURES = (("mean MOIC", "investor", "moic_committed"), ("P(loss)", "investor", "prob_loss"),
           ("mean outcome payments", "council", "outcome_payments"), ("P(cap reached)", "council", "prob_cap_reached"))
METHODS = ("random", "lhs", "sobol")


def estimate(stats_: dict) -> tuple[float, float]:
    value = stats_["value"] if "value" in stats_ else stats_["mean"]
    return value, stats_["se"]


def run_method(method: str, draws: int, replicates: int, within: int) -> dict:
    scenario = load_scenario(None, [f'simulation.sampling="{method}"', f"simulation.replicates={within}"])
    simulate(scenario, draws=200, seed=0)  # numba's and scipy's first calls, not counted
    values = {f: [] for f, _, _ in FIGURES}
    ses = {f: [] for f, _, _ in FIGURES}
    cpu = []
    for seed in range(1, replicates + 1):
        started = time.process_time()
        summary = simulate(scenario, draws=draws, seed=seed).summary_dict
        cpu.append(time.process_time() - started)
        for figure, section, key in FIGURES:
            value, se = estimate(summary[section][key])
            values[figure].append(value)
            ses[figure].append(se)
    return {"values": values, "ses": ses, "cpu": float(np.median(cpu))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--replicates", type=int, default=20, help="independent runs per method")
    parser.add_argument("--within", type=int, default=20, help="QMC replicates inside each run (simulation.replicates)")
    args = parser.parse_args()
    results = {m: run_method(m, args.draws, args.replicates, args.within) for m in METHODS}
    dof = args.replicates - 1
    band = stats.f.ppf([0.05, 0.95], dof, dof)
    print(f"Essex, {args.draws:,} draws a run, {args.replicates} independent runs per method "
          f"(simulation.replicates = {args.within} inside each QMC run), one core")
    print(f"variance ratios are uncertain by a factor in [{band[0]:.2f}, {band[1]:.2f}] (90%, F({dof}, {dof}))\n")
    header = f"{'figure':<24}{'method':<8}{'estimate':>14}{'variance':>13}{'÷ random':>10}{'SE/spread':>11}{'CPU s':>8}{'CPU×var ÷ random':>18}"
    print(header)
    print("-" * len(header))
    for figure, _, _ in FIGURES:
        base = results["random"]
        base_var = np.var(base["values"][figure], ddof=1)
        for method in METHODS:
            r = results[method]
            values = np.array(r["values"][figure])
            variance = np.var(values, ddof=1)
            honest = np.mean(r["ses"][figure]) / np.sqrt(variance)
            work = r["cpu"] * variance / (base["cpu"] * base_var)
            print(f"{figure:<24}{method:<8}{values.mean():>14.6g}{variance:>13.4g}{variance / base_var:>10.3f}"
                  f"{honest:>11.2f}{r['cpu']:>8.2f}{work:>18.3f}")
        print()


if __name__ == "__main__":
    main()
