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


def plot_metric(result: SweepResult, metric: Metric, ax) -> None:
    """One metric on ``ax``: a line with ±1.96 se bars over one key, or a heatmap over two.

    Computes nothing; ``ax`` is a matplotlib Axes.
    """
    table, keys = result.table, [g.key for g in result.grids]
    fmt = FORMATS[metric.unit]
    if len(keys) == 1:
        x = [_numeric(v) for v in table[keys[0]]]
        ax.errorbar(x, table[metric.name], yerr=1.96 * table[metric.name + "_se"], marker="o", capsize=3)
        ax.set_xlabel(keys[0])
        ax.set_ylabel(metric.label)
        ax.grid(alpha=0.3)
    elif len(keys) == 2:
        rows, cols = result.grids[0].values, result.grids[1].values
        grid = table[metric.name].to_numpy(dtype=float).reshape(len(rows), len(cols))
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(cols)), [show_value(v) for v in cols], rotation=45, ha="right")
        ax.set_yticks(range(len(rows)), [show_value(v) for v in rows])
        ax.set_xlabel(keys[1])
        ax.set_ylabel(keys[0])
        span = np.nanmax(grid) - np.nanmin(grid) if np.isfinite(grid).any() else 0.0
        for i in range(len(rows)):
            for j in range(len(cols)):
                light = span > 0 and grid[i, j] < np.nanmin(grid) + 0.5 * span
                ax.text(j, i, fmt(grid[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if light else "black")
        ax.figure.colorbar(image, ax=ax, label=metric.label)
    else:
        raise ValueError("a sweep figure shows one or two swept keys")
    ax.set_title(f"{metric.label} · {result.header['scenario']} · {result.header['draws']:,} draws a point")


def _numeric(value: Any) -> Any:
    return value if isinstance(value, (int, float)) else str(value)


def write_sweep(result: SweepResult, out_dir) -> list[str]:
    """Write sweep.csv, sweep.md, sweep.json and a figure per metric (one or two keys) into
    ``out_dir`` (created); returns the file names written."""
    from matplotlib.figure import Figure


    figures = {}
    if len(result.grids) <= 2:
        for metric in result.metrics:
            figure = Figure(figsize=(7, 5), layout="constrained")
            plot_metric(result, metric, figure.add_subplot())
            figures[f"sweep_{metric.name}.png"] = figure
    return write_analysis(out_dir, "sweep", result.table, markdown_table(result), result.header, figures)
