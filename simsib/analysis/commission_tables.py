"""The figures of the commissioning comparison, each with its Monte Carlo standard error.

From :class:`simsib.analysis.commission.Commission`'s per-draw columns, for one horizon of
care avoided (``to_18`` or ``window``):

* :func:`options_table`: per option, the council's cost and outlay, its net benefit against doing
  nothing (mean, p05/p50/p95, P(< 0)), the bad case -- the mean of its worst 10% of draws
  (expected shortfall, influence-function standard error) -- and its peak cash need and when;
* :func:`risk_transfer`: the price of risk transfer -- the SIB's expected extra cost over direct
  commissioning, made of parts that add up exactly, beside what the SIB saves the council in its
  worst draws and where the programme fails -- and which option is better in expectation and in
  the bad case, with paired standard errors;
* :func:`savings_per_pound`: care avoided per £ spent on the service, beside the launch claim (E14).

Differences between options are paired (the same draws), so a difference of an option with
itself is exactly zero with a zero standard error.  Computes, never formats.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from simsib.analysis.commission import HORIZONS, OPTIONS
from simsib.run.summary import distribution, expected_shortfall, probability

BAD_CASE_TAIL = 0.10  # "the council's loss in its worst 10% of draws"
CLAIMED_SAVINGS_PER_POUND = 4.0  # E14: "every £1 spent on MST saves £4" (press, Feb 2012)
SIGNIFICANT_SE = 2.0  # a difference smaller than two standard errors is not called either way
Draws = Mapping[str, np.ndarray]


def _net(draws: Draws, option: str, horizon: str) -> np.ndarray:
    return np.asarray(draws[f"{option}.net_benefit_{horizon}_pv"], dtype=float)


def _estimate(values: np.ndarray) -> dict[str, float | None]:
    """Mean and its standard error (0 when every value is equal, as a difference of an option with itself)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else None
    return {"mean": float(values.mean()) if n else None, "se": se}


def _tail_terms(values: np.ndarray, tail: float) -> np.ndarray:
    """Per-draw terms whose mean's error is the expected shortfall's (its influence function, up to
    a constant): ``min(x − VaR, 0) / tail``."""
    k = max(1, int(np.floor(tail * values.size)))
    var = float(np.partition(values, k - 1)[:k].max())
    return np.minimum(values - var, 0.0) / tail


def bad_case_difference(a: np.ndarray, b: np.ndarray, tail: float = BAD_CASE_TAIL) -> dict[str, float | None]:
    """Expected shortfall of ``b`` less that of ``a`` (each the mean of its own worst ``tail``
    share of draws), with the paired influence-function standard error."""
    es_a, es_b = expected_shortfall(a, tail)["value"], expected_shortfall(b, tail)["value"]
    terms = _tail_terms(b, tail) - _tail_terms(a, tail)
    se = float(terms.std(ddof=1) / np.sqrt(terms.size)) if terms.size > 1 else None
    return {"mean": es_b - es_a, "se": se}


def options_table(draws: Draws, horizon: str = "to_18") -> list[dict[str, Any]]:
    """One record per option (see the module docstring); money in £, quarters from contract start."""
    rows = []
    for option in OPTIONS:
        net = _net(draws, option, horizon)
        need = np.asarray(draws[f"{option}.peak_cash_need_{horizon}"], dtype=float)
        when = np.asarray(draws[f"{option}.peak_cash_quarter_{horizon}"], dtype=float)
        bad = expected_shortfall(net, BAD_CASE_TAIL)
        rows.append({
            "option": option, "horizon": horizon,
            "cost_pv": _estimate(draws[f"{option}.cost_{horizon}_pv"]),
            "outlay_pv": _estimate(draws[f"{option}.outlay_pv"]),
            "outlay": _estimate(draws[f"{option}.outlay"]),
            "savings_pv": _estimate(draws[f"{option}.savings_{horizon}_pv"]),
            "net_benefit_pv": distribution(net),
            "net_benefit": _estimate(draws[f"{option}.net_benefit_{horizon}"]),
            "prob_net_benefit_negative": probability(net < 0.0),
            "worst_10pct": {"mean": bad["value"], "se": bad["se"]},
            "peak_cash_need": distribution(need),
            "prob_cash_needed": probability(need > 0.0),
            "peak_cash_quarter_median": float(np.median(when[need > 0.0])) if (need > 0.0).any() else None,
        })
    return rows


# What the SIB's extra cost over direct commissioning is made of (cash; they add up exactly).
PARTS = (
    ("investors_return", "investors' return: distributions less capital drawn"),
    ("spv_fees", "SPV fees: management and set-up"),
    ("other_spv_flows", "other SPV cash: unfunded costs, deferred fees, interest, capped excess"),
    ("service_not_delivered", "service the SIB did not deliver (SPV out of cash)"),
    ("management_extra", "council's own management, SIB over direct"),
    ("term_sheet_cost", "council's term-sheet costs (coupons, guarantees, top-ups)"),
    ("care_not_delivered", "care not avoided where the SIB stopped early"),
)


def risk_transfer(draws: Draws, horizon: str = "to_18") -> dict[str, Any]:
    """The price of risk transfer and what the insurance is worth (module docstring).

    ``extra_cost_pv``: mean of direct's net benefit less the SIB's (present value), paired se;
    ``parts``: its cash parts and ``paying_later`` (present value less cash: what paying later is
    worth to the council at its discount rate); ``bad_case``: each option's mean of its worst
    10% of draws and the SIB's less direct's; ``programme_fails``: the share of draws where the
    service's care avoided is worth less than it costs (direct's net benefit < 0) and the SIB's
    advantage there and elsewhere; ``better_expected``/``better_bad_case``: the best option and its
    margin over the option it is least clearly ahead of, paired (``_funding``: among the three ways to pay for the service).
    """
    sib, direct = _net(draws, "sib", horizon), _net(draws, "direct", horizon)
    cash_gap = draws[f"direct.net_benefit_{horizon}"] - draws[f"sib.net_benefit_{horizon}"]
    parts = []
    for key, label in PARTS:
        column = f"sib.{key}_{horizon}" if key == "care_not_delivered" else f"sib.{key}"
        parts.append({"part": key, "label": label, **_estimate(draws[column])})
    parts.append({"part": "paying_later", "label": "paying later, at the council's discount rate",
                  **_estimate((direct - sib) - cash_gap)})
    fails = direct < 0.0
    advantage = sib - direct
    return {
        "horizon": horizon,
        "extra_cost_pv": _estimate(direct - sib),
        "parts": parts,
        "deadweight_paid": _estimate(draws["sib.deadweight_paid"]),
        "bad_case": {
            **{option: _shortfall(_net(draws, option, horizon)) for option in OPTIONS},
            "sib_less_direct": bad_case_difference(direct, sib),
        },
        "programme_fails": {
            "share": probability(fails),
            "sib_advantage_when_fails": _estimate(advantage[fails]) if fails.any() else None,
            "sib_advantage_otherwise": _estimate(advantage[~fails]) if (~fails).any() else None,
        },
        "investors_prob_loss": probability(np.asarray(draws["sib.investor_loss"]) > 0.5),
        "sib_prob_stopped_early": probability(np.asarray(draws["sib.stopped_early"]) > 0.5),
        "provider_under_pbr": {
            "result": distribution(draws["pbr.provider_result"]),
            "prob_loss": probability(np.asarray(draws["pbr.provider_result"]) < 0.0),
            "peak_working_capital": distribution(draws["pbr.provider_peak_working_capital"]),
            "financing_cost": _estimate(draws["pbr.provider_financing_cost"]),
        },
        **{f"better_{which}{suffix}": _best(draws, horizon, among, *RANKINGS[which])
           for which in RANKINGS for suffix, among in (("", OPTIONS), ("_funding", FUNDING))},
    }


def _shortfall(values: np.ndarray) -> dict[str, float | None]:
    found = expected_shortfall(values, BAD_CASE_TAIL)
    return {"mean": found["value"], "se": found["se"]}


# How options are ranked: (score of a net benefit, paired difference of two) -- by the mean, and
# by the mean of the worst 10% of draws.
RANKINGS = {
    "expected": (lambda v: float(v.mean()), lambda a, b: _estimate(b - a)),
    "bad_case": (lambda v: expected_shortfall(v, BAD_CASE_TAIL)["value"], lambda a, b: bad_case_difference(a, b)),
}
FUNDING = ("sib", "direct", "pbr")  # the ways to pay for the service, doing nothing apart


def _best(draws: Draws, horizon: str, among: tuple[str, ...], score, difference) -> dict[str, Any]:
    """The option ``among`` those given with the highest ``score`` of its net benefit, and its margin
    (``difference(other, best)``, paired) over the other option it is least clearly ahead of (the
    smallest margin in standard errors); ``clear`` when that margin exceeds two standard errors."""
    nets = {option: _net(draws, option, horizon) for option in among}
    best = max(among, key=lambda o: score(nets[o]))
    margins = {o: difference(nets[o], nets[best]) for o in among if o != best}

    def in_se(option: str) -> float:
        margin = margins[option]
        return margin["mean"] / margin["se"] if margin["se"] else (np.inf if margin["mean"] > 0 else 0.0)

    closest = min(margins, key=in_se)
    return {"option": best, "versus": closest, "margin": margins[closest],
            "clear": bool(in_se(closest) > SIGNIFICANT_SE)}


def savings_per_pound(draws: Draws, horizon: str = "to_18") -> dict[str, Any]:
    """Care avoided (cash, at each quarter's prices) per £ of the service's own costs, per draw,
    beside the £4-for-£1 claim (E14); ``ratio_of_means`` with its delta-method standard error."""
    saved = np.asarray(draws[f"direct.savings_{horizon}"], dtype=float)
    cost = np.asarray(draws["direct.service_cost"], dtype=float)
    funded = cost > 0.0
    ratio = saved[funded] / cost[funded]
    n = int(funded.sum())
    of_means = float(saved[funded].mean() / cost[funded].mean()) if n else None
    spread = saved[funded] - (of_means or 0.0) * cost[funded]
    se = float(spread.std(ddof=1) / (np.sqrt(n) * cost[funded].mean())) if n > 1 else None
    return {
        "horizon": horizon,
        "claimed": CLAIMED_SAVINGS_PER_POUND,
        "ratio": distribution(ratio),
        "ratio_of_means": {"mean": of_means, "se": se},
        "prob_at_least_claimed": probability(ratio >= CLAIMED_SAVINGS_PER_POUND),
        "prob_at_least_one": probability(ratio >= 1.0),
    }


def cash_by_year(cash_position: Mapping[str, np.ndarray], horizon: str = "to_18") -> dict[str, list[float]]:
    """Per option, the council's mean cumulative net outlay (outlays less care avoided, £) at the end
    of each contract year, from :attr:`Commission.cash_position`."""
    out = {}
    for option in OPTIONS:
        position = np.asarray(cash_position[f"{option}.{horizon}"], dtype=float)
        year_ends = np.arange(3, position.size, 4)
        out[option] = [float(-position[q]) for q in year_ends]
    return out


def summary(draws: Draws, cash_position: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Every table for every horizon: ``{horizon: {options, risk_transfer, savings_per_pound,
    cash_by_year}}``."""
    return {h: {"options": options_table(draws, h), "risk_transfer": risk_transfer(draws, h),
                "savings_per_pound": savings_per_pound(draws, h), "cash_by_year": cash_by_year(cash_position, h)}
            for h in HORIZONS}
