"""Reports from a run folder: a self-contained HTML page, Markdown, figure files and a workbook.

:func:`write_report` reads a complete run folder (``summary.json``, ``draws.parquet``,
``quarterly.csv``, ``manifest.json``, ``scenario.toml``, and ``sensitivity.csv`` when another
command has added one) and writes, into the run folder or ``out_dir``:

- ``index.html``: one file, figures embedded as base64 SVG, no network needed, printable;
- ``report.md``: the same tables, linking the figure files;
- ``figures/NAME.png`` and ``figures/NAME.svg``.

Everything is written to a hidden staging folder first and moved into place at the end, so an
interrupted report leaves the previous complete files (or none).  :func:`write_xlsx` writes the
headline, summary, quarterly, assumptions and provenance tables as an Excel workbook.

Per-draw columns are read one at a time (a 10-million-draw run needs one column in memory, not
the whole table); the scatter plot uses the first :data:`SCATTER_DRAWS` draws.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel

from simsib import __version__, figures
from simsib.errors import ScenarioError
from simsib.formatting import money, multiple, number, percent
from simsib.loader import load_scenario
from simsib.outputs import DRAWS_FILE, MANIFEST_FILE, QUARTERLY_FILE, SCENARIO_FILE, SUMMARY_FILE
from simsib.scenario import DaysSavedVsBaseline, Scenario, all_quantities
from simsib.summary import HEADLINES, flatten

HTML_FILE = "index.html"
MARKDOWN_FILE = "report.md"
FIGURES_DIR = "figures"
XLSX_FILE = "results.xlsx"
SENSITIVITY_FILE = "sensitivity.csv"
REQUIRED_FILES = (SUMMARY_FILE, DRAWS_FILE, QUARTERLY_FILE, MANIFEST_FILE, SCENARIO_FILE)
SCATTER_DRAWS = 5_000
SECTIONS = ("headlines", "investors", "council", "referrals", "outcomes", "sensitivity", "assumptions",
            "provenance")
FORMATTERS: dict[str, Callable[[Any], str]] = {
    "multiple": multiple, "percent": percent, "money": money, "number": number, "prob": percent,
}
_EVIDENCE_ID = re.compile(r"\bE\d+\b")


# --- reading a run folder -----------------------------------------------------------------


@dataclass
class RunFolder:
    """The files of one complete run, read lazily where they are large (the draws)."""

    path: Path
    summary: dict[str, Any]
    manifest: dict[str, Any]
    quarterly: pd.DataFrame
    scenario: Scenario
    raw_scenario: dict[str, Any]
    sensitivity: pd.DataFrame | None = field(default=None)

    def column(self, name: str) -> np.ndarray:
        """One per-draw column as float64, shape (n_draws,)."""
        table = pq.read_table(self.path / DRAWS_FILE, columns=[name])
        return table.column(0).to_numpy(zero_copy_only=False).astype(float)

    def head(self, columns: list[str], rows: int) -> pd.DataFrame:
        """The first ``rows`` draws of ``columns``."""
        batches = pq.ParquetFile(self.path / DRAWS_FILE).iter_batches(batch_size=rows, columns=columns)
        return next(batches).to_pandas()

    def bands(self, series: str) -> pd.DataFrame:
        """Quarterly percentile bands of one series, in quarter order."""
        return self.quarterly[self.quarterly["series"] == series].sort_values("quarter")


def read_run(run_dir: Path) -> RunFolder:
    """Read a complete run folder; a missing file is a :class:`ScenarioError` naming it."""
    run_dir = Path(run_dir)
    missing = [name for name in REQUIRED_FILES if not (run_dir / name).is_file()]
    if missing:
        raise ScenarioError.single(
            "RUN_DIR", f"not a complete simsib run folder: missing {', '.join(missing)} "
            "(make one with `simsib run --out DIR`)", value=str(run_dir))
    sensitivity_path = run_dir / SENSITIVITY_FILE
    return RunFolder(
        path=run_dir,
        summary=json.loads((run_dir / SUMMARY_FILE).read_text()),
        manifest=json.loads((run_dir / MANIFEST_FILE).read_text()),
        quarterly=pd.read_csv(run_dir / QUARTERLY_FILE),
        scenario=load_scenario(run_dir / SCENARIO_FILE),
        raw_scenario=tomllib.loads((run_dir / SCENARIO_FILE).read_text()),
        sensitivity=pd.read_csv(sensitivity_path) if sensitivity_path.is_file() else None,
    )


# --- tables --------------------------------------------------------------------------------


def headline_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline figures: label, kind, raw numbers and their formatted text."""
    rows = []
    for label, section, key, kind in HEADLINES:
        stats = summary.get(section, {}).get(key)
        if stats is None:
            continue
        fmt = FORMATTERS[kind]
        central = stats["value"] if "value" in stats else stats.get("mean")
        row = {"label": label, "kind": kind, "metric": f"{section}.{key}", "mean": central,
               "se": stats.get("se"), "p05": stats.get("p05"), "p50": stats.get("p50"), "p95": stats.get("p95")}
        row["text"] = {k: fmt(row[k]) if row[k] is not None else "" for k in ("mean", "se", "p05", "p50", "p95")}
        rows.append(row)
    return rows


def evidence_ids(node: Any) -> list[str]:
    """Evidence ids (``E12``) cited anywhere in a source string or a nested distribution."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, str):
            found.extend(_EVIDENCE_ID.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    visit(node.model_dump() if isinstance(node, BaseModel) else node)
    return list(dict.fromkeys(found))


def _raw_at(raw: dict[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def assumption_rows(scenario: Scenario, raw: dict[str, Any]) -> list[dict[str, str]]:
    """Every scenario input with its value or distribution and its sources, in file order.

    ``kind`` is *uncertain* (drawn once per draw), *fixed*, *per person* (drawn per young person)
    or *structural* (a setting that shapes the simulation, such as a window in months).
    """
    per_draw = all_quantities(scenario)
    rows: list[dict[str, str]] = []

    def add(key: str, value: str, kind: str, source: str | None, cited: Any) -> None:
        rows.append({"key": key, "value": value, "kind": kind, "source": source or "",
                     "evidence": ", ".join(evidence_ids(cited))})

    def walk(node: Any, prefix: str) -> None:
        if hasattr(node, "from_uniforms"):
            kind = ("fixed" if node.is_fixed else "uncertain") if prefix in per_draw else "per person"
            add(prefix, node.describe(), kind, node.source, node)
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name), f"{prefix}.{name}")
        elif isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                walk(item, f"{prefix}.{i}")
        elif node is not None and prefix.rsplit(".", 1)[-1] != "source":
            cited = _raw_at(raw, prefix)
            source = cited.get("source") if isinstance(cited, dict) else None
            add(prefix, _plain(node), "structural", source, source)

    for section in ("referrals", "population", "effect", "care", "contract", "spv"):
        walk(getattr(scenario, section), section)
    for i, corr in enumerate(scenario.correlations):
        add(f"correlations.{i}", f"rank correlation {corr.rank:+.2f} between {' and '.join(corr.between)}",
            "structural", corr.source, corr.source)
    return rows


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def provenance_rows(run: RunFolder) -> list[tuple[str, str]]:
    """What identifies the run and how it was made: (item, value)."""
    s, m = run.summary, run.manifest
    seed = s.get("seed")
    return [
        ("Scenario", f"{s.get('scenario')} — {run.scenario.meta.description}".rstrip(" —")),
        ("Scenario SHA-256", str(s.get("scenario_sha256"))),
        ("Draws", number(s.get("draws"))),
        ("Seed", str(seed) if seed is not None else f"unseeded (entropy {s.get('seed_entropy')})"),
        ("Seed entropy", str(s.get("seed_entropy"))),
        ("Chunk size", number(s.get("chunk_size"))),
        ("simsib version (run)", str(s.get("simsib_version"))),
        ("Run created (UTC)", str(m.get("created_utc", "–"))),
        ("Command", " ".join(m.get("command", [])) or "–"),
        ("Executor, workers", f"{m.get('executor', '–')}, {m.get('workers', '–')}"),
        ("Python, NumPy, platform", f"{m.get('python', '–')}, {m.get('numpy', '–')}, {m.get('platform', '–')}"),
        ("Evidence cited by the scenario", ", ".join(run.scenario.meta.sources) or "–"),
        ("Report written (UTC)", f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} by simsib {__version__}"),
    ]


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
    fmt = FORMATTERS[kind]
    return f"{fmt(central)} ± {fmt(stats.get('se'))}" if central is not None else "–"


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
    return specs + tornado_specs(run)


def tornado_specs(run: RunFolder) -> list[Figure]:
    """One tornado per metric in ``sensitivity.csv`` (a ``metric`` column is optional)."""
    table = run.sensitivity
    if table is None or not {"input", "low_mean", "high_mean"} <= set(table.columns) or table.empty:
        return []
    groups = table.groupby("metric", sort=False) if "metric" in table.columns else [("moic_committed", table)]
    specs = []
    for metric, rows in groups:
        centre = next((sec[metric]["mean"] for sec in (run.summary.get(k, {}) for k in ("investor", "council",
                       "outcomes")) if isinstance(sec.get(metric), dict) and "mean" in sec[metric]), None)
        label = metric.replace("_", " ")
        specs.append(Figure(
            f"tornado_{metric}", "sensitivity", f"Tornado: {label}",
            f"Mean {label} when each input is in its bottom vs top decile; the line is the overall mean.",
            lambda ax, rows=rows, centre=centre, label=label: figures.tornado(rows, centre=centre, metric=label,
                                                                             ax=ax),
            size=(7.0, 0.8 + 0.35 * min(len(rows), 12)),
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
        sensitivity = {"columns": list(run.sensitivity.columns),
                       "rows": [[_cell(v) for v in row] for row in run.sensitivity.itertuples(index=False)]}
    return {
        "title": f"simsib report: {s.get('scenario')}",
        "scenario": run.scenario.meta,
        "draws": s.get("draws"),
        "seed": s.get("seed") if s.get("seed") is not None else s.get("seed_entropy"),
        "headlines": headline_rows(s),
        "figures": sections,
        "sensitivity": sensitivity,
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
    titles = {"investors": "Investors", "council": "Council", "referrals": "Referrals", "outcomes": "Outcomes",
              "sensitivity": "Sensitivity"}
    for section, title in titles.items():
        items = context["figures"][section]
        if not items:
            continue
        out += [f"## {title}", ""]
        for item in items:
            out += [f"![{item['title']}]({item['file']})", "", f"*{item['caption']}*", ""]
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
    bands by quarter), ``assumptions`` (inputs with sources) and ``provenance``.
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
