"""Evidence a reader can follow: the assumptions table in plain words, and its sources.

Every input of the assumptions table gets its plain label and unit (``labels.toml``), and each
evidence id it cites links to a footnote holding the register's entry (title, figure, source,
year; ``evidence.toml`` ships with the package), with the same text on hover.  The provenance
lists every id the table cites.  An id missing from the register is shown as such, never
silently dropped.
"""

from __future__ import annotations

from typing import Any

from simsib.scenario.evidence import label as plain_label
from simsib.scenario.evidence import register
from simsib.scenario.evidence import unit as unit_of


def _label(key: str) -> str:
    try:
        found = plain_label(key)
    except (KeyError, ValueError):
        return ""
    return "" if found == key else found


def _unit(key: str) -> str:
    try:
        return unit_of(key) or ""
    except (KeyError, ValueError):
        return ""


def hover(entry: Any) -> str:
    """One line for a ``title=`` tooltip: id, title, figure, source and year."""
    return f"{entry.id}: {entry.title}. {entry.figure} Source: {entry.source} ({entry.year})."


def annotate(rows: list[dict[str, str]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The assumption rows with ``label``, ``unit`` and ``cites`` (one ``{id, hover, known}`` per
    cited id), and the footnotes: every cited id once, in order of first citation, with its
    register entry (``known`` False where the register lacks it)."""
    entries = register()
    order: dict[str, None] = {}
    out = []
    for row in rows:
        ids = [i.strip() for i in row.get("evidence", "").split(",") if i.strip()]
        for i in ids:
            order.setdefault(i, None)
        out.append({**row, "label": _label(row["key"]), "unit": _unit(row["key"]),
                    "cites": [{"id": i, "known": i in entries, "hover": hover(entries[i]) if i in entries
                               else f"{i}: not in the evidence register"} for i in ids]})
    notes = []
    for i in order:
        entry = entries.get(i)
        notes.append({"id": i, "known": entry is not None,
                      **({"title": entry.title, "figure": entry.figure, "source": entry.source, "year": entry.year,
                          "tag": entry.tag, "caveat": entry.caveat or ""} if entry else {})})
    return out, notes


def markdown_lines(notes: list[dict[str, Any]]) -> list[str]:
    """The footnotes as a Markdown list."""
    lines = ["### Sources", ""]
    for note in notes:
        if note["known"]:
            lines.append(f"- <a id=\"ev-{note['id']}\"></a>**{note['id']}** {note['title']}: {note['figure']} "
                         f"*{note['source']}* ({note['year']}).")
        else:
            lines.append(f"- **{note['id']}**: not in the evidence register.")
    return lines + [""]
