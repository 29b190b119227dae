"""The console script: the app with every command group registered on it."""

from __future__ import annotations

import gc

from simsib.cli import analysis, app_cmd, backtest, commission, report, run, update  # noqa: F401  (each registers its commands)
from simsib.cli.app import app, unwrap_help

unwrap_help(app)


def entry() -> None:
    # Start-up builds hundreds of thousands of long-lived objects (modules, pydantic schemas,
    # numba's typing tables); the collector would traverse them again and again (0.1 s of a 1 s
    # run).  Simulating re-enables it (simsib.run.processes.end_of_startup); commands that never
    # simulate are short, and leave little garbage.
    gc.disable()
    try:
        app()
    finally:
        # The process is about to exit: spare it the interpreter's final garbage collection over
        # every object numba, scipy and pyarrow made (0.2 s of a 1 s run).  Our files are closed
        # explicitly; the operating system reclaims the memory.
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    entry()
