"""``simsib report`` and ``simsib compare``: commands registered on :data:`simsib.cli.app`.

Importing this module registers the commands on :data:`simsib.cli.app.app`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from simsib.cli.app import (
    SCENARIO_HELP,
    DrawsOpt,
    ForceOpt,
    JsonOpt,
    MaxDrawsOpt,
    PrecisionOpt,
    QuietOpt,
    Sampling,
    SamplingOpt,
    SeedOpt,
    WorkersOpt,
    app,
    guarded,
    load,
    out_console,
    out_folder,
    precision_plan,
    sampling_override,
)
from simsib.cli.terminal import figure_label, show
from simsib.scenario.errors import ScenarioError


@app.command()
@guarded
def report(
    run_dir: Path = typer.Argument(..., help="A run folder written by `simsib run`."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the report here.", show_default="RUN_DIR"),
    xlsx: bool = typer.Option(False, "--xlsx", help="Also write the tables as an Excel workbook."),
    force: bool = ForceOpt,
) -> None:
    """Write index.html (self-contained), report.md and figures/ for a run folder."""
    import sys

    from simsib.report.document import XLSX_FILE, write_report

    if not run_dir.is_dir():
        what = "there is no such folder" if not run_dir.exists() else "this is a file, not a folder"
        raise ScenarioError.single("RUN_DIR", f"not a complete simsib run folder: {what} (make one with "
                                   "`simsib run --out DIR`)", value=str(run_dir))
    target = out_folder(out, run_dir)
    html = write_report(run_dir, target, xlsx=xlsx, force=force, command=["simsib", *sys.argv[1:]])
    out_console.print(f"report: {html}", highlight=False)
    if xlsx:
        out_console.print(f"workbook: {html.parent / XLSX_FILE}", highlight=False)


@app.command("compare")
@guarded
def compare_cmd(
    scenario_a: str = typer.Argument(..., help="Scenario A: " + SCENARIO_HELP[0].lower() + SCENARIO_HELP[1:]),
    scenario_b: Optional[str] = typer.Argument(None, help="Scenario B.", show_default="A, changed by --set"),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = typer.Option([], "--set", help="Override a value in scenario B only: dotted.key=value (repeatable)."),
    precision: List[str] = PrecisionOpt,
    max_draws: Optional[int] = MaxDrawsOpt,
    sampling: Optional[Sampling] = SamplingOpt,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write comparison.{json,csv,md,png,svg} here."),
    workers: Optional[int] = WorkersOpt,
    force: bool = ForceOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Compare two scenarios on common random numbers: B − A per headline metric, P(B better).

    "Better" takes the point of view of whoever the metric matters to: higher MOIC, IRR, NPV,
    true savings, net benefit and starts are better; lower P(loss), outcome payments,
    deadweight and treated care proportion are better.
    """
    import contextlib
    import sys

    from simsib.analysis.compare import compare
    from simsib.cli.analysis import _with_progress
    from simsib.report.compare import formatted_rows, save_comparison
    from simsib.report.document import staged
    from simsib.run.settings import default_workers

    if scenario_b is None and not set_:
        raise ScenarioError.single("SCENARIO_B", "compare needs two scenarios, or one and at least one --set "
                                   "key=value that changes it into B (else B is A and every difference is zero)",
                                   value=None)
    if out is not None:
        out_folder(out, Path())
    _, _, a = load(scenario_a, sampling_override([], sampling))
    _, _, b = load(scenario_b or scenario_a, sampling_override(set_, sampling))
    until = precision_plan(precision, max_draws, draws, a)
    label_b = None
    if set_:
        label_b = f"{b.meta.name} [{', '.join(set_)}]"
    # The folder is locked and checked before the simulation, and published after it.
    writing = staged(out, kind="comparison", add=False, force=force, command=["simsib", *sys.argv[1:]]) \
        if out is not None else contextlib.nullcontext(None)
    with writing as staging:
        n_draws = until.max_draws if until else (draws or a.simulation.draws)
        result = _with_progress(n_draws, quiet or json_, lambda advance: compare(
            a, b, draws=draws, seed=seed, workers=workers or default_workers(), label_b=label_b, precision=until,
            progress=advance))
        if staging is not None:
            save_comparison(result, staging)
    if json_:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    rows = formatted_rows(result)
    for row, column in zip(rows, result.table["column"]):
        row[0] = figure_label(column)
    show(out_console, f"A: {result.label_a} · B: {result.label_b} · {result.draws:,} draws · seed "
                      f"{result.seed_entropy} · common random numbers; B − A ± paired standard error "
                      "(pp: percentage points)",
         ["figure", "A", "B", "B − A ± se", "P(B better) ± se", "better when"], rows, left=(0, 5))
    if out is not None:
        out_console.print(f"outputs in {out}/", highlight=False)
