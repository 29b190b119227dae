"""The backtest: published figures beside the model, each row saying how honest a check it is.

Each published figure is matched with the bundled scenario that describes the same situation
and the per-draw metric that measures it.  Every row has a **role**:

* ``fitted`` -- a scenario parameter was tuned to this figure (or to one it follows from); the
  row checks the tuning, not the model.  ``fitted_parameters`` names the keys.
* ``derived`` -- the figure follows from fitted inputs by arithmetic, or the scenario's priors
  were conditioned on it (:mod:`simsib.analysis.derivation`); also not a test of the model.
* ``predicted`` -- from a scenario that uses no realised data (``essex-2012`` and its child
  ``essex-launch``, which cite only evidence published by 2012): a genuine forecast.  Such a
  scenario is never tuned to the figures it is checked against.
* ``out_of_sample`` -- another contract (Norfolk, E50/E60), built from its contract terms and
  the shared evidence without using its outcome.
* ``reference_class`` -- a scenario's P(loss) beside the loss rate of completed impact bonds
  (E57: 2 of about 50).

For the first four roles ``mean``/``p05``/``p50``/``p95`` describe the metric over the model's
draws, ``percentile`` is the share of draws at or below the published value, and the figure is
*inside* when ``p05 ≤ published ≤ p95``.  A reference-class row compares the other way round:
its ``mean``/``p50`` is the scenario's P(loss) and ``p05``/``p95`` its 90% Monte Carlo interval
(± 1.645 standard errors); ``percentile`` is where that P(loss) lies in the Jeffreys posterior
``Beta(2.5, 48.5)`` of the completed bonds' loss rate, and it is *inside* when that is between
5% and 95%.  The completed bonds are a survivor sample -- failed and renegotiated deals report
less, and in 2016 only 4 of 60 had repaid (E57) -- so their loss rate is a floor, not a target.

Two tables go with the rows: :mod:`simsib.analysis.identification` (pairs of risk and effect
that all reproduce Essex's 10.8%, with the council's result under each) and
:mod:`simsib.analysis.judgements` (the answer's movement as each judgement moves).  What each
scenario's calibrated parameters are, and their evidence, is in the README's "Calibration".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from simsib.analysis import backtest_other
from simsib.model.qmc import REPLICATE_COLUMN
from simsib.run.api import simulate
from simsib.run.summary import standard_error
from simsib.scenario.loader import bundled_scenario_path, load_scenario

ROLES = ("fitted", "derived", "predicted", "out_of_sample", "reference_class")
JSON_KEYS = ("figure", "evidence", "published", "scenario", "role", "fitted_parameters", "mean", "p05", "p50",
             "p95", "percentile", "inside_90")
# E57: investors repaid in all but two of about 50 completed impact bonds.
REFERENCE_LOSSES, REFERENCE_BONDS = 2, 50
JEFFREYS = stats.beta(REFERENCE_LOSSES + 0.5, REFERENCE_BONDS - REFERENCE_LOSSES + 0.5)
MC_90 = 1.6448536269514722  # a two-sided 90% normal interval
# The ex-ante scenarios whose P(loss) is set beside the reference class (E57).
EX_ANTE = ("essex-2012", "essex-launch", "norfolk", "essex")

DELIVERY_FIT = ("referrals.team_start_delay_months", "referrals.ramp_initial_fraction", "referrals.ramp_months")
PRIORS_CONDITIONED = ("population.p30_entry", "effect.log_hazard_ratio")
PRICE = "contract.mechanisms.0.price_per_day"


@dataclass(frozen=True)
class Target:
    """A published figure and where the model measures it.

    metric : a per-draw column, or ``cap_share`` (outcome payments ÷ the scenario's cap)
    kind : how to show it -- percent, money, multiple or number
    """

    figure: str
    published: float
    evidence: str
    scenario: str
    metric: str
    kind: str
    role: str
    fitted_parameters: tuple[str, ...] = ()
    note: str = ""


def _predicted(figure, published, evidence, metric, kind, note="") -> Target:
    return Target(figure, published, evidence, "essex-2012", metric, kind, "predicted", (), note)


TARGETS = (
    # Predicted: essex-2012 knows nothing published after 2012.
    _predicted("Investor multiple on committed capital", 1.45, "E3", "moic_committed", "multiple"),
    _predicted("Outcome payments as a share of the cap (cap reached)", 1.0, "E2, E3", "cap_share", "percent",
               "every draw is at or below 100%, so the percentile is 100%: read P(cap reached)"),
    _predicted("Young people started", 388, "E5", "young_people_started", "number",
               "the service ran to December 2018, nine months past the five planned years"),
    _predicted("Young people completed MST", 335, "E5", "young_people_completed", "number"),
    _predicted("Care proportion, treated", 0.108, "E6", "care_proportion_treated", "percent"),
    _predicted("Care days saved vs baseline", 96_000, "E9", "care_days_saved_contract", "number"),
    _predicted("Gross savings (days saved at the cost of care)", 17_900_000, "E9", "contract_savings", "money"),
    _predicted("Year-1 cases opened", 50, "E12", "year1_starts", "number",
               "first 12 months from the first team's start"),
    # The launch plan (2012 evidence only): its own targets are fitted, its money follows.
    Target("Care proportion, launch target", 0.27, "E6", "essex-launch", "care_proportion_treated", "percent",
           "fitted", ("effect.log_hazard_ratio",), "the effect is sized to the 27% target"),
    Target("Outcome payments, launch plan", 6_700_000, "E10", "essex-launch", "outcome_payments", "money",
           "derived", ("effect.log_hazard_ratio", PRICE), "price = £6.7m ÷ about 97,000 days (E8)"),
    Target("Gross savings, launch plan", 17_300_000, "E10, E11", "essex-launch", "contract_savings", "money",
           "derived", ("effect.log_hazard_ratio", "care.residential_share"),
           "cost of a day in care = £17.3m ÷ about 97,000 days (E8)"),
    Target("Investor IRR, launch medium case", 0.083, "E10", "essex-launch", "irr", "percent", "predicted", (),
           "the launch's own projection, not an outcome: checks the model against the launch arithmetic"),
    # The historical comparison group.
    Target("Care proportion with no MST effect", 0.55, "E6", "essex-no-effect", "care_proportion_counterfactual",
           "percent", "fitted", ("population.p30_entry", "care.long_stay_median_months", "care.short_stay_share"),
           "the historical group's risk and adolescent stay lengths are calibrated to it"),
    # Essex as realised: fitted delivery, priors conditioned on 10.8%.
    Target("Care proportion, as realised", 0.108, "E6", "essex-realised", "care_proportion_treated", "percent",
           "derived", PRIORS_CONDITIONED, "the priors were conditioned on it (docs/derivations/essex_default.py)"),
    Target("Care days saved vs baseline", 96_000, "E9", "essex-realised", "care_days_saved_contract", "number",
           "derived", PRIORS_CONDITIONED + ("referrals.target_young_people",)),
    Target("Outcome payments as a share of the cap (cap reached)", 1.0, "E2, E3", "essex-realised", "cap_share",
           "percent", "derived", PRIORS_CONDITIONED + (PRICE,), "price = £7.2m ÷ 96,000 days (E8)"),
    Target("Investor multiple on committed capital", 1.45, "E3", "essex-realised", "moic_committed", "multiple",
           "fitted", (PRICE, "spv.team_cost_per_quarter", "spv.upfront_drawdown_share"),
           "costs from E16 (= £7.2m paid − £4.5m returned), drawdown rule chosen to give 1.45×"),
    Target("Gross savings, as realised", 17_900_000, "E9", "essex-realised", "contract_savings", "money",
           "fitted", ("care.residential_share",), "cost of a day in care calibrated to E9's £186"),
    Target("Young people started", 388, "E5", "essex-realised", "young_people_started", "number", "fitted",
           ("referrals.target_young_people", "referrals.target_rule")),
    Target("Young people completed MST", 335, "E5", "essex-realised", "young_people_completed", "number", "fitted",
           ("effect.completion_rate", "referrals.target_young_people")),
    Target("Year-1 cases opened", 50, "E12", "essex-realised", "year1_starts", "number", "fitted", DELIVERY_FIT),
    # Out of sample: Norfolk, built from its contract terms (E50, E60).
    Target("Outcome payments as a share of the cap (about the cap paid)", 8_600_000 / 8_630_000, "E50, E60",
           "norfolk", "cap_share", "percent", "out_of_sample", (), "£8.6m paid (interim) of the £8.63m cap"),
)


def other_targets() -> tuple[tuple[Target, ...], tuple[str, ...]]:
    """The rows of contracts beyond Essex (:mod:`simsib.analysis.backtest_other`), as (targets,
    reference-class scenarios).

    Its reference-class rows become this module's (:func:`reference_class_row`); its other rows
    keep their role and fitted parameters.  Its Norfolk rows replace the Norfolk row of
    :data:`TARGETS`.
    """
    targets, reference = [], []
    for t in backtest_other.TARGETS:
        if t.role == "reference_class":
            reference.append(t.scenario)
        else:
            targets.append(Target(t.figure, t.published, t.evidence, t.scenario, t.metric, t.kind, t.role,
                                  tuple(t.fitted_parameters), t.note))
    return tuple(targets), tuple(dict.fromkeys(reference))


def all_targets() -> tuple[tuple[Target, ...], tuple[str, ...]]:
    """(targets, ex-ante scenarios for the reference class): this module's and the others'."""
    others, reference = other_targets()
    covered = {t.scenario for t in others}
    own = tuple(t for t in TARGETS if t.scenario not in covered or t.scenario.startswith("essex"))
    return own + others, tuple(dict.fromkeys(EX_ANTE + reference))


@dataclass
class Backtest:
    """rows: one per target and reference-class scenario (columns :data:`JSON_KEYS` and
    ``metric, kind, se, note``); identification and judgements: see the module docstring."""

    rows: pd.DataFrame
    identification: pd.DataFrame | None = None
    judgements: pd.DataFrame | None = None
    header: dict = field(default_factory=dict)

    def json_rows(self) -> list[dict]:
        """The rows with exactly :data:`JSON_KEYS`, as ``simsib backtest --json`` prints them."""
        return [{key: _plain(row[key]) for key in JSON_KEYS} for row in self.rows.to_dict(orient="records")]


def _plain(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def _values(draws: pd.DataFrame, target: Target, cap) -> np.ndarray:
    if target.metric == "cap_share":
        # The cap of each draw: a fixed value, or its per-draw column when it is uncertain.
        per_draw = draws["contract.cap"].to_numpy(dtype=float) if "contract.cap" in draws else float(cap.value)
        # Payments reach the cap to within rounding (simsib.contract.payments.CAP_TOLERANCE).
        values = np.minimum(draws["outcome_payments"].to_numpy(dtype=float) / per_draw, 1.0)
    else:
        values = draws[target.metric].to_numpy(dtype=float)
    return values


def _groups(draws: pd.DataFrame) -> np.ndarray | None:
    """Each draw's replicate under QMC sampling (standard errors from replicates), else None."""
    return draws[REPLICATE_COLUMN].to_numpy() if REPLICATE_COLUMN in draws else None


def target_row(target: Target, draws: pd.DataFrame, cap) -> dict:
    """The row of ``target`` from its scenario's draws (``cap``: the scenario's ``contract.cap``)."""
    every = _values(draws, target, cap)
    se = standard_error(every, _groups(draws))
    values = every[~np.isnan(every)]
    p05, p50, p95 = np.percentile(values, [5, 50, 95])
    note = target.note
    if target.metric == "cap_share":
        note = f"P(cap reached) {np.mean(draws['cap_reached'].to_numpy(dtype=bool)):.1%}; " + note
    return {
        "figure": target.figure, "evidence": target.evidence, "published": target.published,
        "scenario": target.scenario, "role": target.role, "fitted_parameters": list(target.fitted_parameters),
        "mean": float(values.mean()), "p05": float(p05), "p50": float(p50), "p95": float(p95),
        "percentile": float(np.mean(values <= target.published)),
        "inside_90": bool(p05 <= target.published <= p95),
        "metric": target.metric, "kind": target.kind, "se": float("nan") if se is None else se,
        "note": note,
    }


def reference_class_row(name: str, draws: pd.DataFrame) -> dict:
    """P(loss) of ``name`` beside the completed bonds' loss rate (module docstring)."""
    moic = draws["moic_drawn"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        lost = moic < 1.0  # as summary.json: nothing drawn (NaN) is not a loss
    p = float(lost.mean())
    se = standard_error(lost.astype(float), _groups(draws), probability=True)
    percentile = float(JEFFREYS.cdf(p))
    return {
        "figure": "P(loss) beside completed impact bonds' loss rate", "evidence": "E57",
        "published": REFERENCE_LOSSES / REFERENCE_BONDS, "scenario": name, "role": "reference_class",
        "fitted_parameters": [], "mean": p, "p05": max(p - MC_90 * se, 0.0), "p50": p,
        "p95": min(p + MC_90 * se, 1.0), "percentile": percentile, "inside_90": bool(0.05 <= percentile <= 0.95),
        "metric": "prob_loss", "kind": "percent", "se": se,
        "note": "survivorship: failed and renegotiated bonds report less (E57), so 4% is a floor",
    }


def run_backtest(draws: int = 4000, seed: int = 20190331, *, identification: bool = True,
                 judgements: bool = True, progress=None, workers: int = 1) -> Backtest:
    """Simulate each scenario the rows need once (``draws`` each, the same ``seed``), and
    tabulate; with ``identification``/``judgements``, the two tables that go with the rows.
    ``workers`` processes simulate each scenario (the same numbers for any count)."""
    targets, ex_ante = all_targets()
    names = list(dict.fromkeys([t.scenario for t in targets] + list(ex_ante)))
    runs, caps = {}, {}
    for name in names:
        scenario = load_scenario(bundled_scenario_path(name))
        runs[name] = simulate(scenario, draws=draws, seed=seed, workers=workers).draws
        caps[name] = scenario.contract.cap
        if progress:
            progress(name)
    rows = [target_row(t, runs[t.scenario], caps[t.scenario]) for t in targets]
    rows += [reference_class_row(name, runs[name]) for name in ex_ante]
    result = Backtest(pd.DataFrame(rows), header={"draws": draws, "seed": seed})
    if identification:
        from simsib.analysis.identification import identification_table

        result.identification = identification_table(draws=min(draws, 2000), seed=seed)
        if progress:
            progress("identification")
    if judgements:
        from simsib.analysis.judgements import judgement_table

        result.judgements = judgement_table(draws=draws, seed=seed)
        if progress:
            progress("judgements")
    return result


def tally(rows: pd.DataFrame, roles: tuple[str, ...] = ("predicted", "out_of_sample")) -> tuple[int, int]:
    """(inside, of): how many rows of ``roles`` fall inside their 90% interval."""
    chosen = rows[rows["role"].isin(roles)]
    return int(chosen["inside_90"].sum()), int(len(chosen))
