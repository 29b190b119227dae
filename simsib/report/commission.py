"""The commissioning comparison in words and tables: the terminal, Markdown, HTML and files.

Everything here formats what :mod:`simsib.analysis.commission_tables` computed: rows of the
options and cash tables, the parts of the SIB's extra cost, and the sentences a cabinet paper
would carry (the price of risk transfer, the bad case, which option is better, the £4-for-£1
claim).  Figures, files and the run report's section are in :mod:`simsib.report.commission_section`.
"""

from __future__ import annotations

from typing import Any

from simsib.report.formatting import money, number, percent
from simsib.scenario.evidence import label

COMMISSION_STEM = "commission"
DRAWS_FILE = "commission_draws.parquet"
FIGURE_FILES = ("commission.png", "commission_cash.png")
OPTIONS = ("sib", "direct", "pbr", "do_nothing")
OPTION_LABELS = {o: (lambda text: text[0].upper() + text[1:])(label(f"commission.option.{o}", short=True))
                 for o in OPTIONS}
OPTION_SHORT = {"sib": "SIB", "direct": "direct", "pbr": "PbR", "do_nothing": "do nothing"}
HORIZON_TEXT = {"to_18": "care avoided to each young person's 18th birthday",
                "window": "care avoided inside the contract's tracking windows"}


def _pm(stat: dict[str, Any] | None, fmt=money) -> str:
    """``mean ± se`` of a {mean, se} (or {value, se}) statistic."""
    if not stat:
        return "–"
    central = stat.get("mean", stat.get("value"))
    return f"{fmt(central)} ± {fmt(stat.get('se'))}" if stat.get("se") is not None else fmt(central)


def _year(quarter: float | None) -> str:
    """Contract year of a quarter counted from 0 at contract start."""
    return "–" if quarter is None else f"year {int(quarter) // 4 + 1}"


def _signed(value: float | None) -> str:
    text = money(value)
    return text if text.startswith(("−", "–")) else f"+{text}"


# --- tables ---------------------------------------------------------------------------------

OPTION_HEADER = ["option", "mean ± se", "p05", "median", "p95", "P(< 0)", "worst 10%"]
CASH_HEADER = ["option", "cost, PV", "outlay, PV", "peak cash need", "p95", "peak", "by year 2"]
CASH_HEADER_SHORT = [c for c in CASH_HEADER if c != "p95"]  # the terminal's 80 columns
EARLY_YEAR = 2  # "money up front": the council's net outlay by the end of this contract year


def option_rows(tables: dict[str, Any], short: bool = False) -> list[list[str]]:
    """Per option: its net benefit against doing nothing (PV: mean ± se, p05, median, p95),
    P(net benefit < 0) and the mean of its worst 10% of draws."""
    names = OPTION_SHORT if short else OPTION_LABELS
    rows = []
    for r in tables["options"]:
        net = r["net_benefit_pv"]
        rows.append([names[r["option"]], _pm(net), money(net["p05"]), money(net["p50"]), money(net["p95"]),
                     percent(r["prob_net_benefit_negative"]["value"]), money(r["worst_10pct"]["mean"])])
    return rows


def cash_rows(tables: dict[str, Any], short: bool = False) -> list[list[str]]:
    """Per option: the council's cost (its care bill plus outlays, PV), its outlays (PV), peak cash
    need (mean ± se, p95), the median year of the peak, and the mean net outlay by the end of
    year :data:`EARLY_YEAR` (outlays less care avoided so far).  ``short``: short names, no p95."""
    names = OPTION_SHORT if short else OPTION_LABELS
    rows = []
    for r in tables["options"]:
        by_year = tables["cash_by_year"][r["option"]]
        early = by_year[EARLY_YEAR - 1] if len(by_year) >= EARLY_YEAR else None
        p95 = [] if short else [money(r["peak_cash_need"]["p95"])]
        rows.append([names[r["option"]], money(r["cost_pv"]["mean"]), money(r["outlay_pv"]["mean"]),
                     _pm(r["peak_cash_need"]), *p95, _year(r["peak_cash_quarter_median"]), money(early)])
    return rows


def parts_rows(tables: dict[str, Any]) -> list[list[str]]:
    """What the SIB's extra cost over direct commissioning is made of (mean ± paired se), and its total."""
    risk = tables["risk_transfer"]
    rows = [[p["label"], _pm(p)] for p in risk["parts"]]
    rows.append(["SIB's extra cost over direct commissioning, present value", _pm(risk["extra_cost_pv"])])
    return rows


# --- sentences ------------------------------------------------------------------------------

OPTION_PHRASE = {"sib": "the SIB", "direct": "direct commissioning", "pbr": "payment by results without investors",
                 "do_nothing": "doing nothing"}
PART_SHORT = {"investors_return": "investors' return", "spv_fees": "SPV fees", "other_spv_flows": "other SPV cash",
              "service_not_delivered": "service not delivered", "management_extra": "council management",
              "term_sheet_cost": "term-sheet costs", "care_not_delivered": "care not avoided",
              "paying_later": "paying later"}


def _size(stat: dict[str, Any], fmt=money) -> str:
    """``|mean| ± se``: a difference whose direction the sentence states in words."""
    return _pm({**stat, "mean": abs(stat["mean"])}, fmt)


def _better(entry: dict[str, Any], what: str) -> str:
    text = (f"{OPTION_PHRASE[entry['option']]}, by {_pm(entry['margin'])} over "
            f"{OPTION_PHRASE[entry['versus']]}")
    return text if entry["clear"] else text + f" (within two standard errors: no clear difference {what})"


def verdict_lines(tables: dict[str, Any], header: dict[str, Any]) -> list[str]:
    """The comparison's findings as sentences, each figure with its standard error."""
    risk = tables["risk_transfer"]
    extra = risk["extra_cost_pv"]
    parts = ", ".join(f"{PART_SHORT[p['part']]} {_signed(p['mean'])}" for p in risk["parts"]
                      if p["mean"] is not None and abs(p["mean"]) >= 500)
    bad = risk["bad_case"]
    diff = bad["sib_less_direct"]
    lines = [
        f"Price of risk transfer: the SIB costs the council {_size(extra)} "
        f"{'more' if extra['mean'] >= 0 else 'less'} than direct commissioning in present value "
        f"({parts or 'no part above £500'}).",
        f"What the insurance is worth: in its worst 10% of draws the council's net benefit averages "
        f"{_pm(bad['sib'])} under the SIB and {_pm(bad['direct'])} under direct commissioning: the SIB's bad "
        f"case is {_size(diff)} {'better' if diff['mean'] >= 0 else 'worse'}.",
    ]
    fails = risk["programme_fails"]
    if fails["sib_advantage_when_fails"] is not None:
        lines.append(f"Where the programme fails (its care avoided is worth less than it costs: "
                     f"{_pm(fails['share'], percent)} of draws) the SIB leaves the council "
                     f"{_off(fails['sib_advantage_when_fails'])} than direct commissioning"
                     + (f"; where it succeeds, {_off(fails['sib_advantage_otherwise'])}."
                        if fails["sib_advantage_otherwise"] is not None else "."))
    lines += [
        f"Better expected value: {_better(risk['better_expected'], 'in expectation')}; of the ways to pay for the "
        f"service, {_better(risk['better_expected_funding'], 'in expectation')}.",
        f"Better bad case (worst 10% of draws): {_better(risk['better_bad_case'], 'in the bad case')}; of the ways "
        f"to pay for the service, {_better(risk['better_bad_case_funding'], 'in the bad case')}.",
    ]
    provider = risk["provider_under_pbr"]
    result = provider["result"]
    lines.append(
        f"Payment by results without investors: the provider needs up to {_pm(provider['peak_working_capital'])} "
        f"of working capital (p95 {money(provider['peak_working_capital']['p95'])}), pays "
        f"{_pm(provider['financing_cost'])} to finance it at {_rate(header.get('provider_financing_rate'))}, "
        f"ends {_size(result)} {'ahead' if result['mean'] >= 0 else 'behind'} on average and loses money in "
        f"{_pm(provider['prob_loss'], percent)} of draws.")
    stopped = risk["sib_prob_stopped_early"]
    if stopped["value"] > 0:
        draws = header["draws"]
        share = (f"{_pm(stopped, percent)} of" if stopped["value"] >= 0.01
                 else f"{round(stopped['value'] * draws):,} of {draws:,}")
        lines.append(f"The SIB's SPV ran out of cash and stopped taking young people in {share} draws; the other "
                     "options go on serving them.")
    lines.append(f"Investors lose money in {_pm(risk['investors_prob_loss'], percent)} of draws; the SIB pays "
                 f"{_pm(risk['deadweight_paid'])} for care days the young people would have avoided anyway.")
    lines.append(claim_line(tables["savings_per_pound"]))
    lines.append(IDENTIFICATION)
    return lines


# DESIGN.md: say so wherever the council's result is reported (E47).
IDENTIFICATION = ("Every council figure here rests on the scenario's beliefs about how much at risk the referred "
                  "young people are and how well the service works: an outcome such as Essex's 10.8% care "
                  "proportion fits a low-risk population with a modest effect and a high-risk one with a large "
                  "effect alike (E47), and the council's benefit differs greatly between them (simsib backtest's "
                  "identification table).")


def _off(stat: dict[str, Any]) -> str:
    return f"{_size(stat)} {'better' if stat['mean'] >= 0 else 'worse'} off"


def _rate(rate: Any) -> str:
    return percent(rate) + " a year" if isinstance(rate, (int, float)) else f"{rate} a year"


def claim_line(claim: dict[str, Any]) -> str:
    """The £4-for-£1 claim (E14) beside the distribution of care avoided per £ of service."""
    ratio, claimed = claim["ratio"], f"£{claim['claimed']:g}"
    return (f"{claimed} saved for every £1 spent (E14, the launch claim): on this scenario's evidence the care "
            f"avoided per £ spent on the service averages {_pounds(ratio['mean'])} ± {number(ratio['se'], 2)} "
            f"(median {_pounds(ratio['p50'])}, 90% of draws between {_pounds(ratio['p05'])} and "
            f"{_pounds(ratio['p95'])}); P(at least {claimed}) {_pm(claim['prob_at_least_claimed'], percent)}, "
            f"P(at least £1) {_pm(claim['prob_at_least_one'], percent)}.")


def _pounds(value: float | None) -> str:
    """£ with pence, the sign before the £: ``−£0.38``."""
    if value is None:
        return "–"
    return f"{'−' if value < 0 else ''}£{abs(value):.2f}"


# --- Markdown and files ---------------------------------------------------------------------


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def intro(header: dict[str, Any]) -> str:
    """What the tables are, in one paragraph."""
    horizon = header.get("horizon", "to_18")
    return (f"{header['draws']:,} draws of {header['scenario']} on common random numbers (seed "
            f"{header['seed_entropy']}): the same referrals and care paths priced four ways. Net benefit is "
            f"against doing nothing: {HORIZON_TEXT[horizon]}, less what the council pays, in present value at "
            f"{_rate(header.get('discount_rate'))}; each mean ± its Monte Carlo standard error, differences "
            "paired draw by draw. Cost is the council's care bill plus outlays; cash need is the most its "
            "outlays exceed the care avoided so far, and the net outlay by year 2 its mean by then (not "
            "discounted).")


def commission_markdown(header: dict[str, Any], tables: dict[str, Any], figures: bool = True) -> str:
    """The comparison for one horizon in Markdown: intro, tables, findings and figure links."""
    out = [intro(header), "", md_table(OPTION_HEADER, option_rows(tables)), "",
           md_table(CASH_HEADER, cash_rows(tables)), "", "**The SIB's extra cost over direct commissioning** "
           "(cash, mean ± paired se; the parts add up exactly):", "",
           md_table(["part", "£"], parts_rows(tables)), ""]
    out += [f"- {line}" for line in verdict_lines(tables, header)] + [""]
    if figures:
        out += [f"![The council's net benefit under each option]({FIGURE_FILES[0]})", "",
                f"![The council's cumulative net outlay]({FIGURE_FILES[1]})", ""]
    return "\n".join(out)
