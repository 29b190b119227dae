"""The backtest: every row says what it is, with the exact JSON keys; the identification and
judgement tables; ``simsib backtest --json``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from simsib.analysis.backtest import EX_ANTE, JSON_KEYS, ROLES, TARGETS, all_targets, run_backtest, tally
from simsib.analysis.identification import identification_table
from simsib.analysis.judgements import judgement_table
from simsib.cli.main import app
from simsib.report.backtest import markdown
from simsib.scenario.evidence import citations_after, sources_in
from simsib.scenario.loader import bundled_scenario_path, load_raw, load_scenario
from simsib.scenario.variants import scenario_keys

runner = CliRunner()


@pytest.fixture(scope="module")
def backtest():
    return run_backtest(draws=300, seed=3, identification=False, judgements=False)


def test_every_row_has_exactly_the_json_keys_and_a_role(backtest):
    rows = backtest.json_rows()
    targets, ex_ante = all_targets()
    assert len(rows) == len(targets) + len(ex_ante) >= len(TARGETS) + len(EX_ANTE) - 1
    for row in rows:
        assert tuple(row) == JSON_KEYS
        assert row["role"] in ROLES
        assert 0.0 <= row["percentile"] <= 1.0 and isinstance(row["inside_90"], bool)
        assert isinstance(row["fitted_parameters"], list)
    json.dumps(rows)  # plain JSON types only


def test_predicted_rows_come_from_scenarios_that_use_no_realised_data(backtest):
    predicted = backtest.rows[backtest.rows.role == "predicted"]
    assert all(len(p) == 0 for p in predicted.fitted_parameters)
    # Essex's predictions come from scenarios dated 2012: nothing they cite was published later.
    essex = predicted[predicted.scenario.str.startswith("essex")]
    assert len(essex) >= 7
    for name in set(essex.scenario):
        assert citations_after(sources_in(load_raw(bundled_scenario_path(name))), 2012) == []


def test_fitted_and_derived_rows_name_real_scenario_keys(backtest):
    tuned = backtest.rows[backtest.rows.role.isin(["fitted", "derived"])]
    assert len(tuned) >= 10
    for row in tuned.itertuples():
        assert row.fitted_parameters, row.figure
        keys = set(scenario_keys(load_scenario(bundled_scenario_path(row.scenario))))
        assert set(row.fitted_parameters) <= keys, (row.figure, set(row.fitted_parameters) - keys)


def test_ordinary_rows_are_inside_exactly_when_between_p05_and_p95(backtest):
    ordinary = backtest.rows[backtest.rows.role != "reference_class"]
    between = (ordinary.p05 <= ordinary.published) & (ordinary.published <= ordinary.p95)
    assert (between == ordinary.inside_90).all()


def test_reference_class_rows_for_every_ex_ante_scenario(backtest):
    ref = backtest.rows[backtest.rows.role == "reference_class"].set_index("scenario")
    assert set(EX_ANTE) <= set(ref.index) == set(all_targets()[1])
    assert (ref.published == 2 / 50).all() and (ref.evidence == "E57").all()
    # P(loss) with its binomial standard error, the interval around it.
    assert (ref.p05 <= ref["mean"]).all() and (ref["mean"] <= ref.p95).all()
    assert ref.note.str.contains("survivorship").all()


def test_markdown_counts_and_shows_roles_and_percentiles(backtest):
    text = markdown(backtest)
    inside, of = tally(backtest.rows)
    assert f"{inside} of {of} predicted and out-of-sample rows" in text
    assert "| percentile |" in text and "## Reference class" in text and "Survivorship" in text


def test_identification_pairs_bracket_the_published_care_proportion():
    table = identification_table(draws=300, seed=3, grid=(0.3, 0.93))
    assert table.reachable.all()
    # Each solved hazard ratio reproduces 10.8% up to the solver's rounding, on the same draws.
    from simsib.analysis.identification import _mean_care
    for row in table.itertuples():
        below, _ = _mean_care(row.p30_entry, row.log_hazard_ratio - 0.001, 300, 3)
        above, _ = _mean_care(row.p30_entry, row.log_hazard_ratio + 0.001, 300, 3)
        assert below <= 0.108 <= above
    # A riskier population with a stronger effect saves the council far more: the council's
    # result is not identified by the care proportion.
    low, high = table.iloc[0], table.iloc[1]
    assert high.hazard_ratio < low.hazard_ratio
    assert high.net_benefit - low.net_benefit > 4 * np.hypot(high.net_benefit_se, low.net_benefit_se)
    assert high.deadweight_share < low.deadweight_share


def test_judgement_table_varies_each_judgement_on_common_random_numbers():
    table = judgement_table(names=("essex",), draws=300, seed=3)
    assert {"cost base", "drawdown rule", "capacity", "netting", "waiting list"} <= set(table.judgement)
    # The default's mixture weights are derived, not judgement: not varied here.
    assert not table.judgement.str.contains("weights").any()
    assert (table.prob_loss_base == table.prob_loss_base.iloc[0]).all()
    cheaper = table[table.variant.str.startswith("20% lower")].iloc[0]
    # Teams 20% cheaper: a lower chance of loss, by many paired standard errors.
    assert cheaper.prob_loss_change + 4 * cheaper.prob_loss_change_se < 0
    assert len(table[table.judgement == "netting"]) == 1


def test_cli_json_prints_the_rows_with_exactly_the_keys(tmp_path):
    result = runner.invoke(app, ["backtest", "--draws", "200", "--no-tables", "--json", "--out", str(tmp_path / "bt")])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows and all(tuple(r) == JSON_KEYS for r in rows)
    assert any(r["role"] == "reference_class" for r in rows)
    assert (tmp_path / "bt" / "backtest.md").is_file() and (tmp_path / "bt" / "backtest.json").is_file()


def test_rows_of_other_contracts_join_with_their_roles(monkeypatch):
    # The rows of simsib.analysis.backtest_other (issue 15) join with their roles: a stand-in.
    from dataclasses import dataclass

    from simsib.analysis import backtest_other

    @dataclass(frozen=True)
    class Other:
        figure: str
        published: float
        evidence: str
        scenario: str
        metric: str
        kind: str
        note: str = ""
        role: str = "predicted"
        fitted_parameters: tuple = ()

    monkeypatch.setattr(backtest_other, "TARGETS", (
        Other("Outcome payments", 8_630_000, "E60", "norfolk", "outcome_payments", "money", role="out_of_sample"),
        Other("P(loss)", 0.04, "E57", "suffolk", "prob_loss", "probability", role="reference_class")))
    targets, ex_ante = all_targets()
    norfolk = [t for t in targets if t.scenario == "norfolk"]
    assert [t.figure for t in norfolk] == ["Outcome payments"]  # replaces this module's Norfolk row
    assert norfolk[0].role == "out_of_sample" and ex_ante[-1] == "suffolk"
    assert len(targets) == len(TARGETS)  # one Norfolk row out, one in
