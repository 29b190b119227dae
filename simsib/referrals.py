"""Referrals and ramp-up: how many young people start MST in each month of each draw.

Model (months from contract start; EVIDENCE E12, E13, E30, E32, E33):

* Team ``j`` starts at ``service_start + delay + j * stagger``; a team is active for the share
  of each month after its start.
* Demand ramps linearly from ``ramp_initial_fraction`` of steady state, at the first team's
  start, to full steady state ``ramp_months`` later.
* Monthly referrals are negative binomial (a gamma-Poisson mixture) with mean
  ``referrals_per_month × ramp × active team share`` and size ``referral_dispersion``;
  each referral converts to a start with probability ``referral_conversion``.
* Starts are bounded by therapist capacity, ``active teams × therapists × caseload ÷ months per
  case``, rounded to whole families, and by the optional ``target_young_people`` in total.
* No one starts at or after ``service_end_month``.  The cash waterfall can stop starts earlier
  per draw; that is applied later as a mask on quarterly cohorts (see ``simsib.run``), so the
  random numbers drawn here never depend on it.
"""

from __future__ import annotations

import numpy as np

from simsib.sampling import DrawInputs
from simsib.scenario import Scenario


def team_start_months(scenario: Scenario, inputs: DrawInputs) -> np.ndarray:
    """Start month of each team, shape (n_draws, n_teams)."""
    r = scenario.referrals
    first = r.service_start_month + inputs["referrals.team_start_delay_months"]
    offsets = np.arange(r.teams) * inputs["referrals.team_stagger_months"][:, None]
    return first[:, None] + offsets


def active_team_share(team_starts: np.ndarray, month_edges: np.ndarray) -> np.ndarray:
    """Mean share of teams active in each interval between ``month_edges``.

    Returns shape (n_draws, len(month_edges) - 1); partial intervals count pro rata.
    """
    lo, hi = month_edges[:-1], month_edges[1:]
    overlap = np.clip(hi[None, None, :] - np.maximum(team_starts[:, :, None], lo[None, None, :]), 0, None)
    return (np.minimum(overlap, (hi - lo)[None, None, :]) / (hi - lo)).mean(axis=1)


def expected_referrals(scenario: Scenario, inputs: DrawInputs) -> np.ndarray:
    """Mean referrals in each service month, shape (n_draws, service_end_month)."""
    r = scenario.referrals
    months = np.arange(r.service_end_month + 1, dtype=float)
    starts = team_start_months(scenario, inputs)
    active = active_team_share(starts, months)
    first = starts.min(axis=1)[:, None]
    initial = inputs["referrals.ramp_initial_fraction"][:, None]
    ramp_months = inputs["referrals.ramp_months"][:, None]
    # Progress through the ramp at mid-month; a zero-length ramp is full from the start.
    progress = np.clip((months[None, :-1] + 0.5 - first) / np.maximum(ramp_months, 1e-9), 0.0, 1.0)
    progress = np.where(ramp_months > 0, progress, 1.0)
    ramp = initial + (1.0 - initial) * progress
    mean = inputs["referrals.referrals_per_month"][:, None] * ramp * active
    mean[:, : r.service_start_month] = 0.0
    return mean


def monthly_capacity(scenario: Scenario, inputs: DrawInputs) -> np.ndarray:
    """Whole families the active therapists can take on each month, (n_draws, service_end_month)."""
    r = scenario.referrals
    months = np.arange(r.service_end_month + 1, dtype=float)
    active = active_team_share(team_start_months(scenario, inputs), months) * r.teams
    per_team = (
        inputs["referrals.therapists_per_team"]
        * inputs["referrals.caseload_per_therapist"]
        / inputs["referrals.months_per_case"]
    )
    return np.floor(active * per_team[:, None] + 0.5)


def monthly_starts(
    scenario: Scenario, inputs: DrawInputs, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Referrals and starts per month.

    Returns
    -------
    referrals, starts : ndarray of int64, shape (n_draws, service_end_month)
    """
    mean = expected_referrals(scenario, inputs)
    k = inputs["referrals.referral_dispersion"][:, None]
    # Gamma-Poisson mixture = negative binomial with mean `mean` and size `k`.
    intensity = rng.gamma(np.broadcast_to(k, mean.shape), mean / k)
    referrals = rng.poisson(intensity)
    converted = rng.binomial(referrals, inputs["referrals.referral_conversion"][:, None])
    starts = np.minimum(converted, monthly_capacity(scenario, inputs).astype(np.int64))
    target = scenario.referrals.target_young_people
    if target is not None:
        starts = np.diff(np.minimum(np.cumsum(starts, axis=1), target), axis=1, prepend=0)
    return referrals, starts
