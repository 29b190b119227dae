"""Mechanism comparison results as a table and files."""

from __future__ import annotations

import numpy as np

from simsib.analysis.mechanism_comparison import MechanismResult
from simsib.report.formatting import money, percent, standard_error
from simsib.run.outputs import write_analysis


def markdown_table(result: MechanismResult) -> str:
    """One row per mechanism: price, expected payment, P(pays more than saved), payment spread,
    investors' P(loss) and median IRR."""

    lines = [
        "| mechanism | price | expected payment | council P(pays > saved) | payment sd | payment p05–p95 "
        "| investors' P(loss) | median IRR |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.table.itertuples(index=False):
        price = "as declared" if r.price is None or (isinstance(r.price, float) and np.isnan(r.price)) \
            else f"£{r.price:,.2f}" + ("" if r.priced else " (cap binds: not matched)")
        lines.append(
            f"| {r.mechanism} | {price} | {money(r.outcome_payments)} ± {money(r.outcome_payments_se)} | "
            f"{percent(r.prob_pays_more_than_saved)} ± {standard_error(r.prob_pays_more_than_saved_se, 'percent')} | "
            f"{money(r.payment_sd)} | {money(r.payment_p05)} – {money(r.payment_p95)} | "
            f"{percent(r.prob_loss)} ± {standard_error(r.prob_loss_se, 'percent')} | {percent(r.median_irr)} ± "
            f"{standard_error(r.median_irr_se, 'percent')} |"
        )
    lines.append("")
    lines += [f"- **{r.mechanism}**: {r.description}" for r in result.table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_mechanisms(result: MechanismResult, out_dir) -> list[str]:
    """Write mechanisms.csv, mechanisms.md and mechanisms.json into ``out_dir``."""

    return write_analysis(out_dir, "mechanisms", result.table, markdown_table(result), result.header)
