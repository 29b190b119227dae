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
from simsib.report.drivers import Driver, drivers
from simsib.report.formatting import money, multiple, percent
from simsib.report.headlines import stat_at


def _value(stats: Mapping[str, Any] | None, key: str = "value") -> float | None:
    if not stats:
        return None
    value = stats.get(key)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _prob(stats: Mapping[str, Any] | None) -> str | None:
    """``52.6% ± 0.5%`` for a ``{value, se}`` probability, or None."""
    value = _value(stats)
    return None if value is None else f"{percent(value)} ± {percent(_value(stats, 'se'))}"


def investor_sentence(summary: Mapping[str, Any], draws: Mapping[str, np.ndarray] | None = None) -> str | None:
    """How often investors lose money, how badly in the bad case, and the median IRR."""
    loss = _prob(stat_at(summary, "investor", "prob_loss"))
    if loss is None:
        return None
    total = _prob(stat_at(summary, "investor", "prob_total_loss"))
    text = f"Investors lose money in {loss} of draws"
    if total is not None:
        text += f" and lose almost everything (under 0.1×) in {total}"
    es = stat_at(summary, "investor", "es05")
    if _value(es) is not None:
        text += (f"; in the worst 5% of draws they get back {multiple(_value(es))} ± {multiple(_value(es, 'se'))} "
                 "of their committed capital on average")
    irr = stat_at(summary, "investor", "irr")
    if draws is not None and "irr" in draws:
        median, se = estimate(METRICS["median_irr"], {"irr": np.asarray(draws["irr"], dtype=float)})
        if np.isfinite(median):
            text += f". The median IRR is {percent(median)} ± {percent(se)} a year"
    elif _value(irr, "p50") is not None:
        text += f". The median IRR is {percent(_value(irr, 'p50'))} a year"
    return text + "."


def reference_sentence(draws: Mapping[str, np.ndarray] | None, reference_moic: float | None) -> str | None:
    """How often the scenario's reference multiple on committed capital (``meta.reference_moic``,
    Essex's published 1.45×) is reached or beaten."""
    if draws is None or reference_moic is None or "moic_committed" not in draws:
        return None
    moic = np.asarray(draws["moic_committed"], dtype=float)
    moic = moic[~np.isnan(moic)]
    if moic.size == 0:
        return None
    p = float((moic >= reference_moic).mean())
    se = float(np.sqrt(p * (1.0 - p) / moic.size))
    return (f"Investors reach the scenario's reference multiple, {multiple(reference_moic)} on committed capital, "
            f"or more in {percent(p)} ± {percent(se)} of draws.")


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
    text = f"The council expects to pay {money(mean)} ± {money(_value(payments, 'se'))} in outcome payments"
    if _value(payments, "p05") is not None:
        text += f" (90% of draws between {money(_value(payments, 'p05'))} and {money(_value(payments, 'p95'))})"
    reached = _prob(stat_at(summary, "council", "prob_cap_reached"))
    if not capped:
        text += "; the contract has no cap"
    elif reached is not None:
        text += f"; the {money(cap)} cap" if cap is not None else "; the cap"
        text += f" is reached in {reached} of draws"
    return text + "."


def deadweight_sentence(summary: Mapping[str, Any]) -> str | None:
    """How much of what the council pays for would have happened anyway, and how often it pays
    more than the care it truly avoids is worth."""
    deadweight = stat_at(summary, "council", "deadweight_share")
    mean = _value(deadweight, "mean")
    if mean is None:
        return None
    text = (f"On average {percent(mean)} ± {percent(_value(deadweight, 'se'))} of the outcomes the council pays "
            "for would have happened without the service (deadweight)")
    more = _prob(stat_at(summary, "council", "prob_pays_more_than_saved"))
    if more is not None:
        text += f"; it pays more than the true savings in {more} of draws"
    return text + "."


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
    reference multiple, each class of investors, the council's payments and cap, deadweight, and
    the input that drives the result.
    """
    if found_drivers is None and draws is not None and "moic_committed" in draws:
        found_drivers = drivers(draws)
    sentences = (
        investor_sentence(summary, draws),
        reference_sentence(draws, reference_moic),
        tranche_sentence(summary),
        council_sentence(summary, cap, capped),
        deadweight_sentence(summary),
        driver_sentence(found_drivers or ()),
    )
    return [s for s in sentences if s]
