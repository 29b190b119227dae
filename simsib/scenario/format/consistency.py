"""Cohorts resolved against the top-level sections, and the checks that span several tables.

:func:`resolve_cohorts` says, for every cohort of a scenario, which process it follows and where
its parameters live (its own ``population``/``effect``/``care`` tables, or the top-level
ones): the dotted prefixes under which the sampling stage draws them.  A scenario without
``[[cohorts]]`` has one implicit cohort, ``all``, in the ``care`` process with the top-level
tables (Essex).

:func:`consistency_problems` lists what is wrong across tables, one ``dotted.key: message``
line each, for :class:`~simsib.scenario.format.scenario.Scenario`'s validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simsib.scenario.format.cohorts import AttainmentCohort, CareCohort, RecurrentCohort
from simsib.scenario.format.contract import (
    DaysOutOfCare,
    DaysSavedVsBaseline,
    Engagement,
    EventsAvoided,
    Milestone,
    PointInTime,
    RateCard,
)

IMPLICIT_COHORT = "all"
CARE_SECTIONS = ("population", "effect", "care")
# The processes each mechanism can measure (engagement counts starts, which every process has).
MEASURES = {
    DaysSavedVsBaseline: ("care",),
    DaysOutOfCare: ("care",),
    Milestone: ("care",),
    PointInTime: ("care",),
    EventsAvoided: ("recurrent_events",),
    RateCard: ("attainment",),
    Engagement: ("care", "recurrent_events", "attainment"),
}
# Mechanisms that are not linear in the outcomes (thresholds, per-person and per-item caps):
# they are netted over the whole contract only.
CONTRACT_NETTING_ONLY = (EventsAvoided, RateCard)


@dataclass(frozen=True)
class ResolvedCohort:
    """One cohort, with the tables and per-draw key prefixes its process reads.

    ``key`` is the cohort's own dotted prefix (``cohorts.1``; ``""`` for the implicit cohort);
    ``prefix[section]`` is where a care cohort's ``population``/``effect``/``care`` inputs are
    drawn (``population`` for the top-level table, ``cohorts.1.population`` for its own).
    """

    index: int
    name: str
    process: str
    table: Any  # the cohort's table (CareCohort, ...); None for the implicit cohort
    key: str
    prefix: dict[str, str]
    sections: dict[str, Any]  # care cohorts: the Population, Effect and Care tables they use

    @property
    def starts_in_care(self) -> bool:
        return bool(getattr(self.table, "starts_in_care", False))

    def input_key(self, section: str, name: str) -> str:
        """Dotted per-draw input key of a care parameter, e.g. ``population.p30_entry``."""
        return f"{self.prefix[section]}.{name}"


def resolve_cohorts(scenario: Any) -> tuple[ResolvedCohort, ...]:
    """Every cohort of ``scenario``, in file order (the implicit one when there is no [[cohorts]])."""
    if not scenario.cohorts:
        sections = {name: getattr(scenario, name) for name in CARE_SECTIONS}
        return (ResolvedCohort(0, IMPLICIT_COHORT, "care", None, "", {s: s for s in CARE_SECTIONS}, sections),)
    resolved = []
    for i, cohort in enumerate(scenario.cohorts):
        prefix, sections = {}, {}
        if isinstance(cohort, CareCohort):
            for section in CARE_SECTIONS:
                own = getattr(cohort, section)
                prefix[section] = f"cohorts.{i}.{section}" if own is not None else section
                sections[section] = own if own is not None else getattr(scenario, section)
        resolved.append(ResolvedCohort(i, cohort.name, cohort.process, cohort, f"cohorts.{i}", prefix, sections))
    return tuple(resolved)


def paid_cohorts(scenario: Any, mechanism: Any) -> tuple[ResolvedCohort, ...]:
    """The cohorts ``mechanism`` pays for: those it names, else every cohort it can measure."""
    cohorts = resolve_cohorts(scenario)
    if mechanism.cohorts is None:
        return tuple(c for c in cohorts if c.process in MEASURES[type(mechanism)])
    return tuple(c for c in cohorts if c.name in mechanism.cohorts)


def consistency_problems(scenario: Any) -> list[str]:
    """Problems that span tables: cohorts and the sections, mechanisms and months they need."""
    problems = _cohort_problems(scenario)
    if problems:
        return problems  # mechanisms are checked against well-formed cohorts only
    return _mechanism_problems(scenario)


def _cohort_problems(scenario: Any) -> list[str]:
    problems: list[str] = []
    names: dict[str, int] = {}
    r = scenario.referrals
    for i, cohort in enumerate(scenario.cohorts):
        if cohort.name in names:
            problems.append(f"cohorts.{i}.name: '{cohort.name}' names cohorts.{names[cohort.name]} too")
        names.setdefault(cohort.name, i)
        end = r.service_end_month if cohort.starts_before_month is None else cohort.starts_before_month
        if end <= cohort.starts_from_month:
            problems.append(f"cohorts.{i}.starts_before_month: must be after starts_from_month "
                            f"({cohort.starts_from_month}); got {end}")
    uncovered = _months_without_cohort(scenario)
    if scenario.cohorts and uncovered:
        problems.append(f"cohorts: no cohort takes starts in service months {uncovered}; widen a cohort's "
                        "starts_from_month / starts_before_month")
    for cohort in resolve_cohorts(scenario):
        if cohort.process != "care":
            continue
        where = cohort.key + "." if cohort.key else ""
        for section in CARE_SECTIONS:
            if cohort.sections[section] is None:
                problems.append(f"{section}: required, as {_named(cohort)} follows the care process "
                                f"(or give {where}{section})")
        population = cohort.sections["population"]
        if population is not None:
            needed = "p30_exit" if cohort.starts_in_care else "p30_entry"
            if getattr(population, needed) is None:
                state = "starts in care" if cohort.starts_in_care else "starts outside care"
                problems.append(f"{cohort.prefix['population']}.{needed}: required, as {_named(cohort)} {state}")
    return problems


def _named(cohort: ResolvedCohort) -> str:
    return "the scenario's one cohort" if cohort.table is None else f"cohort '{cohort.name}'"


def _months_without_cohort(scenario: Any) -> str:
    """Service months in which no cohort takes starts, as ranges ("3-5, 9"); "" if none."""
    r = scenario.referrals
    missing = [m for m in range(r.service_start_month, r.service_end_month)
               if not any(c.starts_from_month <= m < (r.service_end_month if c.starts_before_month is None
                                                       else c.starts_before_month) for c in scenario.cohorts)]
    ranges, start = [], None
    for j, m in enumerate(missing):
        start = m if start is None else start
        if j + 1 == len(missing) or missing[j + 1] != m + 1:
            ranges.append(f"{start}" if start == m else f"{start}-{m}")
            start = None
    return ", ".join(ranges)


def _mechanism_problems(scenario: Any) -> list[str]:
    problems: list[str] = []
    contract = scenario.contract
    cohorts = {c.name: c for c in resolve_cohorts(scenario)}
    for i, mechanism in enumerate(contract.mechanisms):
        key = f"contract.mechanisms.{i}"
        can_measure = MEASURES[type(mechanism)]
        for name in mechanism.cohorts or ():
            cohort = cohorts.get(name)
            if cohort is None:
                problems.append(f"{key}.cohorts: '{name}' is not a cohort; cohorts: {', '.join(cohorts)}")
            elif cohort.process not in can_measure:
                problems.append(f"{key}.cohorts: {mechanism.type} cannot pay for cohort '{name}', which follows "
                                f"the {cohort.process} process (it measures: {', '.join(can_measure)})")
        if mechanism.cohorts is None and not paid_cohorts(scenario, mechanism):
            problems.append(f"{key}.type: no cohort follows a process {mechanism.type} measures "
                            f"({', '.join(can_measure)})")
        if isinstance(mechanism, CONTRACT_NETTING_ONLY):
            if contract.netting != "contract":
                problems.append(f"contract.netting: must be \"contract\" with a {mechanism.type} mechanism "
                                f"({key}), whose thresholds or caps apply to whole cohorts")
            if contract.cohort_cap is not None:
                problems.append(f"contract.cohort_cap: cannot be used with a {mechanism.type} mechanism ({key})")
        if isinstance(mechanism, EventsAvoided):
            problems.extend(_result_month_problems(scenario, mechanism, key))
        if isinstance(mechanism, RateCard):
            milestones = {o.name for c in paid_cohorts(scenario, mechanism) if isinstance(c.table, AttainmentCohort)
                          for o in c.table.outcomes}
            for j, item in enumerate(mechanism.items):
                if item.outcome not in milestones:
                    problems.append(f"{key}.items.{j}.outcome: '{item.outcome}' is not a milestone of the cohorts "
                                    f"paid for; milestones: {', '.join(sorted(milestones)) or 'none'}")
    return problems


def result_month(scenario: Any, cohort: ResolvedCohort, mechanism: EventsAvoided) -> int:
    """Month in which a cohort's result is known: its last start, plus the window, plus the lag."""
    table = cohort.table
    last_start = scenario.referrals.service_end_month
    if isinstance(table, RecurrentCohort) and table.starts_before_month is not None:
        last_start = min(last_start, table.starts_before_month)
    return last_start + scenario.contract.tracking_months + mechanism.results_lag_months


def _result_month_problems(scenario: Any, mechanism: EventsAvoided, key: str) -> list[str]:
    end = scenario.contract.measurement_end_month
    # Paid in the quarter the result is known, which must be a measured quarter (one starting
    # before the measurement end).
    late = [f"'{c.name}' in month {result_month(scenario, c, mechanism)}" for c in paid_cohorts(scenario, mechanism)
            if 3 * (result_month(scenario, c, mechanism) // 3) >= end]
    if not late:
        return []
    return [f"{key}.results_lag_months: results known after contract.measurement_end_month ({end}): "
            f"{', '.join(late)}; move the measurement end later or shorten the lag"]
