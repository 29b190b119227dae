"""simsib's engine against the Essex care-path model written the way a careful analyst would.

    taskset -c 1 python benchmarks/peers.py                # 2,000 draws, both in this process
    taskset -c 1 python benchmarks/peers.py --draws 5000 --repeat 3

The peer: a Python loop over draws with numpy inside each draw, written from the model's
description (README "The model", steps 1-3) without any of simsib's machinery.  For each draw it
draws the monthly referrals (ramp-up, negative binomial, capacity, the waiting list, the 380
target), then every
young person (start time, age, completion, one Exp(1) for care entry shared by both paths,
Weibull counterfactual entry, treated entry under the hazard ratio while the effect lasts,
short/long log-normal episodes, one re-entry, all cut at 18 and to the 30-month window), and
sums child-days and care days of both paths per start cohort and calendar quarter -- what the
payment rules need.  It takes the same per-draw inputs as simsib (``sample_inputs``, chunk by
chunk), so only the model itself differs; its random numbers are its own.

simsib's side of the same work is ``simsib.run.pipeline.simulate_outcomes`` (referrals, people,
the compiled care-path kernel, aggregation); its whole chunk (inputs, care paths, payments,
waterfall, metrics: ``run_chunk``) is timed as well, for a ratio that favours the peer.

Printed: CPU seconds and draws per CPU-second of each, the ratios (target: simsib's care-path
engine >= 10x the peer), and a check that the two agree in distribution: for each per-draw
total (starts, child-days, care days with and without MST), the mean per-draw difference
between the two, which must lie within 4 of its standard errors (paired: the inputs are the
same draw by draw, so the differences are independent across draws).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from simsib.model.inputs import sample_inputs
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import run_chunk, simulate_outcomes
from simsib.scenario.loader import load_scenario

DAYS_PER_MONTH = 365.25 / 12
TOTALS = ("starts", "child_days", "care_days_treated", "care_days_counterfactual")


def peer_draw(sc, x: dict[str, float], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One draw of the Essex care-path model: sums per (start cohort, quarter) and starts."""
    r, c = sc.referrals, sc.contract
    months = np.arange(r.service_end_month, dtype=float)
    # Teams, ramp-up, referrals, capacity, target.
    team_starts = r.service_start_month + x["referrals.team_start_delay_months"] \
        + np.arange(r.teams) * x["referrals.team_stagger_months"]
    active = np.clip(months[None, :] + 1 - np.maximum(team_starts[:, None], months[None, :]), 0, 1).mean(axis=0)
    ramp_months = x["referrals.ramp_months"]
    progress = np.clip((months + 0.5 - team_starts.min()) / ramp_months, 0, 1) if ramp_months > 0 else 1.0
    ramp = x["referrals.ramp_initial_fraction"] + (1 - x["referrals.ramp_initial_fraction"]) * progress
    mean = x["referrals.referrals_per_month"] * ramp * active * x["referrals.referral_conversion"]
    mean[: r.service_start_month] = 0.0
    k = x["referrals.referral_dispersion"]
    converted = rng.poisson(rng.gamma(k, mean / k))
    per_team = x["referrals.therapists_per_team"] * x["referrals.caseload_per_therapist"] / x["referrals.months_per_case"]
    places = np.floor(active * r.teams * per_team + 0.5).astype(int)
    starts = waiting_list(converted, places, r.max_wait_months, x["referrals.waiting_dropout_per_month"],
                          r.target_young_people, r.target_rule == "ceiling", rng)
    # Young people.
    n = int(starts.sum())
    start = np.repeat(months, starts) + rng.random(n)
    ages = sc.population.age_at_start
    age = rng.choice(np.asarray(ages.values), size=n, p=np.asarray(ages.weights)) + rng.random(n)
    completed = rng.random(n) < x["effect.completion_rate"]
    to18 = (18 - age) * 12
    window = np.clip(np.minimum(np.minimum(c.tracking_months, to18), c.measurement_end_month - start), 0, None)
    shape = x["population.weibull_shape"]
    scale = 30 / (-np.log1p(-min(x["population.p30_entry"], 1 - 1e-15))) ** (1 / shape)
    e = rng.standard_exponential(n)
    entry0 = scale * e ** (1 / shape)
    hr = np.exp(x["effect.log_hazard_ratio"] * np.where(completed, 1.0, x["effect.non_completer_effect_share"]))
    h_effect = (x["effect.duration_months"] / scale) ** shape
    cum = np.where(e <= hr * h_effect, e / hr, e + (1 - hr) * h_effect)
    entry1 = scale * cum ** (1 / shape)

    def stay(u, z):
        short = u < x["care.short_stay_share"]
        median = np.where(short, x["care.short_stay_median_months"], x["care.long_stay_median_months"])
        return median * np.exp(np.where(short, x["care.short_stay_sigma"], x["care.long_stay_sigma"]) * z)

    d1 = stay(rng.random(n), rng.standard_normal(n))
    reenters = rng.random(n) < x["care.reentry_probability"]
    gap = rng.standard_exponential(n) * x["care.reentry_gap_mean_months"]
    d2 = stay(rng.random(n), rng.standard_normal(n))
    # Quarters of the horizon, and each person's cohort.
    edges = np.arange(sc.n_quarters + 1) * 3.0
    cohort = (start // 3).astype(int)

    def by_quarter(begin, end):  # calendar intervals -> (n_cohorts, n_quarters) days
        overlap = np.clip(np.minimum(end[:, None], edges[None, 1:]) - np.maximum(begin[:, None], edges[None, :-1]),
                          0, None)
        out = np.zeros((sc.n_cohorts, sc.n_quarters))
        np.add.at(out, cohort, overlap)
        return out * DAYS_PER_MONTH

    def care(entry):  # both episodes, cut at 18 and to the window, in calendar months
        total = np.zeros((sc.n_cohorts, sc.n_quarters))
        first_in = entry < to18
        leave1 = np.minimum(entry + d1, to18)
        entry2 = np.where(reenters & first_in & (entry + d1 < to18), entry + d1 + gap, np.inf)
        for begin, end in ((np.where(first_in, entry, np.inf), leave1), (entry2, np.minimum(entry2 + d2, to18))):
            begin, end = np.minimum(begin, window), np.minimum(end, window)
            total += by_quarter(start + begin, start + np.maximum(end, begin))
        return total

    return {"starts": np.array(n), "child_days": by_quarter(start, start + window),
            "care_days_treated": care(entry1), "care_days_counterfactual": care(entry0)}


def waiting_list(converted, places, max_wait: int, dropout: float, target, ceiling: bool, rng) -> np.ndarray:
    """Monthly starts: the families waiting (oldest first) and the month's arrivals take the
    places; the oldest group left over lapses, the others each lose Binomial(n, dropout) and wait
    on; once the starts reach the target the service takes no more referrals (a ceiling also
    turns the waiting families away)."""
    queue = [0] * max_wait  # queue[0] has waited longest
    starts = np.zeros(len(converted), dtype=int)
    started, open_ = 0, True
    for m, arrivals in enumerate(converted):
        room = int(places[m])
        if target is not None and ceiling:
            room = min(room, max(target - started, 0))
        groups = queue + [int(arrivals) if open_ else 0]
        taken = []
        for group in groups:
            take = min(group, room)
            taken.append(take)
            room -= take
        starts[m] = sum(taken)
        started += starts[m]
        left = [g - t for g, t in zip(groups, taken)]
        queue = [n - rng.binomial(n, dropout) for n in left[1:]] if max_wait > 0 else []
        if target is not None and open_ and started >= target:
            open_ = False
            if ceiling:
                queue = [0] * max_wait
    return starts


def run_peer(sc, chunks, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {name: [] for name in TOTALS}
    for inputs in chunks:
        for d in range(len(inputs["effect.log_hazard_ratio"])):
            sums = peer_draw(sc, {k: float(v[d]) for k, v in inputs.items()}, rng)
            for name in TOTALS:
                out[name].append(float(np.sum(sums[name])))
    return {name: np.array(values) for name, values in out.items()}


def run_simsib(sc, chunks, entropy: int) -> dict[str, np.ndarray]:
    out = {name: [] for name in TOTALS}
    for i, inputs in enumerate(chunks):
        cube, _ = simulate_outcomes(sc, inputs, chunk_seed(entropy, i))
        out["starts"].append(cube.starts.sum(axis=1))
        for name in TOTALS[1:]:
            out[name].append(cube.by_cohort(name).sum(axis=1))
    return {name: np.concatenate(values) for name, values in out.items()}


def timed(work, repeat: int) -> tuple[float, object]:
    best, result = np.inf, None
    for _ in range(repeat):
        started = time.process_time()
        result = work()
        best = min(best, time.process_time() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timings of each; the fastest is kept")
    args = parser.parse_args()
    sc = load_scenario()
    size = sc.simulation.chunk_size
    sizes = [size] * (args.draws // size) + ([args.draws % size] if args.draws % size else [])
    chunks = [sample_inputs(sc, chunk_seed(args.seed, i), n) for i, n in enumerate(sizes)]
    run_simsib(sc, chunks[:1], args.seed)  # numba's cached kernels load on first use: not counted

    peer_s, peer = timed(lambda: run_peer(sc, chunks, args.seed), args.repeat)
    engine_s, engine = timed(lambda: run_simsib(sc, chunks, args.seed), args.repeat)
    whole_s, _ = timed(lambda: [run_chunk(sc, args.seed, i, n, quarterly=False) for i, n in enumerate(sizes)],
                       args.repeat)
    n = args.draws
    print(f"Essex, {n:,} draws, same per-draw inputs, one process; CPU seconds, best of {args.repeat}")
    print(f"  peer: Python loop over draws, numpy inside     {peer_s:7.2f} s  {n / peer_s:9,.0f} draws/CPU-s")
    print(f"  simsib care-path engine (simulate_outcomes)    {engine_s:7.2f} s  {n / engine_s:9,.0f} draws/CPU-s"
          f"  {peer_s / engine_s:5.1f}x the peer  (target >= 10x: {'met' if peer_s / engine_s >= 10 else 'MISSED'})")
    print(f"  simsib whole chunk (inputs ... metrics)        {whole_s:7.2f} s  {n / whole_s:9,.0f} draws/CPU-s"
          f"  {peer_s / whole_s:5.1f}x the peer, doing more")
    print("\nagreement in distribution: means over draws, and the mean per-draw difference with its standard\n"
          "error (paired: both ran on the same inputs, so only their own random numbers differ); agree if |z| < 4")
    for name in TOTALS:
        a, b = peer[name], engine[name]
        diff = a - b
        z = diff.mean() / (diff.std(ddof=1) / np.sqrt(diff.size))
        print(f"  {name:<26} peer {a.mean():12,.1f}   simsib {b.mean():12,.1f}   difference {diff.mean():+10,.1f}"
              f" ± {diff.std(ddof=1) / np.sqrt(diff.size):8,.1f}   z = {z:+.2f}  {'agree' if abs(z) < 4 else 'DIFFER'}")


if __name__ == "__main__":
    main()
