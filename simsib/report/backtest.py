"""The backtest as Markdown and files: rows with role and percentile, the identification table,
the judgement table, and the count of predicted rows inside their interval."""

from __future__ import annotations

import pandas as pd

from simsib.analysis.backtest import JSON_KEYS, Backtest, tally
from simsib.report.formatting import money, multiple, number, percent
from simsib.run.outputs import write_analysis

FORMAT = {"multiple": multiple, "percent": percent, "money": money, "number": number}
ROLE_TEXT = {
    "predicted": "predicted (no realised data used)",
    "out_of_sample": "out of sample (another contract)",
    "fitted": "fitted (a parameter was tuned to it)",
    "derived": "derived (follows from fitted inputs, or conditioned on)",
    "reference_class": "reference class (E57)",
}


def row_cells(row) -> list[str]:
    """figure, evidence, role, published, mean, median, 90% interval, percentile, inside, scenario."""
    f = FORMAT[row["kind"]]
    return [row["figure"], row["evidence"], row["role"], f(row["published"]), f(row["mean"]), f(row["p50"]),
            f"{f(row['p05'])} – {f(row['p95'])}", percent(row["percentile"], 0),
            "yes" if row["inside_90"] else "**no**", f"`{row['scenario']}`"]


def identification_cells(row) -> list[str]:
    """p30, hazard ratio, care proportion (treated, counterfactual), net benefit (cash, PV, PV to
    the 18th birthdays), deadweight, payments, MOIC."""
    if not row["reachable"]:
        return [number(row["p30_entry"], 2), "none in 0.02–7.4", *["–"] * 8]
    return [number(row["p30_entry"], 2), number(row["hazard_ratio"], 2), percent(row["care_proportion_treated"]),
            percent(row["care_proportion_counterfactual"]),
            f"{money(row['net_benefit'])} ± {money(row['net_benefit_se'])}", money(row["net_benefit_pv"]),
            money(row["net_benefit_to_18_pv"]), percent(row["deadweight_share"]), money(row["outcome_payments"]),
            multiple(row["moic_committed"])]


IDENTIFICATION_HEAD = ("risk p30", "hazard ratio", "care %, treated", "care %, without MST", "council net benefit",
                       "net benefit, PV", "net benefit to 18, PV", "deadweight", "payments", "MOIC (committed)")


def judgement_cells(row) -> list[str]:
    """scenario, judgement, variant, P(loss), median MOIC, council net benefit (each: varied (Δ ± se))."""
    def cell(figure, fmt):
        change, se = row[f"{figure}_change"], row[f"{figure}_change_se"]
        sign = "+" if change >= 0 else ""
        return f"{fmt(row[figure])} ({sign}{fmt(change)} ± {fmt(se)})"

    return [f"`{row['scenario']}`", row["judgement"], row["variant"], cell("prob_loss", percent),
            cell("median_moic_committed", multiple), cell("net_benefit", money)]


JUDGEMENT_HEAD = ("scenario", "judgement", "set to", "P(loss) (Δ ± se)", "median MOIC (Δ)", "council net benefit (Δ ± se)")


def _table(head, rows) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def markdown(result: Backtest) -> str:
    rows = result.rows
    inside, of = tally(rows)
    lines = [f"# Backtest · {result.header.get('draws', 0):,} draws per scenario · seed {result.header.get('seed')}",
             "",
             f"**{inside} of {of} predicted and out-of-sample rows are inside their 90% interval.** "
             "Fitted and derived rows check the tuning, not the model; they are listed for completeness.",
             "", "Roles: " + "; ".join(f"*{k}*: {v}" for k, v in ROLE_TEXT.items()) + ".", "",
             "Percentile: the share of the model's draws at or below the published value (reference class: where the "
             "scenario's P(loss) lies in the Jeffreys Beta(2.5, 48.5) distribution of the completed bonds' loss rate).",
             ""]
    head = ("figure", "evidence", "role", "published", "model mean", "median", "90% interval", "percentile",
            "inside", "scenario")
    for role in ("predicted", "out_of_sample", "reference_class", "fitted", "derived"):
        chosen = rows[rows["role"] == role]
        if chosen.empty:
            continue
        lines += [f"## {ROLE_TEXT[role][0].upper()}{ROLE_TEXT[role][1:]}", ""]
        lines += _table(head, [row_cells(r) for r in chosen.to_dict(orient="records")])
        notes = [(r["figure"], r["scenario"], r["note"], r["fitted_parameters"]) for r in chosen.to_dict(orient="records")]
        lines.append("")
        for figure, scenario, note, fitted in notes:
            extra = f" Fitted parameters: {', '.join(f'`{k}`' for k in fitted)}." if fitted else ""
            text = " ".join(part for part in (note + ("." if note and not note.endswith(".") else ""), extra.strip()) if part)
            if text:
                lines.append(f"- {figure} (`{scenario}`): {text}")
        if role == "reference_class":
            lines.append("- Survivorship: the completed bonds are those that reached the end and reported; failed and "
                         "renegotiated deals report less, and in 2016 only 4 of 60 SIBs had repaid capital (E57). The "
                         "completed-bond loss rate is a floor for a new contract's, not an estimate of it.")
        lines.append("")
    if result.identification is not None:
        lines += ["## What the data cannot tell apart (identification)", "",
                  "Each row fixes the referred population's risk and solves for the hazard ratio that reproduces "
                  "Essex's 10.8% care proportion under `essex-realised`'s observed delivery. All fit the published "
                  "outcome; the council's result does not follow from it.", ""]
        lines += _table(IDENTIFICATION_HEAD, [identification_cells(r) for r in result.identification.to_dict(orient="records")])
        lines.append("")
    if result.judgements is not None:
        lines += ["## Judgement sensitivity", "",
                  "Each judgement set to the ends of a plausible range, on common random numbers (change from the "
                  "scenario as bundled, ± paired standard error).", ""]
        lines += _table(JUDGEMENT_HEAD, [judgement_cells(r) for r in result.judgements.to_dict(orient="records")])
        lines += [""] + [f"- {name}: {why}" for name, why in dict(zip(result.judgements["judgement"],
                                                                        result.judgements["why"])).items()]
        lines.append("")
    return "\n".join(lines)


def write_backtest(result: Backtest, out_dir) -> list[str]:
    """backtest.csv (every column), backtest.md, backtest.json (rows with the JSON keys and the
    note, plus the two tables), identification.csv and judgements.csv."""
    payload = {**result.header,
               "rows": [{**row, "note": note} for row, note in zip(result.json_rows(), result.rows["note"])],
               "identification": _records(result.identification), "judgements": _records(result.judgements)}
    written = write_analysis(out_dir, "backtest", result.rows, markdown(result), payload)
    for stem, table in (("identification", result.identification), ("judgements", result.judgements)):
        if table is not None:
            table.to_csv(f"{out_dir}/{stem}.csv", index=False)
            written.append(f"{stem}.csv")
    return written


def _records(table: pd.DataFrame | None):
    if table is None:
        return None
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


__all__ = ["JSON_KEYS", "markdown", "write_backtest"]
