"""``[[contract.reviews]]`` and ``[contract.termination]``: review dates at which a rule on an
observed measure ends the contract early or extends the service, and what termination means
for payments, investors and guarantees (issue 16; E63, E64, E66)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simsib.scenario.format.capital import MEASURES
from simsib.scenario.format.fields import Number, Section, Source, StructMonths, structural_int

MONTHS_PER_QUARTER = 3


class Review(Section):
    """A review date and its rule: ``action`` when ``measure`` (observed over the quarters before
    ``month``) is ``when`` ``threshold``."""

    month: StructMonths = Field(
        description="Month, from contract start, of the review; a quarter end (a multiple of 3).  The rule reads "
        "the quarters before it and takes effect from it."
    )
    measure: Literal[MEASURES] = Field(
        description="What is observed: young people started, the treated care proportion, outcome payments received "
        "(£) or outcome payments as a share of the cap, to the review date."
    )
    when: Literal["below", "above"] = Field(description="The rule fires when the measure is below (or above) the threshold.")
    threshold: Number = Field(description="The threshold, in the measure's unit (people, a share, £).")
    action: Literal["terminate", "extend"] = Field(
        default="terminate",
        description="terminate: no new starts and no measurement from the review date; the contract settles as "
        "[contract.termination] says.  extend: the service and the measurement run extend_months longer.",
    )
    extend_months: structural_int(3, 240, "months of extension, a multiple of 3") | None = Field(
        default=None, description="Months added to the service and the measurement by an extension."
    )
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning.")

    @model_validator(mode="after")
    def _consistent(self) -> "Review":
        problems = []
        if self.month % MONTHS_PER_QUARTER:
            problems.append(f"month: reviews fall at quarter ends, a multiple of 3; got {self.month}")
        if self.action == "extend" and self.extend_months is None:
            problems.append("extend_months: required key is missing (action = \"extend\")")
        if self.action == "terminate" and self.extend_months is not None:
            problems.append("extend_months: only used with action = \"extend\"")
        if self.extend_months is not None and self.extend_months % MONTHS_PER_QUARTER:
            problems.append(f"extend_months: expected a multiple of 3; got {self.extend_months}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class EarlyRedemption(Section):
    """A floor on what investors get back if the contract is terminated from ``from_month`` on
    (Newpin: "75% of capital back if redeemed in year 4", E64), topped up by the commissioner."""

    from_month: StructMonths = Field(description="Applies to terminations at or after this month (until the next row's).")
    fraction: Annotated[Number, Field(ge=0, le=2)] = Field(
        description="Share of the capital drawn that investors get back in total, the commissioner paying any gap."
    )


class Termination(Section):
    """What happens when a review terminates the contract."""

    outstanding_payments: Literal["paid", "forfeited"] = Field(
        default="paid",
        description="paid: outcomes measured before termination are still paid, with the usual lag; forfeited: "
        "nothing is paid from the termination date.",
    )
    early_redemption: Annotated[list[EarlyRedemption], Field(max_length=50)] = Field(
        default_factory=list, description="Floors on investors' money back by termination date (none: no floor)."
    )
    source: Source = Field(default=None, description="An EVIDENCE id, or 'judgement: ' and the reasoning.")

    @model_validator(mode="after")
    def _ordered(self) -> "Termination":
        months = [row.from_month for row in self.early_redemption]
        if any(b <= a for a, b in zip(months, months[1:])):
            raise ValueError(f"early_redemption: from_month must increase from row to row; got {months}")
        return self
