"""Benchmark: ``simsib commission`` against ``simsib run`` on the same draws, one process.

The comparison simulates each chunk once and prices it four ways, so it should cost little more
than a run: the extra is a second settlement without the SPV (payments and costs, no waterfall),
three valuations of care by quarter, and the provider's working capital.  Target: at most 1.5×
a run's time.  CPU time of this process (other tenants of a shared machine add none), best of
``--repeat``.

    python benchmarks/commission.py [--scenario essex] [--draws 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

from simsib.analysis.commission import commission
from simsib.run.api import simulate
from simsib.scenario.loader import bundled_scenario_path, load_scenario

TARGET_RATIO = 1.5


def best_cpu_seconds(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="essex")
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    scenario = load_scenario(bundled_scenario_path(args.scenario))
    simulate(scenario, draws=scenario.simulation.chunk_size, seed=args.seed, workers=1)  # compile the kernels
    run = best_cpu_seconds(lambda: simulate(scenario, draws=args.draws, seed=args.seed, workers=1), args.repeat)
    compared = best_cpu_seconds(lambda: commission(scenario, draws=args.draws, seed=args.seed, workers=1), args.repeat)
    ratio = compared / run
    print(f"{args.scenario}, {args.draws:,} draws, one process, CPU seconds (best of {args.repeat}): "
          f"simsib run {run:.2f} s, simsib commission {compared:.2f} s = {ratio:.2f}x "
          f"({'within' if ratio <= TARGET_RATIO else 'OVER'} the {TARGET_RATIO}x target)")


if __name__ == "__main__":
    main()
