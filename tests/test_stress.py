"""Stress cases against the base on common random numbers."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import simsib.cli_analysis  # noqa: F401 - registers the analysis commands on simsib.cli.app
from simsib.cli import app
from simsib.errors import ScenarioError
from simsib.loader import bundled_scenario_path, load_raw, validate
from simsib.stress import HEADLINE_METRICS, stress_cases, stress_test

DRAWS = 150


@pytest.fixture(scope="module")
def raw():
    return load_raw(bundled_scenario_path(), ["simulation.chunk_size=100"])


@pytest.fixture(scope="module")
def base(raw):
    return validate(raw)


@pytest.fixture(scope="module")
def result(raw, base):
    return stress_test(raw, base, names=["care_costs_up_30", "no_effect"], draws=DRAWS, seed=9)


def test_essex_declares_the_issue_cases_and_each_is_valid(raw, base):
    cases = stress_cases(raw, base)
    names = {c.name for c in cases}
    assert {"referrals_half", "no_effect", "start_evidence", "care_costs_up_30", "team_start_year_late"} <= names
    by_name = {c.name: c.scenario for c in cases}
    assert by_name["referrals_half"].referrals.referrals_per_month.median == 4.5
    assert by_name["no_effect"].effect.log_hazard_ratio.value == 0
    assert by_name["start_evidence"].effect.log_hazard_ratio.mean() == pytest.approx(0.223)
    assert by_name["team_start_year_late"].referrals.team_start_delay_months.low == 12
    assert by_name["care_costs_up_30"].care.residential_weekly_cost.value == pytest.approx(1.3 * 3000)


def test_one_row_per_case_and_headline_figure(result):
    table = result.table
    assert len(table) == 2 * len(HEADLINE_METRICS)
    assert set(table["case"]) == {"care_costs_up_30", "no_effect"}
    assert {"base", "base_se", "stressed", "stressed_se", "change", "change_se"} <= set(table.columns)
    # A change is the mean of per-draw differences; for means and probabilities defined in every
    # draw that is exactly the difference of the two means (IRR and deadweight share can be
    # undefined: their change is over the draws where both runs define them).
    always = table[~table["metric"].isin(["irr", "deadweight_share"])]
    np.testing.assert_allclose(always["change"], always["stressed"] - always["base"], atol=1e-6, rtol=1e-9)


def test_a_money_only_case_changes_only_what_it_reaches(result):
    rows = result.table[result.table["case"] == "care_costs_up_30"].set_index("metric")
    assert rows["outcomes_reused"].all()
    for metric in ("moic_committed", "prob_loss", "outcome_payments", "young_people_started"):
        assert rows.loc[metric, "change"] == 0 and rows.loc[metric, "change_se"] == 0
    # Every weekly care cost up 30% -> the £ value of the care days avoided up exactly 30%.
    assert rows.loc["true_savings", "change"] == pytest.approx(0.3 * rows.loc["true_savings", "base"], rel=1e-9)


def test_changes_are_paired(result):
    rows = result.table[result.table["case"] == "no_effect"].set_index("metric")
    assert not rows["outcomes_reused"].any()
    # No effect: the council's true savings vanish.
    assert rows.loc["true_savings", "stressed"] == pytest.approx(0.0, abs=1e-6)
    # Common random numbers make the change far more precise than the runs themselves.
    for metric in ("moic_committed", "outcome_payments"):
        unpaired = np.hypot(rows.loc[metric, "base_se"], rows.loc[metric, "stressed_se"])
        assert rows.loc[metric, "change_se"] < 0.6 * unpaired
    # The counterfactual does not depend on the effect; it moves only through service stops.
    assert abs(rows.loc["care_proportion_counterfactual", "change"]) <= 4 * rows.loc[
        "care_proportion_counterfactual", "change_se"] + 1e-12


def test_a_case_setting_an_unknown_key_is_a_clear_error(raw):
    bad = copy.deepcopy(raw)
    bad["stress"]["typo"] = {"set": {"effect.log_hazard_rato": 0, "contract.cap": 5e6}}
    scenario = validate(bad)
    with pytest.raises(ScenarioError) as info:
        stress_cases(bad, scenario)
    text = info.value.render()
    assert "stress.typo.set" in text and "effect.log_hazard_rato" in text
    assert info.value.problems[0].suggestion == "effect.log_hazard_ratio"


def test_unknown_case_and_no_cases(raw, base):
    with pytest.raises(ScenarioError, match="no_efect"):
        stress_cases(raw, base, names=["no_efect"])
    bare = copy.deepcopy(raw)
    del bare["stress"]
    with pytest.raises(ScenarioError, match="no stress cases"):
        stress_cases(bare, validate(bare))


def test_cli(tmp_path):
    out = tmp_path / "stress"
    result = CliRunner().invoke(app, ["stress", "essex", "--case", "care_costs_up_30", "-n", "50", "-s", "1",
                                      "-o", str(out), "-w", "1"])
    assert result.exit_code == 0, result.output
    assert "care_costs_up_30" in result.output
    table = pd.read_csv(out / "stress.csv")
    assert set(table["case"]) == {"care_costs_up_30"}
    assert "Δ care_costs_up_30" in (out / "stress.md").read_text()
