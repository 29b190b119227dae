"""Section ``[contract]`` and its ``[[contract.mechanisms]]``: what is measured and paid for."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from simsib.scenario.format.fields import Money, Probability, Section, StructMonths, structural_int
from simsib.scenario.format.reviews import Review, Termination


class DaysSavedVsBaseline(Section):
    """Essex: price × (baseline proportion × child-days − care days), netted cumulatively."""

    type: Literal["days_saved_vs_baseline"] = Field(description="Which mechanism this table describes.")
    price_per_day: Money = Field(description="£ per care day saved against the baseline.")
    baseline_care_proportion: Probability = Field(
        description="Historical share of child-days in care that the contract pays against (Essex: 0.55)."
    )


class DaysOutOfCare(Section):
    """Norfolk/Suffolk: price × days out of care in the window × (1 − deadweight)."""

    type: Literal["days_out_of_care"] = Field(description="Which mechanism this table describes.")
    price_per_day: Money = Field(description="£ per day out of care in the tracking window.")
    deadweight_share: Probability = Field(
        default=0.0, description="Share of days out of care not paid for, as they would have happened anyway."
    )


class Milestone(Section):
    """PFP/Birmingham: a price per block of N consecutive days out of care (``repeat``), or once
    per young person whose first N days from start are all out of care."""

    type: Literal["milestone"] = Field(description="Which mechanism this table describes.")
    price: Money = Field(description="£ per block (repeat = true) or per young person reaching the milestone.")
    block_days: structural_int(1, 3650, "a number of days") = Field(
        description="N: the days out of care that make a block or the milestone."
    )
    repeat: bool = Field(
        default=True,
        description="true: pay for every whole block of N consecutive days out of care; false: pay once per "
        "young person whose first N days from start are all out of care.",
    )


class Engagement(Section):
    """A price per young person who starts (or completes) the service."""

    type: Literal["engagement"] = Field(description="Which mechanism this table describes.")
    price_per_person: Money = Field(description="£ per young person.")
    on: Literal["start", "completion"] = Field(
        default="start", description="Pay when a young person starts, or when they complete MST."
    )

Mechanism = Annotated[
    Union[DaysSavedVsBaseline, DaysOutOfCare, Milestone, Engagement], Field(discriminator="type")
]


class Contract(Section):
    """The outcomes contract: what is measured, how it is priced, and the limits on payment."""

    tracking_months: structural_int(1, 240, "a tracking window in months") = Field(
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
    payment_lag_quarters: structural_int(0, 20, "a lag in quarters") = Field(
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
    reviews: Annotated[list[Review], Field(max_length=40)] = Field(
        default_factory=list,
        description="Review dates with a rule that ends the contract early or extends it, one [[contract.reviews]] "
        "table each (none: the contract runs its course unless the SPV runs out of cash).",
    )
    termination: Termination = Field(
        default_factory=Termination, description="What a termination at a review means for payments and investors."
    )


