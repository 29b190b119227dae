"""Builders shared by the hand-worked money tests."""

from __future__ import annotations

import copy

import numpy as np

from simsib.finance import npv
from simsib.loader import bundled_scenario_path, load_raw, validate
from simsib.sampling import sample_inputs

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
