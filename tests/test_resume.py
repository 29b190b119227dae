"""An interrupted run leaves the previous output intact; ``--resume`` finishes it bit-identically.

The interruption is a progress callback that raises KeyboardInterrupt after ``k`` chunks have
been saved -- exactly what Ctrl-C does at that moment, without timing games.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import assert_same_outputs
from typer.testing import CliRunner

from simsib.cli.main import app
from simsib.run.folder import run_to_folder
from simsib.run.outputs import CHUNK_SUFFIX, iter_hidden
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

SEED = 1913
DRAWS = 1000  # five chunks of 200
OVERRIDES = ["simulation.chunk_size=200", "simulation.quarterly_sample=300"]
RUN_ARGS = ["run", "--draws", str(DRAWS), "--seed", str(SEED), "--quiet",
            *[arg for o in OVERRIDES for arg in ("--set", o)]]


def simsib_cli(*args: str):
    return CliRunner().invoke(app, list(args))




class Interrupt:
    """Progress callback that presses Ctrl-C once ``after`` chunks are saved."""

    def __init__(self, after: int):
        self.after, self.calls = after, 0

    def __call__(self, n_draws: int) -> None:
        self.calls += 1
        if self.calls >= self.after:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def scenario():
    path = bundled_scenario_path()
    raw = load_raw(path, OVERRIDES)
    return validate(raw, file=str(path)), raw


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    result = simsib_cli(*RUN_ARGS, "--workers", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def partial_folder(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


@pytest.mark.parametrize("workers, after", [(1, 2), (2, 3)])
def test_resume_after_interruption_is_bit_identical(scenario, uninterrupted, tmp_path, workers, after):
    validated, raw = scenario
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_to_folder(validated, raw, out, draws=DRAWS, seed=SEED, workers=workers, progress=Interrupt(after))
    assert not out.exists(), "an interrupted run must not publish an output folder"
    saved = sorted(p.name for p in partial_folder(out).glob(f"*{CHUNK_SUFFIX}"))
    assert len(saved) == after
    assert [p.name for p in iter_hidden(out)] == [partial_folder(out).name]

    result = simsib_cli(*RUN_ARGS, "--workers", str(workers), "--resume", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["resumed_chunks"] == after
    assert_same_outputs(uninterrupted, out)
    assert not list(iter_hidden(out)), "the partial folder must be removed once the run is published"


def test_interruption_leaves_previous_output_intact(scenario, uninterrupted, tmp_path):
    validated, raw = scenario
    out = tmp_path / "run"
    first = simsib_cli(*RUN_ARGS, "--seed", "7", "--workers", "1", "--out", str(out))
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    with pytest.raises(KeyboardInterrupt):
        run_to_folder(validated, raw, out, draws=DRAWS, seed=SEED, workers=2, progress=Interrupt(1))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    result = simsib_cli(*RUN_ARGS, "--workers", "2", "--resume", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert_same_outputs(uninterrupted, out)


def test_interrupted_cli_run_exits_130_and_keeps_chunks(tmp_path, monkeypatch):
    """Ctrl-C through the CLI: exit 130, a clear message, no output, chunks kept for --resume."""
    import simsib.run.folder

    original = simsib.run.folder.run_to_folder

    def interrupted(*args, **kwargs):
        return original(*args, **{**kwargs, "progress": Interrupt(2)})

    monkeypatch.setattr(simsib.run.folder, "run_to_folder", interrupted)
    out = tmp_path / "run"
    result = simsib_cli(*RUN_ARGS, "--workers", "1", "--out", str(out))
    assert result.exit_code == 130
    assert "interrupted" in result.output and "--resume" in result.output
    assert not out.exists()
    assert len(list(partial_folder(out).glob(f"*{CHUNK_SUFFIX}"))) == 2


def test_resume_of_a_different_plan_starts_afresh(scenario, uninterrupted, tmp_path):
    """Chunks of another plan (here: another seed) are never mixed into a resumed run."""
    validated, raw = scenario
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_to_folder(validated, raw, out, draws=DRAWS, seed=SEED + 1, workers=1, progress=Interrupt(2))
    result = simsib_cli(*RUN_ARGS, "--workers", "1", "--resume", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["resumed_chunks"] == 0
    assert_same_outputs(uninterrupted, out)


def test_resume_needs_the_seed(tmp_path):
    result = simsib_cli("run", "--draws", "10", "--resume", "--quiet", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert "--seed" in result.output

