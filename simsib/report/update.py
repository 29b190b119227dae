"""Rendering a re-forecast: its tables (Markdown, and rows for the HTML report) and figure specs.

Reads what :mod:`simsib.report.update_folder` wrote (``update.json``, ``stages.csv``,
``quarterly.csv``) -- never the draws -- and formats; it computes nothing the update did not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from simsib.report.formatting import money, multiple, number, percent
from simsib.scenario.evidence import label as plain_label

UPDATE_FILE = "update.json"
FIT_FILE = "observations.csv"
STAGES_FILE = "stages.csv"
UPDATE_MARKDOWN = "update.md"
KIND = {"count": number, "days": number, "signed_days": number, "money": money, "share": percent}
SERIES_KIND = {"referrals": "count", "starts": "count", "completions": "count", "care_days": "days",
               "child_days": "days", "care_days_saved": "signed_days", "payments": "money",
               "payments_made": "count", "care_proportion": "share", "events": "count"}


def _kind(series: str) -> str:
    return SERIES_KIND.get(series.removesuffix("_to_date"), "count")


def _fmt(series: str, value: Any) -> str:
    return KIND[_kind(series)](value)


def fit_table(fit: list[dict[str, Any]]) -> pd.DataFrame:
    """``observations.csv``: each observed figure beside its prior and posterior predictive."""
    rows = []
    for row in fit:
        rows.append({"month": row["month"], "quarter": row["quarter"], "series": row["series"],
                     "cohort": row["cohort"], "value": row["value"],
                     **{f"prior_{k}": row["prior"][k] for k in ("mean", "p05", "p95")},
                     **{f"posterior_{k}": row["posterior"][k] for k in ("mean", "p05", "p95")},
                     "prior_tail_p": row["prior_tail_p"], "posterior_tail_p": row["posterior_tail_p"],
                     "source": row["source"]})
    return pd.DataFrame(rows)


def _md(header: list[str], rows: list[list[Any]]) -> str:
    def clean(cell: Any) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows])


def _row_name(row: dict[str, Any]) -> str:
    cohort = "" if row["cohort"] is None else f" [cohort {row['cohort']}]"
    return f"{row['series']}{cohort} @ month {row['month']}"


def _interval(stats: dict, fmt: Callable[[Any], str]) -> str:
    return f"{fmt(stats['mean'])} ({fmt(stats['p05'])} – {fmt(stats['p95'])})"


def update_tables(content: dict[str, Any], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The update's tables: ``{title, lead, header, rows}`` each, rows of formatted strings."""
    d = content["diagnostics"]
    k = d["pareto_k"]
    tables = [{
        "title": "How far the weighted draws can be trusted",
        "lead": "Importance weights of the prior draws given the observations.  Few effective draws, or a "
                "Pareto k above 0.7, mean the posterior rests on a handful of prior draws.",
        "header": ["diagnostic", "value"],
        "rows": [
            ["effective sample size", f"{d['effective_sample_size']:,.1f} of {d['draws']:,} prior draws "
                                      f"({percent(d['ess_share'])})"],
            ["distinct prior draws among the posterior draws", f"{d['distinct_draws']:,} of {d['posterior_draws']:,}"],
            ["Pareto k of the weights (< 0.5 good, < 0.7 usable)", "–" if k is None else f"{k:.2f}"],
            ["largest single weight", percent(d["max_weight"])],
            ["prior draws within 5 sd of every figure", f"{d['compatible_draws']:,}"],
            ["log marginal likelihood of the data", f"{d['log_evidence']:.2f}"],
            ["futures after the review re-simulated (move)", "yes" if d["moved"] else "no"],
        ],
    }]
    stages = content.get("stages", [])
    if stages:
        tables.append({
            "title": "The forecast at signing and after each review",
            "lead": "Each row conditions on every observations file up to it; standard errors from the "
                    "effective sample size.",
            "header": ["stage", "review month", "ESS", "P(loss)", "median MOIC (90%)", "expected payments",
                       "P(cap reached)"],
            "rows": [[s["stage"], s["review_month"], f"{s['effective_sample_size']:,.0f}",
                      f"{percent(s['prob_loss'])} ± {percent(s['prob_loss_se'])}",
                      f"{multiple(s['moic_median'])} ({multiple(s['moic_p05'])} – {multiple(s['moic_p95'])})",
                      f"{money(s['payments_mean'])} ± {money(s['payments_se'])}",
                      f"{percent(s['prob_cap_reached'])} ± {percent(s['prob_cap_reached_se'])}"] for s in stages],
        })
    decisions = content.get("stage_decisions") or []
    if len(decisions) > 1:
        rows = []
        for decision in decisions:
            by = {r["metric"]: r for r in decision["rows"]}
            investor, council = by["distributions"], by["net_benefit"]
            rows.append([decision["observations"].split(" + ")[-1], decision["review_quarter"],
                         f"{money(investor['difference_mean'])} ± {money(investor['difference_se'])}",
                         percent(investor["prob_terminate_better"]),
                         f"{money(council['difference_mean'])} ± {money(council['difference_se'])}",
                         percent(council["prob_terminate_better"])])
        tables.append({"title": "Terminating at each review, against continuing",
                       "lead": "Terminate − continue on the same posterior draws of each review, under the contract's "
                               "termination terms.",
                       "header": ["after", "review quarter", "investors' receipts", "P(better for investors)",
                                  "council's net benefit", "P(better for the council)"],
                       "rows": rows})
    review = summary.get("review", {})
    if review:
        rows = []
        for stem, what in (("outcome_payments", "outcome payments (council to SPV)"),
                           ("distributions", "distributions to investors"), ("capital_drawn", "capital drawn")):
            before, after = review[f"{stem}_to_date"], review[f"{stem}_to_come"]
            rows.append([what, money(before["mean"]), f"{money(after['mean'])} ± {money(after['se'])}",
                         f"{money(after['p05'])} – {money(after['p95'])}"])
        tables.append({"title": f"Already paid and still to come (review at month {content['review_month']})",
                       "lead": "Means over the posterior draws; the 90% interval of what is still to come.",
                       "header": ["figure", "to date", "still to come (mean ± se)", "still to come, 90%"],
                       "rows": rows})
    tables.append({
        "title": "The observed figures and the forecast",
        "lead": "Each figure's prior and posterior predictive: mean (90% interval) of the draws' own values.  "
                "Tail p: how far out the figure lies, measurement error included (small = not explained).",
        "header": ["figure", "observed", "prior", "posterior", "prior tail p", "posterior tail p", "source"],
        "rows": [[_row_name(r),
                  _fmt(r["series"], r["value"]), _interval(r["prior"], lambda v, s=r["series"]: _fmt(s, v)),
                  _interval(r["posterior"], lambda v, s=r["series"]: _fmt(s, v)), f"{r['prior_tail_p']:.3g}",
                  f"{r['posterior_tail_p']:.3g}", r["source"]] for r in content["fit"]],
    })
    input_rows, strand_rows = [], []
    for key, row in content["inputs"].items():
        fmt = (lambda v: number(v, 3))
        input_rows.append([plain_label(key, short=True), key, _interval(row["prior"], fmt), _interval(row["posterior"], fmt)])
        for strand in row.get("strands", []):
            strand_rows.append([key, strand["strand"], percent(strand["prior_weight"]),
                                percent(strand["posterior_weight"])])
    tables.append({"title": "What the data say about each uncertain input",
                   "lead": "Mean (90% interval) before and after conditioning.",
                   "header": ["input", "key", "prior", "posterior"], "rows": input_rows})
    if strand_rows:
        tables.append({"title": "Which evidence strands survive",
                       "lead": "Weight of each strand of the mixture inputs, before and after conditioning.",
                       "header": ["input", "strand", "prior weight", "posterior weight"], "rows": strand_rows})
    pairs = content.get("strand_pairs") or []
    if pairs:
        tables.append({
            "title": "What the data cannot tell apart",
            "lead": "Joint weight of each population-risk strand with each effect strand, and the council's "
                    "true savings in it: strands that keep weight together are explanations the observed "
                    "figures cannot separate, however different their value to the council.",
            "header": ["population strand", "effect strand", "prior", "posterior", "true savings",
                       "outcome payments"],
            "rows": [[p["population"], p["effect"], percent(p["prior_weight"]), percent(p["posterior_weight"]),
                      money(p["posterior_mean_true_savings"]), money(p["posterior_mean_outcome_payments"])]
                     for p in sorted(pairs, key=lambda p: -p["posterior_weight"])],
        })
    decision = content["decision"]
    fmt_metric = {"moic_committed": multiple, "young_people_started": number}
    tables.append({
        "title": f"Continue or terminate at the review (quarter {decision['review_quarter']})",
        "lead": f"Terms: {decision['terms']}.  Same posterior draws both ways; difference = terminate − continue.",
        "header": ["figure", "for", "continue", "terminate", "difference ± se", "P(terminating is better)"],
        "rows": [[plain_label(r["metric"], short=True), r["for"],
                  fmt_metric.get(r["metric"], money)(r["continue_mean"]),
                  fmt_metric.get(r["metric"], money)(r["terminate_mean"]),
                  f"{fmt_metric.get(r['metric'], money)(r['difference_mean'])} ± "
                  f"{fmt_metric.get(r['metric'], money)(r['difference_se'])}",
                  percent(r["prob_terminate_better"])] for r in decision["rows"]],
    })
    return tables


def update_markdown(content: dict[str, Any], summary: dict[str, Any]) -> str:
    """``update.md``: the update's method, diagnostics, warnings and tables."""
    out = [f"# Re-forecast of {content['scenario']}", "",
           f"Observations: {content['observations']}.  Review date: month {content['review_month']} "
           f"(quarter {content['review_quarter']}).  {content['prior_draws']:,} prior draws, seed "
           f"{content['seed_entropy']}; {content['posterior_draws']:,} posterior draws.", "",
           f"Method: {content['method']['name']} (README, \"Re-forecasting a running contract\").", ""]
    if content["warnings"]:
        out += ["**Warnings**", ""] + [f"- {w}" for w in content["warnings"]] + [""]
    for table in update_tables(content, summary):
        out += [f"## {table['title']}", "", table["lead"], "", _md(table["header"], table["rows"]), ""]
    return "\n".join(out)


def read_update(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(update.json, summary.json) of a re-forecast folder, or None for a plain run."""
    path = Path(run_dir) / UPDATE_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text()), json.loads((Path(run_dir) / "summary.json").read_text())


def observed_points(content: dict[str, Any], series: str) -> tuple[list[float], list[float]]:
    """(months, values) of the all-cohort observations of ``series``."""
    rows = [r for r in content["fit"] if r["series"] == series and r["cohort"] is None]
    return [r["month"] for r in rows], [r["value"] for r in rows]


def fan_specs(content: dict[str, Any], quarterly: pd.DataFrame) -> list[tuple[str, str, str, Callable]]:
    """(name, title, caption, draw(ax)) for a fan of each observed series with its points."""
    from simsib.report.update_figures import observed_fan

    specs = []
    for series in dict.fromkeys(r["series"] for r in content["fit"] if r["cohort"] is None):
        band = quarterly[quarterly["series"] == series].sort_values("quarter")
        if band.empty or band[["p05", "p95"]].isna().all().all():
            continue
        months, values = observed_points(content, series)
        kind = {"money": "money", "share": "percent"}.get(_kind(series), "number")
        what = plain_label(series, short=True)
        specs.append((f"observed_{series}", f"Observed and forecast: {what}",
                      f"Posterior bands of {what} at each quarter end; diamonds are the observed figures; "
                      f"the dash-dotted line is the review date (month {content['review_month']}).",
                      lambda ax, b=band.dropna(subset=["p05"]), m=months, v=values, w=what, k=kind: observed_fan(
                          b, m, v, review_month=content["review_month"], label=w, kind=k, ax=ax)))
    return specs


def stage_specs(content: dict[str, Any], stages: pd.DataFrame) -> list[tuple[str, str, str, Callable]]:
    """The forecast at signing and after each review: MOIC and payments, and the strands."""
    from simsib.report.update_figures import stage_panels

    labels = list(stages["stage"])
    strands = {}
    for key, title in (("population.p30_entry", "Population-risk strands"), ("effect.log_hazard_ratio", "Effect strands")):
        columns = [c for c in stages.columns if c.startswith(f"{key}#")]
        if columns:
            names = [s["strand"] for s in content["inputs"].get(key, {}).get("strands", [])] or columns
            strands[title] = (names, stages[columns].to_numpy(dtype=float))
    caption = ("Median and 90% interval of MOIC on committed capital and of total outcome payments at signing "
               "and after each review" + ("; the weight of each evidence strand." if strands else "."))
    return [("stages", "The forecast at signing and after each review", caption,
             lambda ax: stage_panels(labels, {c: stages[c].to_numpy(dtype=float) for c in stages.columns
                                              if c.startswith(("moic_", "payments_"))}, strands,
                                 published_moic=content.get("reference_moic"), cap=content.get("cap"), ax=ax))]
