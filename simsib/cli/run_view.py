"""What ``simsib run`` (and ``simsib update``) print: a run's summary, readable at 80 columns.

First the investors' headline in a sentence -- the median IRR, with the mean (dragged down by
draws that lose everything) and the chance of a total loss beside it; then the headline table
(mean ± se and the 90% interval of each figure, with what the council needs beside the headline
figures: savings as the contract counts next to true savings, unfunded costs, the chance the
service stops early for lack of capital); when the cap binds; the council's payments by
financial year where the summary has them; and each tranche's figures.  Reads ``summary.json``'s
dictionary only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from simsib.cli.terminal import FORMATS, count, estimate, figure_label, note, show
from simsib.report.formatting import money, standard_error
from simsib.report.headlines import headlines, shown, stat_at, tranche_rows

# Council figures the headline table adds where the summary has them and the headlines do not:
# (key after which the row goes, label, section, key, kind).
COUNCIL_ROWS = (
    ("prob_cap_reached", "council", "contract_savings", "money"),
    ("payments_without_effect", "outcomes", "unfunded_costs", "money"),
    ("payments_without_effect", "outcomes", "prob_service_stopped_early", "prob"),
)


def _value(stats: dict | None, key: str) -> float | None:
    return None if not stats else stats.get(key)


def headline_rows(summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """:func:`simsib.report.headlines.headlines` with the council rows of :data:`COUNCIL_ROWS`
    (each after its anchor, or at the end when the anchor is absent): (label, section, key, kind)."""
    rows = list(headlines(summary))
    keys = {key for _, _, key, _ in rows}
    for anchor, section, key, kind in reversed(COUNCIL_ROWS):
        if key in keys or stat_at(summary, section, key) is None:
            continue
        at = next((i + 1 for i, (_, _, k, _) in enumerate(rows) if k == anchor), len(rows))
        rows.insert(at, (figure_label(key), section, key, kind))
    return rows


def headline_cells(summary: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """Rows of the headline table (figure, mean ± se, p05, median, p95) and notes on undefined figures."""
    rows, notes = [], []
    for label, section, key, kind in headline_rows(summary):
        stats = shown(summary, section, key)
        if stats is None:
            continue
        fmt = count if kind == "number" else FORMATS[kind]
        if "value" in stats:
            rows.append([label, estimate(stats["value"], stats.get("se"), kind), "", "", ""])
        else:
            mean = f"{fmt(stats['mean'])} ± {standard_error(stats['se'], kind)}" if stats.get("se") is not None \
                else fmt(stats["mean"])
            rows.append([label, mean, fmt(stats.get("p05")), fmt(stats.get("p50")), fmt(stats.get("p95"))])
        if stats.get("value", stats.get("mean")) is None and stats.get("reason"):
            notes.append(f"{label}: – {stats['reason']}")
    return rows, notes


def median_irr(draws_file: Path) -> tuple[float, float] | None:
    """The median IRR of a run's ``draws.parquet`` and its Monte Carlo standard error (from the
    replicates under QMC sampling), as the sweep and the report estimate it; None if unreadable."""
    import pyarrow.parquet as pq

    from simsib.analysis.estimates import METRICS
    from simsib.analysis.estimates import estimate as estimate_metric
    from simsib.model.qmc import REPLICATE_COLUMN

    try:  # ParquetFile, not read_table: the dataset layer behind read_table imports pandas
        source = pq.ParquetFile(draws_file)
        names = source.schema_arrow.names
        table = source.read(columns=[c for c in ("irr", REPLICATE_COLUMN) if c in names])
    except (OSError, ValueError):
        return None
    columns = {name: _floats(table.column(name)) for name in table.column_names}
    if "irr" not in columns:
        return None
    value, se = estimate_metric(METRICS["median_irr"], columns)
    return value, se


def _floats(column):
    """A pyarrow column as float64 values, read from its buffers: pyarrow's ``to_numpy`` imports
    pandas, which ``simsib run`` must not (its start-up time)."""
    import numpy as np
    import pyarrow as pa

    parts = []
    for chunk in column.cast(pa.float64()).chunks:
        values = np.frombuffer(chunk.buffers()[1], dtype=np.float64)[chunk.offset:chunk.offset + len(chunk)].copy()
        if chunk.null_count:  # no simsib column has nulls (undefined is NaN); treat any as undefined
            valid = np.unpackbits(np.frombuffer(chunk.buffers()[0], dtype=np.uint8), bitorder="little")
            values[valid[chunk.offset:chunk.offset + len(chunk)] == 0] = np.nan
        parts.append(values)
    return np.concatenate(parts) if parts else np.zeros(0)


def investor_sentence(summary: dict[str, Any], median: tuple[float, float] | None = None) -> str | None:
    """The investors' headline: the median IRR (``investor.irr_median`` where summarised, else
    ``median``: its value and standard error, else the IRR's p50), the mean and the chance of a
    total loss beside it."""
    irr = stat_at(summary, "investor", "irr")
    summarised = stat_at(summary, "investor", "irr_median")  # {value, se} where summary.json has it
    if _value(summarised, "value") is not None:
        median = (summarised["value"], _value(summarised, "se"))
    value, se = median if median is not None else (_value(irr, "p50"), None)
    if value is None:
        return None
    text = f"Investors: median IRR {estimate(value, se, 'percent')} a year"
    beside = []
    if _value(irr, "mean") is not None:
        beside.append(f"mean {estimate(irr['mean'], irr.get('se'), 'percent')}")
    total = stat_at(summary, "investor", "prob_total_loss")
    if _value(total, "value") is not None:
        beside.append(f"total loss in {estimate(total['value'], total.get('se'), 'prob')} of draws")
    loss = stat_at(summary, "investor", "prob_loss")
    if beside:
        text += f" ({'; '.join(beside)})"
    if _value(loss, "value") is not None:
        text += f"; a loss in {estimate(loss['value'], loss.get('se'), 'prob')}"
    return text + "."


def cap_sentence(summary: dict[str, Any]) -> str | None:
    """When the cap binds: how often, and in which quarter (over the draws that reach it)."""
    reached = stat_at(summary, "council", "prob_cap_reached")
    if _value(reached, "value") is None:
        return None
    text = f"Cap on payments reached in {estimate(reached['value'], reached.get('se'), 'prob')} of draws"
    quarter = stat_at(summary, "council", "cap_quarter")
    if _value(quarter, "p50") is not None:
        text += (f"; when it is, in quarter {quarter['p50']:.0f} from the start (median; 90% between quarters "
                 f"{quarter['p05']:.0f} and {quarter['p95']:.0f}): payments stop there")
    return text + "."


def by_year_title(summary: dict[str, Any]) -> str:
    """Financial years where the scenario dates its start ("2013/14"), else contract years
    ("year 1"); and from how many draws, when the quarterly sample is smaller than the run."""
    years = summary["council"]["payments_by_year"]
    kind = "contract year" if str(years[0]["year"]).startswith("year ") else "financial year"
    sample = years[-1].get("n")
    drawn = f", from the first {sample:,} draws" if sample and sample < summary.get("draws", sample) else ""
    return (f"Council's outcome payments by {kind} (over draws{drawn}: a year's percentiles need not add up to "
            "the total's)")


def by_year_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The council's outcome payments per financial year (``council.payments_by_year``), if summarised."""
    years = summary.get("council", {}).get("payments_by_year") or []
    return [[str(y["year"]), money(y.get("mean")), money(y.get("p05")), money(y.get("p50")), money(y.get("p95"))]
            for y in years]


def print_summary(console: Console, summary: dict[str, Any], median: tuple[float, float] | None = None) -> None:
    """Everything ``simsib run`` prints about a run, fitted to the console; ``median``: the median
    IRR and its standard error (:func:`median_irr`), else the summary's median without one."""
    title = f"simsib · {summary['scenario']} · {summary['draws']:,} draws · seed {summary['seed_entropy']}"
    console.print(title, style="bold", highlight=False)
    for caveat in summary.get("caveats", ()):
        note(console, f"Caveat: {caveat}")
    sentence = investor_sentence(summary, median)
    if sentence:
        note(console, sentence)
    rows, notes = headline_cells(summary)
    show(console, None, ["figure", "mean ± se", "p05", "median", "p95"], rows)
    for text in notes:
        note(console, text)
    sentence = cap_sentence(summary)
    if sentence:
        note(console, sentence)
    years = by_year_rows(summary)
    if years:
        console.print()
        show(console, by_year_title(summary), ["year", "mean", "p05", "median", "p95"], years)
    names, tranche = tranche_rows(summary)
    if names:
        console.print()
        cells = []
        for label, kind, stats in tranche:
            cells.append([label, *("" if s is None or s.get("value", s.get("mean")) is None else
                                   estimate(s.get("value", s.get("mean")), s.get("se"), kind)
                                   + ("" if "value" in s else f" ({FORMATS[kind](s['p50'])})")
                                   for s in stats)])
        show(console, "Investors by tranche: mean ± se (median)", ["figure", *names], cells)
