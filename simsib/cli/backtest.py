"""The ``backtest`` command: published figures beside the model, each row with its role.

Importing this module registers the command on :data:`simsib.cli.app.app`.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from simsib import __version__
from simsib.cli.app import JsonOpt, QuietOpt, app, guarded, out_console

ROLE_STYLE = {"predicted": "bold", "out_of_sample": "bold", "reference_class": "bold", "fitted": "dim", "derived": "dim"}


@app.command()
@guarded
def backtest(
    draws: int = typer.Option(4000, "--draws", "-n", min=100, max=10_000_000, help="Draws per scenario."),
    seed: int = typer.Option(20190331, "--seed", "-s", min=0, help="Seed (the same for every scenario)."),
    out: Path = typer.Option(Path("reports") / "backtest", "--out", "-o",
                             help="Folder for backtest.csv/.md/.json, identification.csv and judgements.csv."),
    tables: bool = typer.Option(True, "--tables/--no-tables",
                                help="Also compute the identification and judgement tables (a minute at 4,000 draws)."),
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Published figures beside the model's mean, 90% interval and percentile, each row labelled
    fitted, derived, predicted, out of sample or reference class; with the identification and
    judgement tables.  --json prints the rows as a JSON list."""
    from simsib.analysis.backtest import run_backtest, tally
    from simsib.cli.analysis import _publish
    from simsib.report.backtest import (
        IDENTIFICATION_HEAD,
        JUDGEMENT_HEAD,
        identification_cells,
        judgement_cells,
        row_cells,
        write_backtest,
    )

    def progress(name: str) -> None:
        if not (quiet or json_):
            out_console.print(f"  {name} done", highlight=False)

    result = run_backtest(draws=draws, seed=seed, identification=tables, judgements=tables, progress=progress)
    result.header["simsib_version"] = __version__
    _publish(out, lambda folder: write_backtest(result, folder))
    if json_:
        typer.echo(json.dumps(result.json_rows(), indent=2))
        return
    view = Table(title=f"simsib backtest · {draws:,} draws per scenario · seed {seed}")
    for column in ("figure", "evidence", "role", "published", "model mean", "median", "90% interval", "percentile",
                   "inside", "scenario"):
        view.add_column(column, justify="right" if column in ("published", "model mean", "median", "percentile") else "left")
    for row in result.rows.to_dict(orient="records"):
        cells = [c.replace("**no**", "[red]no[/]").replace("`", "") for c in row_cells(row)]
        view.add_row(*cells, style=ROLE_STYLE[row["role"]])
    out_console.print(view)
    inside, of = tally(result.rows)
    out_console.print(f"{inside} of {of} predicted and out-of-sample rows inside their 90% interval "
                      "(fitted and derived rows, dimmed, check the tuning, not the model)", highlight=False)
    if result.identification is not None:
        ident = Table(title="What Essex's 10.8% cannot tell apart: pairs that all reproduce it (essex-realised)")
        for column in IDENTIFICATION_HEAD:
            ident.add_column(column, justify="right")
        for row in result.identification.to_dict(orient="records"):
            ident.add_row(*identification_cells(row))
        out_console.print(ident)
    if result.judgements is not None:
        judged = Table(title="Judgement sensitivity: each judgement over a plausible range (common random numbers)")
        for column in JUDGEMENT_HEAD:
            judged.add_column(column)
        for row in result.judgements.to_dict(orient="records"):
            judged.add_row(*[c.replace("`", "") for c in judgement_cells(row)])
        out_console.print(judged)
    out_console.print(f"outputs in {out}/")
