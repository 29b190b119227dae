"""The typer app, its shared options, and the translation of errors into exit codes.

Exit codes: 0 ok, 2 bad input (scenario or arguments, including an output folder simsib may
not write), 1 a failure (a worker died, the disk is full, permission denied, an internal error),
130 Ctrl-C, 143 SIGTERM.  Every failure is one readable message, never a traceback (set
``SIMSIB_DEBUG=1`` to see tracebacks of internal errors); only real bugs say "This is a bug".
This module imports no command module (they import it), and nothing heavy.
"""

from __future__ import annotations

import errno
import functools
import os
import signal
import sys
import threading
import traceback
from enum import Enum
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
# Piped output (CI, files) gets a fixed width (its tables need no paging) instead of rich's 80;
# COLUMNS, when set, wins (see fit_consoles).  The tables themselves fit 80 columns.
PIPED_WIDTH = 132
out_console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)


def fit_consoles() -> None:
    """Size the consoles when a command starts, not when this module was imported: ``COLUMNS``
    if set (``COLUMNS=80 simsib stress``; tests set it per invocation), else the terminal's
    width, else :data:`PIPED_WIDTH` when piped."""
    columns = os.environ.get("COLUMNS", "")
    for console, stream in ((out_console, sys.stdout), (err_console, sys.stderr)):
        if columns.isdigit() and int(columns) > 0:
            console.width = int(columns)
        else:
            console.width = None if stream.isatty() else PIPED_WIDTH

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
# Failures of the machine, not of simsib: reported plainly with exit code 1, never as a bug.
ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EIO", "EFBIG", "EMFILE",
                                      "ENFILE", "ENAMETOOLONG", "ENOTDIR", "EISDIR", "EXDEV", "ESTALE", "EBUSY")
    if hasattr(errno, name)
)
_ERRNO_IN_TEXT = ("[errno ", "[Errno ")


class Sampling(str, Enum):
    """``--sampling``: how the uncertain inputs are sampled (``simulation.sampling``)."""

    random = "random"
    sobol = "sobol"
    lhs = "lhs"


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as Ctrl-C stops (workers terminated, nothing published), exit code 143."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def os_error_errno(exc: OSError) -> int | None:
    """The errno of an OSError, also when a library put it only in the message (pyarrow does)."""
    if exc.errno is not None:
        return exc.errno
    text = str(exc)
    for marker in _ERRNO_IN_TEXT:
        at = text.find(marker)
        if at >= 0:
            digits = "".join(c for c in text[at + len(marker):at + len(marker) + 4] if c.isdigit())
            if digits:
                return int(digits)
    return None


def describe_os_error(exc: OSError) -> str:
    """``no space left on device while writing reports/essex (ENOSPC)`` and what to do."""
    code = os_error_errno(exc)
    reason = os.strerror(code).lower() if code is not None else (exc.strerror or str(exc))
    where = exc.filename or getattr(exc, "simsib_writing", None)
    text = reason + (f" while writing {where}" if where else "")
    if exc.filename2:
        text += f" (moving it to {exc.filename2})"
    if code is not None:
        text += f" ({errno.errorcode.get(code, code)})"
    return text + "; no output was published"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"simsib {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Monte Carlo investment-risk simulator for social impact bonds."""


def unwrap_help(typer_app: typer.Typer) -> None:
    """Join the lines of each paragraph of every command's docstring: rich help keeps a
    docstring's line breaks, so a paragraph wrapped at 100 columns in the source was printed with
    ragged breaks ("each row labelled / fitted, derived, ...") at any terminal width."""
    import inspect

    for info in typer_app.registered_commands:
        doc = info.help if info.help is not None else inspect.getdoc(info.callback)
        if doc:
            info.help = "\n\n".join(" ".join(paragraph.split()) for paragraph in doc.split("\n\n"))


def guarded(command: Callable) -> Callable:
    """Turn simsib's errors into exit codes and one clear message."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Imported here, not at the top: `simsib --version` and `--help` never get this far.
        from simsib.run.settings import ExecutionError
        from simsib.scenario.errors import ScenarioError

        fit_consoles()
        handled = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if handled else None
        try:
            return command(*args, **kwargs)
        except ScenarioError as exc:
            err_console.print(f"[bold red]error:[/] {escape(exc.render())}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except ExecutionError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INTERNAL) from None
        except KeyboardInterrupt as exc:
            what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
            err_console.print(f"{what}: no output was written (completed chunks are kept for --resume)")
            raise typer.Exit(EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except OSError as exc:
            if os_error_errno(exc) not in ENVIRONMENT_ERRNOS:
                _internal_error(exc)
            err_console.print(f"[bold red]error:[/] {escape(describe_os_error(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INTERNAL) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            _internal_error(exc)
        finally:
            if handled:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def _internal_error(exc: BaseException) -> None:
    if os.environ.get("SIMSIB_DEBUG"):
        traceback.print_exception(exc)
    err_console.print(
        f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
        "This is a bug in simsib; rerun with SIMSIB_DEBUG=1 for the traceback.",
        highlight=False, soft_wrap=True,
    )
    raise typer.Exit(EXIT_INTERNAL) from None


def scenario_path(scenario: Optional[str]) -> Path:
    """A scenario argument: a file path, or the name of a bundled scenario (``essex-launch``)."""
    from simsib.scenario.loader import scenario_path as resolve

    return resolve(scenario)


def load(scenario: Optional[str], overrides: List[str]):
    """(path, raw resolved table, validated Scenario)."""
    from simsib.scenario.loader import load_raw, validate

    path = scenario_path(scenario)
    raw = load_raw(path, overrides)
    return path, raw, validate(raw, file=str(path))


# Shared options ---------------------------------------------------------------------------
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"  # as simsib.scenario.loader's, read at once


def bundled_names() -> list[str]:
    """The bundled scenarios' names, for ``--help`` (a directory listing: nothing is imported)."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))


SCENARIO_HELP = ("Scenario file, or the name of a bundled scenario: " + ", ".join(bundled_names())
                 + " (simsib scenarios describes them).")
ScenarioArg = typer.Argument(None, help=SCENARIO_HELP, show_default="essex")
DrawsOpt = typer.Option(None, "--draws", "-n", min=1, max=100_000_000, help="Monte Carlo draws.", show_default="the scenario's, 10,000")
SeedOpt = typer.Option(None, "--seed", "-s", min=0, help="Seed; an unseeded run records the entropy it used.")
SetOpt = typer.Option([], "--set", help="Override a scenario value: dotted.key=value (repeatable).")
JsonOpt = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar.")
PrecisionOpt = typer.Option([], "--precision", "-p", help="Run until a figure's standard error is at most TARGET: "
                            "FIGURE=TARGET, e.g. investor.prob_loss=0.005 (repeatable; replaces --draws).")
MaxDrawsOpt = typer.Option(None, "--max-draws", min=1, max=100_000_000,
                           help="The most draws a run to a --precision may use.", show_default="the scenario's, 1,000,000")
SamplingOpt = typer.Option(None, "--sampling", help="Sampling of the uncertain inputs: random, sobol or lhs.",
                           show_default="the scenario's simulation.sampling, sobol")
WorkersOpt = typer.Option(None, "--workers", "-w", min=1, max=1024, help="Worker processes.", show_default="all cores")
ForceOpt = typer.Option(False, "--force", help="Write into an output folder that holds files simsib did not write: "
                        "simsib's files are replaced, nothing else is touched.")


def parse_precision(texts: List[str]) -> dict[str, float]:
    """``["investor.prob_loss=0.005"]`` -> ``{"investor.prob_loss": 0.005}``; ScenarioError if malformed."""
    from simsib.scenario.errors import ScenarioError, did_you_mean
    from simsib.scenario.format.delivery import PRECISION_KEYS

    targets = {}
    for text in texts:
        figure, sep, value = text.partition("=")
        figure = figure.strip()
        if figure not in PRECISION_KEYS:
            raise ScenarioError.single("--precision", "expected FIGURE=TARGET with a figure that has a standard "
                                       "error", value=text, suggestion=did_you_mean(figure, PRECISION_KEYS),
                                       choices=PRECISION_KEYS)
        try:
            target = float(value)
        except ValueError:
            target = float("nan")
        if not sep or not target > 0 or target == float("inf"):
            raise ScenarioError.single(f"--precision {figure}", "expected a target standard error > 0, "
                                       "e.g. investor.prob_loss=0.005", value=text)
        targets[figure] = target
    return targets


def precision_plan(texts: List[str], max_draws: Optional[int], draws: Optional[int], scenario):
    """The ``Precision`` of an analysis (``--precision``, else the scenario's when ``--draws`` is not
    given), or None for a fixed number of draws."""
    from simsib.scenario.errors import ScenarioError

    targets = parse_precision(texts) if texts else None
    if targets and draws is not None:
        raise ScenarioError.single("--draws", "give --draws or --precision, not both (--max-draws bounds a run "
                                   "to a precision)", value=draws)
    if targets is None and draws is None:
        targets = dict(scenario.simulation.precision) or None
    if not targets:
        return None
    from simsib.analysis.variants import Precision

    return Precision(targets, max_draws or scenario.simulation.max_draws)


def sampling_override(overrides: List[str], sampling: Optional[str]) -> List[str]:
    """``--set`` overrides with ``--sampling`` added: the sampling is part of the scenario (it changes
    every number, so its hash and resolved scenario.toml must say so)."""
    if sampling is None:
        return list(overrides)
    return [*overrides, f'simulation.sampling="{Sampling(sampling).value}"']


def out_folder(out: Optional[Path], default: Path) -> Path:
    """The output folder to use, checked before anything is computed (exit 2 if unusable)."""
    from simsib.run.ownership import check_out_path

    return check_out_path(out if out is not None else default)


def progress_reporter(total: int, quiet: bool):
    """A rich progress bar on an interactive terminal; nothing in CI, when piped or --quiet."""
    if quiet or not err_console.is_terminal or os.environ.get("CI"):
        return None, lambda n: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("draws"),
                   TimeRemainingColumn(), console=err_console, transient=True)
    task = bar.add_task("draws", total=total)
    return bar, lambda n: bar.advance(task, n)


