"""Named stress cases against the base case, on common random numbers.

A scenario declares its stress cases as ``[stress.NAME]`` tables, each a description and a
``set`` table of dotted-key overrides (``"referrals.referrals_per_month.median" = 4.5``).  Each
case runs on the base's seed and chunks, with every input it does not change drawn exactly as
in the base, so each headline figure's change is a paired difference: its standard error is
that of the per-draw differences, usually far below either run's own error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from simsib.analysis.estimates import METRICS, estimate, paired_difference
from simsib.analysis.variants import Precision, VariantSet, run_variants
from simsib.model.streams import new_entropy
from simsib.scenario.format import Scenario
from simsib.scenario.variants import StressCase, stress_cases  # noqa: F401  (StressCase re-exported)

# The headline figures of simsib.run.summary.HEADLINES that are means or probabilities (so have
# a paired change), plus the council's chance of paying more than it saved.
HEADLINE_METRICS = (
    "moic_committed", "moic_drawn", "irr", "prob_loss", "prob_total_loss", "capital_drawn",
    "outcome_payments", "prob_cap_reached", "prob_pays_more_than_saved", "true_savings",
    "deadweight_share", "net_benefit", "young_people_started", "care_proportion_treated",
    "care_proportion_counterfactual",
)


@dataclass
class StressResult:
    """table: one row per case and figure -- ``case, description, metric, label, unit, base,
    base_se, stressed, stressed_se, change, change_se, outcomes_reused``.

    ``change`` is the mean per-draw difference, so for a figure undefined in some draws (the
    IRR, the deadweight share) it is taken over the draws where both runs define it, and may differ from
    ``stressed − base``.
    """

    scenario: Scenario
    cases: list[StressCase]
    table: pd.DataFrame
    header: dict[str, Any]


def stress_test(
    raw: Mapping[str, Any],
    scenario: Scenario,
    *,
    names: Sequence[str] = (),
    draws: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    file: str | None = None,
    progress: Callable[[int], None] | None = None,
    precision: Precision | None = None,
) -> StressResult:
    """Run the base and each stress case on common random numbers; tabulate the changes.

    With ``precision``, the base and every case run until precise (:class:`~simsib.analysis.variants.Precision`).
    """
    cases = stress_cases(raw, scenario, names, file=file)
    metrics = [METRICS[m] for m in HEADLINE_METRICS]
    vset = VariantSet.of(scenario, [scenario] + [c.scenario for c in cases])
    entropy = int(seed) if seed is not None else new_entropy()
    n_draws = int(draws if draws is not None else scenario.simulation.draws)
    columns = sorted({c for m in metrics for c in m.columns})
    base, *stressed = run_variants(vset, entropy, n_draws, columns=columns, workers=workers, progress=progress,
                                   precision=precision)
    n_draws = len(next(iter(base.values())))
    rows = []
    for case, reused, cols in zip(cases, vset.reuse[1:], stressed):
        for metric in metrics:
            (b, b_se), (s, s_se) = estimate(metric, base), estimate(metric, cols)
            change, change_se = paired_difference(metric, base, cols)
            rows.append({"case": case.name, "description": case.description, "metric": metric.name,
                         "label": metric.label, "unit": metric.unit, "base": b, "base_se": b_se,
                         "stressed": s, "stressed_se": s_se, "change": change, "change_se": change_se,
                         "outcomes_reused": reused})
    header = {"scenario": scenario.meta.name, "draws": n_draws, "seed": seed, "seed_entropy": entropy,
              "chunk_size": scenario.simulation.chunk_size,
              "cases": {c.name: {"description": c.description, "set": c.overrides} for c in cases},
              "precision": precision.record if precision is not None else None}
    return StressResult(scenario, cases, pd.DataFrame(rows), header)


