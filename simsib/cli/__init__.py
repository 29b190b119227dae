"""The ``simsib`` command line: the only wing that prints, exits or touches the terminal.

:mod:`~simsib.cli.app` defines the typer app, the shared options and the error handling, and
imports no command module; each command group registers itself on it
(:mod:`~simsib.cli.run`, :mod:`~simsib.cli.analysis`, :mod:`~simsib.cli.report`), and
:mod:`~simsib.cli.main` imports them all and is the console script's entry point.  Command
modules import heavy libraries inside the commands, so ``simsib --help`` starts at once.

May import every other wing.
"""
