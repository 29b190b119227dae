"""Uncertain inputs: the probability distributions a scenario file may use for any number.

Wherever a scenario takes a number it can take a distribution, written in TOML as an inline
table such as ``{ dist = "beta", a = 17, b = 3, source = "E31" }``.  A plain number, or a
table ``{ value = 0.5, source = "judgement: ..." }`` without ``dist``, is a fixed value.

Each family is a frozen pydantic model discriminated on ``dist``, so a broken table is
reported by pydantic with its location and *all* problems of a file are collected at once.
Every distribution samples by inverse CDF from uniforms (:meth:`from_uniforms`): the sampling
stage can then impose rank correlations with a Gaussian copula on the uniforms without
changing any marginal, and scenario variants share common random numbers.

Families with several parameterisations (lognormal, beta, gamma) accept exactly one complete
form; the form check runs field by field so that a conflicting or missing key is reported at
that key.  Fields called ``mean`` are stored as ``mean_`` (alias ``mean``) because the name
``mean`` belongs to the :meth:`mean` method.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationInfo, field_validator

from simsib.scenario.distributions.base import (  # noqa: F401  (private names: for tests)
    _TINY,
    Fixed,
    Real,
    _as_uniform_matrix,
    _Base,
    _cached_frozen,
    _cached_quantiles,
    _check_weights,
    _cumulative,
    _fmt,
    _interval,
    _tag,
    check_source,
)
from simsib.scenario.distributions.beta import Beta
from simsib.scenario.distributions.continuous import Gamma, LogNormal, Normal, Triangular, Uniform, Weibull
from simsib.scenario.distributions.discrete import Categorical, NegativeBinomial, Poisson

__all__ = [
    "Distribution", "Quantity", "within", "Probability", "NonNegative", "as_distribution",
    "Fixed", "Uniform", "Triangular", "Normal", "LogNormal", "Beta", "Gamma", "Weibull",
    "NegativeBinomial", "Poisson", "Categorical", "Mixture",
]

# Uniforms are clipped into [_TINY, 1 - _TINY] before any ppf: 2**-53 is the gap between 1 and
# the largest double below it, so 1 - _TINY < 1 and unbounded families never return ±inf (and
# scipy's discrete ppf(0) = support minimum - 1 is never reached).


class Mixture(_Base):
    """A draw from component i with probability weights[i]; components may be any quantity.

    Uniform column 0 picks the component; columns 1.. feed the chosen component, so the mixture
    needs 1 + max(component n_uniforms) columns.  The draw is not monotone in any one column.
    """

    dist: Literal["mixture"]
    components: tuple[Quantity, ...] = Field(min_length=1)
    weights: tuple[Annotated[Real, Field(ge=0)], ...] = Field(min_length=1)

    @field_validator("weights")
    @classmethod
    def _weights_match(cls, weights: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        return _check_weights(weights, info, "components")

    @property
    def n_uniforms(self) -> int:
        return 1 + max(component.n_uniforms for component in self.components)

    def from_uniforms(self, u: np.ndarray) -> np.ndarray:
        u = _as_uniform_matrix(u, self.n_uniforms)
        # side="right" skips zero-weight components, whose cumulative edges coincide.
        chosen = np.searchsorted(_cumulative(self.weights), u[:, 0], side="right")
        chosen = np.minimum(chosen, len(self.components) - 1)
        draws = np.empty(u.shape[0], dtype=np.float64)
        for index, component in enumerate(self.components):
            rows = chosen == index
            if rows.any():
                draws[rows] = component.from_uniforms(u[rows, 1 : 1 + component.n_uniforms])
        return draws

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        chosen = np.minimum(np.searchsorted(_cumulative(self.weights), rng.random(size), side="right"),
                            len(self.components) - 1)
        draws = np.empty(size)
        for index, component in enumerate(self.components):
            rows = chosen == index
            draws[rows] = component.rough_sample(rng, int(rows.sum()))
        return draws

    def support(self) -> tuple[float, float]:
        bounds = [component.support() for component in self.components]
        if any(math.isnan(x) for pair in bounds for x in pair):
            return math.nan, math.nan
        return min(low for low, _ in bounds), max(high for _, high in bounds)

    def mean(self) -> float:
        return math.fsum(w * component.mean() for w, component in zip(self.weights, self.components))

    def describe(self) -> str:
        parts = "; ".join(f"{_fmt(w)} {c.describe()}" for w, c in zip(self.weights, self.components))
        return f"Mixture[{parts}]"


_FAMILIES = (Fixed, Uniform, Triangular, Normal, LogNormal, Beta, Gamma, Weibull, NegativeBinomial, Poisson,
             Categorical, Mixture)
_TAGS = [_tag(family) for family in _FAMILIES]

Distribution = Annotated[
    Union[Fixed, Uniform, Triangular, Normal, LogNormal, Beta, Gamma, Weibull, NegativeBinomial, Poisson,
          Categorical, Mixture],
    Field(discriminator="dist"),
]
"""Any distribution table; a pydantic field type discriminated on ``dist``."""


def _to_distribution_input(value: Any) -> Any:
    """Turn the shorthand forms of a quantity into a table the discriminated union can read."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError("expected a number or a distribution table, not a boolean")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        return {"dist": "fixed", "value": value}
    if isinstance(value, dict):
        if "dist" in value:
            return value
        if "value" in value:
            return {"dist": "fixed", **value}
        raise ValueError(
            f"a distribution table needs 'dist' (one of {', '.join(_TAGS)}), or 'value' for a fixed number"
        )
    if isinstance(value, _Base):
        return value
    raise ValueError(
        f"expected a number or a table such as {{ dist = \"beta\", a = 2, b = 5 }}, not {type(value).__name__}"
    )


Quantity = Annotated[Distribution, BeforeValidator(_to_distribution_input)]
"""A number, ``{ value = ..., source = ... }`` or a distribution table; always a distribution."""

Mixture.model_rebuild()
_QUANTITY = TypeAdapter(Quantity)


def as_distribution(value: Any) -> Distribution:
    """Validate a number, ``{ value = ... }`` table, distribution table or distribution.

    Raises ``pydantic.ValidationError`` on bad input.

    >>> as_distribution(0.5).describe()
    'Fixed 0.5'
    """
    return _QUANTITY.validate_python(value)


def within(low: float, high: float, what: str) -> AfterValidator:
    """Field validator requiring a distribution's whole support to lie in [low, high].

    Use as ``Annotated[Quantity, within(0, 1, "a probability")]``; ``what`` names the quantity
    in the message, e.g. "expected a probability in [0, 1]; this normal distribution ranges over
    (-inf, inf)".  Infinite bounds are allowed.
    """

    def check(distribution: Distribution) -> Distribution:
        lower, upper = distribution.support()
        if not (lower >= low and upper <= high):  # a NaN bound fails too
            if distribution.is_fixed:
                actual = f"got {lower:g}"
            else:
                actual = f"this {distribution.dist} distribution ranges over {_interval(lower, upper)}"
            raise ValueError(f"expected {what} in {_interval(low, high)}; {actual}")
        return distribution

    return AfterValidator(check)


Probability = Annotated[Quantity, within(0.0, 1.0, "a probability")]
NonNegative = Annotated[Quantity, within(0.0, math.inf, "a non-negative number")]
