"""Each draw's value of each observed figure, and fewer figures with the same totals.

:func:`simulated_values` reads, for every row of an observations file, the same figure in each
simulated draw (sums over the row's period, per cohort when the row names one, ratios for
shares); :func:`quarterly_values` gives a series at every quarter end, for fan charts.  The
per-draw series come from :func:`simsib.run.observables.observable_series`.
:func:`summarised` turns many per-quarter figures into a few figures to date.
"""

from __future__ import annotations

import numpy as np

from simsib.analysis.observations import SERIES, Observation, Observations, Series
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.run.observables import MONTHLY_SERIES


def _period_sum(series: Series, values: np.ndarray, row: Observation) -> np.ndarray:
    """Sum of a monthly (n, M) or quarterly (n, Q) array over the row's period, (n,)."""
    if series.base in MONTHLY_SERIES:
        start = 0 if series.to_date else MONTHS_PER_QUARTER * row.quarter
        return values[..., start:row.month_end].sum(axis=-1)
    start = 0 if series.to_date else row.quarter
    return values[..., start:row.quarter + 1].sum(axis=-1)


def simulated_values(observations: Observations, series_arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Each draw's value of each row, shape (n, n_rows), from :func:`observable_series`'s arrays.

    A share whose denominator is zero is NaN: the draw cannot show that figure.
    """
    columns = []
    for row in observations.rows:
        series = SERIES[row.series]

        def read(base: str) -> np.ndarray:
            if row.cohort is None:
                return _period_sum(series, series_arrays[base], row)
            return _period_sum(series, series_arrays[f"{base}_by_cohort"][:, row.cohort, :], row)

        value = read(series.base)
        if series.denominator is not None:
            denominator = read(series.denominator)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(denominator > 0, value / np.where(denominator > 0, denominator, 1.0), np.nan)
        columns.append(value)
    return np.column_stack(columns) if columns else np.zeros((0, 0))


def quarterly_values(series: Series, series_arrays: dict[str, np.ndarray]) -> np.ndarray:
    """``series`` over every cohort at each quarter end, shape (n, n_quarters): what fan charts
    of an observed series show."""

    def by_quarter(base: str) -> np.ndarray:
        values = series_arrays[base]
        if base in MONTHLY_SERIES:  # the three months of each quarter
            values = values[:, 0::MONTHS_PER_QUARTER] + values[:, 1::MONTHS_PER_QUARTER] + values[:, 2::MONTHS_PER_QUARTER]
        return np.cumsum(values, axis=1) if series.to_date else values

    value = by_quarter(series.base)
    if series.denominator is None:
        return value
    denominator = by_quarter(series.denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, value / np.where(denominator > 0, denominator, 1.0), np.nan)


def summarised(observations: Observations, every: int = 4) -> Observations:
    """Fewer figures with the same totals: what the update can weigh without losing every draw.

    For each additive series (counts, days, £) and cohort, per-quarter rows that run without a
    gap from quarter 0 are summed into figures to date; then only the figures to date at every
    ``every``-th quarter end and at the latest month are kept (a row's ``sd`` adds in quadrature).
    Per-quarter rows with gaps are kept as they are.  Shares keep only their latest row.
    """
    groups: dict[tuple, list[Observation]] = {}
    for row in observations.rows:
        groups.setdefault((SERIES[row.series].base, row.cohort, SERIES[row.series].kind == "share"), []).append(row)
    out: list[Observation] = []
    for (base, cohort, share), rows in groups.items():
        if share:
            out.append(max(rows, key=lambda r: (r.month_end, SERIES[r.series].to_date)))
            continue
        totals = {r.month_end: r for r in rows if SERIES[r.series].to_date}
        per_quarter = sorted((r for r in rows if not SERIES[r.series].to_date), key=lambda r: r.quarter)
        if per_quarter and [r.quarter for r in per_quarter] == list(range(len(per_quarter))):
            value, variance, known = 0.0, 0.0, True
            for r in per_quarter:
                value += r.value
                known &= r.sd is not None
                variance += (r.sd or 0.0) ** 2
                totals.setdefault(r.month_end, Observation(
                    r.line, f"{base}_to_date", r.month_end, cohort, value, float(np.sqrt(variance)) if known else None,
                    f"sum of lines {per_quarter[0].line}-{r.line}"))
        else:
            out.extend(per_quarter)
        latest = max(totals, default=None)
        out.extend(row for month, row in sorted(totals.items())
                   if month == latest or month % (MONTHS_PER_QUARTER * every) == 0)
    return Observations(tuple(sorted(out, key=lambda r: (r.month_end, r.line))), observations.file)
