"""What Essex's data cannot tell apart: (population risk, effect) pairs that all give 10.8%.

Essex's realised care proportion (E6: 10.8%) is a single number that a low-risk referred
population with a weak effect reproduces as well as a high-risk one with a strong effect (E47).
The council's true benefit differs enormously between them -- most of what it paid for is
deadweight in the first case, a saving in the second -- so any council figure of
``essex-realised`` is a range over such pairs, not a number.

For each population risk ``p30`` on a grid, :func:`identification_table` finds the log hazard
ratio ``θ`` at which ``essex-realised`` (its observed delivery and measurement, with ``p30``
and ``θ`` fixed in every draw) has a mean treated care proportion of 10.8%, by bisection on
common random numbers (the mean is nondecreasing in ``θ``: a smaller hazard ratio never adds
care days), then reports the council's net benefit (cash, present value, and present value counting the
care avoided to each 18th birthday) and the deadweight share, and the investors' money multiple, each with its Monte Carlo standard error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simsib.analysis.estimates import estimate, resolve_metric
from simsib.run.api import simulate
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

SCENARIO = "essex-realised"
PUBLISHED_CARE_PROPORTION = 0.108  # E6
# From START-like broad referrals to the historical comparison group's calibration (Beta(28, 2)).
P30_GRID = (0.15, 0.25, 0.40, 0.60, 0.93)
LOG_HR_BRACKET = (-4.0, 2.0)  # hazard ratios 0.018 to 7.4
BISECTION_STEPS = 14  # bracket width / 2^14 ≈ 0.0004 in log hazard ratio
FIGURES = ("care_proportion_treated", "care_proportion_counterfactual", "net_benefit", "net_benefit_pv",
           "net_benefit_to_18_pv", "deadweight_share", "outcome_payments", "moic_committed")


def _pair_scenario(p30: float, log_hr: float):
    raw = load_raw(bundled_scenario_path(SCENARIO))
    raw["population"]["p30_entry"] = {"value": p30, "source": "judgement: a point on the identification grid"}
    raw["effect"]["log_hazard_ratio"] = {"value": log_hr, "source": "judgement: solved to give 10.8% (E6)"}
    return validate(raw)


def _mean_care(p30: float, log_hr: float, draws: int, seed: int) -> tuple[float, pd.DataFrame]:
    result = simulate(_pair_scenario(p30, log_hr), draws=draws, seed=seed)
    return float(result.draws["care_proportion_treated"].mean()), result.draws


def solve_log_hazard_ratio(p30: float, draws: int, seed: int) -> tuple[float | None, pd.DataFrame | None]:
    """The log hazard ratio giving a mean treated care proportion of 10.8% at ``p30``, by
    bisection; (None, None) if no ratio in :data:`LOG_HR_BRACKET` reaches it."""
    low, high = LOG_HR_BRACKET
    care_low, _ = _mean_care(p30, low, draws, seed)
    care_high, _ = _mean_care(p30, high, draws, seed)
    if not care_low <= PUBLISHED_CARE_PROPORTION <= care_high:
        return None, None
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        care, _ = _mean_care(p30, middle, draws, seed)
        if care < PUBLISHED_CARE_PROPORTION:
            low = middle
        else:
            high = middle
    solved = round(0.5 * (low + high), 3)
    return solved, _mean_care(p30, solved, draws, seed)[1]


def identification_table(draws: int = 2000, seed: int = 20190331, grid: tuple[float, ...] = P30_GRID) -> pd.DataFrame:
    """One row per ``p30`` of the grid: the solved log hazard ratio and hazard ratio, and each
    figure of :data:`FIGURES` as ``<figure>`` (mean) and ``<figure>_se``.  A ``p30`` at which no
    hazard ratio reaches 10.8% has a row with ``reachable`` False and no figures."""
    rows = []
    for p30 in grid:
        log_hr, columns = solve_log_hazard_ratio(p30, draws, seed)
        row: dict = {"p30_entry": p30, "reachable": log_hr is not None,
                     "log_hazard_ratio": log_hr, "hazard_ratio": None if log_hr is None else float(np.exp(log_hr))}
        for figure in FIGURES:
            if columns is None:
                row[figure] = row[f"{figure}_se"] = None
                continue
            metric = resolve_metric(figure, [figure])  # the mean over draws
            row[figure], row[f"{figure}_se"] = estimate(metric, {figure: columns[figure].to_numpy(dtype=float)})
        rows.append(row)
    return pd.DataFrame(rows)


def council_range(table: pd.DataFrame, figure: str = "net_benefit") -> tuple[float, float]:
    """(lowest, highest) mean of a council figure over the reachable pairs."""
    values = table.loc[table["reachable"], figure].astype(float)
    return float(values.min()), float(values.max())
