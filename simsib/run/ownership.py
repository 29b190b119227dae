"""Who may write an output folder, and how: ownership, one writer at a time, atomic publishing.

Every command that writes a folder (run, report, compare, sweep, sensitivity, stress,
compare-mechanisms, backtest) goes through :class:`OutputFolder`, so the rules live here only:

- **Ownership.** A folder simsib wrote carries ``manifest.json`` with ``"written_by": "simsib"``
  and the list of ``files`` simsib put there.  simsib writes into a folder that does not exist,
  is empty, or that it wrote itself and that holds nothing else.  Any other folder is refused
  (:class:`~simsib.scenario.errors.ScenarioError`, exit 2) before any work, naming the folder
  and the files that are not simsib's.  With ``force`` simsib writes its own file names into such
  a folder, replacing files of those names, and deletes nothing it did not write.
- **One writer per folder.** A lock file beside the folder, ``.NAME.lock``, held with
  ``flock`` from before any work until the command ends.  A second writer fails at once (exit
  2), naming the process that holds the lock.  The kernel releases the lock when its holder
  dies, however it dies.
- **Atomic publishing.** Outputs are written into a hidden staging folder beside the output,
  flushed to disk, and renamed into place: the old folder is moved aside, the new one moved in,
  the old one deleted.  If the second rename fails, the old folder is moved back; a process
  killed between the renames leaves ``.NAME.previous-PID``, which the next writer of that folder
  moves back (when no output is there) or deletes.
- **Nothing left behind.** Hidden working names beside the output (``.NAME.staging-PID``,
  ``.NAME.previous-PID``, ``.NAME.lock``) are cleaned by the next writer of the same folder; the
  resumable ``.NAME.partial`` folder (:mod:`simsib.run.partial`) is removed once its run is
  published.  Hidden names of very long folder names are shortened with a hash, so every folder
  name the file system allows works.

The file operations beneath (hidden names, the lock, flushing) are :mod:`simsib.run.fileops`.
This module imports nothing heavy: the CLI uses it before loading numpy or pyarrow.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from simsib import __version__
from simsib.run.fileops import (  # noqa: F401  (hidden_path, iter_hidden, MANIFEST_FILE: re-exported)
    MANIFEST_FILE,
    FolderLock,
    fsync_dir,
    fsync_tree,
    hidden_path,
    hidden_pattern,
    iter_hidden,
    list_files,
    name_max,
    signals_deferred,
    write_manifest,
)
from simsib.scenario.errors import ScenarioError

OWNER = "simsib"  # the manifest's "written_by"
# Files an older simsib (whose manifests did not list their files) wrote into run folders.
_LEGACY_FILES = re.compile(
    r"(summary\.json|draws\.parquet|quarterly\.csv|manifest\.json|scenario\.toml|cashflows\.parquet"
    r"|index\.html|report\.md|results\.xlsx|figures/[^/]+"
    r"|(sensitivity|sweep|stress|mechanisms|comparison|backtest)[\w.-]*\.(csv|md|json|png|svg))"
)


# --- paths ----------------------------------------------------------------------------------


def check_out_path(out: str | os.PathLike, option: str = "--out") -> Path:
    """Check an output folder path before anything is computed or created; return it.

    Refused (ScenarioError, exit 2): an empty path, ``.`` or ``..`` (or any path naming the
    current folder or a folder above it), a path through a file (``/etc/passwd/sub``), a file
    where the folder should be, and a name longer than the file system allows.  A symbolic link
    to a folder is followed: the outputs go where it points.
    """
    text = os.fspath(out)
    path = Path(text)
    if not text.strip() or path.name in ("", ".", ".."):
        raise ScenarioError.single(option, "expected a folder name, not the current folder or one above it; "
                                   "simsib replaces the folder it writes", value=text or '""')
    absolute = Path(os.path.abspath(path))
    here = Path.cwd()
    if absolute == here or absolute in here.parents:
        raise ScenarioError.single(option, "is the current folder or a folder above it; name a new folder "
                                   "for the outputs", value=text)
    existing = _nearest_existing(absolute)
    if existing != absolute and not existing.is_dir():
        raise ScenarioError.single(option, f"{existing} is a file, not a folder; the output folder cannot be "
                                   "inside it", value=text)
    limit = name_max(existing if existing.is_dir() else existing.parent)
    for part in absolute.relative_to(existing).parts:
        if len(part.encode()) > limit:
            raise ScenarioError.single(option, f"the folder name {part[:40]}... is {len(part.encode())} bytes; "
                                       f"this file system allows at most {limit}", value=text)
    if existing == absolute and not absolute.is_dir():
        raise ScenarioError.single(option, "expected a folder path, but a file is there", value=text)
    if path.is_symlink() and path.is_dir():
        return path.resolve()
    return path


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (``/`` always does)."""
    for candidate in (path, *path.parents):
        if _exists(candidate):
            return candidate
    return Path(path.anchor)


def _exists(path: Path) -> bool:
    try:
        os.stat(path)
    except (OSError, ValueError):  # missing, a name too long, a path through a file, a NUL
        return False
    return True


# --- what is in a folder --------------------------------------------------------------------


@dataclass
class FolderState:
    """What an output folder holds: nothing, simsib's files, or someone else's too."""

    exists: bool
    manifest: dict[str, Any] | None = None  # simsib's manifest, when simsib wrote the folder
    ours: set[str] = field(default_factory=set)  # files simsib wrote there (relative, '/'-separated)
    foreign: list[str] = field(default_factory=list)  # everything else in it

    @property
    def owned(self) -> bool:
        return self.manifest is not None


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """simsib's manifest of ``folder`` (with its ``files``), or None if simsib did not write it."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    if manifest.get("written_by") == OWNER and isinstance(manifest.get("files"), list):
        return manifest
    if "simsib_version" in manifest and "scenario_sha256" in manifest:  # a run folder of an older simsib
        legacy = [f for f in list_files(folder) if _LEGACY_FILES.fullmatch(f)]
        return {**manifest, "files": legacy}
    return None


def inspect_folder(folder: Path) -> FolderState:
    if not folder.is_dir():
        return FolderState(exists=False)
    manifest = read_manifest(folder)
    ours = set(manifest["files"]) | {MANIFEST_FILE} if manifest is not None else set()
    foreign = [f for f in list_files(folder) if f not in ours]
    return FolderState(exists=True, manifest=manifest, ours=ours, foreign=foreign)


# --- leftovers ------------------------------------------------------------------------------


def clean_leftovers(out_dir: Path) -> None:
    """Remove the hidden working folders dead writers left beside ``out_dir``; restore its output.

    Called while holding the folder's lock, so no live writer owns them.  A ``previous-PID``
    folder is the output a writer moved aside just before it died: it is moved back when no
    output took its place, and deleted otherwise.
    """
    stale = hidden_pattern(out_dir, r"(staging|report-staging)-\d+")
    previous = hidden_pattern(out_dir, r"previous-\d+")
    for path in iter_hidden(out_dir):
        if stale.fullmatch(path.name):
            shutil.rmtree(path, ignore_errors=True)
    for path in sorted((p for p in iter_hidden(out_dir) if previous.fullmatch(p.name)),
                       key=lambda p: p.stat().st_mtime, reverse=True):
        if not os.path.lexists(out_dir) and read_manifest(path) is not None:
            os.replace(path, out_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


# --- writing --------------------------------------------------------------------------------


class OutputFolder:
    """Exclusive, checked access to one output folder for the length of a command.

    >>> with OutputFolder(Path("reports/essex-sweep"), kind="sweep") as folder:  # doctest: +SKIP
    ...     staging = folder.staging()
    ...     write_files(staging)
    ...     folder.publish(staging, {"command": [...]})

    On entering: the path is checked (:func:`check_out_path`), the lock taken, dead writers'
    leftovers cleaned, and a folder holding files simsib did not write refused unless
    ``force``.  Nothing is created except the lock file (and missing parent folders, removed
    again if nothing is published).  On leaving, unpublished staging folders are removed and the
    lock released.
    """

    def __init__(self, out_dir: str | os.PathLike, *, kind: str, force: bool = False, option: str = "--out"):
        self.out_dir = check_out_path(out_dir, option)
        self.kind, self.force, self.option = kind, force, option
        self.lock = FolderLock(self.out_dir, option)
        self.state = FolderState(exists=False)
        self._stagings: list[Path] = []
        self._made_parents: list[Path] = []
        self.published = False

    def __enter__(self) -> "OutputFolder":
        missing = [p for p in reversed(self.out_dir.parents) if not p.exists()]
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._made_parents = list(reversed(missing))
        try:
            self.lock.acquire()
            clean_leftovers(self.out_dir)
            self.state = inspect_folder(self.out_dir)
            if self.state.foreign and not self.force:
                raise ScenarioError.single(self.option, self._refusal(), value=str(self.out_dir))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _refusal(self) -> str:
        shown = ", ".join(self.state.foreign[:5]) + (f" and {len(self.state.foreign) - 5} more"
                                                      if len(self.state.foreign) > 5 else "")
        whose = "holds files simsib did not write" if self.state.owned else "is not a folder simsib wrote"
        return (f"this folder {whose} ({shown}); simsib never replaces them. Choose a new folder, or pass "
                "--force to write simsib's files into it and leave every other file alone")

    def __exit__(self, exc_type, exc, tb) -> None:
        for staging in self._stagings:
            shutil.rmtree(staging, ignore_errors=True)
        self.lock.release()
        if not self.published:
            for parent in self._made_parents:  # deepest first; only folders still empty
                try:
                    parent.rmdir()
                except OSError:
                    break
        if isinstance(exc, OSError) and not exc.filename and not hasattr(exc, "simsib_writing"):
            exc.simsib_writing = str(self.out_dir)  # for the CLI's message: where it failed

    @property
    def is_run_folder(self) -> bool:
        return self.state.owned and self.state.manifest.get("kind", "run") == "run"

    def staging(self) -> Path:
        """A new, empty hidden folder beside the output, removed on leaving unless published."""
        path = hidden_path(self.out_dir, f"staging-{os.getpid()}")
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
        self._stagings.append(path)
        return path

    def publish(self, staging: Path, manifest: dict[str, Any] | None = None, *, add: bool = False,
                last: Sequence[str] = ("index.html",)) -> dict[str, Any]:
        """Put the staged files in place, with a manifest listing them; return the manifest.

        ``add=False`` replaces the folder whole (atomically) when it holds only simsib's files;
        ``add=True`` adds the files to an existing simsib folder (a run folder gaining an
        analysis or a report), each file replaced atomically, the manifest updated first.
        Under ``force``, a folder with other files gets simsib's files one by one, the names in
        ``last`` last, its manifest at the very end; nothing else in it is touched.
        """
        files = [f for f in list_files(staging) if f != MANIFEST_FILE]
        if add and self.state.owned:
            return self._add(staging, files, last)
        record = {"written_by": OWNER, "kind": self.kind, **(manifest or {})}
        record.setdefault("simsib_version", __version__)
        record.setdefault("created_utc", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        record["files"] = files
        write_manifest(staging, record)
        if self.state.foreign:
            self._merge(staging, files, last)
        else:
            self._replace(staging)
        self.published = True
        return record

    def _replace(self, staging: Path) -> None:
        fsync_tree(staging)
        previous = hidden_path(self.out_dir, f"previous-{os.getpid()}")
        with signals_deferred():
            moved = os.path.lexists(self.out_dir)
            if moved:
                os.replace(self.out_dir, previous)
            try:
                os.replace(staging, self.out_dir)
            except BaseException:
                if moved:
                    os.replace(previous, self.out_dir)
                raise
        fsync_dir(self.out_dir.parent)
        if moved:
            shutil.rmtree(previous, ignore_errors=True)

    def _move_in(self, staging: Path, files: list[str], last: Sequence[str]) -> None:
        fsync_tree(staging)
        for name in sorted(files, key=lambda f: Path(f).name in last):
            target = self.out_dir / name
            if name.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target)
        fsync_dir(self.out_dir)

    def _add(self, staging: Path, files: list[str], last: Sequence[str]) -> dict[str, Any]:
        manifest = {**self.state.manifest, "written_by": OWNER}
        manifest.setdefault("kind", "run")
        manifest["files"] = sorted(self.state.ours - {MANIFEST_FILE} | set(files))
        # The manifest first: if the move is cut short, it lists files not yet there (harmless),
        # never leaves simsib's files unlisted (they would then count as someone else's).
        write_manifest(self.out_dir, manifest)
        self._move_in(staging, files, last)
        self.published = True
        return manifest

    def _merge(self, staging: Path, files: list[str], last: Sequence[str]) -> None:
        # Until the new manifest is in place the folder claims no complete set of outputs.
        (self.out_dir / MANIFEST_FILE).unlink(missing_ok=True)
        self._move_in(staging, files, last)
        for stale in sorted(self.state.ours - set(files) - {MANIFEST_FILE}, reverse=True):
            target = self.out_dir / stale
            try:
                target.rmdir() if stale.endswith("/") else target.unlink()
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY):
                    raise
        os.replace(staging / MANIFEST_FILE, self.out_dir / MANIFEST_FILE)
        fsync_dir(self.out_dir)
