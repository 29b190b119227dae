"""Sweeps: grid parsing, unknown keys, common random numbers, care-path reuse, speed paths."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from typer.testing import CliRunner

import simsib
import simsib.cli.analysis  # noqa: F401 - registers the analysis commands on simsib.cli.app
from simsib.analysis.sweep import Grid, grid_points, parse_grid, sweep
from simsib.analysis.variants import VariantSet, reuses_outcomes, run_variants
from simsib.cli.main import app
from simsib.report.sweep import write_sweep
from simsib.scenario.errors import ScenarioError
from simsib.scenario.evidence import label
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate
from simsib.scenario.variants import build_variant

DRAWS = 120
OVERRIDES = ["simulation.chunk_size=100"]  # two chunks (100 + 20), so chunking is exercised


@pytest.fixture(scope="module")
def raw():
    return load_raw(bundled_scenario_path(), OVERRIDES)


@pytest.fixture(scope="module")
def base(raw):
    return validate(raw)


# --- grids --------------------------------------------------------------------------------


def test_parse_grid_list_range_and_integers():
    assert parse_grid("contract.cap=5e6,6e6,7e6") == Grid("contract.cap", (5e6, 6e6, 7e6))
    assert parse_grid("contract.cap=5e6:9e6:5").values == (5e6, 6e6, 7e6, 8e6, 9e6)
    assert parse_grid("contract.tracking_months=24:36:3").values == (24, 30, 36)
    assert all(isinstance(v, int) for v in parse_grid("contract.tracking_months=24:36:3").values)
    assert parse_grid("contract.netting=contract,cohort").values == ("contract", "cohort")
    # A TOML table as a value: commas inside braces do not split it.
    grid = parse_grid('effect.log_hazard_ratio={ dist = "normal", mean = 0, sd = 0.1 },0')
    assert grid.values == ({"dist": "normal", "mean": 0, "sd": 0.1}, 0)


@pytest.mark.parametrize("text", ["contract.cap", "=1,2", "contract.cap=", "contract.cap=1:2:0", "contract.cap=a:b:3"])
def test_parse_grid_rejects_malformed(text):
    with pytest.raises(ScenarioError):
        parse_grid(text)


def test_grid_points_form_a_product_first_grid_slowest():
    points = grid_points([Grid("a", (1, 2)), Grid("b", (10, 20, 30))])
    assert len(points) == 6
    assert points[:3] == [{"a": 1, "b": 10}, {"a": 1, "b": 20}, {"a": 1, "b": 30}]
    with pytest.raises(ScenarioError):
        grid_points([Grid("a", (1,)), Grid("a", (2,))])


def test_unknown_key_is_a_clear_error(raw):
    with pytest.raises(ScenarioError) as info:
        sweep(raw, [parse_grid("contract.capp=5e6,6e6")], draws=10, seed=1)
    problem = info.value.problems[0]
    assert problem.key == "contract.capp"
    assert problem.suggestion == "contract.cap"
    assert "contract.capp" in info.value.render() and "did you mean 'contract.cap'" in info.value.render()
    with pytest.raises(ScenarioError, match="cannot be varied"):
        sweep(raw, [parse_grid("simulation.draws=10,20")], draws=10, seed=1)


def test_unknown_key_exits_2_through_the_cli():
    result = CliRunner().invoke(app, ["sweep", "essex", "--grid", "spv.capital_comitted=3e6,4e6", "-n", "10"])
    assert result.exit_code == 2
    assert "spv.capital_comitted" in result.output and "spv.capital_committed" in result.output


def test_invalid_value_is_a_scenario_error(raw):
    with pytest.raises(ScenarioError, match="contract.cap"):
        sweep(raw, [parse_grid("contract.cap=-5")], draws=10, seed=1)


def test_unknown_metric_suggests_a_name(raw):
    with pytest.raises(ScenarioError, match="prob_loss"):
        sweep(raw, [parse_grid("contract.cap=5e6")], metrics=["prob_los"], draws=10, seed=1)


# --- common random numbers and reuse -------------------------------------------------------


def test_higher_cap_never_lowers_any_draws_distributions(raw):
    caps = (1e6, 4e6, 5e6, 7.2e6, 9e6)
    result = sweep(raw, [Grid("contract.cap", caps)], draws=DRAWS, seed=11, extra_columns=["distributions"])
    assert result.table["outcomes_reused"].all()
    distributions = np.array([point["distributions"] for point in result.draws])  # (caps, draws)
    assert np.all(np.diff(distributions, axis=0) >= -1e-6)
    assert np.any(np.diff(distributions, axis=0) > 0)  # the cap does bind somewhere


def test_crn_differences_are_exactly_zero_where_the_key_does_not_reach(raw, base):
    costs = (0.0, 10_000.0, 50_000.0)
    result = sweep(raw, [Grid("contract.council_management_cost_per_quarter", costs)],
                   metrics=["outcome_payments", "prob_cap_reached", "prob_loss", "median_irr", "net_benefit"],
                   draws=DRAWS, seed=5)
    table = result.table
    for metric in ("outcome_payments", "prob_cap_reached", "prob_loss", "median_irr"):
        assert (table[metric].diff().dropna() == 0).all(), metric
        assert (table[f"{metric}_se"].diff().dropna() == 0).all(), metric
    # The council's own cost moves its net benefit by exactly that cost, in every draw.
    nb = np.array([p["net_benefit"] for p in result.draws])
    expected = -(np.asarray(costs)[:, None] - costs[0]) * base.n_quarters
    np.testing.assert_allclose(nb - nb[0], np.broadcast_to(expected, nb.shape), rtol=0, atol=1e-6)


def test_crn_holds_when_care_paths_are_resimulated(raw):
    result = sweep(raw, [Grid("effect.duration_months", (6.0, 36.0))], metrics=["moic_committed"],
                   draws=DRAWS, seed=5, extra_columns=["population.p30_entry", "referrals.referrals_per_month"])
    assert not result.table["outcomes_reused"].any()
    first, second = result.draws
    for column in ("population.p30_entry", "referrals.referrals_per_month"):
        assert np.array_equal(first[column], second[column])


MONEY_VARIANTS = [
    {"contract.cap": 6e6},
    {"contract.cohort_cap": 1.5e6, "contract.netting": "cohort"},
    {"contract.council_management_cost_per_quarter": 20_000},
    {"contract.target_care_proportion": 0.3},
    {"contract.mechanisms.0.price_per_day": 60},
    {"contract.mechanisms.0.baseline_care_proportion": {"dist": "beta", "a": 11, "b": 9}},
    {"spv.capital_committed": 4e6, "spv.reserve": 100_000, "spv.distributions_from_month": 48},
    {"spv.team_cost_per_quarter": 120_000, "spv.cost_per_young_person": 2_000, "spv.discount_rate": 0.05},
    {"care.la_foster_weekly_cost": 700, "care.residential_weekly_cost": 3_500},
    {"care.residential_share": 0.3, "care.ifa_share_of_fostering": {"dist": "uniform", "low": 0.2, "high": 0.6}},
    {"contract.payers": [{"name": "council", "share": 0.6}, {"name": "fund", "share": 0.4, "cap": 1.5e6}]},
    {"contract.mechanisms.0.cohorts": ["all"]},
    # The term sheet (issue 16): tranches, guarantees, drawdown, interest, provider risk, reviews.
    {"spv.tranches": [{"name": "senior", "commitment": 2_130_000.0, "coupon": 0.05, "upside_share": 0.0},
                      {"name": "junior", "commitment": 1_000_000.0, "priority": "junior", "upside_share": 1.0}],
     "spv.distribution_order": "by_tranche",
     "spv.guarantees": [{"guarantor": "foundation", "tranche": "senior", "share": 0.75, "limit": 1e6}]},
    {"spv.return_cap": 0.06, "spv.cash_interest_rate": 0.02, "spv.drawdown": {"rule": "at_close"},
     "spv.provider_risk": {"share": 0.1, "paid": "after_capital"}},
    {"contract.reviews": [{"month": 36, "measure": "young_people_started", "when": "below", "threshold": 150.0}],
     "contract.termination": {"early_redemption": [{"from_month": 24, "fraction": 0.5}]}},
]


def test_money_variants_reuse_care_paths_and_match_a_fresh_simulation(raw, base):
    """Every money-only key (MONEY_ONLY) reuses care paths -- and gives exactly simsib.simulate's numbers."""
    variants = [build_variant(raw, overrides) for overrides in MONEY_VARIANTS]
    vset = VariantSet.of(base, variants)
    assert all(vset.reuse)
    results = run_variants(vset, 21, DRAWS)
    for overrides, variant, columns in zip(MONEY_VARIANTS, variants, results):
        fresh = simsib.simulate(variant, draws=DRAWS, seed=21).draws
        assert list(columns) == list(fresh.columns)
        for name, values in columns.items():
            assert np.array_equal(values, fresh[name].to_numpy(), equal_nan=True), (overrides, name)


def test_contract_variants_of_other_processes_reuse_their_outcomes_and_match_a_fresh_simulation():
    """Peterborough's thresholds and price, and a rate card's prices and limits, are money only:
    the events and milestones (and the comparison groups) are simulated once."""
    for name, overrides in (
        ("peterborough", {"contract.mechanisms.0.price_per_event": 20_000, "contract.mechanisms.0.cohort_threshold": 0.05}),
        ("care-leavers-rate-card", {"contract.mechanisms.0.items.1.price": 4_000, "contract.mechanisms.0.cap_per_person": 7_000,
                                    "contract.payers.1.cap": 300_000}),
    ):
        raw = load_raw(bundled_scenario_path(name), OVERRIDES)
        variant = build_variant(raw, overrides)
        vset = VariantSet.of(validate(raw), [variant])
        assert vset.reuse == (True,)
        (columns,) = run_variants(vset, 5, DRAWS)
        fresh = simsib.simulate(variant, draws=DRAWS, seed=5).draws
        assert list(columns) == list(fresh.columns)
        for column, values in columns.items():
            assert np.array_equal(values, fresh[column].to_numpy(), equal_nan=True), (name, column)


@pytest.mark.parametrize("overrides", [
    {"effect.duration_months": 12},
    {"contract.tracking_months": 24},
    {"contract.measurement_end_month": 90},
    {"contract.payment_lag_quarters": 2},
    {"referrals.months_per_case": 5},
    {"contract.mechanisms": [{"type": "milestone", "price": 100.0, "block_days": 28}]},
    {"contract.mechanisms": [{"type": "point_in_time", "price_per_person": 100.0, "at_day": 98}]},
    {"contract.mechanisms": [{"type": "days_out_of_care", "price_per_day": 40.0, "from_day": 98}]},
    {"population.age_limit_years": 19},
    {"contract.reviews": [{"month": 36, "measure": "young_people_started", "when": "above", "threshold": 150.0,
                           "action": "extend", "extend_months": 12}]},
])
def test_model_keys_are_resimulated(raw, base, overrides):
    assert not reuses_outcomes(base, build_variant(raw, overrides))


def test_resimulated_points_match_a_fresh_simulation(raw, base):
    variant = build_variant(raw, {"effect.log_hazard_ratio": 0})
    (columns,) = run_variants(VariantSet.of(base, [variant]), 8, DRAWS, columns=["moic_committed", "true_savings"])
    fresh = simsib.simulate(variant, draws=DRAWS, seed=8).draws
    assert np.array_equal(columns["moic_committed"], fresh["moic_committed"].to_numpy())
    assert np.array_equal(columns["true_savings"], fresh["true_savings"].to_numpy())


def test_workers_do_not_change_a_number(raw, base):
    vset = VariantSet.of(base, [build_variant(raw, {"contract.cap": 6e6}), build_variant(raw, {"effect.log_hazard_ratio": -0.5})])
    one = run_variants(vset, 3, DRAWS, columns=["distributions", "irr"])
    two = run_variants(vset, 3, DRAWS, columns=["distributions", "irr"], workers=2)
    for a, b in zip(one, two):
        for name in a:
            assert np.array_equal(a[name], b[name], equal_nan=True)


# --- outputs ------------------------------------------------------------------------------


def test_default_metrics_with_standard_errors(raw):
    n = 50
    raw = copy.deepcopy(raw)  # random sampling: the iid textbook formulas (QMC: test_qmc_standard_errors)
    raw.setdefault("simulation", {})["sampling"] = "random"
    result = sweep(raw, [parse_grid("contract.cap=5e6,7e6")], draws=n, seed=1)
    for metric in ("outcome_payments", "prob_cap_reached", "prob_loss", "median_irr"):
        assert {metric, f"{metric}_se"} <= set(result.table.columns)
    # The per-draw data behind each point is the simulation itself (same seed, same draws) ...
    fresh = simsib.simulate(build_variant(raw, {"contract.cap": 7e6}), draws=n, seed=1).draws
    for column in ("outcome_payments", "cap_reached", "moic_drawn", "irr"):
        assert np.array_equal(result.draws[-1][column], fresh[column].to_numpy(), equal_nan=True)
    # ... and each value and standard error is recomputed from it by its textbook formula.
    z = norm.ppf(0.975)
    for (_, row), cols in zip(result.table.iterrows(), result.draws):
        payments = np.asarray(cols["outcome_payments"], dtype=float)
        assert len(payments) == n
        assert row["outcome_payments"] == pytest.approx(payments.mean(), rel=1e-12)
        assert row["outcome_payments_se"] == pytest.approx(payments.std(ddof=1) / np.sqrt(n), rel=1e-12)
        lost = np.nan_to_num(np.asarray(cols["moic_drawn"], dtype=float), nan=0.0) < 1.0
        for name, event in (("prob_cap_reached", np.asarray(cols["cap_reached"], dtype=bool)),
                            ("prob_loss", lost)):
            p_hat = event.mean()
            assert row[name] == pytest.approx(p_hat, rel=1e-12, abs=0)
            assert row[f"{name}_se"] == pytest.approx(np.sqrt(p_hat * (1 - p_hat) / n), rel=1e-12, abs=0)
        # Median: the distribution-free 95% interval between order statistics n/2 ± z·√n/2.
        irr = np.sort(np.asarray(cols["irr"], dtype=float))
        irr = irr[~np.isnan(irr)]
        m = irr.size
        lo = max(int(np.floor(m / 2 - z * np.sqrt(m) / 2)), 0)
        hi = min(int(np.ceil(m / 2 + z * np.sqrt(m) / 2)), m - 1)
        assert row["median_irr"] == pytest.approx(np.median(irr), rel=1e-12)
        assert row["median_irr_se"] == pytest.approx((irr[hi] - irr[lo]) / (2 * z), rel=1e-12)


def test_qmc_standard_errors(raw):
    """Under Sobol sampling (the default) every error is the spread of the replicates' figures:
    sd(replicate means) / sqrt(R) for equal replicates, and the same of their medians."""
    n, replicates = 400, 20  # 20 draws in each replicate
    result = sweep(raw, [parse_grid("contract.cap=5e6,7e6")], draws=n, seed=1)
    for (_, row), cols in zip(result.table.iterrows(), result.draws):
        groups = np.asarray(cols["replicate"])
        assert np.array_equal(np.bincount(groups), np.full(replicates, n // replicates))

        def spread(values, statistic=np.mean):
            figures = [statistic(values[groups == g]) for g in range(replicates)]
            return np.std(figures, ddof=1) / np.sqrt(replicates)

        assert row["outcome_payments_se"] == pytest.approx(spread(np.asarray(cols["outcome_payments"])), rel=1e-9)
        lost = (np.nan_to_num(np.asarray(cols["moic_drawn"], dtype=float), nan=0.0) < 1.0).astype(float)
        assert row["prob_loss_se"] == pytest.approx(spread(lost), rel=1e-9, abs=1e-15)
        assert row["median_irr_se"] == pytest.approx(spread(np.asarray(cols["irr"]), np.nanmedian), rel=1e-9)


def test_cli_writes_tidy_csv_markdown_and_a_heatmap(tmp_path):
    out = tmp_path / "sweep"
    result = CliRunner().invoke(app, [
        "sweep", "essex", "--grid", "contract.cap=5e6,7e6", "--grid", "contract.mechanisms.0.price_per_day=50:100:3",
        "--metric", "outcome_payments", "-n", "50", "-s", "1", "-o", str(out), "-w", "1",
    ])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 6
    assert list(table.columns) == ["contract.cap", "contract.mechanisms.0.price_per_day", "outcomes_reused",
                                   "outcome_payments", "outcome_payments_se"]
    assert (out / "sweep_outcome_payments.png").stat().st_size > 0
    assert "| contract.cap |" in (out / "sweep.md").read_text()


def test_one_key_gives_a_line_figure(raw, tmp_path):
    from matplotlib.figure import Figure

    from simsib.report.sweep import plot_metric

    result = sweep(raw, [parse_grid("contract.cap=5e6,7e6")], metrics=["outcome_payments"], draws=50, seed=1)
    figure = Figure()
    ax = figure.add_subplot()
    plot_metric(result, result.metrics[0], ax)
    # Plain labels and values in their units, as in the report.
    assert ax.get_xlabel().startswith(label("contract.cap", short=True)) and "(£)" in ax.get_xlabel()
    assert ax.get_ylabel() == "Council expected payment (± 1.96 se)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["£5.00m", "£7.00m"]
    assert len(ax.lines) >= 1
    written = write_sweep(result, tmp_path)
    assert "sweep_outcome_payments.png" in written


def test_heatmaps_are_in_the_report_style_darker_is_better(raw):
    from matplotlib.figure import Figure

    from simsib.report.sweep import plot_metric

    result = sweep(raw, [parse_grid("contract.cap=5e6,7e6"), parse_grid("contract.mechanisms.0.price_per_day=50,100")],
                   metrics=["outcome_payments", "prob_loss", "moic_committed"], draws=50, seed=1)
    maps = {}
    for metric in result.metrics:
        figure = Figure()
        ax = figure.add_subplot()
        plot_metric(result, metric, ax)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["£50/day", "£100/day"]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["£5.00m", "£7.00m"]
        assert "darker = better" in figure.axes[-1].get_ylabel()
        maps[metric.name] = ax.images[0].get_cmap().name
    # The council's payments and the investors' chance of a loss are better lower, the multiple higher.
    assert maps == {"outcome_payments": "Blues_r", "prob_loss": "Blues_r", "moic_committed": "Blues"}
