"""Section ``[[cohorts]]``: groups of people, each with its own outcome process (EVIDENCE E, F).

A scenario without ``[[cohorts]]`` has one cohort: everybody, in the ``care`` process with the
top-level ``[population]``, ``[effect]`` and ``[care]`` (Essex).  With ``[[cohorts]]``, each
month's starts are shared among the cohorts taking starts that month, in proportion to their
``share``; each cohort names its outcome process and that process's parameters:

* ``care`` -- state occupancy (care, custody, residential care).  The cohort starts outside
  the state (edge of care) or inside it (``starts_in_care``, reunification); its
  ``population``, ``effect`` and ``care`` tables default to the top-level ones.
* ``recurrent_events`` -- events per person over the tracking window (reconvictions), with
  gamma-distributed person rates, a rate-ratio effect and, optionally, a comparison group of its
  own size whose rate carries sampling noise (Peterborough, E54, E62).
* ``attainment`` -- milestones a person reaches at a random time, or not (a job sustained 26
  weeks, a qualification), with a hazard-ratio effect on their timing (and so their
  probability); paid by rate cards (E67).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from simsib.scenario.distributions import Distribution
from simsib.scenario.format.fields import (
    Flag,
    Money,
    Months,
    Probability,
    Section,
    StructMonths,
    bounded,
    structural_int,
    usable,
)
from simsib.scenario.format.people import Care, Effect, Population, check_ages

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,39}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
AgeLimit = structural_int(1, 120, "an age in years")
Ages = Annotated[Distribution, AfterValidator(usable)]


class CohortBase(Section):
    """What every cohort says: its name, its share of the starts and the months it takes starts."""

    name: Name = Field(
        description="Short identifier (a letter, then letters, digits or '_'; at most 40), used by mechanisms' "
        "`cohorts` lists and in output column names."
    )
    share: Probability = Field(
        default=1.0,
        description="Weight of this cohort among the cohorts taking starts in a month: each start joins it "
        "with probability share ÷ (sum of those cohorts' shares).",
    )
    starts_from_month: StructMonths = Field(
        default=0, description="First month, from contract start, in which this cohort takes starts."
    )
    starts_before_month: StructMonths | None = Field(
        default=None, description="Month from which this cohort takes no more starts (none: to the service end)."
    )


class CareCohort(CohortBase):
    """People moving in and out of an adverse state (care): the Essex process, generalised."""

    process: Literal["care"] = Field(description="Which outcome process this cohort follows.")
    starts_in_care: Flag = Field(
        default=False,
        description="false: the cohort starts outside care and the effect delays entry (edge of care); true: it "
        "starts in care and the effect speeds the exit (reunification).",
    )
    population: Population | None = Field(
        default=None, description="This cohort's own [population] table (none: the top-level one)."
    )
    effect: Effect | None = Field(default=None, description="This cohort's own [effect] table (none: the top-level one).")
    care: Care | None = Field(default=None, description="This cohort's own [care] table (none: the top-level one).")


class AgedCohort(CohortBase):
    """A cohort whose process takes its ages from the cohort table itself."""

    age_at_start: Ages | None = Field(
        default=None, description="Per-person age in whole years at start (none: ages play no part)."
    )
    age_limit_years: AgeLimit | None = Field(default=None, description="Age at which tracking ends (none: no limit).")

    @model_validator(mode="after")
    def _ages_below_the_limit(self) -> "AgedCohort":
        if self.age_at_start is not None:
            check_ages(self.age_at_start, self.age_limit_years, "age_at_start")
        elif self.age_limit_years is not None:
            raise ValueError("age_limit_years: needs age_at_start (the ages the limit applies to)")
        return self


class RecurrentCohort(AgedCohort):
    """Repeated events per person (reconvictions) over the tracking window."""

    process: Literal["recurrent_events"] = Field(description="Which outcome process this cohort follows.")
    events_per_year: bounded(0.0, 100, "events per person-year") = Field(
        description="Mean events per person-year without the service (the counterfactual rate), drawn once per draw."
    )
    rate_dispersion: bounded(0.01, 1000, "a gamma shape (k > 0)") = Field(
        default=1.0,
        description="Shape k of the gamma distribution of person rates around the mean: variance of a person's "
        "rate = mean²/k (small k: a few people commit most events).",
    )
    log_rate_ratio: bounded(-10, 10, "a log rate ratio") = Field(
        description="Log of the event rate with the service over the rate without it, drawn once per draw "
        "(negative: fewer events; 0: no effect)."
    )
    effect_duration_months: Months | None = Field(
        default=None, description="Months from start during which the rate ratio applies (none: the whole window)."
    )
    comparison_group_size: structural_int(1, 10_000_000, "a number of people") | None = Field(
        default=None,
        description="Size of the comparison group the contract measures against (a matched group of its own, "
        "whose rate carries sampling noise); none: the cohort's own counterfactual paths.",
    )
    comparison_rate_ratio: bounded(0.01, 100, "a rate ratio") = Field(
        default=1.0,
        description="Comparison group's true event rate over the cohort's counterfactual rate (1: perfectly "
        "matched; above 1: the comparison group offends more, which the contract pays for).",
    )
    cost_per_event: Money = Field(
        default=0.0, description="The public sector's cost of one event, £ (the value of an event avoided)."
    )


class AttainmentOutcome(Section):
    """One milestone: reached at a random time, or not, or a set time after another milestone."""

    name: Name = Field(description="Short identifier, used by rate-card items and output column names.")
    probability: Probability = Field(
        description="Without `after`: probability of reaching it within `within_months` of start without the "
        "service.  With `after`: probability of reaching it once the earlier milestone is reached."
    )
    within_months: structural_int(1, 600, "a number of months") | None = Field(
        default=None, description="Months from start that `probability` refers to (required without `after`)."
    )
    weibull_shape: bounded(0.05, 20, "a Weibull shape") | None = Field(
        default=None, description="Shape k of the Weibull time to the milestone (none: 1, a constant hazard; "
        "not with `after`)."
    )
    log_hazard_ratio: bounded(-10, 10, "a log hazard ratio") | None = Field(
        default=None,
        description="Log hazard ratio of reaching the milestone with the service against without (positive: "
        "sooner and more often; none: 0; not with `after`).",
    )
    effect_duration_months: Months | None = Field(
        default=None, description="Months during which the hazard ratio applies (none: the whole window)."
    )
    after: Name | None = Field(
        default=None, description="An earlier milestone of this cohort that this one follows (e.g. a job "
        "sustained 26 weeks after a job start)."
    )
    delay_months: Months | None = Field(
        default=None, description="With `after`: months from the earlier milestone to this one (required there)."
    )
    value: Money = Field(default=0.0, description="The public sector's value of one milestone reached, £.")

    @model_validator(mode="after")
    def _after_or_timed(self) -> "AttainmentOutcome":
        problems = []
        if self.after is None:
            if self.within_months is None:
                problems.append("within_months: required for a milestone that does not follow another")
            if self.delay_months is not None:
                problems.append("delay_months: only with `after`")
        else:
            if self.delay_months is None:
                problems.append("delay_months: required with `after`")
            for key in ("within_months", "weibull_shape", "log_hazard_ratio", "effect_duration_months"):
                if getattr(self, key) is not None:
                    problems.append(f"{key}: not with `after` (the milestone follows '{self.after}' and its timing)")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class AttainmentCohort(AgedCohort):
    """Milestones reached at a random time, or not, each paid for by rate-card items."""

    process: Literal["attainment"] = Field(description="Which outcome process this cohort follows.")
    outcomes: Annotated[list[AttainmentOutcome], Field(min_length=1, max_length=30)] = Field(
        description="The milestones, one [[cohorts.outcomes]] table each; a milestone with `after` follows an "
        "earlier one in this list."
    )

    @model_validator(mode="after")
    def _milestones_follow_earlier_ones(self) -> "AttainmentCohort":
        problems, seen = [], set()
        for i, outcome in enumerate(self.outcomes):
            if outcome.name in seen:
                problems.append(f"outcomes.{i}.name: '{outcome.name}' is already a milestone of this cohort")
            if outcome.after is not None and outcome.after not in seen:
                problems.append(f"outcomes.{i}.after: '{outcome.after}' is not an earlier milestone of this cohort; "
                                f"earlier ones: {', '.join(sorted(seen)) or 'none'}")
            seen.add(outcome.name)
        if problems:
            raise ValueError("\n".join(problems))
        return self


Cohort = Annotated[Union[CareCohort, RecurrentCohort, AttainmentCohort], Field(discriminator="process")]

# Shared fields of the cohort tables, never tables themselves (the scenario reference lists the
# tables that hold them).
BASES = (CohortBase, AgedCohort)
