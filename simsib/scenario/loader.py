"""Read scenario files: TOML parsing, ``extends`` chains, ``--set`` overrides, validation.

A scenario file is data, never code: it is parsed with :mod:`tomllib` and validated with
pydantic; nothing in it is evaluated, unpickled or imported.  Every problem is collected and
raised at once as :class:`simsib.scenario.errors.ScenarioError`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Sequence

from pydantic import ValidationError

from simsib.scenario.errors import Problem, ScenarioError, did_you_mean, dotted
from simsib.scenario.format import Scenario
from simsib.scenario.validation_errors import field_names_at, problems_from_pydantic

MAX_FILE_BYTES = 1 << 20  # scenario files are a few kB; a 1 MiB limit stops accidents early
MAX_EXTENDS_DEPTH = 8
MAX_NESTING = 32  # tables within tables; Essex needs 5, and deep nesting would exhaust the stack
# Bundled scenarios live inside the package (the repository's top-level scenarios/ links here),
# so editable installs and wheels find them alike.
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
DEFAULT_SCENARIO = "essex"


def bundled_scenario_path(name: str = DEFAULT_SCENARIO) -> Path:
    """Path of a bundled scenario by name (``essex``) or file name (``essex.toml``)."""
    filename = name if name.endswith(".toml") else f"{name}.toml"
    return _bundled_dir() / filename


def scenario_path(scenario: str | Path | None) -> Path:
    """A scenario given as a file path, or as the name of a bundled scenario (``essex-launch``);
    None: the bundled default.  A name that is neither stays a path (its error names it).

    A bare name is a file only if a file of that name exists: a folder called ``essex`` (a run
    folder ``simsib run essex`` wrote, say) does not hide the bundled scenario."""
    if scenario is None:
        return bundled_scenario_path()
    path = Path(scenario)
    if path.is_file() or path.suffix == ".toml" or os.sep in str(scenario):
        return path
    bundled = bundled_scenario_path(str(scenario))
    return bundled if bundled.exists() else path


def _bundled_dir() -> Path:
    return SCENARIO_DIR


def read_toml(path: Path, file: str | None = None) -> dict[str, Any]:
    """Parse one TOML file into a dict, or raise ScenarioError naming the file (``file``, or the path)."""
    file = file or str(path)
    try:
        raw = _read_regular_file(path, file)
    except FileNotFoundError:
        bundled = sorted(p.stem for p in _bundled_dir().glob("*.toml"))
        raise ScenarioError.single("", "file not found", file=file, suggestion=did_you_mean(path.stem, bundled),
                                   choices=tuple(f"{name} (bundled)" for name in bundled)) from None
    except (OSError, ValueError) as exc:  # permissions, a NUL in the name
        raise ScenarioError.single("", f"cannot read file: {getattr(exc, 'strerror', None) or exc}", file=file) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError.single(
            "", f"not UTF-8 text: byte {raw[exc.start]:#04x} at offset {exc.start}; save the file as UTF-8",
            file=file,
        ) from None
    if not text.strip():
        raise ScenarioError.single("", "file is empty; expected a TOML scenario with tables such as meta, referrals and contract", file=file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError.single("", f"invalid TOML: {exc}", file=file) from None
    except RecursionError:
        data = None
    if data is None or _too_deep(data):
        raise ScenarioError.single("", _TOO_DEEP, file=file)
    return data


def _read_regular_file(path: Path, file: str) -> bytes:
    """The bytes of ``path`` if it is a regular file under :data:`MAX_FILE_BYTES`, else ScenarioError.

    Opened without blocking and checked on the open descriptor, so neither a FIFO (which would
    wait forever for a writer) nor a device such as ``/dev/zero`` (which never ends) is read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise ScenarioError.single("", "expected a TOML file, got a folder", file=file)
        if not stat.S_ISREG(status.st_mode):
            raise ScenarioError.single("", "expected a TOML file, got a device, pipe or socket; only regular files "
                                       "are read", file=file)
        if status.st_size > MAX_FILE_BYTES:
            raise ScenarioError.single(
                "", f"file is {status.st_size / 2**20:.1f} MiB; scenario files must be under "
                f"{MAX_FILE_BYTES / 2**20:g} MiB", file=file)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # the file may grow after fstat
    finally:
        os.close(fd)
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError.single("", f"file is over {MAX_FILE_BYTES / 2**20:g} MiB; scenario files must be under "
                                   "that", file=file)
    return raw


_TOO_DEEP = f"tables and lists are nested more than {MAX_NESTING} levels deep; a scenario needs far fewer"


def _too_deep(node: Any) -> bool:
    """True if ``node`` nests tables and lists more than MAX_NESTING deep (checked without recursion)."""
    stack = [(node, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return False


def _is_distribution_table(node: Any) -> bool:
    return isinstance(node, dict) and ("dist" in node or "value" in node)


def deep_merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child values override parent values; tables merge key by key; lists are replaced whole.

    A distribution table (one with ``dist`` or ``value``) replaces the parent's entry whole:
    merging ``{dist="fixed", value=0}`` into a beta's ``{a, b}`` would make nonsense.  A child
    table without ``dist`` or ``value`` (``{ sigma = 0.8 }``) adjusts the parent's parameters.
    """
    merged = copy.deepcopy(parent)
    for key, value in child.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and not _is_distribution_table(value):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_extends(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read ``path`` and the ``extends`` chain above it, merged parent-first.

    ``extends`` names the parent relative to the file's folder (or a bundled scenario by file
    name).  Cycles, missing parents and chains of more than :data:`MAX_EXTENDS_DEPTH` parents
    are errors.
    """
    shown = str(path) if not _chain else None  # the top file as the user named it, parents in full
    path = path.resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise ScenarioError.single("extends", f"extends cycle: {cycle}", file=str(_chain[-1]))
    if len(_chain) > MAX_EXTENDS_DEPTH:
        chain = " -> ".join(p.name for p in (*_chain, path))
        raise ScenarioError.single(
            "extends", f"extends chain deeper than {MAX_EXTENDS_DEPTH} parents: {chain}", file=str(_chain[0])
        )
    data = read_toml(path, shown)
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data
    if not isinstance(parent_name, str) or not parent_name.strip():
        raise ScenarioError.single(
            "extends", "expected the parent's file name, relative to this file", value=parent_name,
            file=shown or str(path),
        )
    parent_path = (path.parent / parent_name).resolve()
    if not parent_path.exists():
        bundled = bundled_scenario_path(parent_name)
        if not bundled.exists():
            raise ScenarioError.single(
                "extends", f"parent scenario not found at {parent_path}", value=parent_name,
                file=shown or str(path),
            )
        parent_path = bundled
    parent = resolve_extends(parent_path, (*_chain, path))
    return deep_merge(parent, data)


# --- overrides ----------------------------------------------------------------------------


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"effect.log_hazard_ratio.mean=-0.2"`` -> (["effect", "log_hazard_ratio", "mean"], -0.2).

    The value is read as a TOML value (numbers, booleans, quoted strings, arrays, inline
    tables); anything that is not valid TOML is taken as a bare string.  List entries are
    addressed by index: ``contract.mechanisms.0.price_per_day=80``.
    """
    key, sep, value_text = text.partition("=")
    key, value_text = key.strip(), value_text.strip()
    parts = [part.strip() for part in key.split(".")]
    if not sep or not key or not all(parts):
        raise ScenarioError.single("--set", "expected dotted.key=value, e.g. contract.cap=7.2e6", value=text)
    if len(parts) > MAX_NESTING:
        raise ScenarioError.single("--set", f"the key has {len(parts)} dotted parts; scenario keys have at most "
                                   f"{MAX_NESTING}", value=key)
    if not value_text:
        raise ScenarioError.single(f"--set {key}", "expected a value after '='", value=text)
    try:
        parsed = tomllib.loads(f"v = {value_text}")
    except tomllib.TOMLDecodeError:
        parsed = {"v": value_text}  # a bare word: contract.netting=cohort
    except RecursionError:
        parsed = None
    if parsed is None or _too_deep(parsed):
        raise ScenarioError.single(f"--set {key}", _TOO_DEEP)
    if len(parsed) != 1:
        raise ScenarioError.single(f"--set {key}", "expected a single value", value=value_text)
    return parts, parsed["v"]


def apply_override(data: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    """Set ``value`` at the dotted path in nested tables and lists, creating tables as needed.

    A list index may be one past the end, to append.  Setting a key inside a plain number
    turns it into ``{ value = number }`` first (``x=0.3`` then ``x.source=E5``).
    """
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        where = parts[: depth + 1]
        if isinstance(node, list):
            index = _index(node, part, where)
            if index == len(node):
                node.append({})
            node = node[index]
            continue
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif isinstance(child, (int, float)) and not isinstance(child, bool):
            child = node[part] = {"value": child}
        elif not isinstance(child, (dict, list)):
            raise ScenarioError.single(f"--set {dotted(where)}", "cannot set a key inside this plain value",
                                       value=child)
        node = child
    if isinstance(node, list):
        index = _index(node, parts[-1], parts)
        if index == len(node):
            node.append(value)
        else:
            node[index] = value
    else:
        node[parts[-1]] = value


def _index(node: list, part: str, where: Sequence[str]) -> int:
    index = int(part) if part.isdigit() else -1
    if not 0 <= index <= len(node):
        raise ScenarioError.single(
            f"--set {dotted(where)}", f"expected a list index from 0 to {len(node) - 1} (or {len(node)} to "
            "append)", value=part,
        )
    return index


def check_override_keys(data: dict[str, Any], parts: Sequence[str]) -> list[Problem]:
    """Problems with the keys of an applied override: unknown keys, with "did you mean"."""
    path: list[Any] = []
    node: Any = data
    for part in parts:
        choices = field_names_at(path, data, Scenario)
        key: Any = int(part) if isinstance(node, list) else part
        if choices and key not in choices:
            return [Problem(key=f"--set {dotted([*path, key])}", message="unknown key",
                            suggestion=did_you_mean(part, choices), choices=tuple(choices))]
        if not choices and not isinstance(node, list):
            return []  # below a plain value or a free-form table: validation has the last word
        path.append(key)
        node = node[key]
    return []


# --- validation ---------------------------------------------------------------------------


def validate(data: dict[str, Any], file: str | None = None) -> Scenario:
    """Validate a merged scenario table; raise ScenarioError listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioError.single("", "expected a table of scenario sections", value=data, file=file)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(problems_from_pydantic(exc, data, Scenario), file=file) from None


# --- public entry points ------------------------------------------------------------------


def load_raw(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The merged, overridden scenario table (before validation)."""
    data = resolve_extends(Path(path))
    try:
        problems: list[Problem] = []
        for text in overrides:
            parts, value = parse_override(text)
            apply_override(data, parts, value)
            problems.extend(check_override_keys(data, parts))
    except ScenarioError as exc:
        raise ScenarioError(exc.problems, file=str(path)) from None
    if problems:
        raise ScenarioError(problems, file=str(path))
    return data


def load_scenario(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Scenario:
    """Load, merge and validate a scenario file, or a bundled scenario by name (``"essex-2012"``;
    the bundled Essex scenario when ``path`` is None).

    Raises
    ------
    ScenarioError
        Listing every problem: file, dotted key, value, what was expected.
    """
    path = scenario_path(path)
    data = load_raw(path, overrides)
    return validate(data, file=str(path))


def scenario_sha256(scenario: Scenario) -> str:
    """Hash of the validated scenario's canonical JSON: equal scenarios hash equally."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
