"""User-facing errors: every problem a user can cause, with the file, the key, the value and what was expected.

Every problem a user can cause (a broken scenario file, a bad ``--set``, an impossible value)
is raised as :class:`ScenarioError`, which carries *all* the problems found, each naming the
file, the dotted key as written in the file, the offending value and what was expected.  The
CLI turns it into exit code 2 and a readable message; nothing else in simsib prints.
Translating pydantic's validation errors into problems is :mod:`simsib.scenario.validation_errors`'s job.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

_MAX_VALUE_CHARS = 80
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# "referrals.service_end_month: must be after ..." -- a validator naming its key (see module doc).


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Closest valid name to a misspelt ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return matches[0] if matches else None


def dotted(parts: Iterable[Any]) -> str:
    """A key path as a TOML dotted key: ``contract.mechanisms.0.price_per_day``.

    Parts that are not bare TOML keys are quoted, so a stray key such as ``"a.b"`` stays one
    part: ``meta."a.b"``.
    """
    return ".".join(str(p) if isinstance(p, int) or _BARE_KEY.fullmatch(str(p)) else _quoted(str(p)) for p in parts)


def _quoted(key: str) -> str:
    # A TOML basic string: JSON's escapes, plus DEL, which JSON leaves bare and TOML forbids.
    return json.dumps(key, ensure_ascii=False).replace("\x7f", "\\u007f")


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
        text = ": ".join(part for part in (file, self.key, self.message) if part)
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

    def __reduce__(self):
        # Picklable, so an error raised in a worker process arrives intact.
        return (type(self), (self.problems, self.file))

    def render(self) -> str:
        lines = [p.render(self.file) for p in self.problems]
        head = f"{len(lines)} problem{'s' if len(lines) != 1 else ''} in the input"
        if self.file:
            head += f" ({self.file})"
        return head + ":\n" + "\n".join(f"  - {line}" for line in lines)

    @classmethod
    def single(cls, key: str, message: str, *, file: str | None = None, **kwargs: Any) -> "ScenarioError":
        """One problem; ``value=`` is shown unless it is None (TOML has no null)."""
        has_value = kwargs.get("value") is not None
        return cls([Problem(key=key, message=message, has_value=has_value, **kwargs)], file=file)


