"""Questions asked of several runs: compare, sweep, sensitivity, stress, mechanisms, backtest.

Each module computes a result (tables of numbers with their standard errors) on common random
numbers; it does not format, plot or print -- :mod:`simsib.report` renders results and
:mod:`simsib.cli` prints them.  Variants of a scenario that differ only in money reuse the
simulated paths (:mod:`~simsib.analysis.variants`).

May import :mod:`simsib.run` and everything below it.
"""
