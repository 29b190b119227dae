"""The resumable store of a run's completed chunks, each verified by its checksum when read back.

Completed chunks live in a hidden folder beside the output, ``.NAME.partial/``, with a
``plan.json`` saying which run they belong to (scenario hash, entropy, draws, chunk size, simsib
version).  ``--resume`` continues from them bit-identically, because each chunk's numbers
depend only on the run's entropy and the chunk's index -- but only from chunks whose files are
exactly as they were saved.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (pa.ipc)

from simsib.run.outputs import table_of
from simsib.run.ownership import hidden_path
from simsib.run.pipeline import ChunkResult
from simsib.scenario.errors import ScenarioError

CHUNK_SUFFIX = ".draws.arrow"  # a completed chunk's per-draw columns
EXTRA_SUFFIX = ".extra.npz"  # its quarterly sample and cash flows
RECORD_SUFFIX = ".chunk.json"  # its record: index, rows, run, SHA-256 of each file
PLAN_FILE = "plan.json"  # which run the folder's chunks belong to


SPILL_AFTER_SECONDS = 2.0  # completed chunks stay in memory until a run has taken this long


class PartialRun:
    """The resumable store of completed chunks for one output folder, verified when read back.

    Each chunk is kept as ``NNNNNNN.draws.arrow`` (its per-draw columns), ``NNNNNNN.extra.npz``
    (its quarterly sample and cash flows, when it has any) and ``NNNNNNN.chunk.json``, the
    chunk's record: its index, its row count, the run it belongs to and the SHA-256 of each of
    its files.  The record is written last, after the data files, so a chunk counts as
    completed only once all of it is there.  Every read checks the record; on ``resume`` a
    chunk that fails the check is deleted and recomputed (listed in :attr:`rejected`), never
    trusted.  Files are not flushed to disk one by one: a chunk torn by a power cut fails its
    checksum and is recomputed, which costs less than an fsync per file in every run.

    A short run never touches the disk: chunks stay in memory for the first
    :data:`SPILL_AFTER_SECONDS` of a run (writing, checksumming and deleting them would cost a
    short run a fifth of its time), and are written out when that time has passed or when the
    run is interrupted (:meth:`spill`).  Only a ``kill -9`` in those first seconds loses them.
    The folder itself is created only when the first chunk is written, so a run that fails
    before computing anything leaves nothing behind.
    """

    def __init__(self, out_dir: Path, identity: dict[str, Any], resume: bool, rows: dict[int, int]):
        self.out_dir = out_dir
        self.path = hidden_path(out_dir, "partial")
        self.identity = identity
        self.run_id = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        self.rows = rows  # index -> draws in that chunk, for every chunk of the run
        self.records: dict[int, dict[str, Any]] = {}  # chunks on disk
        self.held: dict[int, ChunkResult] = {}  # chunks in memory, as computed
        self.started = time.monotonic()
        self.rejected: list[tuple[int, str]] = []  # (index, why) of chunks found damaged on resume
        self.ready = False  # the folder exists and holds this run's plan
        plan = self._read_plan()
        if self.path.exists() and plan is None and any(self.path.iterdir()):
            raise ScenarioError.single("--out", f"{self.path} is in the way: simsib keeps its resumable chunks "
                                       "there, but did not write it; move it away", value=str(out_dir))
        if resume and plan == identity:
            self.ready = True
            self._verify_all()

    def _read_plan(self) -> dict[str, Any] | None:
        try:
            plan = json.loads((self.path / PLAN_FILE).read_text())
        except (OSError, ValueError):
            return None
        return plan if isinstance(plan, dict) else None

    def _stem(self, index: int) -> str:
        return f"{index:07d}"

    def _verify_all(self) -> None:
        found = {int(m.group(1)) for p in self.path.iterdir() if (m := _CHUNK_NAME.fullmatch(p.name))}
        for tmp in self.path.glob("*.tmp*"):  # saves cut short
            tmp.unlink(missing_ok=True)
        for index in sorted(found):
            record, why = self._check(index)
            if record is None:
                self.rejected.append((index, why))
                self._discard(index)
            else:
                self.records[index] = record

    def _check(self, index: int) -> tuple[dict[str, Any] | None, str]:
        """(the chunk's record, "") if its files are exactly as saved, else (None, what is wrong)."""
        stem = self._stem(index)
        try:
            record = json.loads((self.path / f"{stem}{RECORD_SUFFIX}").read_text())
        except FileNotFoundError:
            return None, "it has no checksum record (its save was cut short)"
        except (OSError, ValueError):
            return None, "its checksum record is unreadable"
        if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
            return None, "its checksum record is unreadable"
        if record.get("index") != index:
            return None, f"its files are those of chunk {record.get('index')}"
        if record.get("run") != self.run_id:
            return None, "it belongs to another run"
        if record.get("rows") != self.rows.get(index):
            return None, f"it has {record.get('rows')} draws, expected {self.rows.get(index)}"
        if f"{stem}{CHUNK_SUFFIX}" not in record["files"]:
            return None, "its checksum record lists no draws file"
        for name, digest in record["files"].items():
            try:
                data = (self.path / name).read_bytes()
            except FileNotFoundError:
                return None, f"{name} is missing"
            if hashlib.sha256(data).hexdigest() != digest:
                return None, f"{name} fails its checksum"
        return record, ""

    def _discard(self, index: int) -> None:
        for path in self.path.glob(f"{self._stem(index)}.*"):
            path.unlink(missing_ok=True)

    def completed(self) -> set[int]:
        """Indices of the completed chunks (verified ones on disk, and those in memory)."""
        return set(self.records) | set(self.held)

    def _create(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir()
        _write_whole(self.path / PLAN_FILE, json.dumps(self.identity, indent=2, sort_keys=True).encode())
        self.ready = True

    def save(self, chunk: ChunkResult) -> None:
        """Store one chunk: in memory early in a run, else its data files, then its record."""
        expected = self.rows.get(chunk.index)
        counts = {len(v) for v in chunk.draws.values()}
        if expected is None or counts != {expected} or chunk.n_draws != expected:
            raise RuntimeError(f"chunk {chunk.index} came back with {sorted(counts)} draws per column, "
                               f"expected {expected}; nothing was published")
        self.held[chunk.index] = chunk
        if time.monotonic() - self.started >= SPILL_AFTER_SECONDS:
            self.spill()

    def _files(self, chunk: ChunkResult) -> dict[str, bytes]:
        """A chunk's files, name -> bytes."""
        stem = self._stem(chunk.index)
        files = {f"{stem}{CHUNK_SUFFIX}": _ipc_bytes(table_of(chunk.draws))}
        arrays = _extra_arrays(chunk)
        if arrays:
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            files[f"{stem}{EXTRA_SUFFIX}"] = buffer.getvalue()
        return files

    def spill(self) -> None:
        """Write every chunk held in memory to disk (files, then record), to be resumable."""
        for index in sorted(self.held):
            if not self.ready:
                self._create()
            files = self._files(self.held[index])
            for name, data in files.items():
                _write_whole(self.path / name, data)
            record = {"index": index, "rows": self.rows[index], "run": self.run_id,
                      "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
            _write_whole(self.path / f"{self._stem(index)}{RECORD_SUFFIX}", json.dumps(record, indent=1).encode())
            self.records[index] = record
            del self.held[index]

    def _read(self, index: int, name: str) -> bytes:
        """A chunk file's bytes: from memory, or from disk checked against its record (a damaged
        file ends the run)."""
        record = self.records.get(index)
        if record is None or name not in record["files"]:
            raise RuntimeError(f"chunk {index} has no verified {name}; nothing was published")
        data = (self.path / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != record["files"][name]:
            raise RuntimeError(f"{self.path / name} changed on disk during the run; nothing was published. "
                               "Rerun with --resume: damaged chunks are recomputed")
        return data

    def draws(self, index: int) -> pa.Table:
        """Chunk ``index``'s per-draw columns (verified, when read from disk)."""
        if index in self.held:
            return table_of(self.held[index].draws)
        data = self._read(index, f"{self._stem(index)}{CHUNK_SUFFIX}")
        table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
        if table.num_rows != self.rows[index]:
            raise RuntimeError(f"chunk {index} holds {table.num_rows} draws, expected {self.rows[index]}")
        return table

    def extras(self, index: int) -> dict[str, np.ndarray]:
        """Chunk ``index``'s quarterly sample and cash flows (empty if it kept none), verified."""
        if index in self.held:
            return _extra_arrays(self.held[index])
        name = f"{self._stem(index)}{EXTRA_SUFFIX}"
        if name not in self.records.get(index, {}).get("files", {}):
            return {}
        with np.load(io.BytesIO(self._read(index, name))) as data:
            return {k: data[k] for k in data.files}

    def in_memory(self, n_chunks: int) -> bool:
        """Whether chunks 0 .. n_chunks-1 are all held in memory (a short run)."""
        return all(i in self.held for i in range(n_chunks))

    def column(self, name: str, n_chunks: int) -> np.ndarray:
        """One per-draw column over chunks 0 .. n_chunks-1, from memory (see :meth:`in_memory`)."""
        return np.concatenate([self.held[i].draws[name] for i in range(n_chunks)])

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


_CHUNK_NAME = re.compile(r"(\d{7})\.(draws\.arrow|extra\.npz|chunk\.json)")


def _extra_arrays(chunk: ChunkResult) -> dict[str, np.ndarray]:
    arrays = {f"q_{k}": v for k, v in chunk.quarterly.items()}
    if chunk.cashflows is not None:
        arrays["cashflows"] = chunk.cashflows
    return arrays


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` whole: to a temporary name, then renamed (readers never see half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
