"""User-facing errors.

Every problem a user can cause (a broken scenario file, a bad ``--set``, an impossible value)
is raised as :class:`ScenarioError`, which carries *all* the problems found, each naming the
file, the dotted key, the offending value and what was expected.  The CLI turns it into exit
code 2 and a readable message; nothing else in simsib prints.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

_MAX_VALUE_CHARS = 80


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Closest valid name to a misspelt ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input."""

    key: str  # dotted key, e.g. "effect.log_hazard_ratio.sd"; "" for the whole file
    message: str  # what was expected
    value: Any = field(default=None)
    has_value: bool = False
    choices: Sequence[str] = ()
    suggestion: str | None = None

    def render(self, file: str | None) -> str:
        where = f"{file}: " if file else ""
        key = self.key or "(file)"
        text = f"{where}{key}: {self.message}"
        if self.has_value:
            text += f" (got {_short_repr(self.value)})"
        if self.suggestion:
            text += f"; did you mean '{self.suggestion}'?"
        if self.choices:
            text += f"; valid choices: {', '.join(map(str, self.choices))}"
        return text


class ScenarioError(Exception):
    """Bad user input: one or more problems, all reported at once."""

    def __init__(self, problems: Sequence[Problem], file: str | None = None):
        self.problems = list(problems)
        self.file = file
        super().__init__(self.render())

    def render(self) -> str:
        lines = [p.render(self.file) for p in self.problems]
        head = f"{len(lines)} problem{'s' if len(lines) != 1 else ''} in the input"
        if self.file:
            head += f" ({self.file})"
        return head + ":\n" + "\n".join(f"  - {line}" for line in lines)

    @classmethod
    def single(cls, key: str, message: str, *, file: str | None = None, **kwargs: Any) -> "ScenarioError":
        has_value = "value" in kwargs
        return cls([Problem(key=key, message=message, has_value=has_value, **kwargs)], file=file)
