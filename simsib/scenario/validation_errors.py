"""Translating pydantic's validation errors into :class:`~simsib.scenario.errors.Problem` s.

:func:`problems_from_pydantic` rewrites pydantic's error records for people: locations lose
the union tags pydantic inserts (``effect.completion_rate.beta.p95`` becomes
``effect.completion_rate.p95``), unknown keys get the valid choices and a "did you mean",
and a model-level validator may name the key it is about by starting its message with
``key: `` (relative to the model), one problem per line.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Iterable, Sequence

from pydantic import BaseModel, ValidationError

from simsib.scenario.errors import Problem, did_you_mean, dotted

_KEYED_MESSAGE = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*): (?P<message>\S.*)", re.DOTALL)
_MISSING = object()


# --- from pydantic ------------------------------------------------------------------------


def problems_from_pydantic(exc: ValidationError, data: Any, model: type[BaseModel]) -> list[Problem]:
    """Readable problems for every error of ``exc``, raised validating ``data`` into ``model``."""
    problems: list[Problem] = []
    for err in exc.errors():
        for problem in _problems_from_error(err, data, model):
            if problem not in problems:
                problems.append(problem)
    return problems


def _problems_from_error(err: dict[str, Any], data: Any, model: type[BaseModel]) -> list[Problem]:
    keys = clean_loc(err["loc"], data, model)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input", _MISSING)
    message = _plain_message(err["msg"])

    if kind == "extra_forbidden":
        choices = field_names_at(keys[:-1], data, model)
        return [Problem(key=dotted(keys), message="unknown key", suggestion=did_you_mean(str(keys[-1]), choices),
                        choices=tuple(choices))]
    if kind == "missing":
        return [Problem(key=dotted(keys), message="required key is missing")]
    if kind == "union_tag_invalid":
        tag, choices = _unquote(ctx.get("discriminator", "")), _choices(ctx.get("expected_tags", ""))
        bad = ctx.get("tag", value)
        return [Problem(key=dotted([*keys, tag]), message="not a valid choice", value=bad, has_value=True,
                        suggestion=did_you_mean(str(bad), choices), choices=tuple(choices))]
    if kind == "union_tag_not_found":
        tag = _unquote(ctx.get("discriminator", "type"))
        choices = tags_at(keys, data, model, tag)
        return [Problem(key=dotted([*keys, tag]), message="required key is missing: it says which kind of table "
                        "this is", choices=tuple(choices))]
    if kind in ("literal_error", "enum"):
        choices = _choices(ctx.get("expected", ""))
        return [Problem(key=dotted(keys), message="not a valid choice", value=value, has_value=True,
                        suggestion=did_you_mean(str(value), choices), choices=tuple(choices))]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        message = "expected a table"
    elif kind in ("list_type", "tuple_type"):
        message = "expected a list"
    elif kind == "string_pattern_mismatch":
        message = f"must match the pattern {ctx.get('pattern', '')}"
    if isinstance(value, dict) and kind.endswith(("_type", "_parsing")) and kind != "dict_type":
        message += "; got a table"
    if kind in ("value_error", "assertion_error") and ("\n" in message or _KEYED_MESSAGE.fullmatch(message)):
        return [_keyed_problem(line, keys) for line in message.splitlines() if line.strip()]
    return [Problem(key=dotted(keys), message=message, value=_shown(value, message), has_value=_has_shown(value, message))]


def _keyed_problem(line: str, keys: list[Any]) -> Problem:
    """A validator's message line, at the key it names (``key: message``) below ``keys``."""
    found = _KEYED_MESSAGE.fullmatch(line)
    if not found:
        return Problem(key=dotted(keys), message=line)
    parts = [int(p) if p.isdigit() else p for p in found["key"].split(".")]
    # A validator that names its key states the value in its own words when it matters.
    return Problem(key=dotted([*keys, *parts]), message=found["message"])


def _has_shown(value: Any, message: str) -> bool:
    # The value is shown unless there is none, it is a whole table, or the message gives it.
    if value is _MISSING or value is None or isinstance(value, (dict, BaseModel)):
        return False
    return "got " not in message


def _shown(value: Any, message: str) -> Any:
    return value if _has_shown(value, message) else None


def _plain_message(msg: str) -> str:
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, "):]
    if msg.startswith("Input should be "):
        msg = "must be " + msg[len("Input should be "):]
    return msg


def _unquote(text: Any) -> str:
    return str(text).strip(" '\"")


def _choices(expected: Any) -> list[str]:
    text = str(expected).replace(" or ", ",")
    return [_unquote(c) for c in text.split(",") if _unquote(c)]


# --- walking a model's annotations along a data path ----------------------------------------


def clean_loc(loc: Iterable[Any], data: Any, model: type[BaseModel]) -> list[Any]:
    """pydantic's error location as the path in the user's data.

    Walks the model's annotations beside the location and drops what the file never wrote:
    the tag pydantic inserts below a discriminated union (``beta``, ``days_out_of_care``) and
    validator names such as ``function-after[...]``.
    """
    kept: list[Any] = []
    annotation: Any = model
    node: Any = data
    for part in loc:
        members = _models_in(annotation)
        if len(members) > 1 and isinstance(part, str):
            # Below a union pydantic always names the member first; the file never wrote it.
            by_tag = {tag: m for m in members for tag in _model_tags(m)}
            if part in by_tag:
                annotation = by_tag[part]
                continue
        if isinstance(part, str) and "[" in part and not _holds(node, part):
            continue  # a validator's name, e.g. function-after[check(), int]
        kept.append(part)
        annotation = _child_annotation(annotation, part, node)
        node = _child(node, part)
    return kept


def field_names_at(keys: Sequence[Any], data: Any, model: type[BaseModel]) -> list[str]:
    """Keys the file may write in the table at ``keys`` (aliases where a field has one)."""
    annotation, node = _annotation_at(keys, data, model)
    chosen = _pick_model(annotation, node)
    if chosen is None:
        return []
    return [info.alias or name for name, info in chosen.model_fields.items()]


def tags_at(keys: Sequence[Any], data: Any, model: type[BaseModel], tag: str) -> list[str]:
    """The valid values of the discriminator ``tag`` of the union at ``keys``."""
    annotation, _ = _annotation_at(keys, data, model)
    return [t for m in _models_in(annotation) for t in _model_tags(m, tag)]


def _annotation_at(keys: Sequence[Any], data: Any, model: type[BaseModel]) -> tuple[Any, Any]:
    annotation: Any = model
    node: Any = data
    for part in keys:
        annotation = _child_annotation(annotation, part, node)
        node = _child(node, part)
    return annotation, node


_UNIONS = (typing.Union, types.UnionType)
# The keys that say which kind of table a table is: a distribution, a mechanism, a cohort.
DISCRIMINATORS = ("dist", "type", "process")


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation may hold directly (through unions and Optional)."""
    annotation = _strip(annotation)
    if _is_model(annotation):
        return [annotation]
    if typing.get_origin(annotation) in _UNIONS:
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _model_tags(model: type[BaseModel], tag: str | None = None) -> list[str]:
    """Values of a model's ``Literal`` discriminator field(s) (``dist``, ``type`` or ``process``)."""
    found = []
    for name in (tag,) if tag else DISCRIMINATORS:
        info = model.model_fields.get(name) if name else None
        if info is not None and typing.get_origin(info.annotation) is typing.Literal:
            found.extend(str(a) for a in typing.get_args(info.annotation))
    return found


def _pick_model(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The model a table is validated as: a union member chosen by the table's tag."""
    members = _models_in(annotation)
    if isinstance(node, dict):
        for m in members:
            if any(node.get(name) in _model_tags(m, name) for name in DISCRIMINATORS):
                return m
        if len(members) > 1 and "dist" not in node and "value" in node:
            fixed = [m for m in members if "fixed" in _model_tags(m, "dist")]
            if fixed:
                return fixed[0]
    return members[0] if len(members) == 1 else None


def _child_annotation(annotation: Any, part: Any, node: Any) -> Any:
    chosen = _pick_model(annotation, node)
    if chosen is not None:
        for name, info in chosen.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    stripped = _strip(annotation)
    origin = typing.get_origin(stripped)
    if origin in _UNIONS:  # e.g. list[...] | None
        for arg in typing.get_args(stripped):
            if arg is not type(None):
                found = _child_annotation(arg, part, node)
                if found is not None:
                    return found
        return None
    args = typing.get_args(stripped)
    if origin in (list, tuple) and args and isinstance(part, int):
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _holds(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    if isinstance(node, (list, tuple)):
        return isinstance(part, int) and 0 <= part < len(node)
    return False


def _child(node: Any, part: Any) -> Any:
    return node[part] if _holds(node, part) else None
