"""The Dask executor gives bit-identical results to the local one.

One two-worker ``LocalCluster`` (separate worker processes, so chunks and results really are
pickled across, as on a remote cluster) is shared by the module.  Failures on a cluster are in
tests/test_faults.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dask import distributed  # a hard dependency: a broken install fails here, never skips
from helpers import assert_same_outputs
from typer.testing import CliRunner

import simsib
from simsib.cli.main import app
from simsib.run.execution import Executor, run_chunks
from simsib.run.plan import make_plan

OVERRIDES = ["simulation.chunk_size=200", "simulation.quarterly_sample=300"]
RUN_ARGS = ["run", "--draws", "600", "--seed", "86", "--quiet",
            *[arg for o in OVERRIDES for arg in ("--set", o)]]


def simsib_cli(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output




def assert_same_draws(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def test_dask_executor_matches_local(tmp_path: Path, scheduler: str):
    local, remote = tmp_path / "local", tmp_path / "dask"
    simsib_cli(*RUN_ARGS, "--workers", "1", "--out", str(local))
    simsib_cli(*RUN_ARGS, "--executor", "dask", "--scheduler", scheduler, "--out", str(remote))
    assert json.loads((remote / "manifest.json").read_text())["executor"] == "dask"
    assert_same_outputs(local, remote)


def test_concurrent_runs_of_one_seed_do_not_share_results(scheduler: str):
    """Task keys are unique per run: two runs of one seed in flight together stay apart."""
    plans = [make_plan(simsib.load_scenario(overrides=OVERRIDES + extra), 600, seed=5)
             for extra in ([], ["effect.completion_rate=0.5"])]
    first, second = (run_chunks(plan, executor=Executor.dask, scheduler=scheduler) for plan in plans)
    results = [[next(first)], list(second)]  # the second run runs while the first is in flight
    results[0] += list(first)
    for plan, chunks in zip(plans, results):
        local = {c.index: c for c in run_chunks(plan)}
        assert sorted(c.index for c in chunks) == sorted(local)
        for chunk in chunks:
            assert_same_draws(chunk.draws, local[chunk.index].draws)


def test_without_a_scheduler_a_local_cluster_is_started():
    scenario = simsib.load_scenario(overrides=OVERRIDES)
    local = simsib.simulate(scenario, draws=400, seed=3)
    dask = simsib.simulate(scenario, draws=400, seed=3, executor="dask", workers=1)
    assert_same_draws({k: v.to_numpy() for k, v in local.draws.items()},
                      {k: v.to_numpy() for k, v in dask.draws.items()})
