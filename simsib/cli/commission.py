"""The ``commission`` command: SIB or not -- the council's options on the same simulated young people.

Importing this module registers the command on :data:`simsib.cli.app.app`.  Its outputs go where
the other analyses' go (:func:`simsib.cli.analysis._output`, under the folder rules of
:mod:`simsib.run.ownership`): into the scenario's run folder ``reports/<scenario>/`` when there is
one (so that ``simsib report`` includes the comparison), else ``reports/<scenario>-commission/``.
"""

from __future__ import annotations

import json
import textwrap
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from simsib.cli.analysis import OutOpt, _output, _publish, _with_progress
from simsib.cli.app import (
    DrawsOpt,
    ForceOpt,
    JsonOpt,
    QuietOpt,
    ScenarioArg,
    SeedOpt,
    SetOpt,
    WorkersOpt,
    app,
    guarded,
    load,
    out_console,
)
from simsib.cli.terminal import show

WIDTH = 80  # the terminal table and notes fit an 80-column terminal


class Horizon(str, Enum):
    to_18 = "to-18"
    window = "window"


@app.command("commission")
@guarded
def commission_cmd(
    scenario: Optional[str] = ScenarioArg,
    horizon: Horizon = typer.Option(Horizon.to_18, "--horizon", help="Count care avoided to each young person's "
                                    "18th birthday (to-18) or inside the contract's tracking windows (window)."),
    draws: Optional[int] = DrawsOpt,
    seed: Optional[int] = SeedOpt,
    set_: List[str] = SetOpt,
    out: Optional[Path] = OutOpt,
    workers: Optional[int] = WorkersOpt,
    force: bool = ForceOpt,
    json_: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """SIB or not: the SIB as contracted beside direct commissioning, payment by results without
    investors and doing nothing, on the same simulated young people (common random numbers)."""
    from simsib.analysis.commission import commission
    from simsib.analysis.commission_tables import summary
    from simsib.report.commission import CASH_HEADER_SHORT, OPTION_HEADER, cash_rows, intro, option_rows, verdict_lines
    from simsib.report.commission_section import write_commission
    from simsib.run.settings import default_workers

    path, _, validated = load(scenario, set_)
    key = horizon.value.replace("-", "_")
    n_draws = draws or validated.simulation.draws
    with _output(out, validated.meta.name, "commission", force, into_run=True) as folder:
        result = _with_progress(n_draws, quiet or json_, lambda advance: commission(
            validated, draws=draws, seed=seed, workers=workers or default_workers(), progress=advance, file=str(path)))
        tables = summary(result.draws, result.cash_position)
        _publish(folder, lambda staging: write_commission(result, tables, staging, key))
    out_dir = folder.out_dir
    header = {**result.header, "horizon": key}
    if json_:
        typer.echo(json.dumps({"header": header, "horizons": tables}, indent=2, default=str))
        return
    chosen = tables[key]
    out_console.print(escape(f"simsib commission · {header['scenario']} · {n_draws:,} draws · seed "
                             f"{header['seed_entropy']}"), highlight=False, style="bold")
    _note(intro(header))
    for heading, columns, rows in (("Net benefit against doing nothing, present value", OPTION_HEADER,
                                    option_rows(chosen, short=True)),
                                   ("Cost, outlays and peak cash need", CASH_HEADER_SHORT, cash_rows(chosen, short=True))):
        show(out_console, heading, columns, rows)
    for line in verdict_lines(chosen, header):
        _note(line, bullet=True)
    out_console.print(f"outputs in {out_dir}/", highlight=False)


def _note(text: str, bullet: bool = False) -> None:
    """A paragraph wrapped to :data:`WIDTH` columns (rich would wrap at the console's width)."""
    wrapped = textwrap.fill(text, WIDTH, initial_indent="- " if bullet else "", subsequent_indent="  " if bullet else "")
    out_console.print(escape(wrapped), highlight=False, soft_wrap=True)
