"""The evidence register and the plain-language labels, shipped with the package.

``evidence.toml`` holds one entry per evidence id (``E1`` … ``E67``): a title, the figure in
plain words, the source, its publication year (with the later part of an id that mixes figures
known at a date with later ones), a tag (P published, D derived, J judgement, ? unchecked) and
caveats.  Reports render the entries a scenario cites, so their readers can follow every
source without the project's own files; scenarios that must use only what was known at a date
(``essex-2012``) are checked against the years.

``labels.toml`` gives every scenario key and per-draw metric a plain label, a short label (for
charts and 80-column tables) and a unit.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

HERE = Path(__file__).resolve().parent
EVIDENCE_ID = re.compile(r"\bE\d+\b")


@dataclass(frozen=True)
class Evidence:
    """One entry of the register."""

    id: str
    title: str
    figure: str
    source: str
    year: int  # earliest year the part usable at that date was public
    tag: str
    section: str
    later_year: int | None = None  # when the rest of the entry was published
    later_part: str | None = None
    caveat: str | None = None
    year_note: str | None = None

    @property
    def last_year(self) -> int:
        """The year by which everything in the entry was public."""
        return self.later_year or self.year


@functools.lru_cache(maxsize=1)
def register() -> dict[str, Evidence]:
    """Every evidence entry by id, in the register's order."""
    with open(HERE / "evidence.toml", "rb") as handle:
        raw = tomllib.load(handle)
    return {key: Evidence(id=key, **fields) for key, fields in raw.items()}


def cited_ids(texts: Iterable[str]) -> list[str]:
    """Evidence ids named in ``texts`` (``source`` strings), once each, in order of first mention."""
    found: dict[str, None] = {}
    for text in texts:
        for match in EVIDENCE_ID.findall(text or ""):
            found.setdefault(match, None)
    return list(found)


def sources_in(node: Any) -> list[str]:
    """Every ``source`` string in a raw scenario table (or a validated scenario's dump), walking it."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "source" and isinstance(value, str):
                    found.append(value)
                elif key == "sources" and isinstance(value, list):
                    found.extend(v for v in value if isinstance(v, str))
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


PART = re.compile(r"\b(\d{4}) part\b")


def citations_after(sources: Iterable[str], year: int) -> list[str]:
    """Problems with citing ``sources`` (``source`` strings) in a scenario dated ``year``.

    An id is fine if everything in it was public by ``year``.  An id whose first part was public
    by then but which also holds later figures (``later_year`` after ``year``) must be cited with
    the part used, e.g. ``"E6: 55% comparison group (2012 part)"``: a ``YYYY part`` marker with
    ``YYYY <= year`` in the same string.  An id published after ``year``, or unknown, is a
    problem.  Returns one message per problem (empty: the scenario is dated honestly).
    """
    entries = register()
    problems: list[str] = []
    for text in sources:
        marked = [int(y) for y in PART.findall(text or "")]
        for evidence_id in cited_ids([text]):
            entry = entries.get(evidence_id)
            if entry is None:
                problems.append(f"{evidence_id} is not in the evidence register: {text!r}")
            elif entry.year > year:
                problems.append(f"{evidence_id} was published in {entry.year}, after {year}: {text!r}")
            elif entry.last_year > year and not any(y <= year for y in marked):
                problems.append(
                    f"{evidence_id} holds figures published in {entry.later_year} ({entry.later_part}); "
                    f"cite the part known in {year} as '({year} part)': {text!r}"
                )
    return problems


@functools.lru_cache(maxsize=1)
def _labels() -> dict[str, Any]:
    with open(HERE / "labels.toml", "rb") as handle:
        return tomllib.load(handle)


def label(key: str, *, short: bool = False, mechanism_type: str | None = None) -> str:
    """Plain label of a scenario key (``population.p30_entry``) or metric column (``moic_committed``).

    Fields of list entries are found under ``*`` (``contract.mechanisms.*.price_per_day``), a
    tranche's or guarantor's columns under their pattern (``moic_*``, with its name in the label);
    an unknown key is returned as it is.  A mechanism's field whose meaning depends on the
    mechanism has a label for each ``mechanism_type`` (``days_saved_vs_baseline``).
    """
    entry = _label_entry(key)
    if entry is None:
        return key
    entry = {**entry, **entry.get("by_type", {}).get(mechanism_type, {})}
    text = entry.get("short" if short else "label", key)
    named = _named_metric(key)
    return text.replace("{name}", named[1]) if named else text


def unit(key: str) -> str | None:
    """The unit of a scenario key or metric column, if it has one."""
    entry = _label_entry(key)
    return None if entry is None else entry.get("unit")


def _label_entry(key: str) -> dict[str, Any] | None:
    labels = _labels()
    metrics = labels.get("metrics", {})
    if key in labels:
        return labels[key]
    if key in metrics:
        return metrics[key]
    if key in labels.get("series", {}):  # quarterly series, as in quarterly.csv and observations files
        return labels["series"][key]
    named = _named_metric(key)
    if named:
        return metrics[named[0]]
    # List entries (mechanisms, items, payers, tranches, cohorts, milestones) share one label: "*".
    wildcard = re.sub(r"\.\d+(?=\.|$)", ".*", key)
    if wildcard in labels:
        return labels[wildcard]
    # A care cohort's own population, effect and care tables mean what the top-level ones do.
    own = re.fullmatch(r"cohorts\.\*\.(population|effect|care)\.(.+)", wildcard)
    if own:
        return labels.get(f"{own[1]}.{own[2]}")
    # Metric columns named after the scenario's mechanisms, payers, cohorts and milestones.
    for pattern, entry in metrics.items():
        if "*" in pattern and fnmatch.fnmatchcase(key, pattern):
            return entry
    return None


# Columns named after a tranche or guarantor: longest prefixes first ("guarantee_received_" before
# "guarantee_", "irr_status_" before "irr_").
_NAMED = re.compile(r"^(moic|irr_status|irr|capital_drawn|distributions|lost_principal|guarantee_received|guarantee)_"
                    r"(?P<name>[a-z][a-z0-9_]*)$")


def _named_metric(key: str) -> tuple[str, str] | None:
    """(pattern key, name) of a per-tranche or per-guarantor column, or None."""
    if key in _labels().get("metrics", {}):
        return None
    found = _NAMED.match(key)
    return (f"{found.group(1)}_*", found.group("name")) if found else None
