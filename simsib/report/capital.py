"""The capital structure in the report: each tranche side by side (a small table) and their
money multiples in one figure.  Computes nothing: the figures come from summary.json and the
per-draw columns ``moic_<tranche>``."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from matplotlib.axes import Axes

from simsib.report.figures import BREAK_EVEN_STYLE, CDF_POINTS, PALETTE, _format_axis, _legend_below
from simsib.report.formatting import money, multiple, number, percent
from simsib.report.headlines import tranche_rows

FORMATS = {"multiple": multiple, "percent": percent, "money": money, "number": number, "prob": percent}
COLOURS = (PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"], PALETTE["sky_blue"],
           PALETTE["vermillion"])


def tranche_table(summary: dict[str, Any]) -> dict[str, Any] | None:
    """``{"names": [...], "rows": [[label, cell per tranche], ...]}``: mean ± se (median) or a
    probability ± se per tranche; None without [[spv.tranches]]."""
    names, rows = tranche_rows(summary)
    if not names:
        return None
    cells = []
    for label, kind, stats in rows:
        f = FORMATS[kind]
        row = [label]
        for s in stats:
            if s is None or s.get("value", s.get("mean")) is None:
                row.append("")
            elif "value" in s:
                row.append(f"{f(s['value'])} ± {f(s['se'])}")
            else:
                row.append(f"{f(s['mean'])} ± {f(s['se'])} (median {f(s['p50'])})")
        cells.append(row)
    return {"names": names, "rows": cells}


def moic_by_tranche(moics: dict[str, Sequence[float]], *, ax: Axes) -> Axes:
    """Cumulative distribution of each tranche's money multiple on drawn capital: the height at
    1.0× is its chance of a loss, so the order of the stack is read off where the curves cross it."""
    probs = np.linspace(0.0, 1.0, CDF_POINTS)
    for (name, values), colour in zip(moics.items(), COLOURS * 3):
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            loss = float(np.mean(values < 1.0))
            ax.step(np.quantile(values, probs), probs, where="post", color=colour, linewidth=2.0,
                    label=f"{name}: P(loss) {100 * loss:.0f}%")
    ax.axvline(1.0, label="Money back 1.0×", **BREAK_EVEN_STYLE)
    ax.set_xlabel("MOIC on drawn capital (× capital drawn)")
    ax.set_ylabel("Share of draws with MOIC ≤ x")
    _format_axis(ax.xaxis, "multiple")
    _format_axis(ax.yaxis, "percent")
    ax.set_ylim(0.0, 1.02)
    ax.set_title("Investors: money multiple by tranche")
    _legend_below(ax)
    return ax
