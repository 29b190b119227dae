"""What the page shows for one setting of the controls, as JSON: figures, charts' data, sentences.

Every number is taken from the same places as ``simsib run`` and the report: the summary
(:func:`simsib.run.summary.summarise`), the median IRR's standard error
(:func:`simsib.analysis.estimates.estimate`), the executive sentences
(:func:`simsib.report.executive.summary_sentences`) and the budget table
(:func:`simsib.report.budget.payments_by_year`), formatted by :mod:`simsib.report.formatting`.
The page only draws.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from simsib.analysis.estimates import METRICS, estimate
from simsib.app.live import LiveModel, Settled
from simsib.contract.metrics import TOTAL_LOSS_MOIC
from simsib.model.qmc import REPLICATE_COLUMN
from simsib.report.budget import payments_by_year
from simsib.report.drivers import average_ranks, drivers
from simsib.report.executive import summary_sentences
from simsib.report.formatting import money, multiple, percent, standard_error
from simsib.report.headlines import stat_at
from simsib.run.summary import standard_error as error_of_mean
from simsib.scenario.format import Scenario, per_draw_quantities

HISTOGRAM_BINS = 40
SCATTER_POINTS = 500  # the first draws: a random sample, and the same draws in every setting


class RankCache:
    """Ranks of the per-draw inputs, kept while their values stay the same: a money change leaves
    the inputs of the model as they were, so only the money multiple needs ranking again."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, key: str, values: np.ndarray) -> np.ndarray:
        kept = self._kept.get(key)
        if kept is not None and kept[0].shape == values.shape and np.array_equal(kept[0], values):
            return kept[1]
        ranks = average_ranks(values)
        self._kept[key] = (values.copy(), ranks)
        return ranks


def _probability(summary: Mapping[str, Any], section: str, key: str, label: str) -> dict[str, Any]:
    stats = stat_at(summary, section, key) or {}
    value, se = stats.get("value"), stats.get("se")
    return {"id": key, "label": label, "value": value, "se": se, "text": percent(value),
            "se_text": standard_error(se, "percent")}


def _mean(summary: Mapping[str, Any], section: str, key: str, label: str, fmt) -> dict[str, Any]:
    stats = stat_at(summary, section, key) or {}
    value, se = stats.get("mean"), stats.get("se")
    unit = {money: "money", multiple: "multiple", percent: "percent"}.get(fmt, "number")
    return {"id": key, "label": label, "value": value, "se": se, "text": fmt(value), "se_text": standard_error(se, unit),
            "p05": fmt(stats.get("p05")), "p95": fmt(stats.get("p95"))}


def _below(column: str, threshold: float):
    # As in simsib.run.summary: an undefined MOIC (nothing drawn) is not a loss.
    def events(c: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (c[column] < threshold).astype(float)
    return events


# Per figure: how it changes between two settings, draw by draw -- (kind, per-draw values).  The
# probabilities are the summary's own events, so a change is measured as the figure is.
PAIRED = {
    "prob_loss": ("pp", _below("moic_drawn", 1.0)),
    "prob_total_loss": ("pp", _below("moic_drawn", TOTAL_LOSS_MOIC)),
    "prob_cap_reached": ("pp", lambda c: c["cap_reached"].astype(float)),
    "prob_pays_more_than_saved": ("pp", lambda c: (c["outcome_payments"] > c["true_savings"]).astype(float)),
    "moic_committed": ("multiple", lambda c: c["moic_committed"]),
    "outcome_payments": ("money", lambda c: c["outcome_payments"]),
    "true_savings": ("money", lambda c: c["true_savings"]),
    "deadweight_share": ("pp", lambda c: c["deadweight_share"]),
    "net_benefit": ("money", lambda c: c["net_benefit"]),
}


def paired_change(before: np.ndarray, after: np.ndarray, groups: np.ndarray | None = None) -> tuple[float, float]:
    """(mean change, its standard error) over draws defined in both settings: both settings share
    every random number, so the error is that of the per-draw differences -- ``sd/√n``, or from
    the replicates ``groups`` labels under QMC sampling."""
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    both = ~(np.isnan(before) | np.isnan(after))
    diff = after[both] - before[both]
    if diff.size < 2:
        return float("nan"), float("nan")
    se = error_of_mean(diff, None if groups is None else np.asarray(groups)[both])
    return float(diff.mean()), float("nan") if se is None else se


def change_text(kind: str, change: float, se: float) -> str:
    """``+17.6 pp ± 0.4``, ``−£1.20m ± £20k``, ``+0.05× ± 0.0031×`` (an error below the figure's
    own precision with two significant digits, as :func:`simsib.report.formatting.standard_error`)."""
    if not (math.isfinite(change) and math.isfinite(se)):
        return "–"
    if change == 0:
        return "unchanged"  # the same in every draw (or, for a median, the same median)
    sign = "+" if change >= 0 else "−"
    if kind == "pp":
        error = f"{100 * se:.1f}" if se == 0 or 100 * se >= 0.1 else f"{100 * se:.2g}"
        return f"{sign}{abs(100 * change):.1f} pp ± {error}"
    if kind == "money":
        return f"{sign}{money(abs(change))} ± {standard_error(se, 'money')}"
    return f"{sign}{multiple(abs(change))} ± {standard_error(se, 'multiple')}"


def figures(settled: Settled, reference: Settled | None = None) -> list[dict[str, Any]]:
    """The headline figures, each ``{id, label, value, se, text, se_text}``, and, when ``reference``
    (the scenario's own settings) differs, ``change`` and ``change_text``: the paired change."""
    summary = settled.summary
    median, se = estimate(METRICS["median_irr"], settled.columns)
    median_irr = {"id": "median_irr", "label": "Median IRR (a year)", "value": _finite(median), "se": _finite(se),
                  "text": percent(_finite(median)), "se_text": standard_error(_finite(se), "percent")}
    out = [
        _probability(summary, "investor", "prob_loss", "Chance investors lose money"),
        median_irr,
        _mean(summary, "investor", "moic_committed", "Money multiple on committed capital (mean)", multiple),
        _probability(summary, "investor", "prob_total_loss", "Chance of an almost total loss (under 0.1×)"),
        _mean(summary, "council", "outcome_payments", "Council's outcome payments (mean)", money),
        _mean(summary, "council", "true_savings", "True savings: cost of care avoided (mean)", money),
        _mean(summary, "council", "deadweight_share", "Deadweight share of paid days (mean over draws)", percent),
        _probability(summary, "council", "prob_cap_reached", "Chance the cap is reached"),
        _probability(summary, "council", "prob_pays_more_than_saved", "Chance the council pays more than it saves"),
        _mean(summary, "council", "net_benefit", "Council's net benefit (mean)", money),
    ]
    if reference is not None and reference.overrides != settled.overrides:
        for figure in out:
            if figure["id"] in PAIRED:
                kind, values = PAIRED[figure["id"]]
                change, change_se = paired_change(values(reference.columns), values(settled.columns),
                                                  settled.columns.get(REPLICATE_COLUMN))
            elif np.array_equal(reference.columns["irr"], settled.columns["irr"], equal_nan=True):
                kind, change, change_se = "pp", 0.0, 0.0
            else:  # a median has no per-draw difference: the change with an unpaired error
                (before, before_se), (after, after_se) = (estimate(METRICS["median_irr"], c)
                                                          for c in (reference.columns, settled.columns))
                kind, change, change_se = "pp", after - before, math.hypot(before_se, after_se)
            figure["change"], figure["change_se"] = _finite(change), _finite(change_se)
            figure["change_text"] = change_text(kind, change, change_se)
    return out


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def moic_histogram(moic: np.ndarray, reference: float | None) -> dict[str, Any]:
    """Shares of draws in bins of the money multiple on committed capital.

    The range runs from 0 to a round value above the 99.5th percentile, break-even and the
    reference, so that it moves little between settings; larger draws fall in the last bin.
    """
    values = moic[np.isfinite(moic)]
    top = max(1.5, reference or 0.0, float(np.quantile(values, 0.995)) if values.size else 0.0)
    top = math.ceil(top * 4 + 1e-9) / 4
    edges = np.linspace(0.0, top, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(np.clip(values, 0.0, top), bins=edges)
    return {"edges": edges.tolist(), "shares": (counts / max(values.size, 1)).tolist(), "break_even": 1.0,
            "reference": reference, "reference_text": multiple(reference) if reference is not None else None}


def scatter(columns: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Outcome payments against true savings, £m, for the first draws."""
    n = min(SCATTER_POINTS, len(columns["outcome_payments"]))
    return {"payments": np.round(columns["outcome_payments"][:n] / 1e6, 4).tolist(),
            "savings": np.round(columns["true_savings"][:n] / 1e6, 4).tolist()}


def budget(settled: Settled) -> list[dict[str, str]]:
    """Payments by financial year (or contract year): mean, p05, median and p95, formatted."""
    rows = payments_by_year(settled.payments, settled.scenario.meta.contract_start)
    return [{"year": r["year"], **{k: money(r[k]) for k in ("mean", "p05", "p50", "p95")}} for r in rows]


def tranches(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each class of investors: P(loss) and the median money multiple on its drawn capital."""
    out = []
    for name, stats in summary.get("investor", {}).get("tranches", {}).items():
        loss, moic = stats.get("prob_loss", {}), stats.get("moic", {})
        out.append({"name": name, "prob_loss": f"{percent(loss.get('value'))} ± {percent(loss.get('se'))}",
                    "median_moic": multiple(moic.get("p50"))})
    return out


def fixed_cap(scenario: Scenario) -> tuple[float | None, bool]:
    """(the cap if it is one fixed amount, whether there is a cap at all)."""
    cap = scenario.contract.cap
    if cap is None:
        return None, False
    return (float(cap.value) if cap.is_fixed else None), True


def json_safe(node: Any) -> Any:
    """``node`` with every NaN or infinity replaced by None: JSON has neither (the page shows "–")."""
    if isinstance(node, float) and not math.isfinite(node):
        return None
    if isinstance(node, dict):
        return {k: json_safe(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [json_safe(v) for v in node]
    return node


def render(model: LiveModel, settled: Settled, ranks: RankCache | None = None) -> dict[str, Any]:
    """The page's data for one setting: figures, charts, budget, sentences, settings and ``--set``
    line -- strict JSON (see :func:`json_safe`)."""
    scenario, columns = settled.scenario, settled.columns
    inputs = [key for key in per_draw_quantities(scenario) if key in columns]
    found = drivers(columns, inputs, ranks_of=ranks)
    cap, capped = fixed_cap(scenario)
    reference = scenario.meta.reference_moic
    return json_safe({
        "scenario": scenario.meta.name,
        "description": scenario.meta.description,
        "draws": model.draws,
        "seed": model.seed,
        "settings": settled.settings,
        "overrides": settled.overrides,
        "set_line": model.set_line(settled.overrides),
        "figures": figures(settled, model.reference),
        "sentences": summary_sentences(settled.summary, columns, reference_moic=reference, cap=cap, capped=capped,
                                       found_drivers=found),
        "cap": cap,
        "moic": moic_histogram(columns["moic_committed"], reference),
        "scatter": scatter(columns),
        "budget": budget(settled),
        "budget_years": "financial years, April to March" if scenario.meta.contract_start else "contract years",
        "tranches": tranches(settled.summary),
        "drivers": [{"key": d.key, "label": d.label, "rho": d.rho, "se": d.se} for d in found[:5]],
        "seconds": settled.seconds,
        "simulated": settled.simulated,
    })
