"""Writing a run folder atomically, chunk by chunk, resumably.

Layout while running: completed chunks go to a hidden *partial* folder beside the output,
``.NAME.partial/`` (one Parquet file per chunk plus its quarterly sample), with a
``plan.json`` saying which run they belong to.  When every chunk is there, the outputs are
assembled in a hidden staging folder and renamed into place in one step; then the partial
folder is removed.  An interrupted run therefore leaves the previous complete output (or none)
and a partial folder that ``--resume`` continues from -- bit-identically, because each chunk's
numbers depend only on the run's entropy and the chunk's index.

Run folder contents: ``summary.json``, ``draws.parquet``, ``quarterly.csv``, ``manifest.json``,
``scenario.toml`` (the resolved scenario, rerunnable), and ``cashflows.parquet`` on request.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simsib.pipeline import QUARTERLY_SERIES, ChunkResult

SUMMARY_FILE = "summary.json"
DRAWS_FILE = "draws.parquet"
QUARTERLY_FILE = "quarterly.csv"
MANIFEST_FILE = "manifest.json"
SCENARIO_FILE = "scenario.toml"
CASHFLOWS_FILE = "cashflows.parquet"


def _table(columns: dict[str, np.ndarray]) -> pa.Table:
    return pa.table({name: pa.array(np.asarray(values)) for name, values in columns.items()})


class PartialRun:
    """The resumable store of completed chunks for one output folder."""

    def __init__(self, out_dir: Path, identity: dict[str, Any], resume: bool):
        self.out_dir = out_dir
        self.path = out_dir.parent / f".{out_dir.name}.partial"
        self.identity = identity
        plan_file = self.path / "plan.json"
        if resume and plan_file.exists() and json.loads(plan_file.read_text()) == identity:
            return
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        plan_file.write_text(json.dumps(identity, indent=2, sort_keys=True))

    @staticmethod
    def identity_of(plan_fields: dict[str, Any]) -> dict[str, Any]:
        return dict(sorted(plan_fields.items()))

    def completed(self) -> set[int]:
        return {int(p.name.split(".")[0]) for p in self.path.glob("*.draws.parquet")}

    def save(self, chunk: ChunkResult) -> None:
        """Store one chunk; files appear under their final name only when fully written."""
        stem = f"{chunk.index:07d}"
        arrays = {f"q_{k}": v for k, v in chunk.quarterly.items()}
        if chunk.cashflows is not None:
            arrays["cashflows"] = chunk.cashflows
        if arrays:
            tmp = self.path / f"{stem}.extra.tmp.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, self.path / f"{stem}.extra.npz")
        tmp = self.path / f"{stem}.draws.tmp"
        pq.write_table(_table(chunk.draws), tmp)
        os.replace(tmp, self.path / f"{stem}.draws.parquet")

    def chunk_files(self) -> list[Path]:
        return sorted(self.path.glob("*.draws.parquet"))

    def extras(self, index: int) -> dict[str, np.ndarray]:
        path = self.path / f"{index:07d}.extra.npz"
        if not path.exists():
            return {}
        with np.load(path) as data:
            return {k: data[k] for k in data.files}

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def assemble(partial: PartialRun, staging: Path, n_chunks: int, cashflows: bool) -> int:
    """Concatenate chunk files, in chunk order, into draws.parquet (and cashflows.parquet).

    Streams one chunk at a time.  Returns the number of draws written.
    """
    files = partial.chunk_files()
    if len(files) != n_chunks:
        raise RuntimeError(f"expected {n_chunks} completed chunks, found {len(files)}")
    n = 0
    writer = cash_writer = None
    try:
        for path in files:
            table = pq.read_table(path)
            index = int(path.name.split(".")[0])
            table = table.add_column(0, "draw", pa.array(np.arange(n, n + table.num_rows, dtype=np.int64)))
            writer = writer or pq.ParquetWriter(staging / DRAWS_FILE, table.schema)
            writer.write_table(table)
            if cashflows:
                flows = partial.extras(index)["cashflows"]
                cols = {"draw": np.arange(n, n + table.num_rows, dtype=np.int64)}
                cols.update({f"q{q:03d}": flows[:, q] for q in range(flows.shape[1])})
                ctable = _table(cols)
                cash_writer = cash_writer or pq.ParquetWriter(staging / CASHFLOWS_FILE, ctable.schema)
                cash_writer.write_table(ctable)
            n += table.num_rows
    finally:
        if writer is not None:
            writer.close()
        if cash_writer is not None:
            cash_writer.close()
    return n


def quarterly_sample(partial: PartialRun, limit: int) -> dict[str, np.ndarray]:
    """The first ``limit`` draws' quarterly series, stacked: series -> (m, n_quarters)."""
    pieces: dict[str, list[np.ndarray]] = {k: [] for k in QUARTERLY_SERIES}
    taken = 0
    for path in partial.chunk_files():
        if taken >= limit:
            break
        extras = partial.extras(int(path.name.split(".")[0]))
        if f"q_{QUARTERLY_SERIES[0]}" not in extras:
            break
        rows = min(limit - taken, extras[f"q_{QUARTERLY_SERIES[0]}"].shape[0])
        for key in QUARTERLY_SERIES:
            pieces[key].append(extras[f"q_{key}"][:rows])
        taken += rows
    return {k: np.concatenate(v) for k, v in pieces.items() if v}


def column_reader(path: Path):
    """Read one column of a Parquet file as a numpy array (one column in memory at a time)."""

    def read(column: str) -> np.ndarray:
        return pq.read_table(path, columns=[column]).column(0).to_numpy()

    return read


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def staging_folder(out_dir: Path) -> Path:
    staging = out_dir.parent / f".{out_dir.name}.staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, out_dir: Path) -> None:
    """Move a finished staging folder into place, replacing any previous output whole."""
    previous = out_dir.parent / f".{out_dir.name}.previous-{os.getpid()}"
    if out_dir.exists():
        os.replace(out_dir, previous)
    os.replace(staging, out_dir)
    if previous.exists():
        shutil.rmtree(previous, ignore_errors=True)


def iter_hidden(out_dir: Path) -> Iterator[Path]:
    """Hidden working folders belonging to ``out_dir`` (for tests and cleanup)."""
    yield from out_dir.parent.glob(f".{out_dir.name}.*")


def _replace_atomically(path: Path, write) -> None:
    """Write through ``write(tmp_path)`` and rename over ``path``: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_analysis(out_dir: Path, stem: str, table, markdown: str, header: dict, figures: dict | None = None) -> list[str]:
    """Write an analysis's ``STEM.csv``, ``STEM.md``, ``STEM.json`` and figures into ``out_dir``.

    ``table`` is a DataFrame, ``figures`` maps file names to matplotlib figures.  Each file is
    replaced whole, so an analysis added to an existing run folder never leaves a half-written
    file.  Returns the file names written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _replace_atomically(out / f"{stem}.csv", lambda p: table.to_csv(p, index=False))
    _replace_atomically(out / f"{stem}.md", lambda p: p.write_text(markdown))
    _replace_atomically(out / f"{stem}.json", lambda p: p.write_text(json.dumps(header, indent=2, default=str) + "\n"))
    written = [f"{stem}.csv", f"{stem}.md", f"{stem}.json"]
    for name, figure in (figures or {}).items():
        # The temporary name hides the suffix, so the format is given explicitly.
        fmt = Path(name).suffix.lstrip(".")
        _replace_atomically(out / name, lambda p, f=figure, fmt=fmt: f.savefig(p, format=fmt, dpi=120))
        written.append(name)
    return written
