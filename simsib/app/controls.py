"""The live view's controls: which scenario keys the page offers, their units, ranges and evidence.

Few controls, chosen for the questions a cabinet or an investment committee asks:

* **contract terms** (money keys, settled on the simulated care paths at once): the cap, each
  mechanism's price, the baseline a days-saved mechanism pays against, the capital committed
  (each tranche's, where the term sheet has tranches) and the share of it drawn at close;
* **assumptions** (model keys, which re-simulate): the referral volume, and the weights of the
  evidence strands of the effect prior and of the referred population's risk, where the scenario
  draws them from a mixture.

A control is offered only where the scenario has the key in a form a slider can set: a fixed
number, a distribution's median or mean, a mixture's weights.  Each carries its plain label and
unit (:mod:`simsib.scenario.evidence`) and the evidence ids its scenario value cites.
:func:`overrides` turns the page's values into the dotted-key overrides of ``--set``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from simsib.analysis.variants import MONEY_ONLY
from simsib.scenario.errors import Problem, ScenarioError, did_you_mean
from simsib.scenario.evidence import cited_ids, label, register, unit
from simsib.scenario.format import Scenario
from simsib.scenario.variants import raw_at, under

PRICE_FIELDS = ("price_per_day", "price", "price_per_person", "price_per_event")
SLIDER_STEPS = 100  # about this many steps across a slider


@dataclass(frozen=True)
class Strand:
    """One component of a mixture: what it stands for and its evidence."""

    label: str
    evidence: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Control:
    """One control on the page.

    key : the dotted key a ``--set`` sets (``contract.cap``, ``referrals.referrals_per_month.median``)
    kind : ``money`` (settled on the simulated paths) or ``model`` (re-simulates)
    widget : ``number`` (a slider with a box) or ``weights`` (one slider per strand, summing to 1)
    unit : as in labels.toml (``£``, ``£ a day``, ``share``, ``a month``, …)
    value : the scenario's value (a list of weights for ``weights``)
    minimum, maximum, step : the slider's range (the box accepts any value; the scenario's
        validation has the last word)
    """

    key: str
    kind: str
    widget: str
    group: str
    label: str
    short: str
    unit: str | None
    value: Any
    minimum: float
    maximum: float
    step: float
    evidence: tuple[str, ...]
    evidence_titles: tuple[str, ...]
    strands: tuple[Strand, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(entry: Any) -> float | None:
    """The number of a plain value or a ``{ value = …, source = … }`` table, else None."""
    if isinstance(entry, bool):
        return None
    if isinstance(entry, (int, float)):
        return float(entry)
    if isinstance(entry, dict) and entry.get("dist", "fixed") == "fixed" and isinstance(entry.get("value"), (int, float)):
        return float(entry["value"])
    return None


def _source(entry: Any) -> str:
    return entry.get("source") or "" if isinstance(entry, dict) else ""


def nice_step(span: float, base: float) -> float:
    """A step of 1, 2 or 5 × 10^k near ``span / SLIDER_STEPS`` that the base value is a multiple
    of, so that the slider starts exactly on the scenario's value."""
    if span <= 0:
        return 1.0
    exponent = math.floor(math.log10(span / SLIDER_STEPS))
    for k in range(exponent, exponent - 8, -1):
        for mantissa in (5, 2, 1):
            step = mantissa * 10.0**k
            if step <= span / SLIDER_STEPS * 1.0001 and abs(base / step - round(base / step)) < 1e-6:
                return step
    return 10.0 ** (exponent - 8)


def _evidence(*sources: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ids = tuple(cited_ids(sources))
    known = register()
    return ids, tuple(f"{i}: {known[i].title}" if i in known else i for i in ids)


def _number_control(raw: Mapping[str, Any], key: str, group: str, *, label_key: str | None = None,
                    entry_key: str | None = None, share: bool = False, mechanism_type: str | None = None
                    ) -> Control | None:
    """A slider for the number at ``key`` (a plain number or a fixed table, or a distribution's
    parameter), from 0 (or one step) to twice its value; shares from 0 to 1."""
    entry = raw_at(raw, entry_key or key)
    value = _number(raw_at(raw, key))
    if value is None:
        return None
    label_key = label_key or key
    kind = "money" if under(label_key, MONEY_ONLY) else "model"
    if share:
        low, high, step = 0.0, 1.0, nice_step(1.0, value)
    else:
        high = 2.0 * value if value > 0 else 1.0
        step = nice_step(high, value)
        # Money may be zero (no cap, a free service); a model rate of zero is rarely valid.
        low = 0.0 if kind == "money" else step
    ids, titles = _evidence(_source(entry))
    return Control(key=key, kind=kind, widget="number",
                   group=group, label=label(label_key, mechanism_type=mechanism_type),
                   short=label(label_key, short=True, mechanism_type=mechanism_type), unit=unit(label_key),
                   value=value, minimum=low, maximum=high, step=step, evidence=ids, evidence_titles=titles)


def _strand_label(source: str) -> str:
    """What a mixture's component stands for, from its source: "E20: START trial, OR 1.25" ->
    "START trial, OR 1.25" (the ids are shown apart); a quoted name if the source has one
    ("E6, E20: the 2012 strand 'community effectiveness trials', conditioned (…)" ->
    "community effectiveness trials")."""
    text = source.split(":", 1)[1].strip() if ":" in source and cited_ids([source.split(":", 1)[0]]) else source
    quoted = re.search(r"'([^']{3,})'", text)
    return (quoted.group(1) if quoted else text) or "strand"


def _weights_control(raw: Mapping[str, Any], scenario: Scenario, key: str, group: str) -> Control | None:
    entry = raw_at(raw, key)
    if not isinstance(entry, dict) or entry.get("dist") != "mixture" or not isinstance(entry.get("weights"), list):
        return None
    quantity = _validated(scenario, key)
    components = entry.get("components") or []
    strands = []
    for i, component in enumerate(components):
        source = _source(component)
        mean = quantity.components[i].mean() if quantity is not None else float("nan")
        if unit(key) == "log ratio":
            note = f"hazard ratio about {math.exp(mean):.2f}"
        elif unit(key) == "share":
            note = f"mean {100 * mean:.0f}%"
        else:
            note = f"mean {mean:.3g}"
        strands.append(Strand(_strand_label(source), tuple(cited_ids([source])), note))
    ids, titles = _evidence(_source(entry), *(_source(c) for c in components))
    return Control(key=f"{key}.weights", kind="model", widget="weights", group=group, label=label(key),
                   short=label(key, short=True), unit=unit(key), value=[float(w) for w in entry["weights"]],
                   minimum=0.0, maximum=1.0, step=0.01, evidence=ids, evidence_titles=titles, strands=tuple(strands))


def _validated(scenario: Scenario, key: str) -> Any:
    node: Any = scenario
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, (list, tuple)) else getattr(node, part, None)
        if node is None:
            return None
    return node


def _location_key(raw: Mapping[str, Any], key: str) -> str | None:
    """The key of a quantity's location a slider can set: itself when fixed, else its median or mean."""
    entry = raw_at(raw, key)
    if _number(entry) is not None:
        return key
    if isinstance(entry, dict):
        for parameter in ("median", "mean"):
            if isinstance(entry.get(parameter), (int, float)) and not isinstance(entry.get(parameter), bool):
                return f"{key}.{parameter}"
    return None


def controls_for(raw: Mapping[str, Any], scenario: Scenario) -> list[Control]:
    """The controls the page offers for a scenario (its resolved raw table and validated form)."""
    terms, assumptions = "Contract terms", "Assumptions"
    found: list[Control | None] = [_number_control(raw, "contract.cap", terms)]
    for i, mechanism in enumerate(raw.get("contract", {}).get("mechanisms", [])):
        kind = mechanism.get("type")
        for name in PRICE_FIELDS:
            if name in mechanism:
                found.append(_number_control(raw, f"contract.mechanisms.{i}.{name}", terms, mechanism_type=kind))
        if "baseline_care_proportion" in mechanism:
            found.append(_number_control(raw, f"contract.mechanisms.{i}.baseline_care_proportion", terms, share=True,
                                         mechanism_type=kind))
    tranches = raw.get("spv", {}).get("tranches", [])
    if tranches:
        found += [_number_control(raw, f"spv.tranches.{i}.commitment", terms) for i in range(len(tranches))]
    else:
        found.append(_number_control(raw, "spv.capital_committed", terms))
    found.append(_number_control(raw, "spv.upfront_drawdown_share", terms, share=True))
    volume = _location_key(raw, "referrals.referrals_per_month")
    if volume is not None:
        found.append(_number_control(raw, volume, assumptions, label_key="referrals.referrals_per_month",
                                     entry_key="referrals.referrals_per_month"))
    found.append(_weights_control(raw, scenario, "effect.log_hazard_ratio", assumptions))
    found.append(_weights_control(raw, scenario, "population.p30_entry", assumptions))
    return [c for c in found if c is not None]


def overrides(controls: list[Control], settings: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The dotted-key overrides (as ``--set`` takes them) for the page's ``settings``.

    Only values that differ from the scenario's are overrides.  A tranche's commitment moves
    ``spv.capital_committed`` with it, which must equal the tranches' total.
    """
    by_key = {c.key: c for c in controls}
    unknown = [key for key in settings if key not in by_key]
    if unknown:
        raise ScenarioError([Problem(key=key, message="not a control of this view", suggestion=did_you_mean(key, by_key),
                                     choices=tuple(by_key)) for key in unknown])
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if value != by_key[key].value:
            out[key] = value
    commitments = [c for c in controls if c.key.startswith("spv.tranches.") and c.key.endswith(".commitment")]
    if any(c.key in out for c in commitments) and _number(raw_at(raw, "spv.capital_committed")) is not None:
        total = sum(out.get(c.key, c.value) for c in commitments if isinstance(out.get(c.key, c.value), (int, float)))
        out["spv.capital_committed"] = total
    return out
