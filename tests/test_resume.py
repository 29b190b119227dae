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
from simsib.run.ownership import iter_hidden
from simsib.run.partial import CHUNK_SUFFIX
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



# Damaged chunks are recomputed, never trusted ---------------------------------------------------


def _rewrite_draws(path: Path, edit) -> None:
    """Rewrite a chunk's Arrow file with ``edit(table) -> table`` (a plausible, well-formed file)."""
    import pyarrow as pa

    with pa.OSFile(str(path), "rb") as source:
        table = pa.ipc.open_file(source).read_all()
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(edit(table))


def _flip_bytes(folder: Path) -> None:
    path = folder / f"0000001{CHUNK_SUFFIX}"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _copy_other_chunk(folder: Path) -> None:  # chunk 0's files and record, renamed as chunk 1's
    for source in folder.glob("0000000.*"):
        (folder / source.name.replace("0000000", "0000001")).write_bytes(source.read_bytes())


def _fewer_rows(folder: Path) -> None:
    _rewrite_draws(folder / f"0000001{CHUNK_SUFFIX}", lambda table: table.slice(0, 150))


def _nan_in_a_column(folder: Path) -> None:
    import numpy as np
    import pyarrow as pa

    def poison(table):
        values = table.column("moic_committed").to_numpy().copy()
        values[7] = np.nan
        return table.set_column(table.schema.get_field_index("moic_committed"), "moic_committed", pa.array(values))

    _rewrite_draws(folder / f"0000001{CHUNK_SUFFIX}", poison)


DAMAGE = {
    "flipped bytes": (_flip_bytes, "fails its checksum"),
    "copied from another chunk": (_copy_other_chunk, "are those of chunk 0"),
    "cut to fewer rows": (_fewer_rows, "fails its checksum"),
    "NaN written into a column": (_nan_in_a_column, "fails its checksum"),
    "extra file deleted": (lambda folder: (folder / "0000001.extra.npz").unlink(), "is missing"),
    "record deleted": (lambda folder: (folder / "0000001.chunk.json").unlink(), "no checksum record"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_recomputes_a_damaged_chunk(scenario, uninterrupted, tmp_path, damage):
    """Each of these used to be accepted and published with exit code 0 (wrong numbers)."""
    validated, raw = scenario
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_to_folder(validated, raw, out, draws=DRAWS, seed=SEED, workers=1, progress=Interrupt(3))
    damage_chunk, words = DAMAGE[damage]
    damage_chunk(partial_folder(out))

    result = simsib_cli(*RUN_ARGS, "--workers", "1", "--resume", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "chunk 1" in result.output and words in result.output and "recomputing" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_chunks"] == 2 and [c["index"] for c in manifest["recomputed_chunks"]] == [1]
    assert_same_outputs(uninterrupted, out)


def test_a_chunk_of_the_wrong_size_is_never_published(tmp_path, monkeypatch):
    """A chunk that comes back short (a bug, a bad worker) ends the run; nothing is published."""
    import simsib.run.execution
    from simsib.run.pipeline import run_chunk

    def short(scenario, entropy, index, n, **kwargs):
        return run_chunk(scenario, entropy, index, n - 50 if index == 2 else n, **kwargs)

    monkeypatch.setattr(simsib.run.execution, "run_chunk", short)
    out = tmp_path / "run"
    result = simsib_cli(*RUN_ARGS, "--workers", "1", "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "chunk 2" in result.output and "expected 200" in result.output
    assert not out.exists()


def test_the_published_folder_is_checked_against_the_draws(tmp_path, monkeypatch):
    """draws.parquet must hold exactly `draws` rows, or nothing is published."""
    import simsib.run.folder

    original = simsib.run.folder.assemble

    def one_chunk_short(partial, staging, n_chunks, cashflows, **kwargs):
        return original(partial, staging, n_chunks - 1, cashflows, **kwargs)

    monkeypatch.setattr(simsib.run.folder, "assemble", one_chunk_short)
    out = tmp_path / "run"
    result = simsib_cli(*RUN_ARGS, "--workers", "1", "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "draws.parquet holds 800 draws, but the run has 1000" in result.output
    assert not out.exists()
