"""The Essex backtest: published figures beside the model's mean and 90% interval.

Each published figure (EVIDENCE.md, "Calibration targets") is matched with the bundled scenario
that describes the same situation and the per-draw metric that measures it.  A figure is
*inside* when it lies within the model's 5th-95th percentile range of that metric.  Nothing here
is tuned: the scenarios' calibrated parameters are listed, with their evidence ranges, in the
README's "Calibration" section.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simsib.model.qmc import REPLICATE_COLUMN
from simsib.run.api import simulate
from simsib.run.summary import standard_error
from simsib.scenario.loader import bundled_scenario_path, load_scenario


@dataclass(frozen=True)
class Target:
    figure: str
    published: float
    evidence: str
    scenario: str
    metric: str
    kind: str  # percent, money, multiple, number
    note: str = ""


TARGETS = (
    Target("Care proportion with no MST effect", 0.55, "E6", "essex-no-effect",
           "care_proportion_counterfactual", "percent",
           "historical comparison group; calibrates the Essex-like population"),
    Target("Care proportion, as realised", 0.108, "E6", "essex-realised", "care_proportion_treated", "percent",
           "calibrates the referred cohort's risk (E47)"),
    Target("Care days saved vs baseline", 96_000, "E9", "essex-realised", "care_days_saved_contract", "number"),
    Target("Outcome payments (cap reached)", 7_200_000, "E2", "essex-realised", "outcome_payments", "money",
           "see P(cap reached) in the run summary"),
    Target("Investor multiple on committed capital", 1.45, "E3", "essex-realised", "moic_committed", "multiple"),
    Target("Gross savings, as realised", 17_900_000, "E9", "essex-realised", "contract_savings", "money"),
    Target("Young people started", 388, "E5", "essex-realised", "young_people_started", "number",
           "388 is the target cap: reached only when referrals run high"),
    Target("Young people completed MST", 335, "E5", "essex-realised", "young_people_completed", "number"),
    Target("Year-1 cases opened", 50, "E12", "essex-realised", "year1_starts", "number",
           "first 12 months from the first team's start"),
    Target("Care proportion, launch target", 0.27, "E6", "essex-launch", "care_proportion_treated", "percent",
           "calibrates the launch plan's implied effect (HR about 0.25)"),
    Target("Outcome payments, launch plan", 6_700_000, "E10", "essex-launch", "outcome_payments", "money"),
    Target("Gross savings, launch plan", 17_300_000, "E10, E11", "essex-launch", "contract_savings", "money"),
    Target("Investor IRR, launch medium case", 0.083, "E10", "essex-launch", "irr", "percent",
           "model median is lower: see README, Calibration"),
)


def run_backtest(draws: int = 4000, seed: int = 20190331) -> pd.DataFrame:
    """Simulate each scenario the targets need once, and tabulate the comparison.

    Returns one row per target: figure, published, evidence, scenario, metric, mean, se,
    p05, p50, p95, inside, note.
    """
    results = {}
    for name in dict.fromkeys(t.scenario for t in TARGETS):
        results[name] = simulate(load_scenario(bundled_scenario_path(name)), draws=draws, seed=seed).draws
    rows = []
    for t in TARGETS:
        draws_ = results[t.scenario]
        values = draws_[t.metric].to_numpy(dtype=float)
        groups = draws_[REPLICATE_COLUMN].to_numpy() if REPLICATE_COLUMN in draws_ else None
        se = standard_error(values, groups)
        values = values[~np.isnan(values)]
        p05, p50, p95 = np.percentile(values, [5, 50, 95])
        rows.append({
            "figure": t.figure, "published": t.published, "evidence": t.evidence, "scenario": t.scenario,
            "metric": t.metric, "kind": t.kind, "mean": float(values.mean()),
            "se": float("nan") if se is None else se,
            "p05": float(p05), "p50": float(p50), "p95": float(p95),
            "inside": bool(p05 <= t.published <= p95), "note": t.note,
        })
    return pd.DataFrame(rows)
