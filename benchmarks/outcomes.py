"""Single-core speed of the outcome processes beyond Essex, and what the new measures cost.

Runs every chunk of a ``--draws`` run of a scenario through :func:`simsib.run.pipeline.run_chunk`
in this one process (what ``--workers 1`` does, without the output files) and prints draws per
second, people per second and, for recurrent-event cohorts, events per draw.  Target: the
Peterborough scenario (about 2,000 men a draw, about one event each a year) runs 10,000 draws in
under 10 s on one core.

With ``--horizon`` it also times the care process alone on Essex's chunks with and without the
days in care to each person's age limit (``Needs(horizon=True)``), which the council's accounting
beyond the tracking window asks for: the cost of that measure.

Times are the best of ``--repeat`` runs (CPU time; other tenants of a shared machine only add).

    python benchmarks/outcomes.py                              # peterborough, 10,000 draws
    python benchmarks/outcomes.py --scenario suffolk
    python benchmarks/outcomes.py --horizon --horizon-draws 30000
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from simsib.model.inputs import sample_inputs  # noqa: E402
from simsib.model.outcomes import Needs  # noqa: E402
from simsib.model.processes import simulate_cohorts  # noqa: E402
from simsib.model.referrals import monthly_starts  # noqa: E402
from simsib.model.streams import chunk_seed, stream  # noqa: E402
from simsib.run.execution import tune_allocator  # noqa: E402
from simsib.run.pipeline import run_chunk  # noqa: E402
from simsib.run.plan import RunPlan  # noqa: E402
from simsib.scenario.loader import bundled_scenario_path, load_scenario  # noqa: E402

TARGET_PETERBOROUGH_SECONDS = 10.0  # for 10,000 draws on one core


def best_cpu(work, repeat: int) -> float:
    """The least CPU time of ``repeat`` calls of ``work()``."""
    times = []
    for _ in range(max(repeat, 1)):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def run_all(plan: RunPlan) -> dict[str, float]:
    """Every chunk through run_chunk; returns people and events summed over the run."""
    people = events = 0.0
    for index, size in plan.chunks:
        chunk = run_chunk(plan.scenario, plan.entropy, index, size, quarterly=plan.wants_quarterly(index))
        people += chunk.draws["young_people_started"].sum()
        if "events_counterfactual" in chunk.draws:
            events += chunk.draws["events_counterfactual"].sum()
    return {"people": people, "events": events}


def scenario_speed(name: str, draws: int, seed: int, repeat: int) -> None:
    scenario = load_scenario(bundled_scenario_path(name))
    plan = RunPlan(scenario=scenario, entropy=seed, draws=draws, chunk_size=scenario.simulation.chunk_size,
                   quarterly_sample=scenario.simulation.quarterly_sample)
    run_chunk(scenario, seed + 1, 0, min(draws, scenario.simulation.chunk_size))  # imports, compiled code
    totals = {}
    cpu = best_cpu(lambda: totals.update(run_all(plan)), repeat)
    print(f"scenario {name}: {draws:,} draws in {len(plan.chunks)} chunks, one process, best of {repeat}")
    print(f"  CPU                 {cpu:8.2f} s")
    print(f"  draws per second    {draws / cpu:8,.0f}")
    print(f"  people per second   {totals['people'] / cpu / 1e6:8.2f} M   ({totals['people'] / draws:,.0f} a draw)")
    if totals["events"]:
        print(f"  events per draw     {totals['events'] / draws:8,.0f}   (counterfactual, served people)")
    if name == "peterborough":
        scaled = cpu * 10_000 / draws
        ok = scaled < TARGET_PETERBOROUGH_SECONDS
        print(f"  {'met ' if ok else 'MISS'}  10,000 draws in < {TARGET_PETERBOROUGH_SECONDS:.0f} s on one core: "
              f"{scaled:.2f} s")


def horizon_cost(draws: int, seed: int, repeat: int) -> None:
    """The care process on Essex's chunks, with and without the days to the age limit."""
    scenario = load_scenario(bundled_scenario_path("essex"))
    size = scenario.simulation.chunk_size
    chunks = []
    for index in range(max(draws // size, 1)):
        seq = chunk_seed(seed, index)
        inputs = sample_inputs(scenario, seq, size)
        _, starts = monthly_starts(scenario, inputs, stream(seq, "referrals"), stream(seq, "waiting"))
        chunks.append((seq, inputs, starts))

    def care(needs: Needs) -> None:
        for seq, inputs, starts in chunks:
            simulate_cohorts(scenario, inputs, starts, seq, needs)

    care(Needs(horizon=True))  # compile and warm both paths
    plain = best_cpu(lambda: care(Needs()), repeat)
    horizon = best_cpu(lambda: care(Needs(horizon=True)), repeat)
    people = sum(int(starts.sum()) for _, _, starts in chunks)
    print(f"essex care process, {len(chunks) * size:,} draws ({people:,} people), best of {repeat}:")
    print(f"  without the days to the age limit   {plain:6.2f} s CPU")
    print(f"  with them (Needs(horizon=True))     {horizon:6.2f} s CPU   (+{horizon / plain - 1:.0%} of the care "
          "process)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="peterborough")
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--horizon", action="store_true", help="also time Essex's care paths to the age limit")
    parser.add_argument("--horizon-draws", type=int, default=30_000)
    args = parser.parse_args(argv)
    tune_allocator()
    np.seterr(all="ignore")
    scenario_speed(args.scenario, args.draws, args.seed, args.repeat)
    if args.horizon:
        horizon_cost(args.horizon_draws, args.seed, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
