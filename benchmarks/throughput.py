"""Single-core throughput of the simulation kernel, against the RNG floor.

Runs every chunk of an ``--draws`` run through :func:`simsib.run.pipeline.run_chunk` in this one
process (what ``--workers 1`` does, without the output files) and prints:

* draws per second;
* person-paths per second per core (young people simulated, with both their care paths);
* the ratio of simsib's time to the **RNG floor**: the time numpy needs, in this process, just
  to generate the random variates the run consumes -- per young person the 11 variates
  ``model.people.draw_person_variates`` draws (7 uniform, 2 exponential, 2 normal), per
  draw-month the gamma and Poisson variates of the converted referrals (with the run's own
  parameters), and per draw one uniform per uncertain input.

Times are wall-clock and CPU (``time.process_time``); on a shared machine CPU time is the
steadier figure, and the targets are checked against it.  Both the run and the floor are
timed ``--repeat`` times, alternating, and the fastest of each is reported (as ``timeit``
does): other tenants of a shared machine only ever add time.  Targets: 100,000 Essex draws in
≤ 15 s on one core; ≥ 5 million person-paths a second per core; ≤ 3× the RNG floor.

    python benchmarks/throughput.py                      # 100,000 draws of essex
    python benchmarks/throughput.py --draws 20000 --profile 25
"""

from __future__ import annotations

import os

# One core: keep any BLAS or OpenMP pool out of the measurement.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

from simsib.model.inputs import sample_inputs  # noqa: E402
from simsib.model.referrals import expected_referrals, monthly_starts  # noqa: E402
from simsib.model.streams import chunk_seed, stream  # noqa: E402
from simsib.run.execution import tune_allocator  # noqa: E402
from simsib.run.pipeline import run_chunk  # noqa: E402
from simsib.run.plan import RunPlan  # noqa: E402
from simsib.scenario.format import Scenario, all_quantities  # noqa: E402
from simsib.scenario.loader import load_scenario  # noqa: E402

TARGET_SECONDS_PER_100K = 15.0
TARGET_PATHS_PER_CORE = 5e6
TARGET_FLOOR_RATIO = 3.0
PERSON_VARIATES = {"random": 7, "standard_exponential": 2, "standard_normal": 2}  # = 11
# Pipeline stages shown in the profile breakdown: (label, function name).
STAGES = (
    ("per-draw inputs", "sample_inputs"),
    ("referrals", "monthly_starts"),
    ("people: numpy model", "simulate_people"),
    ("aggregate: numpy model", "aggregate"),
    ("people + aggregate: compiled path", "simulate_aggregates"),
    ("  person variates (numpy RNG)", "draw_person_variates"),
    ("  compiled kernel", "accumulate_paths"),
    ("settle (payments, waterfall)", "settle"),
    ("per-draw columns (metrics, IRR)", "draw_columns"),
    ("quarterly series", "quarterly_series"),
)


@dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0

    def __iadd__(self, other: "Timing") -> "Timing":
        self.wall += other.wall
        self.cpu += other.cpu
        return self


class Clock:
    """Context manager adding the wall and CPU time of its block to a Timing."""

    def __init__(self, into: Timing):
        self.into = into

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.into += Timing(time.perf_counter() - self.wall, time.process_time() - self.cpu)


def run_kernel(plan: RunPlan) -> Timing:
    """Every chunk through run_chunk, in this process (quarterly series as a real run keeps them)."""
    timing = Timing()
    with Clock(timing):
        for index, size in plan.chunks:
            run_chunk(plan.scenario, plan.entropy, index, size,
                      quarterly=plan.wants_quarterly(index), cashflows=plan.cashflows)
    return timing


@dataclass
class Consumption:
    """Random variates a run consumes, and the time numpy takes to generate just those."""

    people: int = 0
    draw_months: int = 0
    waiting_variates: int = 0
    input_variates: int = 0
    floor: Timing = None

    @property
    def variates(self) -> int:
        return 11 * self.people + 2 * self.draw_months + self.waiting_variates + self.input_variates


def rng_floor(plan: RunPlan) -> Consumption:
    """Count the run's variates chunk by chunk, and time generating the same ones.

    The counts come from the run's own inputs and referrals (untimed); the timed part draws,
    from a fresh PCG64 generator like simsib's streams, arrays of the same sizes, and for the
    referrals the same gamma shapes and means.
    """
    scenario: Scenario = plan.scenario
    uncertain = sum(not dist.is_fixed for dist in all_quantities(scenario).values())
    used = Consumption(floor=Timing())
    for index, size in plan.chunks:
        chunk = chunk_seed(plan.entropy, index)
        inputs = sample_inputs(scenario, chunk, size)
        _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
        mean = expected_referrals(scenario, inputs) * inputs["referrals.referral_conversion"][:, None]
        dispersion = np.broadcast_to(inputs["referrals.referral_dispersion"][:, None], mean.shape)
        n_people = int(starts.sum())
        used.people += n_people
        used.draw_months += starts.size
        waiting = starts.size * scenario.referrals.max_wait_months  # one uniform per group and month
        used.waiting_variates += waiting
        used.input_variates += uncertain * size
        rng = np.random.Generator(np.random.PCG64(index))
        with Clock(used.floor):
            for _ in range(uncertain):
                rng.random(size)
            rng.poisson(rng.gamma(dispersion, mean / dispersion))
            rng.random(waiting)
            for method, count in PERSON_VARIATES.items():
                for _ in range(count):
                    getattr(rng, method)(n_people)
    return used


def profile(plan: RunPlan, chunks: int, top: int) -> None:
    """cProfile of the first ``chunks`` chunks: stage breakdown, then the top functions."""
    profiler = cProfile.Profile(time.process_time)  # CPU time: steady on a shared machine
    selected = plan.chunks[:chunks]
    profiler.enable()
    for index, size in selected:
        run_chunk(plan.scenario, plan.entropy, index, size,
                  quarterly=plan.wants_quarterly(index), cashflows=plan.cashflows)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = max(stats.total_tt, 1e-12)
    by_name: dict[str, float] = {}
    for (filename, _, name), (_, _, _, cumulative, _) in stats.stats.items():
        if "simsib" in filename:
            by_name[name] = max(by_name.get(name, 0.0), cumulative)
    print(f"\nprofile of {len(selected)} chunks ({sum(n for _, n in selected):,} draws), "
          f"{total:.2f} s of CPU under cProfile")
    print("stage                               share")
    for label, name in STAGES:
        if name in by_name:
            print(f"  {label:<34}{by_name[name] / total:6.1%}")
    print()
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--scenario", default=None, help="scenario file [default: the bundled essex]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=None, help="[default: the scenario's]")
    parser.add_argument("--repeat", type=int, default=3, help="time run and floor this many times; keep the best")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="also profile a few chunks and print the TOP functions")
    parser.add_argument("--profile-chunks", type=int, default=10)
    parser.add_argument("--no-tune", action="store_true",
                        help="leave glibc malloc as it is (workers call execution.tune_allocator)")
    args = parser.parse_args(argv)
    if not args.no_tune:
        tune_allocator()  # as every process running chunks does

    overrides = [f"simulation.chunk_size={args.chunk_size}"] if args.chunk_size else []
    scenario = load_scenario(args.scenario, overrides)
    plan = RunPlan(scenario=scenario, entropy=args.seed, draws=args.draws,
                   chunk_size=scenario.simulation.chunk_size,
                   quarterly_sample=scenario.simulation.quarterly_sample)
    warm = RunPlan(scenario=scenario, entropy=args.seed + 1, draws=plan.chunk_size,
                   chunk_size=plan.chunk_size, quarterly_sample=plan.quarterly_sample)
    run_kernel(warm)  # imports, caches, first-touch allocations

    runs, floors = [], []
    for _ in range(max(args.repeat, 1)):
        runs.append(run_kernel(plan))
        used = rng_floor(plan)  # the same counts every time
        floors.append(used.floor)
    kernel = min(runs, key=lambda timing: timing.cpu)
    floor = min(floors, key=lambda timing: timing.cpu)

    print(f"scenario {scenario.meta.name}: {args.draws:,} draws in {len(plan.chunks)} chunks of "
          f"{plan.chunk_size:,}, one process (pid {os.getpid()}), numpy {np.__version__}, "
          f"allocator {'as is' if args.no_tune else 'tuned'}, best of {len(runs)}")
    print("                                 wall        CPU")
    print(f"simsib (run_chunk loop)     {kernel.wall:9.2f} s {kernel.cpu:9.2f} s")
    print(f"RNG floor                   {floor.wall:9.2f} s {floor.cpu:9.2f} s   "
          f"({used.variates / 1e6:,.0f} M variates: {used.people:,} people x 11, "
          f"{used.draw_months:,} draw-months x 2, {used.waiting_variates:,} waiting-list uniforms, "
          f"{used.input_variates:,} input draws)")
    print(f"  (CPU of every repeat: run {', '.join(f'{t.cpu:.2f}' for t in runs)} s; "
          f"floor {', '.join(f'{t.cpu:.2f}' for t in floors)} s)")
    print(f"draws per second            {args.draws / kernel.wall:9,.0f}   {args.draws / kernel.cpu:9,.0f}")
    print(f"person-paths/s per core     {used.people / kernel.wall / 1e6:9.2f} M {used.people / kernel.cpu / 1e6:9.2f} M"
          f"   ({used.people / args.draws:,.0f} people per draw)")
    print(f"time / RNG floor            {kernel.wall / floor.wall:9.1f}x  {kernel.cpu / floor.cpu:9.1f}x")

    per_100k = kernel.cpu * 1e5 / args.draws
    checks = (
        (f"100,000 draws in <= {TARGET_SECONDS_PER_100K:.0f} s (CPU, scaled)", per_100k <= TARGET_SECONDS_PER_100K,
         f"{per_100k:.1f} s"),
        (f">= {TARGET_PATHS_PER_CORE / 1e6:.0f} M person-paths/s per core", used.people / kernel.cpu >= TARGET_PATHS_PER_CORE,
         f"{used.people / kernel.cpu / 1e6:.2f} M"),
        (f"<= {TARGET_FLOOR_RATIO:.0f}x the RNG floor", kernel.cpu / floor.cpu <= TARGET_FLOOR_RATIO,
         f"{kernel.cpu / floor.cpu:.1f}x"),
    )
    print("\ntargets")
    for label, ok, value in checks:
        print(f"  {'met ' if ok else 'MISS'}  {label:<44} {value}")

    if args.profile:
        profile(plan, args.profile_chunks, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
