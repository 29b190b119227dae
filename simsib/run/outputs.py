"""The files of a run folder: Arrow and Parquet without pandas, assembly from verified chunks.

Completed chunks wait in the run's resumable store (:mod:`simsib.run.partial`).  When every
chunk is there, the outputs are assembled in a hidden staging folder, checked
(:func:`verify_outputs`), and published whole by :mod:`simsib.run.ownership`; then the store is
removed.  An interrupted run therefore leaves the previous complete output (or none) and the
store that ``--resume`` continues from.

Run folder contents: ``summary.json``, ``draws.parquet``, ``quarterly.csv``, ``manifest.json``,
``scenario.toml`` (the resolved scenario, rerunnable), and ``cashflows.parquet`` on request.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (pa.ipc)
import pyarrow.parquet as pq

from simsib.run.ownership import MANIFEST_FILE, iter_hidden  # noqa: F401  (re-exported)
from simsib.run.pipeline import QUARTERLY_SERIES

SUMMARY_FILE = "summary.json"
DRAWS_FILE = "draws.parquet"
QUARTERLY_FILE = "quarterly.csv"
SCENARIO_FILE = "scenario.toml"
CASHFLOWS_FILE = "cashflows.parquet"
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


def table_of(columns: dict[str, np.ndarray]) -> pa.Table:
    return pa.Table.from_arrays([arrow_array(v) for v in columns.values()], names=list(columns))


def assemble(partial, staging: Path, n_chunks: int, cashflows: bool,
             on_chunk: Callable[[int, pa.Table], None] | None = None) -> int:
    """Concatenate the verified chunks, each exactly once and in chunk order, into draws.parquet
    (and cashflows.parquet).

    ``partial`` is the run's :class:`simsib.run.partial.PartialRun`; ``on_chunk(index, table)``
    sees each chunk's columns on the way, in chunk order.  Streams: at most one row group
    (:data:`ROW_GROUP_ROWS` draws) is held in memory.  Returns the number of draws written.
    """
    missing = sorted(set(range(n_chunks)) - partial.completed())
    if missing:
        raise RuntimeError(f"chunks {missing[:10]} of {n_chunks} are not completed; nothing was published")
    draws = _RowGroupWriter(staging / DRAWS_FILE)
    flows = _RowGroupWriter(staging / CASHFLOWS_FILE) if cashflows else None
    n, written = 0, False
    try:
        for index in range(n_chunks):
            table = partial.draws(index)
            if on_chunk is not None:
                on_chunk(index, table)
            numbers = np.arange(n, n + table.num_rows, dtype=np.int64)
            draws.add(table.add_column(0, "draw", arrow_array(numbers)))
            if flows is not None:
                cash = partial.extras(index)["cashflows"]
                cols = {"draw": numbers, **{f"q{q:03d}": cash[:, q] for q in range(cash.shape[1])}}
                flows.add(table_of(cols))
            n += table.num_rows
        written = True
    finally:
        draws.close(flush=written)
        if flows is not None:
            flows.close(flush=written)
    return n


def verify_outputs(folder: Path, draws: int, cashflows: bool) -> None:
    """Check a staged run folder before it is published: every table holds exactly ``draws`` rows."""
    for name in (DRAWS_FILE, CASHFLOWS_FILE) if cashflows else (DRAWS_FILE,):
        with pq.ParquetFile(folder / name) as parquet:
            rows = parquet.metadata.num_rows
        if rows != draws:
            raise RuntimeError(f"{name} holds {rows} draws, but the run has {draws}; nothing was published")


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


def quarterly_sample(partial, limit: int, n_chunks: int) -> dict[str, np.ndarray]:
    """The first ``limit`` draws' quarterly series, stacked: series -> (m, n_quarters).

    Only the run's chunks ``0 .. n_chunks-1`` count: a run to a precision may have computed a
    few more before it stopped, which are not part of it.
    """
    pieces: dict[str, list[np.ndarray]] = {k: [] for k in QUARTERLY_SERIES}
    taken = 0
    for index in range(n_chunks):
        if taken >= limit:
            break
        extras = partial.extras(index)
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


def write_csv(path: Path, columns: dict[str, list]) -> None:
    """Columns of equal length as CSV (None as an empty cell, floats in their shortest exact form)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*columns.values()))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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
