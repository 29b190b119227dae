"""Building blocks of the scenario format: field types with bounds, units and citations.

Every section model (:mod:`~simsib.scenario.format`) declares its fields with these types, so
that a number is checked the same way everywhere: a quantity (a number or a distribution) with
a plausible range, a structural whole number, money, months, a probability.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Strict

from simsib.scenario.distributions import Quantity, check_source, within

CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True)

# Bounds on magnitudes: generous for any real contract, tight enough to catch typos such as a
# cap of 7.2e16 or a tracking window of 3,000 months.
MAX_MONEY = 1e10
MAX_MONTHS = 600

Source = Annotated[str | None, AfterValidator(check_source)]


@dataclass(frozen=True)
class Expects:
    """What a field takes, in words, for the scenario reference (:mod:`simsib.scenario.reference`).

    Annotation metadata only: validation ignores it.  It also widens the field's JSON Schema
    (``simsib schema``) to the shorthands the validators accept -- ``0.5`` or
    ``{ value = 0.5, source = "E5" }`` for a quantity, ``{ value = 30, source = "E6" }`` for a
    whole number -- so that editors checking files against the schema accept valid files.
    """

    text: str
    shorthand: Literal["quantity", "whole number"] = "quantity"
    bounds: tuple[int, int] | None = None  # of a whole number

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        inner = handler(core_schema)
        if self.shorthand == "quantity":
            plain = {"type": "number"}
        else:
            plain = {**inner, **({"minimum": self.bounds[0], "maximum": self.bounds[1]} if self.bounds else {})}
        cited = {
            "type": "object",
            "properties": {"value": plain, "source": {"type": "string"}},
            "required": ["value"],
            "additionalProperties": False,
        }
        choices = [plain, cited, inner] if self.shorthand == "quantity" else [plain, cited]
        return {"anyOf": choices, "description": self.text}


def _unwrap_cited(value: Any) -> Any:
    """Accept ``30`` or ``{ value = 30, source = "E6" }`` for a structural integer.

    Messages about a key inside the table start with ``key: `` so the loader can report them at
    that key.  Booleans and strings are refused here: pydantic's lax integers would otherwise
    read ``true`` as 1 and ``"30"`` as 30, hiding a typo.
    """
    if isinstance(value, dict):
        if "dist" in value:
            raise ValueError(
                "expected a whole number, optionally { value = ..., source = ... }: this setting "
                "shapes the simulation's arrays, so it cannot be a distribution"
            )
        for key in value:
            if key not in ("value", "source"):
                where = f"{key}: " if str(key).isidentifier() else f"{key!r}: "
                raise ValueError(f"{where}unknown key; valid choices: value, source")
        if "value" not in value:
            raise ValueError("value: required key is missing")
        source = value.get("source")
        if source is not None and not isinstance(source, str):
            raise ValueError(f"source: expected text, not {type(source).__name__}; got {source!r}")
        try:
            check_source(source)
        except ValueError as exc:
            raise ValueError(f"source: {exc}") from None
        value = value["value"]
    if isinstance(value, (bool, str)):
        kind = "a boolean" if isinstance(value, bool) else "text"
        raise ValueError(f"expected a whole number, not {kind}; got {value!r}")
    return value


def structural_int(low: int, high: int, what: str):
    def check(v: int) -> int:
        if not low <= v <= high:
            raise ValueError(f"expected {what} between {low} and {high}; got {v}")
        return v

    note = Expects(f"whole number from {low:,} to {high:,}: {what}", "whole number", (low, high))
    return Annotated[int, BeforeValidator(_unwrap_cited), AfterValidator(check), note]


def usable(dist: Any) -> Any:
    """Refuse parameters so extreme that the family's numerics break down (NaN support).

    Mixture components are checked one by one: min/max over a NaN bound can hide it.
    """
    pending = [dist]
    while pending:
        part = pending.pop()
        pending.extend(getattr(part, "components", ()))
        low, high = part.support()
        if np.isnan(low) or np.isnan(high):
            raise ValueError(
                f"this {part.dist} distribution's parameters are too extreme to compute with "
                "(its range is undefined); check their magnitudes"
            )
    return dist


def _plausible(low: float, high: float, what: str):
    """Magnitude check: the middle 99.8% of the distribution must lie in [low, high].

    Unlike :func:`within` (a hard bound on the support) this lets unbounded families such as
    a log-normal describe a bounded quantity, while still catching typos like 7.2e16.
    """

    def check(dist: Any) -> Any:
        if dist.is_fixed:
            lo = hi = float(dist.value)
        else:
            # Absurd parameters (mu = 1000) overflow; that is the finding, not a warning to show.
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sample = dist.rough_sample(np.random.default_rng(0), 4000)
            if not np.all(np.isfinite(sample)):
                raise ValueError(
                    f"expected {what} between {low:g} and {high:g}; this {dist.dist} distribution's "
                    "parameters are so extreme that its draws overflow or are undefined"
                )
            lo, hi = np.quantile(sample, [0.001, 0.999])
        if not (lo >= low and hi <= high):
            shown = f"{lo:g}" if lo == hi else f"[{lo:.4g}, {hi:.4g}] (99.8% range)"
            raise ValueError(f"expected {what} between {low:g} and {high:g}; got {shown}")
        return dist

    return AfterValidator(check)


def bounded(low: float, high: float, what: str):
    """A quantity that cannot be negative when ``low >= 0``, and must be of plausible size."""
    hard = within(0.0, np.inf, f"{what} (never negative)") if low >= 0 else within(-np.inf, np.inf, what)
    sign = "quantity ≥ 0" if low >= 0 else "quantity"
    note = Expects(f"{sign}, 99.8% of draws in [{low:g}, {high:g}]: {what}")
    return Annotated[Quantity, AfterValidator(usable), hard, _plausible(low, high, what), note]


StructMonths = structural_int(0, MAX_MONTHS, "a whole number of months")
Probability = Annotated[
    Quantity, AfterValidator(usable), within(0.0, 1.0, "a probability"), Expects("quantity in [0, 1]: a probability")
]
Money = bounded(0.0, MAX_MONEY, "an amount in £")
Months = bounded(0.0, MAX_MONTHS, "a number of months")
Count = Annotated[int, Strict()]  # TOML integers only: `true` or "100" is a mistake
Number = Annotated[float, Strict()]  # TOML numbers only
Flag = Annotated[bool, Strict()]  # TOML booleans only: "yes" or 1 is a mistake


class Section(BaseModel):
    model_config = CONFIG

