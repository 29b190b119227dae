"""The typer app, its shared options, and the translation of errors into exit codes.

Exit codes: 0 ok, 2 bad input (scenario or arguments), 1 internal error.  User errors are one
readable message, never a traceback (set ``SIMSIB_DEBUG=1`` to see tracebacks of internal
errors).  This module imports no command module (they import it), and nothing heavy.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from simsib import __version__

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
        # Imported here, not at the top: `simsib --version` and `--help` never get this far.
        from simsib.run.settings import ExecutionError
        from simsib.scenario.errors import ScenarioError

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
    from simsib.scenario.loader import bundled_scenario_path

    if scenario is None:
        return bundled_scenario_path()
    path = Path(scenario)
    if path.exists() or path.suffix == ".toml" or os.sep in scenario:
        return path
    bundled = bundled_scenario_path(scenario)
    return bundled if bundled.exists() else path


def load(scenario: Optional[str], overrides: List[str]):
    """(path, raw resolved table, validated Scenario)."""
    from simsib.scenario.loader import load_raw, validate

    path = scenario_path(scenario)
    raw = load_raw(path, overrides)
    return path, raw, validate(raw, file=str(path))


# Shared options ---------------------------------------------------------------------------
DrawsOpt = typer.Option(None, "--draws", "-n", min=1, max=100_000_000, help="Monte Carlo draws [default: the scenario's, 10,000].")
SeedOpt = typer.Option(None, "--seed", "-s", min=0, help="Seed; an unseeded run records the entropy it used.")
SetOpt = typer.Option([], "--set", help="Override a scenario value: dotted.key=value (repeatable).")
JsonOpt = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar.")


def progress_reporter(total: int, quiet: bool):
    """A rich progress bar on an interactive terminal; nothing in CI, when piped or --quiet."""
    if quiet or not err_console.is_terminal or os.environ.get("CI"):
        return None, lambda n: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("draws"),
                   TimeRemainingColumn(), console=err_console, transient=True)
    task = bar.add_task("draws", total=total)
    return bar, lambda n: bar.advance(task, n)


