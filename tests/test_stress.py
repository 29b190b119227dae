"""Stress cases against the base on common random numbers."""

from __future__ import annotations

import copy
import re
import tomllib

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import simsib
import simsib.cli.analysis  # registers the analysis commands on simsib.cli.app
from simsib.analysis.stress import HEADLINE_METRICS, stress_cases, stress_test
from simsib.cli.main import app
from simsib.scenario.errors import ScenarioError
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

DRAWS = 150


@pytest.fixture(scope="module")
def raw():
    # Random sampling, so that the paired errors can be checked against the iid textbook formula
    # (QMC runs' replicate errors: tests/test_qmc.py).
    return load_raw(bundled_scenario_path(), ["simulation.chunk_size=100", 'simulation.sampling="random"'])


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
    # Plumbing: every key a case sets in the raw TOML reaches that case's scenario, value for value.
    declared = tomllib.loads(bundled_scenario_path().read_text())["stress"]
    assert names == set(declared)
    for name, case in declared.items():
        for dotted, value in case["set"].items():
            node = by_name[name]
            for part in dotted.split("."):
                node = getattr(node, part)
            got = node.model_dump(by_alias=True) if isinstance(node, BaseModel) else node
            if isinstance(value, dict):  # a distribution: every field given in the TOML
                assert {k: got[k] for k in value} == value, (name, dotted)
            elif isinstance(got, dict):  # a plain number: a fixed quantity
                assert (got["dist"], got["value"]) == ("fixed", value), (name, dotted)
            else:
                assert got == value, (name, dotted)
    # Cases described relative to the base agree with the base scenario.
    base_rate = base.referrals.referrals_per_month.median
    assert by_name["referrals_half"].referrals.referrals_per_month.median == pytest.approx(base_rate / 2, rel=1e-12)
    factor = 1 + int(re.fullmatch(r"care_costs_up_(\d+)", "care_costs_up_30").group(1)) / 100  # +30%
    for cost in ("la_foster_weekly_cost", "ifa_foster_weekly_cost", "residential_weekly_cost"):
        assert getattr(by_name["care_costs_up_30"].care, cost).value == pytest.approx(
            factor * getattr(base.care, cost).value, rel=1e-12)
    months_per_year = 12
    late, planned = by_name["team_start_year_late"].referrals, base.referrals
    assert late.team_start_delay_months.low == planned.team_start_delay_months.low + months_per_year
    assert late.team_start_delay_months.high == planned.team_start_delay_months.high + months_per_year


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


def test_changes_are_paired(result, base):
    rows = result.table[result.table["case"] == "no_effect"].set_index("metric")
    assert not rows["outcomes_reused"].any()
    # No effect: the council's true savings vanish.
    assert rows.loc["true_savings", "stressed"] == pytest.approx(0.0, abs=1e-6)
    # The change and its standard error are those of the per-draw differences, recomputed from
    # fresh simulations of the base and the case on the same seed and draws.
    (case,) = [c.scenario for c in result.cases if c.name == "no_effect"]
    before = simsib.simulate(base, draws=DRAWS, seed=9).draws
    after = simsib.simulate(case, draws=DRAWS, seed=9).draws
    for metric in ("moic_committed", "outcome_payments"):
        a, b = before[metric].to_numpy(dtype=float), after[metric].to_numpy(dtype=float)
        diff = b - a
        assert rows.loc[metric, "base"] == pytest.approx(a.mean(), rel=1e-12)
        assert rows.loc[metric, "stressed"] == pytest.approx(b.mean(), rel=1e-12)
        assert rows.loc[metric, "change"] == pytest.approx(diff.mean(), rel=1e-12)
        assert rows.loc[metric, "change_se"] == pytest.approx(diff.std(ddof=1) / np.sqrt(DRAWS), rel=1e-12)
        # Common random numbers correlate the runs draw by draw, and by exactly that correlation
        # the paired error is below the unpaired one: var(b − a) = var a + var b − 2ρ·sd a·sd b.
        rho = np.corrcoef(a, b)[0, 1]
        sa, sb = a.std(ddof=1), b.std(ddof=1)
        unpaired = np.hypot(rows.loc[metric, "base_se"], rows.loc[metric, "stressed_se"])
        assert rows.loc[metric, "change_se"] / unpaired == pytest.approx(
            np.sqrt(1 - 2 * rho * sa * sb / (sa**2 + sb**2)), rel=1e-9)
        assert rho > 0 and rows.loc[metric, "change_se"] < unpaired
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
