"""Variants of a scenario: dotted keys, overrides applied to the raw table, stress cases.

A *variant* is the base scenario's raw table with ``{dotted key: value}`` overrides applied and
validated again.  Sweeps, stress tests and comparisons run variants; this module only builds and
checks them (cheaply: ``simsib validate`` checks every stress case), while
:mod:`simsib.analysis.variants` runs them on common random numbers.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from simsib.scenario.errors import Problem, ScenarioError, did_you_mean
from simsib.scenario.format import Scenario
from simsib.scenario.loader import apply_override, validate

# Sections that are not part of the model at all (and may not be varied).
NOT_MODEL = ("meta", "simulation", "stress")


def raw_at(raw: Any, key: str) -> Any:
    """The entry at a dotted key of a raw scenario table (list entries by index), or None."""
    node = raw
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def under(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


# --- keys and variants --------------------------------------------------------------------


def scenario_keys(scenario: Scenario) -> list[str]:
    """Every dotted key a variant may set: each table and value of the validated scenario
    (defaults included), as spelt in scenario files; not ``meta``, ``simulation`` or ``stress``."""
    keys: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if prefix:
            keys.append(prefix)
        if isinstance(node, dict):
            for name, child in node.items():
                walk(child, f"{prefix}.{name}" if prefix else str(name))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{prefix}.{i}")

    dump = scenario.model_dump(by_alias=True)
    for section in NOT_MODEL:
        dump.pop(section, None)
    walk(dump, "")
    return keys


def check_keys(scenario: Scenario, keys: Iterable[str], where: str, file: str | None = None) -> None:
    """Raise ScenarioError naming every key the scenario does not have, with close names."""
    known = scenario_keys(scenario)
    known_set = set(known)
    suggestible = [k for k in known if not k.endswith((".source", ".dist"))]
    problems = []
    for key in keys:
        if key in known_set:
            continue
        if under(key, NOT_MODEL):
            problems.append(Problem(key=key, message=f"{where}: '{key.split('.')[0]}' settings cannot be varied"))
            continue
        close = difflib.get_close_matches(key, suggestible, n=4, cutoff=0.6)
        message = f"{where}: the scenario has no key '{key}'"
        if len(close) > 1:
            message += f" (close names: {', '.join(close[1:])})"
        problems.append(Problem(key=key, message=message, suggestion=close[0] if close else None))
    if problems:
        raise ScenarioError(problems, file=file)


def build_variant(raw: Mapping[str, Any], overrides: Mapping[str, Any], file: str | None = None) -> Scenario:
    """The base table with ``{dotted key: value}`` overrides applied, validated.

    A value replaces the whole entry at its key (a number replaces a distribution table).
    """
    data = copy.deepcopy(dict(raw))
    data.pop("stress", None)  # a variant is a case of its own, not a source of further cases
    for key, value in overrides.items():
        apply_override(data, key.split("."), copy.deepcopy(value))
    return validate(data, file=file)



@dataclass(frozen=True)
class StressCase:
    name: str
    description: str
    overrides: dict[str, Any]
    scenario: Scenario


def stress_cases(
    raw: Mapping[str, Any], scenario: Scenario, names: Sequence[str] = (), file: str | None = None
) -> list[StressCase]:
    """The scenario's stress cases (all, or those ``names``), each validated as a variant.

    Raises ScenarioError for a scenario without cases, an unknown case name, or a case that sets
    a key the scenario does not have -- every problem at once.
    """
    declared = scenario.stress
    if not declared:
        raise ScenarioError.single(
            "stress", "the scenario declares no stress cases; add [stress.NAME] tables with a "
            'set = { "dotted.key" = value } table', file=file,
        )
    unknown = [Problem(key=f"stress.{n}", message="no such stress case", suggestion=did_you_mean(n, declared),
                       choices=tuple(declared)) for n in names if n not in declared]
    if unknown:
        raise ScenarioError(unknown, file=file)
    chosen = list(dict.fromkeys(names)) or list(declared)
    problems: list[Problem] = []
    for name in chosen:
        try:
            check_keys(scenario, declared[name].set, f"stress.{name}.set", file=file)
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems, file=file)
    return [StressCase(name, declared[name].description, dict(declared[name].set),
                       build_variant(raw, declared[name].set, file=file)) for name in chosen]
