"""Continuous families: uniform, triangular, normal (optionally truncated), log-normal, gamma, Weibull."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from simsib.scenario.distributions.base import (
    _Z95,
    PositiveReal,
    Real,
    _Base,
    _cached_frozen,
    _cached_quantiles,
    _check_above,
    _fmt,
    _interval,
    special,
    stats,
)


class Uniform(_Base):
    """Uniform on [low, high]: ``{ dist = "uniform", low = 0.1, high = 0.3 }``."""

    dist: Literal["uniform"]
    low: Real
    high: Real

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: float, info: ValidationInfo) -> float:
        return _check_above(high, info, "low", "the interval must have positive width")

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return self.low + q * (self.high - self.low)

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    def describe(self) -> str:
        return f"Uniform({_fmt(self.low)}, {_fmt(self.high)})"


class Triangular(_Base):
    """Triangular on [low, high] peaking at mode: ``{ dist = "triangular", low, mode, high }``."""

    dist: Literal["triangular"]
    low: Real
    high: Real  # declared before mode so the mode check can see both bounds
    mode: Real

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: float, info: ValidationInfo) -> float:
        return _check_above(high, info, "low", "the interval must have positive width")

    @field_validator("mode")
    @classmethod
    def _mode_inside(cls, mode: float, info: ValidationInfo) -> float:
        low, high = info.data.get("low"), info.data.get("high")
        if low is not None and high is not None and not low <= mode <= high:
            raise ValueError(f"must lie in [low, high] = [{_fmt(low)}, {_fmt(high)}]")
        return mode

    def _frozen(self) -> Any:
        width = self.high - self.low
        return stats.triang(c=(self.mode - self.low) / width, loc=self.low, scale=width)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        # scipy's triang._ppf, scaled as rv_continuous.ppf does: the same numbers, no scipy.stats.
        width = self.high - self.low
        c = (self.mode - self.low) / width
        return np.where(q < c, np.sqrt(c * q), 1 - np.sqrt((1 - c) * (1 - q))) * width + self.low

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3.0

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, size)

    def describe(self) -> str:
        return f"Triangular({_fmt(self.low)}, {_fmt(self.mode)}, {_fmt(self.high)})"


class Normal(_Base):
    """Normal(mean, sd), optionally truncated to [low, high] (either bound may be omitted)."""

    dist: Literal["normal"]
    mean_: Real = Field(alias="mean")
    sd: PositiveReal
    low: Real | None = None
    high: Real | None = None

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: float | None, info: ValidationInfo) -> float | None:
        return _check_above(high, info, "low", "the truncation interval must have positive width")

    @property
    def _truncated(self) -> bool:
        return self.low is not None or self.high is not None

    def _frozen(self) -> Any:
        if not self._truncated:
            return stats.norm(loc=self.mean_, scale=self.sd)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        a, b = (low - self.mean_) / self.sd, (high - self.mean_) / self.sd
        return stats.truncnorm(a, b, loc=self.mean_, scale=self.sd)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        if self._truncated:
            # scipy's truncnorm.ppf overflows to inf near q = 1 (outside the support); the
            # survival-function inverse is accurate in the upper tail, so use it there.
            quantiles = _cached_quantiles(self)
            values = np.where(q > 0.5, quantiles.isf(1.0 - q), quantiles.ppf(q))
            return np.clip(values, *self.support())
        return self.mean_ + self.sd * special.ndtri(q)

    def support(self) -> tuple[float, float]:
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return float(low), float(high)

    def mean(self) -> float:
        return self.mean_ if not self._truncated else float(_cached_frozen(self).mean())

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if not self._truncated:
            return rng.normal(self.mean_, self.sd, size)
        # Inverse CDF by the standard library's normal: exact enough to check magnitudes.
        unit = NormalDist()
        low, high = ((bound - self.mean_) / self.sd for bound in self.support())
        lo_p, hi_p = unit.cdf(low), unit.cdf(high)
        if not hi_p > lo_p:  # truncated to a region beyond double precision: nothing to draw from
            return np.full(size, np.nan)
        p = np.clip(lo_p + rng.random(size) * (hi_p - lo_p), 1e-300, 1 - 2**-53)
        z = np.array([unit.inv_cdf(float(x)) for x in p])
        return np.clip(self.mean_ + self.sd * z, *self.support())

    def describe(self) -> str:
        text = f"Normal({_fmt(self.mean_)}, {_fmt(self.sd)})"
        if self._truncated:
            low, high = self.support()
            text += f" truncated to {_interval(low, high)}"
        return text


class LogNormal(_Base):
    """Log-normal: log X ~ Normal(mu, sigma).

    Exactly one of (mu, sigma), (median, sigma) with median = exp(mu), or (p05, p95), the
    central 90% interval, giving median = sqrt(p05 p95) and sigma = ln(p95 / p05) / (2 z_0.95).
    """

    dist: Literal["lognormal"]
    mu: Real | None = None
    median: PositiveReal | None = None
    sigma: PositiveReal | None = None
    p05: PositiveReal | None = None
    p95: PositiveReal | None = None

    _forms = (("mu", "sigma"), ("median", "sigma"), ("p05", "p95"))

    @field_validator("mu", "median", "sigma", "p05", "p95")
    @classmethod
    def _one_form(cls, value: float | None, info: ValidationInfo) -> float | None:
        return cls._check_form_field(value, info)

    @field_validator("p95")
    @classmethod
    def _p95_above_p05(cls, p95: float | None, info: ValidationInfo) -> float | None:
        return _check_above(p95, info, "p05", "they are the 5th and 95th percentiles")

    @property
    def mu_sigma(self) -> tuple[float, float]:
        """``(mu, sigma)`` of log X, whichever form was given."""
        if self.mu is not None:
            return self.mu, self.sigma
        if self.median is not None:
            return math.log(self.median), self.sigma
        log_p05, log_p95 = math.log(self.p05), math.log(self.p95)
        return 0.5 * (log_p05 + log_p95), (log_p95 - log_p05) / (2.0 * _Z95)

    def _frozen(self) -> Any:
        mu, sigma = self.mu_sigma
        return stats.lognorm(s=sigma, scale=math.exp(mu))

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        mu, sigma = self.mu_sigma
        return np.exp(mu + sigma * special.ndtri(q))

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def mean(self) -> float:
        mu, sigma = self.mu_sigma
        return math.exp(mu + 0.5 * sigma**2)

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        mu, sigma = self.mu_sigma
        return rng.lognormal(mu, sigma, size)

    def describe(self) -> str:
        if self.p05 is not None:
            return f"LogNormal(p05 {_fmt(self.p05)}, p95 {_fmt(self.p95)})"
        mu, sigma = self.mu_sigma
        return f"LogNormal(median {_fmt(math.exp(mu))}, σ {_fmt(sigma)})"


class Gamma(_Base):
    """Gamma: exactly one of (shape, scale) or (mean, sd), giving shape = (mean/sd)², scale = sd²/mean."""

    dist: Literal["gamma"]
    shape: PositiveReal | None = None
    scale: PositiveReal | None = None
    mean_: PositiveReal | None = Field(default=None, alias="mean")
    sd: PositiveReal | None = None

    _forms = (("shape", "scale"), ("mean_", "sd"))

    @field_validator("shape", "scale", "mean_", "sd")
    @classmethod
    def _one_form(cls, value: float | None, info: ValidationInfo) -> float | None:
        return cls._check_form_field(value, info)

    @property
    def shape_scale(self) -> tuple[float, float]:
        """``(shape, scale)``, whichever form was given."""
        if self.shape is not None:
            return self.shape, self.scale
        try:
            return (self.mean_ / self.sd) ** 2, self.sd**2 / self.mean_
        except OverflowError:  # moments so extreme (mean 1e-300, sd 1e300) that no gamma has them
            return math.nan, math.nan

    def _frozen(self) -> Any:
        shape, scale = self.shape_scale
        return stats.gamma(shape, scale=scale)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        shape, scale = self.shape_scale
        if not 0 < shape < math.inf and 0 < scale < math.inf:
            return np.full(q.shape, np.nan)
        return special.gammaincinv(shape, q) * scale  # scipy's gamma._ppf, scaled: no scipy.stats

    def support(self) -> tuple[float, float]:
        shape, scale = self.shape_scale
        # Parameters that under- or overflowed (from extreme moments) describe no distribution.
        usable = 0 < shape < math.inf and 0 < scale < math.inf
        return (0.0, math.inf) if usable else (math.nan, math.nan)

    def mean(self) -> float:
        shape, scale = self.shape_scale
        return shape * scale

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape, scale = self.shape_scale
        return rng.gamma(shape, scale, size)

    def describe(self) -> str:
        if self.mean_ is not None:
            return f"Gamma(mean {_fmt(self.mean_)}, sd {_fmt(self.sd)})"
        return f"Gamma(shape {_fmt(self.shape)}, scale {_fmt(self.scale)})"


class Weibull(_Base):
    """Weibull with CDF 1 - exp(-(x / scale)^shape)."""

    dist: Literal["weibull"]
    shape: PositiveReal
    scale: PositiveReal

    def _frozen(self) -> Any:
        return stats.weibull_min(self.shape, scale=self.scale)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return self.scale * (-np.log1p(-q)) ** (1.0 / self.shape)

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def mean(self) -> float:
        return self.scale * math.gamma(1.0 + 1.0 / self.shape)

    def describe(self) -> str:
        return f"Weibull(shape {_fmt(self.shape)}, scale {_fmt(self.scale)})"


