"""Tests for simsib.report.figures: each figure function draws the data it is given, labelled, marked."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from simsib.report import figures


@pytest.fixture
def ax():
    with figures.style():
        fig, axes = figures.new_axes()
        yield axes


def vertical_lines(ax) -> dict[str, float]:
    """Legend label -> x position of every vertical line (axvline) on ``ax``."""
    found = {}
    for line in ax.get_lines():
        xs = np.asarray(line.get_xdata(), dtype=float)
        if xs.size == 2 and xs[0] == xs[1] and not line.get_label().startswith("_"):
            found[line.get_label()] = float(xs[0])
    return found


def horizontal_lines(ax) -> dict[str, float]:
    found = {}
    for line in ax.get_lines():
        ys = np.asarray(line.get_ydata(), dtype=float)
        if ys.size == 2 and ys[0] == ys[1] and not line.get_label().startswith("_"):
            found[line.get_label()] = float(ys[0])
    return found


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def step_patches(ax):
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.StepPatch)]


def bands(values_by_quarter: list[float]) -> pd.DataFrame:
    median = np.asarray(values_by_quarter, dtype=float)
    return pd.DataFrame({"quarter": range(len(median)), "month_end": 3 * np.arange(1, len(median) + 1),
                         "p05": median - 2, "p25": median - 1, "p50": median, "p75": median + 1,
                         "p95": median + 2, "mean": median})


def test_moic_histogram_marks_break_even_and_reference(ax):
    moic = np.array([0.0, 0.5, 0.9, 1.0, 1.2, np.nan])
    out = figures.moic_histogram(moic, reference=1.45, ax=ax)
    assert out is ax
    assert "MOIC on committed capital" in ax.get_xlabel()
    assert ax.get_ylabel() == "Share of draws"
    marks = vertical_lines(ax)
    assert marks == {"Break-even 1.0×": 1.0, "Published 1.45×": 1.45}
    values, edges, _ = step_patches(ax)[0].get_data()
    assert values.sum() == pytest.approx(1.0)  # shares of the 5 defined draws
    assert edges[0] <= 0.0 and edges[-1] >= 1.45  # the reference is inside the plotted range


def test_moic_histogram_without_reference(ax):
    figures.moic_histogram(np.linspace(0, 2, 50), ax=ax)
    assert list(vertical_lines(ax).values()) == [1.0]


def test_irr_cdf_plots_quantiles_and_target(ax):
    irr = np.concatenate([np.linspace(-0.3, 0.25, 990), np.full(10, -1.0), [np.nan]])
    figures.irr_cdf(irr, target=0.083, ax=ax)
    curve = ax.get_lines()[0]
    assert len(curve.get_xdata()) == figures.CDF_POINTS
    assert curve.get_ydata()[0] == 0.0 and curve.get_ydata()[-1] == 1.0
    assert np.all(np.diff(curve.get_xdata()) >= 0)
    marks = vertical_lines(ax)
    assert marks["Zero return"] == 0.0
    assert [x for label, x in marks.items() if label.startswith("Target return 8.3%")] == [0.083]
    assert ax.get_xlabel() == "IRR (annual, %)"
    assert any("off scale" in text for text in legend_texts(ax))  # the ten −100% draws
    assert ax.get_xlim()[0] > -1.0


def test_cash_position_fan(ax):
    frame = bands([-1e5, -5e5, -1e6, 2e5])
    figures.cash_position_fan(frame, committed=3.13e6, ax=ax)
    median = [line for line in ax.get_lines() if line.get_label() == "Position: median"][0]
    np.testing.assert_array_equal(median.get_xdata(), frame["month_end"] / 12)
    np.testing.assert_array_equal(median.get_ydata(), frame["p50"])
    assert len(ax.collections) == 2  # the two bands
    assert set(horizontal_lines(ax).values()) == {0.0, -3.13e6}
    assert "£m" in ax.get_ylabel()
    assert ax.yaxis.get_major_formatter()(-2.5e6) == "−£2.5m"


def test_payments_vs_savings(ax):
    rng = np.random.default_rng(0)
    paid, saved = rng.uniform(0, 7.2e6, 321), rng.normal(1e6, 2e6, 321)
    figures.payments_vs_savings(paid, saved, cap=7.2e6, ax=ax)
    points = ax.collections[0].get_offsets()
    assert len(points) == 321
    np.testing.assert_array_equal(np.asarray(points)[:, 1], paid)
    assert horizontal_lines(ax) == {"Payment cap £7.2m": 7.2e6}
    diagonal = [line for line in ax.get_lines() if line.get_label().startswith("Break-even")][0]
    assert diagonal.get_slope() == 1.0 and tuple(diagonal.get_xy1()) == (0.0, 0.0)
    assert "True savings" in ax.get_xlabel() and "(£m)" in ax.get_xlabel()
    assert "Outcome payments" in ax.get_ylabel()
    assert ax.get_ylim()[0] == 0.0


def test_deadweight_histogram(ax):
    share = np.array([0.2, 0.9, 1.0, 1.0, np.nan])
    figures.deadweight_histogram(share, ax=ax)
    values, edges, _ = step_patches(ax)[0].get_data()
    assert (edges[0], edges[-1]) == (0.0, 1.0)
    assert values.sum() == pytest.approx(1.0)
    assert vertical_lines(ax) == {"Mean 78%": pytest.approx(0.775)}
    assert "Deadweight" in ax.get_xlabel() and "(%)" in ax.get_xlabel()


def test_starts_fan_with_plan(ax):
    frame = bands([5, 20, 60, 100, 100])
    figures.starts_fan(frame, plan_months=[0, 0, 12, 15], plan_starts=[0, 0, 120, 120], ax=ax)
    plan = [line for line in ax.get_lines() if line.get_label().startswith("Plan")][0]
    np.testing.assert_array_equal(plan.get_xdata(), [0, 0, 1, 1.25])
    np.testing.assert_array_equal(plan.get_ydata(), [0, 0, 120, 120])
    assert plan.get_label() == "Plan: 120 young people"
    assert "Young people started" in ax.get_ylabel()
    assert "Years" in ax.get_xlabel()


def test_care_proportions_marks_baseline_and_target(ax):
    rng = np.random.default_rng(1)
    figures.care_proportions(rng.uniform(0, 0.3, 200), rng.uniform(0, 0.4, 200), baseline=0.55, target=0.27,
                             ax=ax)
    assert vertical_lines(ax) == {"Contract baseline 55%": 0.55, "Contract target 27%": 0.27}
    patches = step_patches(ax)
    assert len(patches) == 3  # treated fill + outline, counterfactual outline
    outlines = [p.get_edgecolor()[:3] for p in patches if not p.get_fill()]
    assert outlines == [matplotlib.colors.to_rgb(figures.PRIMARY), matplotlib.colors.to_rgb(figures.SECONDARY)]
    assert "Care proportion" in ax.get_xlabel()


def test_tornado_orders_by_swing(ax):
    table = pd.DataFrame({"input": ["a", "b", "c"], "low_mean": [0.9, 0.5, 0.95], "high_mean": [1.1, 1.5, 1.0]})
    figures.tornado(table, centre=1.0, metric="MOIC", ax=ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["c", "a", "b"]  # widest swing at the top
    assert len(ax.patches) == 6
    assert ax.get_xlabel() == "Mean MOIC"


def test_overlaid_distributions_share_bins(ax):
    figures.overlaid_distributions([1, 2, 3], [2, 3, 4, 5], label_a="A", label_b="B", xlabel="x (£m)",
                                   kind="money", ax=ax)
    patches = step_patches(ax)
    edges = {tuple(p.get_data()[1]) for p in patches}
    assert len(edges) == 1  # same bins for A and B
    assert ax.get_xlabel() == "x (£m)"


@pytest.mark.parametrize("kind, value, text", [
    ("money", 7.2e6, "£7.2m"), ("money", -3.13e6, "−£3.13m"), ("money", 0.0, "£0.0m"),
    ("percent", 0.27, "27%"), ("percent", 0.025, "2.5%"), ("multiple", 1.45, "1.45×"), ("multiple", 0.25, "0.25×"),
])
def test_tick_formats(kind, value, text):
    assert figures.FORMATTERS[kind](value) == text


def test_new_axes_is_not_registered_with_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig, axes = figures.new_axes(ncols=2, nrows=2)
    assert axes.shape == (2, 2)
    assert plt.get_fignums() == before
    assert matplotlib.get_backend().lower() == "agg"
