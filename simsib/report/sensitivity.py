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
    """Tornado on ``ax``: per input, bars from the overall mean to the bottom- and top-decile
    means (±1.96 se), the most influential input on top.  Computes nothing."""
    table = result.table.iloc[::-1]
    centre = result.overall[0]
    y = np.arange(len(table))
    for column, colour, label in (("low_mean", "tab:blue", "input in bottom decile"),
                                  ("high_mean", "tab:orange", "input in top decile")):
        se = table[column.replace("mean", "se")]
        ax.barh(y, table[column] - centre, left=centre, color=colour, alpha=0.8, label=label,
                xerr=1.96 * se, error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.axvline(centre, color="black", linewidth=0.8)
    ax.set_yticks(y, table["input"])
    ax.set_xlabel(f"{result.metric.label} (mean over draws)")
    ax.set_ylabel("uncertain input")
    ax.set_title(f"What {result.metric.name} hinges on · {result.header['scenario']}")
    ax.legend(loc="lower right", fontsize=8)


def write_sensitivity(result: SensitivityResult, out_dir) -> list[str]:
    """Write sensitivity.csv, sensitivity.md, sensitivity.json and tornado.png into ``out_dir``."""
    from matplotlib.figure import Figure


    figure = Figure(figsize=(8, 0.45 * len(result.table) + 1.8), layout="constrained")
    plot_tornado(result, figure.add_subplot())
    return write_analysis(out_dir, "sensitivity", result.table, markdown_table(result), result.header,
                          {"tornado.png": figure})
