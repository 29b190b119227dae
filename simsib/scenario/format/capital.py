"""The SPV's term sheet: tranches, guarantees, drawdown rules, return grids and the provider's
fee at risk (tables under ``[spv]``; issue 16, E63-E66).

A scenario without ``[[spv.tranches]]`` has one class of investors, named ``investors``, whose
commitment is ``spv.capital_committed``: exactly the SPV simsib always had.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simsib.scenario.format.fields import Money, Number, Probability, Section, Source, StructMonths, bounded

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
SINGLE_TRANCHE = "investors"  # the name of the one tranche of a scenario without [[spv.tranches]]
PRIORITIES = ("senior", "mezzanine", "junior")  # paid in this order; junior is the first loss
# Tranche names become column suffixes (moic_<name>): these would collide with existing columns.
RESERVED_NAMES = ("committed", "drawn", "status")

# Observable measures a return grid or a review rule may read (simsib.contract.measures computes
# them).  Each is measured on the served young people and the quarters before the date asked.
MEASURES = ("young_people_started", "care_proportion_treated", "outcome_payments", "outcome_payments_share_of_cap",
            "event_reduction")
AnnualRate = bounded(0.0, 1.0, "an annual rate")


class ReturnGrid(Section):
    """An investor return set by an observed outcome rate (Newpin, E64): the tranche's annual
    coupon *and* its return cap are ``returns[k]``, k the number of ``thresholds`` at or below the
    measure over the whole contract."""

    measure: Literal[MEASURES] = Field(description="The observed measure the grid reads, over the whole contract.")
    thresholds: Annotated[list[Number], Field(min_length=1, max_length=20)] = Field(
        description="Increasing boundaries of the measure, e.g. [0.55, 0.60, 0.65, 0.70]."
    )
    returns: Annotated[list[Annotated[Number, Field(ge=0, le=1)]], Field(min_length=2, max_length=21)] = Field(
        description="Annual returns, one more than the thresholds: returns[0] below the first threshold, "
        "returns[k] from the k-th (E64: [0, 0.03, 0.075, 0.12, 0.15])."
    )
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning.")

    @model_validator(mode="after")
    def _shape(self) -> "ReturnGrid":
        problems = []
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:])):
            problems.append(f"thresholds: must increase strictly; got {self.thresholds}")
        if len(self.returns) != len(self.thresholds) + 1:
            problems.append(f"returns: expected {len(self.thresholds) + 1} returns (one more than the "
                            f"{len(self.thresholds)} thresholds); got {len(self.returns)}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class Tranche(Section):
    """One class of investors: what it commits, where it sits in the stack and what it earns."""

    name: Name = Field(description="Short name (lower case, digits, '_'); per-draw columns are moic_<name>, irr_<name>, ….")
    commitment: Money = Field(description="Capital this tranche commits, £.")
    priority: Literal[PRIORITIES] = Field(
        default="senior",
        description="Its place in the distribution order: senior first, then mezzanine, then junior (the "
        "first loss).  Tranches of equal priority share pro rata.",
    )
    coupon: AnnualRate | None = Field(
        default=None,
        description="Preferred return a year (0.05 is 5%), compounding quarterly on capital outstanding and "
        "unpaid coupon; paid after capital is returned (see spv.distribution_order).  None: no coupon.",
    )
    return_cap: AnnualRate | None = Field(
        default=None,
        description="Most this tranche may earn, as an annual IRR (Peterborough: 0.13, E62); cash above it goes "
        "to spv.capped_excess_to.  None: uncapped.",
    )
    upside_share: Probability | None = Field(
        default=None,
        description="Share of the residual (cash left after every tranche's capital and coupon); shares are "
        "normalised per draw.  None in every tranche: pro rata to commitment.",
    )
    return_grid: ReturnGrid | None = Field(
        default=None, description="A return set by the outcome rate (E64); replaces coupon and return_cap."
    )
    minimum_coupon: AnnualRate | None = Field(
        default=None,
        description="A coupon a year on outstanding capital that the commissioner pays in cash each quarter of the "
        "first minimum_coupon_years, whatever the outcomes (Newpin: 5% for 3 years, E64); it counts towards "
        "the tranche's coupon and return cap.",
    )
    minimum_coupon_years: Annotated[int, Field(ge=1, le=50, strict=True)] = Field(
        default=3, description="Years, from contract start, for which minimum_coupon is paid."
    )
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning, for the terms.")

    @model_validator(mode="after")
    def _grid_excludes_fixed_terms(self) -> "Tranche":
        if self.return_grid is not None:
            clash = [k for k in ("coupon", "return_cap") if getattr(self, k) is not None]
            if clash:
                raise ValueError(f"return_grid: sets the coupon and the return cap itself; remove {' and '.join(clash)}")
        if self.name in RESERVED_NAMES:
            raise ValueError(f"name: '{self.name}' would give a column that already exists (moic_{self.name}); "
                             f"choose another name (reserved: {', '.join(RESERVED_NAMES)})")
        return self


class Guarantee(Section):
    """A guarantee of a tranche's lost principal (Rikers: Bloomberg Philanthropies, E63), or
    principal protection when the guarantor is the commissioner or the provider (E65)."""

    guarantor: Name = Field(description="Who pays, by a short name (a column guarantee_<guarantor> holds what they pay).")
    party: Literal["third_party", "commissioner", "provider"] = Field(
        default="third_party",
        description="Whose account the payout falls on: a third party (a foundation), the commissioner (its "
        "payouts count against the council's net benefit) or the provider.",
    )
    tranche: Name = Field(
        default=SINGLE_TRANCHE, description=f"The tranche covered, by name ('{SINGLE_TRANCHE}' with no [[spv.tranches]])."
    )
    share: Probability = Field(default=1.0, description="Share of the tranche's lost principal covered (1: all).")
    limit: Money | None = Field(default=None, description="Most the guarantor pays, £ (none: no limit).")
    paid_at: Literal["final_distribution", "scheduled_end"] = Field(
        default="final_distribution",
        description="When it pays: with the SPV's final distribution (at the end, or at an early termination), "
        "or at the contract's scheduled end whatever happens.",
    )
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning.")


class ScheduledCall(Section):
    """A capital call on a schedule: a share of the commitment drawn in the quarter holding ``month``."""

    month: StructMonths = Field(description="Month, from contract start, of the call.")
    share: Annotated[Number, Field(ge=0, le=1)] = Field(description="Share of every tranche's commitment called.")


class Drawdown(Section):
    """When investors' capital is drawn: a named rule with its evidence.

    Whatever the rule, ``spv.upfront_drawdown_share`` is drawn at close, and more is drawn whenever
    cash runs short, up to the commitment.  Tranches are drawn pro rata to their commitments.
    """

    rule: Literal["when_short", "at_close", "schedule"] = Field(
        default="when_short",
        description="when_short: only the upfront share at close, the rest as cash runs short; at_close: the whole "
        "commitment at financial close (Essex, E11); schedule: the calls listed in schedule.",
    )
    schedule: Annotated[list[ScheduledCall], Field(max_length=200)] = Field(
        default_factory=list, description="Capital calls for rule = \"schedule\", one { month, share } each."
    )
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning.")

    @model_validator(mode="after")
    def _schedule_matches_rule(self) -> "Drawdown":
        if self.rule == "schedule" and not self.schedule:
            raise ValueError("schedule: rule = \"schedule\" needs at least one { month, share } call")
        if self.rule != "schedule" and self.schedule:
            raise ValueError(f"schedule: only used with rule = \"schedule\"; the rule is \"{self.rule}\"")
        total = sum(call.share for call in self.schedule)
        if total > 1 + 1e-9:
            raise ValueError(f"schedule: the calls add up to {total:g} of the commitment; at most 1")
        return self


class ProviderRisk(Section):
    """Part of the provider's fee paid only from outcome payments (a provider risk share)."""

    share: Probability = Field(
        description="Share of the service costs (team and per-young-person costs) the provider defers; it is "
        "paid only out of outcome payments received, at the position set by paid."
    )
    paid: Literal["before_capital", "after_capital", "after_coupons"] = Field(
        default="after_capital",
        description="Where the deferred fee sits in the distribution order: before investors' capital, after it, "
        "or after their coupons too.",
    )
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning.")


def tranche_problems(tranches: list[Tranche], capital_committed, guarantees: list[Guarantee],
                     order: str, provider: ProviderRisk | None) -> list[str]:
    """Cross-checks of the term sheet, as ``key: message`` lines relative to ``[spv]``."""
    problems: list[str] = []
    names = [t.name for t in tranches]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(f"tranches.{i}.name: '{name}' names two tranches; names must be unique")
    if tranches and capital_committed is not None:
        commitments = [t.commitment for t in tranches]
        if capital_committed.is_fixed and all(c.is_fixed for c in commitments):
            total = sum(float(c.value) for c in commitments)
            if abs(total - float(capital_committed.value)) > 1e-6 * max(total, 1.0):
                problems.append(
                    f"capital_committed: with [[spv.tranches]] the commitment is the tranches' total, £{total:,.0f}; "
                    f"got £{float(capital_committed.value):,.0f} (remove it, or make the two agree)"
                )
        else:
            problems.append("capital_committed: with uncertain tranche commitments, leave capital_committed out "
                            "(the commitment is the tranches' total)")
    shares = [t.upside_share for t in tranches]
    if any(s is not None for s in shares) and any(s is None for s in shares):
        missing = [f"tranches.{i}" for i, s in enumerate(shares) if s is None]
        problems.append(f"tranches: give upside_share in every tranche or in none; missing in {', '.join(missing)}")
    elif shares and all(s is not None and s.is_fixed for s in shares):
        total = sum(float(s.value) for s in shares)
        if abs(total - 1.0) > 1e-9:
            problems.append(f"tranches: the upside_share values add up to {total:g}; expected 1")
    known = names or [SINGLE_TRANCHE]
    for i, guarantee in enumerate(guarantees):
        if guarantee.tranche not in known:
            from simsib.scenario.errors import did_you_mean

            hint = did_you_mean(guarantee.tranche, known)
            problems.append(f"guarantees.{i}.tranche: '{guarantee.tranche}' is not a tranche"
                            + (f"; did you mean '{hint}'?" if hint else "") + f"; choices: {', '.join(known)}")
    problems.extend(_column_clashes(names, guarantees))
    if order == "by_tranche" and provider is not None and provider.paid == "after_capital":
        problems.append("provider_risk.paid: \"after_capital\" has no place when distribution_order = \"by_tranche\" "
                        "(each tranche's capital and coupon are paid together); use before_capital or after_coupons")
    return problems


TRANCHE_COLUMNS = ("moic", "irr", "irr_status", "capital_drawn", "distributions", "lost_principal", "guarantee_received")


def _column_clashes(names: list[str], guarantees: list[Guarantee]) -> list[str]:
    """Names whose per-draw columns would coincide (``irr_status_x`` is tranche ``x``'s status
    column and tranche ``status_x``'s IRR).  One guarantor may give several guarantees (their
    payouts add up in one column); a repeated tranche name is reported on its own."""
    owner: dict[str, str] = {}
    problems = []
    made = [(f"tranches.{names.index(name)}.name", f"{prefix}_{name}")
            for name in dict.fromkeys(names) for prefix in TRANCHE_COLUMNS]
    made += [(f"guarantees.{g}.guarantor", f"guarantee_{x.guarantor}") for g, x in enumerate(guarantees)]
    for key, column in made:
        other = owner.setdefault(column, key)
        if other != key and not (other.startswith("guarantees") and key.startswith("guarantees")):
            problems.append(f"{key}: gives the column {column}, as {other} does; choose another name")
    return problems
