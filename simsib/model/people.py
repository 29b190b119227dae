"""The young people of a chunk: every per-person random number, drawn up front in a fixed order.

People are listed draw by draw and month by month, as ``starts.ravel()`` counts them.  Drawing
every variate of a chunk before any process runs (as QuantEcon does) keeps the stream layout
one fixed thing, shared by the compiled kernel and the numpy reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simsib.scenario.format import Scenario


@dataclass(frozen=True)
class PersonVariates:
    """Every random number a chunk's young people use, shape (N,) each, in drawing order.

    People are listed draw by draw and month by month, as ``starts.ravel()`` counts them
    (:func:`person_cells` gives each one's draw and start month).
    """

    start_u: np.ndarray  # uniform: start time within the start month
    age: np.ndarray  # years at start: whole years + uniform
    completion_u: np.ndarray  # uniform: completes if below the draw's completion rate
    exp_draw: np.ndarray  # Exp(1): care entry, shared by both paths
    short1: np.ndarray  # uniform: short or long first episode
    z1: np.ndarray  # standard normal: first episode length
    reentry_u: np.ndarray  # uniform: re-entry or not
    gap_exp: np.ndarray  # Exp(1): gap before re-entry
    short2: np.ndarray
    z2: np.ndarray


def draw_starts_and_ages(ages: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The first variates of every process: (uniform start within the month, age in years), (n,) each.

    ``ages`` is a distribution of whole years at start, or None when ages play no part (then
    no age is drawn and the ages are NaN).
    """
    start_u = rng.random(n)
    if ages is None:
        return start_u, np.full(n, np.nan)
    return start_u, ages.from_uniforms(rng.random((n, 1))) + rng.random(n)


def person_cells(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(draw, start month) of each person, int64 (N,), in :class:`PersonVariates` order."""
    n_months = starts.shape[1]
    cell = np.repeat(np.arange(starts.size), starts.ravel())
    return cell // n_months, cell % n_months


def draw_person_variates(
    scenario: Scenario, starts: np.ndarray, rng: np.random.Generator, ages: Any = None
) -> PersonVariates:
    """Draw the per-person random numbers of a chunk, one array at a time in a fixed order.

    Both the reference model (:func:`simulate_people`) and the compiled kernel
    (:func:`simulate_aggregates`) consume exactly these, so they share one stream layout.
    ``ages`` is the distribution of whole years at start (default: ``population.age_at_start``).
    """
    n = int(starts.sum())
    start_u, age = draw_starts_and_ages(scenario.population.age_at_start if ages is None else ages, n, rng)
    return PersonVariates(
        start_u=start_u, age=age, completion_u=rng.random(n),
        exp_draw=rng.standard_exponential(n), short1=rng.random(n), z1=rng.standard_normal(n),
        reentry_u=rng.random(n), gap_exp=rng.standard_exponential(n), short2=rng.random(n),
        z2=rng.standard_normal(n),
    )


