"""A small pool of forked worker processes that never outlives its parent.

One pipe per worker and one call in flight per worker.  Not :mod:`concurrent.futures`:
terminating its workers while one writes a result leaves its manager thread blocked on a
half-read message, and the interpreter then hangs at exit.  Here a stopped worker takes nothing
down with it: its pipe is simply closed.  A worker ends when its parent ends, however the
parent ends (:func:`die_with_parent`), so a ``kill -9`` of simsib leaves no worker behind.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import traceback
from typing import Callable, Iterator, Sequence, TypeVar

from simsib.run.fileops import signals_deferred
from simsib.run.settings import ExecutionError

T = TypeVar("T")

TERMINATE_SECONDS = 5.0  # grace for terminated workers before they are killed
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def end_of_startup() -> None:
    """Let the garbage collector run again, never again over what start-up built.

    The command line disables the collector while it starts (``simsib.cli.main.entry``):
    importing numpy, scipy, numba and pydantic and loading the compiled kernels makes hundreds of
    thousands of long-lived objects, and collecting over them again and again costs 0.1 s of a
    one-second run.  Called where simulating begins; freezing moves everything that exists now
    out of the collector's sight, so later collections stay cheap.  Harmless when the collector
    was never disabled (the Python API).
    """
    gc.freeze()
    gc.enable()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_CHECK_SECONDS = 1.0  # how often a worker checks that its parent is alive


def die_with_parent(parent_pid: int, kernel_signal: bool = True) -> None:
    """End this (forked) process when ``parent_pid`` ends, however it ends.

    On Linux the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``);
    everywhere a daemon thread also checks the parent every :data:`PARENT_CHECK_SECONDS`, so a
    worker whose parent was killed with ``kill -9`` never lingers holding memory.  The kernel's
    signal comes when the parent's *thread* that started this process ends: pass
    ``kernel_signal=False`` for a process started from a thread that may end before the parent
    does (the check by thread alone is then left).
    """
    if kernel_signal:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - not Linux
            pass
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="simsib-parent-watch", daemon=True).start()


def _worker_loop(conn, parent_pid: int, inherited: list) -> None:
    # Ctrl-C reaches the whole foreground process group; the parent alone handles it (and
    # terminates the workers), so workers neither die mid-write nor print tracebacks.  SIGTERM
    # (the parent stopping them) ends a worker at once, whatever handler the parent installed.
    # Both arrive blocked (see map_processes) and are let through only once these are set.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    die_with_parent(parent_pid)
    for other in inherited:  # the parent's ends of earlier workers' pipes, copied by fork
        other.close()
    while True:
        while not conn.poll(1.0):
            if os.getppid() != parent_pid:  # orphaned: the parent was killed
                return
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        function, args = task
        try:
            reply = (True, function(*args))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            reply = (False, _portable(exc))
        conn.send(reply)


def _portable(exc: BaseException) -> BaseException:
    """The exception, or a RuntimeError saying what it was if it cannot be pickled."""
    note = f"raised in worker process {os.getpid()}:\n" + "".join(traceback.format_exception(exc))
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    exc.add_note(note)
    return exc


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"


def _stop(processes: list) -> None:
    """Terminate worker processes and wait for them; kill any that linger."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(TERMINATE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join(TERMINATE_SECONDS)


def map_processes(function: Callable[..., T], calls: Sequence[tuple], workers: int) -> Iterator[tuple[int, T]]:
    """``(position, function(*calls[position]))`` for every call, over forked worker processes.

    Results come in completion order, one call in flight per worker.  A worker that dies
    raises :class:`ExecutionError` naming how it died; an exception in ``function`` is raised
    here (with the worker's traceback as a note); on any early end (an error, Ctrl-C, closing
    the iterator) the workers are terminated at once.  Calls and results must pickle.
    """
    end_of_startup()
    # fork shares the imported modules with the workers, so they start in milliseconds.
    context = multiprocessing.get_context("fork")
    todo = iter(range(len(calls)))
    pool: list[tuple] = []  # (process, connection)
    busy: dict = {}  # connection -> position of the call it is running
    finished = False
    try:
        for _ in range(max(1, min(workers, len(calls)))):
            ours, theirs = context.Pipe()
            process = context.Process(target=_worker_loop, daemon=True, name="simsib-worker",
                                      args=(theirs, os.getpid(), [conn for _, conn in pool]))
            # Forked with Ctrl-C and SIGTERM blocked: until the worker has set its own handlers
            # it would otherwise run the parent's (a traceback from every worker).  Signals that
            # arrive meanwhile reach the parent when it unblocks them.
            with signals_deferred():
                process.start()
            theirs.close()
            pool.append((process, ours))
        for process, conn in pool:
            _give(conn, function, calls, todo, busy)
        owner = {conn: process for process, conn in pool}
        while busy:
            ready = multiprocessing.connection.wait([*busy, *(owner[c].sentinel for c in busy)])
            conn = next((r for r in ready if r in busy), None)
            if conn is None:  # a worker ended: recv gives its last reply, or EOF if it died
                conn = next(c for c in busy if owner[c].sentinel in ready)
            try:
                ok, value = conn.recv()
            except (EOFError, OSError):
                process = owner[conn]
                process.join(TERMINATE_SECONDS)
                raise ExecutionError(
                    f"a worker process died (pid {process.pid}: {_describe_exit(process.exitcode)}); "
                    "the run was stopped and no outputs were written"
                ) from None
            position = busy.pop(conn)
            if not ok:
                raise value
            _give(conn, function, calls, todo, busy)
            yield position, value
        finished = True
    finally:
        if finished:  # all idle: ask them to exit
            for process, conn in pool:
                try:
                    conn.send(None)
                except OSError:
                    continue
                process.join(TERMINATE_SECONDS)
        # An error, Ctrl-C or an abandoned iterator: stop the workers now rather than let them
        # finish their calls.
        _stop([process for process, _ in pool])
        for _, conn in pool:
            conn.close()


def _give(conn, function: Callable, calls: Sequence[tuple], todo: Iterator[int], busy: dict) -> None:
    """Send ``conn``'s worker the next call, if any is left."""
    position = next(todo, None)
    if position is not None:
        conn.send((function, calls[position]))
        busy[conn] = position
