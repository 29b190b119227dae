"""The whole scenario: its sections, correlations and stress cases, and the walk over its
per-draw quantities."""

from __future__ import annotations

import weakref
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simsib.scenario.format.cohorts import Cohort
from simsib.scenario.format.commissioning import Commissioning
from simsib.scenario.format.consistency import consistency_problems
from simsib.scenario.format.contract import Contract
from simsib.scenario.format.delivery import Meta, Referrals, Simulation
from simsib.scenario.format.fields import CONFIG, Number, Section, Source
from simsib.scenario.format.people import Care, Effect, Population
from simsib.scenario.format.spv import SPV


class Correlation(Section):
    """A rank (Spearman) correlation between two per-draw inputs, named by dotted key."""

    between: Annotated[list[str], Field(min_length=2, max_length=2)] = Field(
        description="The two per-draw inputs by dotted key, e.g. [\"referrals.ramp_months\", "
        "\"effect.completion_rate\"]; a correlation with a fixed input has no effect."
    )
    rank: Annotated[Number, Field(ge=-0.99, le=0.99)] = Field(description="Spearman rank correlation.")
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning.")


class Stress(Section):
    """A named stress case: dotted-key overrides applied on top of the scenario."""

    description: str = Field(default="", description="What the case represents.")
    set: dict[str, Any] = Field(min_length=1, description="Overrides, dotted.key = value, as with --set.")


def _schema_with_extends(schema: dict[str, Any]) -> None:
    # The loader resolves `extends` before validation; editors checking files must accept it.
    schema["properties"] = {
        "extends": {"type": "string", "description": "Parent scenario file, relative to this file."},
        **schema["properties"],
    }


class Scenario(Section):
    """One validated scenario.  Immutable; build variants with ``extends`` or overrides."""

    model_config = ConfigDict(**CONFIG, json_schema_extra=_schema_with_extends)

    meta: Meta
    simulation: Simulation = Simulation()
    referrals: Referrals
    population: Population | None = Field(
        default=None, description="Who is referred (required when a cohort in the care process has no own table)."
    )
    effect: Effect | None = Field(
        default=None, description="The service's effect on care (required as [population] is)."
    )
    care: Care | None = Field(
        default=None, description="Care episodes and costs (required as [population] is)."
    )
    cohorts: list[Cohort] = Field(
        default_factory=list,
        description="Groups of people, each with its outcome process, one [[cohorts]] table each (none: one "
        "cohort in the care process with the top-level tables).",
    )
    contract: Contract
    spv: SPV
    commissioning: Commissioning = Field(
        default_factory=Commissioning,
        description="The council's alternatives to the SIB, for `simsib commission` (defaults: see the table).",
    )
    correlations: list[Correlation] = Field(
        default_factory=list, description="Rank correlations between per-draw inputs, one [[correlations]] table each."
    )
    stress: dict[str, Stress] = Field(
        default_factory=dict, description="Named stress cases, one [stress.NAME] table each."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        # One "dotted.key: message" line per problem, so the loader reports each at its key.
        problems: list[str] = []
        r, c = self.referrals, self.contract
        if r.service_end_month <= r.service_start_month:
            problems.append(
                f"referrals.service_end_month: must be after referrals.service_start_month "
                f"({r.service_start_month}); got {r.service_end_month}"
            )
        if c.measurement_end_month <= r.service_start_month:
            problems.append(
                f"contract.measurement_end_month: must be after the service starts (month "
                f"{r.service_start_month}); got {c.measurement_end_month}"
            )
        problems.extend(consistency_problems(self))
        problems.extend(_correlation_problems(self))
        problems.extend(_review_problems(self))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # Derived timeline -------------------------------------------------------------------
    @property
    def n_quarters(self) -> int:
        """Quarters from contract start to the last payment, plus one for the final distribution."""
        measured = -(-self.contract.measurement_end_month // 3)
        return measured + self.contract.payment_lag_quarters + 1

    @property
    def n_cohorts(self) -> int:
        """Quarterly start cohorts: one per quarter in which a young person can start."""
        return -(-self.referrals.service_end_month // 3)

    @property
    def extension_months(self) -> int:
        """Months the service and measurement run longer if every extension rule fires."""
        return sum(r.extend_months for r in self.contract.reviews if r.action == "extend")

    def envelope(self) -> "Scenario":
        """The scenario with every possible extension: what the model simulates, so that the money
        stages can cut each draw to its own contract (itself when nothing can extend)."""
        extra = self.extension_months
        if not extra:
            return self
        referrals = self.referrals.model_copy(update={"service_end_month": self.referrals.service_end_month + extra})
        contract = self.contract.model_copy(
            update={"measurement_end_month": self.contract.measurement_end_month + extra})
        return self.model_copy(update={"referrals": referrals, "contract": contract})


def _correlation_problems(scenario: "Scenario") -> list[str]:
    """Correlations must name two different per-draw inputs, once each, in a possible matrix.

    A correlation naming a fixed input is allowed (a variant may fix an input its parent
    correlates) and inactive: it is left out of the matrix, as in the sampling stage.
    """
    problems: list[str] = []
    quantities = all_quantities(scenario)
    names = set(quantities)
    active: dict[frozenset[str], float] = {}
    first: dict[frozenset[str], int] = {}
    for i, corr in enumerate(scenario.correlations):
        unknown = [key for key in corr.between if key not in names]
        for key in unknown:
            problems.append(_unknown_input_message(f"correlations.{i}.between", key, names))
        if corr.between[0] == corr.between[1]:
            problems.append(f"correlations.{i}.between: names the same input twice ('{corr.between[0]}')")
        elif not unknown:
            pair = frozenset(corr.between)
            if pair in first:
                problems.append(
                    f"correlations.{i}.between: this pair is already correlated by correlations.{first[pair]}"
                )
            first.setdefault(pair, i)
            if not any(quantities[key].is_fixed for key in pair):
                active.setdefault(pair, corr.rank)
    if problems or len(active) < 2:
        return problems
    keys = sorted({key for pair in active for key in pair})
    rank = np.eye(len(keys))
    for pair, value in active.items():
        a, b = (keys.index(key) for key in pair)
        rank[a, b] = rank[b, a] = value
    # Both the rank correlations and the normal-score correlations that realise them
    # (r = 2 sin(pi rho / 6)) must be positive definite for the sampling stage's Cholesky factor.
    scores = 2.0 * np.sin(np.pi * rank / 6.0)
    if min(np.linalg.eigvalsh(rank).min(), np.linalg.eigvalsh(scores).min()) <= 1e-10:
        problems.append(
            "correlations: the declared rank correlations are not jointly possible (their matrix is "
            "not positive definite); weaken some of them"
        )
    return problems


def _review_problems(scenario: "Scenario") -> list[str]:
    """Review dates inside the contract; measures the contract can observe; extensions that fall on
    quarter ends, so that a draw without them is its quarters cut from the extended simulation."""
    problems: list[str] = []
    r, c = scenario.referrals, scenario.contract
    for i, review in enumerate(c.reviews):
        if not r.service_start_month < review.month < c.measurement_end_month:
            problems.append(f"contract.reviews.{i}.month: expected a month after the service starts (month "
                            f"{r.service_start_month}) and before the measurement ends (month "
                            f"{c.measurement_end_month}); got {review.month}")
        if review.measure == "outcome_payments_share_of_cap" and c.cap is None:
            problems.append(f"contract.reviews.{i}.measure: outcome_payments_share_of_cap needs contract.cap")
    for i, tranche in enumerate(scenario.spv.tranches):
        if tranche.return_grid and tranche.return_grid.measure == "outcome_payments_share_of_cap" and c.cap is None:
            problems.append(f"spv.tranches.{i}.return_grid.measure: outcome_payments_share_of_cap needs contract.cap")
    if scenario.extension_months:
        for key, month in (("referrals.service_end_month", r.service_end_month),
                           ("contract.measurement_end_month", c.measurement_end_month)):
            if month % 3:
                problems.append(f"{key}: with an extension rule in contract.reviews this must fall at a quarter "
                                f"end (a multiple of 3); got {month}")
    return problems


def _unknown_input_message(key: str, value: str, names: set[str]) -> str:
    from simsib.scenario.errors import did_you_mean

    hint = did_you_mean(value, names)
    text = f"{key}: '{value}' is not a per-draw input of this scenario"
    if hint:
        text += f"; did you mean '{hint}'?"
    return text + f"; choices: {', '.join(sorted(names))}"


def per_draw_quantities(scenario: Scenario) -> dict[str, Any]:
    """Every uncertain (non-fixed) per-draw quantity, by dotted key, in declaration order.

    These are the systematic inputs that the sampling stage draws once per Monte Carlo draw,
    that correlations may couple, and that sensitivity analysis ranks.
    """
    return dict(_quantities(scenario)[1])


def all_quantities(scenario: Scenario) -> dict[str, Any]:
    """Every per-draw quantity (fixed or not), by dotted key, in declaration order."""
    return dict(_quantities(scenario)[0])


# id(scenario) -> (weak reference to it, all quantities, per-draw quantities).  Walking the
# scenario's model tree costs a few hundred microseconds and every chunk asks several times.  A
# scenario is immutable, so its walk can be kept as long as it lives; the weak reference drops
# the entry when the scenario dies, before its id can be reused.  (Not a private attribute: that
# would count in ``==`` and be carried, stale, into a ``model_copy(update=...)``.)
_WALKED: dict[int, tuple[weakref.ref, dict[str, Any], dict[str, Any]]] = {}


def _quantities(scenario: Scenario) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(all, per-draw)`` quantities of ``scenario``, cached; callers get copies (see above)."""
    key = id(scenario)
    entry = _WALKED.get(key)
    if entry is None or entry[0]() is not scenario:
        found = _walk_quantities(scenario)

        def forget(ref: weakref.ref) -> None:
            if _WALKED.get(key, (None,))[0] is ref:
                del _WALKED[key]

        entry = (weakref.ref(scenario, forget), found, {k: d for k, d in found.items() if not d.is_fixed})
        _WALKED[key] = entry
    return entry[1], entry[2]


def _walk_quantities(scenario: Scenario) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, BaseModel):
            if hasattr(node, "from_uniforms"):  # a distribution
                found[prefix] = node
                return
            for name in type(node).model_fields:
                if prefix == "" and name in ("meta", "simulation", "correlations", "stress"):
                    continue
                if name == "age_at_start":  # per person, not per draw
                    continue
                walk(getattr(node, name), f"{prefix}.{name}" if prefix else name)
        elif isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                walk(item, f"{prefix}.{i}")

    walk(scenario, "")
    return found
