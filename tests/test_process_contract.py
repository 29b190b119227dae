"""The contract every outcome process passes (simsib/model/processes.py: the plug-in point).

For each process -- care from outside care (edge of care), care from inside it (reunification),
recurrent events, attainment -- on a bundled scenario that uses it:

* no effect gives treated paths identical to the counterfactual ones, exactly;
* a stronger effect never worsens any person's path (on the same random numbers);
* the simulated rates and probabilities match their inputs within Monte Carlo standard errors.

Tolerances are 4 standard errors of the quantity compared, estimated from the same draws.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from simsib.model.attainment import milestone_times
from simsib.model.care_paths import simulate_people
from simsib.model.cohorts import split_starts
from simsib.model.inputs import sample_inputs
from simsib.model.outcomes import CohortQuarterly, Needs
from simsib.model.processes import people_stream, simulate_cohorts
from simsib.model.recurrent import recurrent_people
from simsib.model.referrals import monthly_starts
from simsib.model.streams import chunk_seed, stream
from simsib.scenario.format import resolve_cohorts
from simsib.scenario.loader import bundled_scenario_path, load_scenario

DRAWS = 200
Z = 4.0  # standard errors
EVERYTHING = Needs(milestone_blocks=(30,), milestone_once=(91,), point_days=(98,), offset_days=(98,), horizon=True)

# process -> (scenario, cohort index, override that sets the effect to `{}`)
PROCESSES = {
    "care from outside care": ("norfolk", 0, "effect.log_hazard_ratio={}"),
    "care from inside care": ("norfolk", 1, "effect.log_hazard_ratio={}"),
    "recurrent events": ("peterborough", 0, "cohorts.0.log_rate_ratio={}"),
    "attainment": ("care-leavers-rate-card", 0, None),  # each milestone's own effect, below
}


def _effect(process: str, value: float) -> list[str]:
    name, index, template = PROCESSES[process]
    if template is not None:
        return [template.format(value)]
    scenario = load_scenario(bundled_scenario_path(name))
    return [f"cohorts.0.outcomes.{j}.log_hazard_ratio={value}"
            for j, o in enumerate(scenario.cohorts[0].outcomes) if o.after is None]


def _setting(process: str, overrides: list[str], seed: int = 3):
    """(scenario, cohort, inputs, the cohort's monthly starts, its people stream) of one chunk."""
    name, index, _ = PROCESSES[process]
    scenario = load_scenario(bundled_scenario_path(name), overrides)
    cohorts = resolve_cohorts(scenario)
    chunk = chunk_seed(seed, 0)
    inputs = sample_inputs(scenario, chunk, DRAWS)
    _, starts = monthly_starts(scenario, inputs, stream(chunk, "referrals"), stream(chunk, "waiting"))
    own = split_starts(scenario, cohorts, inputs, starts, stream(chunk, "cohorts"))[index]
    return scenario, cohorts[index], inputs, own, people_stream(chunk, cohorts[index]), chunk, starts


def _outcomes(process: str, overrides: list[str]) -> CohortQuarterly:
    scenario, cohort, inputs, _, _, chunk, starts = _setting(process, overrides)
    return simulate_cohorts(scenario, inputs, starts, chunk, EVERYTHING).group(cohort.name)


# Treated field -> its counterfactual twin.
PAIRS = {
    "care_days_treated": "care_days_counterfactual",
    "milestone_block_days": "milestone_block_days_counterfactual",
    "milestone_people": "milestone_people_counterfactual",
    "out_of_state_at": "out_of_state_at_counterfactual",
    "in_state_at": "in_state_at_counterfactual",
    "events_treated": "events_counterfactual",
    "attained": "attained_counterfactual",
    "person_attained": "person_attained_counterfactual",
}


def test_every_paired_field_is_listed():
    names = {f.name for f in fields(CohortQuarterly)}
    assert set(PAIRS) | set(PAIRS.values()) <= names
    assert {n for n in names if n.endswith("_counterfactual")} <= set(PAIRS.values())


@pytest.mark.parametrize("process", PROCESSES)
def test_no_effect_gives_identical_paths(process):
    out = _outcomes(process, _effect(process, 0.0))
    filled = []
    for treated, counterfactual in PAIRS.items():
        a, b = getattr(out, treated), getattr(out, counterfactual)
        if a is None or (isinstance(a, dict) and not a):
            continue
        for key in (a if isinstance(a, dict) else [None]):
            x, y = (a[key], b[key]) if key is not None else (a, b)
            np.testing.assert_array_equal(x, y, err_msg=f"{treated}[{key}]")
            if np.where(np.isfinite(x), x, 0).sum() > 0:
                filled.append(treated)
    # Fields of the difference itself hold nothing.
    for avoided in ("state_days_avoided_to_horizon", "state_days_avoided_to_horizon_by_cohort"):
        if getattr(out, avoided) is not None:
            np.testing.assert_array_equal(getattr(out, avoided), 0.0, err_msg=avoided)
    # The process's own outcome is among the identical fields: the comparison means something.
    main = {"care": "care_days_treated", "recurrent_events": "events_treated", "attainment": "attained"}
    assert main[resolve_cohorts(load_scenario(bundled_scenario_path(PROCESSES[process][0])))[
        PROCESSES[process][1]].process] in filled
    if process != "recurrent events":
        return
    # The effect works through the paths alone: with an effect the treated events differ.
    assert not np.array_equal(_outcomes(process, _effect(process, -0.3)).events_treated, out.events_counterfactual)


def _per_person(process: str, overrides: list[str]) -> dict[str, np.ndarray]:
    """Per-person measures of the treated (and counterfactual) paths, in drawing order."""
    scenario, cohort, inputs, starts, rng, _, _ = _setting(process, overrides)
    if cohort.process == "care":
        people = simulate_people(scenario, inputs, starts, rng, cohort)
        to_limit = people.care_treated_to_limit
        return {"care months": people.care_months("treated"),
                "care months to the age limit": (to_limit[:, :, 1] - to_limit[:, :, 0]).sum(axis=1),
                "care months, counterfactual": people.care_months("counterfactual")}
    if cohort.process == "recurrent_events":
        people = recurrent_people(scenario, cohort, inputs, starts, rng)
        return {"events": people.events_per_person("treated"),
                "events, counterfactual": people.events_per_person("counterfactual")}
    from simsib.model.people import person_cells

    draw, _ = person_cells(starts)
    times = milestone_times(cohort, inputs, draw, rng)
    # Milestones reached within the tracking window (minus, so that fewer is better) and each
    # milestone's time: a stronger effect never loses a milestone or delays one.
    window = scenario.contract.tracking_months
    out = {"milestones within the window": -sum((t < window).astype(int) for t, _ in times.values())}
    out.update({f"months to {name}": t for name, (t, _) in times.items()})
    out["milestones within the window, counterfactual"] = -sum((c < window).astype(int) for _, c in times.values())
    return out


@pytest.mark.parametrize("process", PROCESSES)
def test_a_stronger_effect_never_worsens_any_persons_path(process):
    # Effects that help: a lower hazard or rate ratio of the bad state, a higher one of a milestone.
    helps = 1.0 if process == "attainment" else -1.0
    weak, strong = (_per_person(process, _effect(process, helps * size)) for size in (0.2, 0.8))
    none = _per_person(process, _effect(process, 0.0))
    worse_if_larger = [k for k in strong if not k.endswith("counterfactual")]
    assert worse_if_larger
    for key in worse_if_larger:
        assert (strong[key] <= weak[key] + 1e-9).all(), key
        assert (weak[key] <= none[key] + 1e-9).all(), key
        assert (strong[key] < none[key] - 1e-9).any(), f"{key}: the effect changes nothing"
    # The counterfactual paths do not depend on the effect at all (common random numbers).
    for key in strong:
        if key.endswith("counterfactual"):
            np.testing.assert_array_equal(strong[key], none[key])


def _within(deviations: np.ndarray, what: str) -> None:
    """Mean deviation from the input is zero within Z standard errors."""
    se = deviations.std(ddof=1) / np.sqrt(deviations.size)
    assert abs(deviations.mean()) < Z * se, f"{what}: mean deviation {deviations.mean():.4g} (se {se:.3g})"


@pytest.mark.parametrize("process", ["care from outside care", "care from inside care"])
def test_care_entry_and_exit_probabilities_match_their_inputs(process):
    scenario, cohort, inputs, starts, rng, _, _ = _setting(process, _effect(process, 0.0))
    people = simulate_people(scenario, inputs, starts, rng, cohort)
    p30 = inputs[cohort.input_key("population", "p30_exit" if cohort.starts_in_care else "p30_entry")]
    _within((people.entry_counterfactual <= 30.0) - p30[people.draw], f"P(change within 30 months), {process}")


def test_event_rates_and_the_comparison_group_match_their_inputs():
    process = "recurrent events"
    scenario, cohort, inputs, starts, rng, chunk, all_starts = _setting(process, [])
    people = recurrent_people(scenario, cohort, inputs, starts, rng)
    monthly = inputs["cohorts.0.events_per_year"][people.draw] / 12.0
    ratio = np.exp(inputs["cohorts.0.log_rate_ratio"][people.draw])
    # Counterfactual events: rate × window; treated: rate ratio × rate × window (the effect lasts the window).
    _within(people.events_per_person("counterfactual") - monthly * people.window, "counterfactual events")
    _within(people.events_per_person("treated") - ratio * monthly * people.window, "treated events")
    # The comparison group: m people, a full window, at the comparison rate.
    group = simulate_cohorts(scenario, inputs, all_starts, chunk).group(cohort.name)
    months = scenario.contract.tracking_months
    expected = (cohort.table.comparison_group_size * months * inputs["cohorts.0.events_per_year"] / 12.0
                * inputs["cohorts.0.comparison_rate_ratio"])
    _within(group.comparison_events - expected, "comparison group events")
    np.testing.assert_allclose(group.comparison_days, cohort.table.comparison_group_size * months * 365.25 / 12)


def test_milestone_probabilities_match_their_inputs():
    process = "attainment"
    scenario, cohort, inputs, starts, rng, _, _ = _setting(process, _effect(process, 0.0))
    from simsib.model.people import person_cells

    draw, _ = person_cells(starts)
    times = milestone_times(cohort, inputs, draw, rng)
    for j, outcome in enumerate(cohort.table.outcomes):
        probability = inputs[f"cohorts.0.outcomes.{j}.probability"][draw]
        treated, counterfactual = times[outcome.name]
        np.testing.assert_array_equal(treated, counterfactual)
        if outcome.after is None:
            reached = counterfactual <= outcome.within_months
            _within(reached - probability, outcome.name)
        else:
            earlier = np.isfinite(times[outcome.after][1])
            followed = np.isfinite(counterfactual[earlier])
            _within(followed - probability[earlier], outcome.name)
            delay = inputs[f"cohorts.0.outcomes.{j}.delay_months"][draw]
            np.testing.assert_allclose(counterfactual[earlier][followed] - times[outcome.after][1][earlier][followed],
                                       delay[earlier][followed])
