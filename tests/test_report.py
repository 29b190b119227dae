"""Tests for simsib.report.document and ``simsib report``: every section, self-contained, atomic, xlsx."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import simsib.cli.report  # noqa: F401  (registers `report` and `compare` on the app)
from simsib.cli.main import app
from simsib.report import document as report
from simsib.report import figures
from simsib.report.formatting import standard_error
from simsib.scenario.errors import ScenarioError

DRAWS = 300
FIGURES = ("moic", "irr", "cash_position", "payments_vs_savings", "deadweight", "budget", "drivers", "loss_drivers",
           "spider", "starts", "care_proportion",
           "convergence")
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "essex"
    result = runner.invoke(app, ["run", "--draws", str(DRAWS), "--seed", "11", "--out", str(out),
                                 "--workers", "1", "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def html_path(run_dir) -> Path:
    return report.write_report(run_dir)


@pytest.fixture(scope="module")
def html(html_path) -> str:
    return html_path.read_text()


def test_report_is_written_into_the_run_folder(run_dir, html_path):
    assert html_path == run_dir / "index.html"
    assert (run_dir / "report.md").is_file()
    for name in FIGURES:
        for suffix in (".png", ".svg"):
            assert (run_dir / "figures" / f"{name}{suffix}").stat().st_size > 1000
    assert not list(run_dir.glob(".*staging*")) and not list(run_dir.parent.glob(".*staging*"))


def test_html_holds_every_section(html):
    for section in ("headlines", "investors", "council", "referrals", "outcomes", "assumptions", "provenance"):
        assert f'<section id="{section}">' in html
    assert 'id="sensitivity"' not in html  # no sensitivity.csv in this run
    for name in FIGURES:
        assert f'id="fig-{name}"' in html


def test_html_is_self_contained(html):
    links = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.IGNORECASE)
    assert links, "expected embedded figures and section links"
    assert all(link.startswith(("data:", "#")) for link in links), [link[:40] for link in links if link[:1] != "d"]
    assert not re.search(r"https?://", html)
    assert "@import" not in html and "url(" not in html
    assert len(re.findall(r'<img src="data:image/svg\+xml;base64,', html)) == len(FIGURES)


def test_html_shows_headlines_with_standard_errors(run_dir, html):
    summary = json.loads((run_dir / "summary.json").read_text())
    moic = summary["investor"]["moic_committed"]
    # (A standard error below the figure's own precision keeps two significant digits.)
    assert f"{moic['mean']:.2f}×" in html and standard_error(moic["se"], "multiple") in html
    assert "P(cap reached)" in html and "± se" in html


def test_assumptions_carry_their_evidence(html, run_dir):
    run = report.read_run(run_dir)
    rows = {r["key"]: r for r in report.assumption_rows(run.scenario, run.raw_scenario)}
    assert rows["effect.log_hazard_ratio"]["kind"] == "uncertain"
    raw_effect_ids = set(re.findall(r"\bE\d+\b", str(run.raw_scenario["effect"]["log_hazard_ratio"])))
    assert raw_effect_ids  # the bundled scenario cites evidence for its central assumption
    assert raw_effect_ids <= set(rows["effect.log_hazard_ratio"]["evidence"].split(", "))
    # A structural setting: value from the loaded scenario, source and evidence ids from the raw TOML.
    raw_end = run.raw_scenario["referrals"]["service_end_month"]
    assert run.scenario.referrals.service_end_month == raw_end["value"]
    assert rows["referrals.service_end_month"] == {
        "key": "referrals.service_end_month", "value": f"{run.scenario.referrals.service_end_month:,}",
        "kind": "structural", "source": raw_end["source"],
        "evidence": ", ".join(dict.fromkeys(re.findall(r"\bE\d+\b", raw_end["source"])))}
    assert rows["population.age_at_start"]["kind"] == "per person"
    assert rows["contract.cap"]["kind"] == "fixed"
    assert "effect.log_hazard_ratio" in html and "E26" in html


def test_provenance(run_dir, html):
    summary = json.loads((run_dir / "summary.json").read_text())
    provenance = dict(report.provenance_rows(report.read_run(run_dir)))
    assert provenance["Seed"] == "11"
    assert provenance["Draws"] == f"{DRAWS:,}"
    assert provenance["Scenario SHA-256"] == summary["scenario_sha256"]
    assert summary["scenario_sha256"] in html and "simsib version" in html


def test_markdown_links_existing_figures(run_dir, html_path):
    text = (run_dir / "report.md").read_text()
    for heading in ("## Headline figures", "## Investors", "## Council", "## Assumptions", "## Provenance"):
        assert heading in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == len(FIGURES)
    assert all((run_dir / link).is_file() for link in links)


def test_plan_line_spreads_target_over_service(run_dir):
    run = report.read_run(run_dir)
    r, raw = run.scenario.referrals, run.raw_scenario["referrals"]
    start, end, target = (raw[k]["value"] for k in ("service_start_month", "service_end_month",
                                                    "target_young_people"))
    assert (r.service_start_month, r.service_end_month, r.target_young_people) == (start, end, target)
    last = end + 42  # a horizon past the service window: the plan stays flat at the target
    months, starts = report.plan_line(run.scenario, last)
    assert months == [0.0, float(start), float(end), last]
    assert starts == [0.0, 0.0, float(target), float(target)]
    months, _ = report.plan_line(run.scenario, end - 1)  # a horizon inside the window is extended
    assert months[-1] == end


def test_interrupted_report_leaves_previous_output(run_dir, html_path, tmp_path, monkeypatch):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)  # html_path: the run folder already holds a finished report
    assert (copy / html_path.name).is_file()
    before = (copy / "index.html").read_bytes()

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(figures, "irr_cdf", broken)
    with pytest.raises(KeyboardInterrupt):
        report.write_report(copy)
    assert (copy / "index.html").read_bytes() == before
    with pytest.raises(KeyboardInterrupt):
        report.write_report(copy, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    assert not [p for p in tmp_path.rglob(".*") if "staging" in p.name]


def test_not_a_run_folder(tmp_path):
    with pytest.raises(ScenarioError, match="missing summary.json"):
        report.write_report(tmp_path)
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "not a complete simsib run folder" in result.output


def test_cli_report_with_sensitivity_and_xlsx(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("index.html", "report.md", "figures"))
    pd.DataFrame({"input": ["effect.log_hazard_ratio", "population.p30_entry"], "low_mean": [0.4, 0.6],
                  "high_mean": [1.0, 0.8], "rank_correlation": [0.5, 0.2], "S1": [0.4, 0.1],
                  "S1_conf": [0.05, 0.04], "ST": [0.5, 0.15], "ST_conf": [0.05, 0.05]}).to_csv(
        copy / "sensitivity.csv", index=False)
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", str(copy), "--out", str(out), "--xlsx"])
    assert result.exit_code == 0, result.output
    text = (out / "index.html").read_text()
    assert '<section id="sensitivity">' in text and "population.p30_entry" in text
    assert (out / "figures" / "tornado_moic_committed.png").is_file()
    assert "## Sensitivity" in (out / "report.md").read_text()
    assert not (copy / "index.html").exists()  # --out leaves the run folder alone
    book = openpyxl.load_workbook(out / report.XLSX_FILE)
    assert book.sheetnames == ["headlines", "summary", "budget", "quarterly", "draws", "assumptions", "provenance",
                               "sensitivity"]
    # The sensitivity table in plain words and formatted numbers, widest swing first (as its tornado).
    table = text.split('id="sensitivity"')[1]
    assert table.index("MST effect (log hazard ratio)") < table.index("risk of entering care (30 months)")
    assert "0.40× ± –" in table or "0.40×" in table


def test_xlsx_tables(run_dir, tmp_path):
    path = report.write_xlsx(run_dir, tmp_path / "book.xlsx")
    quarterly = pd.read_csv(run_dir / "quarterly.csv")
    sheets = pd.read_excel(path, sheet_name=None)
    assert len(sheets["quarterly"]) == len(quarterly)
    assert set(quarterly.columns) < set(sheets["quarterly"].columns)
    # Quarters carry their financial year and end month (Essex: contract start April 2013).
    assert list(sheets["quarterly"].loc[:4, "year"]) == ["2013/14"] * 4 + ["2014/15"]
    assert sheets["quarterly"].loc[0, "quarter_ends"] == "2013-06"
    assert "investor.moic_committed" in set(sheets["summary"]["metric"])
    assert "effect.log_hazard_ratio" in set(sheets["assumptions"]["key"])
    book = openpyxl.load_workbook(path)
    assert book["headlines"]["B2"].number_format == '0.00"×"'  # MOIC shown as a multiple
    assert not list(tmp_path.glob(".*tmp*"))
