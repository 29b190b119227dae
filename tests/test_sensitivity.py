"""Sensitivity: tornado, rank correlations and Sobol indices of the uncertain inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import simsib.cli.analysis  # noqa: F401 - registers the analysis commands on simsib.cli.app
from simsib.analysis.estimates import METRICS
from simsib.analysis.sensitivity import COLUMNS, evaluate_rows, inputs_from_uniforms, sensitivity, sobol_problem
from simsib.cli.main import app
from simsib.report.sensitivity import write_sensitivity
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import per_draw_quantities
from simsib.scenario.loader import load_scenario

# A toy: Essex with one extra uncertain input that cannot move the investors' money multiple
# (the discount rate only enters the NPV), and referrals as much at risk as the historical
# comparison group -- where, unlike the default's low-risk referrals, the effect drives the money.
NO_INFLUENCE = "spv.discount_rate"
TOY = [f'{NO_INFLUENCE}={{ dist = "uniform", low = 0.0, high = 0.1 }}',
       'population.p30_entry={ dist = "beta", a = 28, b = 2 }']


@pytest.fixture(scope="module")
def toy():
    return load_scenario(overrides=TOY)


@pytest.fixture(scope="module")
def toy_result(toy):
    return sensitivity(toy, "moic_committed", draws=400, seed=4, sobol_n=64)


def test_an_input_with_no_influence_gets_zero_indices_within_their_ci(toy_result):
    row = toy_result.table.set_index("input").loc[NO_INFLUENCE]
    for index in ("S1", "ST"):
        assert abs(row[index]) <= row[f"{index}_conf"] + 1e-12
        assert abs(row[index]) < 1e-9  # the model is deterministic given inputs: exactly none
    # Its rank correlation is noise: within 4 standard errors (≈ 1/√(n−1)) of zero.
    assert abs(row["rank_correlation"]) < 4 / np.sqrt(400 - 1)
    # ... and its decile means differ by no more than noise.
    assert abs(row["high_mean"] - row["low_mean"]) < 4 * np.hypot(row["low_se"], row["high_se"])


def test_the_effect_ranks_near_the_top_for_moic(toy_result):
    table = toy_result.table
    assert list(table.columns) == list(COLUMNS)
    assert set(table["input"]) == set(per_draw_quantities(toy_result.scenario))
    assert table.index[table["input"] == "effect.log_hazard_ratio"][0] < 3
    by_correlation = table.assign(r=table["rank_correlation"].abs()).sort_values("r", ascending=False)
    assert "effect.log_hazard_ratio" in list(by_correlation["input"][:3])
    # A larger effect (more negative log hazard ratio) means more care days saved: higher MOIC.
    # (Its decile means may differ by less than their noise: with referrals this risky the
    # multiple is near zero in most draws; they must not differ the wrong way beyond it.)
    effect = table.set_index("input").loc["effect.log_hazard_ratio"]
    assert effect["rank_correlation"] < 0
    assert effect["low_mean"] > effect["high_mean"] - 4 * np.hypot(effect["low_se"], effect["high_se"])
    # Ranked by total-order index.
    assert np.all(np.diff(table["ST"].to_numpy()) <= 0)


def test_model_is_deterministic_given_inputs(toy):
    problem = sobol_problem(toy)
    rng = np.random.default_rng(0)
    uniforms = rng.random((4, problem["num_vars"]))
    uniforms[3] = uniforms[0]  # the same inputs in another row, after different rows
    inputs = inputs_from_uniforms(toy, uniforms)
    seed = np.random.SeedSequence(99)
    values = evaluate_rows(toy, inputs, METRICS["moic_committed"], seed)
    assert values[3] == values[0]
    again = evaluate_rows(toy, {k: v[::-1].copy() for k, v in inputs.items()}, METRICS["moic_committed"], seed)
    assert np.array_equal(again[::-1], values)


def test_mixture_inputs_are_one_group(toy):
    problem = sobol_problem(toy)
    groups = problem["groups"]
    n_uniforms = per_draw_quantities(toy)["effect.log_hazard_ratio"].n_uniforms
    assert n_uniforms > 1 and groups.count("effect.log_hazard_ratio") == n_uniforms
    assert len(dict.fromkeys(groups)) == len(per_draw_quantities(toy))


def test_skipping_sobol_and_another_metric(toy):
    result = sensitivity(toy, "net_benefit", draws=200, seed=1, sobol_n=0)
    assert result.table["ST"].isna().all()
    assert result.metric.name == "net_benefit"


def test_unknown_metric_is_a_scenario_error(toy):
    with pytest.raises(ScenarioError, match="moic_committed"):
        sensitivity(toy, "moic_comitted", draws=10, seed=1, sobol_n=0)


def test_outputs_and_a_labelled_tornado(toy_result, tmp_path):
    import matplotlib.colors
    from matplotlib.figure import Figure

    from simsib.report.sensitivity import plot_tornado

    figure = Figure()
    ax = figure.add_subplot()
    plot_tornado(toy_result, ax)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    # The most influential input on top, by its plain short label; the report's colours (orange low, blue high).
    from simsib.report.figures import PRIMARY, SECONDARY
    from simsib.scenario.evidence import label

    assert [t.get_text() for t in ax.get_yticklabels()][-1] == label(toy_result.table["input"].iloc[0], short=True)
    colours = {matplotlib.colors.to_hex(bar.get_facecolor()).upper() for bar in ax.patches}
    assert colours == {PRIMARY.upper(), SECONDARY.upper()}
    written = write_sensitivity(toy_result, tmp_path)
    assert pd.read_csv(tmp_path / "sensitivity.csv").columns.tolist() == list(COLUMNS)
    assert (tmp_path / "tornado.png").stat().st_size > 0 and "tornado.png" in written
    assert "| 1 |" in (tmp_path / "sensitivity.md").read_text()


def test_cli(tmp_path):
    out = tmp_path / "sens"
    result = CliRunner().invoke(app, ["sensitivity", "essex", "-n", "100", "-s", "2", "--sobol-n", "8",
                                      "-o", str(out), "-w", "1"])
    assert result.exit_code == 0, result.output
    assert {"sensitivity.csv", "sensitivity.md", "tornado.png"} <= {p.name for p in out.iterdir()}


def test_cli_adds_its_files_to_a_run_folder_for_the_report(tmp_path):
    run_dir = tmp_path / "run"
    runner = CliRunner()
    assert runner.invoke(app, ["run", "essex", "-n", "50", "-s", "1", "-o", str(run_dir), "-w", "1", "-q"]).exit_code == 0
    before = {p.name for p in run_dir.iterdir()}
    result = runner.invoke(app, ["sensitivity", "essex", "-n", "50", "-s", "1", "--sobol-n", "0",
                                 "-m", "net_benefit", "-o", str(run_dir), "-w", "1"])
    assert result.exit_code == 0, result.output
    after = {p.name for p in run_dir.iterdir()}
    assert before <= after and {"sensitivity.csv", "tornado.png"} <= after
    assert set(pd.read_csv(run_dir / "sensitivity.csv")["metric"]) == {"net_benefit"}
