"""``simsib run``, ``validate`` and ``schema``: commands registered on :data:`simsib.cli.app.app`."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from simsib.cli.app import (
    EXIT_BAD_INPUT,
    DrawsOpt,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    app,
    err_console,
    guarded,
    load,
    out_console,
    progress_reporter,
)
from simsib.report.formatting import money, multiple, number, percent
from simsib.report.headlines import headlines, stat_at, tranche_rows
from simsib.run.settings import Executor, default_workers
from simsib.scenario.errors import ScenarioError


def headline_table(summary: dict[str, Any]) -> Table:
    """Rich table of the headline figures: mean ± se, and the 90% interval."""
    table = Table(title=f"simsib · {summary['scenario']} · {summary['draws']:,} draws · seed {summary['seed_entropy']}")
    table.add_column("figure")
    table.add_column("mean", justify="right")
    table.add_column("± se", justify="right")
    table.add_column("p05", justify="right")
    table.add_column("median", justify="right")
    table.add_column("p95", justify="right")
    for label, section, key, kind in headlines(summary):
        stats = stat_at(summary, section, key)
        f = FORMATS[kind]
        if stats is None or stats.get("value", stats.get("mean")) is None:
            continue
        if "value" in stats:
            table.add_row(label, f(stats["value"]), f(stats["se"]), "", "", "")
        else:
            table.add_row(label, f(stats["mean"]), f(stats["se"]), f(stats["p05"]), f(stats["p50"]), f(stats["p95"]))
    return table


FORMATS = {"multiple": multiple, "percent": percent, "money": money, "number": number, "prob": percent}


def tranche_table(summary: dict[str, Any]) -> Table | None:
    """Rich table of each tranche side by side: mean (or probability) ± se, and the median."""
    names, rows = tranche_rows(summary)
    if not names:
        return None
    table = Table(title="by tranche: mean ± se (median)")
    table.add_column("figure")
    for name in names:
        table.add_column(name, justify="right")
    for label, kind, stats in rows:
        f = FORMATS[kind]
        cells = []
        for s in stats:
            if s is None or s.get("value", s.get("mean")) is None:
                cells.append("")
            elif "value" in s:
                cells.append(f"{f(s['value'])} ± {f(s['se'])}")
            else:
                cells.append(f"{f(s['mean'])} ± {f(s['se'])} ({f(s['p50'])})")
        table.add_row(label, *cells)
    return table


@app.command()
@guarded
def run(
    scenario: Optional[str] = typer.Argument(None, help="Scenario file or bundled name [default: essex]."),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder [default: reports/<scenario name>]."),
    set_: List[str] = SetOpt,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, max=1024, help="Worker processes [default: all cores]."),
    executor: Executor = typer.Option(Executor.local, "--executor", help="local processes, or a Dask cluster."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run (same scenario, seed, draws)."),
    cashflows: bool = typer.Option(False, "--cashflows", help="Also write each draw's quarterly investor cash flows."),
    report: bool = typer.Option(False, "--report", help="Also write index.html, report.md and figures/ into the run folder."),
    xlsx: bool = typer.Option(False, "--xlsx", help="Also write results.xlsx (summary and quarterly tables)."),
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Simulate a scenario and write summary.json, draws.parquet, quarterly.csv, manifest.json."""
    from simsib.run.folder import run_to_folder

    path, raw, validated = load(scenario, set_)
    if scheduler and executor != Executor.dask:
        raise ScenarioError.single("--scheduler", "only used with --executor dask", value=scheduler)
    out_dir = out if out is not None else Path("reports") / validated.meta.name
    if out_dir.exists() and not out_dir.is_dir():
        raise ScenarioError.single("--out", "expected a folder path, but a file is there", value=str(out_dir))
    if resume and seed is None:
        raise ScenarioError.single("--resume", "needs the --seed of the interrupted run", value=None)
    n_draws = draws or validated.simulation.draws
    bar, advance = progress_reporter(n_draws, quiet or json_)
    def add_report(staging: Path, summary: dict) -> None:
        # Inside the run's staging folder, so the report is part of the same atomic write.
        from simsib.report.document import XLSX_FILE, write_report, write_xlsx

        if report:
            write_report(staging)
        if xlsx:
            write_xlsx(staging, staging / XLSX_FILE)

    kwargs = dict(draws=draws, seed=seed, workers=workers or default_workers(), executor=executor,
                  scheduler=scheduler, resume=resume, cashflows=cashflows, command=["simsib", *sys.argv[1:]], progress=advance,
                  extra_files=add_report if (report or xlsx) else None)
    if bar is not None:
        with bar:
            info = run_to_folder(validated, raw, out_dir, **kwargs)
    else:
        info = run_to_folder(validated, raw, out_dir, **kwargs)
    if json_:
        typer.echo(json.dumps(info.summary, indent=2))
    else:
        out_console.print(headline_table(info.summary))
        tranches = tranche_table(info.summary)
        if tranches is not None:
            out_console.print(tranches)
        out_console.print(f"outputs in {out_dir}/")



def check_stress_cases(path: Path, raw: dict, scenario) -> None:
    """Validate every ``[stress.*]`` case as a variant; raise one ScenarioError with all problems.

    A typo in a stress case must not wait for ``simsib stress`` to surface.
    """
    from simsib.scenario.variants import stress_cases

    problems = []
    for name in scenario.stress:
        try:
            stress_cases(raw, scenario, names=[name], file=str(path))
        except ScenarioError as exc:
            prefix = f"stress.{name}.set"
            for p in exc.problems:
                message = p.message.removeprefix(f"{prefix}: ")
                key = p.key if p.key.startswith(prefix) else f"{prefix}.{p.key}"
                problems.append(dataclasses.replace(p, key=key, message=message))
    if problems:
        raise ScenarioError(problems, file=str(path))



@app.command("validate")
@guarded
def validate_cmd(
    files: List[str] = typer.Argument(..., help="Scenario files to check."),
    set_: List[str] = SetOpt,
    json_: bool = JsonOpt,
) -> None:
    """Check scenario files; report every problem in each (exit 2 if any is invalid)."""
    results = []
    for name in files:
        try:
            path, raw, scenario = load(name, set_)
            check_stress_cases(path, raw, scenario)
            results.append({"file": str(path), "valid": True, "name": scenario.meta.name})
        except ScenarioError as exc:
            results.append({"file": name, "valid": False, "problems": [p.render(None) for p in exc.problems],
                            "message": exc.render()})
    if json_:
        typer.echo(json.dumps(results, indent=2))
    else:
        for r in results:
            if r["valid"]:
                out_console.print(f"[green]ok[/]  {escape(r['file'])}  ({r['name']})", highlight=False)
            else:
                err_console.print(f"[bold red]invalid[/] {escape(r['message'])}", highlight=False, soft_wrap=True)
    if not all(r["valid"] for r in results):
        raise typer.Exit(EXIT_BAD_INPUT)



@app.command()
@guarded
def schema(out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout.")) -> None:
    """Print the JSON Schema of the scenario format (for editor completion and checking)."""
    from simsib.scenario.format import Scenario

    text = json.dumps(Scenario.model_json_schema(), indent=2)
    if out:
        out.write_text(text + "\n")
    else:
        typer.echo(text)


