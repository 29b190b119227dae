"""Scrambled Sobol points without importing ``scipy.stats`` (0.3 s): scipy's construction.

As ``scipy.stats.qmc.Sobol(d, scramble=True)`` (which follows Joe & Kuo 2008 and Owen 1998):
Joe and Kuo's direction numbers (read from the file scipy ships with them), scrambled by a
random lower triangular binary matrix per dimension and a random digital shift (LMS + shift);
point ``k`` is the shift XOR the direction numbers of the bits set in the Gray code of ``k``.
Only the dimensions in use are computed.  Given the same random bits the points are scipy's, bit
for bit (``tests/test_qmc.py`` draws the bits as scipy does, :func:`scrambled`, and compares);
simsib draws each dimension's bits from a stream of its own (:mod:`simsib.model.qmc`), which
gives every dimension the same independent scramble scipy's draws give it.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

BITS = 30  # scipy's default: 2**30 points per sequence
SCALE = 1.0 / 2**BITS


@lru_cache(maxsize=1)
def _direction_table() -> tuple[np.ndarray, np.ndarray]:
    """(poly, vinit): primitive polynomials and initial direction numbers, one row per dimension."""
    spec = importlib.util.find_spec("scipy")  # finds the package without importing it
    path = Path(spec.origin).parent / "stats" / "_sobol_direction_numbers.npz"
    with np.load(path) as table:
        return table["poly"], table["vinit"]


@lru_cache(maxsize=64)
def direction_rows(rows: tuple[int, ...]) -> np.ndarray:
    """Unscrambled direction numbers of the dimensions ``rows``, shape (len(rows), BITS), uint64
    (values below 2**BITS), read-only.

    Row ``i``, column ``j`` is ``v_{d,j} * 2**(BITS-1-j)`` for dimension ``d = rows[i]``: the j-th
    direction number as a binary fraction of BITS bits.  Dimension 0 is the van der Corput
    sequence.  Only the rows asked for are computed (each dimension's recurrence is its own).
    """
    poly, vinit = _direction_table()
    v = np.zeros((len(rows), BITS), dtype=np.uint64)
    for i, d in enumerate(rows):
        if d == 0:
            v[i, :] = 1
            continue
        p = int(poly[d])
        m = p.bit_length() - 1  # the polynomial's degree
        row = [int(x) for x in vinit[d, :m]]
        for j in range(m, BITS):  # Bratley & Fox's recurrence
            new = row[j - m]
            for k in range(m):
                if (p >> (m - 1 - k)) & 1:
                    new ^= row[j - k - 1] << (k + 1)
            row.append(new)
        v[i, :] = row
    v <<= (BITS - 1 - np.arange(BITS, dtype=np.uint64))[None, :]
    v.flags.writeable = False
    return v


def scramble(rows: tuple[int, ...], shift_bits: np.ndarray, lower_bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(direction numbers (k, BITS), shift (k,)), uint64, of the dimensions ``rows`` scrambled by
    random bits: a digital shift (``shift_bits`` (k, BITS), bit j of weight 2**j) and a lower
    triangular matrix per dimension (``lower_bits`` (k, BITS, BITS); the part above the diagonal
    is ignored and the diagonal is one) -- Matoušek's linear matrix scramble (LMS), as scipy does.
    """
    shift = np.asarray(shift_bits).astype(np.uint64) @ (np.uint64(1) << np.arange(BITS, dtype=np.uint64))
    lower = np.asarray(lower_bits).astype(bool) & _LOWER
    lower |= np.eye(BITS, dtype=bool)
    # Row p of each matrix as a bit mask over the direction number's bits (bit k = 0 the most
    # significant); the scrambled number's bit p is the parity of that row times the number.
    weights = np.uint64(1) << (BITS - 1 - np.arange(BITS, dtype=np.uint64))
    masks = (lower * weights).sum(axis=2, dtype=np.uint64)  # (k, BITS_p)
    parity = np.bitwise_count(masks[:, :, None] & direction_rows(rows)[:, None, :]) & 1  # (k, p, j)
    return (parity.astype(np.uint64) * weights[None, :, None]).sum(axis=1, dtype=np.uint64), shift


def scrambled(dims: int, rng: np.random.Generator, used: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scramble` of a ``dims``-dimensional sequence with the random bits drawn from ``rng``
    exactly as ``scipy.stats.qmc.Sobol(dims, scramble=True, seed=rng)`` draws them (from a child
    of ``rng``'s seed sequence, as scipy spawns one to own; every shift first, then every
    matrix), for the dimensions ``used`` (default all): scipy's points, bit for bit.
    """
    used = tuple(range(dims)) if used is None else tuple(used)
    bit_generator = rng.bit_generator
    rng = np.random.Generator(type(bit_generator)(bit_generator.seed_seq.spawn(1)[0]))
    shift_bits = rng.integers(2, size=(dims, BITS), dtype=np.uint32)[list(used)]
    lower_bits = rng.integers(2, size=(dims, BITS, BITS), dtype=np.uint32)[list(used)]
    return scramble(used, shift_bits, lower_bits)


_LOWER = np.tri(BITS, dtype=bool)  # k <= p: lower triangular


def points(v: np.ndarray, shift: np.ndarray, start: int, n: int) -> np.ndarray:
    """Points ``start .. start+n-1`` of the scrambled sequence, shape (n, dims), in [0, 1)."""
    index = np.arange(start, start + n, dtype=np.uint64)
    gray = index ^ (index >> np.uint64(1))
    quasi = np.broadcast_to(shift, (n, shift.size)).copy()
    for bit in range(BITS):
        on = ((gray >> np.uint64(bit)) & np.uint64(1)).astype(bool)
        if on.any():
            quasi[on] ^= v[:, bit]
    return quasi * SCALE


def block_points(directions: np.ndarray, shifts: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Points of several scrambled sequences, one block each, stacked: shape (sizes.sum(), k).

    Block ``r`` is points ``starts[r] .. starts[r]+sizes[r]-1`` of the sequence scrambled by
    ``directions[r]`` (k, BITS) and ``shifts[r]`` (k,), as :func:`points` gives it.  Computed in
    one pass: consecutive points differ by one direction number (the one of the lowest zero bit
    of the previous index, Antonov & Saleev's Gray-code order), so the points are a running XOR.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.uint64)
    total, blocks = int(sizes.sum()), np.flatnonzero(sizes)
    if total == 0:
        return np.empty((0, shifts.shape[1]))
    block = np.repeat(np.arange(sizes.size), sizes)
    first = np.cumsum(sizes) - sizes  # row of each block's first point
    index = starts[block] + (np.arange(total) - first[block]).astype(np.uint64)
    steps = np.bitwise_count((index & (~index + np.uint64(1))) - np.uint64(1))  # trailing zeros
    deltas = directions[block, :, np.minimum(steps, BITS - 1)]
    # A block's first row starts afresh: its point, XOR the previous block's last point, which
    # the running XOR carries into it.
    ends = [_point(directions[r], shifts[r], int(starts[r])) for r in blocks]
    lasts = [_point(directions[r], shifts[r], int(starts[r]) + int(sizes[r]) - 1) for r in blocks]
    carried = np.zeros(shifts.shape[1], dtype=np.uint64)
    for r, start_point, last_point in zip(blocks, ends, lasts):
        deltas[first[r]] = start_point ^ carried
        carried = last_point
    return np.bitwise_xor.accumulate(deltas, axis=0) * SCALE


def _point(directions: np.ndarray, shift: np.ndarray, index: int) -> np.ndarray:
    """Point ``index`` of a scrambled sequence, as integers (k,)."""
    gray = index ^ (index >> 1)
    on = [bit for bit in range(BITS) if (gray >> bit) & 1]
    # XOR is exact: one reduce over the chosen direction numbers, not a pass per bit.
    return shift ^ np.bitwise_xor.reduce(directions[:, on], axis=1) if on else shift.copy()
