"""Never lose a user's data: simsib writes only folders it wrote, one writer at a time, publishes
whole or not at all, cleans up after dead writers, and says plainly when the machine fails it.

Each test reproduces a way the folder rules were broken before (issue 13) and checks the rule
(:mod:`simsib.run.ownership`) through the CLI.  Processes are started for the tests that need a
second writer; faults inside simsib are injected by substituting functions, never by timing.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import assert_same_outputs
from typer.testing import CliRunner

import simsib.run.execution
import simsib.run.ownership
from simsib.cli.main import app
from simsib.run.folder import run_to_folder
from simsib.run.ownership import hidden_path, iter_hidden
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

SMALL = ["--draws", "400", "--quiet", "--set", "simulation.chunk_size=100", "--workers", "1"]


def simsib_cli(*args: str):
    return CliRunner().invoke(app, list(args))


def never_simulate(monkeypatch) -> None:
    """Make any simulation fail loudly: a refusal must come before the work."""

    def chunk(*args, **kwargs):
        raise AssertionError("simulated before the output folder was checked")

    monkeypatch.setattr(simsib.run.execution, "run_chunk", chunk)


def users_folder(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A folder of the user's own: a scenario they wrote and their notes."""
    folder = tmp_path / "my"
    folder.mkdir()
    (folder / "scenario.toml").write_text('extends = "essex.toml"\n[meta]\nname = "mine"\n')
    (folder / "notes.txt").write_text("my notes, not simsib's\n")
    return folder, {p.name: p.read_bytes() for p in folder.iterdir()}


# Ownership -----------------------------------------------------------------------------------


def test_run_never_replaces_a_users_folder(tmp_path, monkeypatch):
    """`simsib run my/scenario.toml --out my/` used to delete the scenario and the notes (exit 0)."""
    folder, before = users_folder(tmp_path)
    never_simulate(monkeypatch)
    result = simsib_cli("run", str(folder / "scenario.toml"), "--out", str(folder), *SMALL)
    assert result.exit_code == 2, result.output
    assert str(folder) in result.output and "notes.txt" in result.output and "--force" in result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not list(iter_hidden(folder))


ANALYSES = {  # every other command that writes a folder, given --out
    "sweep": ["sweep", "--grid", "contract.mechanisms.0.price_per_day=70,80", "--draws", "200"],
    "sensitivity": ["sensitivity", "--draws", "200", "--sobol-n", "0"],
    "stress": ["stress", "--draws", "200"],
    "compare-mechanisms": ["compare-mechanisms", "--draws", "200"],
    "compare": ["compare", "essex", "--set", "contract.cap=5e6", "--draws", "200"],
    "backtest": ["backtest", "--draws", "200"],
}


@pytest.mark.parametrize("command", list(ANALYSES))
def test_analyses_never_replace_a_users_folder(tmp_path, monkeypatch, command):
    folder, before = users_folder(tmp_path)
    never_simulate(monkeypatch)
    result = simsib_cli(*ANALYSES[command], "--out", str(folder))
    assert result.exit_code == 2, result.output
    assert "notes.txt" in result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_report_never_writes_into_a_users_folder(tmp_path, run_folder):
    folder, before = users_folder(tmp_path)
    result = simsib_cli("report", str(run_folder), "--out", str(folder))
    assert result.exit_code == 2, result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shared") / "run"
    result = simsib_cli("run", "--seed", "3", "--out", str(out), *SMALL)
    assert result.exit_code == 0, result.output
    return out


def test_force_writes_simsibs_files_and_deletes_nothing_else(tmp_path):
    folder, before = users_folder(tmp_path)
    del before["scenario.toml"]  # a name simsib writes, like summary.json: --force may replace them
    (folder / "summary.json").write_text("{}")
    first = simsib_cli("run", "--seed", "1", "--cashflows", "--force", "--out", str(folder), *SMALL)
    assert first.exit_code == 0, first.output
    assert {name: (folder / name).read_bytes() for name in before} == before
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["written_by"] == "simsib" and "notes.txt" not in manifest["files"]
    assert "cashflows.parquet" in manifest["files"] and json.loads((folder / "summary.json").read_text())["draws"] == 400

    refused = simsib_cli("run", "--seed", "2", "--out", str(folder), *SMALL)
    assert refused.exit_code == 2  # the user's files are still there: no silent replacement later either
    second = simsib_cli("run", "--seed", "2", "--force", "--out", str(folder), *SMALL)
    assert second.exit_code == 0, second.output
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert not (folder / "cashflows.parquet").exists(), "simsib's own stale file must go"
    assert not list(iter_hidden(folder))


def test_a_folder_simsib_wrote_is_replaced_whole_with_what_was_added_to_it(tmp_path):
    out = tmp_path / "run"
    assert simsib_cli("run", "--seed", "1", "--out", str(out), *SMALL).exit_code == 0
    added = simsib_cli("report", str(out))
    assert added.exit_code == 0, added.output
    files = json.loads((out / "manifest.json").read_text())["files"]
    assert "index.html" in files and any(f.startswith("figures/") for f in files)
    again = simsib_cli("run", "--seed", "2", "--out", str(out), *SMALL)
    assert again.exit_code == 0, again.output
    assert not (out / "index.html").exists(), "the old run's report described other numbers"


@pytest.mark.parametrize("out", [".", ""])
def test_out_naming_the_current_folder_is_refused_up_front(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("mine")
    never_simulate(monkeypatch)
    result = simsib_cli("run", "--out", out, *SMALL)
    assert result.exit_code == 2, result.output
    assert "--out" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_out_through_a_file_and_names_too_long(tmp_path, monkeypatch):
    never_simulate(monkeypatch)
    (tmp_path / "file.txt").write_text("x")
    through = simsib_cli("run", "--out", str(tmp_path / "file.txt" / "sub"), *SMALL)
    assert through.exit_code == 2 and "is a file, not a folder" in through.output
    too_long = simsib_cli("run", "--out", str(tmp_path / ("x" * 300)), *SMALL)
    assert too_long.exit_code == 2 and "300 bytes" in too_long.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_a_name_of_250_characters_works_and_leaves_nothing(tmp_path):
    out = tmp_path / ("y" * 250)
    assert len(hidden_path(out, "staging-4194304").name.encode()) <= 255
    result = simsib_cli("run", "--seed", "1", "--out", str(out), *SMALL)
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


# One writer per folder -----------------------------------------------------------------------

HELD_RUN = (  # simsib whose chunks take ten minutes: it holds its folder's lock until killed
    "import sys, time, simsib.run.execution as e\n"
    "e.run_chunk = lambda *args, **kwargs: time.sleep(600)\n"
    "from simsib.cli.main import entry\n"
    "sys.argv[0] = 'simsib'\n"
    "entry()\n"
)


def test_a_second_writer_fails_at_once_naming_the_first(tmp_path, monkeypatch):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HELD_RUN, "run", "--out", str(out), *SMALL],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "CI": "1"})
    try:
        lock = hidden_path(out, "lock")
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(holder.pid)):
            assert holder.poll() is None and time.monotonic() < deadline, holder.communicate()
            time.sleep(0.05)
        never_simulate(monkeypatch)
        started = time.monotonic()
        second = simsib_cli("run", "--seed", "9", "--out", str(out), *SMALL)
        assert second.exit_code == 2, second.output
        assert f"pid {holder.pid}" in second.output and time.monotonic() - started < 5
    finally:
        holder.terminate()
        holder.communicate(timeout=60)
    assert holder.returncode == 143  # SIGTERM is handled like Ctrl-C
    assert not out.exists() and not list(iter_hidden(out)), "the lock is released and removed"


def test_two_runs_started_together_never_mix(tmp_path):
    """Two runs a moment apart on one --out used to publish draws of both seeds under one label."""
    out = tmp_path / "run"
    args = ["run", "--draws", "2000", "--quiet", "--workers", "1", "--set", "simulation.chunk_size=200"]
    started = []
    for seed in (11, 12):
        started.append(subprocess.Popen([sys.executable, "-m", "simsib", *args, "--seed", str(seed), "--out", str(out)],
                                        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        time.sleep(0.3)
    outcomes = [(proc.wait(timeout=300), proc.communicate()[1]) for proc in started]
    assert sorted(code for code, _ in outcomes) in ([0, 0], [0, 2]), outcomes
    assert all("another simsib process" in stderr for code, stderr in outcomes if code == 2)
    # Whoever published, the folder is exactly that seed's run.
    seed = json.loads((out / "summary.json").read_text())["seed"]
    reference = tmp_path / "reference"
    assert simsib_cli(*args, "--seed", str(seed), "--out", str(reference)).exit_code == 0
    assert_same_outputs(reference, out)


# Leftovers and publishing --------------------------------------------------------------------


def test_stale_working_folders_of_dead_writers_are_cleaned(tmp_path):
    out = tmp_path / "run"
    for suffix in ("staging-999999999", "report-staging-999999999"):
        junk = hidden_path(out, suffix)
        junk.mkdir()
        (junk / "draws.parquet").write_bytes(os.urandom(1 << 20))
    (tmp_path / ".run-other.staging-999999999").mkdir()  # another folder's: not ours to touch
    result = simsib_cli("run", "--seed", "1", "--out", str(out), *SMALL)
    assert result.exit_code == 0, result.output
    assert not list(iter_hidden(out))
    assert (tmp_path / ".run-other.staging-999999999").exists()


def test_an_output_moved_aside_by_a_killed_writer_is_restored(tmp_path, run_folder):
    """A writer killed between its two renames leaves the old output in .NAME.previous-PID: the
    next writer of the folder moves it back before anything else, even if it is then stopped."""
    out = tmp_path / "run"
    shutil.copytree(run_folder, hidden_path(out, "previous-999999999"))
    path = bundled_scenario_path()
    raw = load_raw(path, ["simulation.chunk_size=100"])

    def ctrl_c(n_draws: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_to_folder(validate(raw), raw, out, draws=400, seed=2, progress=ctrl_c)
    assert_same_outputs(run_folder, out)
    assert [p.name for p in iter_hidden(out)] == [hidden_path(out, "partial").name]


def test_publishing_restores_the_previous_output_when_the_second_rename_fails(tmp_path, run_folder, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(run_folder, out)
    real_replace = os.replace

    def replace(src, dst):
        if ".staging-" in os.fspath(src) and os.fspath(dst) == os.fspath(out):
            raise OSError(errno.EIO, "Input/output error", os.fspath(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(simsib.run.ownership.os, "replace", replace)
    result = simsib_cli("run", "--seed", "5", "--out", str(out), *SMALL)
    assert result.exit_code == 1, result.output
    assert "input/output error" in result.output and "bug" not in result.output
    assert_same_outputs(run_folder, out)
    assert {p.name for p in iter_hidden(out)} <= {hidden_path(out, "partial").name}


# Failures of the machine ---------------------------------------------------------------------


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "no space left on device"),
                                         (errno.EACCES, "permission denied"),
                                         (errno.EROFS, "read-only file system")])
def test_machine_failures_are_reported_plainly(tmp_path, monkeypatch, code, words):
    import simsib.run.folder

    def write_json(path, data):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(simsib.run.folder, "write_json", write_json)
    out = tmp_path / "run"
    result = simsib_cli("run", "--seed", "1", "--out", str(out), *SMALL)
    assert result.exit_code == 1, result.output
    assert words in result.output and "summary.json" in result.output
    assert "bug" not in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 256 kB file system (needs root and mount; skipped elsewhere -- the test above covers it)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_ends_the_run_plainly(small_tmpfs):
    out = small_tmpfs / "run"
    result = simsib_cli("run", "--seed", "1", "--draws", "5000", "--quiet", "--workers", "1", "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "no space left on device" in result.output and "bug" not in result.output
    assert not out.exists()


def test_a_read_only_folder_ends_the_run_plainly(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    if os.geteuid() == 0:  # root ignores permissions: a read-only mount instead
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(parent)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("root, and cannot mount a read-only tmpfs")
    else:
        parent.chmod(0o555)
    try:
        result = simsib_cli("run", "--out", str(parent / "run"), *SMALL)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(parent)], check=True)
        else:
            parent.chmod(0o755)
    assert result.exit_code == 1, result.output
    assert ("read-only file system" in result.output or "permission denied" in result.output)
    assert "bug" not in result.output


# Undefined figures ---------------------------------------------------------------------------


def test_with_no_capital_the_loss_probabilities_are_undefined_not_zero(tmp_path):
    out = tmp_path / "run"
    result = simsib_cli("run", "--seed", "1", "--out", str(out), *SMALL, "--set", "spv.capital_committed=0")
    assert result.exit_code == 0, result.output
    investor = json.loads((out / "summary.json").read_text())["investor"]
    for key in ("prob_loss", "prob_total_loss"):
        assert investor[key]["value"] is None and investor[key]["se"] is None
        assert "no draw drew any investor capital" in investor[key]["reason"]
    assert "0.0%" not in next(line for line in result.output.splitlines() if "P(loss)" in line)
    assert "no draw drew any investor capital" in result.output
