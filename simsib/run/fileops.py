"""File operations under the output-folder rules of :mod:`simsib.run.ownership`.

Hidden working names beside an output folder (short enough for any folder name the file system
allows), the one-writer lock, listing a folder's files, flushing to disk, and holding back
signals between two renames that must both happen.  Imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from simsib.scenario.errors import ScenarioError

DEFAULT_NAME_MAX = 255  # bytes in a file name, where the file system does not say
_HIDDEN_SUFFIX_BYTES = 40  # room for the longest suffix simsib appends: ".staging-<pid>", ".partial"
_SHORT_NAME_BYTES = 80  # a long name keeps this many bytes before its hash in hidden names
MANIFEST_FILE = "manifest.json"


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, the file system holding ``folder`` allows."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no pathconf (Windows)
        return DEFAULT_NAME_MAX


def hidden_path(out_dir: Path, suffix: str) -> Path:
    """The hidden working name ``.NAME.SUFFIX`` beside ``out_dir``, short enough to create.

    A name so long that the hidden name would exceed the file-name limit keeps its first
    :data:`_SHORT_NAME_BYTES` bytes and a hash of the whole name.
    """
    return out_dir.parent / f".{_short_name(out_dir.name)}.{suffix}"


def _short_name(name: str) -> str:
    encoded = name.encode()
    if len(encoded) + _HIDDEN_SUFFIX_BYTES <= DEFAULT_NAME_MAX:
        return name
    head = encoded[:_SHORT_NAME_BYTES].decode(errors="ignore")
    return f"{head}~{hashlib.sha256(encoded).hexdigest()[:16]}"


def hidden_pattern(out_dir: Path, suffix_regex: str) -> re.Pattern:
    """A regex matching the hidden names of ``out_dir`` whose suffix matches ``suffix_regex``."""
    return re.compile(rf"\.{re.escape(_short_name(out_dir.name))}\.{suffix_regex}")


def iter_hidden(out_dir: Path) -> Iterator[Path]:
    """Hidden working files and folders belonging to ``out_dir`` (for tests and cleanup)."""
    pattern = hidden_pattern(out_dir, r"(partial|lock|(staging|previous|report-staging)-\d+)")
    if out_dir.parent.is_dir():
        yield from sorted(p for p in out_dir.parent.iterdir() if pattern.fullmatch(p.name))


class FolderLock:
    """An exclusive ``flock`` on ``.NAME.lock`` beside the output folder, holding its PID.

    The file is removed on release.  A writer that opened the file just before its holder
    removed it would lock a file no longer in the folder; it notices (the name no longer refers
    to the file it locked) and tries again.
    """

    def __init__(self, out_dir: Path, option: str = "--out"):
        self.out_dir, self.option = out_dir, option
        self.path = hidden_path(out_dir, "lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        import fcntl  # POSIX; simsib's process pool needs fork anyway

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise ScenarioError.single(
                    self.option, f"another simsib process (pid {holder}) is writing this folder; wait for it "
                    "to finish, or choose another folder", value=str(self.out_dir)) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                self.fd = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink()
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def list_files(folder: Path) -> list[str]:
    """Every file (and empty folder, with a trailing ``/``) under ``folder``, relative, sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        found += [(rel / name).as_posix() for name in files]
        found += [(rel / name).as_posix() + "/" for name in dirs
                  if os.path.islink(os.path.join(root, name)) or not os.listdir(os.path.join(root, name))]
    return sorted(found)


def fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder``, and the folders themselves, to disk."""
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    tmp = folder / f".{MANIFEST_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=2, allow_nan=False, default=str) + "\n")
    os.replace(tmp, folder / MANIFEST_FILE)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back Ctrl-C and SIGTERM between two renames that must both happen (main thread only)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
