"""The investors' bad case, graded, as a report table; and the sensitivity table in plain words.

The bad case starts from the median IRR (the mean is dragged down by the −100% of each total
loss) with the mean and the share of total losses beside it.  When total losses are common
(P(total loss) above :data:`simsib.report.headlines.BAD_CASE_TOTAL_LOSS`) the 5th percentile
and the worst-5% average are both 0× and say nothing more; the 10th and 25th percentiles, the
chance of losing over half and the worst-10% and worst-25% averages grade it.  Every figure
with its Monte Carlo standard error, from ``summary.json``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simsib.report.formatting import multiple, percent, standard_error
from simsib.report.headlines import BAD_CASE_TOTAL_LOSS, stat_at

HEADER = ["figure", "value", "± se"]


def _row(label: str, stats: dict | None, kind: str, key: str = "value") -> list[str] | None:
    if not stats or stats.get(key) is None:
        return None
    fmt = multiple if kind == "multiple" else percent
    return [label, fmt(stats[key]), standard_error(stats.get("se"), "multiple" if kind == "multiple" else "percent")]


def bad_case_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Rows ``[figure, value, ± se]`` of the graded bad case the run has."""
    inv = lambda key: stat_at(summary, "investor", key)  # noqa: E731
    total = (inv("prob_total_loss") or {}).get("value")
    rows = [
        _row("Median IRR (annual): the headline", inv("irr_median"), "percent"),
        _row("Mean IRR (annual), over draws where defined", inv("irr"), "percent", key="mean"),
        _row("Share of draws with a total loss (MOIC on drawn < 0.1×)", inv("prob_total_loss"), "percent"),
        _row("P(loss): MOIC on drawn capital < 1×", inv("prob_loss"), "percent"),
        _row("Expected shortfall: mean MOIC on committed of the worst 5% of draws", inv("es05"), "multiple"),
    ]
    if total is not None and total > BAD_CASE_TOTAL_LOSS:
        rows += [
            _row("MOIC on committed capital, 10th percentile", inv("moic_p10"), "multiple"),
            _row("MOIC on committed capital, 25th percentile", inv("moic_p25"), "multiple"),
            _row("P(MOIC on drawn capital < 0.5×)", inv("prob_moic_below_half"), "percent"),
            _row("Expected shortfall: mean MOIC on committed of the worst 10%", inv("es10"), "multiple"),
            _row("Expected shortfall: mean MOIC on committed of the worst 25%", inv("es25"), "multiple"),
        ]
    reference = inv("prob_reference")
    if reference:
        rows.append(_row(f"P(MOIC on committed ≥ the reference {multiple(reference['reference'])})", reference,
                         "percent"))
    return [r for r in rows if r]


def bad_case_table(summary: dict[str, Any]) -> dict[str, Any] | None:
    rows = bad_case_rows(summary)
    if not rows:
        return None
    total = (stat_at(summary, "investor", "prob_total_loss") or {}).get("value")
    graded = total is not None and total > BAD_CASE_TOTAL_LOSS
    lead = ("Total losses are common here, so the 5th percentile and the worst-5% average are both near 0×; "
            "the 10th and 25th percentiles and the worst-10% and worst-25% averages grade the bad case."
            if graded else f"P(total loss) is {percent(total)}, at most {percent(BAD_CASE_TOTAL_LOSS, 0)}: "
            "the worst-5% average grades the bad case.") if total is not None else ""
    return {"title": "The investors' bad case, graded", "lead": lead, "header": HEADER, "rows": rows}


# --- the sensitivity table (simsib sensitivity's sensitivity.csv) in plain words ---------------


def sensitivity_table(table: pd.DataFrame, kind: str = "multiple") -> dict[str, Any]:
    """``sensitivity.csv`` with plain labels and units, formatted numbers, widest swing first (the
    order of its tornado): input, unit, bottom- and top-decile means ± se, ρ, S1, ST."""
    from simsib.scenario.evidence import label, unit

    fmt = {"multiple": multiple, "percent": percent}.get(kind, lambda v: f"{v:,.3g}")

    def mean(value: float, se: float) -> str:
        return "–" if pd.isna(value) else f"{fmt(value)} ± {standard_error(se, kind)}"

    def index(value: Any, conf: Any) -> str:
        return "–" if value is None or pd.isna(value) else f"{value:.2f} ± {conf:.2f}"

    # Widest swing first, as the tornado (simsib.report.figures.tornado) lists them top down.
    swing = (table["high_mean"] - table["low_mean"]).abs()
    table = table.assign(_swing=swing).sort_values("_swing", ascending=False, kind="stable")
    rows = []
    for row in table.to_dict("records"):
        rho = row.get("rank_correlation", np.nan)
        rows.append([label(str(row["input"]), short=True), unit(str(row["input"])) or "",
                     mean(row.get("low_mean"), row.get("low_se")), mean(row.get("high_mean"), row.get("high_se")),
                     "–" if pd.isna(rho) else f"{rho:+.2f}".replace("-", "−"),
                     index(row.get("S1"), row.get("S1_conf")), index(row.get("ST"), row.get("ST_conf"))])
    return {"title": "Sensitivity (simsib sensitivity): tornado and Sobol indices",
            "lead": "Mean result when each input is in its bottom or top decile (± se), the rank correlation, and "
                    "the first-order (S1) and total (ST) Sobol indices with their confidence half-widths.",
            "header": ["input", "unit", "bottom decile", "top decile", "rank correlation", "S1", "ST"],
            "rows": rows}
