"""Grids over scenario keys on common random numbers: what a cap or a price buys, point by point.

A grid is ``KEY=VALUES`` with ``VALUES`` a comma-separated list of TOML values
(``contract.cap=5e6,6e6,7e6``) or ``start:stop:n``, n evenly spaced values with both ends
(``contract.mechanisms.0.price_per_day=50:100:6``).  Several grids form their product.  Every
point runs the same draws -- same seed, same chunks, and every input it does not change drawn
identically (see :mod:`simsib.analysis.variants`) -- so the differences between points are the effect of
the swept keys, not Monte Carlo noise.  Care paths are simulated once per chunk and shared by
every point whose swept keys are money keys (prices, caps, costs, capital).

Output: a tidy table, one row per point, with each metric and its standard error.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from simsib.analysis.estimates import Metric, estimate, resolve_metric
from simsib.analysis.variants import Precision, VariantSet, probe_columns, run_variants
from simsib.model.streams import new_entropy
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario
from simsib.scenario.loader import validate
from simsib.scenario.variants import build_variant, check_keys

DEFAULT_METRICS = ("outcome_payments", "prob_cap_reached", "prob_loss", "median_irr")
MAX_POINTS = 10_000


@dataclass(frozen=True)
class Grid:
    """One swept key and its values, in order."""

    key: str
    values: tuple[Any, ...]


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes (values may be TOML arrays/tables)."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _toml_value(text: str, grid: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if not text:
            raise ScenarioError.single("--grid", "empty value in the list", value=grid) from None
        return text  # a bare word, e.g. netting=contract,cohort


def parse_grid(text: str) -> Grid:
    """``"contract.cap=5e6,6e6"`` or ``"contract.cap=5e6:9e6:5"`` -> :class:`Grid`.

    >>> parse_grid("contract.cap=5e6:7e6:3")
    Grid(key='contract.cap', values=(5000000.0, 6000000.0, 7000000.0))
    >>> parse_grid("referrals.teams=1,2")
    Grid(key='referrals.teams', values=(1, 2))
    """
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec or any(not part for part in key.split(".")):
        raise ScenarioError.single(
            "--grid", "expected KEY=VALUES, e.g. contract.cap=5e6,6e6,7e6 or contract.cap=5e6:9e6:5", value=text
        )
    pieces = spec.split(":")
    if len(pieces) == 3 and not any(c in spec for c in "[{\"'"):
        start, stop, count = (_toml_value(p.strip(), text) for p in pieces)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop)) or \
                not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ScenarioError.single(
                key, "--grid start:stop:n needs numbers start and stop and a whole number n >= 1", value=spec
            )
        values = np.linspace(start, stop, count) if count > 1 else np.array([start], dtype=float)
        integral = all(isinstance(v, int) for v in (start, stop)) and np.allclose(values, np.round(values))
        return Grid(key, tuple(int(round(v)) if integral else float(v) for v in values))
    values = tuple(_toml_value(p, text) for p in _split_top_level(spec))
    return Grid(key, values)


def grid_points(grids: Sequence[Grid]) -> list[dict[str, Any]]:
    """The product of the grids, first grid slowest: ``[{key: value, ...}, ...]``."""
    keys = [g.key for g in grids]
    if len(set(keys)) != len(keys):
        raise ScenarioError.single("--grid", "each key may be swept by one grid only", value=keys)
    count = math.prod(len(g.values) for g in grids)
    if count > MAX_POINTS:
        raise ScenarioError.single("--grid", f"{count:,} points; at most {MAX_POINTS:,}", value=keys)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(g.values for g in grids))]


@dataclass
class SweepResult:
    """A finished sweep.

    table : one row per point: the swept keys, ``outcomes_reused``, then per metric
        ``<name>`` and ``<name>_se``
    draws : per point, the per-draw columns the metrics need (draw order is shared)
    """

    scenario: Scenario
    grids: tuple[Grid, ...]
    metrics: tuple[Metric, ...]
    table: pd.DataFrame
    header: dict[str, Any]
    draws: list[dict[str, np.ndarray]] = field(repr=False, default_factory=list)


def sweep(
    raw: Mapping[str, Any],
    grids: Sequence[Grid],
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    draws: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    file: str | None = None,
    extra_columns: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    precision: Precision | None = None,
) -> SweepResult:
    """Run every grid point of the scenario table ``raw`` on common random numbers.

    Parameters
    ----------
    raw : the resolved scenario table (``simsib.scenario.loader.load_raw``), overrides already applied
    grids : see :func:`parse_grid`; an unknown key raises ScenarioError naming close keys
    metrics : named metrics (:data:`simsib.analysis.variants.METRICS`), draw columns, or median_<column>
    extra_columns : further per-draw columns to keep in ``result.draws``
    precision : run every point until precise (see :class:`simsib.analysis.variants.Precision`)
    """
    if not grids:
        raise ScenarioError.single("--grid", "give at least one grid, e.g. --grid contract.cap=5e6,6e6,7e6")
    base = validate(dict(raw), file=file)
    check_keys(base, [g.key for g in grids], "--grid", file=file)
    available = probe_columns(base)
    chosen = tuple(resolve_metric(m, available) for m in dict.fromkeys(metrics))
    points = grid_points(grids)
    variants = [build_variant(raw, point, file=file) for point in points]
    vset = VariantSet.of(base, variants)
    entropy = int(seed) if seed is not None else new_entropy()
    n_draws = int(draws if draws is not None else base.simulation.draws)
    columns = sorted({c for m in chosen for c in m.columns} | set(extra_columns))
    results = run_variants(vset, entropy, n_draws, columns=columns, workers=workers, progress=progress,
                           precision=precision)
    n_draws = len(next(iter(results[0].values())))

    rows = []
    for point, reused, cols in zip(points, vset.reuse, results):
        row: dict[str, Any] = dict(point)
        row["outcomes_reused"] = reused
        for metric in chosen:
            row[metric.name], row[f"{metric.name}_se"] = estimate(metric, cols)
        rows.append(row)
    header = {"scenario": base.meta.name, "draws": n_draws, "seed": seed, "seed_entropy": entropy,
              "chunk_size": base.simulation.chunk_size, "points": len(points),
              "grids": {g.key: list(g.values) for g in grids}, "metrics": [m.name for m in chosen],
              "precision": precision.record if precision is not None else None}
    return SweepResult(base, tuple(grids), chosen, pd.DataFrame(rows), header, results)


