"""Benchmark: a 5 × 5 sweep of the Essex scenario at 10,000 draws a point.

Cap £5m-£9m against price per care day saved £50-£100, the default metrics (council expected
payment, P(cap reached), investors' P(loss), median IRR).  Both keys are money keys, so care
paths are simulated once per chunk and settled for all 25 points.  Target: under a minute.

    python benchmarks/sweep.py [--draws 10000] [--workers N] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import time

from simsib.analysis.sweep import parse_grid, sweep
from simsib.scenario.loader import bundled_scenario_path, load_raw

GRIDS = ("contract.cap=5e6:9e6:5", "contract.mechanisms.0.price_per_day=50:100:5")
TARGET_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    raw = load_raw(bundled_scenario_path())
    started = time.perf_counter()
    result = sweep(raw, [parse_grid(g) for g in GRIDS], draws=args.draws, seed=args.seed, workers=args.workers)
    seconds = time.perf_counter() - started
    points = len(result.table)
    reused = int(result.table["outcomes_reused"].sum())
    print(f"5 x 5 sweep, essex, {args.draws:,} draws a point, {args.workers} worker(s): "
          f"{points} points ({reused} reusing care paths) in {seconds:.1f} s "
          f"({'within' if seconds < TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:.0f} s target)")


if __name__ == "__main__":
    main()
