"""Running a scenario: one chunk through the pipeline, chunks over executors, run folders.

Holds the chunk pipeline (:mod:`~simsib.run.pipeline`), the executors -- this process, local
worker processes (:mod:`~simsib.run.processes`), a Dask cluster (:mod:`~simsib.run.execution`) --
run folders written atomically and resumably from verified chunks (:mod:`~simsib.run.folder`,
:mod:`~simsib.run.partial`, :mod:`~simsib.run.outputs`), the rules every command follows when it
writes a folder (:mod:`~simsib.run.ownership`, :mod:`~simsib.run.fileops`), the summary statistics with their
standard errors (:mod:`~simsib.run.summary`) and the Python API behind :func:`simsib.simulate`
(:mod:`~simsib.run.api`).

May import :mod:`simsib.contract`, :mod:`simsib.model` and :mod:`simsib.scenario`.
"""
