"""The headline figures of a run, as shown in the terminal and the report (labels and units only)."""

from __future__ import annotations

from typing import Any

# The headline figures shown in the terminal and the report: (label, section, key, kind).
# kind: multiple / percent / money / number, or prob (a {value, se} probability).  A section may
# be a dotted path into summary.json (``investor.tranches.senior``).
HEADLINES = (
    ("MOIC on committed capital", "investor", "moic_committed", "multiple"),
    ("MOIC on drawn capital", "investor", "moic_drawn", "multiple"),
    ("IRR (annual)", "investor", "irr", "percent"),
    ("P(loss): MOIC on drawn < 1", "investor", "prob_loss", "prob"),
    ("P(total loss): MOIC < 0.1", "investor", "prob_total_loss", "prob"),
    ("Expected shortfall: worst 5% MOIC", "investor", "es05", "multiple"),
    ("Capital drawn", "investor", "capital_drawn", "money"),
    ("Outcome payments", "council", "outcome_payments", "money"),
    ("P(cap reached)", "council", "prob_cap_reached", "prob"),
    ("True savings (care avoided)", "council", "true_savings", "money"),
    ("Deadweight share of paid days", "council", "deadweight_share", "percent"),
    ("Council net benefit", "council", "net_benefit", "money"),
    ("Council net benefit, present value", "council", "net_benefit_pv", "money"),
    ("Council net benefit to 18th birthdays, PV", "council", "net_benefit_to_18_pv", "money"),
    ("Payments had the service no effect", "council", "payments_without_effect", "money"),
    ("Young people started", "outcomes", "young_people_started", "number"),
    ("Care proportion, treated", "outcomes", "care_proportion_treated", "percent"),
    ("Care proportion, counterfactual", "outcomes", "care_proportion_counterfactual", "percent"),
    ("Fall in events vs comparison", "outcomes", "event_reduction_overall", "percent"),
    ("Fall in events, true", "outcomes", "event_reduction_true_overall", "percent"),
)
# Rows whose figure a scenario does not have (no care, no recurrent events), or whose every draw
# is undefined, are left out of the tables (see :func:`shown`).

# Each tranche's figures, side by side in a table of their own: (label, key, kind).
TRANCHE_FIGURES = (
    ("MOIC on drawn capital", "moic", "multiple"),
    ("IRR (annual)", "irr", "percent"),
    ("P(loss): MOIC < 1", "prob_loss", "prob"),
    ("P(total loss): MOIC < 0.1", "prob_total_loss", "prob"),
    ("Expected shortfall: worst 5% MOIC", "es05", "multiple"),
    ("Capital drawn", "capital_drawn", "money"),
    ("Lost principal (before guarantees)", "lost_principal", "money"),
    ("Guarantee payouts received", "guarantee_received", "money"),
)


def stat_at(summary: dict[str, Any], section: str, key: str) -> dict[str, Any] | None:
    """The statistics at ``section`` (dotted) and ``key`` of a summary, or None."""
    node: Any = summary
    for part in section.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node.get(key) if isinstance(node, dict) else None


def shown(summary: dict[str, Any], section: str, key: str) -> dict[str, Any] | None:
    """The statistics of a headline figure (as :func:`stat_at`), or None when the run has nothing
    to show for it: the figure is missing, or undefined in every draw."""
    stats = stat_at(summary, section, key)
    if not stats or stats.get("value", stats.get("mean")) is None:
        return None
    return stats


def headlines(summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """:data:`HEADLINES`, then what the term sheet adds where the run has it: each guarantor's
    expected payout and chance of a call, the chance of an early end and its cost to the council."""
    rows = list(HEADLINES)
    for name in summary.get("guarantors", {}):
        rows += [(f"Guarantee payout, {name}", f"guarantors.{name}", "payout", "money"),
                 (f"P(guarantee called), {name}", f"guarantors.{name}", "prob_called", "prob")]
    if "contract" in summary:
        rows += [("P(terminated early)", "contract", "prob_terminated", "prob"),
                 ("Termination quarter (if terminated)", "contract", "termination_quarter", "number")]
        if summary["contract"].get("prob_extended", {}).get("value"):
            rows.append(("P(extended)", "contract", "prob_extended", "prob"))
    if "council_term_sheet_cost" in summary.get("council", {}):
        rows.append(("Council term-sheet cost", "council", "council_term_sheet_cost", "money"))
    if "review_change_net_benefit" in summary.get("council", {}):
        rows += [("Review rules: change in outcome payments", "council", "review_change_outcome_payments", "money"),
                 ("Review rules: change in council net benefit", "council", "review_change_net_benefit", "money"),
                 ("Review rules: change in investors' receipts", "investor", "review_change_distributions", "money")]
    return rows


def tranche_rows(summary: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, list[dict | None]]]]:
    """Tranche names and, per figure of :data:`TRANCHE_FIGURES` any tranche has, (label, kind,
    each tranche's statistics); empty without [[spv.tranches]]."""
    tranches = summary.get("investor", {}).get("tranches", {})
    names = list(tranches)
    rows = []
    for label, key, kind in TRANCHE_FIGURES:
        stats = [tranches[name].get(key) for name in names]
        if any(s is not None for s in stats):
            rows.append((label, kind, stats))
    return names, rows
