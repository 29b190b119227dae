"""Judgement sensitivity: how the answer moves when each modelling judgement moves.

Sobol indices (:mod:`simsib.analysis.sensitivity`) rank the *uncertain* inputs, drawn per draw.
The judgements a modeller fixes -- the weights of a mixture prior, the cost base, the drawdown
rule, the therapists' capacity, the netting, the waiting list -- are not drawn, so they never
appear there.  Here each is set to the low and the high end of a stated plausible range, every
variant runs on the base's seed and chunks (common random numbers), and the change in the
investors' P(loss) and median money multiple and in the council's net benefit (cash and present
value) is reported with its paired standard error.

A judgement applies to a scenario only if the scenario has the keys it varies, and mixture
weights only where they are a judgement (``essex-2012``); the default's weights are derived
(:mod:`simsib.analysis.derivation`), so there the judgements behind the derivation are the ones
to vary, and the backtest's derivation comparison (with and without START) shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from simsib.analysis.estimates import METRICS, estimate, paired_difference, resolve_metric
from simsib.analysis.variants import VariantSet, run_variants
from simsib.scenario.format import Scenario
from simsib.scenario.loader import bundled_scenario_path, load_raw
from simsib.scenario.variants import build_variant, scenario_keys

FIGURES = ("prob_loss", "median_moic_committed", "net_benefit", "net_benefit_pv")


@dataclass(frozen=True)
class Judgement:
    """A judgement varied over a plausible range: ``low``/``high`` are (label, overrides); a
    judgement with one alternative to the base (a choice between two rules) has no ``high``."""

    name: str
    base: str
    low: tuple[str, dict[str, Any]]
    high: tuple[str, dict[str, Any]] | None
    why: str
    applies: Callable[[Scenario], bool] = lambda scenario: True


def _weights_are_judgement(key: str, count: int) -> Callable[[Scenario], bool]:
    def applies(scenario: Scenario) -> bool:
        section, name = key.split(".")
        dist = getattr(getattr(scenario, section), name)
        return (getattr(dist, "dist", None) == "mixture" and len(dist.components) == count
                and all(not (c.source or "").startswith(("E6, E20:",)) for c in dist.components))
    return applies


JUDGEMENTS = (
    Judgement("population-risk weights", "0.5 / 0.3 / 0.2 (historical / less / broad)",
              ("more weight on lower risk: 0.2 / 0.4 / 0.4", {"population.p30_entry.weights": [0.2, 0.4, 0.4]}),
              ("more weight on the historical group: 0.8 / 0.15 / 0.05",
               {"population.p30_entry.weights": [0.8, 0.15, 0.05]}),
              "judgement weights of essex-2012's three strands; the historical strand ±0.3",
              _weights_are_judgement("population.p30_entry", 3)),
    Judgement("effect weights", "0.3 / 0.4 / 0.3 (null / community / efficacy)",
              ("pessimistic: 0.5 / 0.4 / 0.1", {"effect.log_hazard_ratio.weights": [0.5, 0.4, 0.1]}),
              ("optimistic: 0.1 / 0.4 / 0.5", {"effect.log_hazard_ratio.weights": [0.1, 0.4, 0.5]}),
              "judgement weights of the 2012 trial strands (E22, E24, E25); null and efficacy ±0.2",
              _weights_are_judgement("effect.log_hazard_ratio", 3)),
    Judgement("cost base", "£100k a team-quarter",
              ("20% lower: £80k", {"spv.team_cost_per_quarter": 80_000}),
              ("20% higher: £120k", {"spv.team_cost_per_quarter": 120_000}),
              "the split of E11's / E16's total funding between teams, fees and families"),
    Judgement("drawdown rule", "the commitment called at close",
              ("drawn only as needed", {"spv.upfront_drawdown_share": 0.0}),
              ("half called at close", {"spv.upfront_drawdown_share": 0.5}),
              "E11 says only 'initial £3.1m'; how capital was called is unpublished"),
    Judgement("capacity", "4 therapists a team",
              ("3 therapists a team", {"referrals.therapists_per_team": 3}),
              ("5 therapists a team", {"referrals.therapists_per_team": 5}),
              "E30: teams of 2-4 therapists and a supervisor; E13's count rests on the realised 388"),
    Judgement("netting", "over the whole contract",
              ("within each cohort", {"contract.netting": "cohort"}),
              None,
              "E7 measures per cohort but does not say whether cohorts offset"),
    Judgement("waiting list", "up to 3 months",
              ("no waiting list", {"referrals.max_wait_months": 0}),
              ("up to 6 months", {"referrals.max_wait_months": 6}),
              "no published waiting-list figure; MST is a crisis service"),
)


def applicable(scenario: Scenario) -> list[Judgement]:
    keys = set(scenario_keys(scenario))
    return [j for j in JUDGEMENTS
            if j.applies(scenario) and all(k in keys for side in _ends(j) for k in side[1])]


def _ends(judgement: Judgement) -> list[tuple[str, dict[str, Any]]]:
    return [judgement.low] + ([judgement.high] if judgement.high is not None else [])


def judgement_table(names: tuple[str, ...] = ("essex-2012", "essex"), draws: int = 4000,
                    seed: int = 20190331) -> pd.DataFrame:
    """One row per scenario, judgement and end of its range: the base figure, the varied figure
    and the paired change (with standard errors) of each of :data:`FIGURES`."""
    rows = []
    for name in names:
        raw = load_raw(bundled_scenario_path(name))
        base = build_variant(raw, {})
        judgements = applicable(base)
        ends = [(j, label, overrides) for j in judgements for label, overrides in _ends(j)]
        variants = [base] + [build_variant(raw, overrides) for _, _, overrides in ends]
        columns = run_variants(VariantSet.of(base, variants), seed, draws)
        available = list(columns[0])
        metrics = {f: METRICS.get(f) or resolve_metric(f, available) for f in FIGURES}
        for (judgement, label, overrides), varied in zip(ends, columns[1:]):
            row = {"scenario": name, "judgement": judgement.name, "base": judgement.base, "variant": label,
                   "why": judgement.why}
            for figure, metric in metrics.items():
                row[f"{figure}_base"], _ = estimate(metric, columns[0])
                row[figure], _ = estimate(metric, varied)
                row[f"{figure}_change"], row[f"{figure}_change_se"] = paired_difference(metric, columns[0], varied)
            rows.append(row)
    return pd.DataFrame(rows)
