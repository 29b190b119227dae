"""Section ``[contract]``, its ``[[contract.mechanisms]]`` and ``[[contract.payers]]``: what is
measured, how it is priced, and who pays."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from simsib.scenario.format.cohorts import Name
from simsib.scenario.format.fields import Flag, Money, Probability, Section, StructMonths, structural_int
from simsib.scenario.format.reviews import Review, Termination

Days = structural_int(0, 3650, "a number of days")


PaidCohorts = Annotated[list[Name], Field(min_length=1)] | None


def paid_cohorts():
    """The ``cohorts`` field every mechanism has (last, after its own fields)."""
    return Field(
        default=None,
        description="Names of the [[cohorts]] this mechanism pays for (none: every cohort whose outcome it "
        "measures).",
    )


class DaysSavedVsBaseline(Section):
    """Essex: price × (baseline proportion × child-days − care days), netted cumulatively."""

    type: Literal["days_saved_vs_baseline"] = Field(description="Which mechanism this table describes.")
    price_per_day: Money = Field(description="£ per care day saved against the baseline.")
    baseline_care_proportion: Probability = Field(
        description="Historical share of child-days in care that the contract pays against (Essex: 0.55)."
    )
    cohorts: PaidCohorts = paid_cohorts()


class DaysOutOfCare(Section):
    """Norfolk/Suffolk: price × days out of care in the window × (1 − deadweight)."""

    type: Literal["days_out_of_care"] = Field(description="Which mechanism this table describes.")
    price_per_day: Money = Field(description="£ per day out of care in the tracking window.")
    deadweight_share: Probability = Field(
        default=0.0, description="Share of days out of care not paid for, as they would have happened anyway."
    )
    from_day: Days = Field(
        default=0,
        description="Days from each person's start before days out of care count (Suffolk: 98, after the "
        "14-week payment); the window still ends at `contract.tracking_months`.",
    )
    cohorts: PaidCohorts = paid_cohorts()


class Milestone(Section):
    """PFP/Birmingham: a price per block of N consecutive days out of care (``repeat``), or once
    per young person whose first N days from start are all out of care."""

    type: Literal["milestone"] = Field(description="Which mechanism this table describes.")
    price: Money = Field(description="£ per block (repeat = true) or per young person reaching the milestone.")
    block_days: structural_int(1, 3650, "a number of days") = Field(
        description="N: the days out of care that make a block or the milestone."
    )
    repeat: Flag = Field(
        default=True,
        description="true: pay for every whole block of N consecutive days out of care; false: pay once per "
        "young person whose first N days from start are all out of care.",
    )
    cohorts: PaidCohorts = paid_cohorts()


class Engagement(Section):
    """A price per young person who starts (or completes) the service."""

    type: Literal["engagement"] = Field(description="Which mechanism this table describes.")
    price_per_person: Money = Field(description="£ per young person.")
    on: Literal["start", "completion"] = Field(
        default="start", description="Pay when a young person starts, or when they complete MST."
    )
    cohorts: PaidCohorts = paid_cohorts()


class PointInTime(Section):
    """Suffolk: a price per person out of (or in) care a given number of days after their start."""

    type: Literal["point_in_time"] = Field(description="Which mechanism this table describes.")
    price_per_person: Money = Field(description="£ per person in the chosen state on the day.")
    at_day: structural_int(1, 3650, "a number of days") = Field(
        description="Days after each person's start at which their state is read (Suffolk: 98, 14 weeks); "
        "people no longer tracked by then earn nothing."
    )
    state: Literal["out", "in"] = Field(
        default="out", description="Pay for people out of care on the day (\"out\"), or in it (\"in\")."
    )
    cohorts: PaidCohorts = paid_cohorts()


class EventsAvoided(Section):
    """Peterborough (E54, E62): a price per event avoided against a comparison group, paid only
    when the reduction reaches a threshold in a cohort, or across all cohorts."""

    type: Literal["events_avoided"] = Field(description="Which mechanism this table describes.")
    price_per_event: Money = Field(
        description="£ per event avoided: (comparison rate − cohort rate) × the cohort's tracked person-time."
    )
    cohort_threshold: Probability | None = Field(
        default=None,
        description="A cohort is paid, when its result is known, only if its events fall by at least this share "
        "against its comparison group (Peterborough: 0.10); none: every cohort is paid for what it avoids.",
    )
    overall_threshold: Probability | None = Field(
        default=None,
        description="When the last cohort's result is known, if events across all cohorts fall by at least this "
        "share (Peterborough: 0.075), the events avoided across all cohorts are paid, less what the cohorts "
        "were paid (none: no overall test).",
    )
    results_lag_months: structural_int(0, 120, "a number of months") = Field(
        default=0,
        description="Months after a cohort's last tracking window closes before its result is known "
        "(Peterborough: 6, for convictions in court).",
    )
    cohorts: PaidCohorts = paid_cohorts()


class RateCardItem(Section):
    """One line of a rate card: a milestone and its price."""

    outcome: Name = Field(description="Name of a milestone (`outcomes.name`) of the attainment cohorts paid for.")
    price: Money = Field(description="£ per person reaching the milestone.")
    cap: Money | None = Field(default=None, description="Limit on this item's payments over the contract, £ (none: no limit).")


class RateCard(Section):
    """E67: several milestones, each with its price, optional caps per item and per person."""

    type: Literal["rate_card"] = Field(description="Which mechanism this table describes.")
    items: Annotated[list[RateCardItem], Field(min_length=1, max_length=30)] = Field(
        description="The rate card, one [[contract.mechanisms.items]] table per milestone."
    )
    cap_per_person: Money | None = Field(
        default=None,
        description="Limit on what one person's milestones earn, £, in the order they are reached (none: no limit).",
    )
    cohorts: PaidCohorts = paid_cohorts()

    @model_validator(mode="after")
    def _one_item_per_milestone(self) -> "RateCard":
        names = [item.outcome for item in self.items]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"items: each milestone may appear once; repeated: {', '.join(repeated)}")
        return self


Mechanism = Annotated[
    Union[DaysSavedVsBaseline, DaysOutOfCare, Milestone, Engagement, PointInTime, EventsAvoided, RateCard],
    Field(discriminator="type"),
]


class Payer(Section):
    """Someone who pays outcome payments: a commissioner, a national top-up fund (E58: Life Chances Fund)."""

    name: Name = Field(description="Short identifier, used in output column names (`paid_payer_NAME`).")
    share: Probability = Field(
        description="Share of every outcome payment this payer makes; the shares of all payers sum to 1 and are "
        "fixed (not distributions)."
    )
    cap: Money | None = Field(
        default=None,
        description="Limit on this payer's total payments, £; once reached, its share is no longer paid and no "
        "other payer makes it up (none: no limit).",
    )


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
    payers: list[Payer] = Field(
        default_factory=list,
        description="Who pays, one [[contract.payers]] table each (none: one payer, the commissioner, pays all).",
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

    @model_validator(mode="after")
    def _payers_share_everything(self) -> "Contract":
        problems = []
        names = [payer.name for payer in self.payers]
        for i, payer in enumerate(self.payers):
            if names.index(payer.name) != i:
                problems.append(f"payers.{i}.name: '{payer.name}' names an earlier payer too")
            if not payer.share.is_fixed:
                problems.append(f"payers.{i}.share: must be a fixed share, not a distribution (the shares sum to 1)")
        if self.payers and not problems:
            total = sum(float(payer.share.value) for payer in self.payers)
            if abs(total - 1.0) > 1e-9:
                problems.append(f"payers: the payers' shares must sum to 1; they sum to {total:g}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


