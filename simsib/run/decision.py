"""The figures a decision turns on, beyond the means: the investors' graded bad case, the
council's deadweight in pounds and its budget by financial year.

Added to ``summary.json`` by :func:`simsib.run.summary.summarise` (every key is new; of the
older summary only ``council.deadweight_share`` changed, now defined in every draw, see
:func:`simsib.contract.metrics.deadweight_share`; ``summarise`` itself adds
``investor.prob_moic_below_half`` and ``council.deadweight_paid``):

- ``investor.irr_median``: the median IRR, ``{value, se}`` -- the headline, since the mean is
  dragged down by the −100% of every total loss;
- ``investor.moic_committed.p10``: the 10th percentile, beside the distribution's p05 and p25,
  and ``investor.moic_p10``, ``investor.moic_p25``: the 10th and 25th percentiles ``{value, se}``;
- ``investor.es10``, ``investor.es25``: mean MOIC on committed capital of the worst 10% and 25%
  of draws (when the worst 5% are all total losses, ES05 is 0× and says nothing more);
- ``investor.prob_reference``: P(MOIC on committed capital ≥ the scenario's
  ``meta.reference_moic``), with ``reference``;
- ``council.deadweight_share_of_payments``: £ paid for care days not truly avoided ÷ £ paid,
  over all draws (a ratio of means, every draw weighted by what it paid);
- ``council.payments_by_year``: per financial year ``{year, mean, se, p05, p50, p95, n}``, from
  the run's quarterly sample (the first ``simulation.quarterly_sample`` draws).

Standard errors are iid or, under QMC sampling, from replicates (``groups``), as in
:mod:`simsib.run.summary`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from simsib.run.budget import payments_by_year

MEDIAN_Z = 1.959963984540054  # order statistics n/2 ± z·√n/2 bound a 95% interval for the median
EXTRA_TAILS = (0.10, 0.25)


def quantile(values: np.ndarray, q: float, groups: np.ndarray | None = None) -> dict[str, float | None]:
    """The ``q`` quantile of the defined values and its standard error: half the
    distribution-free 95% interval between order statistics ``nq ± 1.96·√(nq(1−q))``, over 1.96
    (iid); or the spread of the replicates' quantiles ÷ √R (as
    :func:`simsib.analysis.estimates.estimate` for the median)."""
    values = np.asarray(values, dtype=float)
    defined = np.sort(values[~np.isnan(values)])
    n = defined.size
    if n == 0:
        return {"value": None, "se": None, "reason": "undefined in every draw"}
    if groups is not None:
        groups = np.asarray(groups)
        found = [np.nanquantile(values[groups == g], q) for g in np.unique(groups)
                 if np.isfinite(values[groups == g]).any()]
        se = float(np.std(found, ddof=1) / np.sqrt(len(found))) if len(found) > 1 else None
    else:
        half = MEDIAN_Z * np.sqrt(n * q * (1 - q))
        lo, hi = int(max(np.floor(n * q - half), 0)), int(min(np.ceil(n * q + half), n - 1))
        se = float((defined[hi] - defined[lo]) / (2 * MEDIAN_Z))
    value = float(np.quantile(defined, q))
    if se is not None and se < 1e-12 * max(1.0, abs(value)):  # equal up to rounding: no spread at all
        se = 0.0
    return {"value": value, "se": se}


def median(values: np.ndarray, groups: np.ndarray | None = None) -> dict[str, float | None]:
    """The median and its standard error (:func:`quantile` at one half)."""
    return quantile(values, 0.5, groups)


def ratio_of_means(numerator: np.ndarray, denominator: np.ndarray, groups: np.ndarray | None,
                   standard_error: Callable[..., float | None]) -> dict[str, float | None]:
    """``sum(numerator) ÷ sum(denominator)`` over the draws where both are defined, and its
    delta-method standard error: the standard error of the mean of
    ``(numerator − R·denominator) ÷ mean(denominator)``."""
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    both = ~(np.isnan(a) | np.isnan(b))
    if not both.any() or b[both].sum() <= 0:
        return {"value": None, "se": None, "reason": "nothing was paid in any draw"}
    ratio = float(a[both].sum() / b[both].sum())
    terms = np.full(a.shape, np.nan)
    terms[both] = (a[both] - ratio * b[both]) / b[both].mean()
    return {"value": ratio, "se": standard_error(terms, groups), "of": "ratio of means"}


def investor_grades(read: Callable[[str], np.ndarray], out: dict[str, Any], groups: np.ndarray | None,
                    reference_moic: float | None, probability: Callable, expected_shortfall: Callable) -> None:
    """Add the graded bad case (see the module docstring) to ``out["investor"]``."""
    investor = out["investor"]
    investor["irr_median"] = {**median(read("irr"), groups), "of": "irr"}
    committed = np.asarray(read("moic_committed"), dtype=float)
    defined = committed[~np.isnan(committed)]
    if "moic_committed" in investor and defined.size:
        investor["moic_committed"]["p10"] = float(np.percentile(defined, 10))
    for q in (0.10, 0.25):  # with standard errors, for the graded bad case
        investor[f"moic_p{round(q * 100):02d}"] = {**quantile(committed, q, groups), "of": "moic_committed"}
    for tail in EXTRA_TAILS:
        es = expected_shortfall(committed, tail=tail, groups=groups)
        investor[f"es{round(tail * 100):02d}"] = {**es, "of": "moic_committed"}
    if reference_moic is not None and defined.size:
        keep = ~np.isnan(committed)
        found = probability(committed[keep] >= reference_moic, None if groups is None else np.asarray(groups)[keep])
        investor["prob_reference"] = {**found, "reference": float(reference_moic), "of": "moic_committed"}


def council_years(payments: np.ndarray | None, contract_start: str | None, groups: np.ndarray | None,
                  standard_error: Callable[..., float | None]) -> list[dict] | None:
    """Outcome payments by financial year (or contract year without ``meta.contract_start``):
    ``[{year, mean, se, p05, p50, p95, n}, …, {year: "total", …}]`` from ``payments``
    (m, n_quarters), £ paid in each quarter by the first m draws; None without them."""
    if payments is None or payments.size == 0:
        return None
    from simsib.run.budget import quarter_years

    payments = np.asarray(payments, dtype=float)
    rows = payments_by_year(payments, contract_start)
    labels, year = quarter_years(payments.shape[1], contract_start)
    sample_groups = None if groups is None else np.asarray(groups)[: payments.shape[0]]
    for row in rows:
        k = labels.index(row["year"]) if row["year"] in labels else None
        per_draw = payments.sum(axis=1) if k is None else payments[:, year == k].sum(axis=1)
        row["se"] = standard_error(per_draw, sample_groups)
        row["n"] = int(payments.shape[0])
    return rows
