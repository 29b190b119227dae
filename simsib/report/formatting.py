"""Number formatting shared by the terminal table and the reports."""

from __future__ import annotations

import math
from typing import Callable


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: float | None) -> str:
    """£ in millions for large sums, thousands for small ones: ``£7.20m``, ``£850k``."""
    if _missing(value):
        return "–"
    sign = "−" if value < 0 else ""
    value = abs(value)
    if value >= 1e6:
        return f"{sign}£{value / 1e6:.2f}m"
    if value >= 1e3:
        return f"{sign}£{value / 1e3:.0f}k"
    return f"{sign}£{value:.0f}"


def _minus(text: str) -> str:
    # A typographic minus, as in money(): the same sign everywhere in tables and reports.
    return text.replace("-", "−")


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if _missing(value) else _minus(f"{100 * value:.{digits}f}%")


def multiple(value: float | None) -> str:
    return "–" if _missing(value) else _minus(f"{value:.2f}×")


def number(value: float | None, digits: int = 0) -> str:
    return "–" if _missing(value) else _minus(f"{value:,.{digits}f}")


def standard_error(value: float | None, kind: str) -> str:
    """A standard error in the unit of its figure, with two significant digits when it is small.

    QMC sampling makes errors far below a figure's own display precision (MOIC ± 0.0017×);
    shown at that precision they would read as "± 0.00×", as if exact.
    """
    if _missing(value):
        return "–"
    scale = {"percent": 100.0, "prob": 100.0}.get(kind, 1.0)
    shown = {"multiple": 0.01, "percent": 0.1, "prob": 0.1, "number": 1.0}.get(kind)
    if shown is None or value == 0 or abs(value) * scale >= shown:
        return {"multiple": multiple, "percent": percent, "prob": percent, "money": money,
                "number": number}[kind](value)
    suffix = {"multiple": "×", "percent": "%", "prob": "%", "number": ""}[kind]
    return _minus(f"{value * scale:.2g}{suffix}")


# Formatter by unit, as analyses and the terminal tables name units.
FORMATS: dict[str, Callable[[float], str]] = {
    "money": money, "percent": percent, "multiple": multiple, "number": lambda v: number(v, 2),
}
