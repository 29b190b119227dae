"""Sweep results as a table, heatmaps or lines per metric, and files."""

from __future__ import annotations

from typing import Any

import numpy as np

from simsib.analysis.estimates import Metric
from simsib.analysis.sweep import SweepResult
from simsib.report.formatting import FORMATS, standard_error
from simsib.run.outputs import write_analysis


def markdown_table(result: SweepResult) -> str:
    """The sweep as a Markdown table: swept keys, then each metric as ``value ± se``."""
    keys = [g.key for g in result.grids]
    head = keys + [m.label for m in result.metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(keys) + ["---:"] * len(result.metrics)) + "|"]
    for _, row in result.table.iterrows():
        cells = [show_value(row[k]) for k in keys]
        for m in result.metrics:
            fmt = FORMATS[m.unit]
            cells.append(f"{fmt(row[m.name])} ± {standard_error(row[m.name + '_se'], m.unit)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def show_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1000 else f"{value:.6g}"
    return str(value)


# Metrics that are better when lower (the investors' chances of a loss, the council's payments
# and deadweight); every other metric is better when higher.  Heatmaps shade "better" darker.
BETTER_LOWER = {"prob_loss", "prob_total_loss", "prob_pays_more_than_saved", "deadweight_share", "outcome_payments",
                "care_proportion_treated", "prob_cap_reached", "deadweight_paid", "deadweight_share_of_payments",
                "unfunded_costs", "payments_without_effect", "prob_moic_below_half", "prob_service_stopped_early"}


def key_value(key: str, value: Any) -> str:
    """A swept value in the key's unit: ``£7.20m``, ``£180/day``, ``30%``, or as written."""
    from simsib.report.formatting import money, percent
    from simsib.scenario.evidence import unit

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    found = unit(key)
    if found == "£":
        return money(value)
    if found in ("£ a day", "£ a week", "£ a quarter"):
        return f"£{value:,.0f}/{found.rsplit(' ', 1)[-1]}"
    if found == "share":
        return percent(value, 0 if float(100 * value).is_integer() else 1)
    return show_value(value)


def axis_label(key: str) -> str:
    from simsib.scenario.evidence import label, unit

    found = unit(key)
    return f"{label(key, short=True)} ({found})" if found and found not in ("share", "count") else label(key, short=True)


def plot_metric(result: SweepResult, metric: Metric, ax) -> None:
    """One metric on ``ax``: a line with ±1.96 se bars over one key, or a heatmap over two, in
    the reports' style (plain labels, values in their units, darker = better for every metric).

    Computes nothing; ``ax`` is a matplotlib Axes.
    """
    from simsib.report.figures import PRIMARY, _format_axis

    table, keys = result.table, [g.key for g in result.grids]
    fmt = FORMATS[metric.unit]
    if len(keys) == 1:
        values = list(table[keys[0]])
        numeric = all(isinstance(v, (int, float)) for v in values)
        x = values if numeric else list(range(len(values)))
        ax.errorbar(x, table[metric.name], yerr=1.96 * table[metric.name + "_se"], marker="o", capsize=3,
                    color=PRIMARY)
        ax.set_xticks(x, [key_value(keys[0], v) for v in values], rotation=30 if len(values) > 6 else 0)
        ax.set_xlabel(axis_label(keys[0]))
        ax.set_ylabel(f"{metric.label} (± 1.96 se)")
        if metric.unit in ("money", "percent", "multiple"):
            _format_axis(ax.yaxis, metric.unit)
    elif len(keys) == 2:
        rows, cols = result.grids[0].values, result.grids[1].values
        grid = table[metric.name].to_numpy(dtype=float).reshape(len(rows), len(cols))
        lower = metric.name in BETTER_LOWER
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="Blues_r" if lower else "Blues")
        ax.set_xticks(range(len(cols)), [key_value(keys[1], v) for v in cols], rotation=45, ha="right")
        ax.set_yticks(range(len(rows)), [key_value(keys[0], v) for v in rows])
        ax.set_xlabel(axis_label(keys[1]))
        ax.set_ylabel(axis_label(keys[0]))
        ax.grid(False)
        span = np.nanmax(grid) - np.nanmin(grid) if np.isfinite(grid).any() else 0.0
        for i in range(len(rows)):
            for j in range(len(cols)):
                dark = span > 0 and ((grid[i, j] > np.nanmin(grid) + 0.5 * span) != lower)
                ax.text(j, i, fmt(grid[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
        bar = ax.figure.colorbar(image, ax=ax, label=f"{metric.label} (darker = better)")
        if metric.unit in ("money", "percent", "multiple"):
            _format_axis(bar.ax.yaxis, metric.unit)
    else:
        raise ValueError("a sweep figure shows one or two swept keys")
    ax.set_title(f"{metric.label} · {result.header['scenario']} · {result.header['draws']:,} draws a point")


def write_sweep(result: SweepResult, out_dir) -> list[str]:
    """Write sweep.csv, sweep.md, sweep.json and a figure per metric (one or two keys) into
    ``out_dir`` (created); returns the file names written."""
    from matplotlib.figure import Figure

    from simsib.report.figures import style

    figures = {}
    if len(result.grids) <= 2:
        for metric in result.metrics:
            with style():
                figure = Figure(figsize=(7, 5), layout="constrained")
                plot_metric(result, metric, figure.add_subplot())
            figures[f"sweep_{metric.name}.png"] = figure
    return write_analysis(out_dir, "sweep", result.table, markdown_table(result), result.header, figures)
