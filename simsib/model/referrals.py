"""Referrals and ramp-up: how many young people start MST in each month of each draw.

Months ``m = 0 … service_end_month − 1`` from contract start.  Every parameter below is a
per-draw input (``DrawInputs``, shape ``(n_draws,)``), named by its scenario key
``referrals.<name>``; its evidence is in brackets (shared/EVIDENCE.md).

* **Teams** [E11, E13: two teams; E12: both started late; E33: delay ~ Uniform(0, 6)].
  Team ``j = 0 … teams − 1`` starts at
  ``s_j = service_start_month + team_start_delay_months + j · team_stagger_months``.
  The active share of month ``m`` is ``a_m = mean_j |[m, m+1) ∩ [s_j, ∞)|`` (pro rata in a
  team's first month).
* **Ramp-up** [E33: initial fraction Beta(2, 4), months to full Triangular(6, 12, 24);
  E12, E18: year 1 opened 50 cases against 170 planned].  With ``s = min_j s_j``,
  ``f0 = ramp_initial_fraction`` and ``R = ramp_months``, read at mid-month:
  ``ramp_m = f0 + (1 − f0) · clip((m + ½ − s) / R, 0, 1)`` (``ramp_m = 1`` when ``R = 0``).
  The ramp acts on demand; capacity follows only the teams' start dates.
* **Referrals** [E33: steady state ≈ 5.8 starts a month, i.e. ≈ 9 referrals at E32's
  conversion; judgement: over-dispersed].  Mean ``μ_m = referrals_per_month · ramp_m · a_m``
  (0 before ``service_start_month``); counts are negative binomial with size
  ``k = referral_dispersion``, drawn as a gamma-Poisson mixture
  ``Λ_m ~ Gamma(k, μ_m / k)``, ``N_m | Λ_m ~ Poisson(Λ_m)``: ``E N_m = μ_m``,
  ``Var N_m = μ_m + μ_m² / k``.
* **Conversion** [E32: Beta(13, 7)].  Each referral converts with probability
  ``p = referral_conversion``: ``C_m ~ Binomial(N_m, p)``.  Binomial thinning keeps the negative
  binomial, ``C_m ~ NB(mean p·μ_m, size k)``, so converted referrals are drawn directly as
  ``Gamma(k, p·μ_m / k)``-Poisson: the same distribution as drawing ``N_m`` and thinning it,
  without a binomial variate per month (a third of the referral stage's time).  The
  unconverted referrals ``N_m`` themselves are never needed.
* **Capacity** [E30: caseload 4–6 families, 3–5 months per family; E13].  New families the
  active therapists can take on, rounded half up to whole families:
  ``cap_m = round(teams · a_m · therapists_per_team · caseload_per_therapist / months_per_case)``.
* **Waiting list** (:mod:`simsib.model.waiting_list`).  Converted referrals above capacity
  wait for a place for up to ``max_wait_months``, some dropping out each month
  (``waiting_dropout_per_month``); starts take the queue first.
* **Target** [E11: 380 families planned].  Once the starts reach ``target_young_people`` the
  service takes no new referrals.  Under ``target_rule = "plan"`` the families already waiting
  still start; under ``"ceiling"`` the month that reaches it is cut to the remainder and those
  waiting are turned away.  The service *closes* after the month of the last start
  (:func:`service_close_month`), or at ``service_end_month`` if the target is never reached;
  teams run until the families that started last finish (:mod:`simsib.contract.costs`).
* **Service window** [E4: five operational years].  No one starts at or after
  ``service_end_month``.  The cash waterfall can stop starts earlier per draw; that is applied
  later as a mask on quarterly start cohorts (``simsib.run.pipeline.settle``), so the random
  numbers drawn here never depend on it.

Random numbers come from the chunk's ``referrals`` stream (converted referrals), one array per
variate for all draws of the chunk, and its ``waiting`` stream (drop-outs; see
:mod:`simsib.model.waiting_list`).  Gamma and Poisson variates use a parameter-dependent number
of uniforms, so a variant scenario that changes any draw's demand changes the referral counts of
every draw in the chunk: common random numbers across variants hold for the per-draw inputs,
for the converted referrals under variants of anything but demand (capacity, the waiting list,
the target), for the drop-out uniforms always, and for everything downstream when the starts
are equal (e.g. variants of the effect or the contract).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simsib.model.inputs import DrawInputs
from simsib.model.waiting_list import Intake, waiting_list
from simsib.scenario.format import Scenario


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
    team_starts = np.ascontiguousarray(team_starts, dtype=np.float64)
    month_edges = np.ascontiguousarray(month_edges, dtype=np.float64)
    if team_starts.shape[1] == 0:  # no teams: numpy's mean of nothing (NaN)
        return np.full((team_starts.shape[0], month_edges.size - 1), np.nan)
    return _active_team_share(team_starts, month_edges)


@njit(cache=True, error_model="numpy")
def _active_team_share(team_starts, month_edges):  # pragma: no cover  (compiled)
    """:func:`active_team_share` in one pass, the numpy expression's operations in its order:
    ``(min(clip(hi - maximum(start, lo), 0, None), hi - lo) / (hi - lo)).mean(axis=1)``, the
    mean a sum over teams in team order divided by their number (6 temporaries fewer; 0.3 ms
    a chunk)."""
    n, n_teams = team_starts.shape
    n_months = month_edges.size - 1
    out = np.empty((n, n_months))
    for d in range(n):
        for m in range(n_months):
            lo, hi = month_edges[m], month_edges[m + 1]
            width = hi - lo
            total = 0.0
            for t in range(n_teams):
                start = team_starts[d, t]
                overlap = hi - (start if (start > lo or start != start) else lo)  # np.maximum: NaN wins
                if overlap < 0.0:
                    overlap = 0.0
                if overlap > width:
                    overlap = width
                share = overlap if width == 1.0 else overlap / width  # x / 1 is x exactly: no division
                total = share if t == 0 else total + share
            out[d, m] = total / n_teams
    return out


def expected_referrals(scenario: Scenario, inputs: DrawInputs, active: np.ndarray | None = None) -> np.ndarray:
    """Mean referrals in each service month, shape (n_draws, service_end_month).

    ``active`` is :func:`monthly_active_share`, when the caller has it already.
    """
    r = scenario.referrals
    if active is None:
        active = monthly_active_share(scenario, inputs)

    def per_draw(key: str) -> np.ndarray:
        return np.ascontiguousarray(inputs[key], dtype=np.float64)

    return _expected_referrals(team_start_months(scenario, inputs).min(axis=1), per_draw("referrals.ramp_initial_fraction"),
                               per_draw("referrals.ramp_months"), per_draw("referrals.referrals_per_month"),
                               np.ascontiguousarray(active, dtype=np.float64), r.service_start_month)


@njit(cache=True)
def _expected_referrals(first, initial, ramp_months, per_month, active, service_start):  # pragma: no cover
    """:func:`expected_referrals` in one compiled pass, (n_draws, n_months): per draw and month
    ``per_month * (initial + (1 - initial) * progress) * active``, the ramp's ``progress`` at
    mid-month ``clip((m + 0.5 - first) / max(ramp_months, 1e-9), 0, 1)`` (1 for a zero-length
    ramp: full from the start), 0 before ``service_start``; the numpy expression it replaced, in
    its order of operations (the same numbers to the bit, 0.15 ms a chunk less)."""
    n, n_months = active.shape
    out = np.empty((n, n_months))
    for d in range(n):
        length = ramp_months[d]
        span = length if (length > 1e-9 or length != length) else 1e-9  # np.maximum: NaN wins
        for m in range(n_months):
            if m < service_start:
                out[d, m] = 0.0
                continue
            progress = 1.0
            if length > 0:
                progress = ((m + 0.5) - first[d]) / span
                if progress < 0.0:
                    progress = 0.0
                if progress > 1.0:
                    progress = 1.0
            ramp = initial[d] + (1.0 - initial[d]) * progress
            out[d, m] = per_month[d] * ramp * active[d, m]
    return out


def monthly_active_share(scenario: Scenario, inputs: DrawInputs) -> np.ndarray:
    """Mean share of the teams active in each service month, (n_draws, service_end_month)."""
    months = np.arange(scenario.referrals.service_end_month + 1, dtype=float)
    return active_team_share(team_start_months(scenario, inputs), months)


def monthly_capacity(scenario: Scenario, inputs: DrawInputs, active: np.ndarray | None = None) -> np.ndarray:
    """Whole families the active therapists can take on each month, (n_draws, service_end_month).

    ``active`` is :func:`monthly_active_share`, when the caller has it already.
    """
    if active is None:
        active = monthly_active_share(scenario, inputs)
    per_team = (
        inputs["referrals.therapists_per_team"]
        * inputs["referrals.caseload_per_therapist"]
        / inputs["referrals.months_per_case"]
    )
    return np.floor(active * scenario.referrals.teams * per_team[:, None] + 0.5)


def intake(scenario: Scenario, inputs: DrawInputs, rng: np.random.Generator,
           waiting_rng: np.random.Generator | None = None) -> Intake:
    """Converted referrals, the waiting list and the starts of every draw of a chunk.

    ``rng`` is the chunk's ``referrals`` stream, ``waiting_rng`` its ``waiting`` stream (needed
    only when ``max_wait_months > 0``).  See :class:`simsib.model.waiting_list.Intake`.
    """
    r = scenario.referrals
    active = monthly_active_share(scenario, inputs)
    k = inputs["referrals.referral_dispersion"][:, None]
    converted_mean = expected_referrals(scenario, inputs, active) * inputs["referrals.referral_conversion"][:, None]
    # Gamma-Poisson mixture = negative binomial with mean `converted_mean` and size `k`.  numpy's
    # gamma(k, scale) is scale * standard_gamma(k), the same variates and product: drawn as
    # that it takes 10% less time (a contiguous shape array, no scale to broadcast).
    intensity = rng.standard_gamma(np.ascontiguousarray(np.broadcast_to(k, converted_mean.shape)))
    intensity *= converted_mean / k
    converted = rng.poisson(intensity)
    places = monthly_capacity(scenario, inputs, active).astype(np.int64)
    n, n_months = converted.shape
    wait = r.max_wait_months
    if wait > 0:
        if waiting_rng is None:
            raise ValueError("a waiting list (max_wait_months > 0) needs the chunk's 'waiting' stream")
        uniforms = waiting_rng.random((n, n_months, wait))
    else:
        uniforms = np.empty((n, n_months, 1))
    return waiting_list(converted, places, wait, inputs["referrals.waiting_dropout_per_month"], uniforms,
                            target=r.target_young_people, ceiling=r.target_rule == "ceiling")


def monthly_starts(
    scenario: Scenario, inputs: DrawInputs, rng: np.random.Generator, waiting_rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Converted referrals and starts per month, from :func:`intake`.

    Returns
    -------
    converted, starts : ndarray of int64, shape (n_draws, service_end_month)
        Referrals that convert (demand for a place), and those that start.
    """
    taken = intake(scenario, inputs, rng, waiting_rng)
    return taken.converted, taken.starts


def service_close_month(scenario: Scenario, starts: np.ndarray) -> np.ndarray:
    """Month at whose start the service takes on no one more, per draw, float (n_draws,).

    After the month of the last start when the starts reached ``target_young_people`` (the
    queue, if any, has then been worked through: places are free every month once the teams run);
    ``service_end_month`` otherwise.  ``starts`` is (n_draws, n_months).
    """
    r = scenario.referrals
    end = np.full(starts.shape[0], float(r.service_end_month))
    if r.target_young_people is None:
        return end
    reached = starts.sum(axis=1) >= r.target_young_people
    last = starts.shape[1] - np.argmax(starts[:, ::-1] > 0, axis=1)  # one past the last start
    return np.where(reached, np.minimum(last, end), end)
