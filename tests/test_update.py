"""The re-forecast: observables read through one place, weights, resampling, moves, outputs, exit codes.

Statistical checks use tolerances derived from standard errors; the calibration of the whole
method is tests/test_update_calibration.py (slow).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import simsib
from simsib.analysis.likelihood import (
    COUNT_SIZE,
    RowModel,
    SyntheticLikelihood,
    log_likelihood,
    measure,
    measurement_variance,
    predictive_tail,
)
from simsib.analysis.observations import Observation, Observations
from simsib.analysis.observe import draw_observations
from simsib.analysis.update import update, update_stages
from simsib.analysis.update_chunks import Batch, UpdateSpec, batch_chunk
from simsib.analysis.weights import (
    effective_sample_size,
    normalise,
    pareto_k,
    probability_integral_transform,
    systematic_resample,
    weighted_quantiles,
)
from simsib.cli.main import app
from simsib.model.inputs import sample_inputs
from simsib.model.outcomes import sum_from_cohort_quarters
from simsib.model.referrals import expected_referrals, monthly_capacity
from simsib.model.streams import chunk_seed, update_seed
from simsib.run.observables import continue_history, observable_series, simulate_history
from simsib.run.pipeline import run_chunk, settle, simulate_outcomes
from simsib.scenario.loader import bundled_scenario_path, load_scenario

# A re-forecast samples its prior at random whatever the default (update.independent_draws): the
# lower-level pieces tested here take the scenario as the update hands it to them.
ESSEX = load_scenario(None, ['simulation.sampling="random"'])
SMALL = dict(draws=300, seed=11, paths=4, max_rounds=1)


def to_date(quarter: int, **values: float) -> Observations:
    rows = tuple(Observation(i + 1, name, 3 * quarter, None, value) for i, (name, value) in enumerate(values.items()))
    return Observations(rows, "test")


# --- the pipeline, read through run/observables.py ---------------------------------------------


def test_history_is_the_runs_own_simulation():
    chunk = chunk_seed(5, 0)
    inputs = sample_inputs(ESSEX, chunk, 200)
    outcomes, starts = simulate_outcomes(ESSEX, inputs, chunk)
    history = simulate_history(ESSEX, inputs, chunk)
    assert np.array_equal(history.monthly_starts, starts)
    assert np.array_equal(history.outcomes.care_days_treated, outcomes.care_days_treated)


def test_prior_batch_gives_run_chunk_numbers():
    spec = UpdateSpec(ESSEX, 5, 1000, to_date(8, starts_to_date=100))
    chunk = batch_chunk(spec, Batch(0, 150), paths=2)
    reference = run_chunk(ESSEX, 5, 0, 150, quarterly=False)
    for key, value in reference.draws.items():
        assert np.array_equal(chunk.draws[key], value, equal_nan=True), key
    assert chunk.simulated.shape == (150, 2, 1)


def test_total_referrals_have_the_models_mean():
    """All referrals N = converted + not converted: E N_m = μ_m.  Checked over 2,000 draws'
    totals, within 4 standard errors of the mean difference."""
    chunk = chunk_seed(9, 0)
    inputs = sample_inputs(ESSEX, chunk, 2000)
    history = simulate_history(ESSEX, inputs, chunk)
    difference = history.referrals.sum(axis=1) - expected_referrals(ESSEX, inputs).sum(axis=1)
    assert abs(difference.mean()) < 4 * difference.std(ddof=1) / np.sqrt(difference.size)
    converted_at_most = history.referrals >= 0
    assert converted_at_most.all()


def test_a_continued_history_keeps_the_past_and_redraws_the_future():
    chunk = chunk_seed(3, 0)
    inputs = sample_inputs(ESSEX, chunk, 300)
    past = simulate_history(ESSEX, inputs, chunk)
    review = 8
    moved = continue_history(ESSEX, inputs, past, review, update_seed(3, 0, 1, 0))
    before = observable_series(ESSEX, inputs, past, settle(ESSEX, inputs, past.outcomes, past.monthly_starts))
    after = observable_series(ESSEX, inputs, moved, settle(ESSEX, inputs, moved.outcomes, moved.monthly_starts))
    for name in ("referrals", "starts"):
        assert np.array_equal(before[name][:, :3 * review], after[name][:, :3 * review]), name
    for name in ("care_days", "child_days", "payments", "completions"):
        assert np.array_equal(before[name][:, :review], after[name][:, :review]), name
    assert not np.array_equal(before["starts"][:, 3 * review:], after["starts"][:, 3 * review:])
    # The model's own rules still hold: never more starts than places in a month.
    places = monthly_capacity(ESSEX, inputs)
    assert (moved.monthly_starts <= places).all()


def test_a_continued_history_sums_its_spliced_cohorts_again():
    """Sums over start cohorts made on the way (by quarter, and to the age limit) are not spliced
    along their quarter axis: they are the spliced cohorts' own sums."""
    chunk = chunk_seed(3, 0)
    inputs = sample_inputs(ESSEX, chunk, 200)
    past = simulate_history(ESSEX, inputs, chunk)
    moved = continue_history(ESSEX, inputs, past, 8, update_seed(3, 0, 1, 0)).outcomes
    assert moved.days_by_quarter == {}
    for name in ("child_days", "care_days_treated", "care_days_counterfactual"):
        np.testing.assert_array_equal(moved.by_quarter(name), getattr(moved, name).sum(axis=1), err_msg=name)
    by_cohort = moved.state_days_avoided_to_horizon_by_cohort
    np.testing.assert_array_equal(moved.state_days_avoided_to_horizon,
                                  sum_from_cohort_quarters(by_cohort, moved.state_days_avoided_to_horizon.shape[1]))
    assert not np.array_equal(by_cohort, past.outcomes.state_days_avoided_to_horizon_by_cohort)


# --- the observation model and the weights ---------------------------------------------------


def test_count_likelihood_is_the_negative_binomial():
    model = RowModel.of(to_date(4, starts_to_date=37))
    x = np.array([[5.0], [37.0], [80.0]])
    mean = x[:, 0]
    expected = stats.nbinom(COUNT_SIZE, COUNT_SIZE / (COUNT_SIZE + mean)).logpmf(37)
    assert np.allclose(log_likelihood(model, x)[:, 0], expected)


def test_share_likelihood_is_the_truncated_normal_and_nan_is_impossible():
    model = RowModel.of(to_date(4, care_proportion_to_date=0.2))
    x = np.array([[0.15], [0.9], [np.nan]])
    sd = 0.01
    expected = stats.truncnorm((0 - x[:2, 0]) / sd, (1 - x[:2, 0]) / sd, loc=x[:2, 0], scale=sd).logpdf(0.2)
    out = log_likelihood(model, x)[:, 0]
    assert np.allclose(out[:2], expected) and out[2] == -np.inf


def test_measurements_have_the_models_mean_and_variance():
    """Figures drawn around x = 50 (count) and £1m: sample mean and variance within 4 standard errors."""
    model = RowModel.of(to_date(4, starts_to_date=0, payments_to_date=0))
    x = np.tile([[50.0, 1e6]], (20_000, 1))
    drawn = measure(model, x, np.random.default_rng(1))
    variance = measurement_variance(model, x[:1])[0]
    for j in range(2):
        se_mean = np.sqrt(variance[j] / drawn.shape[0])
        assert abs(drawn[:, j].mean() - x[0, j]) < 4 * se_mean
        se_var = variance[j] * np.sqrt(2.0 / (drawn.shape[0] - 1))  # near-normal draws
        assert abs(drawn[:, j].var(ddof=1) - variance[j]) < 4 * se_var
    assert (drawn[:, 0] == np.round(drawn[:, 0])).all()


def test_synthetic_likelihood_is_the_gaussian_of_the_paths():
    model = RowModel.of(to_date(4, payments_to_date=1.0e6))
    paths = np.array([[[0.9e6], [1.1e6], [1.0e6], [1.2e6]]])
    likelihood = SyntheticLikelihood(model, np.eye(1), paths=4)
    mean, var = paths.mean(), paths.var(ddof=1)
    sd = np.sqrt(var * (1 + 1 / 4) + (0.05 * mean + 1000.0) ** 2)
    assert np.isclose(likelihood.log_likelihood(paths)[0], stats.norm(mean, sd).logpdf(1.0e6))


def test_weights_are_normalised_in_log_space():
    weights, log_mean = normalise(np.array([-1e4, -1e4 + np.log(3.0), -np.inf]))
    assert np.allclose(weights, [0.25, 0.75, 0.0])
    assert np.isclose(log_mean, -1e4 + np.log(4.0 / 3.0))
    assert effective_sample_size(np.full(10, 0.1)) == pytest.approx(10.0)


def test_systematic_resampling_keeps_each_draw_within_one_of_its_share():
    weights = np.random.default_rng(2).dirichlet(np.ones(50))
    counts = np.bincount(systematic_resample(weights, 1000, np.random.default_rng(3)), minlength=50)
    assert counts.sum() == 1000 and (np.abs(counts - 1000 * weights) < 1.0 + 1e-9).all()


def test_pareto_k_tells_light_from_heavy_tails():
    """Shape estimates of 1/α for Pareto-tailed weights; the tail has 300 weights, so the
    estimate's standard error is about (1 + k)/√300 ≈ 0.07-0.1: within 3 of them."""
    rng = np.random.default_rng(4)
    for alpha in (4.0, 1.25):
        k = pareto_k(np.log(rng.pareto(alpha, 10_000) + 1.0))
        assert abs(k - 1.0 / alpha) < 3 * (1 + 1 / alpha) / np.sqrt(300), (alpha, k)


def test_weighted_quantiles_and_pit():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    assert list(weighted_quantiles(values, weights, [0.05, 0.3, 0.31, 0.95])) == [1.0, 2.0, 3.0, 4.0]
    rng = np.random.default_rng(0)
    assert probability_integral_transform(values, weights, 3.5, rng) == pytest.approx(0.6)
    assert 0.3 <= probability_integral_transform(values, weights, 3.0, rng) <= 0.6


# --- the update -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def essex_update():
    made = draw_observations(ESSEX, 77, 1000, 1, 0, 8, to_date=True)
    return made, update(ESSEX, made.observations, **SMALL)


def test_update_result_is_shaped_like_a_simulation(essex_update):
    made, result = essex_update
    table = result.summary()
    assert {"investor.moic_committed", "council.prob_cap_reached", "review.outcome_payments_to_come"} <= set(table.index)
    assert len(result.draws) == SMALL["draws"]
    assert {"prior_draw", "path", "terminate_moic_committed", "moic_committed"} <= set(result.draws.columns)
    assert np.isclose(result.weights.sum(), 1.0) and len(result.weights) == result.diagnostics.pool_draws
    assert set(result.quarterly["series"]) >= {"payments", "starts_to_date", "care_proportion_to_date"}
    d = result.diagnostics
    assert 1.0 <= d.effective_sample_size <= d.pool_draws and d.distinct_draws >= 1


def test_money_to_date_and_to_come_add_up(essex_update):
    _, result = essex_update
    draws = result.draws
    assert np.allclose(draws["outcome_payments_to_date"] + draws["outcome_payments_to_come"], draws["outcome_payments"])
    assert np.allclose(draws["distributions_to_date"] + draws["distributions_to_come"], draws["distributions"])


def test_terminating_never_starts_more_or_pays_more(essex_update):
    _, result = essex_update
    draws = result.draws
    assert (draws["terminate_young_people_started"] <= draws["young_people_started"]).all()
    assert (draws["terminate_young_people_started"] < draws["young_people_started"]).any()
    assert (draws["terminate_outcome_payments"] <= draws["outcome_payments"] + 1e-6).all()


def test_posterior_paths_match_the_observed_figures_within_their_likelihood(essex_update):
    """Figures simulated from the model: each lies inside its posterior predictive (measurement
    error included) at the 1% level, and the posterior's spread of each is narrower than the prior's."""
    made, result = essex_update
    model = RowModel.of(made.observations)
    assert (predictive_tail(model, result.posterior_simulated) >= 0.01).all()
    prior = result.pool.simulated[:result.pool.n_prior, 0, :]
    assert (np.nanstd(result.posterior_simulated, axis=0) < np.nanstd(prior, axis=0)).all()


def test_same_seed_same_numbers_for_any_workers():
    made = draw_observations(ESSEX, 5, 1000, 1, 0, 6, to_date=True)
    kwargs = dict(draws=1200, seed=2, paths=3, max_rounds=1, posterior_draws=1200)
    one, two = update(ESSEX, made.observations, workers=1, **kwargs), update(ESSEX, made.observations, workers=2, **kwargs)
    pd.testing.assert_frame_equal(one.draws, two.draws)
    assert np.array_equal(one.weights, two.weights)


def test_data_no_draw_can_produce_is_an_error():
    with pytest.raises(simsib.ScenarioError, match="no prior draw comes within"):
        update(ESSEX, to_date(8, starts_to_date=5000), **SMALL)


def test_stages_share_one_prior_and_report_each_review():
    launch = load_scenario(bundled_scenario_path("essex-launch"))
    results = update_stages(launch, ["essex-year1", "essex-end"], **SMALL)
    assert [r.review_quarter for r in results] == [7, 24]
    assert results[0].pool.n_prior == results[1].pool.n_prior
    from simsib.analysis.posterior import stage_rows

    rows = stage_rows(results)
    assert [r["stage"] for r in rows][0] == "at signing (prior)" and len(rows) == 3


def test_cli_update_writes_a_run_folder_and_warns(tmp_path):
    out = tmp_path / "posterior"
    result = CliRunner().invoke(app, ["update", "essex-launch", "--observed", "essex-year1", "--draws", "300",
                                      "--seed", "1", "--out", str(out), "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    for name in ("summary.json", "draws.parquet", "quarterly.csv", "manifest.json", "scenario.toml", "update.json",
                 "observations.csv", "stages.csv", "update.md"):
        assert (out / name).is_file(), name
    content = json.loads((out / "update.json").read_text())
    assert {"method", "diagnostics", "log_likelihood", "fit", "inputs", "decision", "warnings"} <= set(content)
    assert content["inputs"]["referrals.referrals_per_month"]["posterior"]["mean"] is not None
    # The launch plan expected a quick start; year 1 was slow: the update says the prior barely explains it.
    assert "prior-data conflict" in result.output
    assert json.loads((out / "summary.json").read_text())["review"]["outcome_payments_to_date"]["mean"] >= 0
    # The folder rules of every command that writes a folder (simsib.run.ownership).
    assert json.loads((out / "manifest.json").read_text())["written_by"] == "simsib"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    refused = CliRunner().invoke(app, ["update", "essex-launch", "--observed", "essex-year1", "--draws", "300",
                                       "--out", str(mine), "--quiet"])
    assert refused.exit_code == 2 and "--force" in refused.output
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_observe_writes_a_draws_figures_and_refuses_update_folders(tmp_path):
    run_dir, out = tmp_path / "run", tmp_path / "draw3.csv"
    runner = CliRunner()
    assert runner.invoke(app, ["run", "essex", "--draws", "50", "--seed", "4", "--out", str(run_dir),
                               "--workers", "1"]).exit_code == 0
    result = runner.invoke(app, ["observe", str(run_dir), "--draw", "3", "--until-quarter", "6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    observations = simsib.read_observations(out)
    assert len(observations) == 6 * 6 and observations.review_quarter == 6
    made = draw_observations(load_scenario(), 4, 1000, 50, 3, 6)  # the run's own (default) sampling
    assert [r.value for r in observations.rows] == [r.value for r in made.observations.rows]
    bad = runner.invoke(app, ["observe", str(run_dir), "--draw", "50", "--until-quarter", "6", "--out", str(out)])
    assert bad.exit_code == 2 and "0 to 49" in bad.output
    # A file simsib observe wrote is replaced; any other only with --force (the folder rules, for a file).
    again = ["observe", str(run_dir), "--draw", "4", "--until-quarter", "6", "--out", str(out)]
    assert runner.invoke(app, again).exit_code == 0
    mine = tmp_path / "mine.csv"
    mine.write_text("quarter,series,cohort,value,source\n")
    refused = runner.invoke(app, [*again[:-1], str(mine)])
    assert refused.exit_code == 2 and "--force" in refused.output and mine.read_text().startswith("quarter")
    assert runner.invoke(app, [*again[:-1], str(mine), "--force"]).exit_code == 0
    assert mine.read_text().startswith("# simsib observe:")


@pytest.mark.parametrize("name", ["peterborough", "care-leavers-rate-card", "rikers", "essex-tranches"])
def test_other_processes_and_term_sheets_continue_their_histories(name):
    """Recurrent events with a comparison group, attainment with per-person records, reviews and
    tranches: a continued history keeps every figure before the review exactly."""
    scenario = load_scenario(bundled_scenario_path(name))
    chunk = chunk_seed(8, 0)
    inputs = sample_inputs(scenario, chunk, 120)
    past = simulate_history(scenario, inputs, chunk)
    review = 6
    moved = continue_history(scenario, inputs, past, review, update_seed(8, 0, 1, 0))
    before = observable_series(scenario, inputs, past, settle(scenario, inputs, past.outcomes, past.monthly_starts))
    after = observable_series(scenario, inputs, moved, settle(scenario, inputs, moved.outcomes, moved.monthly_starts))
    for key, value in before.items():
        width = 3 * review if key in ("referrals", "starts") else review
        assert np.array_equal(value[:, :width], after[key][:, :width]), key


def test_an_update_of_a_recurrent_event_contract_reads_events():
    scenario = load_scenario(bundled_scenario_path("peterborough"))
    made = draw_observations(scenario, 3, 1000, 1, 0, 8, series=["starts_to_date", "events_to_date"], to_date=True)
    assert made.observations.rows[1].value > 0
    result = update(scenario, made.observations, draws=200, seed=4, paths=3, max_rounds=1, posterior_draws=200)
    assert np.isfinite(result.diagnostics.effective_sample_size)


def test_cli_summarises_stages_and_reports(tmp_path):
    figures = tmp_path / "figures.csv"
    made = draw_observations(ESSEX, 21, 1000, 1, 0, 8)
    from simsib.analysis.observations import write_observations

    write_observations(figures, made.observations.rows)
    out = tmp_path / "upd"
    result = CliRunner().invoke(app, ["update", "essex", "--observed", str(figures), "--observed", "essex-end",
                                      "--summarise", "--draws", "300", "--paths", "3", "--seed", "2", "--out",
                                      str(out), "--workers", "1", "--report", "--quiet"])
    assert result.exit_code == 0, result.output
    content = json.loads((out / "update.json").read_text())
    assert len(content["stages"]) == 3 and len(content["stage_decisions"]) == 2
    assert len(content["fit"]) < len(made.observations) + 4  # 48 per-quarter figures summarised
    html = (out / "index.html").read_text()
    assert "Re-forecast" in html and (out / "figures" / "stages.png").is_file()
    assert (out / "figures" / "observed_starts_to_date.png").is_file()


def test_cli_data_no_draw_can_produce_is_exit_2(tmp_path):
    impossible = tmp_path / "impossible.csv"
    impossible.write_text("quarter,series,value,source\n7,starts_to_date,5000,a typo\n")
    result = CliRunner().invoke(app, ["update", "essex", "--observed", str(impossible), "--draws", "200",
                                      "--paths", "2", "--workers", "1", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "impossible.csv: line 2" in result.output and "cannot produce this figure" in result.output
    assert not (tmp_path / "out").exists()


def test_every_update_column_has_a_plain_label(essex_update):
    from simsib.scenario.evidence import label

    _, result = essex_update
    unlabelled = [c for c in result.draws.columns if label(c) == c]
    assert not unlabelled, unlabelled
