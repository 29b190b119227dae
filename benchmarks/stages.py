"""Where one chunk's time goes: each pipeline stage of one Essex chunk, CPU milliseconds.

Runs one chunk (1,000 draws) through ``run_chunk`` and then each stage on its own, every one
``--repeat`` times, and prints the fastest (as ``timeit`` does: other tenants of a shared machine
only ever add time).  The stages are timed on warm inputs, so they add up to a little less than
the whole chunk, whose arrays flow from stage to stage cold.  The care process is timed with and
without the days in care avoided to each 18th birthday (``Needs(horizon=True)``), which every run
asks for.

Also runs on an older tree (``PYTHONPATH=/path/to/tree python benchmarks/stages.py``): before the
waiting list and the council's accounts, the stages had other signatures, and those are used.

    taskset -c 1 python benchmarks/stages.py [--scenario essex] [--repeat 20]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

from simsib.model.inputs import sample_inputs  # noqa: E402
from simsib.model.people import draw_person_variates  # noqa: E402
from simsib.model.referrals import monthly_starts  # noqa: E402
from simsib.model.streams import chunk_seed, stream  # noqa: E402
from simsib.run import pipeline  # noqa: E402
from simsib.run.execution import tune_allocator  # noqa: E402
from simsib.scenario.loader import bundled_scenario_path, load_scenario  # noqa: E402


def best_ms(work, repeat: int) -> float:
    work()
    times = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return 1e3 * min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="essex")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args(argv)
    tune_allocator()
    scenario = load_scenario(bundled_scenario_path(args.scenario))
    envelope = scenario.envelope() if hasattr(scenario, "envelope") else scenario
    chunk, n = chunk_seed(1, 3), args.draws
    inputs = sample_inputs(scenario, chunk, n)

    try:
        stream(chunk, "waiting")
        waiting = True
    except ValueError:  # before the waiting list (no such stream)
        waiting = False

    def referrals():
        extra = (stream(chunk, "waiting"),) if waiting else ()
        return monthly_starts(envelope, inputs, stream(chunk, "referrals"), *extra)

    starts = referrals()[1]
    try:
        from simsib.contract.mechanisms import model_needs
        from simsib.model.processes import simulate_cohorts

        def care(horizon: bool):
            return simulate_cohorts(envelope, inputs, starts, chunk, model_needs(envelope, horizon=horizon))
    except ImportError:  # before cohorts and the council's accounts
        from simsib.contract.mechanisms import milestone_needs
        from simsib.model.processes import simulate_aggregates

        def care(horizon: bool):
            return simulate_aggregates(scenario, inputs, starts, stream(chunk, "people"), *milestone_needs(scenario))

    outcomes, monthly = pipeline.simulate_outcomes(scenario, inputs, chunk)
    try:
        settled = pipeline.settle(scenario, inputs, outcomes, monthly)
        settle = lambda: pipeline.settle(scenario, inputs, outcomes, monthly)  # noqa: E731
    except TypeError:  # before the settlement took the monthly starts
        settled = pipeline.settle(scenario, inputs, outcomes)
        settle = lambda: pipeline.settle(scenario, inputs, outcomes)  # noqa: E731
    stop = getattr(settled, "service_stop", settled.stop_quarter)
    stages = [
        ("run_chunk (the whole chunk)", lambda: pipeline.run_chunk(scenario, 1, 3, n)),
        ("per-draw inputs", lambda: sample_inputs(scenario, chunk, n)),
        ("referrals and waiting list", referrals),
        ("person variates (numpy RNG)", lambda: draw_person_variates(envelope, starts, stream(chunk, "people"))),
        ("care process, without the days to 18", lambda: care(False)),
        ("care process, with them (every run)", lambda: care(True)),
        ("settle (payments, waterfall)", settle),
        ("per-draw columns (metrics, IRR)", lambda: pipeline.draw_columns(scenario, inputs, settled, monthly)),
        ("quarterly series", lambda: pipeline.quarterly_series(monthly, stop, settled.waterfall)),
    ]
    people = starts.sum() / n
    print(f"scenario {args.scenario}: one chunk of {n:,} draws ({people:.0f} young people a draw), "
          f"CPU ms, best of {args.repeat}")
    for name, work in stages:
        print(f"  {name:40s} {best_ms(work, args.repeat):7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
