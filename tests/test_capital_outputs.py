"""The capital structure in a run's outputs: the bundled two-tranche Essex variant against Essex
on the same care paths, summary.json's tranche, guarantor and termination sections, the terminal
tranche table and the report's table and figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import simsib
import simsib.cli.report  # noqa: F401  (registers `report`)
from simsib.cli.main import app
from simsib.report import document
from simsib.run.summary import flatten
from simsib.scenario.loader import bundled_scenario_path

DRAWS = 400
runner = CliRunner()


@pytest.fixture(scope="module")
def pair():
    essex = simsib.simulate(simsib.load_scenario(bundled_scenario_path("essex")), draws=DRAWS, seed=3)
    tranches = simsib.simulate(simsib.load_scenario(bundled_scenario_path("essex-tranches")), draws=DRAWS, seed=3)
    return essex, tranches


def test_the_two_tranche_variant_splits_essexs_own_outcome(pair):
    """Same care paths, same SPV: every draw pays its investors exactly what Essex's one class
    gets, split between the senior and first-loss classes."""
    essex, split = pair
    for column in ("outcome_payments", "true_savings", "young_people_started", "capital_drawn", "distributions",
                   "moic_committed", "irr"):
        np.testing.assert_array_equal(split.draws[column].to_numpy(), essex.draws[column].to_numpy(), column)
    total = split.draws["distributions_senior"] + split.draws["distributions_first_loss"]
    np.testing.assert_allclose(total, essex.draws["distributions"], rtol=1e-12, atol=1e-6)
    # The senior loses principal only where the first-loss class has lost all of its own.
    senior_lost = split.draws["lost_principal_senior"] > 1e-6
    assert senior_lost.any()
    np.testing.assert_allclose(split.draws.loc[senior_lost, "lost_principal_first_loss"], 1_000_000)
    # Its return is its coupon at most (5% a year, no upside).
    assert (split.draws["irr_senior"].dropna() <= 0.05 + 1e-9).all()


def test_summary_reports_each_tranche_with_its_standard_errors(pair):
    _, split = pair
    tranches = split.summary_dict["investor"]["tranches"]
    assert list(tranches) == ["senior", "first_loss"]
    for name, figures in tranches.items():
        moic = split.draws[f"moic_{name}"].to_numpy()
        assert figures["moic"]["mean"] == pytest.approx(moic.mean())
        assert figures["moic"]["se"] == pytest.approx(moic.std(ddof=1) / np.sqrt(DRAWS))
        assert figures["prob_loss"]["value"] == pytest.approx(np.mean(moic < 1))
        assert figures["prob_total_loss"]["value"] == pytest.approx(np.mean(moic < 0.1))
        assert figures["es05"]["of"] == f"moic_{name}"
        assert {"irr", "capital_drawn", "distributions", "lost_principal"} <= set(figures)
    assert tranches["senior"]["prob_loss"]["value"] < tranches["first_loss"]["prob_loss"]["value"]
    metrics = {row["metric"] for row in flatten(split.summary_dict)}
    assert {"investor.tranches.senior.moic", "investor.tranches.first_loss.prob_loss"} <= metrics
    assert "investor.tranches" not in metrics


def test_summary_reports_the_guarantor_and_the_early_end():
    rikers = simsib.simulate(simsib.load_scenario(bundled_scenario_path("rikers")), draws=200, seed=2)
    s, draws = rikers.summary_dict, rikers.draws
    payout = draws["guarantee_foundation"].to_numpy()
    g = s["guarantors"]["foundation"]
    assert g["payout"]["mean"] == pytest.approx(payout.mean())
    assert g["prob_called"]["value"] == pytest.approx(np.mean(payout > 0))
    worst = np.sort(payout)[-10:]  # the largest 5% of 200 draws
    assert g["tail"]["value"] == pytest.approx(worst.mean())
    assert s["contract"]["prob_terminated"]["value"] == pytest.approx(draws["terminated"].mean())
    assert s["contract"]["termination_quarter"]["n"] == draws["terminated"].sum()
    for key in ("review_change_outcome_payments", "review_change_net_benefit"):
        assert s["council"][key]["mean"] == pytest.approx(draws[key].mean())
    # The lender's loss is what the guarantee leaves: a quarter of lost principal.
    lost = draws["lost_principal_senior_loan"].to_numpy()
    np.testing.assert_allclose(payout, np.minimum(0.75 * lost, 7_200_000))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run") / "essex-tranches"
    result = runner.invoke(app, ["run", "essex-tranches", "--draws", "300", "--seed", "5", "--out", str(out),
                                 "--workers", "1"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_terminal_shows_the_tranches_side_by_side(run_dir):
    _, output = run_dir
    assert "by tranche" in output
    header = next(line for line in output.splitlines() if "senior" in line and "first_loss" in line)
    assert header.index("senior") < header.index("first_loss")
    assert "P(total loss): MOIC < 0.1" in output


def test_the_report_has_the_tranche_table_and_figure(run_dir):
    out, _ = run_dir
    document.write_report(out)
    summary = json.loads((out / "summary.json").read_text())
    markdown = (out / "report.md").read_text()
    assert "| figure | senior | first_loss |" in markdown
    assert (out / "figures" / "moic_by_tranche.png").stat().st_size > 1000
    assert 'id="fig-moic_by_tranche"' in (out / "index.html").read_text()
    mean = summary["investor"]["tranches"]["senior"]["moic"]["mean"]
    assert f"{mean:.2f}×" in markdown
