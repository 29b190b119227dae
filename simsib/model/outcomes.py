"""What an outcome process returns: sums per draw, start cohort and calendar quarter.

:class:`CohortQuarterly` is the interface between the model and the contract: every outcome
process (:mod:`simsib.model.processes`) fills it for the treated and the counterfactual paths,
and every payment mechanism (:mod:`simsib.contract.mechanisms`) reads it.  A process fills the
fields of its own kind of outcome and leaves the others empty (zero cubes, empty dicts, None).

Two meanings of "cohort" meet here.  The *start cohort* is the quarter in which a person starts
(axis 1 of every cube: netting and cohort caps work on it).  A *named cohort* is a
``[[cohorts]]`` table of the scenario (edge of care, reunification; Peterborough's cohort 1 and
2), each with its own process: :attr:`CohortQuarterly.groups` holds each named cohort's own
:class:`CohortQuarterly`, and the top-level arrays are their sums.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from simsib.scenario.format import Scenario, resolve_cohorts

DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_QUARTER = 3
# Sums over start cohorts by calendar quarter -> the per-cohort arrays they are the sums of (any
# code that cuts or splices cohorts sums these again: their axis 1 is not the cohort).
HORIZON_SUMS = {"state_days_avoided_to_horizon": "state_days_avoided_to_horizon_by_cohort",
                "counterfactual_state_days_to_horizon": "counterfactual_state_days_to_horizon_by_cohort"}


@dataclass(frozen=True)
class Needs:
    """What the contract's mechanisms need measured beyond the defaults, in days since start.

    ``milestone_blocks``/``milestone_once``: block lengths N of repeating and once-only
    milestones; ``point_days``: days at which a person's state is read (point-in-time payments);
    ``offset_days``: days from which days out of care count; ``horizon``: also sum days in the
    state to each person's age limit (for the council's accounting beyond the window);
    ``horizon_counterfactual``: with ``horizon``, also the counterfactual path's own days to the
    age limit (what doing nothing costs: the commissioning analysis);
    ``completions``: count the completions due by quarter (``completions_due``; measured unless
    the caller says no mechanism pays on them: :func:`simsib.contract.mechanisms.model_needs`
    does, which spares the care kernel a cube).
    """

    milestone_blocks: tuple[int, ...] = ()
    milestone_once: tuple[int, ...] = ()
    point_days: tuple[int, ...] = ()
    offset_days: tuple[int, ...] = ()
    horizon: bool = False
    horizon_counterfactual: bool = False
    completions: bool = True

    def covers(self, other: "Needs") -> bool:
        """True when outcomes measured for these needs also serve ``other``'s."""
        flags = ("horizon", "horizon_counterfactual", "completions")
        return (all(set(getattr(other, f.name)) <= set(getattr(self, f.name)) for f in fields(self) if f.name not in flags)
                and all(getattr(self, flag) or not getattr(other, flag) for flag in flags))


@dataclass(frozen=True)
class CohortQuarterly:
    """Sums per draw, start cohort and calendar quarter, shape (n_draws, n_cohorts, n_quarters).

    Days are calendar days (months × 365.25/12).  ``starts``/``completed`` are per cohort,
    shape (n_draws, n_cohorts).  Every tracking window ends by the measurement end, so days and
    events after it are zero by construction (except the horizon sums, which go on to each
    person's age limit).

    Care (state occupancy) fills ``child_days`` (days tracked), ``care_days_*`` (days in the
    state), the milestones, and on request:

    * ``out_of_state_at`` / ``out_of_state_at_counterfactual``: day N -> people out of the state
      N days after their start (counted in the quarter of that day; people still tracked then),
      and ``in_state_at`` / ``in_state_at_counterfactual`` those in it;
    * ``days_from``: day N -> (child-days, care days treated, care days counterfactual) from
      day N of each person's window on;
    * ``state_days_avoided_to_horizon``: days in the state avoided (counterfactual less
      treated) from start to each person's age limit (the 18th birthday for children), cut
      neither by the tracking window nor by the measurement end, summed over every start cohort
      by calendar quarter from contract start, shape (n_draws, n_horizon_quarters); and
      ``state_days_avoided_to_horizon_by_cohort`` the same by start cohort, (n_draws,
      n_cohorts, n_cohort_horizon_quarters), by quarter counted from the cohort's own:
      ``[:, c, j]`` is calendar quarter ``c + j`` (a start cohort's paths span far fewer
      quarters than the whole horizon; :func:`horizon_quarters` gives both lengths);
      ``counterfactual_state_days_to_horizon`` and ``_by_cohort`` the same for the counterfactual
      path's own days in the state (what doing nothing costs), when asked for
      (``Needs.horizon_counterfactual``).  :meth:`CohortQuarterly.avoided_to_horizon` and
      :meth:`CohortQuarterly.counterfactual_to_horizon` sum over the served start cohorts only.

    Recurrent events fill ``event_days`` (person-days tracked for events), ``events_treated``,
    ``events_counterfactual`` (events by the quarter they happen in), and the comparison group
    the contract measures against, per draw: ``comparison_events`` and ``comparison_days``
    (its events and person-days, (n_draws,)).

    Attainment fills ``attained`` / ``attained_counterfactual`` (milestone name -> people reaching
    it, by the quarter they reach it) and, for rate cards with per-person caps, the per-person
    records ``person_attained`` / ``_counterfactual`` (name -> calendar month reached, inf if not,
    shape (n_draws, max_people)) with ``person_cohort`` (start cohort, -1 for padding).
    """

    child_days: np.ndarray
    care_days_treated: np.ndarray
    care_days_counterfactual: np.ndarray
    completions_due: np.ndarray | None  # completions counted in the quarter the therapy ends (None: not measured)
    milestone_block_days: dict[int, np.ndarray]  # block length N -> accrued whole-block days
    milestone_people: dict[int, np.ndarray]  # N -> people whose first N days are out of care
    starts: np.ndarray
    completed: np.ndarray
    # Cube name -> its totals over quarters (n_draws, n_cohorts), and over start cohorts
    # (n_draws, n_quarters), where the simulation summed them on the way (the compiled kernel
    # does, at almost no cost); see by_cohort and by_quarter.
    days_by_cohort: dict[str, np.ndarray] = field(default_factory=dict)
    days_by_quarter: dict[str, np.ndarray] = field(default_factory=dict)
    # The same milestones on the counterfactual paths (what would have been paid anyway).
    milestone_block_days_counterfactual: dict[int, np.ndarray] = field(default_factory=dict)
    milestone_people_counterfactual: dict[int, np.ndarray] = field(default_factory=dict)
    out_of_state_at: dict[int, np.ndarray] = field(default_factory=dict)
    out_of_state_at_counterfactual: dict[int, np.ndarray] = field(default_factory=dict)
    in_state_at: dict[int, np.ndarray] = field(default_factory=dict)
    in_state_at_counterfactual: dict[int, np.ndarray] = field(default_factory=dict)
    days_from: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    state_days_avoided_to_horizon: np.ndarray | None = None
    state_days_avoided_to_horizon_by_cohort: np.ndarray | None = None
    counterfactual_state_days_to_horizon: np.ndarray | None = None
    counterfactual_state_days_to_horizon_by_cohort: np.ndarray | None = None
    event_days: np.ndarray | None = None
    events_treated: np.ndarray | None = None
    events_counterfactual: np.ndarray | None = None
    comparison_events: np.ndarray | None = None
    comparison_days: np.ndarray | None = None
    attained: dict[str, np.ndarray] = field(default_factory=dict)
    attained_counterfactual: dict[str, np.ndarray] = field(default_factory=dict)
    person_attained: dict[str, np.ndarray] = field(default_factory=dict)
    person_attained_counterfactual: dict[str, np.ndarray] = field(default_factory=dict)
    person_cohort: np.ndarray | None = None
    # Named cohort -> its own outcomes; empty when the scenario has one implicit cohort.
    groups: dict[str, "CohortQuarterly"] = field(default_factory=dict)

    def by_cohort(self, name: str) -> np.ndarray:
        """Totals over quarters of the cube ``name``, shape (n_draws, n_cohorts)."""
        total = self.days_by_cohort.get(name)
        return getattr(self, name).sum(axis=2) if total is None else total

    def by_quarter(self, name: str, served: np.ndarray | None = None) -> np.ndarray:
        """The cube ``name`` summed over the ``served`` start cohorts ((n_draws, n_cohorts) bool or
        0/1 weights; None: all), shape (n_draws, n_quarters).

        Added in cohort order, as ``np.einsum("dcq,dc->dq", cube, served)`` adds them; draws
        with every cohort served take the simulation's own sums (``days_by_quarter``), the same
        numbers to the last bit, where it made them.
        """
        cube = getattr(self, name)
        total = self.days_by_quarter.get(name)
        if total is None:
            weights = np.ones(cube.shape[:2]) if served is None else np.asarray(served, dtype=float)
            return np.einsum("dcq,dc->dq", cube, weights)
        if served is None:
            return total
        rows = np.flatnonzero((np.asarray(served) != 1).any(axis=1))
        if rows.size == 0:
            return total
        total = total.copy()
        total[rows] = np.einsum("dcq,dc->dq", cube[rows], np.asarray(served[rows], dtype=float))
        return total

    def summed_name(self, cube: np.ndarray) -> str | None:
        """The name of the field ``cube`` is, when the simulation summed it over start cohorts."""
        return next((name for name in self.days_by_quarter if getattr(self, name) is cube), None)

    def avoided_to_horizon(self, served: np.ndarray | None = None) -> np.ndarray | None:
        """Days in the state avoided to each person's age limit by the ``served`` start cohorts
        ((n_draws, n_cohorts) bool; None: all), by calendar quarter, (n_draws, n_horizon_quarters);
        None when not measured.

        Draws with every cohort served take the sums over all of them; the others are summed
        again from the cohorts' own, in cohort order.
        """
        return _served_to_horizon(self.state_days_avoided_to_horizon, self.state_days_avoided_to_horizon_by_cohort,
                                  served)

    def counterfactual_to_horizon(self, served: np.ndarray | None = None) -> np.ndarray | None:
        """As :meth:`avoided_to_horizon`, for the counterfactual path's days in the state."""
        return _served_to_horizon(self.counterfactual_state_days_to_horizon,
                                  self.counterfactual_state_days_to_horizon_by_cohort, served)

    def group(self, name: str) -> "CohortQuarterly":
        """The outcomes of one named cohort (the whole, for the implicit single cohort)."""
        return self.groups.get(name, self) if self.groups else self

    def select(self, names: tuple[str, ...] | None) -> "CohortQuarterly":
        """The outcomes of the named cohorts ``names`` together (all of them for None)."""
        if names is None or not self.groups or set(names) == set(self.groups):
            return self
        parts = [self.groups[n] for n in names]
        return parts[0] if len(parts) == 1 else combine(parts, names=list(names))

    def without_effect(self) -> "CohortQuarterly":
        """These outcomes had the service had no effect: every treated measure replaced by its
        counterfactual (the comparison group, starts and completions unchanged)."""
        swapped = {
            "care_days_treated": self.care_days_counterfactual,
            "milestone_block_days": self.milestone_block_days_counterfactual,
            "milestone_people": self.milestone_people_counterfactual,
            "out_of_state_at": self.out_of_state_at_counterfactual,
            "in_state_at": self.in_state_at_counterfactual,
            "days_from": {n: (child, cf, cf) for n, (child, _, cf) in self.days_from.items()},
            "state_days_avoided_to_horizon": _zeros_like(self.state_days_avoided_to_horizon),
            "state_days_avoided_to_horizon_by_cohort": _zeros_like(self.state_days_avoided_to_horizon_by_cohort),
            "events_treated": self.events_counterfactual,
            "attained": self.attained_counterfactual,
            "person_attained": self.person_attained_counterfactual,
            "groups": {n: g.without_effect() for n, g in self.groups.items()},
        }
        totals, by_quarter = dict(self.days_by_cohort), dict(self.days_by_quarter)
        for sums in (totals, by_quarter):
            if "care_days_counterfactual" in sums:
                sums["care_days_treated"] = sums["care_days_counterfactual"]
        return replace(self, days_by_cohort=totals, days_by_quarter=by_quarter, **swapped)


def _served_to_horizon(total: np.ndarray | None, by_cohort: np.ndarray | None,
                       served: np.ndarray | None) -> np.ndarray | None:
    rows = np.flatnonzero(~served.all(axis=1)) if served is not None else np.empty(0, dtype=np.int64)
    if total is None or rows.size == 0:
        return total
    total = total.copy()
    total[rows] = sum_from_cohort_quarters(by_cohort[rows], total.shape[1], served[rows])
    return total


def _zeros_like(value: np.ndarray | None) -> np.ndarray | None:
    # A read-only view of one zero: nothing avoided, without filling megabytes with zeros.
    return None if value is None else np.broadcast_to(np.zeros((), dtype=value.dtype), value.shape)


def _add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, dict):
        return {k: _add(a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b])}
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    return a + b


# Per-person fields are laid side by side, not added.
_PER_PERSON = ("person_attained", "person_attained_counterfactual", "person_cohort")


def combine(parts: list[CohortQuarterly], names: list[str]) -> CohortQuarterly:
    """Several named cohorts' outcomes as one: cubes added, per-person records side by side,
    and each part kept as a group under its name in ``names``."""
    values: dict[str, Any] = {}
    for f in fields(CohortQuarterly):
        if f.name == "groups":
            continue
        items = [getattr(p, f.name) for p in parts]
        if f.name in _PER_PERSON:
            values[f.name] = _side_by_side(parts, f.name)
        else:
            total = items[0]
            for item in items[1:]:
                total = _add(total, item)
            values[f.name] = total
    return CohortQuarterly(**values, groups=dict(zip(names, parts)))


def _side_by_side(parts: list[CohortQuarterly], name: str) -> Any:
    present = [p for p in parts if p.person_cohort is not None]
    if not present:
        return {} if name != "person_cohort" else None
    if name == "person_cohort":
        return np.concatenate([p.person_cohort for p in present], axis=1)
    keys = dict.fromkeys(k for p in present for k in getattr(p, name))
    out = {}
    for key in keys:
        # A milestone of one cohort is never reached by another cohort's people.
        out[key] = np.concatenate([getattr(p, name).get(key, np.full(p.person_cohort.shape, np.inf)) for p in present],
                                  axis=1)
    return out


def horizon_quarters(scenario: Scenario) -> tuple[int, int]:
    """(H, J): the quarters from contract start that hold every care cohort's days to each
    person's age limit (the last start plus the longest time from the youngest age to the
    limit), and the quarters one start cohort's paths span, counted from its own quarter.

    A path of start cohort ``c`` starts in ``[3c, 3c + 3)`` months and ends within the longest
    time ``L`` after it, so in quarter ``c + ⌈L/3⌉ + 1`` at the latest: ``J = ⌈L/3⌉ + 3`` keeps
    a quarter to spare for rounding (and is never more than ``H``).
    """
    longest = 0.0
    for cohort in resolve_cohorts(scenario):
        if cohort.process == "care":
            population = cohort.sections["population"]
            youngest = max(population.age_at_start.support()[0], 0.0)
            longest = max(longest, 12.0 * (population.age_limit_years - youngest))
    calendar = int(np.ceil((scenario.referrals.service_end_month + longest) / MONTHS_PER_QUARTER)) + 1
    return calendar, min(int(np.ceil(longest / MONTHS_PER_QUARTER)) + 3, calendar)


def sum_from_cohort_quarters(by_cohort: np.ndarray, n_quarters: int, served: np.ndarray | None = None) -> np.ndarray:
    """``Σ_c served[d, c] · by_cohort[d, c, q − c]`` by calendar quarter ``q``, (n_draws, n_quarters).

    ``by_cohort`` (n_draws, n_cohorts, J) is by quarter counted from each start cohort's own
    (``state_days_avoided_to_horizon_by_cohort``); ``served`` (n_draws, n_cohorts) bool, None:
    all.  Added in cohort order, as the compiled kernel adds them.
    """
    n, n_cohorts, width = by_cohort.shape
    out = np.zeros((n, n_quarters))
    for c in range(min(n_cohorts, n_quarters)):
        span = min(width, n_quarters - c)
        part = by_cohort[:, c, :span]
        out[:, c:c + span] += part if served is None else part * served[:, c, None]
    return out


def cut_to_served(outcomes: CohortQuarterly, cohort_active: np.ndarray, measured: np.ndarray) -> CohortQuarterly:
    """The outcomes of served start cohorts in measured quarters only (everything else zeroed).

    cohort_active : (n_draws, n_cohorts) bool; measured : (n_quarters,) bool, or
    (n_draws, n_quarters) for each draw's own measured quarters.  Horizon sums are cut to
    served cohorts only (they run past the measurement end by design); the comparison group is
    the contract's, whoever is served; per-person records of unserved people are blanked (never
    reached; start cohort -1).  Totals summed on the way (``days_by_cohort``,
    ``days_by_quarter``) are dropped; the horizon's sums over cohorts are summed again over the
    served ones.
    """
    n_quarters = outcomes.child_days.shape[2]
    by_quarter = measured[None, None, :] if measured.ndim == 1 else measured[:, None, :n_quarters]
    keep = cohort_active[:, :, None] & by_quarter

    def cut(name: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dict):
            return {k: cut(name, v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(cut(name, v) for v in value)
        if name in HORIZON_SUMS.values():
            return np.where(cohort_active[:, :, None], value, 0.0)
        if name in HORIZON_SUMS:
            return _served_to_horizon(value, getattr(outcomes, HORIZON_SUMS[name]), cohort_active)
        if name in ("starts", "completed"):
            return np.where(cohort_active, value, 0.0)
        if name in ("comparison_events", "comparison_days"):
            return value
        if name in _PER_PERSON:
            served = _person_served(outcomes.person_cohort, cohort_active)
            if name == "person_cohort":
                return np.where(served, value, -1)
            return np.where(served & _measured_at(value, by_quarter[:, 0, :]), value, np.inf)
        return np.where(keep, value, 0.0)

    values = {f.name: cut(f.name, getattr(outcomes, f.name))
              for f in fields(CohortQuarterly) if f.name not in ("groups", "days_by_cohort", "days_by_quarter")}
    groups = {n: cut_to_served(g, cohort_active, measured) for n, g in outcomes.groups.items()}
    return CohortQuarterly(**values, groups=groups)


def _measured_at(months: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """(n, P) bool: the calendar ``months`` (inf: never) fall in a quarter each draw measures;
    ``measured`` is (n or 1, Q)."""
    quarter = np.where(np.isfinite(months), months, 0.0) // MONTHS_PER_QUARTER
    quarter = np.clip(quarter, 0, measured.shape[1] - 1).astype(np.int64)
    rows = np.arange(months.shape[0])[:, None] if measured.shape[0] > 1 else np.zeros((1, 1), dtype=np.int64)
    return np.isfinite(months) & measured[rows, quarter]


def _person_served(person_cohort: np.ndarray, cohort_active: np.ndarray) -> np.ndarray:
    """(n_draws, max_people) bool: the person's start cohort is served (padding: False)."""
    rows = np.arange(person_cohort.shape[0])[:, None]
    return (person_cohort >= 0) & cohort_active[rows, np.maximum(person_cohort, 0)]


def stack_draws(parts: list[CohortQuarterly]) -> CohortQuarterly:
    """Outcomes of several sets of draws as one set (draws concatenated along axis 0).

    Per-person records are padded to the widest part (never reached; start cohort -1).
    """
    def stack(name: str, items: list[Any]) -> Any:
        first = items[0]
        if first is None:
            return None
        if isinstance(first, dict):
            return {k: stack(name, [item[k] for item in items]) for k in first}
        if isinstance(first, tuple):
            return tuple(stack(name, list(column)) for column in zip(*items))
        if name in _PER_PERSON:
            width = max(item.shape[1] for item in items)
            fill = -1 if name == "person_cohort" else np.inf
            items = [np.pad(item, ((0, 0), (0, width - item.shape[1])), constant_values=fill) for item in items]
        return np.concatenate(items)

    values = {f.name: stack(f.name, [getattr(p, f.name) for p in parts])
              for f in fields(CohortQuarterly) if f.name != "groups"}
    groups = {n: stack_draws([p.groups[n] for p in parts]) for n in parts[0].groups}
    return CohortQuarterly(**values, groups=groups)
