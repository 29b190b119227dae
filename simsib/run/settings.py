"""How a run is executed -- the choices and errors the command line needs before anything heavy loads."""

from __future__ import annotations

import os
from enum import Enum
from urllib.parse import urlsplit

from simsib.scenario.errors import ScenarioError

# Address schemes a Dask client can reach from another process (inproc:// lives inside one).
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


class Executor(str, Enum):
    """Where chunks run: this machine's processes, or a Dask cluster."""

    local = "local"
    dask = "dask"


class ExecutionError(RuntimeError):
    """A worker died, or the cluster was lost: the run cannot finish (exit code 1)."""


def default_workers() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def check_scheduler_address(address: str) -> None:
    """Refuse a Dask scheduler address that cannot work, before anything is created.

    Accepted: ``SCHEME://HOST[:PORT]`` with a scheme of :data:`DASK_SCHEMES`, or ``HOST:PORT``
    (taken as tcp).  The port, when given, must be a number from 1 to 65535.  An ``inproc://``
    address is accepted only from the process whose in-process cluster it names.
    """
    text = address.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    expected = "SCHEME://HOST:PORT, e.g. tcp://10.0.0.5:8786, with SCHEME one of " + ", ".join(DASK_SCHEMES)
    if parts.scheme == "inproc":
        # inproc://HOST/PID/N: reachable only from process PID (a cluster of threads made there).
        pid = parts.path.strip("/").split("/")[0]
        if pid == str(os.getpid()):
            return
        raise ScenarioError.single("--scheduler", "an inproc:// scheduler exists only inside the process that "
                                   f"made it; expected {expected}", value=address)
    if parts.scheme not in DASK_SCHEMES or not parts.hostname or parts.path not in ("", "/"):
        raise ScenarioError.single("--scheduler", f"expected {expected}", value=address)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ScenarioError.single("--scheduler", f"the port must be a number from 1 to 65535; expected {expected}",
                                   value=address)
