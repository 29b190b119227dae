"""Reports from a run folder: a self-contained HTML page, Markdown, figure files and a workbook.

:func:`write_report` reads a complete run folder (``summary.json``, ``draws.parquet``,
``quarterly.csv``, ``manifest.json``, ``scenario.toml``, and ``sensitivity.csv`` or the
commissioning comparison's files when another command has added them) and writes, into the run folder or ``out_dir``:

- ``index.html``: one file, figures embedded as base64 SVG, no network needed, printable;
- ``report.md``: the same tables, linking the figure files;
- ``figures/NAME.png`` and ``figures/NAME.svg``.

Everything is written to a hidden staging folder first and moved into place at the end (by
:mod:`simsib.run.ownership`), so an interrupted report leaves the previous complete files (or
none), and a folder holding someone else's files is never written without ``--force``.
:func:`write_xlsx` (:mod:`simsib.report.workbook`) writes the tables as an Excel workbook.

The page opens with the executive summary (:mod:`simsib.report.executive`), then the headline
table; each section's tables come from its own module (:mod:`simsib.report.investor_section`,
:mod:`simsib.report.council_section`, :mod:`simsib.report.driver_section`,
:mod:`simsib.report.evidence_section`), as ``{title, lead, header, rows}`` that the HTML template
and :mod:`simsib.report.markdown` render alike.

Per-draw columns are read one at a time (a 10-million-draw run needs one column in memory, not
the whole table; see :mod:`simsib.report.tables`); the scatter plot uses the first
:data:`SCATTER_DRAWS` draws.
"""

from __future__ import annotations

import base64
import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pandas as pd

from simsib.report import (
    capital,
    commission_section,
    convergence,
    council_section,
    driver_section,
    evidence_section,
    figures,
    investor_section,
)
from simsib.report.executive import summary_sentences
from simsib.report.headlines import HEADLINES
from simsib.report.markdown import render_markdown
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
from simsib.report.workbook import XLSX_FILE, write_xlsx  # noqa: F401  (re-exported)
from simsib.scenario.evidence import label as plain_label
from simsib.scenario.format import DaysSavedVsBaseline, Scenario

HTML_FILE = "index.html"
MARKDOWN_FILE = "report.md"
FIGURES_DIR = "figures"
SCATTER_DRAWS = 5_000
SECTIONS = ("headlines", "update", "investors", "council", "drivers", "referrals", "outcomes", "sensitivity",
            "commission", "convergence", "assumptions", "provenance")


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


# Figures drawn from one per-draw figure, which some contracts do not have (Peterborough pays for
# reconvictions: no care days, no care proportion, no valued savings): (figure, section, key).
_DRAWN_FROM = {"deadweight": ("council", "deadweight_share"), "care_proportion": ("outcomes", "care_proportion_treated"),
               "payments_vs_savings": ("council", "true_savings")}


def _has_data(name: str, summary: dict) -> bool:
    """False for a figure of :data:`_DRAWN_FROM` whose figure is undefined in every draw, or
    (true savings) zero in every draw by construction."""
    if name not in _DRAWN_FROM:
        return True
    stats = summary.get(_DRAWN_FROM[name][0], {}).get(_DRAWN_FROM[name][1]) or {}
    if stats.get("mean") is None:
        return False
    return not (name == "payments_vs_savings" and stats.get("p05") == stats.get("p95") == 0 and not stats.get("se"))


def figure_specs(run: RunFolder, found: dict[str, Any] | None = None) -> list[Figure]:
    """Every figure of the report for this run, in report order; ``found`` is the driver
    analysis (:func:`simsib.report.driver_section.analyse`) behind the drivers' figures."""
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
               f"Median IRR {_stat(s, 'investor', 'irr_median', 'percent')}, mean "
               f"{_stat(s, 'investor', 'irr', 'percent')} (dragged down by the −100% of each total loss); draws "
               "where the IRR is undefined are left out.",
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
               f"Of all outcome payments, {_stat(s, 'council', 'deadweight_share_of_payments', 'prob')} "
               f"(mean {_stat(s, 'council', 'deadweight_paid', 'money')} a draw) paid for care days the young "
               "people would have avoided anyway. Every draw counts: a draw in which the service increased care "
               "is 100% deadweight, as is one whose contract counted fewer than no care days saved over the "
               "contract yet paid (quarter by quarter); a draw that paid nothing has 0%. Undefined only where a "
               "contract counts no care days at all (it pays for something else).",
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
    specs = [spec for spec in specs if _has_data(spec.name, s)]
    names = list(s.get("investor", {}).get("tranches", {}))
    if names:
        specs.insert(3, Figure(
            "moic_by_tranche", "investors", "Money multiple by tranche",
            "Each class of investors on the same draws; where a curve crosses 1.0× is its chance of a loss. "
            "A tranche's multiple counts its minimum coupons and guarantee payouts.",
            lambda ax: capital.moic_by_tranche({n: run.column(f"moic_{n}") for n in names}, ax=ax)))
    # The commissioning comparison, when `simsib commission` has been run into the folder.
    council = [Figure(**part) for part in council_section.figure_parts(run)]
    last_council = max((i for i, spec in enumerate(specs) if spec.section in ("investors", "council")), default=-1)
    specs[last_council + 1:last_council + 1] = council + [Figure(**part) for part in driver_section.figure_parts(found)]
    return (update_figure_specs(run) + specs + tornado_specs(run)
            + [Figure(**part) for part in commission_section.figure_parts(run.path)]
            + [Figure(**part) for part in convergence.figure_parts(run)])


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
        rows = rows.assign(input=[plain_label(str(k), short=True) for k in rows["input"]])
        specs.append(Figure(
            f"tornado_{metric}", "sensitivity", f"Tornado: {label}",
            f"Mean {label} when each input is in its bottom (orange) vs top (blue) decile; the line is the overall "
            "mean. Inputs in the order of the table below, widest swing on top.",
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


def write_report(run_dir: Path, out_dir: Path | None = None, *, xlsx: bool = False, force: bool = False,
                 command: Sequence[str] = ()) -> Path:
    """Write ``index.html``, ``report.md`` and ``figures/`` (and ``results.xlsx`` with ``xlsx``)
    for a run; return the HTML path.

    ``out_dir`` defaults to the run folder itself.  Files are staged and moved into place under
    the folder rules of :mod:`simsib.run.ownership` (``force`` as there).
    """
    run = read_run(Path(run_dir))
    out_dir = Path(out_dir) if out_dir is not None else Path(run_dir)
    with staged(out_dir, force=force, command=command) as staging:
        render_report(run, staging)
        if xlsx:
            write_xlsx(run_dir, staging / XLSX_FILE)
    return out_dir / HTML_FILE


def render_report(run: RunFolder | Path, folder: Path) -> None:
    """Write the report's files straight into ``folder`` (a staging folder: nothing is staged)."""
    run = run if isinstance(run, RunFolder) else read_run(Path(run))
    fig_dir = folder / FIGURES_DIR
    fig_dir.mkdir(exist_ok=True)
    found = driver_section.analyse(run)
    rendered = [(spec, render_figure(spec, fig_dir)) for spec in figure_specs(run, found)]
    context = report_context(run, rendered, found)
    (folder / MARKDOWN_FILE).write_text(render_markdown(context))
    (folder / HTML_FILE).write_text(render_html(context))


def report_context(run: RunFolder, rendered: list[tuple[Figure, str]],
                   found: dict[str, Any] | None = None) -> dict[str, Any]:
    s = run.summary
    sections = {name: [] for name in SECTIONS}
    for spec, uri in rendered:
        sections[spec.section].append({"name": spec.name, "title": spec.title, "caption": spec.caption,
                                       "uri": uri, "file": f"{FIGURES_DIR}/{spec.name}.png"})
    tables = tables_context(run, found)
    from simsib.report.update import read_update, update_tables

    update = read_update(run.path)
    assumptions, notes = evidence_section.annotate(assumption_rows(run.scenario, run.raw_scenario))
    return {
        "update": None if update is None else {"warnings": update[0]["warnings"],
                                               "tables": update_tables(*update)},
        "title": f"simsib report: {s.get('scenario')}" + (" (re-forecast)" if update else ""),
        "scenario": run.scenario.meta,
        "draws": s.get("draws"),
        "seed": s.get("seed") if s.get("seed") is not None else s.get("seed_entropy"),
        "executive": executive(run, found),
        "headlines": headline_rows(s),
        "payments": payment_rows(s),
        "figures": sections,
        "tables": tables,
        "commission": commission_section.section_context(run.path),
        "tranches": capital.tranche_table(s),
        "assumptions": assumptions,
        "evidence": notes,
        "provenance": provenance_rows(run) + [("Evidence cited in the assumptions",
                                               ", ".join(n["id"] for n in notes) or "–")],
    }


def executive(run: RunFolder, found: dict[str, Any] | None) -> list[str]:
    """The executive summary's sentences (:func:`simsib.report.executive.summary_sentences`)."""
    from simsib.report.drivers import Driver

    sc = run.scenario
    drivers = [Driver(e.key, e.label, e.rho, e.rho_se) for e in found["effects"]] if found else []
    reference = sc.meta.reference_moic
    # The scenario's caveats first: they qualify every sentence after them.
    return [f"Caveat: {c}" for c in run.summary.get("caveats", ())] + summary_sentences(
        run.summary, None, reference_moic=None if reference is None else float(reference),
        cap=_value(sc.contract.cap), capped=sc.contract.cap is not None, found_drivers=drivers)


def tables_context(run: RunFolder, found: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """The tables of each section, as ``{title, lead, header, rows}`` (HTML and Markdown alike)."""
    s = run.summary
    council = council_section.context(run)
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS}
    bad_case = investor_section.bad_case_table(s)
    if bad_case:
        tables["investors"].append(bad_case)
    money_header = ["figure", "mean", "± se", "p05", "median", "p95"]
    tables["council"] += [
        {"title": "Contract savings against true savings", "header": money_header, "rows": council["savings"],
         "lead": "What the contract counts as saved (against the fixed baseline) beside the care truly avoided "
                 "(against each young person's own counterfactual), and what the council pays."},
        {"title": "The council's risks", "header": ["chance", "value ± se"], "rows": council["risks"], "lead": ""},
    ]
    if council["cap_timing"]:
        tables["council"].append({"title": "When the cap binds", "header": ["year", "reached in the year",
                                                                          "reached by the year's end ± se"],
                                  "rows": council["cap_timing"],
                                  "lead": "Share of draws in which outcome payments reach the cap in each year."})
    if council["budget"]:
        tables["council"].append({
            "title": f"Outcome payments by {council['budget_years']}", "header": ["year", "mean ± se", "p05",
                                                                                  "median", "p95"],
            "rows": council["budget"],
            "lead": "Percentiles of each year's payments over the draws: the years' medians need not add up to the "
                    "median total. " + council["budget_note"]})
    if found:
        whose = f"the first {found['draws']:,} draws" if found["cut"] else f"all {found['draws']:,} draws"
        tables["drivers"].append({
            "title": "Inputs that drive the money multiple and the chance of a loss",
            "header": list(driver_section.HEADER),
            "rows": [[r[k] for k in driver_section.ROW_KEYS] for r in found["rows"]],
            "lead": f"From {whose} of this run, no extra simulation. Low and high: the input in its bottom or top "
                    "quarter of draws. SMD: how far the inputs of the draws in which investors lose sit from the "
                    "rest's, in pooled standard deviations (+ means losing draws have higher values). Strongest "
                    "rank correlation first, as in the figures."})
    if run.sensitivity is not None and {"input", "low_mean", "high_mean"} <= set(run.sensitivity.columns):
        tables["sensitivity"].append(investor_section.sensitivity_table(run.sensitivity))
    return tables


def render_html(context: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


@contextlib.contextmanager
def staged(out_dir: Path, *, kind: str = "report", add: bool = True, force: bool = False,
           command: Sequence[str] = ()) -> Iterator[Path]:
    """A staging folder whose files are published into ``out_dir`` when the block ends cleanly.

    The rules are :class:`simsib.run.ownership.OutputFolder`'s: a folder holding files simsib did
    not write is refused before the block runs (unless ``force``), one writer at a time.  A new
    ``out_dir`` appears whole in one rename.  Into a run folder (or, with ``add``, any folder
    simsib wrote) the files are moved one by one, ``index.html`` last; other files there are
    left alone.  On an exception the staging folder is removed and ``out_dir`` is untouched.
    """
    from simsib.run.ownership import OutputFolder

    with OutputFolder(out_dir, kind=kind, force=force) as folder:
        staging = folder.staging()
        yield staging
        folder.publish(staging, {"command": list(command)}, add=add or folder.is_run_folder, last=(HTML_FILE,))
