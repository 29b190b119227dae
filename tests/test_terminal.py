"""The terminal: every command's output fits 80 columns uncut, help shows defaults, errors are clear.

Each command runs once on few draws through typer's CliRunner with ``COLUMNS=80`` (the console is
sized per invocation, :func:`simsib.cli.app.fit_consoles`).  Rich cuts what does not fit with
"…"; no line may be wider than 80 and no "…" may appear.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from simsib.cli.main import app
from simsib.cli.run_view import print_summary
from simsib.cli.terminal import change, figure_label, show

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
FEW = ["--draws", "200", "--seed", "3"]


def invoke(args: list[str], columns: int = 80):
    result = runner.invoke(app, args, env={"COLUMNS": str(columns)})
    assert "Traceback" not in result.output, result.output
    return result


def commands(tmp: Path) -> dict[str, list[str]]:
    return {
        "run": ["run", *FEW, "--out", str(tmp / "run"), "-w", "1", "-q"],
        "report": ["report", str(tmp / "run")],
        "compare-mechanisms": ["compare-mechanisms", *FEW, "--out", str(tmp / "mech")],
        "sweep": ["sweep", "--grid", "contract.cap=5e6:9e6:3", "--grid", "contract.mechanisms.0.price_per_day=50,90",
                  *FEW, "--out", str(tmp / "sweep"), "-w", "1", "-q"],
        "stress": ["stress", *FEW, "--out", str(tmp / "stress"), "-w", "1", "-q"],
        "compare": ["compare", "essex", "--set", "contract.cap=5e6", *FEW, "-w", "1"],
        "sensitivity": ["sensitivity", *FEW, "--sobol-n", "16", "--out", str(tmp / "sens"), "-w", "1", "-q"],
        "commission": ["commission", *FEW, "--out", str(tmp / "comm"), "-w", "1", "-q"],
        "update": ["update", "--observed", "essex-year1", "--draws", "300", "--seed", "3", "--paths", "4",
                   "--out", str(tmp / "upd"), "-w", "1"],
        "backtest": ["backtest", "--draws", "100", "--out", str(tmp / "bt"), "-q", "-w", "1"],
    }


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("terminal")
    found = {}
    for name, args in commands(tmp).items():  # in order: report reads the run's folder
        result = invoke(args)
        assert result.exit_code == 0, f"{name}: {result.output}"
        found[name] = result.output
    return found


@pytest.mark.parametrize("name", list(commands(Path("."))))
def test_fits_80_columns_without_cutting(outputs, name):
    text = outputs[name]
    too_wide = [line for line in text.splitlines() if len(line.rstrip()) > 80]
    assert not too_wide, f"{name}: {too_wide[:3]}"
    assert "…" not in text, name


def test_names_and_numbers_stay_whole(outputs):
    # What rich used to cut at 80 columns: case names, mechanism prices, the grid's values.
    for case in ("referrals_half", "no_effect", "start_evidence", "care_costs_up_30", "team_start_year_late"):
        assert re.search(rf"(Δ|^|\s){case}\s", outputs["stress"], re.M), case
    assert re.search(r"£\d[\d,]*\.\d\d", outputs["compare-mechanisms"])
    for value in ("5,000,000", "7,000,000", "9,000,000"):
        assert value in outputs["sweep"]


def test_changes_of_probabilities_are_percentage_points(outputs):
    for name in ("stress", "compare"):
        row = next(line for line in outputs[name].splitlines() if line.startswith("P(loss): MOIC on drawn < 1"))
        assert re.search(r"[+−]\d+\.\d pp ± \d", row), row
        assert not re.search(r"[+−]\d+\.\d% ±", row), row


def test_one_label_per_figure_across_commands(outputs):
    for name in ("run", "stress", "compare", "sweep", "compare-mechanisms"):
        assert re.search(r"P\(loss\):\s", outputs[name]), name  # the header "P(loss): MOIC on drawn < 1" may wrap
    for gone in ("Investors' P(loss)", "Council expected payment", "Loss: MOIC on drawn"):
        assert all(gone not in text for text in outputs.values()), gone


def test_run_shows_the_council_and_the_investors_headline(outputs):
    text = outputs["run"]
    flat = " ".join(text.split())
    assert re.search(r"median IRR −?\d+\.\d% ± [\d.]+% a year \(mean −?\d+\.\d% ± [\d.]+%; total loss in", flat)
    for label in (figure_label("contract_savings"), figure_label("true_savings"), figure_label("unfunded_costs"),
                  figure_label("prob_service_stopped_early"), "Cap on payments reached in"):
        assert label in flat, label
    row = next(line for line in text.splitlines() if line.startswith("Young people started"))
    assert re.fullmatch(r"Young people started +\d+ ± [\d.]+ +\d+ +\d+ +\d+", row.rstrip()), row


def _summary(by_year: bool) -> dict:
    stats = {"mean": 1.0, "se": 0.01, "p05": 0.5, "p50": 1.0, "p95": 1.5}
    summary = {"scenario": "hand-made", "draws": 100, "seed_entropy": 1,
               "investor": {"moic_committed": stats, "irr": {**stats, "mean": 0.05, "p50": 0.07},
                            "prob_loss": {"value": 0.1, "se": 0.01}, "prob_total_loss": {"value": 0.02, "se": 0.005}},
               "council": {"outcome_payments": {**stats, "mean": 6e6}}}
    if by_year:
        summary["council"]["payments_by_year"] = [
            {"year": "2013/14", "mean": 1.2e5, "p05": 0.0, "p50": 1.0e5, "p95": 3.0e5},
            {"year": "2014/15", "mean": 1.5e6, "p05": 9.0e5, "p50": 1.4e6, "p95": 2.2e6},
            {"year": "total", "mean": 6.0e6, "p05": 4.6e6, "p50": 7.2e6, "p95": 7.2e6}]
    return summary


def _printed(summary: dict, median=None) -> str:
    console = Console(width=80, record=True, file=open("/dev/null", "w"))
    print_summary(console, summary, median)
    return console.export_text()


def test_payments_by_financial_year_when_summarised():
    text = _printed(_summary(by_year=True), median=(0.071, 0.002))
    assert "by financial year" in text
    assert re.search(r"2014/15 +£1\.50m +£900k +£1\.40m +£2\.20m", text)
    assert "median IRR 7.1% ± 0.2% a year (mean 5.0% ± 1.0%; total loss in 2.0% ± 0.5% of draws)" in " ".join(text.split())
    assert "financial year" not in _printed(_summary(by_year=False))


def test_the_summarised_median_irr_is_the_headline_where_summary_json_has_it():
    summary = _summary(by_year=False)
    summary["investor"]["irr_median"] = {"value": 0.069, "se": 0.001}
    assert "median IRR 6.9% ± 0.1% a year" in " ".join(_printed(summary, median=(0.5, 0.1)).split())


def test_show_pages_columns_and_stacks_rather_than_cut():
    header = ["figure", *[f"Δ a_long_case_name_{i}" for i in range(6)]]
    rows = [["A figure with a rather long label that wraps", *["−£10.23m ± £100k"] * 6]]
    for width in (80, 44):
        console = Console(width=width, record=True, file=open("/dev/null", "w"))
        show(console, "title", header, rows)
        text = console.export_text()
        assert all(len(line.rstrip()) <= width for line in text.splitlines())
        assert "…" not in text
        assert text.count("−£10.23m ± £100k") == 6
        assert all(h.removeprefix("Δ ") in text for h in header[1:])


def test_change_in_points_and_labels():
    assert change(0.68, 0.029, "prob") == "+68.0 pp ± 2.9 pp"
    assert change(-0.5, 0.01, "multiple") == "−0.50× ± 0.01×"
    assert figure_label("prob_loss") == "P(loss): MOIC on drawn < 1"
    assert figure_label("young_people_started") == "Young people started"


# Help -----------------------------------------------------------------------------------------
COMMANDS = typer.main.get_command(app).commands


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_every_default(name):
    text = invoke([name, "--help"], columns=200).output
    flat = " ".join(text.split())
    assert " ." not in flat, "help text lost its '[default: …]' to rich markup"
    for param in COMMANDS[name].params:
        if not isinstance(param, (click.Option, click.Argument)) or param.name == "help" or param.required:
            continue
        if isinstance(param.show_default, str):
            assert f"[default: ({param.show_default})]" in flat, (name, param.name)
        elif param.default not in (None, False, [], ()) and not getattr(param, "is_flag", False):
            assert f"[default: {param.default}]" in flat, (name, param.name)


def test_help_lists_the_bundled_scenarios():
    flat = " ".join(invoke(["run", "--help"], columns=200).output.split())
    for name in ("essex", "essex-launch", "norfolk", "peterborough", "suffolk"):
        assert name in flat
    assert "[default: (essex)]" in flat
    listing = invoke(["scenarios"]).output
    assert "essex-tranches" in listing and "Peterborough" in listing


@pytest.mark.parametrize("name", ["run", "sweep", "sensitivity", "stress", "compare", "commission", "backtest", "update",
                                  "compare-mechanisms"])
def test_commands_that_run_draws_share_the_common_options(name):
    options = {opt for param in COMMANDS[name].params for opt in getattr(param, "opts", [])}
    assert {"--quiet", "--workers", "--out"} <= options, name


# Errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, needles", [
    (["sweep", "--grid", "contract.cap=5e6:9e6", "--draws", "50"], ["--grid", "START:STOP:N", "contract.cap=5e6:9e6"]),
    (["sweep", "--grid", "contract.cap", "--draws", "50"], ["--grid", "KEY=V1,V2", "'contract.cap'"]),
    (["sweep", "--grid", "contract.cap=a,b", "--draws", "50"], ["contract.cap", "--grid", "START:STOP:N", "'a'"]),
    (["report", "no/such/folder"], ["RUN_DIR", "no such folder", "no/such/folder"]),
    (["compare", "essex", "--draws", "50"], ["SCENARIO_B", "--set"]),
    (["sensitivity", "--sobol-n", "100", "--draws", "50"], ["--sobol-n", "power of two", "64 or 128", "100"]),
])
def test_bad_arguments_exit_2_with_one_clear_message(tmp_path, args, needles):
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    flat = " ".join(result.output.split())
    for needle in needles:
        assert needle in flat, (needle, flat)


def test_the_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code.replace("draws=2000", "draws=200"), "README.md", "exec"), namespace)
    assert 0 <= namespace["loss"]["value"] <= 1
    assert len(namespace["draws"]) == 200
    assert namespace["payments"]["mean"] > 0


def test_help_defaults_say_what_the_format_defaults_are():
    """The help's stated defaults are written out (``--help`` must not import the format), so
    hold them to the format's own defaults."""
    from simsib.cli.app import DrawsOpt, MaxDrawsOpt, SamplingOpt
    from simsib.scenario.format.delivery import Simulation

    fields = Simulation.model_fields
    assert SamplingOpt.show_default.endswith(fields["sampling"].default)
    assert DrawsOpt.show_default.endswith(f"{fields['draws'].default:,}")
    assert MaxDrawsOpt.show_default.endswith(f"{fields['max_draws'].default:,}")


def test_a_contract_without_cap_or_start_date_is_told_as_it_is():
    # Peterborough: no cap, no calendar start, pays for reconvictions (not care days).
    from rich.console import Console

    import simsib
    from simsib.cli.run_view import print_summary
    from simsib.scenario.loader import load_scenario

    summary = simsib.simulate(load_scenario("peterborough"), draws=200, seed=1).summary_dict
    console = Console(width=80, record=True)
    print_summary(console, summary)
    text = " ".join(console.export_text().split())
    assert "Cap on payments reached" not in text and "P(cap reached)" not in text
    assert "by contract year" in text and "financial year" not in text
    assert "year 1" in text and "Deadweight share of all payments" not in text
    assert "True savings" not in text  # zero by construction: it values no reconviction
