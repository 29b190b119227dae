"""Summary statistics of per-draw metrics, each with its Monte Carlo standard error.

Every distribution statistic is ``{mean, se, p05, p25, p50, p75, p95, n}`` where ``se`` is the
standard error of the mean (sample sd ÷ √n over the draws where the metric is defined).
Probabilities are ``{value, se}`` with the binomial ``se = √(p(1−p)/n)``.  A figure undefined in
every draw (MOIC when no capital is committed or drawn) is ``null``, with a ``reason`` saying
why -- never a number such as 0% that would read as an answer.  The expected
shortfall ``es05`` is the mean MOIC (on committed capital) of the worst 5% of draws, with the
influence-function standard error of Hong & Liu (2009).

Under randomised quasi-Monte Carlo sampling (``simulation.sampling`` = ``"sobol"`` or
``"lhs"``) the draws are not independent, and these iid formulas would be wrong (too large, when
QMC works).  Every standard error then comes from *replicates* -- groups of draws that are
independent of each other (:func:`simsib.model.qmc.replicate_ids`) -- by the batch-means
estimator :func:`replicate_se`; ``summary.json``'s ``standard_errors`` says which was used.

Statistics are computed column by column from a reader, so a run of millions of draws never
needs more than one column in memory at a time.

Beyond the fixed figures, every column a scenario adds is summarised too (see
:data:`SCENARIO_COLUMNS`): payments per mechanism (``council.paid_mechanism_<i>``, with the
mechanism's ``type``) and per payer (``council.paid_payer_<name>``), the payments the contract
would make without any effect (``council.payments_without_effect``), and the events and
milestones of recurrent and attainment cohorts (``outcomes.events_*``, ``outcomes.event_reduction_*``,
``outcomes.attained_*``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from simsib.contract.irr import IRR_STATUS_TEXT, IrrStatus
from simsib.contract.metrics import TOTAL_LOSS_MOIC
from simsib.run import decision
from simsib.run.pipeline import QUARTERLY_SERIES
from simsib.run.reasons import NO_CAP, NOT_CARE_DAYS

PERCENTILES = (5, 25, 50, 75, 95)
TAIL = 0.05

# (section, summary key, draws column): the distributions reported in summary.json.
DISTRIBUTIONS = (
    ("investor", "moic_committed", "moic_committed"),
    ("investor", "moic_drawn", "moic_drawn"),
    ("investor", "irr", "irr"),
    ("investor", "capital_drawn", "capital_drawn"),
    ("investor", "distributions", "distributions"),
    ("investor", "investor_profit", "investor_profit"),
    ("investor", "npv", "npv"),
    ("investor", "payback_quarter", "payback_quarter"),
    ("investor", "peak_capital_at_risk", "peak_capital_at_risk"),
    ("council", "outcome_payments", "outcome_payments"),
    ("council", "contract_savings", "contract_savings"),
    ("council", "true_savings", "true_savings"),
    ("council", "deadweight_share", "deadweight_share"),
    ("council", "deadweight_paid", "deadweight_paid"),
    ("council", "net_benefit", "net_benefit"),
    ("council", "net_benefit_pv", "net_benefit_pv"),
    ("council", "true_savings_pv", "true_savings_pv"),
    ("council", "outcome_payments_pv", "outcome_payments_pv"),
    ("council", "true_savings_to_18", "true_savings_to_18"),
    ("council", "true_savings_to_18_pv", "true_savings_to_18_pv"),
    ("council", "net_benefit_to_18", "net_benefit_to_18"),
    ("council", "net_benefit_to_18_pv", "net_benefit_to_18_pv"),
    ("outcomes", "care_days_saved_to_18", "care_days_saved_to_18"),
    ("council", "cap_quarter", "cap_quarter"),
    ("outcomes", "young_people_started", "young_people_started"),
    ("outcomes", "young_people_completed", "young_people_completed"),
    ("outcomes", "year1_starts", "year1_starts"),
    ("outcomes", "care_proportion_treated", "care_proportion_treated"),
    ("outcomes", "care_proportion_counterfactual", "care_proportion_counterfactual"),
    ("outcomes", "care_days_saved_contract", "care_days_saved_contract"),
    ("outcomes", "care_days_saved_true", "care_days_saved_true"),
    ("outcomes", "care_days_treated", "care_days_treated"),
    ("outcomes", "care_days_counterfactual", "care_days_counterfactual"),
    ("outcomes", "unfunded_costs", "unfunded_costs"),
)

# (section, summary key, draws columns, event): the probabilities reported in summary.json, each
# the share of draws where ``event(*columns)`` is true.  MOIC on drawn capital is NaN only where
# nothing was drawn: the investor put nothing at risk, so that draw is not a loss (NaN < 1 is
# False); if that is so in every draw, the probability is undefined (see summarise).
EVENTS = (
    ("investor", "prob_loss", ("moic_drawn",), lambda moic: moic < 1.0),
    ("investor", "prob_total_loss", ("moic_drawn",), lambda moic: moic < TOTAL_LOSS_MOIC),
    ("investor", "prob_moic_below_half", ("moic_drawn",), lambda moic: moic < 0.5),
    ("council", "prob_cap_reached", ("cap_reached",), lambda reached: reached.astype(bool)),
    ("council", "prob_pays_more_than_saved", ("outcome_payments", "true_savings"), lambda paid, saved: paid > saved),
    ("outcomes", "prob_service_stopped_early", ("service_stopped_early",), lambda stopped: stopped.astype(bool)),
)
IID_SE = {"method": "iid", "text": "sample standard deviation / sqrt(draws); binomial for probabilities"}

# (section, column prefix): the per-draw columns whose names depend on the scenario.
SCENARIO_COLUMNS = (
    ("council", "paid_mechanism_"),
    ("council", "paid_payer_"),
    ("council", "payments_without_effect"),
    ("outcomes", "events_"),
    ("outcomes", "event_reduction_"),
    ("outcomes", "attained_"),
)

ColumnReader = Callable[[str], np.ndarray]


def replicate_se(values: np.ndarray, groups: np.ndarray) -> float | None:
    """Standard error of the mean of ``values`` from the spread of independent replicates' means.

    ``groups`` (same shape as ``values``) labels each draw's replicate; NaN values are left out.
    With replicate means ``m_r`` over ``n_r`` values, ``w_r = n_r / n`` and the overall mean
    ``m = sum(w_r m_r)``, the batch-means (ratio) estimator is

        se² = R / (R − 1) · sum(w_r² (m_r − m)²),

    which for equal replicates is the familiar ``sd(m_r) / sqrt(R)``.  It makes no assumption
    about the draws inside a replicate (they may be a QMC point set), only that replicates are
    independent and identically constructed.  None with fewer than two replicates.
    """
    values = np.asarray(values, dtype=float)
    defined = ~np.isnan(values)
    labels, group = np.unique(np.asarray(groups)[defined], return_inverse=True)
    if labels.size < 2:
        return None
    counts = np.bincount(group)
    sums = np.bincount(group, weights=values[defined])
    means = sums / counts
    weights = counts / counts.sum()
    mean = float(sums.sum() / counts.sum())  # = sum(w_r m_r), and exact where every value is equal
    return float(np.sqrt(labels.size / (labels.size - 1) * ((weights * (means - mean)) ** 2).sum()))


def standard_error(values: np.ndarray, groups: np.ndarray | None = None, probability: bool = False) -> float | None:
    """Monte Carlo standard error of the mean of ``values`` (NaN left out): from replicates when
    ``groups`` labels them (QMC sampling), else iid -- ``sd/√n``, or binomial for 0/1 events."""
    if groups is not None:
        return replicate_se(values, groups)
    values = np.asarray(values, dtype=float)
    defined = values[~np.isnan(values)]
    n = defined.size
    if probability and n:
        p = float(defined.mean())
        return float(np.sqrt(p * (1.0 - p) / n))
    return float(defined.std(ddof=1) / np.sqrt(n)) if n > 1 else None


def distribution(values: np.ndarray, groups: np.ndarray | None = None) -> dict[str, float]:
    """Mean, its standard error and percentiles over the defined (non-NaN) values.

    ``groups`` labels each draw's replicate under QMC sampling (see :func:`replicate_se`).
    """
    values = np.asarray(values, dtype=float)
    defined = values[~np.isnan(values)]
    n = defined.size
    if n == 0:
        return {"mean": None, "se": None, **{f"p{p:02d}": None for p in PERCENTILES}, "n": 0,
                "reason": "undefined in every draw"}
    if groups is not None:
        se = replicate_se(values, groups)
    else:
        se = float(defined.std(ddof=1) / np.sqrt(n)) if n > 1 else None
    quantiles = np.percentile(defined, PERCENTILES)
    return {"mean": float(defined.mean()), "se": se,
            **{f"p{p:02d}": float(q) for p, q in zip(PERCENTILES, quantiles)}, "n": int(n)}


def probability(events: np.ndarray, groups: np.ndarray | None = None) -> dict[str, float]:
    """Share of draws where ``events`` is true, with its binomial (or replicate) standard error."""
    events = np.asarray(events, dtype=bool)
    p = float(events.mean())
    if groups is not None:
        return {"value": p, "se": replicate_se(events.astype(float), groups)}
    return {"value": p, "se": float(np.sqrt(p * (1.0 - p) / events.size))}


def undefined_probability(reason: str) -> dict[str, float | str | None]:
    """A probability that has no value: ``{value: null, se: null, reason}``."""
    return {"value": None, "se": None, "reason": reason}


def expected_shortfall(values: np.ndarray, tail: float = TAIL, groups: np.ndarray | None = None) -> dict[str, float]:
    """Mean of the worst ``tail`` share of draws, and its standard error.

    ``se = sd((X − VaR)·1{X ≤ VaR}) ÷ (tail·√n)`` (influence function of the lower-tail mean);
    with ``groups``, the replicate standard error of the same influence terms.
    """
    values = np.asarray(values, dtype=float)
    defined = ~np.isnan(values)
    groups = np.asarray(groups)[defined] if groups is not None else None
    values = values[defined]
    n = values.size
    if n == 0:
        return {"value": None, "se": None, "var": None, "tail": tail, "reason": "undefined in every draw"}
    k = max(1, int(np.floor(tail * n)))
    worst = np.partition(values, k - 1)[:k]
    var = float(worst.max())
    tail_terms = np.minimum(values - var, 0.0)
    if groups is not None:
        se = replicate_se(tail_terms / tail, groups)
    else:
        se = float(tail_terms.std(ddof=1) / (tail * np.sqrt(n))) if n > 1 else None
    return {"value": float(worst.mean()), "se": se, "var": var, "tail": tail}


def summarise(read: ColumnReader, n_draws: int, columns: Sequence[str] = (), scenario: Any = None,
              groups: np.ndarray | None = None, replicates_text: str = "",
              quarterly_payments: np.ndarray | None = None) -> dict:
    """The ``standard_errors``, ``investor``, ``council`` and ``outcomes`` sections of summary.json,
    and the term sheet's (see :func:`term_sheet_sections`) for the draws ``columns`` that a
    structured SPV adds.

    ``columns`` are the per-draw columns of the run, also for the figures that depend on the
    scenario's cohorts, mechanisms and payers (:data:`SCENARIO_COLUMNS`); ``scenario`` names
    each mechanism's type.  ``groups`` (n_draws,) labels each draw's replicate when the inputs
    were QMC points; every standard error then comes from replicates, as ``replicates_text``
    describes.  ``quarterly_payments`` (m, n_quarters), £ paid each quarter by the first m draws
    (the run's quarterly sample), gives ``council.payments_by_year``; the investors' graded bad
    case and the pooled deadweight share are :mod:`simsib.run.decision`'s.
    """
    out: dict[str, dict] = {"investor": {}, "council": {}, "outcomes": {}}
    for section, key, column in DISTRIBUTIONS:
        out[section][key] = distribution(read(column), groups)
    for column in columns:
        for section, prefix in SCENARIO_COLUMNS:
            if column.startswith(prefix):
                out[section][column] = distribution(read(column), groups)
                if prefix == "paid_mechanism_" and scenario is not None:
                    index = int(column.removeprefix(prefix))
                    out[section][column]["type"] = scenario.contract.mechanisms[index].type
                break
    status = read("irr_status")
    undefined = status != IrrStatus.OK
    out["investor"]["irr"]["nan_share"] = float(np.isnan(read("irr")).mean())
    out["investor"]["irr"]["status_shares"] = {
        IRR_STATUS_TEXT[int(code)]: float((status == code).mean()) for code in np.unique(status[undefined])
    }
    for section, key, needed, event in EVENTS:
        values = [read(c) for c in needed]
        if values[0].dtype.kind == "f" and np.isnan(values[0]).all():
            out[section][key] = undefined_probability(_UNDEFINED.get(key, "undefined in every draw"))
            continue
        with np.errstate(invalid="ignore"):
            out[section][key] = probability(event(*values), groups)
    es05 = expected_shortfall(read("moic_committed"), groups=groups)
    if es05["value"] is None:
        es05["reason"] = "undefined: MOIC on committed capital is undefined in every draw (no capital committed)"
    out["investor"]["es05"] = {**es05, "of": "moic_committed"}
    meta = getattr(scenario, "meta", None)
    decision.investor_grades(read, out, groups, getattr(meta, "reference_moic", None), probability,
                             expected_shortfall)
    deadweight_paid = read("deadweight_paid")
    if np.isnan(deadweight_paid).all():  # a contract that pays for reconvictions, milestones...
        out["council"]["deadweight_share_of_payments"] = undefined_probability(NOT_CARE_DAYS)
    else:
        out["council"]["deadweight_share_of_payments"] = decision.ratio_of_means(
            deadweight_paid, read("outcome_payments"), groups, standard_error)
    if getattr(getattr(scenario, "contract", None), "cap", 0) is None:
        out["council"]["prob_cap_reached"] = undefined_probability(NO_CAP)
    years = decision.council_years(quarterly_payments, getattr(meta, "contract_start", None), groups, standard_error)
    if years is not None:
        out["council"]["payments_by_year"] = years
    term_sheet_sections(read, columns, out, groups)
    method = IID_SE if groups is None else {"method": "replicates", "replicates": int(np.unique(groups).size),
                                            "text": replicates_text}
    return {"standard_errors": method, **out}


# If no draw drew any capital there is nothing to lose: the probability is undefined, not 0.
_NO_CAPITAL = "undefined: no draw drew any investor capital, so MOIC on drawn capital is undefined in every draw"
_UNDEFINED = {"prob_loss": _NO_CAPITAL, "prob_total_loss": _NO_CAPITAL, "prob_moic_below_half": _NO_CAPITAL}


# (section, draws column): figures of the term sheet, where the run has them.
TERM_SHEET = (
    ("investor", "cash_interest"),
    ("council", "early_redemption_payments"),
    ("council", "minimum_coupon_payments"),
    ("council", "commissioner_guarantee_payouts"),
    ("council", "capped_excess_returned"),
    ("council", "council_term_sheet_cost"),
    ("council", "review_change_outcome_payments"),
    ("council", "review_change_true_savings"),
    ("council", "review_change_net_benefit"),
    ("investor", "review_change_distributions"),
    ("provider", "provider_fees_deferred"),
    ("provider", "provider_deferred_paid"),
    ("provider", "provider_guarantee_payouts"),
    ("provider", "capped_excess_to_provider"),
)
TRANCHE_DISTRIBUTIONS = ("moic", "irr", "capital_drawn", "distributions", "lost_principal", "guarantee_received")


def tranche_summary(read: ColumnReader, name: str, columns: Sequence[str], groups: np.ndarray | None = None) -> dict:
    """One tranche's figures: its MOIC (on drawn capital) and IRR distributions, P(loss),
    P(total loss) and expected shortfall of its MOIC, as for all investors."""
    out = {key: distribution(read(f"{key}_{name}"), groups) for key in TRANCHE_DISTRIBUTIONS
           if f"{key}_{name}" in columns}
    moic = read(f"moic_{name}")
    with np.errstate(invalid="ignore"):
        out["prob_loss"] = probability(moic < 1.0, groups)
        out["prob_total_loss"] = probability(moic < TOTAL_LOSS_MOIC, groups)
    out["es05"] = {**expected_shortfall(moic, groups=groups), "of": f"moic_{name}"}
    return out


def guarantor_summary(payouts: np.ndarray, groups: np.ndarray | None = None) -> dict:
    """A guarantor's payout: its distribution, P(called) and the tail -- the mean of the largest
    5% of payouts (with its standard error) and the 95th percentile."""
    tail = expected_shortfall(-np.asarray(payouts, dtype=float), groups=groups)
    return {
        "payout": distribution(payouts, groups),
        "prob_called": probability(np.asarray(payouts) > 0, groups),
        "tail": {"value": -tail["value"], "se": tail["se"], "p95": -tail["var"], "tail": tail["tail"],
                 "of": "largest payouts"},
    }


def term_sheet_sections(read: ColumnReader, columns: Sequence[str], out: dict, groups: np.ndarray | None = None) -> None:
    """Add ``investor.tranches.<name>``, ``guarantors.<name>``, ``contract`` (early ends) and the
    council's and provider's term-sheet flows to ``out``, for the columns the run has."""
    columns = list(columns)
    tranches = [c[len("capital_drawn_"):] for c in columns if c.startswith("capital_drawn_")]
    if tranches:
        out["investor"]["tranches"] = {name: tranche_summary(read, name, columns, groups) for name in tranches}
    guarantors = [c[len("guarantee_"):] for c in columns
                  if c.startswith("guarantee_") and not c.startswith("guarantee_received_")]
    if guarantors:
        out["guarantors"] = {name: guarantor_summary(read(f"guarantee_{name}"), groups) for name in guarantors}
    if "terminated" in columns:
        out["contract"] = {
            "prob_terminated": probability(read("terminated"), groups),
            "termination_quarter": distribution(read("termination_quarter"), groups),
            "prob_extended": probability(read("extended"), groups),
            "final_quarter": distribution(read("final_quarter"), groups),
        }
    for section, column in TERM_SHEET:
        if column in columns:
            out.setdefault(section, {})[column] = distribution(read(column), groups)


SECTIONS = ("investor", "council", "outcomes", "contract", "provider", "guarantors", "review")  # review: re-forecasts


def flatten(summary: dict) -> list[dict]:
    """Rows ``{metric, mean, se, p05, …}`` for a table or DataFrame; nested figures (a tranche's,
    a guarantor's) as ``investor.tranches.senior.moic``."""
    rows: list[dict] = []

    def add(prefix: str, stats: dict) -> None:
        plain = {k: v for k, v in stats.items() if not isinstance(v, (dict, str))}
        if not plain and any(isinstance(v, dict) for v in stats.values()):
            for key, inner in stats.items():
                if isinstance(inner, dict):
                    add(f"{prefix}.{key}", inner)
            return
        rows.append({"metric": prefix, **plain})

    for section in SECTIONS:
        for key, stats in summary.get(section, {}).items():
            if isinstance(stats, dict):  # not a table such as council.payments_by_year
                add(f"{section}.{key}", stats)
    return rows


def quarterly_bands(sample: dict[str, np.ndarray]) -> dict[str, list]:
    """Tidy percentile bands per quarter, as columns: quarter, month_end, series, mean, p05 … p95, n.

    ``sample`` maps each quarterly series to its (m, n_quarters) values for the sampled draws.
    """
    columns: dict[str, list] = {name: [] for name in ("quarter", "month_end", "series", "mean",
                                                      *(f"p{p:02d}" for p in PERCENTILES), "n")}
    for series in QUARTERLY_SERIES:
        values = sample.get(series)
        if values is None or values.size == 0:
            continue
        pct = np.percentile(values, PERCENTILES, axis=0)
        for q in range(values.shape[1]):
            columns["quarter"].append(q)
            columns["month_end"].append(3 * (q + 1))
            columns["series"].append(series)
            columns["mean"].append(float(values[:, q].mean()))
            for i, p in enumerate(PERCENTILES):
                columns[f"p{p:02d}"].append(float(pct[i, q]))
            columns["n"].append(values.shape[0])
    return columns


def write_quarterly_csv(path: Path, bands: dict[str, list]) -> None:
    """Write :func:`quarterly_bands` as CSV (floats in their shortest exact form, as pandas writes them)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(bands)
        writer.writerows(zip(*bands.values()))
