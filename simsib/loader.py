"""Read scenario files: TOML parsing, ``extends`` chains, ``--set`` overrides, validation.

A scenario file is data, never code: it is parsed with :mod:`tomllib` and validated with
pydantic; nothing in it is evaluated, unpickled or imported.  Every problem is collected and
raised at once as :class:`simsib.errors.ScenarioError`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
import typing
from pathlib import Path
from typing import Any, Iterable, Sequence

from pydantic import ValidationError

from simsib.errors import Problem, ScenarioError, did_you_mean, dotted, field_names_at, problems_from_pydantic
from simsib.scenario import Scenario

MAX_FILE_BYTES = 1 << 20  # scenario files are a few kB; a 1 MiB limit stops accidents early
MAX_EXTENDS_DEPTH = 8
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
DEFAULT_SCENARIO = "essex"


def bundled_scenario_path(name: str = DEFAULT_SCENARIO) -> Path:
    """Path of a bundled scenario by name (``essex``) or file name (``essex.toml``)."""
    filename = name if name.endswith(".toml") else f"{name}.toml"
    return _bundled_dir() / filename


def _bundled_dir() -> Path:
    # Editable installs find the repository folder; wheels carry a copy inside the package.
    packaged = Path(__file__).resolve().parent / "scenarios"
    return SCENARIO_DIR if SCENARIO_DIR.is_dir() else packaged


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file into a dict, or raise ScenarioError naming the file."""
    file = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ScenarioError.single("", "file not found", file=file) from None
    except OSError as exc:
        raise ScenarioError.single("", f"cannot read file: {exc.strerror}", file=file) from None
    if path.is_dir():
        raise ScenarioError.single("", "expected a TOML file, got a folder", file=file)
    if size > MAX_FILE_BYTES:
        raise ScenarioError.single(
            "", f"file is {size / 1e6:.1f} MB; scenario files must be under {MAX_FILE_BYTES // 1024} KiB",
            file=file,
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError.single(
            "", f"not UTF-8 text: byte {raw[exc.start]:#04x} at offset {exc.start}", file=file
        ) from None
    if not text.strip():
        raise ScenarioError.single("", "file is empty; expected a TOML scenario with [meta] etc.", file=file)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError.single("", f"invalid TOML: {exc}", file=file) from None


def _is_distribution_table(node: Any) -> bool:
    return isinstance(node, dict) and ("dist" in node or "value" in node)


def deep_merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child values override parent values; tables merge key by key.

    A distribution table (one with ``dist`` or ``value``) replaces the parent's entry whole:
    merging ``{dist="fixed", value=0}`` into a beta's ``{a, b}`` would make nonsense.
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
    """Read ``path`` and the ``extends`` chain above it, merged parent-first."""
    path = path.resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise ScenarioError.single("extends", f"extends cycle: {cycle}", file=str(_chain[-1]))
    if len(_chain) > MAX_EXTENDS_DEPTH:
        raise ScenarioError.single(
            "extends", f"extends chain deeper than {MAX_EXTENDS_DEPTH} files", file=str(path)
        )
    data = read_toml(path)
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data
    if not isinstance(parent_name, str) or not parent_name:
        raise ScenarioError.single(
            "extends", "expected a file name relative to this file", value=parent_name, file=str(path)
        )
    parent_path = (path.parent / parent_name).resolve()
    if not parent_path.exists():
        bundled = bundled_scenario_path(parent_name)
        if bundled.exists():
            parent_path = bundled
        else:
            raise ScenarioError.single(
                "extends", f"parent scenario not found at {parent_path}", value=parent_name, file=str(path)
            )
    parent = resolve_extends(parent_path, (*_chain, path))
    return deep_merge(parent, data)


# --- overrides ----------------------------------------------------------------------------


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"effect.log_hazard_ratio.mean=-0.2"`` -> (["effect", "log_hazard_ratio", "mean"], -0.2).

    The value is read as a TOML value (numbers, booleans, quoted strings, arrays, inline
    tables); anything that is not valid TOML is taken as a bare string.
    """
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ScenarioError.single(
            "--set", "expected dotted.key=value, e.g. contract.cap=7.2e6", value=text
        )
    try:
        value = tomllib.loads(f"v = {value_text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text.strip()
        if not value:
            raise ScenarioError.single(key, "--set needs a value after '='", value=text) from None
    return key.split("."), value


def apply_override(data: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    """Set ``value`` at the dotted path in nested dicts/lists, creating tables as needed."""
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        node = _step(node, part, parts[: depth + 1], create=True)
    last = parts[-1]
    if isinstance(node, list):
        index = _index(node, last, parts)
        node[index] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError.single(
            ".".join(parts[:-1]), "cannot set a key inside a plain value", value=node
        )


def _step(node: Any, part: str, path: Sequence[str], create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, path)]
    if isinstance(node, dict):
        child = node.get(part)
        if child is None and create:
            child = node[part] = {}
        elif not isinstance(child, (dict, list)):
            # Setting inside a plain number turns it into a table (e.g. x=0.3 then x.source=...).
            child = node[part] = {"value": child} if child is not None else {}
        return child
    raise ScenarioError.single(".".join(path[:-1]), "cannot set a key inside a plain value", value=node)


def _index(node: list, part: str, path: Sequence[str]) -> int:
    try:
        index = int(part)
        node[index]
        return index
    except (ValueError, IndexError):
        raise ScenarioError.single(
            ".".join(path), f"expected an index from 0 to {len(node) - 1}", value=part
        ) from None


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
    for text in overrides:
        parts, value = parse_override(text)
        apply_override(data, parts, value)
    return data


def load_scenario(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Scenario:
    """Load, merge and validate a scenario file (the bundled Essex scenario when ``path`` is None).

    Raises
    ------
    ScenarioError
        Listing every problem: file, dotted key, value, what was expected.
    """
    path = Path(path) if path is not None else bundled_scenario_path()
    data = load_raw(path, overrides)
    return validate(data, file=str(path))


def scenario_sha256(scenario: Scenario) -> str:
    """Hash of the validated scenario's canonical JSON: equal scenarios hash equally."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
