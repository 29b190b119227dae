"""Tests for simsib.analysis.compare and ``simsib compare``: paired differences on common random numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import simsib.cli.report  # noqa: F401  (registers `report` and `compare` on the app)
from simsib.analysis.compare import COMPARE_METRICS, compare, paired_difference
from simsib.cli.main import app
from simsib.report.compare import comparison_figure
from simsib.scenario.format import per_draw_quantities
from simsib.scenario.loader import load_scenario

DRAWS = 300
runner = CliRunner()


@pytest.fixture(scope="module")
def essex():
    return load_scenario()


@pytest.fixture(scope="module")
def no_effect():
    return load_scenario(overrides=["effect.log_hazard_ratio=0"])


@pytest.fixture(scope="module")
def community_effect():
    # MST as in community effectiveness trials (E22): a benefit to lose.  (The default's derived
    # prior leans to no effect, E20, so losing it changes little.)
    return load_scenario(overrides=['effect.log_hazard_ratio={ dist = "normal", mean = -0.478, sd = 0.25 }'])


@pytest.fixture(scope="module")
def versus_no_effect(community_effect, no_effect):
    return compare(community_effect, no_effect, draws=DRAWS, seed=5)


def test_scenario_against_itself_differs_by_exactly_zero(essex):
    result = compare(essex, essex, draws=DRAWS, seed=5)
    table = result.table
    assert list(table["column"]) == [m.column for m in COMPARE_METRICS]
    assert (table["difference"] == 0.0).all()
    assert (table["difference_se"] == 0.0).all()
    assert (table["p_b_better"] == 0.0).all() and (table["p_b_worse"] == 0.0).all()
    assert (table["mean_a"] == table["mean_b"]).all()
    assert result.label_a == result.label_b == "essex"


def test_chunk_size_of_b_follows_a(essex):
    # The chunking is part of the random-number layout; B must use A's to share draws.
    rechunked = load_scenario(overrides=["simulation.chunk_size=70"])
    result = compare(essex, rechunked, draws=150, seed=2)
    assert result.chunk_size == essex.simulation.chunk_size
    assert (result.table["difference"] == 0.0).all()


def test_shared_inputs_are_identical_draw_by_draw(essex, versus_no_effect):
    # Every input but the effect, and the population's risk: the default correlates the two
    # (its derived ridge), so fixing the effect leaves the risk's draws unreordered in B.
    shared = [k for k in per_draw_quantities(essex) if k not in ("effect.log_hazard_ratio", "population.p30_entry")]
    assert shared
    for key in shared:
        np.testing.assert_array_equal(versus_no_effect.draws_a[key], versus_no_effect.draws_b[key])
    assert "effect.log_hazard_ratio" not in versus_no_effect.draws_b  # fixed in B


def test_no_effect_variant(versus_no_effect):
    rows = versus_no_effect.table.set_index("column")
    # With a hazard ratio of 1 the treated path is the counterfactual path: nothing is truly saved,
    # so every paid-for day is deadweight and B can never have less deadweight than A.
    assert (versus_no_effect.draws_b["true_savings"] == 0.0).all()
    assert rows.loc["deadweight_share", "p_b_better"] == 0.0
    # The community-trial effect is a benefit, so losing it costs the investors: the paired
    # difference in MOIC is negative by many standard errors.
    moic = rows.loc["moic_committed"]
    assert moic["difference"] + 4 * moic["difference_se"] < 0
    assert moic["p_b_worse"] > moic["p_b_better"]
    assert versus_no_effect.label_b == "essex (variant)"


def test_paired_difference_hand_worked():
    a = np.array([1.0, 2.0, 3.0, np.nan])
    b = np.array([2.0, 2.0, 1.0, 5.0])
    stats = paired_difference(a, b, "higher")
    diffs = np.array([1.0, 0.0, -2.0])
    assert stats["n"] == 3
    assert stats["difference"] == pytest.approx(-1 / 3)
    assert stats["difference_se"] == pytest.approx(diffs.std(ddof=1) / np.sqrt(3))
    assert stats["mean_a"] == 2.0 and stats["mean_b"] == pytest.approx(5 / 3)
    assert stats["p_b_better"] == pytest.approx(1 / 3) and stats["p_b_worse"] == pytest.approx(1 / 3)
    assert stats["p_b_better_se"] == pytest.approx(np.sqrt((1 / 3) * (2 / 3) / 3))
    lower = paired_difference(a, b, "lower")
    assert lower["difference"] == stats["difference"]
    assert lower["p_b_better"] == stats["p_b_worse"]
    assert paired_difference([np.nan], [1.0], "higher")["n"] == 0


def test_comparison_figure_overlays_both(versus_no_effect):
    fig = comparison_figure(versus_no_effect)
    axes = fig.get_axes()
    assert len(axes) == 4
    assert axes[0].get_xlabel().startswith("MOIC on committed capital")
    assert all(len(ax.patches) == 3 for ax in axes)  # A filled + outline, B outline
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["A: essex", "B: essex (variant)"]


def test_difference_figure_shows_b_minus_a_draw_by_draw(versus_no_effect):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from simsib.report.compare import FIGURE_PANELS, difference_figure

    fig = difference_figure(versus_no_effect)
    table = versus_no_effect.table.set_index("column")
    for ax, (column, _, _) in zip(fig.get_axes(), FIGURE_PANELS):
        a, b = versus_no_effect.draws_a[column].to_numpy(), versus_no_effect.draws_b[column].to_numpy()
        both = np.isfinite(a) & np.isfinite(b)
        assert ax.get_xlabel().startswith("B − A")
        mean_line = ax.lines[0].get_xdata()[0]  # the mean difference, then the zero line
        assert mean_line == pytest.approx((b[both] - a[both]).mean())
        span = ax.patches[-1]  # mean ± 2 se
        assert span.get_width() == pytest.approx(4 * table.loc[column, "difference_se"], rel=1e-6)
        # Tick labels never run into each other.
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()),
                       key=lambda box: box.x0)
        assert all(left.x1 <= right.x0 for left, right in zip(boxes, boxes[1:]))


def test_compare_counts_deadweight_in_every_draw_as_run_does(versus_no_effect):
    table = versus_no_effect.table.set_index("column")
    assert table.loc["deadweight_share", "n"] == DRAWS  # no draw left out
    assert table.loc["deadweight_paid", "mean_a"] == pytest.approx(versus_no_effect.draws_a["deadweight_paid"].mean())


def test_to_dict_is_json(versus_no_effect):
    data = json.loads(json.dumps(versus_no_effect.to_dict()))
    assert data["common_random_numbers"] is True
    assert data["seed_entropy"] == 5 and data["draws"] == DRAWS
    assert len(data["metrics"]) == len(COMPARE_METRICS)


def test_cli_compare_variant_with_set(tmp_path):
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", "essex", "--set", "effect.log_hazard_ratio=0", "--draws", "200",
                                 "--seed", "3", "--workers", "1", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["b"] == "essex [effect.log_hazard_ratio=0]"
    assert {m["column"] for m in data["metrics"]} == {m.column for m in COMPARE_METRICS}
    for name in ("comparison.json", "comparison.csv", "comparison.md", "comparison.png", "comparison.svg",
                 "difference.png", "difference.svg"):
        assert (out / name).is_file()
    assert not list(tmp_path.glob(".*staging*"))


def test_cli_compare_table_and_bad_input():
    result = runner.invoke(app, ["compare", "essex", "essex", "--draws", "100", "--seed", "1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "P(B better)" in result.output and "MOIC on committed capital" in result.output
    bad = runner.invoke(app, ["compare", "essex", "--set", "effect.log_hazard_ration=0", "--draws", "10"])
    assert bad.exit_code == 2
    assert "log_hazard_ration" in bad.output
