"""Section ``[spv]``: the special-purpose vehicle's capital, costs, fees and distributions, and
its term sheet (tranches, guarantees, drawdown rule, provider risk share, return cap; see
:mod:`simsib.scenario.format.capital`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from simsib.scenario.format.capital import AnnualRate, Drawdown, Guarantee, ProviderRisk, Tranche, tranche_problems
from simsib.scenario.format.fields import Money, Number, Probability, Section, StructMonths, bounded


class _Missing(dict):
    """Stands in for a missing ``capital_committed`` without tranches, so that the problem is
    reported with every other problem of the table (a model-level check would wait for them)."""


class SPV(Section):
    """The special-purpose vehicle: capital, costs, fees and distributions."""

    capital_committed: Money | None = Field(
        default=None,
        description="Investors' committed capital, £.  Required without [[spv.tranches]]; with them the commitment "
        "is their total (give it only if it agrees).",
    )
    upfront_drawdown_share: Probability = Field(
        default=0.0, description="Share of the commitment drawn at financial close (quarter 0); "
        "the rest is drawn only when cash runs short (or on spv.drawdown's schedule)."
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
    discount_rate: bounded(-0.5, 1.0, "an annual discount rate") = Field(
        default=0.0, description="Annual rate for net present values (0.035 is 3.5%)."
    )
    target_return: Number | None = Field(
        default=None, ge=-1, le=10, description="Annual IRR to mark in reports (0.083 is 8.3%)."
    )
    # The term sheet (issue 16).  Defaults give the single class of investors above.
    tranches: Annotated[list[Tranche], Field(max_length=10)] = Field(
        default_factory=list,
        description="Classes of investors, one [[spv.tranches]] table each (none: one class, 'investors', committing "
        "capital_committed).",
    )
    distribution_order: Literal["capital_first", "by_tranche"] = Field(
        default="capital_first",
        description="capital_first: every tranche's capital by priority, then coupons by priority, then the residual "
        "by upside share; by_tranche: each priority's capital and coupon before the next priority's.",
    )
    return_cap: AnnualRate | None = Field(
        default=None,
        description="Most investors may earn, as an annual IRR (Peterborough: 0.13, E62), without [[spv.tranches]]; "
        "with them, set return_cap per tranche.",
    )
    capped_excess_to: Literal["commissioner", "provider"] = Field(
        default="commissioner", description="Who gets the cash that return caps keep from investors."
    )
    guarantees: Annotated[list[Guarantee], Field(max_length=20)] = Field(
        default_factory=list, description="Guarantees and principal protection, one [[spv.guarantees]] table each."
    )
    drawdown: Drawdown = Field(default_factory=Drawdown, description="When capital is drawn: a named rule.")
    cash_interest_rate: bounded(-0.05, 0.25, "an annual interest rate") = Field(
        default=0.0, description="Annual interest the SPV earns on idle cash (0.02 is 2%), credited quarterly."
    )
    provider_risk: ProviderRisk | None = Field(
        default=None, description="Part of the provider's fee paid only from outcome payments (none: all paid as due)."
    )

    @model_validator(mode="before")
    @classmethod
    def _mark_missing_commitment(cls, data):
        if isinstance(data, dict) and "capital_committed" not in data and not data.get("tranches"):
            return {**data, "capital_committed": _Missing()}
        return data

    @field_validator("capital_committed", mode="before")
    @classmethod
    def _commitment_needed(cls, value):
        if isinstance(value, _Missing):
            raise ValueError("required key is missing (or give [[spv.tranches]])")
        return value

    @model_validator(mode="after")
    def _term_sheet(self) -> "SPV":
        problems = tranche_problems(self.tranches, self.capital_committed, self.guarantees,
                                    self.distribution_order, self.provider_risk)
        if self.tranches and self.return_cap is not None:
            problems.append("return_cap: with [[spv.tranches]], set return_cap in each tranche instead")
        if problems:
            raise ValueError("\n".join(problems))
        return self
