"""The scenario format: typed, immutable, validated description of one SIB and its evidence.

A scenario is a TOML file.  Wherever it takes a real number it can take a distribution
(``simsib.distributions``); structural settings that shape the simulation's arrays (counts of
teams, months of windows, payment lags) are integers, optionally written with their source as
``{ value = 30, source = "E6" }``.  Times are months from contract start, money is £.

Loading (``simsib.loader``) reads the file, resolves ``extends`` and ``--set`` overrides, and
validates the merged table into :class:`Scenario`.  This module only declares the format.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import numpy as np

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from simsib.distributions import Distribution, Quantity, check_source, within

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True)

# Bounds on magnitudes: generous for any real contract, tight enough to catch typos such as a
# cap of 7.2e16 or a tracking window of 3,000 months.
MAX_MONEY = 1e10
MAX_MONTHS = 600

Source = Annotated[str | None, AfterValidator(check_source)]


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

    return Annotated[int, BeforeValidator(_unwrap_cited), AfterValidator(check)]


def _plausible(low: float, high: float, what: str):
    """Magnitude check: the middle 99.8% of the distribution must lie in [low, high].

    Unlike :func:`within` (a hard bound on the support) this lets unbounded families such as
    a log-normal describe a bounded quantity, while still catching typos like 7.2e16.
    """

    def check(dist: Any) -> Any:
        if dist.is_fixed:
            lo = hi = float(dist.value)
        else:
            sample = dist.sample(np.random.default_rng(0), 4000)
            lo, hi = np.quantile(sample, [0.001, 0.999])
        if lo < low or hi > high:
            shown = f"{lo:g}" if lo == hi else f"[{lo:.4g}, {hi:.4g}] (99.8% range)"
            raise ValueError(f"expected {what} between {low:g} and {high:g}; got {shown}")
        return dist

    return AfterValidator(check)


def _bounded(low: float, high: float, what: str):
    """A quantity that cannot be negative when ``low >= 0``, and must be of plausible size."""
    hard = within(0.0, np.inf, f"{what} (never negative)") if low >= 0 else within(-np.inf, np.inf, what)
    return Annotated[Quantity, hard, _plausible(low, high, what)]


StructMonths = _structural_int(0, MAX_MONTHS, "a whole number of months")
Probability = Annotated[Quantity, within(0.0, 1.0, "a probability")]
Money = _bounded(0.0, MAX_MONEY, "an amount in £")
Months = _bounded(0.0, MAX_MONTHS, "a number of months")


class _Section(BaseModel):
    model_config = _CONFIG


class Meta(_Section):
    """What the scenario is and where its numbers come from."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    reference_moic: float | None = Field(
        default=None, ge=0, le=100, description="A published money multiple to mark in reports."
    )


class Simulation(_Section):
    """Monte Carlo settings."""

    draws: Annotated[int, Field(ge=1, le=100_000_000)] = 10_000
    chunk_size: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    quarterly_sample: Annotated[int, Field(ge=100, le=1_000_000)] = Field(
        default=20_000,
        description="Quarterly percentile bands use the first this-many draws (bounded memory).",
    )


class Referrals(_Section):
    """Team start, ramp-up, referral demand and therapist capacity (EVIDENCE C)."""

    service_start_month: StructMonths = 0
    service_end_month: StructMonths = Field(description="No young person starts at or after this month.")
    teams: _structural_int(1, 50, "a number of teams") = 1
    team_start_delay_months: Months = 0.0
    team_stagger_months: Months = 0.0
    therapists_per_team: _bounded(0.1, 100, "a number of therapists") = 4.0
    caseload_per_therapist: _bounded(0.1, 50, "families per therapist at once") = 5.0
    months_per_case: _bounded(0.25, 36, "months of therapy per family") = 4.0
    referrals_per_month: _bounded(0.0, 10_000, "referrals a month at full ramp")
    referral_dispersion: _bounded(1e-3, 1e6, "a negative-binomial size (k > 0)") = 10.0
    referral_conversion: Probability = 1.0
    ramp_initial_fraction: Probability = 1.0
    ramp_months: Months = 0.0
    target_young_people: _structural_int(1, 1_000_000, "a number of young people") | None = None


class Population(_Section):
    """Who is referred, and how likely they are to enter care without MST (EVIDENCE D)."""

    age_at_start: Distribution = Field(
        description="Per-person age in whole years at MST start (categorical over 10-17)."
    )
    p30_entry: Probability = Field(
        description="Counterfactual probability of entering care within 30 months of start."
    )
    weibull_shape: _bounded(0.05, 20, "a Weibull shape") = 1.0

    @model_validator(mode="after")
    def _ages_are_children(self) -> "Population":
        low, high = self.age_at_start.support()
        if low < 10 or high > 17:
            raise ValueError(
                "age_at_start: must lie within ages 10-17 (whole years at start); "
                f"this distribution ranges over [{low:g}, {high:g}]"
            )
        return self


class Effect(_Section):
    """The causal effect of MST on care entry: a hazard ratio for a while (EVIDENCE B)."""

    log_hazard_ratio: _bounded(-10, 10, "a log hazard ratio")
    duration_months: Months = 24.0
    completion_rate: Probability = 1.0
    non_completer_effect_share: Probability = 0.0


class Care(_Section):
    """Care episode lengths, re-entry and unit costs (EVIDENCE D)."""

    short_stay_share: Probability
    short_stay_median_months: _bounded(0.01, 240, "a median in months")
    short_stay_sigma: _bounded(0.01, 5, "a log-scale sigma")
    long_stay_median_months: _bounded(0.01, 240, "a median in months")
    long_stay_sigma: _bounded(0.01, 5, "a log-scale sigma")
    reentry_probability: Probability = 0.0
    reentry_gap_mean_months: _bounded(0.01, 240, "a mean gap in months") = 12.0
    la_foster_weekly_cost: Money
    ifa_foster_weekly_cost: Money
    residential_weekly_cost: Money
    residential_share: Probability
    ifa_share_of_fostering: Probability


class DaysSavedVsBaseline(_Section):
    """Essex: price × (baseline proportion × child-days − care days), netted cumulatively."""

    type: Literal["days_saved_vs_baseline"]
    price_per_day: Money
    baseline_care_proportion: Probability


class DaysOutOfCare(_Section):
    """Norfolk/Suffolk: price × days out of care in the window × (1 − deadweight)."""

    type: Literal["days_out_of_care"]
    price_per_day: Money
    deadweight_share: Probability = 0.0


class Milestone(_Section):
    """PFP/Birmingham: a price per block of N consecutive days out of care (``repeat``), or once
    per young person whose first N days from start are all out of care."""

    type: Literal["milestone"]
    price: Money
    block_days: _structural_int(1, 3650, "a number of days")
    repeat: bool = True


class Engagement(_Section):
    """A price per young person who starts (or completes) the service."""

    type: Literal["engagement"]
    price_per_person: Money
    on: Literal["start", "completion"] = "start"


Mechanism = Annotated[
    Union[DaysSavedVsBaseline, DaysOutOfCare, Milestone, Engagement], Field(discriminator="type")
]


class Contract(_Section):
    """The outcomes contract: what is measured, how it is priced, and the limits on payment."""

    tracking_months: _structural_int(1, 240, "a tracking window in months")
    measurement_end_month: StructMonths
    mechanisms: Annotated[list[Mechanism], Field(min_length=1)]
    cap: Money | None = None
    cohort_cap: Money | None = None
    payment_lag_quarters: _structural_int(0, 20, "a lag in quarters") = 1
    netting: Literal["contract", "cohort"] = "contract"
    council_management_cost_per_quarter: Money = 0.0
    target_care_proportion: Probability | None = None


class SPV(_Section):
    """The special-purpose vehicle: capital, costs, fees and distributions."""

    capital_committed: Money
    upfront_drawdown_share: Probability = Field(
        default=0.0, description="Share of the commitment drawn at financial close (quarter 0); "
        "the rest is drawn only when cash runs short."
    )
    team_cost_per_quarter: Money = 0.0
    cost_per_young_person: Money = 0.0
    management_fee_per_quarter: Money = 0.0
    upfront_fees: Money = 0.0
    reserve: Money = 0.0
    distributions_from_month: StructMonths = 0
    discount_rate: _bounded(-0.5, 1.0, "an annual discount rate") = 0.0
    target_return: float | None = Field(default=None, ge=-1, le=10, description="Annual IRR to mark.")


class Correlation(_Section):
    """A rank (Spearman) correlation between two per-draw inputs, named by dotted key."""

    between: Annotated[list[str], Field(min_length=2, max_length=2)]
    rank: Annotated[float, Field(ge=-0.99, le=0.99)]
    source: Source = None


class Stress(_Section):
    """A named stress case: dotted-key overrides applied on top of the scenario."""

    description: str = ""
    set: dict[str, Any] = Field(min_length=1)


class Scenario(_Section):
    """One validated scenario.  Immutable; build variants with ``extends`` or overrides."""

    meta: Meta
    simulation: Simulation = Simulation()
    referrals: Referrals
    population: Population
    effect: Effect
    care: Care
    contract: Contract
    spv: SPV
    correlations: list[Correlation] = Field(default_factory=list)
    stress: dict[str, Stress] = Field(default_factory=dict)

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
    return {k: d for k, d in all_quantities(scenario).items() if not d.is_fixed}


def all_quantities(scenario: Scenario) -> dict[str, Any]:
    """Every per-draw quantity (fixed or not), by dotted key, in declaration order."""
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
