"""Payment mechanisms on the same care paths, priced to the same expected payment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import simsib
import simsib.cli.analysis  # noqa: F401 - registers the analysis commands on simsib.cli.app
from simsib.analysis.mechanism_comparison import ALTERNATIVES, compare_mechanisms, solve_scale
from simsib.cli.main import app
from simsib.scenario.loader import bundled_scenario_path, load_raw, validate

# Pricing promises each alternative's expected payment within 1e-6 of the target, relative: a
# millionth of a multi-million-pound payment is pennies, far below the Monte Carlo error of any
# figure compared.  Fixed here rather than read from simsib.analysis.mechanism_comparison, so loosening the solver
# fails these tests.  The table recomputes each payment from the priced scenario, which adds
# only rounding (~1e-15 relative), well inside this.
PRICING_RTOL = 1e-6

DRAWS = 150


@pytest.fixture(scope="module")
def raw():
    return load_raw(bundled_scenario_path(), ["simulation.chunk_size=100"])


@pytest.fixture(scope="module")
def result(raw):
    return compare_mechanisms(raw, validate(raw), draws=DRAWS, seed=12)


def test_every_mechanism_is_priced_to_the_same_expected_payment(result):
    table = result.table.set_index("mechanism")
    assert list(table.index) == ["own", *ALTERNATIVES]
    assert table["priced"].all()
    target = result.header["target_expected_payment"]
    assert table.loc["own", "outcome_payments"] == pytest.approx(target, rel=1e-12)
    for name in ALTERNATIVES:
        assert table.loc[name, "outcome_payments"] == pytest.approx(target, rel=PRICING_RTOL)
        assert table.loc[name, "price"] > 0


def test_the_own_mechanism_is_the_plain_run(raw, result):
    fresh = simsib.simulate(validate(raw), draws=DRAWS, seed=12).draws
    for name, values in result.draws["own"].items():
        assert np.array_equal(values, fresh[name].to_numpy(), equal_nan=True), name


def test_mechanisms_share_the_care_paths(result):
    # Same children, same care: the counterfactual care of served young people differs only
    # where the SPV stopped the service at a different time.
    own = result.draws["own"]
    for name in ALTERNATIVES:
        other = result.draws[name]
        same_service = (own["service_stopped_early"] == other["service_stopped_early"]) & \
            np.isnan(own["first_short_quarter"]) & np.isnan(other["first_short_quarter"])
        assert same_service.any()
        assert np.array_equal(own["care_days_counterfactual"][same_service],
                              other["care_days_counterfactual"][same_service])


def test_reported_figures(result):
    table = result.table
    for column in ("prob_pays_more_than_saved", "prob_loss", "median_irr", "payment_sd", "payment_p05", "payment_p95"):
        assert table[column].notna().all(), column
    assert (table["payment_p05"] <= table["outcome_payments"]).all()
    assert (table["outcome_payments"] <= table["payment_p95"]).all()


def test_solve_scale_linear_capped_and_unreachable():
    calls = []

    def linear(s):
        calls.append(s)
        return 3.0 * s

    scale, matched = solve_scale(linear, 6.0, first=2.0)
    assert matched and scale == 2.0 and calls == [2.0]
    capped = lambda s: min(3.0 * s, 5.0) + 0.5 * max(0.0, s - 1.0)  # noqa: E731 - kinked, still rising
    scale, matched = solve_scale(capped, 5.4, first=1.0)
    assert matched and capped(scale) == pytest.approx(5.4, rel=PRICING_RTOL)
    scale, matched = solve_scale(lambda s: min(3.0 * s, 5.0), 9.0, first=3.0)
    assert not matched
    assert solve_scale(linear, 0.0, first=1.0) == (0.0, True)


def test_cli(tmp_path):
    out = tmp_path / "mech"
    result = CliRunner().invoke(app, ["compare-mechanisms", "essex", "-n", "60", "-s", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "mechanisms.csv")
    assert table["mechanism"].tolist() == ["own", *ALTERNATIVES]
    assert "per_person" in (out / "mechanisms.md").read_text()


def test_the_care_paths_simulated_on_workers_give_the_same_numbers(raw, result):
    # Two processes simulate the chunks (finishing in any order); every figure is the same.
    parallel = compare_mechanisms(raw, validate(raw), draws=DRAWS, seed=12, workers=2)
    pd.testing.assert_frame_equal(parallel.table, result.table)
    for name, columns in result.draws.items():
        for key, values in columns.items():
            np.testing.assert_array_equal(parallel.draws[name][key], values)


def test_standard_errors_come_from_the_replicates_under_qmc(result):
    # The default samples by Sobol points: a run's errors are its replicates', never the iid formula's.
    from simsib.analysis.estimates import METRICS, estimate
    from simsib.run.summary import replicate_se

    own = result.draws["own"]
    assert "replicate" in own
    value, se = estimate(METRICS["prob_loss"], own)
    assert se == pytest.approx(replicate_se((own["moic_drawn"] < 1.0).astype(float), own["replicate"]), rel=1e-12)
    row = result.table.set_index("mechanism").loc["own"]
    assert row["prob_loss_se"] == se
