"""The executive summary: a few plain sentences generated from a run's numbers.

One function, :func:`summary_sentences`, used at the top of the live view (``simsib app``) and
meant for the top of every report.  It reads a run's summary (``summary.json``'s sections) and,
where a sentence needs more than the summary holds, the run's per-draw columns: the median IRR's
standard error, the chance of reaching a reference multiple, and which input drives the result.
Every figure carries its Monte Carlo standard error where one applies; no sentence is written by
hand for a scenario, and a sentence whose figures a run lacks is left out.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from simsib.analysis.estimates import METRICS, estimate
from simsib.model.qmc import REPLICATE_COLUMN
from simsib.report.drivers import Driver, drivers
from simsib.report.formatting import money, multiple, percent, standard_error
from simsib.report.headlines import BAD_CASE_TOTAL_LOSS, stat_at
from simsib.run.summary import probability


def _value(stats: Mapping[str, Any] | None, key: str = "value") -> float | None:
    if not stats:
        return None
    value = stats.get(key)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _prob(stats: Mapping[str, Any] | None) -> str | None:
    """``52.6% ± 0.5%`` for a ``{value, se}`` probability, or None."""
    value = _value(stats)
    return None if value is None else f"{percent(value)} ± {standard_error(_value(stats, 'se'), 'percent')}"


def investor_sentence(summary: Mapping[str, Any], draws: Mapping[str, np.ndarray] | None = None) -> str | None:
    """How often investors lose money, how badly in the bad case, and the median IRR."""
    loss = _prob(stat_at(summary, "investor", "prob_loss"))
    if loss is None:
        return None
    total = _prob(stat_at(summary, "investor", "prob_total_loss"))
    text = f"Investors lose money in {loss} of draws"
    if total is not None and _value(stat_at(summary, "investor", "prob_total_loss")) == 0:
        text += " and in no draw lose almost everything (under 0.1×)"
    elif total is not None:
        text += f" and lose almost everything (under 0.1×) in {total}"
    es = stat_at(summary, "investor", "es05")
    if _value(es) is not None:
        text += (f"; in the worst 5% of draws they get back {multiple(_value(es))} ± "
                 f"{standard_error(_value(es, 'se'), 'multiple')} "
                 "of their committed capital on average")
    total_loss = _value(stat_at(summary, "investor", "prob_total_loss"))
    if total_loss is not None and total_loss > BAD_CASE_TOTAL_LOSS:
        text += _graded_tail(summary)
    irr = stat_at(summary, "investor", "irr")
    median = stat_at(summary, "investor", "irr_median")
    if _value(median) is not None:  # summary.json's, with its (replicate) standard error
        text += (f". The median IRR is {percent(_value(median))} ± {standard_error(_value(median, 'se'), 'percent')} "
                 "a year")
    elif draws is not None and "irr" in draws:
        columns = {key: np.asarray(draws[key]) for key in ("irr", REPLICATE_COLUMN) if key in draws}
        median, se = estimate(METRICS["median_irr"], columns)  # from the replicates under QMC sampling
        if np.isfinite(median):
            text += f". The median IRR is {percent(median)} ± {standard_error(se, 'percent')} a year"
    elif _value(irr, "p50") is not None:
        text += f". The median IRR is {percent(_value(irr, 'p50'))} a year"
    return text + "."


def _graded_tail(summary: Mapping[str, Any]) -> str:
    """When total losses are common the worst 5% are all 0×: grade the bad case further."""
    parts = []
    half = _prob(stat_at(summary, "investor", "prob_moic_below_half"))
    if half is not None:
        parts.append(f"they lose more than half of the capital they put in in {half}")
    for key, share in (("es10", "10%"), ("es25", "25%")):
        es = stat_at(summary, "investor", key)
        if _value(es) is not None:
            parts.append(f"the worst {share} of draws return {multiple(_value(es))} ± "
                         f"{standard_error(_value(es, 'se'), 'multiple')} of committed capital on average")
    return ("; " + ", ".join(parts)) if parts else ""


def reference_sentence(draws: Mapping[str, np.ndarray] | None, reference_moic: float | None,
                       summary: Mapping[str, Any] | None = None) -> str | None:
    """How often the scenario's reference multiple on committed capital (``meta.reference_moic``,
    Essex's published 1.45×) is reached or beaten: summary.json's ``investor.prob_reference``,
    or from the draws."""
    found = stat_at(dict(summary or {}), "investor", "prob_reference")
    if _value(found) is not None and (reference_moic is None or found.get("reference") == reference_moic):
        return (f"Investors reach the scenario's reference multiple, {multiple(found['reference'])} on committed "
                f"capital, or more in {_prob(found)} of draws.")
    if draws is None or reference_moic is None or "moic_committed" not in draws:
        return None
    moic = np.asarray(draws["moic_committed"], dtype=float)
    defined = ~np.isnan(moic)
    if not defined.any():
        return None
    groups = np.asarray(draws[REPLICATE_COLUMN])[defined] if REPLICATE_COLUMN in draws else None
    found = probability(moic[defined] >= reference_moic, groups)  # replicate error under QMC sampling
    return (f"Investors reach the scenario's reference multiple, {multiple(reference_moic)} on committed capital, "
            f"or more in {_prob(found)} of draws.")


def tranche_sentence(summary: Mapping[str, Any]) -> str | None:
    """Each class of investors' chance of a loss, where the term sheet has classes."""
    tranches = summary.get("investor", {}).get("tranches", {})
    parts = [f"{name} loses money in {_prob(figures.get('prob_loss'))}"
             for name, figures in tranches.items() if _prob(figures.get("prob_loss"))]
    if not parts:
        return None
    return f"By class of investor: {parts[0]} of draws" + "".join(f", {p}" for p in parts[1:]) + "."


def council_sentence(summary: Mapping[str, Any], cap: float | None = None, capped: bool = True) -> str | None:
    """What the council expects to pay, its spread, and how often the cap binds."""
    payments = stat_at(summary, "council", "outcome_payments")
    mean = _value(payments, "mean")
    if mean is None:
        return None
    text = f"The council expects to pay {money(mean)} ± {standard_error(_value(payments, 'se'), 'money')} in outcome payments"
    if _value(payments, "p05") is not None:
        text += f" (90% of draws between {money(_value(payments, 'p05'))} and {money(_value(payments, 'p95'))})"
    reached = _prob(stat_at(summary, "council", "prob_cap_reached"))
    if not capped:
        text += "; the contract has no cap"
    elif reached is not None:
        text += f"; the {money(cap)} cap" if cap is not None else "; the cap"
        text += f" is reached in {reached} of draws"
    return text + "."


def capital_sentence(summary: Mapping[str, Any]) -> str | None:
    """How often the service stops early for lack of capital, and the costs left unfunded."""
    stopped = stat_at(summary, "outcomes", "prob_service_stopped_early")
    if _value(stopped) is None:
        return None
    if _value(stopped) == 0:
        return "In no draw did the service stop early for lack of capital."
    text = f"The service stops early for lack of capital in {_prob(stopped)} of draws"
    unfunded = stat_at(summary, "outcomes", "unfunded_costs")
    if _value(unfunded, "mean"):
        text += (f", leaving {money(_value(unfunded, 'mean'))} ± {standard_error(_value(unfunded, 'se'), 'money')} "
                 "of service costs unfunded on average")
    return text + "."


def deadweight_sentence(summary: Mapping[str, Any]) -> str | None:
    """How much of what the council pays is for care days that would have been avoided anyway
    (in £ and as a share of all payments, every draw counted), and how often it pays more than
    the care it truly avoids is worth."""
    pooled = stat_at(summary, "council", "deadweight_share_of_payments")
    paid = stat_at(summary, "council", "deadweight_paid")
    deadweight = stat_at(summary, "council", "deadweight_share")
    if _value(pooled) is not None and _value(paid, "mean") is not None:
        text = (f"Of what the council pays, {money(_value(paid, 'mean'))} ± "
                f"{standard_error(_value(paid, 'se'), 'money')} on average ({_prob(pooled)} of all payments) is for "
                "care days the young people would have avoided without the service (deadweight)")
    elif _value(deadweight, "mean") is not None:
        text = (f"On average {percent(_value(deadweight, 'mean'))} ± "
                f"{standard_error(_value(deadweight, 'se'), 'percent')} of the outcomes the council pays "
                "for would have happened without the service (deadweight)")
    else:
        text = None
    more = _prob(stat_at(summary, "council", "prob_pays_more_than_saved"))
    if text is None:  # a contract paying for something other than care days: no days-based deadweight
        if _never_valued(stat_at(summary, "council", "true_savings")):
            return ("The scenario puts no value on the outcomes the council pays for (its true savings are "
                    "zero by construction), so its net benefit counts the payments only.")
        return None if more is None else f"The council pays more than the true savings in {more} of draws."
    if more is not None:
        text += f"; it pays more than the true savings in {more} of draws"
    return text + "."


def _never_valued(savings: Mapping[str, Any] | None) -> bool:
    """True savings of exactly zero in every draw: the scenario values no outcome (e.g. a cost
    per reconviction the evidence does not give), not a service that changed nothing."""
    return bool(savings) and all(_value(savings, k) == 0 for k in ("mean", "p05", "p95")) and not _value(savings, "se")


def driver_sentence(found: Sequence[Driver]) -> str | None:
    """The single input that most drives the money multiple, with its rank correlation."""
    if not found:
        return None
    top = found[0]
    direction = "higher" if top.rho > 0 else "lower"
    rho = f"{top.rho:+.2f}".replace("-", "−")
    # One significant figure: with thousands of draws the error is often below 0.01.
    return (f"The result hinges most on the {top.label} (rank correlation with the money multiple {rho} ± "
            f"{top.se:.1g}): the higher it is, the {direction} the multiple.")


def summary_sentences(
    summary: Mapping[str, Any],
    draws: Mapping[str, np.ndarray] | None = None,
    *,
    reference_moic: float | None = None,
    cap: float | None = None,
    capped: bool = True,
    found_drivers: Sequence[Driver] | None = None,
) -> list[str]:
    """The executive summary of a run, one figure-bearing sentence per question.

    Parameters
    ----------
    summary : the run's summary (the ``investor``/``council`` sections of ``summary.json``)
    draws : the run's per-draw columns (a draws table or a dict of (n,) arrays); without them the
        median IRR has no standard error and the reference and driver sentences are left out
    reference_moic : a published multiple on committed capital (``meta.reference_moic``)
    cap : the contract's cap on outcome payments, £ (``contract.cap``), named in the council's
        sentence; ``capped=False`` says the contract has none
    found_drivers : the inputs' rank correlations with the money multiple, if already computed
        (default: :func:`simsib.report.drivers.drivers` over ``draws``)

    Returns
    -------
    Sentences in reading order: investors' chance and size of a loss (and the median IRR), the
    reference multiple, each class of investors, the council's payments and cap, the service
    stopping early for lack of capital, deadweight, and the input that drives the result.
    """
    if found_drivers is None and draws is not None and "moic_committed" in draws:
        found_drivers = drivers(draws)
    sentences = (
        investor_sentence(summary, draws),
        reference_sentence(draws, reference_moic, summary),
        tranche_sentence(summary),
        council_sentence(summary, cap, capped),
        capital_sentence(summary),
        deadweight_sentence(summary),
        driver_sentence(found_drivers or ()),
    )
    return [s for s in sentences if s]
