"""The ``simsib`` command line.  The only module that prints, exits or touches the terminal.

Exit codes: 0 ok, 2 bad input (scenario or arguments), 1 internal error.  User errors are one
readable message, never a traceback (set ``SIMSIB_DEBUG=1`` to see tracebacks of internal
errors).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simsib import __version__
from simsib.errors import ScenarioError
from simsib.execution import ExecutionError, Executor, default_workers
from simsib.formatting import money, multiple, number, percent
from simsib.loader import bundled_scenario_path, load_raw, validate
from simsib.summary import HEADLINES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Monte Carlo investment-risk simulator for social impact bonds.",
    pretty_exceptions_enable=False,
)
# Piped output (CI, files) gets a fixed width wide enough for the tables instead of rich's 80.
out_console = Console(width=None if sys.stdout.isatty() else 132)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 132)

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1


def _version(value: bool) -> None:
    if value:
        typer.echo(f"simsib {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Monte Carlo investment-risk simulator for social impact bonds."""


def guarded(command: Callable) -> Callable:
    """Turn simsib's errors into exit codes and one clear message."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ScenarioError as exc:
            err_console.print(f"[bold red]error:[/] {escape(exc.render())}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except ExecutionError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INTERNAL) from None
        except KeyboardInterrupt:
            err_console.print("interrupted: no output was written (completed chunks are kept for --resume)")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("SIMSIB_DEBUG"):
                traceback.print_exc()
            err_console.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                "This is a bug in simsib; rerun with SIMSIB_DEBUG=1 for the traceback.",
                highlight=False, soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def scenario_path(scenario: Optional[str]) -> Path:
    """A scenario argument: a file path, or the name of a bundled scenario (``essex-launch``)."""
    if scenario is None:
        return bundled_scenario_path()
    path = Path(scenario)
    if path.exists() or path.suffix == ".toml" or os.sep in scenario:
        return path
    bundled = bundled_scenario_path(scenario)
    return bundled if bundled.exists() else path


def load(scenario: Optional[str], overrides: List[str]):
    """(path, raw resolved table, validated Scenario)."""
    path = scenario_path(scenario)
    raw = load_raw(path, overrides)
    return path, raw, validate(raw, file=str(path))


# Shared options ---------------------------------------------------------------------------
DrawsOpt = typer.Option(None, "--draws", "-n", min=1, max=100_000_000, help="Monte Carlo draws [default: the scenario's, 10,000].")
SeedOpt = typer.Option(None, "--seed", "-s", min=0, help="Seed; an unseeded run records the entropy it used.")
SetOpt = typer.Option([], "--set", help="Override a scenario value: dotted.key=value (repeatable).")
JsonOpt = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar.")


def headline_table(summary: dict[str, Any]) -> Table:
    """Rich table of the headline figures: mean ± se, and the 90% interval."""
    table = Table(title=f"simsib · {summary['scenario']} · {summary['draws']:,} draws · seed {summary['seed_entropy']}")
    table.add_column("figure")
    table.add_column("mean", justify="right")
    table.add_column("± se", justify="right")
    table.add_column("p05", justify="right")
    table.add_column("median", justify="right")
    table.add_column("p95", justify="right")
    fmt = {"multiple": multiple, "percent": percent, "money": money, "number": number, "prob": percent}
    for label, section, key, kind in HEADLINES:
        stats = summary[section][key]
        f = fmt[kind]
        if "value" in stats:
            table.add_row(label, f(stats["value"]), f(stats["se"]), "", "", "")
        else:
            table.add_row(label, f(stats["mean"]), f(stats["se"]), f(stats["p05"]), f(stats["p50"]), f(stats["p95"]))
    return table


def progress_reporter(total: int, quiet: bool):
    """A rich progress bar on an interactive terminal; nothing in CI, when piped or --quiet."""
    if quiet or not err_console.is_terminal or os.environ.get("CI"):
        return None, lambda n: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("draws"),
                   TimeRemainingColumn(), console=err_console, transient=True)
    task = bar.add_task("draws", total=total)
    return bar, lambda n: bar.advance(task, n)


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
    from simsib.runner import run_to_folder

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
        from simsib.report import XLSX_FILE, write_report, write_xlsx

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
        out_console.print(f"outputs in {out_dir}/")


def check_stress_cases(path: Path, raw: dict, scenario) -> None:
    """Validate every ``[stress.*]`` case as a variant; raise one ScenarioError with all problems.

    A typo in a stress case must not wait for ``simsib stress`` to surface.
    """
    from simsib.stress import stress_cases

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
    from simsib.scenario import Scenario

    text = json.dumps(Scenario.model_json_schema(), indent=2)
    if out:
        out.write_text(text + "\n")
    else:
        typer.echo(text)


@app.command()
@guarded
def backtest(
    draws: int = typer.Option(4000, "--draws", "-n", min=100, max=10_000_000, help="Draws per scenario."),
    seed: int = typer.Option(20190331, "--seed", "-s", min=0, help="Seed (the same for every scenario)."),
    out: Path = typer.Option(Path("reports") / "backtest", "--out", "-o", help="Folder for backtest.csv and backtest.json."),
    json_: bool = JsonOpt,
) -> None:
    """Published Essex figures beside the model's mean and 90% interval (essex-* scenarios)."""
    from simsib.backtest import run_backtest
    from simsib.outputs import publish, staging_folder, write_json

    table = run_backtest(draws=draws, seed=seed)
    staging = staging_folder(out)
    table.to_csv(staging / "backtest.csv", index=False)
    write_json(staging / "backtest.json", {"draws": draws, "seed": seed, "simsib_version": __version__,
                                            "rows": table.to_dict(orient="records")})
    publish(staging, out)
    if json_:
        typer.echo(table.to_json(orient="records", indent=2))
        return
    fmt = {"multiple": multiple, "percent": percent, "money": money, "number": number}
    view = Table(title=f"Essex backtest · {draws:,} draws per scenario · seed {seed}")
    for column in ("figure", "evidence", "published", "model mean", "median", "90% interval", "inside", "scenario"):
        view.add_column(column, justify="right" if column in ("published", "model mean", "median") else "left")
    for row in table.itertuples():
        f = fmt[row.kind]
        view.add_row(row.figure, row.evidence, f(row.published), f(row.mean), f(row.p50), f"{f(row.p05)} – {f(row.p95)}",
                     "[green]yes[/]" if row.inside else "[red]no[/]", row.scenario)
    out_console.print(view)
    out_console.print(f"written to {out}/backtest.csv and backtest.json")


def entry() -> None:  # console script
    app()


if __name__ == "__main__":  # pragma: no cover
    entry()


# Commands defined in other modules register themselves on `app` when imported (last, so that
# everything they take from this module exists).
import simsib.cli_analysis  # noqa: E402,F401  (sweep, sensitivity, stress, compare-mechanisms)
import simsib.cli_report  # noqa: E402,F401  (report, compare)
