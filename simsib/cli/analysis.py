"""Analysis commands: ``sweep``, ``sensitivity``, ``stress``, ``compare-mechanisms`` (``backtest``: :mod:`simsib.cli.backtest`).

Importing this module registers the commands on :data:`simsib.cli.app.app`.  It is the only
place these analyses print or exit.  Each writes its outputs atomically into a
folder of its own (default ``reports/<scenario>-<analysis>/``), replacing it whole if simsib
wrote it -- except a run folder, to which the files are added, each replaced atomically, so
that ``simsib report`` finds them.  The folder rules (ownership, one writer, ``--force``) are
:mod:`simsib.run.ownership`'s.  ``simsib sensitivity`` writes into the scenario's run
folder ``reports/<scenario>/`` by default when there is one.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Callable, List, Optional

import typer

from simsib.cli.app import (
    DrawsOpt,
    ForceOpt,
    JsonOpt,
    MaxDrawsOpt,
    PrecisionOpt,
    QuietOpt,
    Sampling,
    SamplingOpt,
    ScenarioArg,
    SeedOpt,
    SetOpt,
    WorkersOpt,
    app,
    guarded,
    load,
    out_console,
    precision_plan,
    progress_reporter,
    sampling_override,
)
from simsib.cli.terminal import FORMATS, change, estimate, figure_label, note, show
from simsib.report.formatting import money, number
from simsib.run.settings import default_workers

OutOpt = typer.Option(None, "--out", "-o", help="Output folder; a run folder gets the files added.", show_default="reports/<scenario>-<analysis>")


def _is_run_folder(folder: Path) -> bool:
    from simsib.run.ownership import read_manifest

    manifest = read_manifest(folder)
    return manifest is not None and manifest.get("kind", "run") == "run"


def _output(out: Optional[Path], name: str, analysis: str, force: bool, *, into_run: bool = False):
    """The analysis's output folder, checked, locked and owned before any work (an OutputFolder)."""
    from simsib.run.ownership import OutputFolder

    run_folder = Path("reports") / name
    if out is not None:
        out_dir = out
    elif into_run and _is_run_folder(run_folder):
        out_dir = run_folder
    else:
        out_dir = Path("reports") / f"{name}-{analysis}"
    return OutputFolder(out_dir, kind=analysis, force=force)


def _publish(folder, write: Callable[[Path], list[str]]) -> list[str]:
    """Write into a staging folder, then publish it: whole, or -- into a run folder -- file by
    file beside the run's own files (see :mod:`simsib.run.ownership`)."""
    staging = folder.staging()
    written = write(staging)
    folder.publish(staging, {"command": ["simsib", *sys.argv[1:]]}, add=folder.is_run_folder)
    return written


def _with_progress(total: int, quiet: bool, work: Callable[[Callable[[int], None]], object]):
    bar, advance = progress_reporter(total, quiet)
    if bar is None:
        return work(advance)
    with bar:
        return work(advance)


def _records(frame) -> str:
    """A DataFrame as JSON records, NaN as null."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return json.dumps(rows, indent=2, default=str)


GRID_FORM = ("KEY=V1,V2,... (e.g. contract.cap=5e6,6e6,7e6) or KEY=START:STOP:N, N evenly spaced values "
             "from START to STOP (e.g. contract.cap=5e6:9e6:5)")


def check_grid_syntax(text: str) -> str:
    """``text`` if it has the form of a grid; else a ScenarioError about grid syntax (exit 2).

    A range must have three parts: ``5e6:9e6`` would otherwise be taken for one text value, and
    fail later with a message about the scenario key instead of the grid.
    """
    from simsib.scenario.errors import ScenarioError

    key, sep, spec = text.partition("=")
    quoted = any(c in spec for c in "[{\"'")
    if not sep or not key.strip() or not spec.strip():
        raise ScenarioError.single("--grid", f"expected {GRID_FORM}", value=text)
    if ":" in spec and not quoted and spec.count(":") != 2:
        raise ScenarioError.single("--grid", f"a range has three parts START:STOP:N; expected {GRID_FORM}",
                                   value=text)
    return text


@contextlib.contextmanager
def grid_values_named(texts: List[str]):
    """Problems with a swept key's values also say which ``--grid`` they came from, and its form."""
    import dataclasses

    from simsib.scenario.errors import ScenarioError

    keys = {t.partition("=")[0].strip(): t for t in texts}
    try:
        yield
    except ScenarioError as exc:
        problems = [dataclasses.replace(p, message=f"{p.message}; from --grid {keys[p.key]!r}, expected {GRID_FORM}")
                    if p.key in keys else p for p in exc.problems]
        raise ScenarioError(problems, file=exc.file) from None


@app.command("sweep")
@guarded
def sweep_cmd(
    scenario: Optional[str] = ScenarioArg,
    grid: List[str] = typer.Option(..., "--grid", "-g", help="KEY=V1,V2,... or KEY=START:STOP:N (repeat for a product)."),
    metric: List[str] = typer.Option([], "--metric", "-m", help="Metric to report (repeatable).", show_default="outcome_payments, prob_cap_reached, prob_loss, median_irr"),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    precision: List[str] = PrecisionOpt,
    max_draws: Optional[int] = MaxDrawsOpt,
    sampling: Optional[Sampling] = SamplingOpt,
    out: Optional[Path] = OutOpt,
    workers: Optional[int] = WorkersOpt,
    force: bool = ForceOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Sweep scenario keys over a grid on common random numbers: sweep.csv, sweep.md, figures."""
    from simsib.analysis.sweep import DEFAULT_METRICS, parse_grid, sweep
    from simsib.report.sweep import show_value, write_sweep
    from simsib.scenario.evidence import label

    path, raw, validated = load(scenario, sampling_override(set_, sampling))
    grids = [parse_grid(check_grid_syntax(g)) for g in grid]
    until = precision_plan(precision, max_draws, draws, validated)
    n_draws = until.max_draws if until else (draws or validated.simulation.draws)
    with _output(out, validated.meta.name, "sweep", force) as folder, grid_values_named(grid):
        result = _with_progress(n_draws, quiet or json_, lambda advance: sweep(
            raw, grids, metrics=metric or DEFAULT_METRICS, draws=draws, seed=seed,
            workers=workers or default_workers(), file=str(path), progress=advance, precision=until))
        _publish(folder, lambda staging: write_sweep(result, staging))
    n_draws = result.header["draws"]
    out_dir = folder.out_dir
    if json_:
        typer.echo(_records(result.table))
        return
    header = [label(g.key, short=True) for g in result.grids] + [figure_label(m.name) for m in result.metrics]
    rows = []
    for _, row in result.table.iterrows():
        cells = [show_value(row[g.key]) for g in result.grids]
        cells += [estimate(row[m.name], row[m.name + "_se"], m.unit) for m in result.metrics]
        rows.append(cells)
    if len(result.grids) > 1:  # the grid point as one label column: "cap 5,000,000 · price 50"
        header = [" · ".join(header[:len(result.grids)]), *header[len(result.grids):]]
        rows = [[" · ".join(r[:len(result.grids)]), *r[len(result.grids):]] for r in rows]
    show(out_console, f"simsib sweep · {result.header['scenario']} · {n_draws:,} draws a point · "
                      f"seed {result.header['seed_entropy']} · each figure ± its standard error", header, rows)
    out_console.print(f"outputs in {out_dir}/", highlight=False)


@app.command("sensitivity")
@guarded
def sensitivity_cmd(
    scenario: Optional[str] = ScenarioArg,
    metric: str = typer.Option("moic_committed", "--metric", "-m", help="Metric to explain, e.g. moic_committed or net_benefit."),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    sobol_n: int = typer.Option(512, "--sobol-n", min=0, max=1 << 20, help="Sobol base samples (a power of two; 0 skips Sobol)."),
    out: Optional[Path] = OutOpt,
    workers: Optional[int] = WorkersOpt,
    force: bool = ForceOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Rank the uncertain inputs by influence on a metric: tornado, rank correlations, Sobol indices."""
    from simsib.analysis.sensitivity import sensitivity
    from simsib.report.sensitivity import format_index, write_sensitivity
    from simsib.scenario.evidence import label

    if sobol_n & (sobol_n - 1):
        from simsib.scenario.errors import ScenarioError

        below = 1 << (sobol_n.bit_length() - 1)
        raise ScenarioError.single("--sobol-n", f"expected a power of two, e.g. {below:,} or {2 * below:,} (Sobol' "
                                   "points are balanced only in powers of two), or 0 to skip the Sobol indices",
                                   value=sobol_n)
    _, _, validated = load(scenario, set_)
    n_draws = draws or validated.simulation.draws
    with _output(out, validated.meta.name, "sensitivity", force, into_run=True) as folder:
        result = _with_progress(n_draws, quiet or json_, lambda advance: sensitivity(
            validated, metric, draws=draws, seed=seed, sobol_n=sobol_n, workers=workers or default_workers(),
            progress=advance))
        _publish(folder, lambda staging: write_sensitivity(result, staging))
    out_dir = folder.out_dir
    if json_:
        typer.echo(_records(result.table))
        return
    unit = result.metric.unit
    with_sobol = bool(result.table["S1"].notna().any())
    header = ["input", "bottom decile", "top decile", "Spearman ρ", *(("Sobol S1", "Sobol ST") if with_sobol else ())]
    rows = []
    for rank, r in enumerate(result.table.itertuples(index=False), start=1):
        rows.append([f"{rank}. {label(r.input, short=True)}", estimate(r.low_mean, r.low_se, unit),
                     estimate(r.high_mean, r.high_se, unit),
                     "–" if math.isnan(r.rank_correlation) else f"{r.rank_correlation:+.2f}".replace("-", "−"),
                     *((format_index(r.S1, r.S1_conf), format_index(r.ST, r.ST_conf)) if with_sobol else ())])
    show(out_console, f"simsib sensitivity · {result.header['scenario']} · {figure_label(result.metric.name)} · "
                      f"{n_draws:,} draws · seed {result.header['seed_entropy']} · mean in the bottom and top decile "
                      "of each input ± se", header, rows)
    out_console.print(f"outputs in {out_dir}/", highlight=False)


@app.command("stress")
@guarded
def stress_cmd(
    scenario: Optional[str] = ScenarioArg,
    case: List[str] = typer.Option([], "--case", "-c", help="Run only this stress case (repeatable).", show_default="all"),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    precision: List[str] = PrecisionOpt,
    max_draws: Optional[int] = MaxDrawsOpt,
    sampling: Optional[Sampling] = SamplingOpt,
    out: Optional[Path] = OutOpt,
    workers: Optional[int] = WorkersOpt,
    force: bool = ForceOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Run the scenario's named stress cases (its stress tables) against the base on common random numbers."""
    from simsib.analysis.stress import stress_test
    from simsib.report.stress import write_stress

    path, raw, validated = load(scenario, sampling_override(set_, sampling))
    until = precision_plan(precision, max_draws, draws, validated)
    n_draws = until.max_draws if until else (draws or validated.simulation.draws)
    with _output(out, validated.meta.name, "stress", force) as folder:
        result = _with_progress(n_draws, quiet or json_, lambda advance: stress_test(
            raw, validated, names=case, draws=draws, seed=seed, workers=workers or default_workers(),
            file=str(path), progress=advance, precision=until))
        _publish(folder, lambda staging: write_stress(result, staging))
    n_draws = result.header["draws"]
    out_dir = folder.out_dir
    if json_:
        typer.echo(_records(result.table))
        return
    names = [c.name for c in result.cases]
    rows = []
    for metric in dict.fromkeys(result.table["metric"]):
        by_case = result.table[result.table["metric"] == metric].set_index("case")
        first = by_case.iloc[0]
        unit = first["unit"]
        rows.append([figure_label(metric), FORMATS.get(unit, number)(first["base"]),
                     *[change(by_case.loc[n, "change"], by_case.loc[n, "change_se"], unit) for n in names]])
    show(out_console, f"simsib stress · {result.header['scenario']} · {n_draws:,} draws · seed "
                      f"{result.header['seed_entropy']} · change from the base ± paired standard error "
                      "(pp: percentage points)", ["figure", "base", *[f"Δ {n}" for n in names]], rows)
    for c in result.cases:
        note(out_console, f"{c.name}: {c.description}", indent="  ")
    out_console.print(f"outputs in {out_dir}/", highlight=False)


@app.command("compare-mechanisms")
@guarded
def compare_mechanisms_cmd(
    scenario: Optional[str] = ScenarioArg,
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    out: Optional[Path] = OutOpt,
    workers: Optional[int] = WorkersOpt,
    force: bool = ForceOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Payment mechanisms on the same care paths, each priced to the same expected payment."""
    from simsib.analysis.mechanism_comparison import compare_mechanisms
    from simsib.report.mechanisms import write_mechanisms

    path, raw, validated = load(scenario, set_)
    n_draws = draws or validated.simulation.draws
    with _output(out, validated.meta.name, "mechanisms", force) as folder:
        result = _with_progress(n_draws, quiet or json_, lambda advance: compare_mechanisms(
            raw, validated, draws=draws, seed=seed, file=str(path), workers=workers or default_workers(),
            progress=advance))
        _publish(folder, lambda staging: write_mechanisms(result, staging))
    out_dir = folder.out_dir
    if json_:
        typer.echo(_records(result.table))
        return
    header = ["mechanism", "price", figure_label("outcome_payments"), figure_label("prob_pays_more_than_saved"),
              figure_label("payment_sd"), "Outcome payments p05–p95", figure_label("prob_loss"),
              figure_label("median_irr")]
    rows = []
    for r in result.table.itertuples(index=False):
        if r.price_key is None or (isinstance(r.price_key, float) and math.isnan(r.price_key)):
            price = "as declared"
        else:
            price = f"£{r.price:,.2f}" + ("" if r.priced else " (not matched: cap binds)")
        rows.append([r.mechanism, price, estimate(r.outcome_payments, r.outcome_payments_se, "money"),
                     estimate(r.prob_pays_more_than_saved, r.prob_pays_more_than_saved_se, "prob"),
                     money(r.payment_sd), f"{money(r.payment_p05)} – {money(r.payment_p95)}",
                     estimate(r.prob_loss, r.prob_loss_se, "prob"), estimate(r.median_irr, r.median_irr_se, "percent")])
    show(out_console, f"simsib compare-mechanisms · {result.header['scenario']} · {result.header['draws']:,} draws"
                      f" · seed {result.header['seed_entropy']} · each priced to "
                      f"{money(result.header['target_expected_payment'])} expected payment", header, rows)
    for r in result.table.itertuples(index=False):
        note(out_console, f"{r.mechanism}: {r.description}", indent="  ")
    out_console.print(f"outputs in {out_dir}/", highlight=False)
