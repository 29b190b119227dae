"""The live view's logic without a server: controls, money changes on kept paths, re-simulation,
cancelling, bad input, and reproducing a view with `simsib run`."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import simsib
from simsib.app.controls import controls_for, overrides
from simsib.app.live import LiveModel, NeedsSimulation
from simsib.app.view import RankCache, render
from simsib.cli.main import app
from simsib.scenario.errors import ScenarioError
from simsib.scenario.evidence import register
from simsib.scenario.loader import bundled_scenario_path, load_raw, load_scenario, validate

DRAWS, SEED = 600, 4
# Chunks of 200: three chunks, so a view is assembled from several, as at full size.
SETS = ["simulation.chunk_size=200"]
runner = CliRunner()


def essex_model(name: str = "essex") -> LiveModel:
    raw = load_raw(bundled_scenario_path(name), SETS)
    return LiveModel(raw, file=f"{name}.toml", scenario_arg=name, base_sets=SETS, draws=DRAWS, seed=SEED)


@pytest.fixture(scope="module")
def model() -> LiveModel:
    live = essex_model()
    live.start()
    return live


def fresh_run(name: str, changes: dict) -> dict[str, np.ndarray]:
    scenario = load_scenario(bundled_scenario_path(name), [*SETS, *(f"{k}={json.dumps(v)}" for k, v in changes.items())])
    result = simsib.simulate(scenario, draws=DRAWS, seed=SEED)
    return {c: result.draws[c].to_numpy() for c in result.draws.columns}


def assert_same_columns(live: dict[str, np.ndarray], fresh: dict[str, np.ndarray]) -> None:
    assert set(live) == set(fresh)
    for key in fresh:
        assert np.array_equal(np.asarray(live[key], dtype=float), np.asarray(fresh[key], dtype=float),
                              equal_nan=True), key


def test_essex_controls_have_labels_units_evidence_and_start_on_the_scenario_value():
    raw = load_raw(bundled_scenario_path())
    found = {c.key: c for c in controls_for(raw, validate(raw))}
    assert list(found) == ["contract.cap", "contract.mechanisms.0.price_per_day",
                           "contract.mechanisms.0.baseline_care_proportion", "spv.capital_committed",
                           "spv.upfront_drawdown_share", "referrals.referrals_per_month.median",
                           "effect.log_hazard_ratio.weights", "population.p30_entry.weights"]
    assert found["contract.cap"].value == 7.2e6 and found["contract.cap"].kind == "money"
    assert found["contract.mechanisms.0.price_per_day"].short == "price per care day saved"
    assert found["referrals.referrals_per_month.median"].kind == "model"
    for control in found.values():
        assert control.unit and control.label != control.key and control.evidence
        assert all(i in register() for i in control.evidence)
        if control.widget == "number":
            steps = (control.value - control.minimum) / control.step
            assert abs(steps - round(steps)) < 1e-9 and control.minimum <= control.value <= control.maximum
    strands = found["effect.log_hazard_ratio.weights"].strands
    assert len(strands) == len(found["effect.log_hazard_ratio.weights"].value)
    for strand in strands:
        assert strand.evidence and all(i in register() for i in strand.evidence)
        assert not any(i in strand.label for i in strand.evidence) and "hazard ratio about" in strand.note


def test_a_tranche_commitment_moves_the_total_commitment_with_it():
    raw = load_raw(bundled_scenario_path("essex-tranches"))
    controls = controls_for(raw, validate(raw))
    assert "spv.capital_committed" not in {c.key for c in controls}
    changes = overrides(controls, {"spv.tranches.1.commitment": 1.5e6}, raw)
    assert changes == {"spv.tranches.1.commitment": 1.5e6, "spv.capital_committed": 3.63e6}


def test_unknown_setting_is_an_error_naming_it(model):
    with pytest.raises(ScenarioError) as err:
        model.variant({"contract.kap": 5e6})
    assert err.value.problems[0].key == "contract.kap" and err.value.problems[0].suggestion == "contract.cap"


def test_a_money_change_on_kept_paths_equals_a_fresh_run(model):
    changes = {"contract.cap": 5.5e6, "contract.mechanisms.0.price_per_day": 60.0,
               "spv.upfront_drawdown_share": 0.0}
    settled = model.update(changes)
    assert settled.overrides == changes and not settled.simulated
    assert_same_columns(settled.columns, fresh_run("essex", changes))
    # Back to the scenario's values: no overrides, the first numbers again.
    assert model.update({}).overrides == {}


def test_a_model_change_needs_and_gets_a_fresh_simulation():
    live = essex_model()
    live.start()
    changes = {"referrals.referrals_per_month.median": 4.5, "population.p30_entry.weights": [0.6, 0.4]}
    with pytest.raises(NeedsSimulation):
        live.update(changes)
    progress = []
    settled = live.simulate(changes, lambda done, total: progress.append((done, total)))
    assert progress == [(200, DRAWS), (400, DRAWS), (DRAWS, DRAWS)] and settled.simulated
    assert_same_columns(settled.columns, fresh_run("essex", changes))
    # The paths kept are now the new ones: a money change on top is settled at once.
    assert_same_columns(live.update({**changes, "contract.cap": 6e6}).columns,
                        fresh_run("essex", {**changes, "contract.cap": 6e6}))


def test_cancelling_a_simulation_keeps_the_numbers_and_paths():
    live = essex_model()
    before = live.start()
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 1  # after the first chunk

    assert live.simulate({"referrals.referrals_per_month.median": 4.5}, cancelled=cancelled) is None
    assert live.current is before
    assert live.update({"contract.cap": 6e6}).overrides == {"contract.cap": 6e6}  # still the old paths


@pytest.mark.parametrize("changes, key", [({"contract.mechanisms.0.price_per_day": -5.0},
                                           "contract.mechanisms.0.price_per_day"),
                                          ({"contract.cap": "lots"}, "contract.cap"),
                                          ({"effect.log_hazard_ratio.weights": [0.5, 0.6, 0.1]},
                                           "effect.log_hazard_ratio.weights")])
def test_bad_values_are_refused_with_their_key_and_change_nothing(model, changes, key):
    before = model.current
    with pytest.raises(ScenarioError) as err:
        model.update(changes)
    assert any(p.key == key for p in err.value.problems), err.value.render()
    assert model.current is before


def test_the_set_line_and_the_downloaded_file_reproduce_the_view_with_simsib_run(model, tmp_path):
    settled = model.update({"contract.cap": 6.5e6, "contract.mechanisms.0.baseline_care_proportion": 0.5})
    page = render(model, settled, RankCache())
    words = shlex.split(page["set_line"])
    assert words[:3] == ["simsib", "run", "essex"] and "contract.cap=6500000" in words
    by_line = runner.invoke(app, [*words[1:], "--out", str(tmp_path / "line"), "--json", "--quiet"])
    assert by_line.exit_code == 0, by_line.output
    file = tmp_path / "view.toml"
    file.write_text(model.scenario_toml(settled, file.name))
    by_file = runner.invoke(app, ["run", str(file), "--seed", str(SEED), "--out", str(tmp_path / "file"), "--json"])
    assert by_file.exit_code == 0, by_file.output
    for result in (by_line, by_file):
        summary = json.loads(result.stdout)
        assert summary["investor"]["prob_loss"] == settled.summary["investor"]["prob_loss"]
        assert summary["council"]["outcome_payments"] == settled.summary["council"]["outcome_payments"]


def test_the_view_reports_the_runs_own_figures(model):
    settled = model.update({})
    page = render(model, settled, RankCache())
    figures = {f["id"]: f for f in page["figures"]}
    assert figures["prob_loss"]["value"] == settled.summary["investor"]["prob_loss"]["value"]
    assert figures["prob_cap_reached"]["value"] == settled.summary["council"]["prob_cap_reached"]["value"]
    assert sum(page["moic"]["shares"]) == pytest.approx(1.0)
    assert page["budget"][0]["year"] == "2013/14" and page["budget"][-1]["year"] == "total"
    assert page["budget"][-1]["mean"] == figures["outcome_payments"]["text"]
    strengths = [abs(d["rho"]) for d in page["drivers"]]
    assert strengths == sorted(strengths, reverse=True) and page["drivers"][0]["key"] in settled.columns
    assert len(page["sentences"]) >= 5 and page["drivers"][0]["label"] in page["sentences"][-1]
    json.dumps(page, allow_nan=False)  # strict JSON: an undefined figure is null, never NaN


def test_changes_from_the_scenario_are_paired_over_the_same_draws(model):
    base = model.update({}).summary
    settled = model.update({"contract.mechanisms.0.price_per_day": 60.0})
    page = render(model, settled, RankCache())
    figures = {f["id"]: f for f in page["figures"]}
    loss = figures["prob_loss"]
    after, before = settled.summary["investor"]["prob_loss"], base["investor"]["prob_loss"]
    assert loss["change"] == pytest.approx(after["value"] - before["value"], abs=1e-12)
    # Common random numbers: the paired error is far below that of two independent runs.
    assert 0 < loss["change_se"] < np.hypot(after["se"], before["se"])
    assert loss["change_text"].startswith("+") and " pp ± " in loss["change_text"]
    payments = settled.summary["council"]["outcome_payments"]["mean"] - base["council"]["outcome_payments"]["mean"]
    assert figures["outcome_payments"]["change"] == pytest.approx(payments, rel=1e-9)
    assert "change" not in {k for f in render(model, model.update({}), RankCache())["figures"] for k in f}


BUNDLED = sorted((Path(__file__).resolve().parent.parent / "simsib" / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_scenario_opens_and_its_contract_terms_settle_at_once(path):
    live = LiveModel(load_raw(path), file=str(path), scenario_arg=path.stem, draws=200, seed=1)
    live.start()
    json.dumps(render(live, live.current, RankCache()), allow_nan=False)
    for control in live.controls:
        assert control.unit and all(i in register() for i in control.evidence), control.key
        if control.kind == "money":
            changed = control.value * 0.9 if control.value else control.maximum / 2
            assert live.update({control.key: changed}).overrides.get(control.key) == changed


def test_a_worker_process_holding_half_the_chunks_gives_the_same_numbers():
    raw = load_raw(bundled_scenario_path("essex"), SETS)
    live = LiveModel(raw, file="essex.toml", scenario_arg="essex", base_sets=SETS, draws=DRAWS, seed=SEED, workers=2)
    try:
        assert len(live._remotes) == 1 and live._remotes[0].plan == [(2, 200)]
        progress = []
        live.simulate({}, lambda done, total: progress.append(done))
        assert sorted(progress) == progress and progress[-1] == DRAWS
        money = {"contract.cap": 5.5e6, "spv.upfront_drawdown_share": 0.0}
        assert_same_columns(live.update(money).columns, fresh_run("essex", money))
        model_change = {"population.p30_entry.weights": [0.6, 0.4]}
        before = live.current
        # Cancelled before the local chunks start: the worker's pending paths are discarded too.
        assert live.simulate(model_change, cancelled=lambda: True) is None and live.current is before
        assert_same_columns(live.update(money).columns, fresh_run("essex", money))
        assert_same_columns(live.simulate(model_change).columns, fresh_run("essex", model_change))
        with pytest.raises(NeedsSimulation):
            live.update({})
    finally:
        live.close()
    assert not live._remotes
