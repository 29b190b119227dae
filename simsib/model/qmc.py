"""Randomised quasi-Monte Carlo uniforms for the per-draw inputs: scrambled Sobol points or Latin
hypercubes (``simulation.sampling``).  Per-person randomness never comes from here.

Replicates.  Standard errors under QMC come from ``R = simulation.replicates`` independent
replicates, never from the iid formula (see :mod:`simsib.run.summary`).  Every chunk holds all
``R``: its draws are cut into ``R`` consecutive blocks (sizes differing by at most one), block
``r`` belonging to replicate ``r`` (:func:`replicate_ids`; the ``replicate`` column of the draws).
So any run, even of one chunk, has ``R`` replicates, and a run to a precision may stop at any
chunk boundary.

Sobol (``"sobol"``).  Replicate ``r`` is one scrambled Sobol sequence (scipy's LMS scrambling
with a digital shift; each dimension's scramble drawn from chunk ``r``'s ``"sobol"`` stream keyed
by the dimension); in chunk ``i``
it takes the next contiguous block of that sequence, starting at point ``i * (its block size
in a full chunk)``.  So a chunk's points depend only on the run's entropy and the chunk's index:
identical for any number of workers or any executor.  The points are scipy's
(:mod:`simsib.model.sobol` computes them without importing ``scipy.stats``, 0.3 s).

Sobol dimensions.  Each quantity the scenario format can declare has a fixed place in
:func:`dimension_registry` (the format's quantity fields in declaration order, entries
``0 .. MAX_LISTED-1`` of every list included), whether or not a scenario sets it; the ``u``-th uniform of
the quantity in place ``j`` is dimension ``u*K + j`` of a ``MAX_UNIFORMS*K``-dimensional
sequence (first uniforms in the low dimensions, where Sobol points are most even).  So every
variant of a scenario -- changing values or distributions, fixing an input, removing the cap --
gives every input the same points as the base: common random numbers.  (A quantity outside the
registry, say a fifth mechanism's, takes a dimension after it, in scenario order, and is common
with the base's only if the keys before it are.)  Only the dimensions a scenario uses are
computed, so the registry's size costs nothing.

Latin hypercubes (``"lhs"``).  In every chunk, each replicate's block is its own Latin
hypercube: every uniform of every input has one point in each of the block's equal strata, in
an order permuted from a stream keyed by the input's name (``"lhs"``), so any variant shares the
points of every input it did not change.
"""

from __future__ import annotations

import typing
import zlib
from functools import lru_cache

import numpy as np
from pydantic import BaseModel

from simsib.model import sobol
from simsib.model.streams import chunk_seed, stream
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario, all_quantities
from simsib.scenario.format.scenario import NOT_PER_DRAW_SECTIONS, PER_PERSON_FIELDS

REPLICATE_COLUMN = "replicate"  # the per-draw column naming each draw's replicate under QMC sampling
MAX_UNIFORMS = 3  # uniforms one input may take under Sobol sampling (a mixture of mixtures)
MAX_LISTED = 4  # entries of a list (mechanisms, cohorts, their outcomes) with reserved Sobol dimensions

Uniforms = dict[str, np.ndarray]  # dotted key -> (n_draws, n_uniforms)


def replicate_sizes(scenario: Scenario, n_draws: int) -> np.ndarray:
    """Draws of each replicate in a chunk of ``n_draws``, shape (R,): as equal as they can be."""
    replicates = scenario.simulation.replicates
    base, extra = divmod(n_draws, replicates)
    return base + (np.arange(replicates) < extra)


def replicate_ids(scenario: Scenario, n_draws: int) -> np.ndarray:
    """Each draw's replicate in a chunk of ``n_draws``, shape (n_draws,): 0 .. R-1 in blocks."""
    return np.repeat(np.arange(scenario.simulation.replicates), replicate_sizes(scenario, n_draws))


def draw_groups(scenario: Scenario, chunks: list[tuple[int, int]]) -> np.ndarray | None:
    """Each draw's replicate for a run's chunks ``(index, size)``, (n_draws,); None under random sampling."""
    if scenario.simulation.sampling == "random":
        return None
    return np.concatenate([replicate_ids(scenario, n) for _, n in chunks])


def replicates_text(scenario: Scenario) -> str:
    """What the standard errors of a QMC run are, in words (for summary.json)."""
    r = scenario.simulation.replicates
    what = {"sobol": f"{r} independently scrambled Sobol sequences",
            "lhs": f"{r} replicates of independent Latin hypercubes (one per chunk each)"}.get(scenario.simulation.sampling)
    if what is None:
        return ""
    return (f"batch means over {what}, every chunk holding a block of each: se = sqrt(R/(R-1) * "
            "sum(w_r^2 (mean_r - mean)^2)), mean_r a replicate's mean and w_r its share of the draws")


def input_uniforms(scenario: Scenario, chunk: np.random.SeedSequence, n_draws: int) -> Uniforms | None:
    """The QMC uniforms of every uncertain input of a chunk, or None under random sampling.

    Parameters
    ----------
    chunk : the chunk's SeedSequence (:func:`simsib.model.streams.chunk_seed`), whose spawn key
        is the chunk's index (a bare SeedSequence counts as chunk 0)
    n_draws : draws in the chunk

    Returns
    -------
    dict of str -> ndarray, shape (n_draws, n_uniforms), values in (0, 1)
    """
    sampling = scenario.simulation.sampling
    if sampling == "random":
        return None
    uncertain = {k: d for k, d in all_quantities(scenario).items() if not d.is_fixed}
    sizes = replicate_sizes(scenario, n_draws)
    if sampling == "lhs":
        return {key: np.concatenate([latin_hypercube(stream(chunk, "lhs", zlib.crc32(key.encode()), r), int(size),
                                                     dist.n_uniforms) for r, size in enumerate(sizes)])
                for key, dist in uncertain.items()}
    return _sobol_uniforms(scenario, chunk, sizes, uncertain)


def latin_hypercube(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    """``n`` points of a random Latin hypercube in ``dims`` dimensions, shape (n, dims).

    Column ``c`` holds one point in each stratum ``[k/n, (k+1)/n)``, uniformly placed inside
    it, in a random order; columns are ordered independently (McKay, Beckman & Conover 1979).
    """
    out = np.empty((n, dims))
    for c in range(dims):
        out[:, c] = (rng.permutation(n) + rng.random(n)) / n
    return out


def _sobol_uniforms(scenario: Scenario, chunk: np.random.SeedSequence, sizes: np.ndarray,
                    uncertain: dict) -> Uniforms:
    too_many = [k for k, d in uncertain.items() if d.n_uniforms > MAX_UNIFORMS]
    if too_many:
        raise ScenarioError.single(too_many[0], f"Sobol sampling gives an input at most {MAX_UNIFORMS} uniforms; "
                                   "this distribution needs more (mixtures nested too deep); use sampling = \"lhs\"")
    index = chunk.spawn_key[0] if chunk.spawn_key else 0
    width, columns = _layout(scenario)
    used = tuple(sorted({d for key in uncertain for d in columns[key]}))
    full = replicate_sizes(scenario, scenario.simulation.chunk_size)
    directions, shifts = _scrambles(chunk.entropy, scenario.simulation.replicates, used)
    points = sobol.block_points(directions, shifts, index * full, sizes)
    position = {d: i for i, d in enumerate(used)}
    return {key: points[:, [position[d] for d in columns[key][:dist.n_uniforms]]] for key, dist in uncertain.items()}


def _layout(scenario: Scenario) -> tuple[int, dict[str, list[int]]]:
    """(width K, key -> its MAX_UNIFORMS dimensions u*K + place) for a scenario's quantities."""
    places = dict(dimension_registry())
    for key in all_quantities(scenario):  # keys outside the registry: after it, in scenario order
        places.setdefault(key, len(places))
    width = len(places)
    return width, {key: [u * width + places[key] for u in range(MAX_UNIFORMS)] for key in all_quantities(scenario)}


@lru_cache(maxsize=1)
def dimension_registry() -> dict[str, int]:
    """Every per-draw quantity the scenario format can declare -> its place, in declaration order.

    Read from the format's models, not from a scenario, so the places do not depend on which
    optional quantities a scenario sets.  List fields (the mechanisms) get entries for the
    first :data:`MAX_LISTED` positions, each holding the quantity fields of every table type.
    """
    keys: list[str] = []

    def visit(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            if (not prefix and name in NOT_PER_DRAW_SECTIONS) or name in PER_PERSON_FIELDS:  # as all_quantities
                continue
            kinds = _types_in(info.annotation)
            if any(hasattr(t, "from_uniforms") for t in kinds):
                keys.append(path)
                continue
            tables = [t for t in kinds if isinstance(t, type) and issubclass(t, BaseModel)]
            is_list = any(typing.get_origin(t) in (list, tuple) for t in kinds)
            for where in ([f"{path}.{i}" for i in range(MAX_LISTED)] if is_list else [path]):
                for table in tables:
                    visit(table, where)

    visit(Scenario, "")
    return {key: place for place, key in enumerate(dict.fromkeys(keys))}


def _types_in(annotation) -> list:
    """``annotation`` and every type inside it (unions, lists, Annotated)."""
    return [annotation, *(t for arg in typing.get_args(annotation) for t in _types_in(arg))]


def prepare_sobol(scenario: Scenario, entropy: int) -> None:
    """Draw a run's Sobol scrambles now (they are kept): before forking workers, so they share them."""
    if scenario.simulation.sampling == "sobol":
        width, columns = _layout(scenario)
        uncertain = [k for k, d in all_quantities(scenario).items() if not d.is_fixed]
        used = tuple(sorted({d for key in uncertain for d in columns[key]}))
        _scrambles(entropy, scenario.simulation.replicates, used)


@lru_cache(maxsize=16)
def _scrambles(entropy: int, replicates: int, used: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every replicate's scramble of the dimensions ``used``: directions (R, k, BITS) and shifts
    (R, k).  Dimension ``d`` of replicate ``r`` draws its shift and its matrix from chunk ``r``'s
    ``"sobol"`` stream keyed by ``d``, so a dimension's scramble never depends on which others a
    scenario uses.  Drawn once per process (about 15 ms), and kept."""
    directions, shifts = [], []
    for replicate in range(replicates):
        seed = chunk_seed(entropy, replicate)
        rngs = [stream(seed, "sobol", d) for d in used]
        shift_bits = np.stack([rng.integers(2, size=sobol.BITS, dtype=np.uint32) for rng in rngs])
        lower_bits = np.stack([rng.integers(2, size=(sobol.BITS, sobol.BITS), dtype=np.uint32) for rng in rngs])
        d, s = sobol.scramble(used, shift_bits, lower_bits)
        directions.append(d)
        shifts.append(s)
    return np.stack(directions), np.stack(shifts)
