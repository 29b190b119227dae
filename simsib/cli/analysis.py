"""Analysis commands: ``sweep``, ``sensitivity``, ``stress``, ``compare-mechanisms`` (``backtest``: :mod:`simsib.cli.backtest`).

Importing this module registers the commands on :data:`simsib.cli.app.app`.  It is the only
place these analyses print or exit.  Each writes its outputs atomically into a
folder of its own (default ``reports/<scenario>-<analysis>/``), replacing it whole -- except a
run folder (one with ``summary.json``), to which the files are added, each replaced atomically,
so that ``simsib report`` finds them.  ``simsib sensitivity`` writes into the scenario's run
folder ``reports/<scenario>/`` by default when there is one.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.table import Table

from simsib.cli.app import (
    DrawsOpt,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    app,
    guarded,
    load,
    out_console,
    progress_reporter,
)
from simsib.report.formatting import money, percent
from simsib.run.settings import default_workers
from simsib.scenario.errors import ScenarioError

OutOpt = typer.Option(None, "--out", "-o", help="Output folder [default: reports/<scenario>-<analysis>]; a run folder gets the files added.")
WorkersOpt = typer.Option(None, "--workers", "-w", min=1, max=1024, help="Worker processes [default: all cores].")


def _is_run_folder(folder: Path) -> bool:
    from simsib.run.outputs import SUMMARY_FILE

    return (folder / SUMMARY_FILE).is_file()


def _out_dir(out: Optional[Path], name: str, analysis: str, *, into_run: bool = False) -> Path:
    run_folder = Path("reports") / name
    if out is not None:
        out_dir = out
    elif into_run and _is_run_folder(run_folder):
        out_dir = run_folder
    else:
        out_dir = Path("reports") / f"{name}-{analysis}"
    if out_dir.exists() and not out_dir.is_dir():
        raise ScenarioError.single("--out", "expected a folder path, but a file is there", value=str(out_dir))
    return out_dir


def _publish(out_dir: Path, write: Callable[[Path], list[str]]) -> list[str]:
    """Write into a staging folder, then move it into place whole -- or, for a run folder,
    move each file in (replacing any earlier one) and leave the run's own files alone."""
    import os

    from simsib.run.outputs import publish, staging_folder

    staging = staging_folder(out_dir)
    try:
        written = write(staging)
        if _is_run_folder(out_dir):
            for name in written:
                os.replace(staging / name, out_dir / name)
            shutil.rmtree(staging, ignore_errors=True)
        else:
            publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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


@app.command("sweep")
@guarded
def sweep_cmd(
    scenario: Optional[str] = typer.Argument(None, help="Scenario file or bundled name [default: essex]."),
    grid: List[str] = typer.Option(..., "--grid", "-g", help="KEY=V1,V2,... or KEY=START:STOP:N (repeat for a product)."),
    metric: List[str] = typer.Option([], "--metric", "-m", help="Metric to report (repeatable) [default: outcome_payments, prob_cap_reached, prob_loss, median_irr]."),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    out: Optional[Path] = OutOpt,
    workers: Optional[int] = WorkersOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Sweep scenario keys over a grid on common random numbers: sweep.csv, sweep.md, figures."""
    from simsib.analysis.sweep import DEFAULT_METRICS, parse_grid, sweep
    from simsib.report.formatting import FORMATS
    from simsib.report.sweep import show_value, write_sweep

    path, raw, validated = load(scenario, set_)
    grids = [parse_grid(g) for g in grid]
    out_dir = _out_dir(out, validated.meta.name, "sweep")
    n_draws = draws or validated.simulation.draws
    result = _with_progress(n_draws, quiet or json_, lambda advance: sweep(
        raw, grids, metrics=metric or DEFAULT_METRICS, draws=draws, seed=seed,
        workers=workers or default_workers(), file=str(path), progress=advance))
    _publish(out_dir, lambda folder: write_sweep(result, folder))
    if json_:
        typer.echo(_records(result.table))
        return
    table = Table(title=f"simsib sweep · {result.header['scenario']} · {n_draws:,} draws a point · "
                        f"seed {result.header['seed_entropy']}")
    for g in result.grids:
        table.add_column(g.key)
    for m in result.metrics:
        table.add_column(m.label, justify="right")
    for _, row in result.table.iterrows():
        cells = [show_value(row[g.key]) for g in result.grids]
        cells += [f"{FORMATS[m.unit](row[m.name])} ± {FORMATS[m.unit](row[m.name + '_se'])}" for m in result.metrics]
        table.add_row(*cells)
    out_console.print(table)
    out_console.print(f"outputs in {out_dir}/")


@app.command("sensitivity")
@guarded
def sensitivity_cmd(
    scenario: Optional[str] = typer.Argument(None, help="Scenario file or bundled name [default: essex]."),
    metric: str = typer.Option("moic_committed", "--metric", "-m", help="Metric to explain, e.g. moic_committed or net_benefit."),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    sobol_n: int = typer.Option(512, "--sobol-n", min=0, max=1 << 20, help="Sobol base samples (a power of two; 0 skips Sobol)."),
    out: Optional[Path] = OutOpt,
    workers: Optional[int] = WorkersOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Rank the uncertain inputs by influence on a metric: tornado, rank correlations, Sobol indices."""
    from simsib.analysis.sensitivity import sensitivity
    from simsib.report.formatting import FORMATS
    from simsib.report.sensitivity import format_index, write_sensitivity

    _, _, validated = load(scenario, set_)
    out_dir = _out_dir(out, validated.meta.name, "sensitivity", into_run=True)
    n_draws = draws or validated.simulation.draws
    result = _with_progress(n_draws, quiet or json_, lambda advance: sensitivity(
        validated, metric, draws=draws, seed=seed, sobol_n=sobol_n, workers=workers or default_workers(),
        progress=advance))
    _publish(out_dir, lambda folder: write_sensitivity(result, folder))
    if json_:
        typer.echo(_records(result.table))
        return
    fmt = FORMATS[result.metric.unit]
    table = Table(title=f"simsib sensitivity · {result.header['scenario']} · {result.metric.label} · "
                        f"{n_draws:,} draws · seed {result.header['seed_entropy']}")
    for column, justify in (("rank", "right"), ("input", "left"), ("bottom decile", "right"),
                            ("top decile", "right"), ("Spearman ρ", "right"), ("S1", "right"), ("ST", "right")):
        table.add_column(column, justify=justify)
    for rank, r in enumerate(result.table.itertuples(index=False), start=1):
        table.add_row(str(rank), r.input, f"{fmt(r.low_mean)} ± {fmt(r.low_se)}", f"{fmt(r.high_mean)} ± {fmt(r.high_se)}",
                      "–" if math.isnan(r.rank_correlation) else f"{r.rank_correlation:+.2f}",
                      format_index(r.S1, r.S1_conf), format_index(r.ST, r.ST_conf))
    out_console.print(table)
    out_console.print(f"outputs in {out_dir}/")


@app.command("stress")
@guarded
def stress_cmd(
    scenario: Optional[str] = typer.Argument(None, help="Scenario file or bundled name [default: essex]."),
    case: List[str] = typer.Option([], "--case", "-c", help="Run only this stress case (repeatable) [default: all]."),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    out: Optional[Path] = OutOpt,
    workers: Optional[int] = WorkersOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Run the scenario's named stress cases (its stress tables) against the base on common random numbers."""
    from simsib.analysis.stress import stress_test
    from simsib.report.formatting import FORMATS
    from simsib.report.stress import signed, write_stress

    path, raw, validated = load(scenario, set_)
    out_dir = _out_dir(out, validated.meta.name, "stress")
    n_draws = draws or validated.simulation.draws
    result = _with_progress(n_draws, quiet or json_, lambda advance: stress_test(
        raw, validated, names=case, draws=draws, seed=seed, workers=workers or default_workers(),
        file=str(path), progress=advance))
    _publish(out_dir, lambda folder: write_stress(result, folder))
    if json_:
        typer.echo(_records(result.table))
        return
    names = [c.name for c in result.cases]
    table = Table(title=f"simsib stress · {result.header['scenario']} · {n_draws:,} draws · "
                        f"seed {result.header['seed_entropy']} · change vs base ± paired se")
    table.add_column("figure")
    table.add_column("base", justify="right")
    for name in names:
        table.add_column(f"Δ {name}", justify="right")
    for metric in dict.fromkeys(result.table["metric"]):
        rows = result.table[result.table["metric"] == metric].set_index("case")
        first = rows.iloc[0]
        fmt = FORMATS[first["unit"]]
        table.add_row(first["label"], fmt(first["base"]),
                      *[f"{signed(fmt, rows.loc[n, 'change'])} ± {fmt(rows.loc[n, 'change_se'])}" for n in names])
    out_console.print(table)
    for c in result.cases:
        out_console.print(f"  {c.name}: {c.description}", highlight=False)
    out_console.print(f"outputs in {out_dir}/")


@app.command("compare-mechanisms")
@guarded
def compare_mechanisms_cmd(
    scenario: Optional[str] = typer.Argument(None, help="Scenario file or bundled name [default: essex]."),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    out: Optional[Path] = OutOpt,
    json_: bool = JsonOpt,
) -> None:
    """Payment mechanisms on the same care paths, each priced to the same expected payment."""
    from simsib.analysis.mechanism_comparison import compare_mechanisms
    from simsib.report.mechanisms import write_mechanisms

    path, raw, validated = load(scenario, set_)
    out_dir = _out_dir(out, validated.meta.name, "mechanisms")
    result = compare_mechanisms(raw, validated, draws=draws, seed=seed, file=str(path))
    _publish(out_dir, lambda folder: write_mechanisms(result, folder))
    if json_:
        typer.echo(_records(result.table))
        return
    table = Table(title=f"simsib compare-mechanisms · {result.header['scenario']} · {result.header['draws']:,} draws"
                        f" · seed {result.header['seed_entropy']} · priced to {money(result.header['target_expected_payment'])}")
    for column in ("mechanism", "price", "expected payment", "council P(pays > saved)", "payment sd",
                   "payment p05–p95", "investors' P(loss)", "median IRR"):
        table.add_column(column, justify="left" if column == "mechanism" else "right", no_wrap=column == "mechanism")
    for r in result.table.itertuples(index=False):
        if r.price_key is None or (isinstance(r.price_key, float) and math.isnan(r.price_key)):
            price = "as declared"
        else:
            price = f"£{r.price:,.2f}" + ("" if r.priced else " (not matched: cap binds)")
        table.add_row(r.mechanism, price, f"{money(r.outcome_payments)} ± {money(r.outcome_payments_se)}",
                      f"{percent(r.prob_pays_more_than_saved)} ± {percent(r.prob_pays_more_than_saved_se)}",
                      money(r.payment_sd), f"{money(r.payment_p05)} – {money(r.payment_p95)}",
                      f"{percent(r.prob_loss)} ± {percent(r.prob_loss_se)}",
                      f"{percent(r.median_irr)} ± {percent(r.median_irr_se)}")
    out_console.print(table)
    for r in result.table.itertuples(index=False):
        out_console.print(f"  {r.mechanism}: {r.description}", highlight=False)
    out_console.print(f"outputs in {out_dir}/")
