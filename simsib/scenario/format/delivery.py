"""Sections ``[meta]``, ``[simulation]`` and ``[referrals]``: what the scenario is, how it is
simulated, and how young people reach the service (EVIDENCE C)."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from simsib.scenario.format.fields import (
    Count,
    Months,
    Number,
    Probability,
    Section,
    StructMonths,
    bounded,
    structural_int,
)

_CALENDAR_MONTH = re.compile(r"[12][0-9]{3}-(0[1-9]|1[0-2])")


class Meta(Section):
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
    contract_start: str | None = Field(
        default=None,
        description="Calendar month of contract month 0, as YYYY-MM (Essex: 2013-04), so that payments can be "
        "shown by financial year (April to March); none: by contract year.",
    )
    caveats: list[str] = Field(
        default_factory=list,
        description="What a reader must know before using any figure of this scenario (e.g. what its data cannot "
        "identify); printed above the terminal's figures and at the top of the report's summary.",
    )

    @field_validator("contract_start")
    @classmethod
    def _calendar_month(cls, value: str | None) -> str | None:
        if value is not None and not _CALENDAR_MONTH.fullmatch(value):
            raise ValueError(f"expected a calendar month as YYYY-MM, e.g. 2013-04; got {value!r}")
        return value


# summary.json figures that have a Monte Carlo standard error, as SECTION.KEY: what a run to a
# precision may target (simsib/run/summary.py computes them; tests/test_precision.py checks the
# two lists agree).
PRECISION_KEYS = (
    "investor.moic_committed", "investor.moic_drawn", "investor.irr", "investor.capital_drawn",
    "investor.distributions", "investor.investor_profit", "investor.npv", "investor.payback_quarter",
    "investor.peak_capital_at_risk", "investor.prob_loss", "investor.prob_total_loss",
    "investor.prob_moic_below_half", "council.deadweight_paid",
    "council.outcome_payments", "council.contract_savings", "council.true_savings", "council.deadweight_share",
    "council.net_benefit", "council.cap_quarter", "council.outcome_payments_pv", "council.true_savings_pv",
    "council.net_benefit_pv", "council.true_savings_to_18", "council.true_savings_to_18_pv",
    "council.net_benefit_to_18", "council.net_benefit_to_18_pv", "council.prob_cap_reached",
    "council.prob_pays_more_than_saved",
    "outcomes.young_people_started", "outcomes.young_people_completed", "outcomes.year1_starts",
    "outcomes.care_proportion_treated", "outcomes.care_proportion_counterfactual",
    "outcomes.care_days_saved_contract", "outcomes.care_days_saved_true", "outcomes.care_days_treated",
    "outcomes.care_days_counterfactual", "outcomes.care_days_saved_to_18", "outcomes.unfunded_costs",
    "outcomes.prob_service_stopped_early",
)


class Simulation(Section):
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
    sampling: Literal["random", "sobol", "lhs"] = Field(
        default="sobol",
        description="How the per-draw inputs are sampled: independent random numbers, scrambled Sobol points or "
        "Latin hypercubes (randomised quasi-Monte Carlo; standard errors then come from replicates). "
        "Per-person randomness is always random.",
    )
    replicates: Annotated[Count, Field(ge=2, le=1000)] = Field(
        default=20,
        description="With QMC sampling: independent replicates (scrambled Sobol sequences, or Latin hypercubes), "
        "each a block of every chunk; the standard errors come from the spread of the replicates' figures.",
    )
    precision: dict[str, Annotated[Number, Field(gt=0)]] = Field(
        default_factory=dict,
        description="Run until precise: figure -> target standard error (e.g. \"investor.prob_loss\" = 0.005). "
        "Chunks are added in order until every named figure's standard error is at most its target, or "
        "max_draws is reached.",
    )
    max_draws: Annotated[Count, Field(ge=1, le=100_000_000)] = Field(
        default=1_000_000, description="The most draws a run to a precision may use."
    )

    @field_validator("precision")
    @classmethod
    def _known_figures(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [key for key in value if key not in PRECISION_KEYS]
        if unknown:
            close = difflib.get_close_matches(unknown[0], PRECISION_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown figure {unknown[0]!r}{hint}; figures with a standard error: "
                             + ", ".join(PRECISION_KEYS))
        return value


class Referrals(Section):
    """Team start, ramp-up, referral demand and therapist capacity (EVIDENCE C)."""

    service_start_month: StructMonths = Field(
        default=0, description="Month, from contract start, in which the service opens; no one starts before it."
    )
    service_end_month: StructMonths = Field(description="No young person starts at or after this month.")
    teams: structural_int(1, 50, "a number of teams") = Field(default=1, description="Number of MST teams.")
    team_start_delay_months: Months = Field(
        default=0.0, description="Months from the service start until the first team takes cases."
    )
    team_stagger_months: Months = Field(default=0.0, description="Months between successive teams' starts.")
    therapists_per_team: bounded(0.1, 100, "a number of therapists") = Field(
        default=4.0, description="Therapists in each team."
    )
    caseload_per_therapist: bounded(0.1, 50, "families per therapist at once") = Field(
        default=5.0, description="Families a therapist works with at once."
    )
    months_per_case: bounded(0.25, 36, "months of therapy per family") = Field(
        default=4.0,
        description="Months of therapy per family.  Monthly capacity for new families is teams × "
        "therapists_per_team × caseload_per_therapist ÷ months_per_case.",
    )
    referrals_per_month: bounded(0.0, 10_000, "referrals a month at full ramp") = Field(
        description="Mean referrals a month once ramped up, before conversion and the capacity limit."
    )
    referral_dispersion: bounded(1e-3, 1e6, "a negative-binomial size (k > 0)") = Field(
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
    target_young_people: structural_int(1, 1_000_000, "a number of young people") | None = Field(
        default=None, description="Planned number of young people (none: no plan).  What reaching it does is "
        "`target_rule`'s choice."
    )
    target_rule: Literal["plan", "ceiling"] = Field(
        default="plan",
        description="What `target_young_people` is.  \"plan\": once it is reached the service takes no new "
        "referrals, but families already waiting still start (so more than planned may start); "
        "\"ceiling\": the contract forbids more starts, and those still waiting are turned away.",
    )
    max_wait_months: structural_int(0, 60, "a number of months") = Field(
        default=0,
        description="Months a converted referral may wait for a free place after the month it converts; "
        "it then lapses.  0: no waiting list (converted referrals above capacity are lost).",
    )
    waiting_dropout_per_month: Probability = Field(
        default=0.0,
        description="Share of the families on the waiting list who drop out in each month they wait "
        "(their crisis resolves, they enter care, or they disengage).",
    )


