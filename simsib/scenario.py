"""The scenario format: typed, immutable, validated description of one SIB and its evidence.

A scenario is a TOML file.  Wherever it takes a real number it can take a distribution
(``simsib.distributions``); structural settings that shape the simulation's arrays (counts of
teams, months of windows, payment lags) are integers, optionally written with their source as
``{ value = 30, source = "E6" }``.  Times are months from contract start, money is £.

Loading (``simsib.loader``) reads the file, resolves ``extends`` and ``--set`` overrides, and
validates the merged table into :class:`Scenario`.  This module only declares the format.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import numpy as np

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

from simsib.distributions import Distribution, Quantity, check_source, within

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True)

# Bounds on magnitudes: generous for any real contract, tight enough to catch typos such as a
# cap of 7.2e16 or a tracking window of 3,000 months.
MAX_MONEY = 1e10
MAX_MONTHS = 600

Source = Annotated[str | None, AfterValidator(check_source)]


@dataclass(frozen=True)
class Expects:
    """What a field takes, in words, for the scenario reference (:mod:`simsib.reference`).

    Annotation metadata only: validation ignores it.  It also widens the field's JSON Schema
    (``simsib schema``) to the shorthands the validators accept -- ``0.5`` or
    ``{ value = 0.5, source = "E5" }`` for a quantity, ``{ value = 30, source = "E6" }`` for a
    whole number -- so that editors checking files against the schema accept valid files.
    """

    text: str
    shorthand: Literal["quantity", "whole number"] = "quantity"
    bounds: tuple[int, int] | None = None  # of a whole number

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        inner = handler(core_schema)
        if self.shorthand == "quantity":
            plain = {"type": "number"}
        else:
            plain = {**inner, **({"minimum": self.bounds[0], "maximum": self.bounds[1]} if self.bounds else {})}
        cited = {
            "type": "object",
            "properties": {"value": plain, "source": {"type": "string"}},
            "required": ["value"],
            "additionalProperties": False,
        }
        choices = [plain, cited, inner] if self.shorthand == "quantity" else [plain, cited]
        return {"anyOf": choices, "description": self.text}


def _unwrap_cited(value: Any) -> Any:
    """Accept ``30`` or ``{ value = 30, source = "E6" }`` for a structural integer.

    Messages about a key inside the table start with ``key: `` so the loader can report them at
    that key.  Booleans and strings are refused here: pydantic's lax integers would otherwise
    read ``true`` as 1 and ``"30"`` as 30, hiding a typo.
    """
    if isinstance(value, dict):
        if "dist" in value:
            raise ValueError(
                "expected a whole number, optionally { value = ..., source = ... }: this setting "
                "shapes the simulation's arrays, so it cannot be a distribution"
            )
        for key in value:
            if key not in ("value", "source"):
                where = f"{key}: " if str(key).isidentifier() else f"{key!r}: "
                raise ValueError(f"{where}unknown key; valid choices: value, source")
        if "value" not in value:
            raise ValueError("value: required key is missing")
        source = value.get("source")
        if source is not None and not isinstance(source, str):
            raise ValueError(f"source: expected text, not {type(source).__name__}; got {source!r}")
        try:
            check_source(source)
        except ValueError as exc:
            raise ValueError(f"source: {exc}") from None
        value = value["value"]
    if isinstance(value, (bool, str)):
        kind = "a boolean" if isinstance(value, bool) else "text"
        raise ValueError(f"expected a whole number, not {kind}; got {value!r}")
    return value


def _structural_int(low: int, high: int, what: str):
    def check(v: int) -> int:
        if not low <= v <= high:
            raise ValueError(f"expected {what} between {low} and {high}; got {v}")
        return v

    note = Expects(f"whole number from {low:,} to {high:,}: {what}", "whole number", (low, high))
    return Annotated[int, BeforeValidator(_unwrap_cited), AfterValidator(check), note]


def _usable(dist: Any) -> Any:
    """Refuse parameters so extreme that the family's numerics break down (NaN support).

    Mixture components are checked one by one: min/max over a NaN bound can hide it.
    """
    pending = [dist]
    while pending:
        part = pending.pop()
        pending.extend(getattr(part, "components", ()))
        low, high = part.support()
        if np.isnan(low) or np.isnan(high):
            raise ValueError(
                f"this {part.dist} distribution's parameters are too extreme to compute with "
                "(its range is undefined); check their magnitudes"
            )
    return dist


def _plausible(low: float, high: float, what: str):
    """Magnitude check: the middle 99.8% of the distribution must lie in [low, high].

    Unlike :func:`within` (a hard bound on the support) this lets unbounded families such as
    a log-normal describe a bounded quantity, while still catching typos like 7.2e16.
    """

    def check(dist: Any) -> Any:
        if dist.is_fixed:
            lo = hi = float(dist.value)
        else:
            # Absurd parameters (mu = 1000) overflow; that is the finding, not a warning to show.
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sample = dist.sample(np.random.default_rng(0), 4000)
            if not np.all(np.isfinite(sample)):
                raise ValueError(
                    f"expected {what} between {low:g} and {high:g}; this {dist.dist} distribution's "
                    "parameters are so extreme that its draws overflow or are undefined"
                )
            lo, hi = np.quantile(sample, [0.001, 0.999])
        if not (lo >= low and hi <= high):
            shown = f"{lo:g}" if lo == hi else f"[{lo:.4g}, {hi:.4g}] (99.8% range)"
            raise ValueError(f"expected {what} between {low:g} and {high:g}; got {shown}")
        return dist

    return AfterValidator(check)


def _bounded(low: float, high: float, what: str):
    """A quantity that cannot be negative when ``low >= 0``, and must be of plausible size."""
    hard = within(0.0, np.inf, f"{what} (never negative)") if low >= 0 else within(-np.inf, np.inf, what)
    sign = "quantity ≥ 0" if low >= 0 else "quantity"
    note = Expects(f"{sign}, 99.8% of draws in [{low:g}, {high:g}]: {what}")
    return Annotated[Quantity, AfterValidator(_usable), hard, _plausible(low, high, what), note]


StructMonths = _structural_int(0, MAX_MONTHS, "a whole number of months")
Probability = Annotated[
    Quantity, AfterValidator(_usable), within(0.0, 1.0, "a probability"), Expects("quantity in [0, 1]: a probability")
]
Money = _bounded(0.0, MAX_MONEY, "an amount in £")
Months = _bounded(0.0, MAX_MONTHS, "a number of months")
Count = Annotated[int, Strict()]  # TOML integers only: `true` or "100" is a mistake
Number = Annotated[float, Strict()]  # TOML numbers only


class _Section(BaseModel):
    model_config = _CONFIG


class Meta(_Section):
    """What the scenario is and where its numbers come from."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = Field(
        description="Short identifier (letters, digits, '_', '.', '-'; at most 64); names the default "
        "output folder, reports/<name>."
    )
    description: str = Field(default="", description="What the scenario represents, in a sentence or two.")
    sources: list[str] = Field(
        default_factory=list, description="EVIDENCE ids the scenario draws on (shared/EVIDENCE.md)."
    )
    reference_moic: Number | None = Field(
        default=None, ge=0, le=100,
        description="A published money multiple on committed capital to mark in reports (Essex: 1.45).",
    )


class Simulation(_Section):
    """Monte Carlo settings."""

    draws: Annotated[Count, Field(ge=1, le=100_000_000)] = Field(
        default=10_000, description="Monte Carlo draws when `--draws` is not given."
    )
    chunk_size: Annotated[Count, Field(ge=1, le=100_000)] = Field(
        default=1_000,
        description="Draws per chunk: the unit of parallel work and of random streams (results depend on "
        "it, never on the number of workers).",
    )
    quarterly_sample: Annotated[Count, Field(ge=100, le=1_000_000)] = Field(
        default=20_000,
        description="Quarterly percentile bands use the first this-many draws (bounded memory).",
    )


class Referrals(_Section):
    """Team start, ramp-up, referral demand and therapist capacity (EVIDENCE C)."""

    service_start_month: StructMonths = Field(
        default=0, description="Month, from contract start, in which the service opens; no one starts before it."
    )
    service_end_month: StructMonths = Field(description="No young person starts at or after this month.")
    teams: _structural_int(1, 50, "a number of teams") = Field(default=1, description="Number of MST teams.")
    team_start_delay_months: Months = Field(
        default=0.0, description="Months from the service start until the first team takes cases."
    )
    team_stagger_months: Months = Field(default=0.0, description="Months between successive teams' starts.")
    therapists_per_team: _bounded(0.1, 100, "a number of therapists") = Field(
        default=4.0, description="Therapists in each team."
    )
    caseload_per_therapist: _bounded(0.1, 50, "families per therapist at once") = Field(
        default=5.0, description="Families a therapist works with at once."
    )
    months_per_case: _bounded(0.25, 36, "months of therapy per family") = Field(
        default=4.0,
        description="Months of therapy per family.  Monthly capacity for new families is teams × "
        "therapists_per_team × caseload_per_therapist ÷ months_per_case.",
    )
    referrals_per_month: _bounded(0.0, 10_000, "referrals a month at full ramp") = Field(
        description="Mean referrals a month once ramped up, before conversion and the capacity limit."
    )
    referral_dispersion: _bounded(1e-3, 1e6, "a negative-binomial size (k > 0)") = Field(
        default=10.0,
        description="Negative-binomial size k of monthly referral counts: variance = mean + mean²/k "
        "(a large k is close to Poisson).",
    )
    referral_conversion: Probability = Field(default=1.0, description="Share of referrals that start MST.")
    ramp_initial_fraction: Probability = Field(
        default=1.0, description="Referral demand when the first team starts, as a share of full demand."
    )
    ramp_months: Months = Field(
        default=0.0, description="Months from the first team's start to full demand (a linear ramp; 0: none)."
    )
    target_young_people: _structural_int(1, 1_000_000, "a number of young people") | None = Field(
        default=None, description="Starts stop once this many young people have started (none: no limit)."
    )


class Population(_Section):
    """Who is referred, and how likely they are to enter care without MST (EVIDENCE D)."""

    age_at_start: Annotated[Distribution, AfterValidator(_usable)] = Field(
        description="Per-person age in whole years at MST start: a distribution table (usually "
        "categorical) over ages 10-17."
    )
    p30_entry: Probability = Field(
        description="Counterfactual probability of entering care within 30 months of start."
    )
    weibull_shape: _bounded(0.05, 20, "a Weibull shape") = Field(
        default=1.0,
        description="Shape k of the Weibull time to care entry without MST (k < 1: the risk is highest "
        "soon after referral; 1: constant).",
    )

    @model_validator(mode="after")
    def _ages_are_children(self) -> "Population":
        low, high = self.age_at_start.support()
        if not (low >= 10 and high <= 17):  # written so that a NaN range fails too
            raise ValueError(
                "age_at_start: must lie within ages 10-17 (whole years at start); "
                f"this distribution ranges over [{low:g}, {high:g}]"
            )
        return self


class Effect(_Section):
    """The causal effect of MST on care entry: a hazard ratio for a while (EVIDENCE B)."""

    log_hazard_ratio: _bounded(-10, 10, "a log hazard ratio") = Field(
        description="Log hazard ratio of care entry with MST against without, drawn once per draw "
        "(negative: MST prevents entries; 0: no effect)."
    )
    duration_months: Months = Field(
        default=24.0,
        description="Months from start during which the hazard ratio applies; the hazard then returns "
        "to the counterfactual one.",
    )
    completion_rate: Probability = Field(default=1.0, description="Share of young people who complete MST.")
    non_completer_effect_share: Probability = Field(
        default=0.0, description="Share of the log hazard ratio that non-completers get (0: no effect, 1: all)."
    )


class Care(_Section):
    """Care episode lengths, re-entry and unit costs (EVIDENCE D)."""

    short_stay_share: Probability = Field(
        description="Share of care episodes that are short stays; the rest are long stays."
    )
    short_stay_median_months: _bounded(0.01, 240, "a median in months") = Field(
        description="Median length of a short stay, in months (log-normal)."
    )
    short_stay_sigma: _bounded(0.01, 5, "a log-scale sigma") = Field(
        description="Log-scale spread σ of short-stay lengths."
    )
    long_stay_median_months: _bounded(0.01, 240, "a median in months") = Field(
        description="Median length of a long stay, in months (log-normal)."
    )
    long_stay_sigma: _bounded(0.01, 5, "a log-scale sigma") = Field(
        description="Log-scale spread σ of long-stay lengths."
    )
    reentry_probability: Probability = Field(
        default=0.0, description="Probability that a young person leaving care before 18 re-enters (at most once)."
    )
    reentry_gap_mean_months: _bounded(0.01, 240, "a mean gap in months") = Field(
        default=12.0, description="Mean months out of care before a re-entry (exponential)."
    )
    la_foster_weekly_cost: Money = Field(description="£ a week for a local-authority foster placement.")
    ifa_foster_weekly_cost: Money = Field(description="£ a week for an independent fostering agency placement.")
    residential_weekly_cost: Money = Field(description="£ a week for a residential placement.")
    residential_share: Probability = Field(description="Share of care days spent in residential care.")
    ifa_share_of_fostering: Probability = Field(
        description="Share of fostering days with independent agencies; the rest are with the council's own carers."
    )


class DaysSavedVsBaseline(_Section):
    """Essex: price × (baseline proportion × child-days − care days), netted cumulatively."""

    type: Literal["days_saved_vs_baseline"] = Field(description="Which mechanism this table describes.")
    price_per_day: Money = Field(description="£ per care day saved against the baseline.")
    baseline_care_proportion: Probability = Field(
        description="Historical share of child-days in care that the contract pays against (Essex: 0.55)."
    )


class DaysOutOfCare(_Section):
    """Norfolk/Suffolk: price × days out of care in the window × (1 − deadweight)."""

    type: Literal["days_out_of_care"] = Field(description="Which mechanism this table describes.")
    price_per_day: Money = Field(description="£ per day out of care in the tracking window.")
    deadweight_share: Probability = Field(
        default=0.0, description="Share of days out of care not paid for, as they would have happened anyway."
    )


class Milestone(_Section):
    """PFP/Birmingham: a price per block of N consecutive days out of care (``repeat``), or once
    per young person whose first N days from start are all out of care."""

    type: Literal["milestone"] = Field(description="Which mechanism this table describes.")
    price: Money = Field(description="£ per block (repeat = true) or per young person reaching the milestone.")
    block_days: _structural_int(1, 3650, "a number of days") = Field(
        description="N: the days out of care that make a block or the milestone."
    )
    repeat: bool = Field(
        default=True,
        description="true: pay for every whole block of N consecutive days out of care; false: pay once per "
        "young person whose first N days from start are all out of care.",
    )


class Engagement(_Section):
    """A price per young person who starts (or completes) the service."""

    type: Literal["engagement"] = Field(description="Which mechanism this table describes.")
    price_per_person: Money = Field(description="£ per young person.")
    on: Literal["start", "completion"] = Field(
        default="start", description="Pay when a young person starts, or when they complete MST."
    )

Mechanism = Annotated[
    Union[DaysSavedVsBaseline, DaysOutOfCare, Milestone, Engagement], Field(discriminator="type")
]


class Contract(_Section):
    """The outcomes contract: what is measured, how it is priced, and the limits on payment."""

    tracking_months: _structural_int(1, 240, "a tracking window in months") = Field(
        description="Months from each young person's start during which their care days and child-days "
        "are measured (Essex: 30)."
    )
    measurement_end_month: StructMonths = Field(
        description="Month, from contract start, after which nothing is measured or earned."
    )
    mechanisms: Annotated[list[Mechanism], Field(min_length=1)] = Field(
        description="Payment mechanisms, one [[contract.mechanisms]] table each; several add up."
    )
    cap: Money | None = Field(default=None, description="Limit on total outcome payments, £ (none: uncapped).")
    cohort_cap: Money | None = Field(
        default=None, description="Limit on each quarterly start cohort's payments, £ (none: no cohort limit)."
    )
    payment_lag_quarters: _structural_int(0, 20, "a lag in quarters") = Field(
        default=1, description="Quarters between a quarter's measurement and its payment."
    )
    netting: Literal["contract", "cohort"] = Field(
        default="contract",
        description="Net good and bad quarters cumulatively over the whole contract, or within each start cohort.",
    )
    council_management_cost_per_quarter: Money = Field(
        default=0.0, description="The council's own cost of managing the contract, £ a quarter."
    )
    target_care_proportion: Probability | None = Field(
        default=None, description="Care proportion the programme aims for, marked in reports (none: not marked)."
    )


class SPV(_Section):
    """The special-purpose vehicle: capital, costs, fees and distributions."""

    capital_committed: Money = Field(description="Investors' committed capital, £.")
    upfront_drawdown_share: Probability = Field(
        default=0.0, description="Share of the commitment drawn at financial close (quarter 0); "
        "the rest is drawn only when cash runs short."
    )
    team_cost_per_quarter: Money = Field(default=0.0, description="Cost of one running team, £ a quarter.")
    cost_per_young_person: Money = Field(default=0.0, description="Cost per young person starting, £.")
    management_fee_per_quarter: Money = Field(
        default=0.0, description="SPV management fee while the contract runs, £ a quarter."
    )
    upfront_fees: Money = Field(default=0.0, description="Set-up fees (intermediary, legal) paid in quarter 0, £.")
    reserve: Money = Field(default=0.0, description="Cash kept back when distributing to investors, £.")
    distributions_from_month: StructMonths = Field(
        default=0,
        description="Month from which cash above the reserve is distributed to investors; everything left is "
        "distributed at the end.",
    )
    discount_rate: _bounded(-0.5, 1.0, "an annual discount rate") = Field(
        default=0.0, description="Annual rate for net present values (0.035 is 3.5%)."
    )
    target_return: Number | None = Field(
        default=None, ge=-1, le=10, description="Annual IRR to mark in reports (0.083 is 8.3%)."
    )


class Correlation(_Section):
    """A rank (Spearman) correlation between two per-draw inputs, named by dotted key."""

    between: Annotated[list[str], Field(min_length=2, max_length=2)] = Field(
        description="The two per-draw inputs by dotted key, e.g. [\"referrals.ramp_months\", "
        "\"effect.completion_rate\"]; a correlation with a fixed input has no effect."
    )
    rank: Annotated[Number, Field(ge=-0.99, le=0.99)] = Field(description="Spearman rank correlation.")
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning.")


class Stress(_Section):
    """A named stress case: dotted-key overrides applied on top of the scenario."""

    description: str = Field(default="", description="What the case represents.")
    set: dict[str, Any] = Field(min_length=1, description="Overrides, dotted.key = value, as with --set.")


def _schema_with_extends(schema: dict[str, Any]) -> None:
    # The loader resolves `extends` before validation; editors checking files must accept it.
    schema["properties"] = {
        "extends": {"type": "string", "description": "Parent scenario file, relative to this file."},
        **schema["properties"],
    }


class Scenario(_Section):
    """One validated scenario.  Immutable; build variants with ``extends`` or overrides."""

    model_config = ConfigDict(**_CONFIG, json_schema_extra=_schema_with_extends)

    meta: Meta
    simulation: Simulation = Simulation()
    referrals: Referrals
    population: Population
    effect: Effect
    care: Care
    contract: Contract
    spv: SPV
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
        problems.extend(_correlation_problems(self))
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


def _unknown_input_message(key: str, value: str, names: set[str]) -> str:
    from simsib.errors import did_you_mean

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
                if prefix == "population" and name == "age_at_start":  # per person, not per draw
                    continue
                walk(getattr(node, name), f"{prefix}.{name}" if prefix else name)
        elif isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                walk(item, f"{prefix}.{i}")

    walk(scenario, "")
    return found
