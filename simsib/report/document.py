"""Reports from a run folder: a self-contained HTML page, Markdown, figure files and a workbook.

:func:`write_report` reads a complete run folder (``summary.json``, ``draws.parquet``,
``quarterly.csv``, ``manifest.json``, ``scenario.toml``, and ``sensitivity.csv`` or the
commissioning comparison's files when another command has added them) and writes, into the run folder or ``out_dir``:

- ``index.html``: one file, figures embedded as base64 SVG, no network needed, printable;
- ``report.md``: the same tables, linking the figure files;
- ``figures/NAME.png`` and ``figures/NAME.svg``.

Everything is written to a hidden staging folder first and moved into place at the end, so an
interrupted report leaves the previous complete files (or none).  :func:`write_xlsx` writes the
headline, summary, quarterly, assumptions and provenance tables as an Excel workbook.

Per-draw columns are read one at a time (a 10-million-draw run needs one column in memory, not
the whole table; see :mod:`simsib.report.tables`); the scatter plot uses the first
:data:`SCATTER_DRAWS` draws.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from simsib.report import capital, commission_section, figures
from simsib.report.headlines import HEADLINES
from simsib.report.tables import (  # noqa: F401  (re-exported: the report's public surface)
    FORMATTERS,
    REQUIRED_FILES,
    SE_FORMATTERS,
    SENSITIVITY_FILE,
    RunFolder,
    assumption_rows,
    evidence_ids,
    headline_rows,
    payment_rows,
    provenance_rows,
    read_run,
)
from simsib.run.summary import flatten
from simsib.scenario.format import DaysSavedVsBaseline, Scenario

HTML_FILE = "index.html"
MARKDOWN_FILE = "report.md"
FIGURES_DIR = "figures"
XLSX_FILE = "results.xlsx"
SCATTER_DRAWS = 5_000
SECTIONS = ("headlines", "update", "investors", "council", "referrals", "outcomes", "sensitivity", "commission",
            "assumptions", "provenance")


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One drawn figure, ready to save: its file stem, report section, title and caption."""

    name: str
    section: str
    title: str
    caption: str
    draw: Callable[[Any], Any]  # draws on the given Axes
    size: tuple[float, float] = (7.0, 4.0)


def _value(quantity: Any) -> float | None:
    """A scenario quantity as one number to mark on a figure (its mean when uncertain)."""
    return None if quantity is None else float(quantity.mean())


def _stat(summary: dict, section: str, key: str, kind: str) -> str:
    stats = summary.get(section, {}).get(key) or {}
    central = stats.get("value", stats.get("mean"))
    return f"{FORMATTERS[kind](central)} ± {SE_FORMATTERS[kind](stats.get('se'))}" if central is not None else "–"


def plan_line(scenario: Scenario, last_month: float) -> tuple[list[float], list[float]] | None:
    """The planned cumulative starts: the target spread evenly over the service window."""
    r = scenario.referrals
    if r.target_young_people is None:
        return None
    months = [0.0, float(r.service_start_month), float(r.service_end_month), max(last_month, r.service_end_month)]
    return months, [0.0, 0.0, float(r.target_young_people), float(r.target_young_people)]


def figure_specs(run: RunFolder) -> list[Figure]:
    """Every figure of the report for this run, in report order."""
    sc, s = run.scenario, run.summary
    n_bands = int(run.quarterly["n"].iloc[0]) if "n" in run.quarterly and len(run.quarterly) else 0
    bands_note = f" Bands from the first {n_bands:,} draws." if n_bands and n_bands < s.get("draws", 0) else ""
    baseline = next((m.baseline_care_proportion for m in sc.contract.mechanisms
                     if isinstance(m, DaysSavedVsBaseline)), None)
    starts = run.bands("cumulative_starts")
    plan = plan_line(sc, float(starts["month_end"].max()) if len(starts) else 0.0)
    head = run.head(["outcome_payments", "true_savings"], SCATTER_DRAWS)
    specs = [
        Figure("moic", "investors", "Money multiple on committed capital",
               f"Mean {_stat(s, 'investor', 'moic_committed', 'multiple')} (± Monte Carlo standard error); "
               f"P(loss on drawn capital) {_stat(s, 'investor', 'prob_loss', 'prob')}.",
               lambda ax: figures.moic_histogram(run.column("moic_committed"), reference=sc.meta.reference_moic,
                                                 ax=ax)),
        Figure("irr", "investors", "IRR, cumulative distribution",
               f"Mean IRR {_stat(s, 'investor', 'irr', 'percent')}; draws where the IRR is undefined are left "
               "out.",
               lambda ax: figures.irr_cdf(run.column("irr"), target=sc.spv.target_return, ax=ax)),
        Figure("cash_position", "investors", "Investors' cumulative cash position",
               "Distributions received minus capital drawn, at each quarter end." + bands_note,
               lambda ax: figures.cash_position_fan(run.bands("investor_position"),
                                                    committed=_value(sc.spv.capital_committed), ax=ax)),
        Figure("payments_vs_savings", "council", "Outcome payments against true savings",
               f"P(council pays more than it truly saved) {_stat(s, 'council', 'prob_pays_more_than_saved', 'prob')}; "
               f"P(cap reached) {_stat(s, 'council', 'prob_cap_reached', 'prob')}. "
               f"One point per draw, first {len(head):,} draws.",
               lambda ax: figures.payments_vs_savings(head["outcome_payments"], head["true_savings"],
                                                      cap=_value(sc.contract.cap), ax=ax)),
        Figure("deadweight", "council", "Deadweight share of paid-for care days",
               f"Mean {_stat(s, 'council', 'deadweight_share', 'percent')}: care days the council paid for "
               "that the young people would have avoided anyway.",
               lambda ax: figures.deadweight_histogram(run.column("deadweight_share"), ax=ax)),
        Figure("starts", "referrals", "Young people started against the plan",
               f"Mean started {_stat(s, 'outcomes', 'young_people_started', 'number')}; "
               f"year-one starts {_stat(s, 'outcomes', 'year1_starts', 'number')}." + bands_note,
               lambda ax: figures.starts_fan(starts, plan_months=plan[0] if plan else None,
                                             plan_starts=plan[1] if plan else None, ax=ax)),
        Figure("care_proportion", "outcomes", "Care proportion with and without MST",
               f"Treated {_stat(s, 'outcomes', 'care_proportion_treated', 'percent')}, counterfactual "
               f"{_stat(s, 'outcomes', 'care_proportion_counterfactual', 'percent')}. Payments are made "
               "against the fixed baseline, not the counterfactual.",
               lambda ax: figures.care_proportions(run.column("care_proportion_treated"),
                                                   run.column("care_proportion_counterfactual"),
                                                   baseline=_value(baseline),
                                                   target=_value(sc.contract.target_care_proportion), ax=ax)),
    ]
    names = list(s.get("investor", {}).get("tranches", {}))
    if names:
        specs.insert(3, Figure(
            "moic_by_tranche", "investors", "Money multiple by tranche",
            "Each class of investors on the same draws; where a curve crosses 1.0× is its chance of a loss. "
            "A tranche's multiple counts its minimum coupons and guarantee payouts.",
            lambda ax: capital.moic_by_tranche({n: run.column(f"moic_{n}") for n in names}, ax=ax)))
    # The commissioning comparison, when `simsib commission` has been run into the folder.
    return (update_figure_specs(run) + specs + tornado_specs(run)
            + [Figure(**part) for part in commission_section.figure_parts(run.path)])


def update_figure_specs(run: RunFolder) -> list[Figure]:
    """A re-forecast's figures (observed points on the bands, the forecast at each review)."""
    from simsib.report.update import STAGES_FILE, fan_specs, read_update, stage_specs

    content = read_update(run.path)
    if content is None:
        return []
    stages = pd.read_csv(run.path / STAGES_FILE)
    return [Figure(name, "update", title, caption, draw) for name, title, caption, draw in
            stage_specs(content[0], stages) + fan_specs(content[0], run.quarterly)]


def tornado_specs(run: RunFolder) -> list[Figure]:
    """One tornado per metric in ``sensitivity.csv`` (a ``metric`` column is optional)."""
    table = run.sensitivity
    if table is None or not {"input", "low_mean", "high_mean"} <= set(table.columns) or table.empty:
        return []
    groups = table.groupby("metric", sort=False) if "metric" in table.columns else [("moic_committed", table)]
    specs = []
    for metric, rows in groups:
        section, label, kind = next(((s, lab, k) for lab, s, key, k in HEADLINES if key == metric),
                                    (None, metric.replace("_", " "), "number"))
        stats = run.summary.get(section, {}).get(metric, {}) if section else {}
        specs.append(Figure(
            f"tornado_{metric}", "sensitivity", f"Tornado: {label}",
            f"Mean {label} when each input is in its bottom vs top decile; the line is the overall mean.",
            lambda ax, rows=rows, centre=stats.get("mean"), label=label, kind=kind: figures.tornado(
                rows, centre=centre, metric=label, kind=kind, ax=ax),
            size=(7.0, 1.2 + 0.4 * min(len(rows), 12)),
        ))
    return specs


def render_figure(spec: Figure, folder: Path) -> str:
    """Draw ``spec``, save PNG and SVG into ``folder``; return the SVG as a data URI."""
    with figures.style():
        fig, ax = figures.new_axes(*spec.size)
        spec.draw(ax)
        fig.savefig(folder / f"{spec.name}.png")
        svg = io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
    (folder / f"{spec.name}.svg").write_bytes(svg.getvalue())
    return "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode("ascii")


# --- writing -------------------------------------------------------------------------------


def write_report(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Write ``index.html``, ``report.md`` and ``figures/`` for a run; return the HTML path.

    ``out_dir`` defaults to the run folder itself.  Files are staged and moved into place.
    """
    run = read_run(Path(run_dir))
    out_dir = Path(out_dir) if out_dir is not None else Path(run_dir)
    with staged(out_dir) as staging:
        fig_dir = staging / FIGURES_DIR
        fig_dir.mkdir()
        rendered = [(spec, render_figure(spec, fig_dir)) for spec in figure_specs(run)]
        context = report_context(run, rendered)
        (staging / MARKDOWN_FILE).write_text(render_markdown(context))
        (staging / HTML_FILE).write_text(render_html(context))
    return out_dir / HTML_FILE


def report_context(run: RunFolder, rendered: list[tuple[Figure, str]]) -> dict[str, Any]:
    s = run.summary
    sections = {name: [] for name in SECTIONS}
    for spec, uri in rendered:
        sections[spec.section].append({"name": spec.name, "title": spec.title, "caption": spec.caption,
                                       "uri": uri, "file": f"{FIGURES_DIR}/{spec.name}.png"})
    sensitivity = None
    if run.sensitivity is not None:
        table = run.sensitivity
        sensitivity = {"columns": list(table.columns),
                       "numeric": [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns],
                       "rows": [[_cell(v) for v in row] for row in table.itertuples(index=False)]}
    from simsib.report.update import read_update, update_tables

    update = read_update(run.path)
    return {
        "update": None if update is None else {"warnings": update[0]["warnings"],
                                               "tables": update_tables(*update)},
        "title": f"simsib report: {s.get('scenario')}" + (" (re-forecast)" if update else ""),
        "scenario": run.scenario.meta,
        "draws": s.get("draws"),
        "seed": s.get("seed") if s.get("seed") is not None else s.get("seed_entropy"),
        "headlines": headline_rows(s),
        "payments": payment_rows(s),
        "figures": sections,
        "sensitivity": sensitivity,
        "commission": commission_section.section_context(run.path),
        "tranches": capital.tranche_table(s),
        "assumptions": assumption_rows(run.scenario, run.raw_scenario),
        "provenance": provenance_rows(run),
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if np.isnan(value) else f"{value:.3g}"
    return str(value)


def render_html(context: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def clean(cell: Any) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(context: dict[str, Any]) -> str:
    meta = context["scenario"]
    out = [f"# {context['title']}", "", meta.description, "",
           f"{context['draws']:,} Monte Carlo draws, seed {context['seed']}. "
           "Each mean is followed by its Monte Carlo standard error.", "", "## Headline figures", "",
           _md_table(["figure", "mean", "± se", "p05", "median", "p95"],
                     [[r["label"], *(r["text"][k] for k in ("mean", "se", "p05", "p50", "p95"))]
                      for r in context["headlines"]]), ""]
    titles = {"update": "Re-forecast", "investors": "Investors", "council": "Council", "referrals": "Referrals",
              "outcomes": "Outcomes", "sensitivity": "Sensitivity", "commission": "Commissioning: SIB or not"}
    for section, title in titles.items():
        items = context["figures"][section]
        if not items and not (section == "commission" and context["commission"]):
            continue
        out += [f"## {title}", ""]
        if section == "update" and context.get("update"):
            out += [f"- **warning:** {w}" for w in context["update"]["warnings"]] + [""]
            for table in context["update"]["tables"]:
                out += [f"### {table['title']}", "", table["lead"], "", _md_table(table["header"], table["rows"]), ""]
        if section == "council" and context["payments"]:
            out += ["Payments by mechanism and payer, and what the contract would have paid had the service "
                    "had no effect:", "",
                    _md_table(["payments", "mean", "± se", "p05", "median", "p95"],
                              [[r["label"], *(r["text"][k] for k in ("mean", "se", "p05", "p50", "p95"))]
                               for r in context["payments"]]), ""]
        if section == "commission" and context["commission"]:
            out += commission_section.markdown_lines(context["commission"])
        for item in items:
            out += [f"![{item['title']}]({item['file']})", "", f"*{item['caption']}*", ""]
        if section == "investors" and context.get("tranches"):
            tranches = context["tranches"]
            out += ["By tranche, on the same draws (mean ± se, median):", "",
                    _md_table(["figure", *tranches["names"]], tranches["rows"]), ""]
        if section == "sensitivity" and context["sensitivity"]:
            out += [_md_table(context["sensitivity"]["columns"], context["sensitivity"]["rows"]), ""]

    out += ["## Assumptions", "",
            _md_table(["input", "value or distribution", "kind", "source", "evidence"],
                      [[r["key"], r["value"], r["kind"], r["source"], r["evidence"]] for r in context["assumptions"]]),
            "", "## Provenance", "", _md_table(["item", "value"], [list(r) for r in context["provenance"]]), ""]
    return "\n".join(out)


@contextlib.contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """A staging folder whose files are moved into ``out_dir`` when the block ends cleanly.

    A new ``out_dir`` appears whole in one rename.  Into an existing folder (a run folder) the
    files are moved one by one, ``index.html`` last; other files there are left alone.  On an
    exception the staging folder is removed and ``out_dir`` is untouched.
    """
    out_dir = Path(out_dir)
    fresh = not out_dir.exists()
    parent = out_dir.parent if fresh else out_dir
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f".{out_dir.name}.report-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        if fresh:
            os.replace(staging, out_dir)
            return
        files = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: p.name == HTML_FILE)
        for path in files:
            target = out_dir / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- spreadsheet ---------------------------------------------------------------------------

_EXCEL_FORMATS = {"multiple": '0.00"×"', "percent": "0.0%", "prob": "0.0%", "money": '"£"#,##0', "number": "#,##0"}


def write_xlsx(run_dir: Path, path: Path) -> Path:
    """Write the run's tables as an Excel workbook at ``path`` (replaced whole); return ``path``.

    Sheets: ``headlines`` (formatted), ``summary`` (every statistic), ``quarterly`` (percentile
    bands by quarter), ``assumptions`` (inputs with sources), ``provenance``, and ``commissioning``
    when ``simsib commission`` has been run into the folder.
    """
    run = read_run(Path(run_dir))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    headlines = pd.DataFrame([{k: r[k] for k in ("label", "mean", "se", "p05", "p50", "p95", "metric")}
                              for r in headline_rows(run.summary)])
    sheets = {
        "headlines": headlines,
        "summary": pd.DataFrame(flatten(run.summary)),
        "quarterly": run.quarterly,
        "assumptions": pd.DataFrame(assumption_rows(run.scenario, run.raw_scenario)),
        "provenance": pd.DataFrame(provenance_rows(run), columns=["item", "value"]),
    }
    commissioning = commission_section.workbook_sheet(run.path)
    if commissioning is not None:
        sheets["commissioning"] = commissioning
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.xlsx")
    try:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, frame in sheets.items():
                frame.to_excel(writer, sheet_name=name, index=False)
                sheet = writer.sheets[name]
                sheet.freeze_panes = "A2"
                for column in sheet.columns:
                    width = max(len(str(cell.value)) if cell.value is not None else 0 for cell in column)
                    sheet.column_dimensions[column[0].column_letter].width = min(max(10, width + 2), 60)
            kinds = [r["kind"] for r in headline_rows(run.summary)]
            for row, kind in enumerate(kinds, start=2):
                for col in range(2, 7):
                    writer.sheets["headlines"].cell(row=row, column=col).number_format = _EXCEL_FORMATS[kind]
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
