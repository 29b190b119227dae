"""Payment mechanisms compared on the same care paths, each priced to cost the same on average.

The Essex evaluation found its mechanism over-complicated.  Would a simpler one have served the
council and the investors as well?  This module settles several mechanisms on *one* simulation
of referrals and care paths (common random numbers: the same children, the same care days):

* the scenario's own mechanism(s), as declared;
* ``days_out_of_care`` with a 33% deadweight deduction (Norfolk, E50);
* ``milestone``: a price per 7 consecutive days out of care (Positive Families Partnership, E52);
* ``per_person``: one price per young person out of care for the first 52 weeks (after
  Birmingham's 52-week milestone, E53).

Each alternative's price is set -- by secant steps on a bracket, starting from the linear
scaling that would be exact without caps or service stops -- so that its expected payment,
over the same draws, equals the scenario's own.  The contract's caps, lag and measurement end
apply to every mechanism alike.  For each: the council's chance of paying more than it truly
saved, the spread of payments, the investors' chance of a loss and their median IRR.
"""

from __future__ import annotations

import copy
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from simsib.analysis.estimates import METRICS, estimate
from simsib.analysis.variants import chunk_sizes, derive_inputs, reuses_outcomes
from simsib.model.inputs import sample_inputs
from simsib.model.qmc import prepare_sobol
from simsib.model.streams import chunk_seed, new_entropy
from simsib.run.pipeline import draw_columns, replicate_column, settle, simulate_outcomes
from simsib.run.processes import map_processes
from simsib.run.summary import PERCENTILES
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario
from simsib.scenario.variants import build_variant

PRICE_FIELD = {"days_saved_vs_baseline": "price_per_day", "days_out_of_care": "price_per_day",
               "milestone": "price", "engagement": "price_per_person"}
# name -> (description, mechanism table at a starting price; the price is then solved for)
ALTERNATIVES: dict[str, tuple[str, dict[str, Any]]] = {
    "days_out_of_care": (
        "price per day out of care in the window, less 33% deadweight (Norfolk, E50)",
        {"type": "days_out_of_care", "price_per_day": 10.0,
         "deadweight_share": {"value": 0.33, "source": "E50: 33% deadweight on the edge-of-care cohort"}},
    ),
    "milestone": (
        "price per block of 7 consecutive days out of care (Positive Families Partnership, E52)",
        {"type": "milestone", "price": 50.0, "block_days": 7, "repeat": True},
    ),
    "per_person": (
        "one price per young person out of care for the first 52 weeks from start (after E53)",
        {"type": "milestone", "price": 5_000.0, "block_days": 364, "repeat": False},
    ),
}
RELATIVE_TOLERANCE = 1e-6  # of the target expected payment
MAX_STEPS = 80
FIGURES = ("outcome_payments", "prob_pays_more_than_saved", "prob_loss", "median_irr",
           "true_savings", "deadweight_share")


@dataclass
class _Chunk:
    outcomes: Any
    monthly: np.ndarray
    base_inputs: dict[str, np.ndarray]
    seed: np.random.SeedSequence
    size: int


class _SharedPaths:
    """Every chunk's simulated care paths, held in memory so mechanisms can be settled again
    and again while their prices are solved for."""

    def __init__(self, outcome_base: Scenario, entropy: int, draws: int, *, workers: int = 1,
                 progress: Callable[[int], None] | None = None):
        self.base = outcome_base
        plan = chunk_sizes(draws, outcome_base.simulation.chunk_size)
        calls = [(outcome_base, entropy, index, size) for index, size in plan]
        chunks: dict[int, _Chunk] = {}
        if workers <= 1 or len(plan) <= 1:
            results = ((position, _simulate_chunk(*call)) for position, call in enumerate(calls))
        else:
            prepare_sobol(outcome_base, entropy)  # drawn once here; the forked workers inherit it
            results = map_processes(_simulate_chunk, calls, workers)
        with closing(results):
            for position, chunk in results:
                chunks[position] = chunk
                if progress:
                    progress(chunk.size)
        # In chunk order, whatever order the workers finished in: the numbers do not depend on it.
        self.chunks = [chunks[position] for position in range(len(plan))]

    def inputs(self, variant: Scenario) -> list[dict[str, np.ndarray]]:
        return [derive_inputs(self.base, c.base_inputs, variant, c.seed, c.size) for c in self.chunks]

    def expected_payment(self, variant: Scenario, inputs: list[dict[str, np.ndarray]]) -> float:
        total = sum(settle(variant, i, c.outcomes, c.monthly).payments.paid.sum() for i, c in zip(inputs, self.chunks))
        return float(total / sum(c.size for c in self.chunks))

    def columns(self, variant: Scenario, inputs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        # Under QMC sampling each draw's replicate comes along: the standard errors are the
        # replicates' (simsib.run.summary.replicate_se), not the iid formula's.
        parts = [draw_columns(variant, i, settle(variant, i, c.outcomes, c.monthly), c.monthly)
                 | replicate_column(variant, index, c.size)
                 for index, (i, c) in enumerate(zip(inputs, self.chunks))]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _simulate_chunk(outcome_base: Scenario, entropy: int, index: int, size: int) -> _Chunk:
    """One chunk's inputs and care paths (a worker's call: its arguments and result pickle)."""
    seed = chunk_seed(entropy, index)
    inputs = sample_inputs(outcome_base, seed, size)
    outcomes, monthly = simulate_outcomes(outcome_base, inputs, seed)
    return _Chunk(outcomes, monthly, inputs, seed, size)


def solve_scale(payment: Callable[[float], float], target: float, first: float) -> tuple[float, bool]:
    """Scale ``s`` with ``payment(s) = target`` (payment non-decreasing, payment(0) = 0).

    Starts from ``first`` (exact when payment is linear), brackets the root by doubling, then
    narrows it with Illinois-modified regula falsi.  Returns (s, matched); unmatched when no
    price reaches the target (a cap binds first), with the largest scale tried.
    """
    if target <= 0:
        return 0.0, True
    lo, f_lo = 0.0, -target
    hi, f_hi = first, payment(first) - target
    steps = 0
    while f_hi < 0:
        if steps >= 60 or f_hi <= f_lo:  # no longer rising: the target is out of reach
            return hi, False
        lo, f_lo = hi, f_hi
        hi, f_hi = 2.0 * hi, payment(2.0 * hi) - target
        steps += 1
    if abs(f_hi) <= RELATIVE_TOLERANCE * target:
        return hi, True
    side = 0
    for _ in range(MAX_STEPS):
        s = hi - f_hi * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)
        if not lo < s < hi:
            s = 0.5 * (lo + hi)
        f = payment(s) - target
        if abs(f) <= RELATIVE_TOLERANCE * target:
            return s, True
        if f < 0:
            lo, f_lo = s, f
            if side == -1:
                f_hi /= 2.0
            side = -1
        else:
            hi, f_hi = s, f
            if side == 1:
                f_lo /= 2.0
            side = 1
    return (lo if -f_lo < f_hi else hi), False


@dataclass
class MechanismResult:
    """table: one row per mechanism (see :func:`compare_mechanisms`)."""

    scenario: Scenario
    table: pd.DataFrame
    header: dict[str, Any]
    draws: dict[str, dict[str, np.ndarray]]


def _with_mechanisms(raw: Mapping[str, Any], mechanisms: list[dict[str, Any]], file: str | None) -> Scenario:
    return build_variant(raw, {"contract.mechanisms": mechanisms}, file=file)


def compare_mechanisms(
    raw: Mapping[str, Any],
    scenario: Scenario,
    *,
    draws: int | None = None,
    seed: int | None = None,
    file: str | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> MechanismResult:
    """Settle the scenario's own mechanism and each of :data:`ALTERNATIVES` on the same care
    paths, each alternative priced to the own mechanism's expected payment.

    Table columns: ``mechanism, description, price_key, price, priced`` (True when the expected
    payment was matched), then per figure of :data:`FIGURES` its value and ``_se``, and the
    payment spread ``payment_sd, payment_p05, payment_p95``.  The care paths are simulated on
    ``workers`` processes (the numbers are the same for any number), ``progress(draws)`` after
    each chunk; the mechanisms are then settled in this process.
    """
    if scenario.cohorts:
        # The alternatives pay for time out of care, for everybody: a scenario of named cohorts
        # (other processes, or deadweight per cohort) has no single care path to price them on.
        raise ScenarioError.single(
            "cohorts", "compare-mechanisms compares ways of paying for time out of care on one cohort of "
            "young people; this scenario names [[cohorts]] (use simsib compare or sweep on its own mechanisms)",
            file=file)
    entropy = int(seed) if seed is not None else new_entropy()
    n_draws = int(draws if draws is not None else scenario.simulation.draws)
    own_tables = copy.deepcopy(raw["contract"]["mechanisms"])
    # Care paths simulated once, tracking every milestone length any mechanism needs (a
    # zero-priced milestone changes no payment, only what the aggregation keeps).
    extra = [{**table, "price": 0.0} for _, table in ALTERNATIVES.values() if table["type"] == "milestone"]
    outcome_base = _with_mechanisms(raw, own_tables + extra, file)
    paths = _SharedPaths(outcome_base, entropy, n_draws, workers=workers, progress=progress)

    own_inputs = paths.inputs(scenario)
    target = paths.expected_payment(scenario, own_inputs)
    entries = [("own", "the scenario's own: " + ", ".join(m.type for m in scenario.contract.mechanisms),
                scenario, own_inputs, None, None, True)]
    for name, (description, table) in ALTERNATIVES.items():
        variant = _with_mechanisms(raw, [table], file)
        if not reuses_outcomes(outcome_base, variant):  # pragma: no cover - guards a model change
            raise RuntimeError(f"mechanism {name} cannot share the simulated care paths")
        field = PRICE_FIELD[table["type"]]
        key = f"contract.mechanisms.0.{field}"
        inputs = paths.inputs(variant)
        start_price = float(table[field])

        def payment(scale: float) -> float:
            for chunk_inputs in inputs:
                chunk_inputs[key] = np.full_like(chunk_inputs[key], scale * start_price)
            return paths.expected_payment(variant, inputs)

        at_start = payment(1.0)
        scale, matched = solve_scale(payment, target, target / at_start if at_start > 0 else 1.0)
        price = scale * start_price
        priced = _with_mechanisms(raw, [{**table, field: price}], file)
        entries.append((name, description, priced, paths.inputs(priced), key, price, matched))

    rows, per_draw = [], {}
    for name, description, variant, inputs, key, price, matched in entries:
        cols = paths.columns(variant, inputs)
        per_draw[name] = cols
        row: dict[str, Any] = {"mechanism": name, "description": description, "price_key": key,
                               "price": price, "priced": matched}
        for figure in FIGURES:
            row[figure], row[f"{figure}_se"] = estimate(METRICS[figure], cols)
        paid = cols["outcome_payments"]
        row["payment_sd"] = float(paid.std(ddof=1))
        low, high = np.percentile(paid, [PERCENTILES[0], PERCENTILES[-1]])
        row["payment_p05"], row["payment_p95"] = float(low), float(high)
        rows.append(row)
    header = {"scenario": scenario.meta.name, "draws": n_draws, "seed": seed, "seed_entropy": entropy,
              "chunk_size": scenario.simulation.chunk_size, "target_expected_payment": target,
              "alternatives": {k: v[1] for k, v in ALTERNATIVES.items()}}
    return MechanismResult(scenario, pd.DataFrame(rows), header, per_draw)


