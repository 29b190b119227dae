"""The report decides: executive summary first, drivers, council budget, graded bad case,
evidence footnotes, workbook formats and print rules (issue 18)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import simsib.cli.report  # noqa: F401  (registers `report`)
from simsib.cli.main import app
from simsib.report import document as report
from simsib.report.council_section import cap_timing
from simsib.report.drivers import input_effects
from simsib.report.headlines import headlines
from simsib.report.investor_section import bad_case_rows
from simsib.report.workbook import MAX_DRAW_ROWS
from simsib.scenario.evidence import label, register

DRAWS = 400


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "essex"
    result = CliRunner().invoke(app, ["run", "--draws", str(DRAWS), "--seed", "3", "--out", str(out), "--workers", "1",
                                      "--quiet", "--report", "--xlsx"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def html(run_dir) -> str:
    return (run_dir / "index.html").read_text()


@pytest.fixture(scope="module")
def summary(run_dir) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">')[1].split("</section>")[0]


def test_the_executive_summary_comes_first_with_standard_errors(html, summary):
    assert html.index('<section id="summary">') < html.index('<section id="headlines">')
    text = _section(html, "summary")
    sentences = re.findall(r"<li>(.*?)</li>", text, flags=re.S)
    assert len(sentences) >= 5
    # Every sentence with a figure carries its standard error.
    assert all("±" in s for s in sentences if re.search(r"\d%|£|×", s))
    loss = summary["investor"]["prob_loss"]["value"]
    assert f"{100 * loss:.1f}%" in sentences[0]
    assert "1.45×" in text and "deadweight" in text and "hinges most on" in text


def test_drivers_are_in_every_report_and_figure_and_table_agree(run_dir, html):
    text = _section(html, "drivers")
    for name in ("drivers", "loss_drivers", "spider"):
        assert f'id="fig-{name}"' in text
    table = text.split("<tbody>")[1].split("</tbody>")[0]
    shown = [re.sub(r"<.*?>", "", cell).strip() for cell in re.findall(r"<tr><td>(.*?)</td>", table)]
    draws = pd.read_parquet(run_dir / "draws.parquet")
    columns = {c: draws[c].to_numpy(dtype=float) for c in draws.columns if "." in c or c.startswith("moic")}
    effects = input_effects(columns, columns["moic_drawn"] < 1.0)[:len(shown)]
    # Plain labels, in the order of the driver analysis, which the figures draw top down.
    assert shown == [label(e.key, short=True).replace("'", "&#39;") for e in effects]
    svg = (run_dir / "figures" / "loss_drivers.svg").read_text()
    positions = [svg.index(label(e.key, short=True).replace("'", "&#39;")) for e in effects[:3]]
    assert positions == sorted(positions, reverse=True)  # first effect drawn on top (last in SVG order)


def test_input_effects_find_the_input_of_losing_draws():
    rng = np.random.default_rng(9)
    n = 4000
    risk, noise = rng.uniform(size=n), rng.uniform(size=n)
    moic = 1.5 - risk + 0.2 * rng.normal(size=n)
    effects = input_effects({"moic_committed": moic, "population.p30_entry": risk, "referrals.teams": noise},
                            moic < 1.0)
    top = effects[0]
    assert top.key == "population.p30_entry" and top.smd > 1.0
    # P(loss) in the top quarter of risk (values above its 75th percentile) by hand.
    high = risk > np.quantile(risk, 0.75)
    assert top.high_loss == pytest.approx((moic[high] < 1.0).mean())
    assert top.high_loss_se == pytest.approx(np.sqrt(top.high_loss * (1 - top.high_loss) / high.sum()))
    assert abs(effects[1].smd) < 4 / np.sqrt(n / 8)  # noise: a difference within sampling error


def test_council_section_shows_budget_cap_timing_and_savings_side_by_side(html, summary):
    text = _section(html, "council")
    for words in ("Contract savings against true savings", "P(service stops early for lack of capital)",
                  "When the cap binds", "Outcome payments by financial year", 'id="fig-budget"'):
        assert words in text, words
    for row in summary["council"]["payments_by_year"][:-1]:
        assert f"<td>{row['year']}</td>" in text


def test_cap_timing_counts_each_draw_in_the_year_it_reaches_the_cap():
    quarters = np.array([0, 3, 4, np.nan, 7, 4])  # contract from April 2013: years by quarter 0-3, 4-7
    rows = cap_timing(quarters, 8, "2013-04")
    assert [r[0] for r in rows] == ["2013/14", "2014/15"]
    assert rows[0][1] == "33.3%" and rows[1][1] == "50.0%" and rows[1][2].startswith("83.3%")


def test_the_bad_case_is_graded_when_total_losses_are_common():
    summary = {"investor": {
        "prob_total_loss": {"value": 0.21, "se": 0.01}, "prob_loss": {"value": 0.5, "se": 0.01},
        "irr_median": {"value": -0.01, "se": 0.002}, "irr": {"mean": -0.2, "se": 0.01},
        "es05": {"value": 0.0, "se": 0.0}, "es10": {"value": 0.0, "se": 0.0}, "es25": {"value": 0.12, "se": 0.01},
        "moic_p10": {"value": 0.0, "se": 0.0}, "moic_p25": {"value": 0.4, "se": 0.02},
        "prob_moic_below_half": {"value": 0.3, "se": 0.01},
        "prob_reference": {"value": 0.29, "se": 0.01, "reference": 1.45},
        "moic_committed": {"mean": 1.0, "p05": 0.0, "p25": 0.4, "p50": 1.0, "p75": 1.4, "p95": 1.6, "se": 0.01},
        "moic_drawn": {"mean": 1.0, "p05": 0.0, "p25": 0.4, "p50": 1.0, "p75": 1.4, "p95": 1.6, "se": 0.01},
        "capital_drawn": {"mean": 3.1e6, "p05": 3.1e6, "p95": 3.1e6, "se": 0.0}}}
    labels = [r[0] for r in bad_case_rows(summary)]
    assert labels[0].startswith("Median IRR")
    for words in ("10th percentile", "25th percentile", "< 0.5×", "worst 10%", "worst 25%", "≥ the reference 1.45×"):
        assert any(words in text for text in labels), words
    rows = headlines(summary)
    keys = [key for _, _, key, _ in rows]
    assert "moic_p10" in keys and "es25" in keys and "prob_reference" in keys
    # Rows that say nothing: MOIC on drawn = on committed, capital drawn the same in every draw.
    assert "moic_drawn" not in keys and "capital_drawn" not in keys
    summary["investor"]["prob_total_loss"]["value"] = 0.01
    assert "moic_p10" not in [key for _, _, key, _ in headlines(summary)]
    assert not any("10th percentile" in row[0] for row in bad_case_rows(summary))


def test_assumptions_cite_evidence_a_reader_can_follow(html):
    text = _section(html, "assumptions")
    cited = sorted(set(re.findall(r'<a href="#ev-(E\d+)" title="([^"]+)"', text)))
    assert cited
    entries = register()
    for evidence_id, hover in cited:
        assert evidence_id in entries  # no cited id is missing from the register
        assert hover.startswith(f"{evidence_id}: ") and entries[evidence_id].title.replace("'", "&#39;") in hover
        assert f'<li id="ev-{evidence_id}">' in text  # its footnote
    assert "share of referred young people who would enter care within 30 months" in text
    provenance = _section(html, "provenance")
    listed = provenance.split("Evidence cited in the assumptions")[1].split("</tr>")[0]
    assert {i for i, _ in cited} <= set(re.findall(r"E\d+", listed))


def test_print_rules_keep_headings_with_content_and_words_whole(html):
    css = html.split("@media print")[1].split("</style>")[0]
    assert "break-after: avoid" in css and "break-inside: avoid" in css
    assert "word-break: break-word" not in html
    assert "overflow-wrap: anywhere" in html.split("td.key")[1].split("}")[0]


def test_workbook_is_formatted_for_an_analyst(run_dir, summary):
    book = openpyxl.load_workbook(run_dir / report.XLSX_FILE)
    assert book.sheetnames == ["headlines", "summary", "budget", "quarterly", "draws", "assumptions", "provenance"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes in ("A2", "A3"), sheet.title
        header = 2 if sheet.title == "draws" else 1
        assert all(cell.font.bold for cell in sheet[header] if cell.value is not None), sheet.title
    quarterly = book["quarterly"]
    header = [cell.value for cell in quarterly[1]]
    for row in quarterly.iter_rows(min_row=2):
        series, mean = row[header.index("series")].value, row[header.index("mean")]
        assert mean.number_format == ('"£"#,##0' if series in ("payments", "investor_position", "spv_cash")
                                      else "#,##0"), series
    budget = book["budget"]
    assert budget["A2"].value == "2013/14" and budget["B2"].number_format == '"£"#,##0'
    summary_sheet = book["summary"]
    formats = {row[0].value: row[1].number_format for row in summary_sheet.iter_rows(min_row=2)}
    assert formats["investor.moic_committed"] == '0.00"×"'
    assert formats["investor.prob_loss"] == "0.0%"
    assert formats["council.outcome_payments"] == '"£"#,##0'
    draws = book["draws"]
    assert "All 400 draws" in draws["A1"].value and draws.max_row == DRAWS + 2
    columns = {cell.value: cell.column for cell in draws[2]}
    assert draws.cell(row=3, column=columns["moic_committed"]).number_format == '0.00"×"'
    assert draws.cell(row=3, column=columns["outcome_payments"]).number_format == '"£"#,##0'
    assert MAX_DRAW_ROWS == 10_000


def test_the_draws_sheet_says_where_it_is_cut(run_dir, tmp_path, monkeypatch):
    from simsib.report import workbook

    monkeypatch.setattr(workbook, "MAX_DRAW_ROWS", 100)
    book = openpyxl.load_workbook(workbook.write_xlsx(run_dir, tmp_path / "cut.xlsx"))
    assert book["draws"]["A1"].value.startswith(f"Only the first 100 of {DRAWS} draws")
    assert book["draws"].max_row == 100 + 2


@pytest.mark.parametrize("name, kind", [("irr_status", None), ("cap_reached", None), ("cap_quarter", None),
                                        ("replicate", None), ("irr", "percent"), ("outcome_payments", "money"),
                                        ("moic_committed", "multiple"), ("council.deadweight_share", "percent")])
def test_workbook_formats_codes_as_plain_numbers(name, kind):
    # A status code or a flag formatted as % or £ would read as a figure ("0.0%").
    from simsib.report.workbook import kind_of

    assert kind_of(name) == kind


def test_a_contract_paying_for_reconvictions_draws_no_care_figures(tmp_path):
    # Peterborough has no care days, no care proportion and values no outcome: figures drawn from
    # those would be empty frames; its report leaves them out and still opens on the council.
    from simsib.cli.main import app

    out = tmp_path / "pb"
    result = CliRunner().invoke(app, ["run", "peterborough", "--draws", "200", "--seed", "1", "--workers", "1",
                                      "--out", str(out), "--quiet", "--report"])
    assert result.exit_code == 0, result.output
    made = {p.stem for p in (out / "figures").glob("*.png")}
    assert {"moic", "budget", "drivers"} <= made
    assert not made & {"deadweight", "care_proportion", "payments_vs_savings"}
