"""The run as an Excel workbook an analyst can use: ``results.xlsx``.

Sheets: ``headlines`` (as the report shows them), ``summary`` (every statistic), ``budget``
(outcome payments by financial year), ``quarterly`` (percentile bands, each quarter with its end
month and financial year), ``draws`` (one row per draw: the audit trail, cut at
:data:`MAX_DRAW_ROWS` rows with a note saying so), ``assumptions``, ``provenance``, and the
results of ``simsib commission``, ``sensitivity``, ``stress``, ``sweep``, ``compare-mechanisms``
and ``backtest`` when their CSV files are in the run folder.  Every sheet has a bold header row
frozen in place, and every number column a format: £, %, × or a count.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simsib.report import commission_section
from simsib.report.tables import DRAWS_FILE, assumption_rows, headline_rows, provenance_rows, read_run
from simsib.run.budget import quarter_years
from simsib.run.summary import flatten

XLSX_FILE = "results.xlsx"
MAX_DRAW_ROWS = 10_000  # the audit trail for Excel users; every draw is in draws.parquet. 100,000 rows took 113 s
FORMATS = {"multiple": '0.00"×"', "percent": "0.0%", "prob": "0.0%", "money": '"£"#,##0', "number": "#,##0",
           "decimal": "#,##0.000"}
# Results other commands write into a run folder: (CSV file, sheet name).
ANALYSES = (("sensitivity.csv", "sensitivity"), ("stress.csv", "stress"), ("sweep.csv", "sweep"),
            ("mechanisms.csv", "mechanisms"), ("backtest.csv", "backtest"))
_UNIT_KINDS = {"£": "money", "£ a day": "money", "£ a week": "money", "£ a quarter": "money", "×": "multiple",
               "share": "percent", "probability": "percent", "per year": "percent", "people": "number",
               "count": "number", "days": "number", "quarter": "number", "months": "number"}
SERIES_KINDS = {"starts": "number", "cumulative_starts": "number", "payments": "money", "investor_position": "money",
                "spv_cash": "money"}  # quarterly.csv's series (simsib.run.pipeline.QUARTERLY_SERIES)
_MONEY_WORDS = ("payment", "saving", "benefit", "capital", "cost", "paid", "distribution", "profit", "npv", "cap",
                "payout", "principal", "fees", "interest", "budget")
_SHARE_WORDS = ("prob", "share", "proportion", "irr", "reduction", "rate")
# Codes, flags and counts of quarters, which the words in their names would format as £ or %.
_CODES = {"irr_status", "cap_reached", "cap_quarter", "service_stopped_early", "replicate", "payback_quarter",
          "termination_quarter", "final_quarter", "terminated", "extended"}


def kind_of(name: str) -> str | None:
    """The number format of a column or metric name: its unit in ``labels.toml`` where it has
    one, else by the words in its name; None for text and codes."""
    from simsib.scenario.evidence import unit

    base = name.split(".")[-1] if name.startswith(("investor.", "council.", "outcomes.")) else name
    if base in _CODES:
        return None
    found = unit(base) or unit(name)
    if found in _UNIT_KINDS:
        return _UNIT_KINDS[found]
    lower = name.lower()
    if "moic" in lower or lower.startswith("es"):
        return "multiple"
    if any(w in lower for w in _SHARE_WORDS) or lower.startswith("p_"):
        return "percent"
    if any(w in lower for w in _MONEY_WORDS):
        return "money"
    return None


def quarterly_sheet(quarterly: pd.DataFrame, contract_start: str | None) -> pd.DataFrame:
    """The quarterly bands with each quarter's end month (``2013-06``) and financial year."""
    frame = quarterly.copy()
    quarters = frame["quarter"].astype(int).to_numpy()
    n = int(quarters.max()) + 1 if len(quarters) else 0
    labels, year = quarter_years(n, contract_start)
    frame.insert(1, "year", [labels[year[q]] for q in quarters] if n else [])
    if contract_start:
        y0, m0 = (int(p) for p in contract_start.split("-"))
        months = y0 * 12 + (m0 - 1) + 3 * quarters + 2
        frame.insert(2, "quarter_ends", [f"{m // 12}-{m % 12 + 1:02d}" for m in months])
    return frame


def draws_sheet(run_dir: Path, total: int) -> tuple[pd.DataFrame, str]:
    """The first :data:`MAX_DRAW_ROWS` draws, and the note that says where the sheet is cut."""
    import pyarrow.parquet as pq

    batches = pq.ParquetFile(run_dir / DRAWS_FILE).iter_batches(batch_size=MAX_DRAW_ROWS)
    frame = next(batches).to_pandas()
    if "draw" not in frame.columns:
        frame.insert(0, "draw", np.arange(len(frame)))
    if total > len(frame):
        note = (f"Only the first {len(frame):,} of {total:,} draws are in this sheet; all of them are in "
                f"{DRAWS_FILE} in the run folder.")
    else:
        note = f"All {total:,} draws, one per row, in draw order."
    return frame, note


def _style(sheet, frame: pd.DataFrame, kinds: dict[str, str | None], first_row: int = 2) -> None:
    """Bold frozen header, column widths and a number format per column."""
    from openpyxl.styles import Font

    bold = Font(bold=True)
    for cell in sheet[first_row - 1]:
        cell.font = bold
    sheet.freeze_panes = sheet.cell(row=first_row, column=1).coordinate
    for j, name in enumerate(frame.columns, start=1):
        letter = sheet.cell(row=1, column=j).column_letter
        sample = max((len(str(v)) for v in frame[name].head(200)), default=0)
        sheet.column_dimensions[letter].width = min(max(10, len(str(name)) + 2, sample + 2), 60)
        fmt = FORMATS.get(kinds.get(name) or "")
        if fmt is None and pd.api.types.is_float_dtype(frame[name]):
            fmt = FORMATS["decimal"]
        if fmt is None:
            continue
        for row in sheet.iter_rows(min_row=first_row, max_row=first_row + len(frame) - 1, min_col=j, max_col=j):
            row[0].number_format = fmt


def _metric_formats(sheet, frame: pd.DataFrame, kinds: list[str | None], columns: tuple[str, ...]) -> None:
    """Per-row formats: each row's statistics in its own metric's unit."""
    for i, kind in enumerate(kinds, start=2):
        fmt = FORMATS.get(kind or "", FORMATS["decimal"])
        for name in columns:
            if name in frame.columns:
                sheet.cell(row=i, column=list(frame.columns).index(name) + 1).number_format = fmt


def write_xlsx(run_dir: Path, path: Path) -> Path:
    """Write the run's tables as an Excel workbook at ``path`` (replaced whole); return ``path``."""
    run = read_run(Path(run_dir))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = run.summary
    rows = headline_rows(s)
    headlines = pd.DataFrame([{k: r[k] for k in ("label", "mean", "se", "p05", "p50", "p95", "metric")}
                              for r in rows])
    summary = pd.DataFrame(flatten(s))
    budget = pd.DataFrame(s.get("council", {}).get("payments_by_year") or [])
    draws, note = draws_sheet(run.path, int(s.get("draws") or 0))
    sheets: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {
        "headlines": (headlines, {}),
        "summary": (summary, {"n": "number"}),
        "budget": (budget, {c: "money" for c in ("mean", "se", "p05", "p50", "p95")} | {"n": "number"}),
        "quarterly": (quarterly_sheet(run.quarterly, run.scenario.meta.contract_start),
                      {"quarter": "number", "month_end": "number", "n": "number"}),
        "draws": (draws, {c: kind_of(c) for c in draws.columns} | {"draw": "number"}),
        "assumptions": (pd.DataFrame(assumption_rows(run.scenario, run.raw_scenario)), {}),
        # The scenario's caveats first: a reader of the workbook alone must see them too.
        "provenance": (pd.DataFrame([("Caveat", c) for c in s.get("caveats", ())] + provenance_rows(run),
                                    columns=["item", "value"]), {}),
    }
    if budget.empty:
        del sheets["budget"]
    commissioning = commission_section.workbook_sheet(run.path)
    if commissioning is not None:
        sheets["commissioning"] = (commissioning, {c: kind_of(c) for c in commissioning.columns})
    for file, name in ANALYSES:
        if (run.path / file).is_file():
            frame = pd.read_csv(run.path / file)
            sheets[name] = (frame, {c: kind_of(c) for c in frame.columns})
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.xlsx")
    try:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, (frame, kinds) in sheets.items():
                first = 3 if name == "draws" else 2  # the draws sheet opens with its note
                frame.to_excel(writer, sheet_name=name, index=False, startrow=first - 2)
                sheet = writer.sheets[name]
                if name == "draws":
                    sheet.cell(row=1, column=1, value=note)
                _style(sheet, frame, kinds, first)
            _metric_formats(writer.sheets["headlines"], headlines, [r["kind"] for r in rows],
                            ("mean", "se", "p05", "p50", "p95"))
            _metric_formats(writer.sheets["summary"], summary, [kind_of(m) for m in summary["metric"]],
                            ("mean", "se", "p05", "p25", "p50", "p75", "p95", "value", "var"))
            quarterly = sheets["quarterly"][0]
            _metric_formats(writer.sheets["quarterly"], quarterly,
                            [SERIES_KINDS.get(series) for series in quarterly["series"]],
                            ("mean", "p05", "p25", "p50", "p75", "p95"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
