"""The headline figures of a run, as shown in the terminal and the report (labels and units only)."""

# The headline figures shown in the terminal and the report: (label, section, key, kind).
# kind: multiple / percent / money / number, or prob (a {value, se} probability).
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
    ("Young people started", "outcomes", "young_people_started", "number"),
    ("Care proportion, treated", "outcomes", "care_proportion_treated", "percent"),
    ("Care proportion, counterfactual", "outcomes", "care_proportion_counterfactual", "percent"),
)
