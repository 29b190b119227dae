"""Builders shared by the hand-worked money tests."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from simsib.contract.finance import npv
from simsib.model.inputs import sample_inputs
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

ESSEX_RAW = load_raw(bundled_scenario_path())
EPS = np.finfo(np.float64).eps


def make_scenario(**sections):
    """The Essex scenario with some settings replaced, by section (plain numbers are fixed)."""
    raw = copy.deepcopy(ESSEX_RAW)
    for section, values in sections.items():
        raw[section].update(values or {})
    return validate(raw)


def make_inputs(scenario, n_draws, **overrides):
    """Per-draw inputs of the scenario; ``overrides`` set dotted keys (``__`` for ``.``)."""
    inputs = sample_inputs(scenario, np.random.SeedSequence(0), n_draws)
    for key, value in overrides.items():
        inputs[key.replace("__", ".")] = np.broadcast_to(np.asarray(value, dtype=float), (n_draws,)).copy()
    return inputs


def discounted_gross(rate: np.ndarray, flows: np.ndarray) -> np.ndarray:
    """sum_t |flows[t]| / (1 + rate)**t per row: the scale against which an NPV is ~0."""
    return npv(rate, np.abs(flows))


def npv_tolerance(rate: np.ndarray, flows: np.ndarray) -> np.ndarray:
    """How far from 0 the NPV at a computed IRR may be, per row.

    The solver stops within 1e-12 of the root in log(1 + r), moving NPV by up to
    T * 1e-12 * gross; rounding r itself to a double perturbs 1 + r by eps relative to r,
    i.e. by eps * |r| / (1 + r) relative, which the discount factors raise to the power t.
    The smallest normal double is added for gross values that are themselves subnormal.
    """
    n_periods = flows.shape[1]
    relative = n_periods * (1e-12 + 8 * EPS) + n_periods * 4 * EPS * np.abs(rate) / (1 + rate)
    return relative * discounted_gross(rate, flows) + np.finfo(np.float64).tiny


def assert_same_outputs(a: Path, b: Path) -> None:
    """Bit-identical results: summary, quarterly bands, scenario, and every draws column."""
    for name in ("summary.json", "quarterly.csv", "scenario.toml"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs"
    left, right = pq.read_table(a / "draws.parquet"), pq.read_table(b / "draws.parquet")
    assert left.schema == right.schema and left.num_rows == right.num_rows
    for name in left.column_names:
        assert left.column(name).to_numpy().tobytes() == right.column(name).to_numpy().tobytes(), name
