"""Stress-test results as a table and files."""

from __future__ import annotations

import numpy as np

from simsib.analysis.stress import StressResult
from simsib.report.formatting import FORMATS, standard_error
from simsib.run.outputs import write_analysis


def markdown_table(result: StressResult) -> str:
    """Figures down, cases across: the base value, then each case's change ± paired se."""

    table = result.table
    names = [c.name for c in result.cases]
    lines = [
        "| figure | base | " + " | ".join(f"Δ {n}" for n in names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for metric in dict.fromkeys(table["metric"]):
        rows = table[table["metric"] == metric].set_index("case")
        first = rows.iloc[0]
        fmt = FORMATS[first["unit"]]
        unit = first["unit"]
        cells = [first["label"], f"{fmt(first['base'])} ± {standard_error(first['base_se'], unit)}"]
        cells += [signed(fmt, rows.loc[n, "change"]) + f" ± {standard_error(rows.loc[n, 'change_se'], unit)}"
                  for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- **{c.name}**: {c.description or '(no description)'} — "
              + ", ".join(f"`{k}` = {v!r}" for k, v in c.overrides.items()) for c in result.cases]
    return "\n".join(lines) + "\n"


def signed(fmt, value: float) -> str:
    text = fmt(value)
    return text if np.isnan(value) or value < 0 else "+" + text


def write_stress(result: StressResult, out_dir) -> list[str]:
    """Write stress.csv, stress.md and stress.json into ``out_dir``."""

    return write_analysis(out_dir, "stress", result.table, markdown_table(result), result.header)
