"""The beta family, with its three parameterisations (the 5th/95th-percentile form solved numerically)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from simsib.scenario.distributions.base import (
    _QUANTILE_TOLERANCE,
    _Z95,
    OpenUnitReal,
    PositiveReal,
    _Base,
    _check_above,
    _fmt,
    optimize,
    special,
    stats,
)


@lru_cache(maxsize=256)
def _beta_from_quantiles(p05: float, p95: float) -> tuple[float, float]:
    """Beta ``(a, b)`` whose 5th and 95th percentiles are ``p05`` and ``p95``.

    Least squares on (log a, log b) so both stay positive, with residuals on the logit scale so
    quantiles near 0 or 1 are weighted fairly; started from the moments of a normal with the
    same 90% interval.  Raises ValueError when the match is worse than 1e-6.
    """
    centre, spread = 0.5 * (p05 + p95), (p95 - p05) / (2.0 * _Z95)
    concentration = max(centre * (1.0 - centre) / spread**2 - 1.0, 0.5)
    start = np.clip(np.log([centre * concentration, (1.0 - centre) * concentration]), -11.9, 19.9)
    target = special.logit([p05, p95])

    def logit_residuals(log_ab: np.ndarray) -> np.ndarray:
        a, b = np.exp(log_ab)
        return special.logit(special.betaincinv(a, b, [0.05, 0.95])) - target

    fit = optimize.least_squares(logit_residuals, start, bounds=(-12.0, 20.0), xtol=1e-15, ftol=1e-15, gtol=1e-15)
    a, b = (float(x) for x in np.exp(fit.x))
    miss = np.max(np.abs(special.betaincinv(a, b, [0.05, 0.95]) - [p05, p95]))
    if not miss <= _QUANTILE_TOLERANCE:
        raise ValueError(
            f"no beta distribution has 5th and 95th percentiles {p05:g} and {p95:g} (closest misses "
            f"by {miss:.2g}); give (a, b) or (mean, concentration) instead"
        )
    return a, b


class Beta(_Base):
    """Beta on [0, 1].

    Exactly one of (a, b); (mean, concentration) with a = mean c, b = (1 - mean) c; or
    (p05, p95), solved numerically for (a, b) to within 1e-6.
    """

    dist: Literal["beta"]
    a: PositiveReal | None = None
    b: PositiveReal | None = None
    mean_: OpenUnitReal | None = Field(default=None, alias="mean")
    concentration: PositiveReal | None = None
    p05: OpenUnitReal | None = None
    p95: OpenUnitReal | None = None

    _forms = (("a", "b"), ("mean_", "concentration"), ("p05", "p95"))

    @field_validator("a", "b", "mean_", "concentration", "p05", "p95")
    @classmethod
    def _one_form(cls, value: float | None, info: ValidationInfo) -> float | None:
        return cls._check_form_field(value, info)

    @field_validator("p95")
    @classmethod
    def _quantiles_attainable(cls, p95: float | None, info: ValidationInfo) -> float | None:
        _check_above(p95, info, "p05", "they are the 5th and 95th percentiles")
        if p95 is not None and info.data.get("p05") is not None:
            _beta_from_quantiles(info.data["p05"], p95)  # cached: the fit is reused later
        return p95

    @property
    def ab(self) -> tuple[float, float]:
        """Shape parameters ``(a, b)``, whichever form was given."""
        if self.a is not None:
            return self.a, self.b
        if self.mean_ is not None:
            return self.mean_ * self.concentration, (1.0 - self.mean_) * self.concentration
        return _beta_from_quantiles(self.p05, self.p95)

    def _frozen(self) -> Any:
        return stats.beta(*self.ab)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return special.betaincinv(*self.ab, q)  # what scipy's beta.ppf computes, to the bit

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.beta(*self.ab, size)

    def mean(self) -> float:
        a, b = self.ab
        return a / (a + b)

    def describe(self) -> str:
        if self.mean_ is not None:
            return f"Beta(mean {_fmt(self.mean_)}, concentration {_fmt(self.concentration)})"
        if self.p05 is not None:
            return f"Beta(p05 {_fmt(self.p05)}, p95 {_fmt(self.p95)})"
        return f"Beta({_fmt(self.a)}, {_fmt(self.b)})"


