"""Count and categorical families: negative binomial, Poisson, categorical."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from simsib.scenario.distributions.base import PositiveReal, Real, _Base, _check_weights, _cumulative, _fmt, stats


class NegativeBinomial(_Base):
    """Over-dispersed count with the given mean and size k = dispersion: var = mean + mean²/k."""

    dist: Literal["negative_binomial"]
    mean_: PositiveReal = Field(alias="mean")
    dispersion: PositiveReal

    def _frozen(self) -> Any:
        k = self.dispersion
        return stats.nbinom(n=k, p=k / (k + self.mean_))

    def mean(self) -> float:
        return self.mean_

    def support(self) -> tuple[float, float]:
        k = self.dispersion
        # scipy's success probability k / (k + mean) must lie in (0, 1) to describe a count.
        usable = 0.0 < k / (k + self.mean_) < 1.0
        return (0.0, math.inf) if usable else (math.nan, math.nan)

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        k = self.dispersion
        return rng.negative_binomial(k, k / (k + self.mean_), size).astype(float)

    def describe(self) -> str:
        return f"NegativeBinomial(mean {_fmt(self.mean_)}, dispersion {_fmt(self.dispersion)})"


class Poisson(_Base):
    """Poisson count with the given mean."""

    dist: Literal["poisson"]
    mean_: PositiveReal = Field(alias="mean")

    def _frozen(self) -> Any:
        return stats.poisson(self.mean_)

    def mean(self) -> float:
        return self.mean_

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.poisson(self.mean_, size).astype(float)

    def describe(self) -> str:
        return f"Poisson({_fmt(self.mean_)})"


class Categorical(_Base):
    """Discrete values with the given weights: ``{ dist = "categorical", values, weights }``."""

    dist: Literal["categorical"]
    values: tuple[Real, ...] = Field(min_length=1)
    weights: tuple[Annotated[Real, Field(ge=0, le=1)], ...] = Field(min_length=1)

    @field_validator("weights")
    @classmethod
    def _weights_match(cls, weights: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        return _check_weights(weights, info, "values")

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        # Sorted so the draw is non-decreasing in u, as a copula needs.
        order = np.argsort(self.values, kind="stable")
        # As floats now (draws are floats): np.take of float64 is about twice as fast as fancy
        # indexing, and the conversion after the gather cost as much again (ages: 0.25 ms a chunk).
        values = np.asarray(self.values, dtype=np.float64)[order]
        cumulative = _cumulative(tuple(np.asarray(self.weights)[order]))
        if len(cumulative) <= 16:
            # Few categories (ages 11-17): counting the edges below q beats a binary search.
            # A narrow counter (less memory to sweep), each comparison's bools added as int8.
            index = np.zeros(q.shape, dtype=np.int8)
            above = np.empty(q.shape, dtype=bool)
            for edge in cumulative[:-1]:
                index += np.greater_equal(q, edge, out=above).view(np.int8)
            return np.take(values, index)
        index = np.searchsorted(cumulative, q, side="right")
        return np.take(values, np.minimum(index, len(values) - 1))

    def support(self) -> tuple[float, float]:
        possible = [v for v, w in zip(self.values, self.weights) if w > 0]
        return min(possible), max(possible)

    def mean(self) -> float:
        return math.fsum(v * w for v, w in zip(self.values, self.weights))

    def describe(self) -> str:
        pairs = ", ".join(f"{_fmt(v)}: {_fmt(w)}" for v, w in zip(self.values, self.weights))
        return f"Categorical({pairs})"


