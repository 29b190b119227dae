"""Sensitivity results as a table, a tornado figure, and files."""

from __future__ import annotations

import numpy as np

from simsib.analysis.sensitivity import SensitivityResult
from simsib.report.formatting import FORMATS, standard_error
from simsib.run.outputs import write_analysis


def markdown_table(result: SensitivityResult) -> str:
    """The ranked table in Markdown."""

    fmt, unit = FORMATS[result.metric.unit], result.metric.unit
    lines = [
        f"Sensitivity of {result.metric.label} ({result.metric.name}; overall {fmt(result.overall[0])} "
        f"± {fmt(result.overall[1])}), {result.header['draws']:,} draws; Sobol from "
        f"{result.header['sobol_model_runs']:,} model runs.\n",
        "| rank | input | bottom decile | top decile | Spearman ρ | S1 | ST |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for rank, row in enumerate(result.table.itertuples(index=False), start=1):
        lines.append(
            f"| {rank} | {row.input} | {fmt(row.low_mean)} ± {standard_error(row.low_se, unit)} | "
            f"{fmt(row.high_mean)} ± {standard_error(row.high_se, unit)} | {row.rank_correlation:+.2f} | "
            f"{format_index(row.S1, row.S1_conf)} | "
            f"{format_index(row.ST, row.ST_conf)} |"
        )
    return "\n".join(lines) + "\n"


def format_index(value: float, conf: float) -> str:
    return "–" if np.isnan(value) else f"{value:.3f} ± {conf:.3f}"


def plot_tornado(result: SensitivityResult, ax) -> None:
    """Tornado on ``ax`` in the reports' style: per input (plain label), bars from the overall
    mean to the bottom-decile (orange) and top-decile (blue) means, ±1.96 se, side by side, the
    most influential input on top, the axis in the metric's unit.  Computes nothing."""
    from simsib.report.figures import PALETTE, PRIMARY, SECONDARY, _format_axis, _legend_below
    from simsib.scenario.evidence import label

    table = result.table.iloc[::-1]
    centre = result.overall[0]
    y = np.arange(len(table))
    for column, colour, offset, text in (("low_mean", SECONDARY, 0.19, "Input in bottom decile"),
                                         ("high_mean", PRIMARY, -0.19, "Input in top decile")):
        se = table[column.replace("mean", "se")]
        ax.barh(y + offset, table[column] - centre, left=centre, color=colour, height=0.38, label=text,
                xerr=1.96 * se, error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": PALETTE["black"]})
    ax.axvline(centre, color=PALETTE["black"], linewidth=1.0)
    ax.set_yticks(y, [label(str(key), short=True) for key in table["input"]])
    ax.grid(axis="y", visible=False)
    if result.metric.unit in ("money", "percent", "multiple"):
        _format_axis(ax.xaxis, result.metric.unit)
    ax.set_xlabel(f"Mean {result.metric.label} (± 1.96 se)")
    ax.set_ylabel("Uncertain input")
    ax.set_title(f"What drives the result: tornado · {result.header['scenario']}")
    _legend_below(ax)


def write_sensitivity(result: SensitivityResult, out_dir) -> list[str]:
    """Write sensitivity.csv, sensitivity.md, sensitivity.json and tornado.png into ``out_dir``."""
    from matplotlib.figure import Figure

    from simsib.report.figures import style

    with style():
        figure = Figure(figsize=(8, 0.5 * len(result.table) + 2.2), layout="constrained")
        plot_tornado(result, figure.add_subplot())
    return write_analysis(out_dir, "sensitivity", result.table, markdown_table(result), result.header,
                          {"tornado.png": figure})
