"""The commissioning comparison's figures, and its section of a run's report and workbook.

``simsib commission SCENARIO --out RUN_DIR`` adds ``commission.json`` (every table, both
horizons), ``commission.csv`` and ``commission_draws.parquet`` (each option's per-draw figures)
to a run folder; ``simsib report RUN_DIR`` then renders this section from those files alone
(:func:`section_context`, :func:`figure_parts`), and ``--xlsx`` adds a ``commissioning`` sheet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from simsib.report import figures
from simsib.report.commission import (
    CASH_HEADER,
    COMMISSION_STEM,
    DRAWS_FILE,
    FIGURE_FILES,
    OPTION_HEADER,
    OPTION_LABELS,
    cash_rows,
    commission_markdown,
    intro,
    md_table,
    option_rows,
    parts_rows,
    verdict_lines,
)
from simsib.report.figures import _edges, _format_axis, _histogram, _legend_below

OPTION_STYLE = {  # colour, filled, line style: SIB filled, the others outlined, do nothing a line at 0
    "sib": (figures.PRIMARY, True, "-"),
    "direct": (figures.SECONDARY, False, "-"),
    "pbr": (figures.PALETTE["green"], False, "--"),
}


def net_benefit_distributions(draws: Mapping[str, np.ndarray], horizon: str, *, ax):
    """The council's net benefit (PV) under the SIB, direct commissioning and PbR, overlaid on shared
    bins (share of draws), each mean marked; doing nothing is the line at zero.  Computes nothing."""
    values = {o: np.asarray(draws[f"{o}.net_benefit_{horizon}_pv"], dtype=float) for o in OPTION_STYLE}
    edges = _edges(np.concatenate(list(values.values())), (0.0,))
    for option, (colour, filled, line) in OPTION_STYLE.items():
        _histogram(ax, values[option], edges, colour, label=OPTION_LABELS[option], filled=filled)
        ax.axvline(float(values[option].mean()), color=colour, linestyle=line, linewidth=1.4)
    ax.axvline(0.0, label=OPTION_LABELS["do_nothing"] + " (net benefit 0)", **figures.BREAK_EVEN_STYLE)
    _format_axis(ax.xaxis, "money")
    ax.set_xlabel("Council's net benefit against doing nothing, present value (£m); vertical lines: means")
    ax.set_ylabel("Share of draws")
    _legend_below(ax)
    return ax


def cash_positions(cash_position: Mapping[str, np.ndarray], horizon: str, *, ax):
    """The council's mean cumulative net outlay (outlays less care avoided so far) by quarter."""
    for option, (colour, _, line) in OPTION_STYLE.items():
        outlay = -np.asarray(cash_position[f"{option}.{horizon}"], dtype=float)
        years = (np.arange(outlay.size) + 1) / 4.0
        ax.plot(years, outlay, color=colour, linestyle=line, linewidth=2.0, label=OPTION_LABELS[option])
    ax.axhline(0.0, label=OPTION_LABELS["do_nothing"], **figures.BREAK_EVEN_STYLE)
    _format_axis(ax.yaxis, "money")
    ax.set_xlabel("Years from contract start")
    ax.set_ylabel("Mean cumulative net outlay (£m)")
    _legend_below(ax)
    return ax


def commission_figures(draws: Mapping[str, np.ndarray], cash_position: Mapping[str, np.ndarray], horizon: str) -> list:
    """The two figures as matplotlib ``Figure``s: net-benefit distributions and the cash profile."""
    out = []
    for draw in (lambda ax: net_benefit_distributions(draws, horizon, ax=ax),
                 lambda ax: cash_positions(cash_position, horizon, ax=ax)):
        with figures.style():
            figure, ax = figures.new_axes(7.0, 4.2)
            draw(ax)
        out.append(figure)
    return out


# --- the run report's section ---------------------------------------------------------------


def read_commission(run_dir: Path) -> dict[str, Any] | None:
    """``commission.json`` of a run folder, or None when the comparison has not been run into it."""
    path = Path(run_dir) / f"{COMMISSION_STEM}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def section_context(run_dir: Path) -> dict[str, Any] | None:
    """The report's commissioning section: intro, tables (header, rows) and findings; None without
    a comparison in the folder."""
    found = read_commission(run_dir)
    if found is None:
        return None
    header = found["header"]
    tables = found["horizons"][header.get("horizon", "to_18")]
    return {
        "intro": intro(header),
        "tables": [
            {"title": "The council's options", "header": OPTION_HEADER, "rows": option_rows(tables)},
            {"title": "Cash: what the council pays and when it needs the money", "header": CASH_HEADER,
             "rows": cash_rows(tables)},
            {"title": "The SIB's extra cost over direct commissioning (cash, mean ± paired se)",
             "header": ["part", "£"], "rows": parts_rows(tables)},
        ],
        "findings": verdict_lines(tables, header),
    }


def markdown_lines(context: dict[str, Any]) -> list[str]:
    """The section's text in Markdown (its figures are added by the report like any other)."""
    out = [context["intro"], ""]
    for table in context["tables"]:
        out += [f"**{table['title']}**", "", md_table(table["header"], table["rows"]), ""]
    return out + [f"- {line}" for line in context["findings"]] + [""]


def figure_parts(run_dir: Path) -> list[dict[str, Any]]:
    """Keyword arguments of the report's commissioning figures (``name``, ``section``, ``title``,
    ``caption``, ``draw``), read from the folder's files; none without a comparison."""
    found = read_commission(run_dir)
    if found is None or not (Path(run_dir) / DRAWS_FILE).is_file():
        return []
    import pyarrow.parquet as pq

    header = found["header"]
    horizon = header.get("horizon", "to_18")
    columns = [f"{o}.net_benefit_{horizon}_pv" for o in OPTION_STYLE]
    table = pq.read_table(Path(run_dir) / DRAWS_FILE, columns=columns)
    draws = {c: table.column(c).to_numpy() for c in columns}
    positions = {k: np.asarray(v) for k, v in found["cash_position"].items()}
    return [
        {"name": "commission_net_benefit", "section": "commission", "title": "The council's net benefit under each option",
         "caption": f"{header['draws']:,} draws on common random numbers, seed {header['seed_entropy']}; net benefit "
                    "against doing nothing, present value.",
         "draw": lambda ax: net_benefit_distributions(draws, horizon, ax=ax)},
        {"name": "commission_cash", "section": "commission", "title": "When the council needs the money",
         "caption": "Mean cumulative outlays less care avoided so far, £ at each quarter's prices (not discounted).",
         "draw": lambda ax: cash_positions(positions, horizon, ax=ax)},
    ]


def workbook_sheet(run_dir: Path):
    """The ``commissioning`` sheet (``commission.csv``) as a DataFrame, or None."""
    path = Path(run_dir) / f"{COMMISSION_STEM}.csv"
    if not path.is_file():
        return None
    import pandas as pd

    return pd.read_csv(path)


# --- files ------------------------------------------------------------------------------------


def csv_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat record per horizon and option: every figure's mean, se and percentiles."""
    rows = []
    for horizon, tables in summary.items():
        for record in tables["options"]:
            flat: dict[str, Any] = {"horizon": horizon, "option": record["option"]}
            for key, value in record.items():
                if isinstance(value, dict):
                    flat.update({f"{key}_{k}": v for k, v in value.items()})
                elif key not in flat:
                    flat[key] = value
            rows.append(flat)
    return rows


def write_commission(result: Any, summary: dict[str, Any], folder: Path, horizon: str = "to_18") -> list[str]:
    """Write commission.csv (both horizons), commission.md and the figures (``horizon``), commission.json
    (the header with ``horizon``, every table of both horizons, the mean cash positions) and
    commission_draws.parquet (each option's per-draw figures) into ``folder``; return their names."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from simsib.run.outputs import write_analysis

    folder = Path(folder)
    header = {**result.header, "horizon": horizon}
    document = {"header": header, "horizons": summary,
                "cash_position": {k: [float(x) for x in v] for k, v in result.cash_position.items()}}
    markdown = f"# simsib commission: {header['scenario']}\n\n" + commission_markdown(header, summary[horizon]) + "\n"
    written = write_analysis(folder, COMMISSION_STEM, pd.DataFrame(csv_rows(summary)), markdown,
                             json.loads(json.dumps(document, default=_plain)),
                             dict(zip(FIGURE_FILES, commission_figures(result.draws, result.cash_position, horizon))))
    pq.write_table(pa.table({k: pa.array(v) for k, v in result.draws.items()}), folder / DRAWS_FILE)
    return written + [DRAWS_FILE]


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, for JSON."""
    return value.item() if hasattr(value, "item") else str(value)
