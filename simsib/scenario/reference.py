"""The scenario file reference (docs/scenario-reference.md), generated from the schema.

Every table and key comes from the pydantic models of :mod:`simsib.scenario.format` -- what it takes
(type, bounds, unit), its default and its description -- and every distribution family with its
parameter forms from :mod:`simsib.scenario.distributions`; only the examples are written here, and a
test checks that they form a valid scenario.  A test also checks that the committed file equals
:func:`render_reference`, so the reference cannot drift from the schema.  Regenerate with::

    python -m simsib.scenario.reference > docs/scenario-reference.md
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Iterator

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simsib.scenario import distributions
from simsib.scenario.format import Expects, Scenario
from simsib.scenario.format.fields import Section
from simsib.scenario.loader import MAX_EXTENDS_DEPTH, MAX_FILE_BYTES
from simsib.scenario.reference_examples import FAMILY_EXAMPLES, SECTION_EXAMPLES  # noqa: F401

REGENERATE = "python -m simsib.scenario.reference > docs/scenario-reference.md"

# The cross-parameter checks of simsib.scenario.distributions, in words (tests/test_bad_input.py tries them).
FAMILY_CHECKS: dict[str, str] = {
    "uniform": "`high` > `low`.",
    "triangular": "`high` > `low`, and `low` ≤ `mode` ≤ `high`.",
    "normal": "`high` > `low` when both truncation bounds are given.",
    "lognormal": "`p95` > `p05` (they are the 5th and 95th percentiles).",
    "beta": "`p95` > `p05`, and some beta distribution must have them as its 5th and 95th percentiles.",
    "categorical": "one weight per value; the weights sum to 1 (within 1e-9).",
    "mixture": "one weight per component; the weights sum to 1 (within 1e-9).",
}

_INTRO = f"""# Scenario file reference

*Generated from the scenario schema (`simsib/scenario/format/`, `simsib/scenario/distributions/`) by
`{REGENERATE}`. A test fails when this file and the schema
disagree: do not edit it by hand.*

A scenario is a UTF-8 [TOML](https://toml.io) file (under {MAX_FILE_BYTES / 2**20:g} MiB) describing one
social impact bond and the evidence behind every number; `scenarios/essex.toml` is the worked
example. Times are **months from contract start** (or from a young person's start where a key
says so), money is **£**, rates and shares are fractions (0.035 is 3.5%).

* **Unknown keys are errors**, with a "did you mean" and the valid choices; `simsib validate
  FILE` reports every problem of a file at once (file, dotted key, value, what was expected).
  `simsib schema` prints the JSON Schema, for editors that complete and check TOML.
* **Variants**: `extends = "essex.toml"` on the first line reads that file (relative to this
  one, or a bundled scenario by name) and deep-merges this file over it: tables merge key by
  key, a list (such as `[[contract.mechanisms]]`) replaces the parent's whole list, and a
  distribution table (one with `dist` or `value`) replaces the parent's whole entry, while a
  table without them (`duration_months = {{ sigma = 0.8 }}`) changes just those parameters.
  Chains may be up to {MAX_EXTENDS_DEPTH} parents deep; cycles and missing parents are errors.
* **Overrides**: `simsib run --set dotted.key=value` sets any key with the same validation;
  the value is read as TOML (`--set contract.cap=7.2e6`, `--set 'effect.duration_months={{ value = 12 }}'`,
  `--set effect.duration_months.median=30`), or as a bare word (`--set contract.netting=cohort`).
  List entries are numbered from 0: `--set contract.mechanisms.0.price_per_day=80`.
* A scenario file is data: nothing in it is evaluated, unpickled or imported.

## Kinds of value

* **quantity**: an uncertain number, drawn once per Monte Carlo draw. Write a plain number
  (`0.5`), a number with its source (`{{ value = 0.5, source = "E5" }}`), or a distribution table
  (`{{ dist = "beta", a = 17, b = 3, source = "E31" }}`; families below). A quantity's *whole
  range* must lie inside its hard bounds (a probability's beta, never a normal), and the middle
  99.8% of its draws inside its plausible range, which catches typos such as a cap of 7.2e16.
* **whole number**: a setting that shapes the simulation's arrays (months of a window, number of
  teams), so it cannot be uncertain: `30` or `{{ value = 30, source = "E6" }}`.
* **source**: every default should cite its evidence: an EVIDENCE id (`"E26"`, `"E20, E22: ..."`)
  or `"judgement: "` followed by the reasoning.
"""


def render_reference() -> str:
    """The Markdown scenario reference."""
    parts = [_INTRO, "## Tables\n"]
    for heading, model, intro, example in _tables():
        parts.append(_render_table(heading, model, intro, example))
    parts.append(_render_families())
    return "\n".join(parts).rstrip() + "\n"


# --- tables ---------------------------------------------------------------------------------


# Sections required only by some scenarios.
SECTION_INTROS = {
    section: f"*Required when a cohort in the care process has no `{section}` table of its own (always, without "
             "`[[cohorts]]`).*" for section in ("population", "effect", "care")
}
# What a list of tables holds, where "*optional; one table each.*" would not say enough.
LIST_INTROS = {
    "cohorts": "*Optional; one `[[cohorts]]` table per cohort, each with its outcome process.*",
    "contract.mechanisms": "*One `[[contract.mechanisms]]` table per mechanism; several add up.*",
    "contract.payers": "*Optional; one `[[contract.payers]]` table per payer.*",
    "contract.mechanisms.items": "*One `[[contract.mechanisms.items]]` table per rate-card item, inside its "
                                 "`rate_card` mechanism (see its example).*",
    "cohorts.outcomes": "*One `[[cohorts.outcomes]]` table per milestone, inside its `attainment` cohort "
                        "(see its example).*",
}


def _tables() -> Iterator[tuple[str, type[BaseModel], str, str | None]]:
    """(heading, model, intro line, example) for every table of the format, in file order."""
    for name, info in Scenario.model_fields.items():
        annotation, _ = _unwrap(info.annotation, [])
        origin = typing.get_origin(annotation)
        required = "required" if info.is_required() else "optional"
        if _is_model(annotation):
            yield f"[{name}]", annotation, SECTION_INTROS.get(name, f"*{required} table.*"), SECTION_EXAMPLES[name]
            yield from _subtables(name, annotation)
        elif origin is list:
            yield from _list_tables(name, annotation)
        elif origin is dict:
            yield (f"[{name}.NAME]", _strip(typing.get_args(annotation)[1]),
                   f"*{required}; one table per name.*", SECTION_EXAMPLES[name])


def _subtables(path: str, model: type[BaseModel]) -> Iterator[tuple[str, type[BaseModel], str, str | None]]:
    """The tables inside a table (mechanisms, payers, tranches, a drawdown rule, ...), depth first."""
    for sub_name, sub_info in model.model_fields.items():
        dotted = f"{path}.{sub_name}"
        if _list_of_models(sub_info.annotation):
            yield from _list_tables(dotted, sub_info.annotation)
            continue
        inner, many = _nested_section(sub_info.annotation)
        if inner is not None:
            heading, intro = (f"[[{dotted}]]", "*optional; one table each.*") if many else (f"[{dotted}]", "*optional table.*")
            yield heading, inner, LIST_INTROS.get(dotted, intro), SECTION_EXAMPLES[dotted]
            yield from _subtables(dotted, inner)


def _list_tables(key: str, annotation: Any) -> Iterator[tuple[str, type[BaseModel], str, str | None]]:
    """The tables of a ``[[key]]`` list: one per kind (``type``/``process``) with its example,
    then the lists inside them (rate-card items, milestones), shown in their parent's example."""
    nested: list[str] = []
    members = _list_of_models(annotation) or [_nested_section(annotation)[0]]
    for member in members:
        tag_field = _tag_field(member)
        if tag_field is None:
            yield f"[[{key}]]", member, LIST_INTROS.get(key, "*optional; one table each.*"), SECTION_EXAMPLES.get(key)
        else:
            tag = typing.get_args(member.model_fields[tag_field].annotation)[0]
            yield f'[[{key}]] {tag_field} = "{tag}"', member, LIST_INTROS[key], SECTION_EXAMPLES[f"{key}.{tag}"]
        for sub_name, sub_info in member.model_fields.items():
            inner, many = _nested_section(sub_info.annotation)
            if many and f"{key}.{sub_name}" not in nested:
                nested.append(f"{key}.{sub_name}")
                yield from _list_tables(f"{key}.{sub_name}", sub_info.annotation)


def _tag_field(model: type[BaseModel]) -> str | None:
    """The discriminator a table is chosen by (``type`` for mechanisms, ``process`` for cohorts)."""
    for name in ("type", "process"):
        info = model.model_fields.get(name)
        if info is not None and typing.get_origin(info.annotation) is typing.Literal:
            return name
    return None


def _render_table(heading: str, model: type[BaseModel], intro: str, example: str | None) -> str:
    lines = [f"### `{heading}`", "", _doc(model), "", intro, "",
             "| key | takes | default | meaning |", "|---|---|---|---|"]
    top_level = {_unwrap(info.annotation, [])[0] for info in Scenario.model_fields.values()}
    for name, info in model.model_fields.items():
        inner = _nested_section(info.annotation)[0]
        if _list_of_models(info.annotation) or (inner is not None and inner not in top_level):
            many = _list_of_models(info.annotation) or _nested_section(info.annotation)[1]
            takes, meaning = "tables" if many else "table", f"{info.description or ''} See below."
        else:
            takes, meaning = _takes(info), info.description or ""
        lines.append(f"| `{info.alias or name}` | {_cell(takes)} | {_cell(_default(info))} | {_cell(meaning)} |")
    lines.append("")
    if example is not None:
        lines += ["```toml", example, "```", ""]
    return "\n".join(lines)


def _takes(info: FieldInfo) -> str:
    """What a field takes, in words: its Expects note, else read from its type and bounds."""
    annotation, metadata = _unwrap(info.annotation, list(info.metadata))
    notes = [m.text for m in metadata if isinstance(m, Expects)]
    if notes:
        return notes[0]
    if annotation is bool:
        return "true or false"
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(f'`"{a}"`' for a in typing.get_args(annotation))
    if annotation in (int, float):
        kind = "whole number" if annotation is int else "number"
        return kind + _bounds_text(metadata)
    if annotation is str:
        pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
        if any(getattr(m, "func", None) is distributions.check_source for m in metadata):
            return "text: an EVIDENCE id or `judgement: ...`"
        return f"text matching `{pattern}`" if pattern else "text"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args and _strip(args[0]) is str:
        return "list of text" + _length_text(metadata)
    if origin is list and args:
        item, item_metadata = _unwrap(args[0], [])
        if item in (int, float):
            return f"list of numbers{_bounds_text(item_metadata)}" + _length_text(metadata)
    if origin is dict:
        return "table of `dotted.key = value`"
    if _is_distribution(annotation):
        return "distribution table"
    if _is_model(annotation):
        return f"a table like `[{annotation.__name__.lower()}]`"
    return str(annotation)  # pragma: no cover - a new kind of field: extend this function


def _bounds_text(metadata: list[Any]) -> str:
    words = []
    for m in metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(m, getattr(annotated_types, attr.capitalize())):
                words.append(f"{sign} {getattr(m, attr):,}")
    return " " + ", ".join(words) if words else ""


def _length_text(metadata: list[Any]) -> str:
    low = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), None)
    high = next((m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)), None)
    if low is not None and low == high:
        return f", exactly {low}"
    return f", at least {low}" if low else ""


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return "defaults"
    if isinstance(value, (list, dict)) and not value:
        return "empty"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


# --- distribution families ------------------------------------------------------------------


def _render_families() -> str:
    lines = ["## Distribution families", "",
             "Wherever a key takes a *quantity* it takes any of these tables. Every table may carry",
             "`source`. Families with several parameterisations take exactly one complete form.", ""]
    for family in distributions._FAMILIES:
        tag = distributions._tag(family)
        lines += [f"### `{tag}`", "", _doc(family, first_paragraph=True), ""]
        if tag in FAMILY_CHECKS:
            lines += [f"Checked: {FAMILY_CHECKS[tag]}", ""]
        forms = getattr(family, "_forms", ())
        if forms:
            listed = " · ".join("(" + ", ".join(f"`{family._key(n)}`" for n in form) + ")" for form in forms)
            lines += [f"Forms (exactly one): {listed}", ""]
        lines += ["| key | takes | default |", "|---|---|---|"]
        for name, info in sorted(family.model_fields.items(), key=lambda kv: kv[0] in ("dist", "source")):
            if name == "dist":
                continue
            takes = _parameter_takes(info)
            lines.append(f"| `{info.alias or name}` | {_cell(takes)} | {_cell(_default(info))} |")
        lines += ["", "```toml"] + [f"x = {example}" for example in FAMILY_EXAMPLES[tag]] + ["```", ""]
    return "\n".join(lines)


def _parameter_takes(info: FieldInfo) -> str:
    annotation, metadata = _unwrap(info.annotation, list(info.metadata))
    if info.alias is None and annotation is str:
        return "text: an EVIDENCE id or `judgement: ...`"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple:
        item, item_metadata = _unwrap(args[0], [])
        if _is_distribution(item):
            return "list of quantities" + _length_text(metadata)
        return f"list of numbers{_bounds_text(item_metadata)}" + _length_text(metadata)
    return "number" + _bounds_text(metadata)


# --- helpers --------------------------------------------------------------------------------


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """The bare type of an annotation (through Annotated and Optional), and all its metadata."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
            continue
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) \
                and type(None) in args and len(args) == 2:
            annotation = next(a for a in args if a is not type(None))
            continue
        return annotation, metadata


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_distribution(annotation: Any) -> bool:
    members = typing.get_args(_strip(annotation))
    return bool(members) and all(m in distributions._FAMILIES for m in members)


def _list_of_models(annotation: Any) -> list[type[BaseModel]]:
    """Members of a ``list[Union[models]]`` field (mechanisms, cohorts); [] for anything else."""
    annotation, _ = _unwrap(annotation, [])
    if typing.get_origin(annotation) is not list:
        return []
    members = typing.get_args(_strip(typing.get_args(annotation)[0]))
    return list(members) if len(members) > 1 and all(_is_model(m) for m in members) else []


def _nested_section(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The table a field holds, and whether it holds a list of them: a tranche list, a drawdown
    rule (not a distribution, which is a quantity)."""
    bare, _ = _unwrap(annotation, [])
    many = typing.get_origin(bare) is list
    inner = _strip(typing.get_args(bare)[0]) if many else bare
    if _is_model(inner) and issubclass(inner, Section):
        return inner, many
    return None, False


def _doc(obj: Any, first_paragraph: bool = False) -> str:
    text = inspect.cleandoc(obj.__doc__ or "")
    if first_paragraph:
        text = text.split("\n\n")[0]
    return " ".join(text.replace("``", "`").split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":  # pragma: no cover
    print(render_reference(), end="")
