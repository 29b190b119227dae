"""A scenario's caveats reach every reader: summary.json, the terminal and the report.

essex-realised states the range of council net benefits that the backtest's identification
table finds among (risk, effect) pairs reproducing the realised care proportion (issue 14,
point 4): the stated range is held to the committed table, so neither can move alone.
"""

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simsib.cli.main import app
from simsib.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _millions(text: str) -> list[float]:
    return [float(m.replace("−", "-").replace("+", "")) for m in re.findall(r"([-+−]?)£(\d+\.\d)m", text)
            for m in [m[0] + m[1]]]


def test_essex_realised_states_the_identification_tables_range():
    (caveat,) = load_scenario("essex-realised").meta.caveats
    rows = list(csv.DictReader((ROOT / "reports/backtest/identification.csv").open()))
    benefits = [float(r["net_benefit"]) / 1e6 for r in rows]
    deadweight = [float(r["deadweight_share"]) for r in rows]
    assert _millions(caveat) == [round(min(benefits), 1), round(max(benefits), 1)]
    assert f"{len(rows)} pairs".replace("5", "five") in caveat
    assert f"{min(deadweight):.0%} to {max(deadweight):.0%}" in caveat


@pytest.fixture(scope="module")
def realised_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("realised") / "run"
    result = CliRunner().invoke(app, ["run", "essex-realised", "--draws", "200", "--seed", "3", "--workers", "1",
                                      "--out", str(out), "--quiet", "--report", "--xlsx"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_caveat_is_in_summary_json_the_terminal_and_the_report(realised_run):
    out, printed = realised_run
    (caveat,) = json.loads((out / "summary.json").read_text())["caveats"]
    import openpyxl

    provenance = openpyxl.load_workbook(out / "results.xlsx")["provenance"]
    assert provenance.cell(row=2, column=1).value == "Caveat" and provenance.cell(row=2, column=2).value == caveat
    assert caveat.startswith("The data do not identify the council's result")
    flat = " ".join(printed.split())
    assert flat.index("Caveat: The data do not identify") < flat.index("Outcome payments")
    html = (out / "index.html").read_text()
    assert "Caveat: The data do not identify the council" in html


def test_a_scenario_without_caveats_has_none(tmp_path):
    result = CliRunner().invoke(app, ["run", "--draws", "100", "--seed", "3", "--workers", "1", "--out",
                                      str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "caveats" not in json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "Caveat" not in result.output


def test_a_folder_named_like_a_bundled_scenario_does_not_hide_it(tmp_path, monkeypatch):
    from simsib.scenario.loader import bundled_scenario_path, scenario_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "essex").mkdir()  # e.g. the folder an earlier `simsib run essex --out essex` wrote
    assert scenario_path("essex") == bundled_scenario_path("essex")
    assert load_scenario("essex").meta.name == "essex"
    (tmp_path / "mine").write_text("[meta]\nname = \"mine\"\n")
    assert scenario_path("mine") == Path("mine")  # a file of that name is the user's own
