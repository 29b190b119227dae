"""The council's budget view: outcome payments by financial year, with their spread over draws.

A council budgets by financial year, which in England runs April to March.  With
``meta.contract_start`` (the calendar month of contract month 0; Essex: ``2013-04``) each
quarter's payments are counted in the financial year in which the quarter ends; without it, in
contract years (quarters 0–3 are year 1).  Per year the table gives the mean and the 5th, 50th
and 95th percentiles over draws of that year's payments -- percentiles of yearly totals, so the
years' medians need not add up to the median total.
"""

from __future__ import annotations

import numpy as np

FINANCIAL_YEAR_FIRST_MONTH = 4  # April: the financial year of English councils
YEAR_PERCENTILES = (5, 50, 95)


def quarter_years(n_quarters: int, contract_start: str | None = None) -> tuple[list[str], np.ndarray]:
    """Labels of the years a contract spans, and the year of each quarter.

    Parameters
    ----------
    n_quarters : quarters from contract start
    contract_start : ``"YYYY-MM"``, the calendar month of contract month 0, or None

    Returns
    -------
    labels : one per year, ``"2013/14"`` (financial years) or ``"year 1"`` (contract years)
    year : (n_quarters,) int, the index into ``labels`` of each quarter's year

    Examples
    --------
    >>> quarter_years(6, "2013-04")
    (['2013/14', '2014/15'], array([0, 0, 0, 0, 1, 1]))
    >>> quarter_years(3, "2013-01")[0]
    ['2012/13', '2013/14']
    """
    quarters = np.arange(n_quarters)
    if contract_start is None:
        year = quarters // 4
        return [f"year {k + 1}" for k in range(int(year.max()) + 1 if n_quarters else 0)], year
    start_year, start_month = (int(part) for part in contract_start.split("-"))
    # Calendar month (0 = January of year 0) of each quarter's last month: contract months 3q + 2.
    last_month = start_year * 12 + (start_month - 1) + 3 * quarters + 2
    calendar_year, month = np.divmod(last_month, 12)
    financial_year = calendar_year - (month + 1 < FINANCIAL_YEAR_FIRST_MONTH)
    first = int(financial_year.min()) if n_quarters else start_year
    labels = [f"{y}/{(y + 1) % 100:02d}" for y in range(first, int(financial_year.max()) + 1)] if n_quarters else []
    return labels, financial_year - first


def payments_by_year(payments: np.ndarray, contract_start: str | None = None) -> list[dict]:
    """Per year: the mean and percentiles over draws of the outcome payments made in it.

    Parameters
    ----------
    payments : (n_draws, n_quarters) £ outcome payments received in each quarter
    contract_start : see :func:`quarter_years`

    Returns
    -------
    One row per year up to the last with any payment: ``{"year", "mean", "p05", "p50", "p95"}``
    in £, then a row ``"total"`` over the whole contract.
    """
    payments = np.asarray(payments, dtype=float)
    labels, year = quarter_years(payments.shape[1], contract_start)
    by_year = np.zeros((payments.shape[0], len(labels)))
    for k in range(len(labels)):
        by_year[:, k] = payments[:, year == k].sum(axis=1)
    paid = np.flatnonzero(by_year.max(axis=0, initial=0.0) > 0)
    last = int(paid[-1]) + 1 if paid.size else 0
    columns = np.column_stack([by_year[:, :last], payments.sum(axis=1)])
    pct = np.percentile(columns, YEAR_PERCENTILES, axis=0) if columns.shape[0] else np.zeros((3, last + 1))
    return [
        {"year": name, "mean": float(columns[:, k].mean()) if columns.shape[0] else 0.0,
         **{f"p{p:02d}": float(pct[i, k]) for i, p in enumerate(YEAR_PERCENTILES)}}
        for k, name in enumerate([*labels[:last], "total"])
    ]
