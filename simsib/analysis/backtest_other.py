"""Backtest rows for the contracts beyond Essex: Peterborough, Norfolk, Suffolk.

Each row is a published figure beside the per-draw metric of the bundled scenario that describes
the same contract, with the row's *role* (``simsib/analysis/backtest.py`` defines the roles):

* ``fitted``: a scenario parameter was set to reproduce this figure (``fitted_parameters``
  names it); being inside the interval shows the calibration, not the model;
* ``predicted``: nothing in the scenario was set from the figure (Peterborough's effect prior
  is a judgement anchored on the contract's own thresholds, not on its outcome);
* ``out_of_sample``: the contract's scenario was built from its terms and the evidence shared
  with Essex, never from its outcomes (Norfolk, Suffolk);
* ``reference_class``: a scenario's probability of loss beside the completed-bond loss rate
  (E57: 2 of about 50; survivorship makes the published rate a lower bound).

:data:`TARGETS` has the fields of :data:`simsib.analysis.backtest.TARGETS` plus ``role`` and
``fitted_parameters``, so the two lists can be merged; :func:`run_other_backtest` tabulates
them with the keys of the backtest's JSON (``figure``, ``evidence``, ``published``, ``scenario``,
``role``, ``fitted_parameters``, ``mean``, ``p05``, ``p50``, ``p95``, ``percentile``,
``inside_90``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simsib.run.api import simulate
from simsib.scenario.loader import bundled_scenario_path, load_scenario

ROLES = ("fitted", "derived", "predicted", "out_of_sample", "reference_class")
LOSS = "prob_loss"  # the metric of reference-class rows: the share of draws with MOIC on drawn < 1


@dataclass(frozen=True)
class Target:
    figure: str
    published: float
    evidence: str
    scenario: str
    metric: str  # a per-draw column, or LOSS
    kind: str  # percent, money, multiple, number, probability
    note: str = ""
    role: str = "predicted"
    fitted_parameters: tuple[str, ...] = ()


TARGETS = (
    Target("Fall in reconviction events, overall", 0.09, "E62", "peterborough", "event_reduction_overall",
           "percent", "against the matched comparison group, as the contract measured it; the effect prior is a "
           "judgement anchored on the contract's 7.5-10% thresholds"),
    Target("Fall in reconviction events, cohort 1", 0.084, "E62", "peterborough", "event_reduction_cohort_1",
           "percent", "below its 10% trigger; E62 marks this figure as unchecked"),
    Target("Investors' return: capital plus just over 3% a year", 0.03, "E62", "peterborough", "irr", "percent",
           "the price per event is calibrated to this return at the published 9% reduction", role="fitted",
           fitted_parameters=("contract.mechanisms.0.price_per_event",)),
    Target("Outcome payments (about the cap)", 8_630_000, "E50, E60", "norfolk", "outcome_payments", "money",
           "E60: actual payments about the £8.63m cap (E50: about £8.6m, interim)", role="out_of_sample"),
    Target("Young people engaged", 404, "E60", "norfolk", "young_people_started", "number",
           "target 431 as a plan (referrals close once it is reached; those waiting still start)", role="out_of_sample"),
    Target("Outcome payments (interim)", 4_180_000, "E51", "suffolk", "outcome_payments", "money",
           "an interim figure: a lower bound on what the contract paid in the end", role="out_of_sample"),
    *(Target("Probability of loss (completed bonds: 2 of about 50)", 2 / 50, "E57", name, LOSS, "probability",
             "survivorship: failed or renegotiated deals report less, so the published rate is a lower bound",
             role="reference_class")
      for name in ("peterborough", "norfolk", "suffolk", "care-leavers-rate-card")),
)


def run_other_backtest(draws: int = 4000, seed: int = 20170101) -> pd.DataFrame:
    """Simulate each scenario the rows need once, and tabulate the comparison (one row per target)."""
    results = {name: simulate(load_scenario(bundled_scenario_path(name)), draws=draws, seed=seed).draws
               for name in dict.fromkeys(t.scenario for t in TARGETS)}
    rows = []
    for t in TARGETS:
        table = results[t.scenario]
        if t.metric == LOSS:
            values = (table["moic_drawn"].to_numpy(dtype=float) < 1.0).astype(float)
        else:
            values = table[t.metric].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
        p05, p50, p95 = np.percentile(values, [5, 50, 95])
        mean = float(values.mean())
        if t.metric == LOSS:  # a probability: its binomial interval stands in for the percentiles
            se = float(np.sqrt(mean * (1 - mean) / values.size))
            p05, p50, p95 = mean - 1.645 * se, mean, mean + 1.645 * se
        rows.append({
            "figure": t.figure, "evidence": t.evidence, "published": t.published, "scenario": t.scenario,
            "role": t.role, "fitted_parameters": list(t.fitted_parameters), "metric": t.metric, "kind": t.kind,
            "mean": mean, "p05": float(p05), "p50": float(p50), "p95": float(p95),
            "percentile": float((values <= t.published).mean()) if t.metric != LOSS else None,
            "inside_90": bool(p05 <= t.published <= p95), "note": t.note,
        })
    return pd.DataFrame(rows)
