"""Same scenario and seed ⇒ bit-identical outputs for any number of local workers.

Compared exactly: summary.json (it holds nothing time-dependent; timings live in
manifest.json), quarterly.csv, scenario.toml, and draws.parquet as tables -- same schema and,
column by column, the same bytes (so NaNs must match too).  A small run: 900 draws in chunks
of 200 (the last one short), quarterly percentiles from the first 300 draws (so the sample
crosses a chunk boundary).  Local vs Dask: tests/test_dask.py; after ``--resume``:
tests/test_resume.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import assert_same_outputs
from typer.testing import CliRunner

from simsib.cli.main import app
from simsib.run.execution import default_workers

RUN_ARGS = ["run", "--draws", "900", "--seed", "20130401", "--quiet",
            "--set", "simulation.chunk_size=200", "--set", "simulation.quarterly_sample=300"]
def simsib(*args: str) -> str:
    """Run the CLI in-process; fail the test with its output unless it exits 0."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The run on one worker, in this process."""
    out = tmp_path_factory.mktemp("reference") / "run"
    simsib(*RUN_ARGS, "--workers", "1", "--out", str(out))
    return out


def test_reference_run_is_complete(reference: Path):
    summary = json.loads((reference / "summary.json").read_text())
    manifest = json.loads((reference / "manifest.json").read_text())
    assert summary["draws"] == 900 and summary["chunk_size"] == 200
    assert "timings_seconds" not in summary and "created_utc" not in summary
    assert manifest["workers"] == 1
    draws = pq.read_table(reference / "draws.parquet")
    assert draws.num_rows == 900
    np.testing.assert_array_equal(draws.column("draw").to_numpy(), np.arange(900))
    assert not list(reference.parent.glob(".run.*")), "working folders were left behind"


@pytest.mark.parametrize("workers", [2, 4])
def test_more_workers_give_identical_outputs(reference: Path, tmp_path: Path, workers: int):
    out = tmp_path / "run"
    simsib(*RUN_ARGS, "--workers", str(workers), "--out", str(out))
    assert json.loads((out / "manifest.json").read_text())["workers"] == workers
    assert_same_outputs(reference, out)


def test_default_workers_give_identical_outputs(reference: Path, tmp_path: Path):
    out = tmp_path / "run"
    simsib(*RUN_ARGS, "--out", str(out))
    assert json.loads((out / "manifest.json").read_text())["workers"] == default_workers()
    assert_same_outputs(reference, out)


def test_in_memory_api_matches_run_folder(reference: Path):
    import simsib as api

    scenario = api.load_scenario(overrides=["simulation.chunk_size=200", "simulation.quarterly_sample=300"])
    result = api.simulate(scenario, draws=900, seed=20130401, workers=2)
    table = pq.read_table(reference / "draws.parquet").drop(["draw"]).to_pandas()
    assert list(result.draws.columns) == list(table.columns)
    for name in table.columns:
        assert result.draws[name].to_numpy().tobytes() == table[name].to_numpy().tobytes(), name



@pytest.mark.parametrize("name", ["peterborough", "suffolk", "care-leavers-rate-card"])
def test_other_processes_give_identical_outputs_on_any_number_of_workers(tmp_path: Path, name: str):
    """Cohorts, comparison groups and per-person milestone records: chunks alike whoever runs them."""
    args = ["run", name, "--draws", "300", "--seed", "7", "--quiet", "--set", "simulation.chunk_size=100",
            "--set", "simulation.quarterly_sample=150"]
    simsib(*args, "--workers", "1", "--out", str(tmp_path / "one"))
    simsib(*args, "--workers", "2", "--out", str(tmp_path / "two"))
    assert_same_outputs(tmp_path / "one", tmp_path / "two")
