"""Backtest rows of the contracts beyond Essex: labelled honestly, and computable."""

from __future__ import annotations

import pytest

import simsib
from simsib.analysis.backtest_other import LOSS, ROLES, TARGETS, run_other_backtest
from simsib.scenario.loader import bundled_scenario_path, load_scenario
from simsib.scenario.variants import scenario_keys


def test_every_row_names_a_bundled_scenario_a_column_and_an_honest_role():
    columns = {}
    for target in TARGETS:
        scenario = load_scenario(bundled_scenario_path(target.scenario))
        if target.scenario not in columns:
            columns[target.scenario] = set(simsib.simulate(scenario, draws=20, seed=1).draws.columns)
        assert target.metric == LOSS or target.metric in columns[target.scenario], target
        assert target.role in ROLES, target
        # A fitted row names what was fitted; a predicted or out-of-sample row fitted nothing.
        assert bool(target.fitted_parameters) == (target.role == "fitted"), target
        keys = set(scenario_keys(scenario))
        assert all(key in keys for key in target.fitted_parameters), target
        assert target.evidence.split(",")[0].startswith("E")
    assert {t.scenario for t in TARGETS} >= {"peterborough", "norfolk", "suffolk"}


@pytest.mark.slow
def test_the_rows_compute_and_the_fitted_row_reproduces_its_target():
    table = run_other_backtest(draws=1000, seed=20170101)
    assert len(table) == len(TARGETS)
    assert set(table.columns) >= {"figure", "evidence", "published", "scenario", "role", "fitted_parameters", "mean",
                                  "p05", "p50", "p95", "percentile", "inside_90"}
    assert (table.p05 <= table.p50).all() and (table.p50 <= table.p95).all()
    fitted = table[table.role == "fitted"]
    assert fitted.inside_90.all(), fitted
