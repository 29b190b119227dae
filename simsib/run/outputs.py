"""Writing a run folder atomically, chunk by chunk, resumably.

Layout while running: completed chunks go to a hidden *partial* folder beside the output,
``.NAME.partial/`` (one Arrow IPC file per chunk -- cheap to write and read back -- plus its
quarterly sample), with a ``plan.json`` saying which run they belong to.  When every chunk is there, the outputs are
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
import pyarrow.ipc  # noqa: F401  (pa.ipc)
import pyarrow.parquet as pq

from simsib.run.pipeline import QUARTERLY_SERIES, ChunkResult

SUMMARY_FILE = "summary.json"
DRAWS_FILE = "draws.parquet"
QUARTERLY_FILE = "quarterly.csv"
MANIFEST_FILE = "manifest.json"
SCENARIO_FILE = "scenario.toml"
CASHFLOWS_FILE = "cashflows.parquet"
CHUNK_SUFFIX = ".draws.arrow"  # a completed chunk's per-draw columns in the partial folder
# Rows per Parquet row group: big enough that reading one column of a million draws touches
# a few dozen row groups, not one per chunk (3-4x faster to summarise); about 64k x 46
# columns x 8 bytes = 24 MB buffered while assembling.
ROW_GROUP_ROWS = 65_536


def arrow_array(values: np.ndarray) -> pa.Array:
    """A numpy array of numbers or booleans as an Arrow array, without importing pandas.

    ``pa.array`` imports pandas (0.25 s) to ask whether it was given a Series; building the
    array from its buffers gives the same array (NaN stays a value, not a null).
    """
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        data = np.packbits(values, bitorder="little")  # Arrow stores booleans as little-endian bits
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(data)])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def numpy_column(column: pa.ChunkedArray) -> np.ndarray:
    """An Arrow column of numbers or booleans (no nulls) as one numpy array, without importing pandas.

    The inverse of :func:`arrow_array`: numbers are viewed without a copy, booleans unpacked from
    their bits (pyarrow's own ``to_numpy`` imports pandas).
    """
    parts = []
    for chunk in column.chunks:
        if chunk.null_count:  # never written by simsib; pyarrow's conversion handles it
            parts.append(chunk.to_numpy(zero_copy_only=False))
        elif pa.types.is_boolean(chunk.type):
            bits = np.frombuffer(chunk.buffers()[1], dtype=np.uint8)
            unpacked = np.unpackbits(bits, count=chunk.offset + len(chunk), bitorder="little")
            parts.append(unpacked[chunk.offset:].astype(bool))
        else:  # a view of the values buffer
            dtype = np.dtype(chunk.type.to_pandas_dtype())
            parts.append(np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk),
                                       offset=chunk.offset * dtype.itemsize))
    return np.concatenate(parts) if parts else np.empty(0, dtype=column.type.to_pandas_dtype())


def _table(columns: dict[str, np.ndarray]) -> pa.Table:
    return pa.Table.from_arrays([arrow_array(v) for v in columns.values()], names=list(columns))


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

    def completed(self) -> set[int]:
        return {int(p.name.split(".")[0]) for p in self.chunk_files()}

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
        table = _table(chunk.draws)
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, self.path / f"{stem}{CHUNK_SUFFIX}")

    def chunk_files(self) -> list[Path]:
        """Completed chunks' files, in chunk order."""
        return sorted(self.path.glob(f"*{CHUNK_SUFFIX}"))

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

    Streams: at most one row group (:data:`ROW_GROUP_ROWS` draws) is held in memory.
    Returns the number of draws written.
    """
    files = partial.chunk_files()
    if len(files) != n_chunks:
        raise RuntimeError(f"expected {n_chunks} completed chunks, found {len(files)}")
    draws = _RowGroupWriter(staging / DRAWS_FILE)
    flows = _RowGroupWriter(staging / CASHFLOWS_FILE) if cashflows else None
    n, written = 0, False
    try:
        for path in files:
            with pa.OSFile(str(path), "rb") as source:
                table = pa.ipc.open_file(source).read_all()
            index = int(path.name.split(".")[0])
            numbers = np.arange(n, n + table.num_rows, dtype=np.int64)
            draws.add(table.add_column(0, "draw", arrow_array(numbers)))
            if flows is not None:
                cash = partial.extras(index)["cashflows"]
                cols = {"draw": numbers, **{f"q{q:03d}": cash[:, q] for q in range(cash.shape[1])}}
                flows.add(_table(cols))
            n += table.num_rows
        written = True
    finally:
        draws.close(flush=written)
        if flows is not None:
            flows.close(flush=written)
    return n


class _RowGroupWriter:
    """A Parquet writer that gathers small tables into row groups of ROW_GROUP_ROWS rows."""

    def __init__(self, path: Path):
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        self.writer = self.writer or pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.pending, self.rows = [], 0

    def close(self, flush: bool = True) -> None:
        try:
            if flush:
                self._flush()
        finally:
            if self.writer is not None:
                self.writer.close()


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
        # ParquetFile, not pq.read_table: the latter loads pyarrow.dataset, which imports pandas.
        with pq.ParquetFile(path) as parquet:
            return numpy_column(parquet.read(columns=[column]).column(0))

    return read


def column_names(path: Path) -> list[str]:
    """The column names of a Parquet file, from its footer."""
    with pq.ParquetFile(path) as parquet:
        return list(parquet.schema_arrow.names)


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
