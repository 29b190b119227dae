"""Per-draw metrics beyond Essex's: payments by mechanism and payer, payments without any
effect, and the outcomes of recurrent-event and attainment cohorts.

Columns (all (n_draws,); names carry the scenario's own mechanism indices, payer, cohort and
milestone names):

* ``paid_mechanism_<i>``: £ paid for mechanism ``i`` (payments shared pro rata to the
  mechanisms' netted entitlements; they add up to ``outcome_payments``);
* ``paid_payer_<name>``: £ paid by each payer (``commissioner`` when the scenario names none);
* ``payments_without_effect``: £ the contract would have paid for the same people had the
  service had no effect at all (every treated outcome replaced by its counterfactual; the same
  comparison group and served cohorts): deadweight against a baseline, or noise against a
  sampled comparison group;
* recurrent cohorts: ``events_treated``, ``events_counterfactual``, ``events_avoided_true``
  (served people, all recurrent cohorts); per cohort ``event_reduction_<name>`` (what the
  contract measures, against the comparison group) and ``event_reduction_true_<name>``
  (against the same people's counterfactual), and both ``_overall``;
* attainment cohorts: ``attained_<milestone>`` and ``attained_<milestone>_counterfactual``,
  people reaching each milestone inside their window (served people).
"""

from __future__ import annotations

import numpy as np

from simsib.contract.metrics import daily_care_cost
from simsib.contract.payments import Payments
from simsib.contract.triggers import event_rates, pooled
from simsib.model.inputs import DrawInputs
from simsib.model.outcomes import CohortQuarterly
from simsib.scenario.format import Scenario, resolve_cohorts


def payment_metrics(scenario: Scenario, payments: Payments, without_effect: Payments) -> dict[str, np.ndarray]:
    """Payments by mechanism and payer, and the payments the contract would make without an effect."""
    columns = {f"paid_mechanism_{name.split('.')[0]}": value for name, value in payments.paid_by_mechanism.items()}
    columns.update({f"paid_payer_{name}": value for name, value in payments.paid_by_payer.items()})
    columns["payments_without_effect"] = without_effect.paid.sum(axis=1)
    return columns


def cohort_metrics(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, cohort_served: np.ndarray
) -> dict[str, np.ndarray]:
    """Event and milestone columns of the scenario's recurrent and attainment cohorts (none for care only)."""
    served = cohort_served.astype(float)
    columns: dict[str, np.ndarray] = {}
    rates = {}
    milestones: dict[str, list[np.ndarray]] = {}
    for cohort in resolve_cohorts(scenario):
        group = outcomes.group(cohort.name)
        if cohort.process == "recurrent_events":
            rates[cohort.name] = event_rates(group, served)
        elif cohort.process == "attainment":
            for name in group.attained:
                for suffix, cubes in (("", group.attained), ("_counterfactual", group.attained_counterfactual)):
                    milestones.setdefault(f"attained_{name}{suffix}", []).append(_served_total(cubes[name], served))
    if rates:
        total = pooled(list(rates.values()))
        columns["events_treated"] = total.treated
        columns["events_counterfactual"] = total.counterfactual
        columns["events_avoided_true"] = total.counterfactual - total.treated
        for name, rate in (*rates.items(), ("overall", total)):
            columns[f"event_reduction_{name}"] = rate.reduction
            columns[f"event_reduction_true_{name}"] = rate.true_reduction
    columns.update({name: sum(parts) for name, parts in milestones.items()})
    return columns


def _served_total(cube: np.ndarray, served: np.ndarray) -> np.ndarray:
    return (cube.sum(axis=2) * served).sum(axis=1)


def true_value(
    scenario: Scenario, inputs: DrawInputs, outcomes: CohortQuarterly, cohort_served: np.ndarray
) -> np.ndarray | None:
    """£ value per draw of everything the service changed, for scenarios with named cohorts:
    care days avoided × the cohort's cost of a care day, events avoided × ``cost_per_event``,
    extra milestones × their ``value``.  None for the implicit single cohort (the council
    metrics then use care days avoided × the cost of a care day, as always)."""
    if not scenario.cohorts:
        return None
    served = cohort_served.astype(float)
    value = np.zeros(served.shape[0])
    for cohort in resolve_cohorts(scenario):
        group = outcomes.group(cohort.name)
        if cohort.process == "care":
            avoided = (group.by_cohort("care_days_counterfactual") - group.by_cohort("care_days_treated"))
            value += (avoided * served).sum(axis=1) * daily_care_cost(inputs, cohort.prefix["care"])
        elif cohort.process == "recurrent_events":
            rate = event_rates(group, served)
            value += (rate.counterfactual - rate.treated) * inputs[f"{cohort.key}.cost_per_event"]
        else:
            for j, outcome in enumerate(cohort.table.outcomes):
                extra = _served_total(group.attained[outcome.name] - group.attained_counterfactual[outcome.name], served)
                value += extra * inputs[f"{cohort.key}.outcomes.{j}.value"]
    return value
