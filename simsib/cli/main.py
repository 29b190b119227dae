"""The console script: the app with every command group registered on it."""

from __future__ import annotations

from simsib.cli import analysis, report, run  # noqa: F401  (each registers its commands)
from simsib.cli.app import app


def entry() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    entry()
