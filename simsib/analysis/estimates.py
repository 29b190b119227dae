"""Summary figures of per-draw columns, with Monte Carlo standard errors, and paired changes.

Sweeps, stress tests and comparisons measure the same figures on several variants; a
:class:`Metric` says how to compute one from a run's per-draw columns, :func:`estimate` gives
its value and standard error, and :func:`paired_difference` the change between two variants run
on common random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from simsib.model.qmc import REPLICATE_COLUMN
from simsib.run.decision import MEDIAN_Z  # the order statistics n/2 ± z·√n/2 bound a 95% interval for the median
from simsib.run.summary import standard_error
from simsib.scenario.errors import ScenarioError, did_you_mean


@dataclass(frozen=True)
class Metric:
    """A summary figure of per-draw columns.

    kind : ``mean`` (over draws where defined), ``prob`` (share of draws where an event holds)
        or ``median`` (over draws where defined)
    unit : how to show it: ``money``, ``percent``, ``multiple`` or ``number``
    values : columns -> (n,) float per-draw values (NaN where undefined; 0/1 for ``prob``)
    """

    name: str
    label: str
    kind: str
    unit: str
    columns: tuple[str, ...]
    values: Callable[[Mapping[str, np.ndarray]], np.ndarray]


def _column_metric(name: str, column: str, label: str, unit: str, kind: str = "mean") -> Metric:
    return Metric(name, label, kind, unit, (column,), lambda c: np.asarray(c[column], dtype=float))


def _event_metric(name: str, label: str, columns: tuple[str, ...], event: Callable) -> Metric:
    return Metric(name, label, "prob", "percent", columns, lambda c: np.asarray(event(c), dtype=float))


def _lost(c: Mapping[str, np.ndarray], below: float) -> np.ndarray:
    # As in simsib.run.summary: MOIC on drawn capital is undefined (NaN) only where nothing was
    # drawn; the investor put nothing at risk, so that draw is not a loss (NaN < 1 is False).
    return c["moic_drawn"] < below


METRICS: dict[str, Metric] = {m.name: m for m in (
    _column_metric("outcome_payments", "outcome_payments", "Council expected payment", "money"),
    _event_metric("prob_cap_reached", "P(cap reached)", ("cap_reached",), lambda c: c["cap_reached"]),
    _event_metric("prob_loss", "Investors' P(loss)", ("moic_drawn",), lambda c: _lost(c, 1.0)),
    _event_metric("prob_total_loss", "Investors' P(total loss)", ("moic_drawn",), lambda c: _lost(c, 0.1)),
    _column_metric("median_irr", "irr", "Median IRR", "percent", kind="median"),
    _column_metric("irr", "irr", "Mean IRR (where defined)", "percent"),
    _column_metric("moic_committed", "moic_committed", "MOIC on committed capital", "multiple"),
    _column_metric("moic_drawn", "moic_drawn", "MOIC on drawn capital", "multiple"),
    _column_metric("capital_drawn", "capital_drawn", "Capital drawn", "money"),
    _column_metric("true_savings", "true_savings", "True savings (care avoided)", "money"),
    _event_metric("prob_pays_more_than_saved", "Council P(pays more than saved)",
                  ("outcome_payments", "true_savings"), lambda c: c["outcome_payments"] > c["true_savings"]),
    _column_metric("deadweight_share", "deadweight_share", "Deadweight share of paid days", "percent"),
    _column_metric("net_benefit", "net_benefit", "Council net benefit", "money"),
    _column_metric("young_people_started", "young_people_started", "Young people started", "number"),
    _column_metric("care_proportion_treated", "care_proportion_treated", "Care proportion, treated", "percent"),
    _column_metric("care_proportion_counterfactual", "care_proportion_counterfactual",
                   "Care proportion, counterfactual", "percent"),
)}


def resolve_metric(name: str, available: Sequence[str]) -> Metric:
    """A named metric, any per-draw column (its mean), or ``median_<column>``.

    Raises ScenarioError naming the metric, with the closest valid name.
    """
    if name in METRICS:
        return METRICS[name]
    if name in available:
        return _column_metric(name, name, name, "number")
    if name.startswith("median_") and name[len("median_"):] in available:
        column = name[len("median_"):]
        return _column_metric(name, column, f"Median {column}", "number", kind="median")
    choices = sorted({*METRICS, *available})
    raise ScenarioError.single(
        "--metric", f"unknown metric '{name}'; use a named metric ({', '.join(METRICS)}), any per-draw "
        "column (its mean) or median_<column>", suggestion=did_you_mean(name, choices),
    )


def estimate(metric: Metric, columns: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """(value, Monte Carlo standard error) of ``metric`` over the draws in ``columns``.

    mean: ``sd/√n`` over defined draws; prob: ``√(p(1−p)/n)``; median: half the width of the
    distribution-free 95% interval between order statistics ``n/2 ± 1.96·√n/2``, over 2·1.96.
    Under QMC sampling (``columns`` has a ``replicate`` column) every error comes from the
    replicates instead (:func:`simsib.run.summary.replicate_se`; a median's from the spread of
    the replicates' medians).
    """
    values = metric.values(columns)
    groups = columns.get(REPLICATE_COLUMN)
    defined = np.sort(values[~np.isnan(values)])
    n = defined.size
    if n == 0:
        return float("nan"), float("nan")
    if metric.kind == "median":
        if groups is not None:
            return float(np.median(defined)), _replicate_median_se(values, np.asarray(groups))
        half = MEDIAN_Z * np.sqrt(n) / 2
        lo, hi = int(max(np.floor(n / 2 - half), 0)), int(min(np.ceil(n / 2 + half), n - 1))
        return float(np.median(defined)), float((defined[hi] - defined[lo]) / (2 * MEDIAN_Z))
    se = standard_error(values, groups, probability=metric.kind == "prob")
    return float(defined.mean()), float("nan") if se is None else se


def _replicate_median_se(values: np.ndarray, groups: np.ndarray) -> float:
    """sd of the replicates' medians / √R: the median is not a mean, so no weights."""
    medians = [np.nanmedian(values[groups == g]) for g in np.unique(groups) if np.isfinite(values[groups == g]).any()]
    return float(np.std(medians, ddof=1) / np.sqrt(len(medians))) if len(medians) > 1 else float("nan")


def paired_difference(
    metric: Metric, base: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> tuple[float, float]:
    """(change, paired standard error) of a mean or probability from ``base`` to ``other``.

    Both runs share their random numbers draw by draw, so the change is the mean of per-draw
    differences (over draws where both are defined) and its error ``sd(differences)/√n`` (from
    replicates under QMC sampling) -- far smaller than the two runs' own errors when the change
    is small.  A median has no
    per-draw difference; its change is returned with an unpaired error bound.
    """
    a, b = metric.values(base), metric.values(other)
    if metric.kind == "median":
        (va, sa), (vb, sb) = estimate(metric, base), estimate(metric, other)
        return vb - va, float(np.hypot(sa, sb))
    both = ~(np.isnan(a) | np.isnan(b))
    diff = b[both] - a[both]
    if diff.size == 0:
        return float("nan"), float("nan")
    groups = base.get(REPLICATE_COLUMN)
    se = standard_error(diff, None if groups is None else np.asarray(groups)[both])
    return float(diff.mean()), float("nan") if se is None else se
