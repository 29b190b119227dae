"""Observations files: read strictly, every problem at once, each naming the line, column and value."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from simsib.analysis.observations import (
    SERIES,
    Observation,
    Observations,
    bundled_names,
    check_against,
    parse_observations,
    read_observations,
    write_observations,
)
from simsib.cli.main import app
from simsib.scenario.errors import ScenarioError
from simsib.scenario.loader import bundled_scenario_path, load_scenario

GOOD = """# a comment, then the header
quarter,series,cohort,value,sd,source
3,starts,,17,,"board report"
3,completions,1,4,,
5,care_proportion_to_date,,0.25,0.02,
7,payments_to_date,,125000.5,,
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_observations(text, file="obs.csv")
    return [p.render("obs.csv") for p in caught.value.problems]


def test_a_good_file_is_read_with_months_quarters_and_the_review_date():
    obs = parse_observations(GOOD, file="obs.csv")
    assert [r.series for r in obs.rows] == ["starts", "completions", "care_proportion_to_date", "payments_to_date"]
    first = obs.rows[0]
    assert (first.line, first.month_end, first.quarter, first.cohort, first.value) == (3, 12, 3, None, 17.0)
    assert obs.rows[1].cohort == 1 and obs.rows[2].sd == 0.02 and obs.rows[0].source == "board report"
    assert obs.review_quarter == 8 and obs.needs_cohorts


def test_months_can_fall_inside_a_quarter_for_monthly_series():
    obs = parse_observations("month,series,value\n20,starts_to_date,50\n21,completions_to_date,24\n")
    assert [(r.month_end, r.quarter) for r in obs.rows] == [(20, 6), (21, 6)]
    assert obs.review_quarter == 7


def test_every_problem_is_reported_at_once_with_line_column_and_value():
    text = ("quarter,series,cohort,value,sd\n"
            "x,starts,,3,\n"            # line 2: quarter not an integer
            "2,strats,,3,\n"            # line 3: unknown series, did you mean
            "2,starts,1,3,\n"           # line 4: starts is not split by cohort
            "2,completions,,3.5,\n"     # line 5: a count must be whole
            "2,care_proportion,,10.8,\n"  # line 6: a share is in [0, 1]
            "2,care_days,,100,-1\n"     # line 7: sd must be positive
            "2,payments,,yes,\n")       # line 8: not a number
    found = problems(text)
    assert len(found) == 7
    assert "line 2, column quarter" in found[0] and "'x'" in found[0]
    assert "line 3, column series" in found[1] and "did you mean 'starts'" in found[1]
    assert "line 4, column cohort" in found[2] and "not split by cohort" in found[2]
    assert "line 5, column value" in found[3] and "whole number" in found[3]
    assert "line 6, column value" in found[4] and "0.108" in found[4]
    assert "line 7, column sd" in found[5]
    assert "line 8, column value" in found[6] and "'yes'" in found[6]
    assert all(f.startswith("obs.csv: ") for f in found)


@pytest.mark.parametrize("text, expected", [
    ("", "no header"),
    ("quarter,series,value\n", "header but no rows"),
    ("quarter,series,vlaue\n1,starts,3\n", "did you mean 'value'"),
    ("quarter,month,series,value\n1,3,starts,3\n", "exactly one time column"),
    ("series,value\nstarts,3\n", "exactly one time column"),
    ("quarter,value\n1,3\n", "missing the column 'series'"),
    ("quarter,series,value\n1,starts\n", "expected 3 comma-separated cells"),
    ("quarter,series,value\n1,starts,3\n1,starts,4\n", "repeats line 2"),
    ("month,series,value\n20,completions_to_date,3\n", "multiple of 3"),
    ("month,series,value\n0,starts_to_date,3\n", "1 or more"),
])
def test_malformed_files(text, expected):
    assert any(expected in p for p in problems(text)), problems(text)


def test_rows_must_fit_the_scenario_timeline():
    scenario = load_scenario()  # 34 quarters, 20 start cohorts, a baseline mechanism
    with pytest.raises(ScenarioError) as caught:
        check_against(parse_observations("quarter,series,cohort,value\n40,starts,,3\n2,care_days,25,10\n",
                                         file="o.csv"), scenario)
    text = caught.value.render()
    assert "after the contract's last quarter" in text and "start cohorts 0 to 19" in text
    norfolk = load_scenario(bundled_scenario_path("norfolk"))  # pays days out of care: no baseline
    with pytest.raises(ScenarioError, match="days_saved_vs_baseline"):
        check_against(parse_observations("quarter,series,value\n8,care_days_saved_to_date,1000\n"), norfolk)


def test_bundled_essex_files_are_valid_and_cite_evidence():
    assert {"essex-year1", "essex-end"} <= set(bundled_names())
    for name in ("essex-year1", "essex-end"):
        obs = read_observations(name, load_scenario())
        assert all(r.source.startswith("E") for r in obs.rows), name


def test_a_missing_file_names_itself():
    with pytest.raises(ScenarioError, match="no such observations file"):
        read_observations("no-such-file.csv")


def test_written_files_read_back(tmp_path):
    rows = (Observation(1, "starts", 6, None, 12.0), Observation(2, "care_days", 6, 1, 3456.5),
            Observation(3, "care_proportion_to_date", 9, None, 0.125))
    path = tmp_path / "out.csv"
    write_observations(path, rows, header_comment="made in a test")
    back = read_observations(path)
    assert [(r.series, r.month_end, r.cohort, r.value) for r in back.rows] == \
           [(r.series, r.month_end, r.cohort, r.value) for r in rows]


def test_every_series_has_a_plain_label():
    from simsib.scenario.evidence import label

    assert all(label(name) != name for name in SERIES)


def test_bad_observations_are_exit_2_with_one_message(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("quarter,series,value\n2,starts,-4\n")
    result = CliRunner().invoke(app, ["update", "essex", "--observed", str(bad), "--draws", "10"])
    assert result.exit_code == 2
    assert "bad.csv: line 2, column value" in result.output and "Traceback" not in result.output


def test_observations_combine_for_later_reviews():
    a = parse_observations("quarter,series,value\n2,starts,3\n", file="a.csv")
    b = parse_observations("quarter,series,value\n9,starts,3\n", file="b.csv")
    both = a.and_then(b)
    assert isinstance(both, Observations) and len(both) == 2 and both.review_quarter == 10
    assert both.file == "a.csv + b.csv"


def test_summarising_keeps_the_totals_at_year_ends_and_the_latest_quarter():
    from simsib.analysis.observed import summarised

    text = "quarter,series,value,sd\n" + "".join(f"{q},starts,{q + 1},1\n" for q in range(10))
    text += "9,care_proportion,0.2,\n4,care_proportion,0.3,\n2,payments,100,\n"  # payments has gaps
    summary = summarised(parse_observations(text))
    starts = [(r.series, r.quarter, r.value) for r in summary.rows if r.series.startswith("starts")]
    assert starts == [("starts_to_date", 3, 10.0), ("starts_to_date", 7, 36.0), ("starts_to_date", 9, 55.0)]
    last = next(r for r in summary.rows if r.series == "starts_to_date" and r.quarter == 9)
    assert last.sd == pytest.approx(10 ** 0.5)
    assert [(r.series, r.quarter) for r in summary.rows if r.series.startswith("care")] == [("care_proportion", 9)]
    assert [(r.series, r.value) for r in summary.rows if r.series.startswith("payments")] == [("payments", 100.0)]
