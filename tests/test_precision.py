"""Run until precise (simsib.run.precision): where a run stops depends on the chunks' numbers alone,
and the run is then exactly the fixed-draw run of that many draws, for any workers or executor.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import assert_same_outputs
from typer.testing import CliRunner

from simsib.analysis.variants import Precision
from simsib.cli.main import app
from simsib.run.folder import run_to_folder
from simsib.run.precision import FIGURES, upper_bound
from simsib.scenario.format.delivery import PRECISION_KEYS
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

CHUNK = ["--set", "simulation.chunk_size=200"]
TARGET = 15_000.0  # £ of mean outcome payments: reached after a few 200-draw chunks


def simsib_cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def scenario():
    path = bundled_scenario_path()
    raw = load_raw(path, ["simulation.chunk_size=200"])
    return validate(raw, file=str(path)), raw


@pytest.fixture(scope="module")
def precise(scenario, tmp_path_factory):
    validated, raw = scenario
    out = tmp_path_factory.mktemp("precise") / "run"
    info = run_to_folder(validated, raw, out, seed=5, precision={"council.outcome_payments": TARGET}, workers=1)
    return out, info


def test_the_run_stops_at_the_first_boundary_where_the_target_is_met(precise):
    out, info = precise
    record = info.manifest["precision"]
    assert record["stopped"] == "precise" and record["targets"] == {"council.outcome_payments": TARGET}
    used = record["draws_used"]
    assert used % 200 == 0 and 200 < used < 20_000
    table = pd.read_csv(out / "convergence.csv")
    payments = table[table["figure"] == "council.outcome_payments"].set_index("draws")["se"]
    # It stops when the standard error's 90% upper bound (20 replicates: 19 degrees of freedom)
    # first reaches the target: not when a noisy estimate first dips below it.
    upper = payments.map(lambda se: upper_bound(se, 19))
    assert upper.loc[used] <= TARGET < upper.loc[used - 200]
    assert record["achieved_se_upper"]["council.outcome_payments"] == pytest.approx(upper.loc[used], rel=1e-9)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["draws"] == used
    assert summary["council"]["outcome_payments"]["se"] == pytest.approx(record["achieved_se"]["council.outcome_payments"],
                                                                         rel=1e-9)


@pytest.mark.parametrize("workers", [1, 2])
def test_it_is_the_fixed_draw_run_of_that_many_draws(precise, tmp_path, workers):
    out, info = precise
    used = info.manifest["precision"]["draws_used"]
    fixed = tmp_path / "fixed"
    assert simsib_cli("run", "--seed", "5", "--draws", str(used), "--quiet", "--workers", "2", *CHUNK,
                      "--out", str(fixed)).exit_code == 0
    again = tmp_path / "again"
    result = simsib_cli("run", "--seed", "5", "--precision", f"council.outcome_payments={TARGET}", "--quiet",
                        "--workers", str(workers), *CHUNK, "--out", str(again))
    assert result.exit_code == 0, result.output
    for folder in (fixed, again):
        assert_same_outputs(out, folder)
        assert (out / "convergence.csv").read_bytes() == (folder / "convergence.csv").read_bytes()


def test_reaching_max_draws_warns_and_says_so(tmp_path):
    out = tmp_path / "run"
    result = simsib_cli("run", "--seed", "1", "--precision", "investor.prob_loss=0.0001", "--max-draws", "600",
                        "--quiet", *CHUNK, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "maximum of 600 draws" in result.output and "investor.prob_loss" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["precision"]["stopped"] == "max_draws" and manifest["draws"] == 600


def test_precision_in_the_scenario_file(tmp_path):
    child = tmp_path / "precise.toml"
    child.write_text('extends = "essex.toml"\n[simulation]\nchunk_size = 200\n'
                     f'precision = {{ "council.outcome_payments" = {TARGET} }}\n')
    out = tmp_path / "run"
    assert simsib_cli("run", str(child), "--seed", "5", "--quiet", "--out", str(out)).exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["precision"]["stopped"] == "precise"


@pytest.mark.parametrize("args, words", [
    (["--precision", "investor.prob_los=0.01"], ["--precision", "did you mean 'investor.prob_loss'",
                                                  "council.outcome_payments"]),
    (["--precision", "investor.prob_loss=-1"], ["--precision investor.prob_loss", "target standard error > 0"]),
    (["--precision", "investor.prob_loss"], ["--precision investor.prob_loss", "target standard error > 0"]),
    (["--precision", "investor.prob_loss=0.01", "--draws", "100"], ["--draws", "not both"]),
])
def test_bad_precision_is_bad_input(tmp_path, args, words):
    result = simsib_cli("run", *args, "--quiet", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in result.output
    assert not (tmp_path / "run").exists()


def test_every_figure_with_a_standard_error_can_be_a_target():
    assert set(PRECISION_KEYS) == set(FIGURES)


def test_sweep_runs_every_point_to_the_target():
    from simsib.analysis.estimates import METRICS, estimate
    from simsib.analysis.sweep import parse_grid, sweep

    raw = load_raw(bundled_scenario_path(), ["simulation.chunk_size=200"])
    until = Precision({"investor.prob_loss": 0.02}, max_draws=10_000)
    result = sweep(raw, [parse_grid("contract.cap=5e6,7e6")], metrics=["prob_loss"], seed=3, precision=until)
    assert until.record["stopped"] == "precise" and result.header["draws"] == until.record["draws_used"]
    for cols in result.draws:
        assert estimate(METRICS["prob_loss"], cols)[1] <= 0.02
    fixed = sweep(raw, [parse_grid("contract.cap=5e6,7e6")], metrics=["prob_loss"], seed=3,
                  draws=result.header["draws"])
    pd.testing.assert_frame_equal(result.table, fixed.table)


def test_compare_and_stress_take_a_precision(tmp_path):
    result = simsib_cli("compare", "essex", "--set", "contract.cap=5e6", "--seed", "2", *CHUNK,
                        "--precision", "council.outcome_payments=80000", "--out", str(tmp_path / "cmp"))
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert saved["precision"]["stopped"] == "precise" and saved["draws"] == saved["precision"]["draws_used"]
    result = simsib_cli("stress", "--seed", "2", *CHUNK, "--case", "no_effect", "--precision",
                        "investor.prob_loss=0.03", "--quiet", "--out", str(tmp_path / "stress"))
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "stress" / "stress.json").read_text())["precision"]["stopped"] == "precise"


def test_chunks_computed_past_the_stop_are_not_part_of_the_run(scenario, tmp_path):
    """With several workers a few chunks beyond the stopping point may be done already; they must
    not reach the outputs (the quarterly bands once took them in, depending on timing)."""
    from simsib.run.outputs import quarterly_sample
    from simsib.run.partial import PartialRun
    from simsib.run.pipeline import run_chunk

    validated, _ = scenario
    partial = PartialRun(tmp_path / "run", {"id": 1}, False, {i: 200 for i in range(5)})
    for index in range(5):
        partial.save(run_chunk(validated, 7, index, 200))
    sample = quarterly_sample(partial, 10**6, n_chunks=3)
    assert all(values.shape[0] == 600 for values in sample.values())


def test_upper_bound_of_a_standard_error():
    """σ ≤ se·√(df/χ²_df(0.10)) with 90% confidence: checked against simulated replicate errors."""
    assert upper_bound(1.0, 19) == pytest.approx(1.277, abs=1e-3)
    assert upper_bound(1.0, 999) == pytest.approx(1.030, abs=1e-3)
    assert upper_bound(1.0, 0) == float("inf")
    rng = np.random.default_rng(7)
    means = rng.normal(size=(20_000, 20))  # 20 replicates' means, true se of their mean 1/√20
    se = means.std(axis=1, ddof=1) / np.sqrt(20)
    covered = np.mean([upper_bound(s, 19) >= 1 / np.sqrt(20) for s in se])
    assert abs(covered - 0.90) < 0.01
