"""``simsib update`` and ``simsib observe``: commands registered on :data:`simsib.cli.app.app`.

``update`` re-forecasts a scenario given observations files (one per review: each later file
adds to what is known) and writes a run folder of the posterior (:mod:`simsib.report.update_folder`).
Bad observations are exit 2 with every problem named; so is data no prior draw can produce.  A
prior that barely explains the data is exit 0 with the warnings printed and recorded in
``update.json``.  ``observe`` writes a simulated draw's figures as an observations file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from simsib.cli.app import (
    DrawsOpt,
    ForceOpt,
    JsonOpt,
    QuietOpt,
    ScenarioArg,
    SeedOpt,
    SetOpt,
    app,
    err_console,
    guarded,
    load,
    out_console,
)
from simsib.cli.terminal import show
from simsib.scenario.errors import ScenarioError


@app.command("update")
@guarded
def update_cmd(
    scenario: Optional[str] = ScenarioArg,
    observed: List[str] = typer.Option(..., "--observed", help="Observations CSV, or a bundled one (essex-year1, "
                                       "essex-end); repeat for later reviews, each adding to what is known."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder.", show_default="reports/<scenario>-update"),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, max=1024, help="Worker processes.", show_default="all cores"),
    ess_threshold: float = typer.Option(0.5, "--ess-threshold", min=0.0, max=1.0,
                                        help="Re-simulate the futures when the effective sample size is below this share of the draws."),
    posterior_draws: Optional[int] = typer.Option(None, "--posterior-draws", min=1, max=10_000_000,
                                                  help="Posterior draws written.", show_default="4,000, at most --draws"),
    paths: int = typer.Option(20, "--paths", min=2, max=1000,
                              help="Simulated paths per draw of the inputs (the synthetic likelihood's sample)."),
    summarise: bool = typer.Option(False, "--summarise", help="Condition on figures to date at year ends and "
                                   "the latest quarter instead of every per-quarter figure (see docs/observations.md)."),
    report: bool = typer.Option(False, "--report", help="Also write index.html, report.md and figures/."),
    force: bool = ForceOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Re-forecast from observed figures: a run folder of the posterior, plus update.json."""
    from simsib.analysis.update import update_stages
    from simsib.report.update import update_tables
    from simsib.report.update_folder import write_update_folder
    from simsib.run.ownership import OutputFolder
    from simsib.run.settings import default_workers

    _, raw, validated = load(scenario, set_)
    out_dir = out if out is not None else Path("reports") / f"{validated.meta.name}-update"
    # The folder rules (simsib.run.ownership): checked and locked before the work.
    with OutputFolder(out_dir, kind="run", force=force) as folder:
        results = update_stages(validated, observed, draws, seed, workers=workers or default_workers(),
                                ess_threshold=ess_threshold, posterior_draws=posterior_draws, paths=paths,
                                summarise=summarise)
        write_update_folder(results, raw, folder, command=["simsib", *sys.argv[1:]], report=report)
    out_dir = folder.out_dir
    content = json.loads((out_dir / "update.json").read_text())
    if json_:
        typer.echo(json.dumps(content, indent=2))
    else:
        from simsib.cli.run_view import print_summary

        print_summary(out_console, results[-1].summary_dict)
        for table in update_tables(content, results[-1].summary_dict):
            # The long tables (every input, every figure's fit) are in update.md.
            if quiet or table["title"].startswith(("What the data say", "The observed", "What the data cannot")):
                continue
            out_console.print()
            show(out_console, table["title"], table["header"], table["rows"])
        out_console.print(f"outputs in {out_dir}/ (update.md: every figure's fit and every input)")
    for warning in content["warnings"]:
        err_console.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


@app.command("observe")
@guarded
def observe_cmd(
    run_dir: Path = typer.Argument(..., help="A run folder written by `simsib run`."),
    draw: int = typer.Option(..., "--draw", min=0, help="The draw to observe (its row in draws.parquet)."),
    until_quarter: int = typer.Option(..., "--until-quarter", min=1, help="Observe the quarters before this one."),
    out: Path = typer.Option(..., "--out", "-o", help="The observations CSV to write."),
    series: List[str] = typer.Option([], "--series", help="Series to write (repeatable).", show_default="per-quarter "
                                     "referrals, starts, completions, care_days, child_days, payments"),
    to_date: bool = typer.Option(False, "--to-date", help="Figures since the contract began, at the last quarter, "
                                 "instead of one row per quarter."),
    noise: bool = typer.Option(False, "--noise", help="Measure each figure with the update's observation model "
                               "(as a calibration check assumes)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file that simsib observe did not write."),
) -> None:
    """Write a simulated draw's observables up to a quarter as an observations file."""
    from simsib.analysis.observations import write_observations
    from simsib.analysis.observe import draw_observations
    from simsib.report.tables import read_run

    _check_observations_path(out, force)  # before any work
    run = read_run(run_dir)
    if (run_dir / "update.json").is_file():
        raise ScenarioError.single("RUN_DIR", "is a re-forecast: its draws are resampled posterior draws, not a "
                                   "run's; observe a folder written by `simsib run`", value=str(run_dir))
    manifest = run.manifest
    made = draw_observations(run.scenario, manifest["seed_entropy"], manifest["chunk_size"], manifest["draws"],
                             draw, until_quarter, series=series or None, to_date=to_date, noise=noise,
                             source=f"simsib observe: draw {draw} of {run_dir}")
    recorded = run.column("outcome_payments")[draw]
    if abs(recorded - made.truth["outcome_payments"]) > 1e-6 * max(1.0, abs(recorded)):
        raise ScenarioError.single("RUN_DIR", "re-simulating the draw does not reproduce its draws.parquet row: "
                                   "the folder was written by another simsib or has been edited", value=str(run_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    comment = (f"{OBSERVE_MARK} draw {draw} of {run_dir} (scenario {run.summary.get('scenario')}, seed entropy "
               f"{manifest['seed_entropy']}), quarters before {until_quarter}"
               + (", measured with the update's observation model" if noise else ", as simulated") + ".")
    # Written beside the target and renamed over it: a failure leaves the old file, or none.
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        write_observations(temporary, made.observations.rows, header_comment=comment)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    out_console.print(f"{len(made.observations)} observations of draw {draw} written to {out}", highlight=False)


OBSERVE_MARK = "simsib observe:"  # the first words of every file `simsib observe` writes


def _check_observations_path(out: Path, force: bool) -> None:
    """The folder rules for a single file: replace only a file simsib observe wrote (or any, with --force)."""
    if out.is_dir():
        raise ScenarioError.single("--out", "expected a file path, but a folder is there", value=str(out))
    if out.exists() and not force:
        try:
            with open(out, encoding="utf-8", errors="replace") as handle:
                first = handle.readline()
        except OSError:
            first = ""
        if not first.startswith(f"# {OBSERVE_MARK}"):
            raise ScenarioError.single("--out", "this file exists and simsib observe did not write it; simsib never "
                                       "replaces it. Choose another path, or pass --force to replace it",
                                       value=str(out))
