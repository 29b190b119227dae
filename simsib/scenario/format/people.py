"""Sections ``[population]``, ``[effect]`` and ``[care]``: who is referred, what the service
does to their risk, and what care costs and how long it lasts (EVIDENCE B, D)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from simsib.scenario.distributions import Distribution
from simsib.scenario.format.fields import Money, Months, Probability, Section, bounded, usable


class Population(Section):
    """Who is referred, and how likely they are to enter care without MST (EVIDENCE D)."""

    age_at_start: Annotated[Distribution, AfterValidator(usable)] = Field(
        description="Per-person age in whole years at MST start: a distribution table (usually "
        "categorical) over ages 10-17."
    )
    p30_entry: Probability = Field(
        description="Counterfactual probability of entering care within 30 months of start."
    )
    weibull_shape: bounded(0.05, 20, "a Weibull shape") = Field(
        default=1.0,
        description="Shape k of the Weibull time to care entry without MST (k < 1: the risk is highest "
        "soon after referral; 1: constant).",
    )

    @model_validator(mode="after")
    def _ages_are_children(self) -> "Population":
        low, high = self.age_at_start.support()
        if not (low >= 10 and high <= 17):  # written so that a NaN range fails too
            raise ValueError(
                "age_at_start: must lie within ages 10-17 (whole years at start); "
                f"this distribution ranges over [{low:g}, {high:g}]"
            )
        return self


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


