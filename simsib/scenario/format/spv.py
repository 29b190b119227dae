"""Section ``[spv]``: the special-purpose vehicle's capital, costs, fees and distributions."""

from __future__ import annotations

from pydantic import Field

from simsib.scenario.format.fields import Money, Number, Probability, Section, StructMonths, bounded


class SPV(Section):
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
    discount_rate: bounded(-0.5, 1.0, "an annual discount rate") = Field(
        default=0.0, description="Annual rate for net present values (0.035 is 3.5%)."
    )
    target_return: Number | None = Field(
        default=None, ge=-1, le=10, description="Annual IRR to mark in reports (0.083 is 8.3%)."
    )


