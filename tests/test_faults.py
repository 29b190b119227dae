"""Faults end a run cleanly: exit code 1 (130 for Ctrl-C), one clear message, no output folder,
no worker left running.

Faults are injected by substituting ``simsib.run.execution.run_chunk`` (forked local workers and
in-process Dask worker threads see the substitute) -- nothing in simsib knows it is tested.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from dask import distributed  # a hard dependency: a broken install fails here, never skips
from typer.testing import CliRunner

import simsib.run.execution
from simsib.cli.main import app
from simsib.run.execution import ExecutionError, Executor
from simsib.run.folder import run_to_folder
from simsib.run.ownership import iter_hidden
from simsib.run.pipeline import run_chunk
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

OVERRIDES = ["simulation.chunk_size=200"]
RUN_ARGS = ["run", "--draws", "1000", "--seed", "4", "--quiet", "--set", OVERRIDES[0]]


def simsib_cli(*args: str):
    return CliRunner().invoke(app, list(args))


def live_children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE}


def failing_on(index: int, failure):
    """A chunk function that runs ``failure()`` for chunk ``index`` and is normal otherwise."""

    def chunk(scenario, entropy, i, n, **kwargs):
        if i == index:
            failure()
        return run_chunk(scenario, entropy, i, n, **kwargs)

    return chunk


def die() -> None:
    os._exit(1)  # as a segfault or the OOM killer would: no exception, no cleanup


def crash() -> None:
    raise ValueError("chunk 1 cannot be computed")


# Local worker processes ---------------------------------------------------------------------


def test_a_dead_worker_ends_the_run_with_exit_1(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(simsib.run.execution, "run_chunk", failing_on(1, die))
    before = live_children()
    out = tmp_path / "run"
    result = simsib_cli(*RUN_ARGS, "--workers", "2", "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "a worker process died" in result.output and "exit code 1" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    # Only the chunks completed before the death may remain (for --resume): no lock, no staging.
    assert {p.name for p in iter_hidden(out)} <= {".run.partial"}
    assert live_children() <= before, "workers were left running"


def test_an_error_in_a_worker_stops_the_others(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(simsib.run.execution, "run_chunk", failing_on(1, crash))
    before = live_children()
    out = tmp_path / "run"
    result = simsib_cli(*RUN_ARGS, "--workers", "2", "--out", str(out))
    assert result.exit_code == 1
    assert "ValueError: chunk 1 cannot be computed" in result.output
    assert not out.exists()
    assert live_children() <= before


# Wall-clock bounds below are generous so that a loaded CI machine does not flake: they allow
# for the configured timeouts of simsib.run.execution plus this much for interpreter start-up or
# shut-down, imports and scheduling delays.  They still fail if simsib waits out work (chunks
# that sleep ten minutes) or a timeout it should not reach.
SLACK_SECONDS = 20.0

SLOW_CHUNKS = (  # simsib whose chunks take ten minutes: workers must be stopped, not awaited
    "import sys, time, simsib.run.execution as e\n"
    "e.run_chunk = lambda *args, **kwargs: time.sleep(600)\n"
    "from simsib.cli.main import entry\n"
    "sys.argv[0] = 'simsib'\n"
    "entry()\n"
)


def test_ctrl_c_terminates_workers_promptly(tmp_path: Path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C.  Workers ignore it (so they
    neither die mid-write nor print tracebacks); simsib must terminate them itself."""
    out = tmp_path / "run"
    workers = 2
    # Worst designed path of simsib.run.execution._stop: each worker is given TERMINATE_SECONDS after
    # SIGTERM before it is killed; plus slack for the interpreter to shut down.  Far below the
    # 600 s a worker would take if it were awaited rather than stopped.
    stop_bound = workers * simsib.run.execution.TERMINATE_SECONDS + SLACK_SECONDS
    command = [sys.executable, "-c", SLOW_CHUNKS, *RUN_ARGS, "--workers", str(workers), "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "CI": "1"})
    try:
        main = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while len(main.children()) < workers:  # all workers busy
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        workers = main.children()
        time.sleep(0.2)
        pressed = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=2 * stop_bound)
        _, alive = psutil.wait_procs(workers, timeout=1)
        stopped_after = time.monotonic() - pressed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not alive, "workers were left running"
    assert stopped_after < stop_bound, f"stopping took {stopped_after:.1f} s"
    assert not out.exists()


# Dask ---------------------------------------------------------------------------------------


@pytest.fixture
def thread_cluster():
    """An in-process Dask cluster: its worker threads see substituted chunk functions."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as cluster:
        yield cluster


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_scheduler_fails_fast(tmp_path: Path, monkeypatch):
    # "Fast" means without waiting out the connect timeout (Dask retries a refused connection
    # until it expires).  Make that timeout far longer than the slack allowed for the in-process
    # CLI run, so the bound is generous yet still tells the two apart.
    monkeypatch.setattr(simsib.run.execution, "DASK_CONNECT_SECONDS", 3 * SLACK_SECONDS)
    out = tmp_path / "run"
    address = f"tcp://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = simsib_cli(*RUN_ARGS, "--executor", "dask", "--scheduler", address, "--out", str(out))
    assert time.monotonic() - started < SLACK_SECONDS < simsib.run.execution.DASK_CONNECT_SECONDS
    assert result.exit_code == 1
    assert f"cannot reach the Dask scheduler at {address}" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_a_chunk_failing_on_the_cluster_ends_the_run(tmp_path: Path, monkeypatch, thread_cluster):
    monkeypatch.setattr(simsib.run.execution, "run_chunk", failing_on(1, crash))
    out = tmp_path / "run"
    result = simsib_cli(*RUN_ARGS, "--executor", "dask", "--scheduler", thread_cluster.scheduler_address,
                        "--out", str(out))
    assert result.exit_code == 1
    assert "the run failed on the Dask cluster" in result.output
    assert "ValueError: chunk 1 cannot be computed" in result.output
    assert not out.exists()


def test_a_lost_scheduler_ends_the_run(tmp_path: Path, thread_cluster):
    path = bundled_scenario_path()
    raw = load_raw(path, OVERRIDES)
    out = tmp_path / "run"

    def lose_cluster(n_draws: int) -> None:
        thread_cluster.close()

    with pytest.raises(ExecutionError, match="lost the connection to the scheduler"):
        run_to_folder(validate(raw, file=str(path)), raw, out, draws=1000, seed=4, executor=Executor.dask,
                      scheduler=thread_cluster.scheduler_address, progress=lose_cluster)
    assert not out.exists()


def test_a_scheduler_without_workers_is_reported(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(simsib.run.execution, "DASK_WORKERS_SECONDS", 0.5)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        result = simsib_cli(*RUN_ARGS, "--executor", "dask", "--scheduler", cluster.scheduler_address,
                            "--out", str(tmp_path / "run"))
    assert result.exit_code == 1
    assert "has no workers" in result.output


# Orphans --------------------------------------------------------------------------------------


def _busy_run(tmp_path: Path, workers: int = 2):
    """simsib with ``workers`` workers stuck in ten-minute chunks; returns (process, its workers)."""
    command = [sys.executable, "-c", SLOW_CHUNKS, *RUN_ARGS, "--workers", str(workers), "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "CI": "1"})
    main = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while len(main.children()) < workers:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return proc, main.children()


def test_workers_never_outlive_a_killed_parent(tmp_path: Path):
    """kill -9 of simsib used to leave its workers running (parent PID 1, ~270 MB each)."""
    proc, workers = _busy_run(tmp_path)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs(workers, timeout=10)
    finally:
        for worker in workers:
            if worker.is_running():
                worker.kill()
    assert not alive, f"workers still alive 10 s after their parent was killed: {[w.pid for w in alive]}"


def test_sigterm_stops_the_run_like_ctrl_c(tmp_path: Path):
    proc, workers = _busy_run(tmp_path)
    try:
        os.kill(proc.pid, signal.SIGTERM)  # the main process only, as `kill PID` does
        _, stderr = proc.communicate(timeout=2 * TERMINATE_BOUND)
        _, alive = psutil.wait_procs(workers, timeout=1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, stderr
    assert "terminated" in stderr and "Traceback" not in stderr
    assert not alive, "workers were left running"
    assert not (tmp_path / "run").exists() and not list(iter_hidden(tmp_path / "run"))


TERMINATE_BOUND = 2 * simsib.run.execution.TERMINATE_SECONDS + SLACK_SECONDS


# Nothing is created before the inputs are checked --------------------------------------------


@pytest.mark.parametrize("address, words", [
    ("inproc://x", "exists only inside the process"),
    ("tcp://127.0.0.1:notaport", "port must be a number"),
    ("tcp://127.0.0.1:99999", "port must be a number"),
    ("http://127.0.0.1:8786", "SCHEME://HOST:PORT"),
])
def test_a_malformed_scheduler_address_is_bad_input(tmp_path: Path, address, words):
    out = tmp_path / "new" / "run"
    result = simsib_cli(*RUN_ARGS, "--executor", "dask", "--scheduler", address, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "--scheduler" in result.output and words in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_scheduler_leaves_nothing_behind(tmp_path: Path):
    """A failed Dask connection used to leave .NAME.partial/ (and the folders above it)."""
    out = tmp_path / "new" / "run"
    result = simsib_cli(*RUN_ARGS, "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{closed_port()}",
                        "--out", str(out))
    assert result.exit_code == 1, result.output
    assert list(tmp_path.iterdir()) == []
