"""Sections ``[meta]``, ``[simulation]`` and ``[referrals]``: what the scenario is, how it is
simulated, and how young people reach the service (EVIDENCE C)."""

from __future__ import annotations

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

    @field_validator("contract_start")
    @classmethod
    def _calendar_month(cls, value: str | None) -> str | None:
        if value is not None and not _CALENDAR_MONTH.fullmatch(value):
            raise ValueError(f"expected a calendar month as YYYY-MM, e.g. 2013-04; got {value!r}")
        return value


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


