"""Benchmark: the money side of one 1,000-draw chunk -- the compiled waterfall and the whole
settlement (payments, costs, waterfall, stops, reviews) -- for scenarios with and without a
term sheet.  CPU time, best of ``--repeat`` rounds of ``--calls`` calls each; one core.

    taskset -c 1 python benchmarks/settlement.py [--scenarios essex essex-tranches rikers]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from simsib.contract.costs import cost_schedule
from simsib.contract.payments import outcome_payments
from simsib.contract.waterfall import run_waterfall
from simsib.model.inputs import sample_inputs
from simsib.model.referrals import service_close_month
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import draw_columns, settle, simulate_outcomes
from simsib.scenario.loader import bundled_scenario_path, load_scenario


def best_ms(call, calls: int, repeat: int) -> float:
    """Fastest CPU time of one call, in ms, over ``repeat`` rounds of ``calls`` calls."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(calls):
            call()
        times.append((time.process_time() - started) / calls)
    return 1e3 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["essex", "essex-tranches", "rikers"])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"one chunk of {args.draws:,} draws; CPU ms, best of {args.repeat} x {args.calls} calls")
    print(f"{'scenario':<16}{'waterfall':>12}{'settle':>10}{'columns':>10}")
    for name in args.scenarios:
        scenario = load_scenario(bundled_scenario_path(name))
        seed = chunk_seed(1, 0)
        inputs = sample_inputs(scenario, seed, args.draws)
        outcomes, monthly = simulate_outcomes(scenario, inputs, seed)
        envelope = scenario.envelope()
        n, n_cohorts, n_quarters = outcomes.child_days.shape
        served = np.ones((n, n_cohorts), dtype=bool)
        paid = outcome_payments(envelope, inputs, outcomes, served).paid
        costs = cost_schedule(envelope, inputs, outcomes.starts, np.full(n, n_quarters),
                              close_month=service_close_month(envelope, monthly))
        settlement = settle(scenario, inputs, outcomes, monthly)

        def waterfall():
            run_waterfall(envelope, inputs, paid, costs.total, deferrable=costs.service)

        waterfall()  # compile (or load the cached kernel) before timing
        print(f"{name:<16}{best_ms(waterfall, args.calls, args.repeat):>12.2f}"
              f"{best_ms(lambda: settle(scenario, inputs, outcomes, monthly), args.calls, args.repeat):>10.2f}"
              f"{best_ms(lambda: draw_columns(scenario, inputs, settlement, monthly), args.calls, args.repeat):>10.2f}")


if __name__ == "__main__":
    main()
