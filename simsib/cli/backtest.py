"""The ``backtest`` command: published figures beside the model, each row with its role.

Importing this module registers the command on :data:`simsib.cli.app.app`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from simsib import __version__
from simsib.cli.app import ForceOpt, JsonOpt, QuietOpt, WorkersOpt, app, guarded, out_console
from simsib.cli.terminal import change, note, show

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
    workers: Optional[int] = WorkersOpt,
    force: bool = ForceOpt,
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
        row_cells,
        write_backtest,
    )
    from simsib.run.ownership import OutputFolder
    from simsib.run.settings import default_workers

    def progress(name: str) -> None:
        if not (quiet or json_):
            out_console.print(f"  {name} done", highlight=False)

    # The folder is checked and locked before the minute of work, and published after it.
    with OutputFolder(out, kind="backtest", force=force) as folder:
        result = run_backtest(draws=draws, seed=seed, identification=tables, judgements=tables, progress=progress,
                              workers=workers or default_workers())
        result.header["simsib_version"] = __version__
        _publish(folder, lambda staging: write_backtest(result, staging))
    if json_:
        typer.echo(json.dumps(result.json_rows(), indent=2))
        return
    rows = result.rows.to_dict(orient="records")
    # Bold: the rows that test the model (predicted, out of sample, reference class); dim: the
    # fitted and derived rows, which check the tuning.
    show(out_console, f"simsib backtest · {draws:,} draws per scenario · seed {seed}",
         ["figure", "evidence", "role", "published", "model mean", "median", "90% interval", "percentile",
          "inside", "scenario"],
         [[c.replace("**no**", "no").replace("`", "") for c in row_cells(row)] for row in rows],
         styles=[ROLE_STYLE[row["role"]] for row in rows], left=(0, 1, 2, 6, 8, 9))
    inside, of = tally(result.rows)
    note(out_console, f"{inside} of {of} predicted and out-of-sample rows inside their 90% interval "
                      "(fitted and derived rows, dimmed, check the tuning, not the model)")
    if result.identification is not None:
        out_console.print()
        show(out_console, "What Essex's 10.8% cannot tell apart: pairs that all reproduce it (essex-realised)",
             list(IDENTIFICATION_HEAD), [identification_cells(row) for row in result.identification.to_dict(orient="records")])
    if result.judgements is not None:
        out_console.print()
        show(out_console, "Judgement sensitivity: each judgement over a plausible range (common random numbers)",
             ["scenario · judgement: set to", *JUDGEMENT_HEAD[3:]],
             [_judgement_cells(row) for row in result.judgements.to_dict(orient="records")])
    out_console.print(f"outputs in {out}/", highlight=False)


def _judgement_cells(row: dict) -> list[str]:
    """A judgement row as :func:`simsib.report.backtest.judgement_cells` gives it, but with one label
    column (a page of the table repeats it) and the change in P(loss) in percentage points:
    "scenario · judgement: set to", and per figure "varied (Δ ± se)"."""
    from simsib.report.formatting import money, multiple, percent

    def cell(figure: str, fmt, unit: str) -> str:
        return f"{fmt(row[figure])} ({change(row[f'{figure}_change'], row[f'{figure}_change_se'], unit)})"

    return [f"{row['scenario']} · {row['judgement']}: {row['variant']}", cell("prob_loss", percent, "prob"),
            cell("median_moic_committed", multiple, "multiple"), cell("net_benefit", money, "money")]
