"""Outcome processes: from the people of a chunk to treated and counterfactual aggregates.

This is the plug-in point for a new kind of outcome.  A process is a function

    simulate(scenario, cohort, inputs, starts, rng, needs) -> CohortQuarterly

that receives the scenario, one of its cohorts (:class:`simsib.scenario.format.ResolvedCohort`:
its table, and where its per-draw inputs are), the chunk's per-draw inputs
(:mod:`simsib.model.inputs`), the cohort's people starting each month ``starts``
(n_draws, n_months), the cohort's ``people`` stream, and what the contract's mechanisms need
measured (:class:`simsib.model.outcomes.Needs`).  It draws its own person-level randomness
(starting with :func:`simsib.model.people.draw_starts_and_ages`, so every process places starts
and ages alike), simulates the treated and the counterfactual path of every person *from the
same random numbers*, and returns their sums per draw, start cohort and quarter
(:class:`simsib.model.outcomes.CohortQuarterly`).  Windows, cohorts and quarters follow the
conventions of :mod:`simsib.model.care_paths`.

Register it in :data:`PROCESSES` (and its table in :mod:`simsib.scenario.format.cohorts`).
``tests/test_process_contract.py`` is the contract every process must pass: effect 1 gives
identical paths; a stronger effect never worsens any person's path; rates and probabilities
match their inputs within standard errors; a compiled path equals its numpy reference.

Processes: ``care`` (state occupancy, :mod:`simsib.model.care_process`), ``recurrent_events``
(:mod:`simsib.model.recurrent`) and ``attainment`` (:mod:`simsib.model.attainment`).
"""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np

from simsib.model.attainment import simulate_attainment
from simsib.model.care_process import simulate_care
from simsib.model.cohorts import split_starts
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly, Needs, combine
from simsib.model.recurrent import simulate_recurrent
from simsib.model.streams import stream
from simsib.scenario.format import ResolvedCohort, Scenario, resolve_cohorts

Process = Callable[..., CohortQuarterly]

# Outcome process by name.  Append new processes; see the module docstring for the contract.
PROCESSES: dict[str, Process] = {
    "care": simulate_care,
    "recurrent_events": simulate_recurrent,
    "attainment": simulate_attainment,
}


# Processes that draw from streams of their own beyond the cohort's people stream: they are
# also given the chunk's seed (``chunk=``), e.g. for the recurrent process's comparison group.
NEEDS_CHUNK = (simulate_recurrent,)


def people_stream(chunk: np.random.SeedSequence, cohort: ResolvedCohort) -> np.random.Generator:
    """The ``people`` stream of a cohort: the chunk's own for the first cohort (so a scenario
    with one cohort draws exactly as before), one keyed by the cohort's name for the others (so
    adding or reordering a later cohort leaves the others' people unchanged)."""
    if cohort.index == 0:
        return stream(chunk, "people")
    return stream(chunk, "people", zlib.crc32(cohort.name.encode()))


def simulate_cohorts(
    scenario: Scenario, inputs: DrawInputs, starts: np.ndarray, chunk: np.random.SeedSequence, needs: Needs = Needs()
) -> CohortQuarterly:
    """Every cohort's outcomes for a chunk's starts (n_draws, n_months): one named cohort's
    own in :attr:`CohortQuarterly.groups`, their sums at the top level."""
    cohorts = resolve_cohorts(scenario)
    if len(cohorts) == 1 and cohorts[0].table is None:  # one implicit cohort: no groups
        return PROCESSES["care"](scenario, cohorts[0], inputs, starts, people_stream(chunk, cohorts[0]), needs)
    shares = split_starts(scenario, cohorts, inputs, starts, stream(chunk, "cohorts"))
    parts = []
    for cohort, own in zip(cohorts, shares):
        process = PROCESSES[cohort.process]
        extra = {"chunk": chunk} if process in NEEDS_CHUNK else {}
        parts.append(process(scenario, cohort, inputs, own, people_stream(chunk, cohort), needs, **extra))
    return combine(parts, names=[c.name for c in cohorts])


def simulate_aggregates(
    scenario: Scenario,
    inputs: DrawInputs,
    starts: np.ndarray,
    rng: np.random.Generator,
    milestone_blocks: tuple[int, ...] = (),
    milestone_once: tuple[int, ...] = (),
    needs: Needs | None = None,
) -> CohortQuarterly:
    """The care process of a scenario's first (or only) cohort on ``starts``, with ``rng``."""
    needs = needs if needs is not None else Needs(tuple(milestone_blocks), tuple(milestone_once))
    return simulate_care(scenario, resolve_cohorts(scenario)[0], inputs, starts, rng, needs)
