"""What every distribution shares: validation helpers, the inverse-CDF interface, fixed values.

scipy is imported where a quantile is first computed, never at import time: reading and
validating a scenario needs no scipy (see :meth:`_Base.rough_sample`).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Annotated, Any, Callable, ClassVar, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)


class _LazyModule:
    """A module imported on its first attribute lookup (by ``load``, a static import).

    scipy takes 0.3-0.7 s to import, and reading or validating a scenario never needs it: only
    sampling does.  ``stats.beta(...)`` reads like the plain import.
    """

    def __init__(self, load: Callable[[], Any]):
        self._load = load
        self._module = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = self._load()
        return getattr(self._module, attribute)


def _scipy_stats() -> Any:
    from scipy import stats

    return stats


def _scipy_special() -> Any:
    from scipy import special

    return special


def _scipy_optimize() -> Any:
    from scipy import optimize

    return optimize


stats, special, optimize = _LazyModule(_scipy_stats), _LazyModule(_scipy_special), _LazyModule(_scipy_optimize)

# Uniforms are clipped into [_TINY, 1 - _TINY] before any ppf: 2**-53 is the gap between 1 and
# the largest double below it, so 1 - _TINY < 1 and unbounded families never return ±inf (and
# scipy's discrete ppf(0) = support minimum - 1 is never reached).
_TINY = 2.0**-53
# special.ndtri(0.95), to the bit (tests check it): p05/p95 are mean ∓ _Z95 sd on the normal scale.
_Z95 = 1.6448536269514722
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

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws for checking a scenario's magnitudes, shape (size,), without scipy.

        numpy's own samplers: the same distribution as :meth:`sample`, but not the same numbers
        (and not monotone in any uniform), so never used to simulate.  Families whose quantile
        function needs scipy override this; the rest sample by inverse CDF.
        """
        return self.sample(rng, size)

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

    def rough_sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, float(self.value))

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


