"""Random streams: one SeedSequence per run, a child per chunk, a named stream per component.

Chunk ``i`` of a run uses ``SeedSequence(entropy, spawn_key=(i,))`` -- exactly the i-th child of
``SeedSequence(entropy).spawn(...)`` -- so a chunk's numbers do not depend on how many workers
run it, in which order, or on which machine.  Inside a chunk every stochastic component draws
from its own named stream; names are only ever appended to :data:`STREAM_NAMES`, so adding a
component never shifts the numbers of the others.
"""

from __future__ import annotations

import zlib

import numpy as np

# Append only: the position of a name is part of every past result's identity.
STREAM_NAMES = ("inputs", "correlation", "referrals", "people", "cohorts", "comparison", "waiting", "observations",
                "update")


def chunk_seed(entropy: int, chunk_index: int) -> np.random.SeedSequence:
    """The i-th child of the run's root SeedSequence."""
    return np.random.SeedSequence(entropy, spawn_key=(chunk_index,))


def stream(chunk: np.random.SeedSequence, name: str, *subkeys: int) -> np.random.Generator:
    """Generator for the named component of a chunk (optionally keyed further)."""
    index = STREAM_NAMES.index(name)
    seq = np.random.SeedSequence(chunk.entropy, spawn_key=(*chunk.spawn_key, index, *subkeys))
    return np.random.Generator(np.random.PCG64(seq))


def input_stream(chunk: np.random.SeedSequence, dotted_key: str) -> np.random.Generator:
    """Stream for one per-draw input, keyed by a stable hash of its dotted name.

    Keying by name (not position) means a variant scenario that adds, removes or changes one
    input leaves every other input's draws untouched: common random numbers across variants.
    """
    return stream(chunk, "inputs", zlib.crc32(dotted_key.encode()))


def update_seed(entropy: int, chunk_index: int, *subkeys: int) -> np.random.SeedSequence:
    """Seed of the re-forecast's own randomness for chunk ``chunk_index`` (resampling, re-simulated
    futures), keyed further by ``subkeys``: a child of the chunk's ``update`` stream, so it never
    meets the streams of a run's chunks.  A re-simulated future passes it to :func:`stream`
    like a chunk's seed.
    """
    return np.random.SeedSequence(entropy, spawn_key=(chunk_index, STREAM_NAMES.index("update"), *subkeys))


def new_entropy() -> int:
    """Fresh OS entropy for an unseeded run (recorded in its outputs so it can be rerun)."""
    return int(np.random.SeedSequence().entropy)
