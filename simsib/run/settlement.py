"""Settling a chunk's money: payments, costs and the cash waterfall, as the SPV's stops and the
contract's review dates decide.

**Stops for lack of cash.**  The SPV can run out of money, which stops new starts, which changes
later payments and costs.  Because a stop at quarter ``s`` only removes start cohorts ``≥ s`` --
whose outcomes, payments and per-person costs all fall in quarters ``≥ s`` -- the settlement is
a monotone fixed point: run the money, find each draw's first quarter it could not pay its
costs, remove the cohorts from there, and repeat until no draw's stop moves (usually one or two
rounds).  Draws are independent, so each round after the first re-runs only the draws whose
stop moved.

**Reviews** (``[[contract.reviews]]``, :mod:`simsib.contract.timeline`) are taken in date order.
A review at quarter ``R`` reads its measure over the quarters before ``R`` of the settlement as
it stands.  Everything before ``R`` is final by then: payments, costs and the SPV's cash in a
quarter depend only on earlier quarters and on starts before it (the SPV plans its interim
distributions on the scheduled end until a review changes it), so neither a later review nor a
later stop can change what a review saw.  Where the rule fires, the draw's dates change from
``R`` on and that draw is settled again from scratch (the same fixed point, on its new dates).
So the number of rounds is bounded (at most ``n_quarters + 1`` per review), and a terminated
draw's outcome payments never exceed what it would have been paid without the review
(tests/test_termination.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from simsib.contract.capital import grid_measures
from simsib.contract.costs import CostSchedule, cost_schedule
from simsib.contract.measures import observe
from simsib.contract.metrics import OutcomeTotals
from simsib.contract.payments import CAP_TOLERANCE, Payments, measured_quarters, outcome_payments, served_outcomes
from simsib.contract.timeline import Timeline, cut_outcomes, decide, scheduled_timeline
from simsib.contract.waterfall import Waterfall, run_waterfall
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly
from simsib.model.referrals import service_close_month
from simsib.scenario.format import Scenario


@dataclass(frozen=True)
class Settlement:
    """The money side of a chunk once the SPV's stops and the reviews have settled."""

    simulated: CohortQuarterly  # every cohort, as simulated (on the scenario's envelope)
    measured: np.ndarray  # (n_quarters,) bool, see measured_quarters
    payments: Payments
    waterfall: Waterfall
    stop_quarter: np.ndarray  # (n,) first quarter with no new starts for lack of cash (n_quarters if none)
    unfunded_costs: np.ndarray  # (n,) £ costs the SPV could not pay
    timeline: Timeline | None = None  # each draw's own dates; None: the scenario's, for every draw

    @property
    def service_stop(self) -> np.ndarray:
        """(n,) first cohort not served: the SPV's stop, or the draw's own service end if earlier."""
        if self.timeline is None:
            return self.stop_quarter
        return np.minimum(self.stop_quarter, self.timeline.service_end_cohort)

    @property
    def cohort_served(self) -> np.ndarray:
        """(n, n_cohorts) bool: cohorts that start before the service stopped."""
        return np.arange(self.simulated.starts.shape[1])[None, :] < self.service_stop[:, None]

    @cached_property
    def outcomes(self) -> CohortQuarterly:
        """Outcomes of the served cohorts in measured quarters only.  Built when first asked for:
        a pass over every cube, which the metrics avoid where they can (see OutcomeTotals)."""
        if self.timeline is None:
            return served_outcomes(self.simulated, self.cohort_served, self.measured)
        return cut_outcomes(self.simulated, self.cohort_served, self.measured_by_draw)

    def totals(self) -> OutcomeTotals:
        """Served outcomes summed per draw, cutting cubes only for draws whose measurement ends
        before the envelope's (a termination, or a draw not extended)."""
        totals = OutcomeTotals.of(self.simulated, self.cohort_served)
        if self.timeline is None:
            return totals
        rows = np.flatnonzero(self.timeline.measure_end_quarter < self.measured.sum())
        if rows.size == 0:
            return totals
        cut = cut_outcomes(_at_rows(self.simulated, rows), self.cohort_served[rows], self.measured_by_draw[rows])
        return _spliced(totals, rows, OutcomeTotals.of(cut))

    def served_outcomes(self) -> CohortQuarterly:
        """The outcomes to total over served cohorts: as simulated, when every draw keeps the
        scenario's dates (quarters after the measurement end hold nothing), else cut per draw."""
        return self.simulated if self.timeline is None else self.outcomes

    @property
    def measured_by_draw(self) -> np.ndarray:
        """(n, n_quarters) bool: quarters measured in each draw."""
        ends = self.timeline.measure_end_quarter if self.timeline is not None else np.full(len(self.stop_quarter), 10**9)
        return self.measured[None, :] & (np.arange(self.measured.size)[None, :] < ends[:, None])


def _at_rows(value: Any, rows: np.ndarray) -> Any:
    """``value`` -- an array with draws first, or a dict, tuple or dataclass of them -- at ``rows``."""
    if isinstance(value, np.ndarray):
        return value[rows]
    if isinstance(value, dict):
        return {key: _at_rows(item, rows) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_at_rows(item, rows) for item in value)
    if is_dataclass(value):
        return replace(value, **{f.name: _at_rows(getattr(value, f.name), rows) for f in fields(value)})
    return value  # None, or anything not per draw


def _spliced(whole: Any, rows: np.ndarray, part: Any) -> Any:
    """A copy of ``whole`` (as for :func:`_at_rows`) with ``part`` in place of its ``rows``."""
    if isinstance(whole, np.ndarray):
        out = whole.copy()
        out[rows] = part
        return out
    if isinstance(whole, dict):
        return {key: _spliced(item, rows, part[key]) for key, item in whole.items()}
    if isinstance(whole, tuple):
        return tuple(_spliced(item, rows, p) for item, p in zip(whole, part))
    if is_dataclass(whole):
        return replace(whole, **{f.name: _spliced(getattr(whole, f.name), rows, getattr(part, f.name))
                                 for f in fields(whole)})
    return whole


def _forfeit(payments: Payments, timeline: Timeline, cap: np.ndarray | None) -> Payments:
    """Payments with nothing paid from each draw's ``forfeit_from`` quarter (termination terms)."""
    n_quarters = payments.paid.shape[1]
    keep = np.arange(n_quarters)[None, :] < timeline.forfeit_from[:, None]
    if keep.all():
        return payments
    paid = np.where(keep, payments.paid, 0.0)
    cap_reached, cap_quarter = payments.cap_reached, payments.cap_quarter
    if cap is not None:
        reached = np.cumsum(paid, axis=1) >= cap[:, None] - CAP_TOLERANCE
        cap_reached = reached[:, -1]
        cap_quarter = np.where(cap_reached, np.argmax(reached, axis=1).astype(float), np.nan)
    return replace(payments, paid=paid, cap_reached=cap_reached, cap_quarter=cap_quarter)


def _payments_and_costs(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, stop: np.ndarray, measured: np.ndarray,
    timeline: Timeline | None, close_month: np.ndarray,
) -> tuple[Payments, CostSchedule, np.ndarray]:
    """What the contract pays and the service costs when new starts stop at cohort ``stop`` (n,):
    (payments, costs owed, (n, n_cohorts) bool cohorts served).  ``scenario`` is the envelope."""
    cohorts = np.arange(outcomes.child_days.shape[1])
    if timeline is None:
        served = cohorts[None, :] < stop[:, None]
        payments = outcome_payments(scenario, inputs, outcomes, served)
    else:
        served = cohorts[None, :] < np.minimum(stop, timeline.service_end_cohort)[:, None]
        n_quarters = outcomes.child_days.shape[2]
        by_draw = measured[None, :] & (np.arange(n_quarters)[None, :] < timeline.measure_end_quarter[:, None])
        payments = outcome_payments(scenario, inputs, cut_outcomes(outcomes, served, by_draw), measured_by_draw=by_draw)
        payments = _forfeit(payments, timeline, inputs.get("contract.cap") if scenario.contract.cap is not None else None)
    costs = cost_schedule(scenario, inputs, np.where(served, outcomes.starts, 0.0), stop, timeline,
                          close_month=close_month)
    return payments, costs, served


def _settle_from(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, stop: np.ndarray, measured: np.ndarray,
    timeline: Timeline | None, close_month: np.ndarray,
) -> tuple[Payments, Waterfall, np.ndarray]:
    """Settled (payments, waterfall, stops) of draws whose stops are ``stop`` or earlier.

    ``scenario`` is the envelope the outcomes were simulated on.  One round for every draw
    given, then the same again for the draws whose stop moved only: a draw's money depends on its
    own inputs, outcomes, dates and stop alone.  Stops only move earlier, so this ends within
    ``n_quarters + 1`` rounds.
    """
    payments, costs, served = _payments_and_costs(scenario, inputs, outcomes, stop, measured, timeline, close_month)
    measures = None
    if grid_measures(scenario):
        ends = timeline.measure_end_quarter if timeline is not None else np.full(len(stop), payments.paid.shape[1])
        measures = {name: observe(name, outcomes, served, ends, payments.paid, inputs) for name in grid_measures(scenario)}
    waterfall = run_waterfall(scenario, inputs, payments.paid, costs.total, deferrable=costs.service,
                              timeline=timeline, measures=measures)
    moved = np.flatnonzero(waterfall.first_short_quarter < stop)
    if moved.size == 0:
        return payments, waterfall, stop
    settled = _settle_from(scenario, _at_rows(inputs, moved), _at_rows(outcomes, moved),
                           waterfall.first_short_quarter[moved], measured, _at_rows(timeline, moved),
                           close_month[moved])
    return tuple(_spliced(whole, moved, part) for whole, part in zip((payments, waterfall, stop), settled))


def payments_without_effect(scenario: Scenario, inputs: DrawInputs, settlement: Settlement) -> Payments:
    """What the contract would have paid the settled draws had the service had no effect: their
    outcomes with every treated measure replaced by its counterfactual, on the same served cohorts,
    dates and termination terms (the waterfall is not re-run: these are payments only)."""
    envelope = scenario.envelope()
    timeline = settlement.timeline
    if timeline is None:
        return outcome_payments(envelope, inputs, settlement.simulated.without_effect(), settlement.cohort_served)
    by_draw = settlement.measured_by_draw
    cut = cut_outcomes(settlement.simulated.without_effect(), settlement.cohort_served, by_draw)
    payments = outcome_payments(envelope, inputs, cut, measured_by_draw=by_draw)
    return _forfeit(payments, timeline, inputs.get("contract.cap") if scenario.contract.cap is not None else None)


def settle(scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, monthly: np.ndarray, *,
           reviews: bool = True) -> Settlement:
    """Payments and the cash waterfall, stopping new starts where the SPV runs out of capital and
    applying the contract's reviews (or, with ``reviews=False``, every draw on its scheduled
    dates).  ``outcomes`` are simulated on ``scenario.envelope()``; ``monthly`` (n_draws,
    n_months) are the starts :func:`simsib.run.pipeline.simulate_outcomes` returns with them,
    which say when the service closed (:func:`simsib.model.referrals.service_close_month`) and
    so until when the teams are paid."""
    envelope = scenario.envelope()
    close_month = service_close_month(envelope, monthly)
    n, _, n_quarters = outcomes.child_days.shape
    measured = measured_quarters(envelope, n_quarters)
    timeline = scheduled_timeline(scenario, n) if envelope is not scenario else None
    start = np.full(n, n_quarters, dtype=np.int64)
    payments, waterfall, stop = _settle_from(envelope, inputs, outcomes, start, measured, timeline, close_month)
    order = sorted(range(len(scenario.contract.reviews)), key=lambda i: scenario.contract.reviews[i].month)
    for index in order if reviews else ():
        review = scenario.contract.reviews[index]
        current = timeline if timeline is not None else scheduled_timeline(scenario, n)
        served = np.arange(outcomes.starts.shape[1])[None, :] < np.minimum(stop, current.service_end_cohort)[:, None]
        value = observe(review.measure, outcomes, served, np.full(n, review.month // 3), payments.paid, inputs)
        with np.errstate(invalid="ignore"):
            fires = value < review.threshold if review.when == "below" else value > review.threshold
        timeline_after, changed = decide(scenario, current, index, fires)
        rows = np.flatnonzero(changed)
        if rows.size == 0:
            continue
        timeline = timeline_after
        part = _settle_from(envelope, _at_rows(inputs, rows), _at_rows(outcomes, rows), start[rows], measured,
                            _at_rows(timeline, rows), close_month[rows])
        payments, waterfall, stop = (_spliced(whole, rows, new) for whole, new in zip((payments, waterfall, stop), part))
    unfunded = (waterfall.costs_owed - waterfall.costs_paid).sum(axis=1)
    return Settlement(outcomes, measured, payments, waterfall, stop, unfunded, timeline)


@dataclass(frozen=True)
class Delivery:
    """The settled draws' service with nothing stopping it for lack of cash: every cohort served up
    to each draw's own service end, on the same dates (reviews and terminations included).

    payments : what the contract's outcome terms pay for that service
    costs : its costs owed per quarter (``costs.service``: teams and young people; ``fees``: the
        SPV's, which only a SIB incurs)
    cohort_served : (n_draws, n_cohorts) bool
    """

    payments: Payments
    costs: CostSchedule
    cohort_served: np.ndarray


def delivery_without_spv(scenario: Scenario, inputs: DrawInputs, settlement: Settlement, monthly: np.ndarray) -> Delivery:
    """The service of ``settlement``'s draws as the council would commission it without investors
    (directly, or paying the provider by results): where the SIB's SPV ran out of cash and stopped
    taking young people, this service goes on.  Where it did not, payments and service costs are
    exactly the settlement's."""
    envelope = scenario.envelope()
    n, _, n_quarters = settlement.simulated.child_days.shape
    never = np.full(n, n_quarters, dtype=np.int64)
    payments, costs, served = _payments_and_costs(envelope, inputs, settlement.simulated, never, settlement.measured,
                                                   settlement.timeline, service_close_month(envelope, monthly))
    return Delivery(payments, costs, served)


def settled_costs(scenario: Scenario, inputs: DrawInputs, settlement: Settlement, monthly: np.ndarray) -> CostSchedule:
    """The costs owed in ``settlement``'s draws, by kind (teams, young people, the SPV's fees), as
    its waterfall was given them (before any provider risk share defers part of them)."""
    envelope = scenario.envelope()
    starts = np.where(settlement.cohort_served, settlement.simulated.starts, 0.0)
    return cost_schedule(envelope, inputs, starts, settlement.stop_quarter, settlement.timeline,
                         close_month=service_close_month(envelope, monthly))
