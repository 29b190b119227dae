"""``simsib run``, ``validate`` and ``schema``: commands registered on :data:`simsib.cli.app.app`."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from simsib.cli.app import (
    EXIT_BAD_INPUT,
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
    app,
    err_console,
    guarded,
    load,
    out_console,
    out_folder,
    parse_precision,
    progress_reporter,
    sampling_override,
)
from simsib.cli.run_view import median_irr, print_summary
from simsib.run.settings import Executor, default_workers
from simsib.scenario.errors import ScenarioError


@app.command()
@guarded
def run(
    scenario: Optional[str] = ScenarioArg,
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder.", show_default="reports/<scenario name>"),
    set_: List[str] = SetOpt,
    precision: List[str] = PrecisionOpt,
    max_draws: Optional[int] = MaxDrawsOpt,
    sampling: Optional[Sampling] = SamplingOpt,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, max=1024, help="Worker processes.", show_default="all cores"),
    executor: Executor = typer.Option(Executor.local, "--executor", help="local processes, or a Dask cluster."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run (same scenario, seed, draws)."),
    cashflows: bool = typer.Option(False, "--cashflows", help="Also write each draw's quarterly investor cash flows."),
    report: bool = typer.Option(False, "--report", help="Also write index.html, report.md and figures/ into the run folder."),
    xlsx: bool = typer.Option(False, "--xlsx", help="Also write results.xlsx (summary and quarterly tables)."),
    force: bool = ForceOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Simulate a scenario and write summary.json, draws.parquet, quarterly.csv, manifest.json."""
    from simsib.run.folder import run_to_folder
    from simsib.run.settings import check_scheduler_address

    if out is not None:  # checked before the scenario is even read
        out_folder(out, Path())
    if scheduler and executor != Executor.dask:
        raise ScenarioError.single("--scheduler", "only used with --executor dask", value=scheduler)
    if scheduler:
        check_scheduler_address(scheduler)
    targets = parse_precision(precision) if precision else None
    if targets and draws is not None:
        raise ScenarioError.single("--draws", "give --draws or --precision, not both (--max-draws bounds a run "
                                   "to a precision)", value=draws)
    path, raw, validated = load(scenario, sampling_override(set_, sampling))
    out_dir = out_folder(out, Path("reports") / validated.meta.name)
    if targets is None and draws is None and validated.simulation.precision:
        targets = dict(validated.simulation.precision)
    if resume and seed is None:
        raise ScenarioError.single("--resume", "needs the --seed of the interrupted run", value=None)
    n_draws = (max_draws or validated.simulation.max_draws) if targets else (draws or validated.simulation.draws)
    bar, advance = progress_reporter(n_draws, quiet or json_)

    def notice(text: str) -> None:
        err_console.print(f"[yellow]note:[/] {escape(text)}", highlight=False, soft_wrap=True)

    def add_report(staging: Path, summary: dict) -> None:
        # Inside the run's staging folder, so the report is part of the same atomic write.
        from simsib.report.document import XLSX_FILE, render_report, write_xlsx

        if report:
            render_report(staging, staging)
        if xlsx:
            write_xlsx(staging, staging / XLSX_FILE)

    kwargs = dict(draws=draws, seed=seed, precision=targets, max_draws=max_draws, workers=workers or default_workers(), executor=executor,
                  scheduler=scheduler, resume=resume, cashflows=cashflows, force=force,
                  command=["simsib", *sys.argv[1:]], progress=advance, notice=notice,
                  extra_files=add_report if (report or xlsx) else None)
    if bar is not None:
        with bar:
            info = run_to_folder(validated, raw, out_dir, **kwargs)
    else:
        info = run_to_folder(validated, raw, out_dir, **kwargs)
    if json_:
        typer.echo(json.dumps(info.summary, indent=2))
    else:
        summarised = "irr_median" in info.summary.get("investor", {})
        print_summary(out_console, info.summary, None if summarised else median_irr(out_dir / "draws.parquet"))
        out_console.print(f"outputs in {out_dir}/", highlight=False)



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




@app.command("scenarios")
@guarded
def scenarios_cmd(json_: bool = JsonOpt) -> None:
    """List the bundled scenarios: the names any SCENARIO argument accepts, and what each represents."""
    import tomllib

    from simsib.cli.app import SCENARIO_DIR, bundled_names
    from simsib.cli.terminal import note

    listing = []
    for name in bundled_names():
        with open(SCENARIO_DIR / f"{name}.toml", "rb") as handle:
            meta = tomllib.load(handle).get("meta", {})
        listing.append({"name": name, "description": " ".join(str(meta.get("description", "")).split())})
    if json_:
        typer.echo(json.dumps(listing, indent=2))
        return
    for entry in listing:
        out_console.print(entry["name"], style="bold", highlight=False)
        note(out_console, entry["description"], indent="  ")
