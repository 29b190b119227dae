"""What a review date can see of a simulated contract, and how a path continues after it.

The re-forecast (:mod:`simsib.analysis.update`) reads the pipeline only through this module, so a
change to referrals, outcome processes or the money changes one place:

* :func:`simulate_history` -- a chunk's referrals and outcomes exactly as
  :func:`simsib.run.pipeline.simulate_outcomes` makes them (same streams, same numbers), plus
  the *total* referrals, which the model otherwise never draws (it draws only those that convert);
* :func:`continue_history` -- the same draws with everything before a review quarter kept and
  everything from it on simulated afresh: the move step of the re-forecast;
* :func:`observable_series` -- per-draw series by month, by quarter, or by cohort and quarter, of
  everything an observations file may name (:mod:`simsib.analysis.observations`).

**Total referrals.**  The model draws converted referrals ``C_m`` as a gamma-Poisson mixture with
intensity ``Λ_m ~ Gamma(k, θ_m)``, ``θ_m = p·μ_m / k`` (:mod:`simsib.model.referrals`).  All
referrals are ``N_m = C_m + U_m``, where the referrals that do not convert are
``U_m | Λ_m ~ Poisson((1 − p)/p · Λ_m)``, independent of ``C_m`` given ``Λ_m`` (binomial thinning of a
Poisson count).  Given ``C_m``, ``Λ_m ~ Gamma(k + C_m, θ_m / (1 + θ_m))`` (gamma-Poisson conjugacy).
Drawing ``Λ_m`` and then ``U_m`` from the chunk's ``observations`` stream gives ``N_m`` the model's
joint distribution with ``C_m`` without touching any stream a run already uses.

**Continuing a path.**  Given the draw's inputs, referrals in different months are independent,
and so are different young people.  A path's future after review quarter ``Q`` -- referrals and
starts from month ``3Q``, and the young people of start cohorts ``≥ Q`` -- can therefore be drawn
afresh while cohorts ``< Q`` keep every day they were simulated with, past and future.  The
waiting list (families waiting at the review, the drop-outs) and the target (on starts to date)
link the two: the waiting list is run again over the spliced months, which reproduces its past
exactly and carries its state into the future.  Young people already started keep their paths:
their future days are not re-drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

import numpy as np

from simsib.contract.mechanisms import model_needs
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import HORIZON_SUMS, MONTHS_PER_QUARTER, CohortQuarterly, sum_from_cohort_quarters
from simsib.model.processes import simulate_cohorts
from simsib.model.referrals import expected_referrals, intake, monthly_capacity, service_close_month
from simsib.model.streams import stream
from simsib.model.waiting_list import waiting_list
from simsib.run.settlement import Settlement
from simsib.scenario.format import DaysSavedVsBaseline, Scenario

PAYMENT_MADE = 0.5  # £: a quarter's payment above this counts as "a payment made"

# Series by month (n, 3 · n_quarters), by quarter (n, n_quarters) and by cohort and quarter
# (n, n_cohorts, n_quarters) that observable_series returns.
MONTHLY_SERIES = ("referrals", "starts")
QUARTERLY_SERIES = ("completions", "care_days", "child_days", "care_days_saved", "events", "payments", "payments_made")
COHORT_SERIES = ("completions", "care_days", "child_days", "events")
# CohortQuarterly fields that hold one record per person (axis 1 the person, not the cohort).
PERSON_FIELDS = ("person_attained", "person_attained_counterfactual", "person_cohort")


@dataclass(frozen=True)
class History:
    """Simulated paths of some draws: all a review date can look back on, and more.

    monthly_starts : (n, service_end_month) young people starting each month, after capacity,
        the waiting list and the target, before any stop by the SPV
    referrals : (n, service_end_month) all referrals, converting or not
    converted : (n, service_end_month) referrals that convert (demand for a place)
    waiting_uniforms : (n, service_end_month, max_wait_months) the waiting list's drop-out
        uniforms (:mod:`simsib.model.waiting_list`), or None without a waiting list
    outcomes : every start cohort's outcomes as simulated (see :class:`CohortQuarterly`)
    """

    monthly_starts: np.ndarray
    referrals: np.ndarray
    converted: np.ndarray
    waiting_uniforms: np.ndarray | None
    outcomes: CohortQuarterly


def total_referrals(
    scenario: Scenario, inputs: DrawInputs, converted: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """All referrals per month given the converted ones, (n, service_end_month) float.

    See the module docstring: ``N_m = C_m + U_m`` with ``U_m`` drawn given ``C_m``.
    """
    k = inputs["referrals.referral_dispersion"][:, None]
    p = inputs["referrals.referral_conversion"][:, None]
    theta = expected_referrals(scenario, inputs) * p / k
    intensity = rng.gamma(k + converted, theta / (1.0 + theta))
    not_converted = rng.poisson(np.where(p > 0, (1.0 - p) / np.where(p > 0, p, 1.0), 0.0) * intensity)
    return (converted + not_converted).astype(float)


def _waiting_uniforms(scenario: Scenario, n: int, seed: np.random.SeedSequence) -> np.ndarray | None:
    """The drop-out uniforms :func:`simsib.model.referrals.intake` draws from ``seed``'s
    ``waiting`` stream (the same numbers: they are the stream's first)."""
    wait = scenario.referrals.max_wait_months
    if wait <= 0:
        return None
    return stream(seed, "waiting").random((n, scenario.referrals.service_end_month, wait))


def simulate_history(scenario: Scenario, inputs: DrawInputs, chunk: np.random.SeedSequence) -> History:
    """Referrals and outcomes of a chunk: :func:`simsib.run.pipeline.simulate_outcomes`'s numbers
    (on the scenario's envelope), plus all referrals (from the chunk's ``observations`` stream)."""
    envelope = scenario.envelope()
    taken = intake(envelope, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
    outcomes = simulate_cohorts(envelope, inputs, taken.starts, chunk, model_needs(envelope, horizon=True, completions=True))
    referrals = total_referrals(envelope, inputs, taken.converted, stream(chunk, "observations"))
    return History(taken.starts, referrals, taken.converted,
                   _waiting_uniforms(envelope, len(taken.starts), chunk), outcomes)


def continue_history(
    scenario: Scenario, inputs: DrawInputs, past: History, review_quarter: int, seed: np.random.SeedSequence
) -> History:
    """``past`` kept before ``review_quarter`` and simulated afresh from it, from ``seed``'s streams.

    Months ``< 3·review_quarter`` keep their converted referrals, drop-out uniforms, referrals
    and starts, and cohorts ``< review_quarter`` keep their outcomes.  Later months draw new
    referrals and drop-outs, and the waiting list is run again over the spliced months: it is
    a month-by-month loop, so its months before the review come out as they were, and the
    queue, the starts to date and the target carry into the new months.  Later cohorts draw
    new young people.
    """
    envelope = scenario.envelope()
    r = envelope.referrals
    first_new = MONTHS_PER_QUARTER * review_quarter
    fresh = intake(envelope, inputs, stream(seed, "referrals"), stream(seed, "waiting"))
    converted = past.converted.copy()
    converted[:, first_new:] = fresh.converted[:, first_new:]
    uniforms = past.waiting_uniforms
    if uniforms is not None:
        uniforms = uniforms.copy()
        uniforms[:, first_new:] = _waiting_uniforms(envelope, len(converted), seed)[:, first_new:]
    taken = waiting_list(converted, monthly_capacity(envelope, inputs).astype(np.int64), r.max_wait_months,
                         inputs["referrals.waiting_dropout_per_month"],
                         uniforms if uniforms is not None else np.empty((*converted.shape, 1)),
                         target=r.target_young_people, ceiling=r.target_rule == "ceiling")
    referrals = past.referrals.copy()
    referrals[:, first_new:] = total_referrals(envelope, inputs, fresh.converted, stream(seed, "observations"))[:, first_new:]
    outcomes = simulate_cohorts(envelope, inputs, taken.starts, seed, model_needs(envelope, horizon=True, completions=True))
    return History(taken.starts, referrals, converted, uniforms, splice_cohorts(past.outcomes, outcomes, review_quarter))


def splice_cohorts(kept: CohortQuarterly, fresh: CohortQuarterly, first_fresh: int) -> CohortQuarterly:
    """``kept`` with start cohorts ``≥ first_fresh`` taken from ``fresh``, field by field.

    Cubes and per-cohort counts (the cohort on axis 1) are spliced along it; per-person records
    are laid side by side (``kept``'s people of earlier cohorts, ``fresh``'s of later ones, the
    rest blanked); per-draw figures without a cohort (a comparison group's events) are ``kept``'s;
    named cohorts are spliced one by one.  Totals summed on the way are dropped (recomputed), and
    the horizon's sums over start cohorts summed again from the spliced cohorts' own.
    """
    values = {}
    for f in fields(CohortQuarterly):
        old, new = getattr(kept, f.name), getattr(fresh, f.name)
        if f.name == "groups":
            values[f.name] = {name: splice_cohorts(group, new[name], first_fresh) for name, group in old.items()}
        elif f.name in ("days_by_cohort", "days_by_quarter"):
            values[f.name] = {}
        elif f.name in HORIZON_SUMS:
            continue  # below, from the spliced cohorts
        elif f.name in PERSON_FIELDS:
            values[f.name] = _people_side_by_side(f.name, old, new, kept.person_cohort, fresh.person_cohort, first_fresh)
        else:
            values[f.name] = _splice(old, new, first_fresh)
    for total, by_cohort in HORIZON_SUMS.items():
        spliced, kept_total = values[by_cohort], getattr(kept, total)
        values[total] = None if spliced is None else sum_from_cohort_quarters(spliced, kept_total.shape[1])
    return CohortQuarterly(**values)


def _splice(old: Any, new: Any, first_fresh: int) -> Any:
    if old is None:
        return None
    if isinstance(old, dict):
        return {key: _splice(value, new[key], first_fresh) for key, value in old.items()}
    if isinstance(old, tuple):
        return tuple(_splice(a, b, first_fresh) for a, b in zip(old, new))
    if old.ndim < 2:  # per draw, not per cohort
        return old
    out = old.copy()
    out[:, first_fresh:] = new[:, first_fresh:]
    return out


def _people_side_by_side(name: str, old: Any, new: Any, old_cohort: np.ndarray | None, new_cohort: np.ndarray | None,
                         first_fresh: int) -> Any:
    if old_cohort is None:
        return old
    keep_old = (old_cohort >= 0) & (old_cohort < first_fresh)
    keep_new = new_cohort >= first_fresh
    if name == "person_cohort":
        return np.concatenate([np.where(keep_old, old, -1), np.where(keep_new, new, -1)], axis=1)
    return {key: np.concatenate([np.where(keep_old, value, np.inf), np.where(keep_new, new[key], np.inf)], axis=1)
            for key, value in old.items()}


def take_rows(value: Any, rows: np.ndarray) -> Any:
    """``value`` -- an array with the draw first, or a dict, tuple or dataclass of them -- at ``rows``."""
    if isinstance(value, np.ndarray):
        return value[rows]
    if isinstance(value, dict):
        return {key: take_rows(item, rows) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(take_rows(item, rows) for item in value)
    if is_dataclass(value):
        return replace(value, **{f.name: take_rows(getattr(value, f.name), rows) for f in fields(value)})
    return value


def _monthly(values: np.ndarray, n_months: int, served: np.ndarray) -> np.ndarray:
    """Monthly counts on the whole timeline (zero after the service window), served months only."""
    out = np.zeros((values.shape[0], n_months))
    width = min(values.shape[1], n_months)
    out[:, :width] = values[:, :width]
    return np.where(served, out, 0.0)


def baseline_mechanism(scenario: Scenario) -> int | None:
    """Index of the first ``days_saved_vs_baseline`` mechanism (the baseline of "days saved"), if any."""
    return next((i for i, m in enumerate(scenario.contract.mechanisms) if isinstance(m, DaysSavedVsBaseline)), None)


def observable_series(
    scenario: Scenario, inputs: DrawInputs, history: History, settlement: Settlement, *, cohorts: bool = False
) -> dict[str, np.ndarray]:
    """Everything a review could observe, per draw.

    Returns
    -------
    dict of str -> ndarray
        :data:`MONTHLY_SERIES`, shape (n, 3 · n_quarters): counts in each month of the served
        service (a service the SPV stopped takes no more referrals).  :data:`QUARTERLY_SERIES`,
        shape (n, n_quarters): completions (in the quarter therapy ends), care days and
        child-days of the served cohorts in the quarter, care days saved against the contract's
        baseline (only when a ``days_saved_vs_baseline`` mechanism gives one), events (recurrent
        -event cohorts; zero for others), outcome payments made (£, after netting, caps and lag)
        and whether a payment was made (0/1).  With
        ``cohorts``, also ``<name>_by_cohort`` of :data:`COHORT_SERIES`, shape
        (n, n_cohorts, n_quarters).
    """
    n_quarters = settlement.waterfall.payments.shape[1]  # the envelope's timeline
    n_months = MONTHS_PER_QUARTER * n_quarters
    months = np.arange(n_months)[None, :]
    served_months = months // MONTHS_PER_QUARTER < settlement.service_stop[:, None]
    # A service that has closed (its target reached) takes no more referrals.
    open_months = served_months & (months < service_close_month(scenario.envelope(), history.monthly_starts)[:, None])
    served = settlement.outcomes  # cohorts the SPV served, quarters that are measured
    care = served.care_days_treated.sum(axis=1)
    child = served.child_days.sum(axis=1)
    paid = settlement.waterfall.payments
    series = {
        "referrals": _monthly(history.referrals, n_months, open_months),
        "starts": _monthly(history.monthly_starts.astype(float), n_months, served_months),
        "completions": served.completions_due.sum(axis=1),
        "care_days": care,
        "child_days": child,
        "payments": paid,
        "payments_made": (paid > PAYMENT_MADE).astype(float),
    }
    events = served.events_treated
    series["events"] = events.sum(axis=1) if events is not None else np.zeros_like(paid)
    index = baseline_mechanism(scenario)
    if index is not None:
        baseline = inputs[f"contract.mechanisms.{index}.baseline_care_proportion"][:, None]
        series["care_days_saved"] = baseline * child - care
    if cohorts:
        series["completions_by_cohort"] = served.completions_due
        series["care_days_by_cohort"] = served.care_days_treated
        series["child_days_by_cohort"] = served.child_days
        series["events_by_cohort"] = events if events is not None else np.zeros_like(served.child_days)
    return series
