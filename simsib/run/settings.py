"""How a run is executed -- the choices and errors the command line needs before anything heavy loads."""

from __future__ import annotations

import os
from enum import Enum


class Executor(str, Enum):
    """Where chunks run: this machine's processes, or a Dask cluster."""

    local = "local"
    dask = "dask"


class ExecutionError(RuntimeError):
    """A worker died, or the cluster was lost: the run cannot finish (exit code 1)."""


def default_workers() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
