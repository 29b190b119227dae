"""Builders shared by the hand-worked money tests."""

from __future__ import annotations

import copy

import numpy as np

from simsib.loader import bundled_scenario_path, load_raw, validate
from simsib.sampling import sample_inputs

ESSEX_RAW = load_raw(bundled_scenario_path())


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
