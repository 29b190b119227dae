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

import functools
import math
import re
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from scipy import optimize, special, stats

__all__ = [
    "Distribution", "Quantity", "within", "Probability", "NonNegative", "as_distribution",
    "Fixed", "Uniform", "Triangular", "Normal", "LogNormal", "Beta", "Gamma", "Weibull",
    "NegativeBinomial", "Poisson", "Categorical", "Mixture",
]

# Uniforms are clipped into [_TINY, 1 - _TINY] before any ppf: 2**-53 is the gap between 1 and
# the largest double below it, so 1 - _TINY < 1 and unbounded families never return ±inf (and
# scipy's discrete ppf(0) = support minimum - 1 is never reached).
_TINY = 2.0**-53
_Z95 = float(special.ndtri(0.95))  # 1.6448536...: p05/p95 are mean ∓ _Z95 sd on the normal scale
_WEIGHT_TOLERANCE = 1e-9
_QUANTILE_TOLERANCE = 1e-6

_SOURCE_PATTERN = re.compile(
    r"E\d+(?:\s*[,;]\s*E\d+)*(?:[\s:;,(\-–—].*)?"  # evidence ids, optionally then free text
    r"|(?i:judge?ment):\s*\S.*",  # or a stated judgement with its reason
    re.DOTALL,
)
_SOURCE_EXPECTED = (
    "expected an EVIDENCE id such as 'E26' or several such as 'E20, E22' (optionally followed "
    "by text), or text starting with 'judgement:' giving the reasoning"
)


def check_source(source: str | None) -> str | None:
    """Validate a ``source`` text (an EVIDENCE id or a stated judgement); raise ValueError."""
    if source is not None and not _SOURCE_PATTERN.fullmatch(source.strip()):
        raise ValueError(_SOURCE_EXPECTED)
    return source


def _reject_bool(value: Any) -> Any:
    # TOML true/false would otherwise pass as 1/0 and a typo like `a = true` would go unnoticed.
    if isinstance(value, (bool, np.bool_)):
        raise ValueError("expected a number, not a boolean")
    return value


# Strict: TOML strings like "0.5" are a mistake, not a number; ints are still accepted.
Real = Annotated[float, Strict(), BeforeValidator(_reject_bool)]
PositiveReal = Annotated[Real, Field(gt=0)]
OpenUnitReal = Annotated[Real, Field(gt=0, lt=1)]


def _fmt(x: float) -> str:
    """Short human form of a number: ``17``, ``-0.22``, ``2,500,000``."""
    if math.isfinite(x) and abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _interval(low: float, high: float) -> str:
    """``[0, 1]``, ``(-inf, inf)``, ``[0, inf)``: closed where finite, open at infinity."""
    left = "(" if math.isinf(low) else "["
    right = ")" if math.isinf(high) else "]"
    return f"{left}{low:g}, {high:g}{right}"


def _tag(family: type[BaseModel]) -> str:
    """The ``dist`` tag of a distribution class, read from its ``Literal`` annotation."""
    return family.model_fields["dist"].annotation.__args__[0]


def _as_uniform_matrix(u: np.ndarray, n_uniforms: int) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[1] != n_uniforms:
        raise ValueError(f"expected uniforms of shape (n, {n_uniforms}), got shape {u.shape}")
    return u


@functools.lru_cache(maxsize=512)
def _cached_frozen(distribution: "_Base") -> Any:
    # Freezing a scipy distribution costs about a millisecond; a run samples the same frozen
    # distributions once per chunk.  Distributions are frozen pydantic models, so hashable.
    return distribution._frozen()


class _ScipyQuantiles:
    """The ``ppf`` and ``isf`` of a frozen scipy distribution for ``q`` strictly inside (0, 1).

    ``rv_frozen.ppf`` re-parses, re-checks and re-broadcasts the parameters on every call: up
    to a third of the time of 1000 beta quantiles, and the same work every chunk.  For ``q`` in
    (0, 1) and parameters scipy accepts, ``rv_continuous.ppf`` returns exactly
    ``dist._ppf(q, *shapes) * scale + loc`` (``isf`` likewise with ``_isf``; discrete
    distributions have scale 1 and add ``loc`` alone), which is what this evaluates: scipy's
    own numbers, to the bit (tests/test_sampling_fast.py holds scipy to that).
    """

    def __init__(self, frozen: Any):
        self._frozen = frozen
        self._dist = frozen.dist
        self._shapes, self._loc, self._scale = frozen.dist._parse_args(*frozen.args, **frozen.kwds)
        # Parameters scipy rejects (say a beta shape that underflowed to 0) give NaN through
        # the checked path; such distributions keep using it.
        accepted = np.all(frozen.dist._argcheck(*map(np.asarray, self._shapes)))
        self._valid = bool(accepted) and self._scale > 0 and self._loc == self._loc

    def ppf(self, q: np.ndarray) -> np.ndarray:
        if not self._valid:
            return self._frozen.ppf(q)
        return self._dist._ppf(q, *self._shapes) * self._scale + self._loc

    def isf(self, q: np.ndarray) -> np.ndarray:
        if not self._valid:
            return self._frozen.isf(q)
        return self._dist._isf(q, *self._shapes) * self._scale + self._loc


@functools.lru_cache(maxsize=512)
def _cached_quantiles(distribution: "_Base") -> _ScipyQuantiles:
    return _ScipyQuantiles(_cached_frozen(distribution))


class _Base(BaseModel):
    """What every distribution offers; subclasses fill in ``_ppf``, ``support``, ``mean``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True)

    source: str | None = None

    # Alternative parameterisations, as tuples of field names; exactly one must be given whole.
    _forms: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @field_validator("source")
    @classmethod
    def _check_source(cls, source: str | None) -> str | None:
        return check_source(source)

    # --- parameterisation forms ---------------------------------------------------------------
    @classmethod
    def _key(cls, name: str) -> str:
        return cls.model_fields[name].alias or name

    @classmethod
    def _forms_text(cls) -> str:
        forms = [f"({', '.join(cls._key(name) for name in form)})" for form in cls._forms]
        listed = ", ".join(forms[:-1]) + " or " + forms[-1] if len(forms) > 1 else forms[0]
        return f"a {_tag(cls)} distribution is given by exactly one of {listed}"

    @classmethod
    def _check_form_field(cls, value: float | None, info: ValidationInfo) -> float | None:
        """Report a key that clashes with, or is missing from, the form begun by earlier keys.

        Runs on every form field in definition order (defaults included).  ``info.data`` holds
        only the earlier fields that validated, so an invalid earlier key never causes a second,
        spurious complaint here.
        """
        form_fields = {name for form in cls._forms for name in form}
        given = [n for n, v in info.data.items() if n in form_fields and v is not None]
        compatible = [form for form in cls._forms if set(given) <= set(form)]
        name, key = info.field_name, cls._key(info.field_name)
        earlier = ", ".join(cls._key(n) for n in given)
        if value is not None and not any(name in form for form in compatible):
            raise ValueError(f"{key} cannot be combined with {earlier}: {cls._forms_text()}")
        if value is None and given and compatible and all(name in form for form in compatible):
            raise ValueError(f"{key} is required with {earlier}: {cls._forms_text()}")
        return value

    @model_validator(mode="after")
    def _check_form_complete(self):
        # Only reached when every field validated, so what is left is an incomplete form whose
        # missing key precedes the given ones (e.g. p95 alone) or no form at all.
        if self._forms and self._form is None:
            given = [self._key(n) for form in self._forms for n in form if getattr(self, n) is not None]
            got = f"only {', '.join(dict.fromkeys(given))}" if given else "none of them"
            raise ValueError(f"{self._forms_text()}; got {got}")
        return self

    @property
    def _form(self) -> tuple[str, ...] | None:
        """The parameterisation used: the form whose fields are exactly the ones given."""
        given = {n for form in self._forms for n in form if getattr(self, n) is not None}
        return next((form for form in self._forms if set(form) == given), None)

    # --- public interface -----------------------------------------------------------------------
    @property
    def n_uniforms(self) -> int:
        """Number of uniform columns :meth:`from_uniforms` needs (1 except for mixtures)."""
        return 1

    @property
    def is_fixed(self) -> bool:
        """True only for :class:`Fixed`."""
        return False

    def from_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Transform uniforms into draws by the inverse CDF.

        Parameters
        ----------
        u : ndarray, shape (n, n_uniforms)
            Uniforms in (0, 1); values outside are clipped into [2**-53, 1 - 2**-53].

        Returns
        -------
        ndarray, shape (n,), float64
            Draws; non-decreasing in ``u[:, 0]`` for every family except mixtures.  Count
            families return whole numbers as floats.
        """
        u = _as_uniform_matrix(u, self.n_uniforms)
        return np.asarray(self._ppf(np.clip(u[:, 0], _TINY, 1.0 - _TINY)), dtype=np.float64)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws, shape (size,), from ``rng`` via :meth:`from_uniforms`."""
        return self.from_uniforms(rng.random((size, self.n_uniforms)))

    def support(self) -> tuple[float, float]:
        """Closed hull ``(low, high)`` of the values a draw can take; ±inf where unbounded."""
        low, high = _cached_frozen(self).support()
        return float(low), float(high)

    def mean(self) -> float:
        """Exact expected value."""
        return float(_cached_frozen(self).mean())

    def describe(self) -> str:  # pragma: no cover - every family overrides
        raise NotImplementedError

    def _frozen(self) -> Any:
        """The equivalent frozen ``scipy.stats`` distribution."""
        raise NotImplementedError

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        """Quantile function on ``q`` of shape (n,), already clipped away from 0 and 1."""
        return _cached_quantiles(self).ppf(q)


class Fixed(_Base):
    """A known value: ``0.5``, ``{ value = 0.5, source = "E5" }`` or ``{ dist = "fixed", ... }``.

    It still consumes one uniform column so that column layouts do not depend on which inputs
    happen to be fixed in a scenario variant.
    """

    dist: Literal["fixed"]
    value: Real

    @property
    def is_fixed(self) -> bool:
        return True

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return np.full(q.shape, self.value)

    def support(self) -> tuple[float, float]:
        return self.value, self.value

    def mean(self) -> float:
        return self.value

    def describe(self) -> str:
        return f"Fixed {_fmt(self.value)}"


def _check_above(value: float | None, info: ValidationInfo, lower: str, why: str) -> float | None:
    """Raise unless ``value`` exceeds the earlier field ``lower`` (when both are present)."""
    other = info.data.get(lower)
    if value is not None and other is not None and not value > other:
        raise ValueError(f"must be greater than {lower} ({_fmt(other)}): {why}")
    return value


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

    def support(self) -> tuple[float, float]:
        return self.low, self.high

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

    def describe(self) -> str:
        if self.p05 is not None:
            return f"LogNormal(p05 {_fmt(self.p05)}, p95 {_fmt(self.p95)})"
        mu, sigma = self.mu_sigma
        return f"LogNormal(median {_fmt(math.exp(mu))}, σ {_fmt(sigma)})"


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

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0

    def mean(self) -> float:
        a, b = self.ab
        return a / (a + b)

    def describe(self) -> str:
        if self.mean_ is not None:
            return f"Beta(mean {_fmt(self.mean_)}, concentration {_fmt(self.concentration)})"
        if self.p05 is not None:
            return f"Beta(p05 {_fmt(self.p05)}, p95 {_fmt(self.p95)})"
        return f"Beta({_fmt(self.a)}, {_fmt(self.b)})"


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
        return (self.mean_ / self.sd) ** 2, self.sd**2 / self.mean_

    def _frozen(self) -> Any:
        shape, scale = self.shape_scale
        return stats.gamma(shape, scale=scale)

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

    def describe(self) -> str:
        return f"Weibull(shape {_fmt(self.shape)}, scale {_fmt(self.scale)})"


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

    def describe(self) -> str:
        return f"Poisson({_fmt(self.mean_)})"


def _check_weights(weights: tuple[float, ...], info: ValidationInfo, items: str) -> tuple[float, ...]:
    """Raise unless ``weights`` matches the earlier field ``items`` in length and sums to 1."""
    paired = info.data.get(items)
    if paired is not None and len(paired) != len(weights):
        raise ValueError(f"expected one weight per entry of {items} ({len(paired)}), got {len(weights)}")
    total = math.fsum(weights)
    if abs(total - 1.0) > _WEIGHT_TOLERANCE:
        raise ValueError(f"weights are probabilities and must sum to 1 (within 1e-9); they sum to {total:.12g}")
    return weights


def _cumulative(weights: tuple[float, ...]) -> np.ndarray:
    # Renormalised so the last edge is exactly 1 and rounding cannot leave a gap at the top.
    cumulative = np.cumsum(weights)
    return cumulative / cumulative[-1]


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
        values = np.asarray(self.values)[order]
        cumulative = _cumulative(tuple(np.asarray(self.weights)[order]))
        if len(cumulative) <= 16:
            # Few categories (ages 11-17): counting the edges below q beats a binary search.
            index = np.zeros(q.shape, dtype=np.int8)  # a narrow counter: less memory to sweep
            for edge in cumulative[:-1]:
                index += q >= edge
            return values[index]
        index = np.searchsorted(cumulative, q, side="right")
        return values[np.minimum(index, len(values) - 1)]

    def support(self) -> tuple[float, float]:
        possible = [v for v, w in zip(self.values, self.weights) if w > 0]
        return min(possible), max(possible)

    def mean(self) -> float:
        return math.fsum(v * w for v, w in zip(self.values, self.weights))

    def describe(self) -> str:
        pairs = ", ".join(f"{_fmt(v)}: {_fmt(w)}" for v, w in zip(self.values, self.weights))
        return f"Categorical({pairs})"


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
