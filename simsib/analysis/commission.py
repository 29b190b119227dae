"""SIB or not: the council's commissioning decision, on the same simulated young people (issue 21).

Every chunk is simulated once -- referrals, young people, their treated and counterfactual care
paths -- and four ways of paying for the service are priced on it, draw by draw:

* ``sib``, **the SIB as contracted**: the council pays the outcome payments (capped, lagged, as
  settled with the SPV's stops for lack of cash and the contract's reviews), its own contract
  management (``contract.council_management_cost_per_quarter``, E18's "invisible costs") and
  any term-sheet costs (minimum coupons, its guarantees, early-redemption top-ups, less capped
  excess returned).  Its figures are the run's own (``net_benefit_pv``, ...).
* ``direct``, **direct commissioning**: the council pays the service's team and per-person costs
  as they fall (no investors, no SPV fees) and ``commissioning.direct_management_cost_per_quarter``
  while the teams run; it bears all the performance risk.
* ``pbr``, **payment by results without investors**: the council pays the same outcome terms and
  manages the contract as for the SIB; the provider pays the service's costs and carries the
  working capital at ``commissioning.provider_financing_rate`` (its position is reported too).
* ``do_nothing``: no service; the council bears the care the young people would have had.

Direct commissioning and PbR deliver the same service on the same dates (reviews included), but
nothing stops it for lack of cash: where the SIB's SPV ran out and stopped taking young people,
they go on serving them (``sib.stopped_early`` marks those draws).  Net benefits are against
doing nothing -- care avoided less the council's outlays -- so ``do_nothing`` has exactly zero,
and its *cost* is the counterfactual care of the young people the service would take.

Care avoided is counted over two horizons: ``to_18`` (to each young person's 18th birthday: what
the council really avoids) and ``window`` (inside the 30-month tracking windows: what the
contract measures), at each quarter's prices (``care.cost_inflation``), and discounted at
``spv.discount_rate`` for present values -- the accounts of :mod:`simsib.contract.council_value`.
Like the run's net benefits, present values count the SIB's term-sheet costs undiscounted; the
cash profile places them in their quarter (minimum coupons) or the draw's final quarter.
Scenarios with cohorts of another process (reconvictions, milestones) are refused: their value
is not known quarter by quarter, so neither a present value nor a cash profile could be given.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from simsib.analysis.variants import chunk_sizes
from simsib.contract.commissioning import (
    cash_need,
    last_quarter_with,
    padded,
    present_value,
    provider_position,
    quarters_up_to,
)
from simsib.contract.council_value import care_value
from simsib.contract.metrics import discount_factors
from simsib.model.inputs import DrawInputs, sample_inputs
from simsib.model.streams import chunk_seed, new_entropy
from simsib.run.execution import map_processes
from simsib.run.pipeline import draw_columns, replicate_column, settle, simulate_outcomes
from simsib.run.settlement import Delivery, Settlement, delivery_without_spv, settled_costs
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario, resolve_cohorts
from simsib.scenario.loader import scenario_sha256

OPTIONS = ("sib", "direct", "pbr", "do_nothing")
HORIZONS = ("to_18", "window")
Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class OptionFlows:
    """One way of paying for the service, per draw and quarter, £ at each quarter's prices.

    outlay : (n, Q) what the council pays each quarter (its term-sheet costs apart)
    term_sheet : (n, Q) the SIB's term-sheet costs to the council, in the quarter they fall
    savings : horizon -> (n, L) care costs avoided each quarter
    """

    outlay: np.ndarray
    term_sheet: np.ndarray
    savings: dict[str, np.ndarray]


def check_care_only(scenario: Scenario, file: str | None = None) -> None:
    """Raise ScenarioError unless every cohort of ``scenario`` is in the care process."""
    other = [c for c in resolve_cohorts(scenario) if c.process != "care"]
    if other:
        cohort = other[0]
        raise ScenarioError.single(
            f"cohorts.{cohort.index}.process",
            f"simsib commission values care avoided quarter by quarter; cohort '{cohort.name}' is in the "
            f"'{cohort.process}' process, whose value is known only in total, so no present value or cash "
            "profile can be given (compare its options with simsib compare instead)",
            value=cohort.process, file=file)


def _care(scenario: Scenario, inputs: DrawInputs, settlement: Settlement, served: np.ndarray,
          counterfactual: bool = False) -> dict[str, np.ndarray]:
    value = care_value(scenario, inputs, settlement.simulated, served, settlement.measured_by_draw,
                       counterfactual=counterfactual)
    if value is None or value.to_age_limit is None:
        raise ValueError("care avoided by quarter and to the 18th birthday is needed (care cohorts only)")
    return {"to_18": value.to_age_limit, "window": value.window}


def _term_sheet_by_quarter(run: Columns, settlement: Settlement, final_quarter: np.ndarray) -> np.ndarray:
    """The council's term-sheet costs per quarter: minimum coupons when paid, the rest (its
    guarantees, early-redemption top-ups, less capped excess returned) in the final quarter."""
    paid = settlement.payments.paid
    timed = np.zeros_like(paid)
    tranches = settlement.waterfall.tranches
    if "minimum_coupon_payments" in run:
        timed += tranches.minimum_coupons.sum(axis=1)
    at_end = sum((run[k] for k in ("early_redemption_payments", "commissioner_guarantee_payouts") if k in run),
                 np.zeros(paid.shape[0]))
    if "capped_excess_returned" in run:
        at_end = at_end - run["capped_excess_returned"]
    timed[np.arange(paid.shape[0]), final_quarter] += at_end
    return timed


def option_flows(scenario: Scenario, inputs: DrawInputs, settlement: Settlement, delivery: Delivery,
                 run: Columns) -> tuple[dict[str, OptionFlows], dict[str, np.ndarray]]:
    """Each option's flows (see the module docstring), and the counterfactual care cost by horizon."""
    paid = settlement.payments.paid
    n, n_quarters = paid.shape
    timeline = settlement.timeline
    final = timeline.final_quarter if timeline is not None else np.full(n, n_quarters - 1)
    # The council manages an outcomes contract to its final distribution, as in the run's accounts.
    managed = quarters_up_to(final, n_quarters) * inputs["contract.council_management_cost_per_quarter"][:, None]
    direct_key = ("commissioning.direct_management_cost_per_quarter"
                  if scenario.commissioning.direct_management_cost_per_quarter is not None
                  else "contract.council_management_cost_per_quarter")
    service = delivery.costs.service
    running = quarters_up_to(last_quarter_with(service), n_quarters) * inputs[direct_key][:, None]
    full = _care(scenario, inputs, settlement, delivery.cohort_served)
    none = np.zeros((n, n_quarters))
    flows = {
        "sib": OptionFlows(paid + managed, _term_sheet_by_quarter(run, settlement, final),
                           _care(scenario, inputs, settlement, settlement.cohort_served)),
        "direct": OptionFlows(service + running, none, full),
        "pbr": OptionFlows(delivery.payments.paid + managed, none, full),
        "do_nothing": OptionFlows(none, none, {h: np.zeros_like(v) for h, v in full.items()}),
    }
    return flows, _care(scenario, inputs, settlement, delivery.cohort_served, counterfactual=True)


def option_columns(flows: OptionFlows, discount: np.ndarray, untreated_pv: dict[str, np.ndarray]) -> Columns:
    """Per-draw figures of one option (each (n,) £; quarters for ``peak_cash_quarter_*``).

    ``outlay``/``outlay_pv``; per horizon ``h``: ``savings_h``(``_pv``), ``net_benefit_h``(``_pv``)
    = savings − outlay, ``cost_h_pv`` = counterfactual care + outlay − savings, and the peak
    cash need with its quarter.
    """
    term = flows.term_sheet.sum(axis=1)
    outlay = flows.outlay.sum(axis=1) + term
    outlay_pv = present_value(flows.outlay, discount) + term  # term sheet undiscounted, as in the run
    out = {"outlay": outlay, "outlay_pv": outlay_pv}
    for h, saved in flows.savings.items():
        saved_cash, saved_pv = saved.sum(axis=1), present_value(saved, discount)
        peak, when = cash_need(flows.outlay + flows.term_sheet, saved)
        out.update({
            f"savings_{h}": saved_cash, f"savings_{h}_pv": saved_pv,
            f"net_benefit_{h}": saved_cash - outlay, f"net_benefit_{h}_pv": saved_pv - outlay_pv,
            f"cost_{h}_pv": untreated_pv[h] + outlay_pv - saved_pv,
            f"peak_cash_need_{h}": peak, f"peak_cash_quarter_{h}": when,
        })
    return out


def commission_chunk(scenario: Scenario, entropy: int, index: int, n_draws: int) -> tuple[Columns, Columns]:
    """Chunk ``index``: (per-draw columns ``option.figure``, per-quarter sums over the chunk's draws
    of each option's cumulative cash position ``option.horizon``)."""
    chunk = chunk_seed(entropy, index)
    inputs = sample_inputs(scenario, chunk, n_draws)
    outcomes, monthly = simulate_outcomes(scenario, inputs, chunk, counterfactual_to_18=True)
    settlement = settle(scenario, inputs, outcomes, monthly)
    run = draw_columns(scenario, inputs, settlement, monthly)
    delivery = delivery_without_spv(scenario, inputs, settlement, monthly)
    flows, untreated = option_flows(scenario, inputs, settlement, delivery, run)
    width = max(max(s.shape[1] for s in f.savings.values()) for f in flows.values())
    discount = discount_factors(inputs, max(width, settlement.payments.paid.shape[1]))
    untreated_pv = {h: present_value(v, discount) for h, v in untreated.items()}
    columns: Columns = {}
    positions: Columns = {}
    for name, option in flows.items():
        columns.update({f"{name}.{k}": v for k, v in option_columns(option, discount, untreated_pv).items()})
        for h, saved in option.savings.items():
            spent = option.outlay + option.term_sheet
            net = padded(saved, spent.shape[1]) - padded(spent, saved.shape[1])
            positions[f"{name}.{h}"] = np.cumsum(net, axis=1).sum(axis=0)
    columns.update(_context_columns(scenario, inputs, settlement, delivery, monthly, run, flows))
    columns.update(replicate_column(scenario, index, n_draws))  # QMC sampling: each draw's replicate
    return columns, positions


def _context_columns(scenario: Scenario, inputs: DrawInputs, settlement: Settlement, delivery: Delivery,
                     monthly: np.ndarray, run: Columns, flows: dict[str, OptionFlows]) -> Columns:
    """What the SIB's extra cost over direct commissioning is made of (cash, adding up exactly),
    the provider's position under PbR, and the service's own cost."""
    waterfall = settlement.waterfall
    costs = settled_costs(scenario, inputs, settlement, monthly)
    investors = (waterfall.distributed - waterfall.drawn).sum(axis=1)
    fees = costs.fees.sum(axis=1)
    service = delivery.costs.service.sum(axis=1)
    provider = provider_position(delivery.costs.service, delivery.payments.paid,
                                 inputs["commissioning.provider_financing_rate"])
    out = {
        "sib.investors_return": investors,
        "sib.spv_fees": fees,
        "sib.service_not_delivered": costs.service.sum(axis=1) - service,
        # Whatever else the SPV's cash did: unfunded costs, the provider's deferred fee, capped
        # excess, interest on idle cash, top-ups -- so that the parts add up to the payments.
        "sib.other_spv_flows": (settlement.payments.paid.sum(axis=1) - costs.service.sum(axis=1) - fees
                                - investors),
        "sib.management_extra": flows["sib"].outlay.sum(axis=1) - settlement.payments.paid.sum(axis=1)
        - (flows["direct"].outlay.sum(axis=1) - service),
        "sib.term_sheet_cost": flows["sib"].term_sheet.sum(axis=1),
        "sib.stopped_early": (settlement.stop_quarter < scenario.n_cohorts).astype(float),
        "sib.investor_loss": (np.nan_to_num(run["moic_drawn"], nan=0.0) < 1.0).astype(float),
        # Undefined deadweight (no days counted) pays nothing for days that would have been avoided.
        "sib.deadweight_paid": np.nan_to_num(run["deadweight_share"], nan=0.0) * run["outcome_payments"],
        "direct.service_cost": service,
        "pbr.provider_result": provider.result,
        "pbr.provider_financing_cost": provider.financing_cost,
        "pbr.provider_peak_working_capital": provider.peak_working_capital,
    }
    for h in HORIZONS:
        out[f"sib.care_not_delivered_{h}"] = (flows["direct"].savings[h].sum(axis=1)
                                              - flows["sib"].savings[h].sum(axis=1))
    return out


@dataclass
class Commission:
    """Result of :func:`commission`.

    header : scenario, draws, seed, entropy, chunk size, hash, and the rates used
    draws : per-draw columns ``option.figure`` (see :func:`option_columns`, :func:`_context_columns`)
    cash_position : ``option.horizon`` -> (L,) mean cumulative council cash position after each
        quarter (savings less outlays, £ at each quarter's prices)
    """

    header: dict[str, Any]
    draws: Columns
    cash_position: Columns


def commission(
    scenario: Scenario, draws: int | None = None, seed: int | None = None, *, workers: int = 1,
    progress: Callable[[int], None] | None = None, file: str | None = None,
) -> Commission:
    """Price the four options on ``draws`` draws of ``scenario`` (common random numbers).

    The SIB's numbers are exactly ``simsib.simulate(scenario, draws, seed)``'s, for any ``workers``.
    """
    check_care_only(scenario, file)
    n_draws = int(draws if draws is not None else scenario.simulation.draws)
    entropy = int(seed) if seed is not None else new_entropy()
    plan = chunk_sizes(n_draws, scenario.simulation.chunk_size)
    parts: dict[int, tuple[Columns, Columns]] = {}

    def collect(position: int, part: tuple[Columns, Columns]) -> None:
        index, size = plan[position]
        parts[index] = part
        if progress:
            progress(size)

    calls = [(scenario, entropy, i, n) for i, n in plan]
    if workers <= 1 or len(plan) <= 1:
        for position, call in enumerate(calls):
            collect(position, commission_chunk(*call))
    else:
        # The command's own process pool: a dead worker or Ctrl-C ends it promptly.
        with closing(map_processes(commission_chunk, calls, workers)) as results:
            for position, part in results:
                collect(position, part)
    ordered = [parts[i] for i, _ in plan]
    columns = {c: np.concatenate([p[0][c] for p in ordered]) for c in ordered[0][0]}
    positions = {}
    for key in ordered[0][1]:
        width = max(p[1][key].size for p in ordered)
        # A chunk's cumulative position stays at its last value after its last quarter.
        positions[key] = sum(np.pad(p[1][key], (0, width - p[1][key].size), mode="edge") for p in ordered) / n_draws
    header = {
        "scenario": scenario.meta.name, "draws": n_draws, "seed": seed, "seed_entropy": entropy,
        "chunk_size": scenario.simulation.chunk_size, "scenario_sha256": scenario_sha256(scenario),
        "discount_rate": _described(scenario.spv.discount_rate),
        "provider_financing_rate": _described(scenario.commissioning.provider_financing_rate),
        "direct_management_cost_per_quarter": _described(
            scenario.commissioning.direct_management_cost_per_quarter or scenario.contract.council_management_cost_per_quarter),
        "common_random_numbers": True,
    }
    return Commission(header, columns, positions)


def _described(quantity: Any) -> float | str:
    """A scenario quantity for the header: its value when fixed, else its mean and family."""
    if quantity.is_fixed:
        return float(quantity.value)
    return f"{quantity.dist}, mean {float(quantity.mean()):g}"

