"""The headline figures of a run, as shown in the terminal and the report (labels and units only)."""

from __future__ import annotations

from typing import Any

from simsib.run.reasons import NOT_APPLICABLE

# The headline figures shown in the terminal and the report: (label, section, key, kind).
# kind: multiple / percent / money / number, or prob (a {value, se} probability).  A section may
# be a dotted path into summary.json (``investor.tranches.senior``).
HEADLINES = (
    ("MOIC on committed capital", "investor", "moic_committed", "multiple"),
    ("MOIC on drawn capital", "investor", "moic_drawn", "multiple"),
    ("Median IRR (annual)", "investor", "irr_median", "percent"),
    ("IRR (annual)", "investor", "irr", "percent"),
    ("P(loss): MOIC on drawn < 1", "investor", "prob_loss", "prob"),
    ("P(total loss): MOIC < 0.1", "investor", "prob_total_loss", "prob"),
    ("Expected shortfall: worst 5% MOIC", "investor", "es05", "multiple"),
    ("Capital drawn", "investor", "capital_drawn", "money"),
    ("Outcome payments", "council", "outcome_payments", "money"),
    ("P(cap reached)", "council", "prob_cap_reached", "prob"),
    ("True savings (care avoided)", "council", "true_savings", "money"),
    ("Deadweight share of paid days", "council", "deadweight_share", "percent"),
    ("Paid for deadweight", "council", "deadweight_paid", "money"),
    ("Deadweight share of all payments", "council", "deadweight_share_of_payments", "prob"),
    ("Council net benefit", "council", "net_benefit", "money"),
    ("Council net benefit, present value", "council", "net_benefit_pv", "money"),
    ("Council net benefit to 18th birthdays, PV", "council", "net_benefit_to_18_pv", "money"),
    ("Payments had the service no effect", "council", "payments_without_effect", "money"),
    ("P(stops early, capital ran out)", "outcomes", "prob_service_stopped_early", "prob"),
    ("Service costs left unfunded", "outcomes", "unfunded_costs", "money"),
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
    to show for it: the figure is missing, or a distribution undefined in every draw.  A
    probability that is undefined is shown, as "–" with its ``reason``: left out, its absence
    could be read as zero (P(loss) when no capital is drawn)."""
    stats = stat_at(summary, section, key)
    if not stats:
        return None
    if stats.get("value", stats.get("mean")) is None and not ("value" in stats and stats.get("reason")):
        return None
    return stats


# Shown only when total losses are common (P(total loss) above this): then the worst 5% are all
# 0x, and the bad case needs grading further.
BAD_CASE_TOTAL_LOSS = 0.05
BAD_CASE = (
    ("P(MOIC on drawn < 0.5)", "investor", "prob_moic_below_half", "prob"),
    ("MOIC on committed, 10th percentile", "investor", "moic_p10", "multiple"),
    ("MOIC on committed, 25th percentile", "investor", "moic_p25", "multiple"),
    ("Worst 10%: mean MOIC on committed", "investor", "es10", "multiple"),
    ("Worst 25%: mean MOIC on committed", "investor", "es25", "multiple"),
)


def says_nothing(summary: dict[str, Any], section: str, key: str) -> bool:
    """A row that does not apply to the contract (its ``reason`` says so), repeats another or never
    varies: true savings of zero in every draw (a scenario that values none of its outcomes, as
    Peterborough's reconvictions), MOIC on drawn capital when it equals MOIC on
    committed capital in every statistic (all capital drawn at close), and capital drawn when it
    is the same in every draw."""
    stats = stat_at(summary, section, key) or {}
    if str(stats.get("reason", "")).startswith(NOT_APPLICABLE):  # no cap; no care days counted
        return True
    if (section, key) == ("investor", "moic_drawn"):
        committed = stat_at(summary, "investor", "moic_committed") or {}
        return all(stats.get(k) is not None and committed.get(k) is not None
                   and abs(stats[k] - committed[k]) <= 1e-12 * max(1.0, abs(committed[k]))
                   for k in ("mean", "p05", "p25", "p50", "p75", "p95"))
    if (section, key) == ("council", "true_savings"):  # zero by construction: no outcome is valued
        return all(stats.get(k) == 0 for k in ("mean", "p05", "p95")) and not stats.get("se")
    if (section, key) == ("investor", "capital_drawn"):
        return stats.get("p05") is not None and stats.get("p05") == stats.get("p95") and not stats.get("se")
    return False


def headlines(summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """:data:`HEADLINES` less the rows that say nothing (:func:`says_nothing`), with the graded bad
    case (:data:`BAD_CASE`) when total losses are common and P(MOIC ≥ the scenario's reference)
    after P(total loss); then what the term sheet adds where the run has it: each guarantor's
    expected payout and chance of a call, the chance of an early end and its cost to the council."""
    rows = [row for row in HEADLINES if not says_nothing(summary, row[1], row[2])]
    reference = stat_at(summary, "investor", "prob_reference")
    if reference and reference.get("reference") is not None:
        after = next((i + 1 for i, row in enumerate(rows) if row[2] == "prob_total_loss"), len(rows))
        rows.insert(after, (f"P(MOIC ≥ reference {reference['reference']:.2f}×)", "investor", "prob_reference", "prob"))
    total = (stat_at(summary, "investor", "prob_total_loss") or {}).get("value")
    if total is not None and total > BAD_CASE_TOTAL_LOSS:  # after the worst 5%, as the tail deepens
        after = next((i + 1 for i, row in enumerate(rows) if row[2] == "es05"), len(rows))
        rows[after:after] = list(BAD_CASE)
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
