"""The council's figures in the report: what it pays and when, against what it truly saves.

Tables from ``summary.json`` and the run's draws: contract against true savings side by side
(with the payments and the deadweight in them), whether the service runs out of capital, when
the cap binds (the share of draws reaching it in each financial year), and the payments by
financial year (``council.payments_by_year``) with a fan chart a budget holder can lift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from simsib.model.qmc import REPLICATE_COLUMN
from simsib.report.figures import PALETTE, PRIMARY, _format_axis, _legend_below
from simsib.report.formatting import money, percent, standard_error
from simsib.report.headlines import stat_at
from simsib.report.tables import RunFolder
from simsib.run.budget import quarter_years

# (label, section, key, kind): side by side, what the contract counts and what is truly saved.
SAVINGS_ROWS = (
    ("Savings as the contract counts them", "council", "contract_savings", "money"),
    ("True savings (care truly avoided)", "council", "true_savings", "money"),
    ("Outcome payments", "council", "outcome_payments", "money"),
    ("of which paid for deadweight", "council", "deadweight_paid", "money"),
    ("Council net benefit (true savings less payments and costs)", "council", "net_benefit", "money"),
    ("Service costs left unfunded", "outcomes", "unfunded_costs", "money"),
)


def _cells(stats: dict | None, kind: str = "money") -> list[str]:
    if not stats or stats.get("mean") is None:
        return ["–"] * 5
    fmt = money if kind == "money" else percent
    return [fmt(stats["mean"]), standard_error(stats.get("se"), kind), *(fmt(stats.get(p)) for p in ("p05", "p50", "p95"))]


def savings_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Rows ``[label, mean, ± se, p05, median, p95]`` of :data:`SAVINGS_ROWS` the run has."""
    return [[label, *_cells(stat_at(summary, section, key), kind)] for label, section, key, kind in SAVINGS_ROWS
            if stat_at(summary, section, key)]


def _prob(stats: dict | None) -> str:
    if not stats or stats.get("value") is None:
        return "–"
    return f"{percent(stats['value'])} ± {standard_error(stats.get('se'), 'percent')}"


def risk_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The council's chances: the cap, paying more than it saves, the service stopping early."""
    rows = [("P(payments reach the cap)", "council", "prob_cap_reached"),
            ("P(council pays more than it truly saves)", "council", "prob_pays_more_than_saved"),
            ("P(service stops early for lack of capital)", "outcomes", "prob_service_stopped_early"),
            ("Share of all payments that is deadweight", "council", "deadweight_share_of_payments")]
    return [[label, _prob(stat_at(summary, section, key))] for label, section, key in rows
            if stat_at(summary, section, key)]


def cap_timing(cap_quarter: np.ndarray, n_quarters: int, contract_start: str | None,
               groups: np.ndarray | None = None) -> list[list[str]]:
    """Per year: the share of draws in which payments reach the cap in that year, and by its end
    (± its standard error: binomial, or from replicates under QMC sampling, ``groups``).

    ``cap_quarter`` (n,): the quarter the cap was reached, NaN where it never was.  Years from
    the first to the last in which any draw reaches it.
    """
    from simsib.run.summary import standard_error as error

    quarter = np.asarray(cap_quarter, dtype=float)
    labels, year = quarter_years(n_quarters, contract_start)
    reached = ~np.isnan(quarter)
    if not reached.any():
        return []
    in_year = np.full(quarter.shape, -1)
    in_year[reached] = year[np.clip(quarter[reached].astype(int), 0, n_quarters - 1)]
    first, last = int(in_year[reached].min()), int(in_year.max())
    rows = []
    for k in range(first, last + 1):
        by_end = reached & (in_year <= k)
        se = error(by_end.astype(float), groups, probability=True)
        rows.append([labels[k], percent(float((in_year == k).mean())),
                     f"{percent(float(by_end.mean()))} ± {standard_error(se, 'percent')}"])
    return rows


def budget_rows(summary: dict[str, Any]) -> list[list[str]]:
    """``council.payments_by_year`` as rows ``[year, mean ± se, p05, median, p95]``."""
    return [[row["year"], f"{money(row['mean'])} ± {standard_error(row.get('se'), 'money')}",
             money(row["p05"]), money(row["p50"]), money(row["p95"])]
            for row in summary.get("council", {}).get("payments_by_year") or []]


def context(run: RunFolder) -> dict[str, Any]:
    s, sc = run.summary, run.scenario
    years = s.get("council", {}).get("payments_by_year") or []
    groups = run.column(REPLICATE_COLUMN) if s.get("standard_errors", {}).get("method") == "replicates" else None
    timing = cap_timing(run.column("cap_quarter"), sc.n_quarters, sc.meta.contract_start, groups) \
        if sc.contract.cap is not None else []
    sample = years[0]["n"] if years and years[0].get("n") else None
    return {
        "savings": savings_rows(s), "risks": risk_rows(s), "cap_timing": timing, "budget": budget_rows(s),
        "budget_years": "financial year (April to March)" if sc.meta.contract_start else "contract year",
        "budget_note": (f"From the first {sample:,} draws (the run's quarterly sample)."
                        if sample and sample < s.get("draws", sample) else ""),
    }


def figure_parts(run: RunFolder) -> list[dict[str, Any]]:
    years = [r for r in run.summary.get("council", {}).get("payments_by_year") or [] if r["year"] != "total"]
    if not years:
        return []
    kind = "financial year" if run.scenario.meta.contract_start else "contract year"
    return [{"name": "budget", "section": "council", "title": f"Outcome payments by {kind}",
             "caption": f"Outcome payments the council makes in each {kind}: median (line), mean (dots) and the "
                        "5th to 95th percentile of draws (band). Percentiles of each year's total, so the "
                        "years' medians need not add up to the median total.",
             "draw": lambda ax: budget_fan(years, ax=ax)}]


def budget_fan(years: list[dict[str, Any]], *, ax: Axes) -> Axes:
    """Per year the p05–p95 band, the median and the mean of outcome payments (£m)."""
    x = np.arange(len(years))
    ax.fill_between(x, [r["p05"] for r in years], [r["p95"] for r in years], color=PRIMARY, alpha=0.25,
                    linewidth=0, label="5th–95th percentile")
    ax.plot(x, [r["p50"] for r in years], color=PRIMARY, label="Median")
    ax.plot(x, [r["mean"] for r in years], linestyle="none", marker="o", color=PALETTE["black"], markersize=4,
            label="Mean")
    ax.set_xticks(x, [r["year"] for r in years], rotation=45 if len(years) > 8 else 0)
    ax.set_xlim(-0.3, len(years) - 0.7)
    # Headroom above the highest 95th percentile (the report's style has no y margin: the band's
    # top ran along the frame).
    low, high = min(0.0, min(r["p05"] for r in years)), max(r["p95"] for r in years)
    ax.set_ylim(low, high + 0.08 * (high - low or 1.0))
    _format_axis(ax.yaxis, "money")
    ax.set_ylabel("Outcome payments in the year")
    ax.set_title("Council budget: outcome payments by year")
    ax.grid(axis="x", visible=False)
    _legend_below(ax, ncol=3)
    return ax
