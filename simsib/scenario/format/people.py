"""Sections ``[population]``, ``[effect]`` and ``[care]``: who is referred, what the service
does to their risk, and what care costs and how long it lasts (EVIDENCE B, D)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from simsib.scenario.distributions import Distribution
from simsib.scenario.format.fields import Money, Months, Probability, Section, bounded, structural_int, usable


class Population(Section):
    """Who is referred, how old they are, and how likely they are to change state without the
    service (EVIDENCE D): to enter care (a cohort starting outside care) or to leave it (one
    starting in care, such as a reunification cohort)."""

    age_at_start: Annotated[Distribution, AfterValidator(usable)] = Field(
        description="Per-person age in whole years at the start of the service: a distribution table "
        "(usually categorical) over ages below `age_limit_years`."
    )
    age_limit_years: structural_int(1, 120, "an age in years") = Field(
        default=18,
        description="Age at which care days and tracked days end (18 for children; e.g. 25 for care leavers).",
    )
    p30_entry: Probability | None = Field(
        default=None,
        description="Counterfactual probability of entering care within 30 months of start (a cohort that "
        "starts outside care; required there).",
    )
    p30_exit: Probability | None = Field(
        default=None,
        description="Counterfactual probability of leaving care within 30 months of start (a cohort that "
        "starts in care, such as reunification; required there).",
    )
    weibull_shape: bounded(0.05, 20, "a Weibull shape") = Field(
        default=1.0,
        description="Shape k of the Weibull time to care entry (or exit) without the service (k < 1: the "
        "chance is highest soon after referral; 1: constant).",
    )

    @model_validator(mode="after")
    def _ages_below_the_limit(self) -> "Population":
        check_ages(self.age_at_start, self.age_limit_years, "age_at_start")
        return self


def check_ages(ages: Distribution, limit: int | None, key: str) -> None:
    """Whole years at start must be at least 0 and below ``limit`` (one year below it at most)."""
    low, high = ages.support()
    top = 120 if limit is None else limit - 1
    if not (low >= 0 and high <= top):  # written so that a NaN range fails too
        where = "120" if limit is None else f"the age limit ({limit})"
        raise ValueError(
            f"{key}: whole years at start must lie from 0 to {top}, below {where}; "
            f"this distribution ranges over [{low:g}, {high:g}]"
        )


class Effect(Section):
    """The causal effect of MST on care entry: a hazard ratio for a while (EVIDENCE B)."""

    log_hazard_ratio: bounded(-10, 10, "a log hazard ratio") = Field(
        description="Log hazard ratio of care entry with MST against without, drawn once per draw "
        "(negative: MST prevents entries; 0: no effect)."
    )
    duration_months: Months = Field(
        default=24.0,
        description="Months from start during which the hazard ratio applies; the hazard then returns "
        "to the counterfactual one.",
    )
    completion_rate: Probability = Field(default=1.0, description="Share of young people who complete MST.")
    non_completer_effect_share: Probability = Field(
        default=0.0, description="Share of the log hazard ratio that non-completers get (0: no effect, 1: all)."
    )


class Care(Section):
    """Care episode lengths, re-entry and unit costs (EVIDENCE D)."""

    short_stay_share: Probability = Field(
        description="Share of care episodes that are short stays; the rest are long stays."
    )
    short_stay_median_months: bounded(0.01, 240, "a median in months") = Field(
        description="Median length of a short stay, in months (log-normal)."
    )
    short_stay_sigma: bounded(0.01, 5, "a log-scale sigma") = Field(
        description="Log-scale spread σ of short-stay lengths."
    )
    long_stay_median_months: bounded(0.01, 240, "a median in months") = Field(
        description="Median length of a long stay, in months (log-normal)."
    )
    long_stay_sigma: bounded(0.01, 5, "a log-scale sigma") = Field(
        description="Log-scale spread σ of long-stay lengths."
    )
    reentry_probability: Probability = Field(
        default=0.0, description="Probability that a young person leaving care before 18 re-enters (at most once)."
    )
    reentry_gap_mean_months: bounded(0.01, 240, "a mean gap in months") = Field(
        default=12.0, description="Mean months out of care before a re-entry (exponential)."
    )
    la_foster_weekly_cost: Money = Field(description="£ a week for a local-authority foster placement.")
    ifa_foster_weekly_cost: Money = Field(description="£ a week for an independent fostering agency placement.")
    residential_weekly_cost: Money = Field(description="£ a week for a residential placement.")
    residential_share: Probability = Field(description="Share of care days spent in residential care.")
    ifa_share_of_fostering: Probability = Field(
        description="Share of fostering days with independent agencies; the rest are with the council's own carers."
    )
    cost_inflation: bounded(-0.2, 0.5, "an annual rate") = Field(
        default=0.0,
        description="Annual growth of the weekly costs of care, which are at contract-start prices "
        "(0.02 is 2% a year); savings in a quarter are valued at that quarter's prices.",
    )


