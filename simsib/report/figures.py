"""Figures for reports: one function per figure, each drawing given data on a given ``ax``.

The functions compute nothing beyond what a plot needs (a histogram's bins, an empirical CDF on
a fixed grid of probabilities); reading run folders and choosing what to plot is
:mod:`simsib.report.document`'s job.  Each returns the ``Axes`` it drew on.

One style for every figure: the Okabe–Ito colour-blind-safe palette, reference lines told apart
by line style as well as colour, axes labelled with units, money in £m, and the legend under the
plot, where it cannot hide data.  Draw inside
:func:`style` (or use :func:`new_axes`) so fonts and grids match.

Figures are made with :func:`new_axes` (plain ``Figure`` objects, never registered with pyplot,
so nothing leaks in long sessions); the Agg backend is selected here so that nothing ever needs
a display.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402
from matplotlib.transforms import offset_copy  # noqa: E402

# Okabe & Ito (2008), "Color Universal Design".
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
PRIMARY = PALETTE["blue"]  # the distribution being shown (scenario A, treated)
SECONDARY = PALETTE["orange"]  # what it is compared with (scenario B, counterfactual)
REFERENCE = PALETTE["vermillion"]  # a value from the scenario: published MOIC, target, plan
LIMIT = PALETTE["purple"]  # a contractual limit: the cap
BREAK_EVEN = PALETTE["black"]

BREAK_EVEN_STYLE = dict(color=BREAK_EVEN, linestyle="--", linewidth=1.3)
REFERENCE_STYLE = dict(color=REFERENCE, linestyle="-.", linewidth=1.6)
LIMIT_STYLE = dict(color=LIMIT, linestyle=":", linewidth=2.0)

RC = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "svg.fonttype": "none",  # text stays text in SVG: smaller, searchable, selectable
    "svg.hashsalt": "simsib",  # deterministic SVG element ids
}

HIST_BINS = 40
LEGEND_DROP_POINTS = 38  # tick labels plus the x-axis label, at the style's font sizes
CDF_POINTS = 1001


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Matplotlib settings shared by every simsib figure."""
    with matplotlib.rc_context(RC):
        yield


def new_axes(width: float = 7.0, height: float = 4.0, ncols: int = 1, nrows: int = 1):
    """A new figure in simsib's style: ``(figure, axes)`` (an array of axes when more than one).

    The figure is not registered with pyplot, so nothing needs closing and nothing leaks; save it
    with ``figure.savefig``.  Draw and save inside :func:`style` for simsib's fonts.
    """
    with style():
        figure = Figure(figsize=(width, height))
        return figure, figure.subplots(nrows, ncols, squeeze=(ncols * nrows == 1))


def _trim(value: float, max_digits: int, min_digits: int) -> str:
    """``value`` with at most ``max_digits`` decimals, trailing zeros dropped down to ``min_digits``."""
    text = f"{value:.{max_digits}f}"
    if max_digits > min_digits:
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0").ljust(min_digits, "0")
        text = f"{whole}.{frac}" if frac else whole
    return f"{0:.{min_digits}f}" if float(text) == 0 else text


def _pounds_m(value: float, _pos: object = None) -> str:
    sign = "−" if value < 0 and float(_trim(abs(value) / 1e6, 2, 1)) != 0 else ""
    return f"{sign}£{_trim(abs(value) / 1e6, 2, 1)}m"


def _percent(value: float, _pos: object = None) -> str:
    return f"{_trim(100 * value, 1, 0)}%".replace("-", "−")


def _multiple(value: float, _pos: object = None) -> str:
    return f"{_trim(value, 2, 1)}×".replace("-", "−")


# Tick formatters by kind of number; a new formatter per axis (formatters remember their axis).
FORMATTERS = {"money": _pounds_m, "percent": _percent, "multiple": _multiple}


def _format_axis(axis, kind: str) -> None:
    axis.set_major_formatter(FuncFormatter(FORMATTERS[kind]))


def _finite(values: Sequence[float]) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def _edges(values: np.ndarray, marks: Sequence[float | None] = (), bins: int = HIST_BINS) -> np.ndarray:
    """Histogram bin edges spanning the data and any marked values."""
    points = [v for v in marks if v is not None]
    low = min([values.min()] + points) if values.size else min(points + [0.0])
    high = max([values.max()] + points) if values.size else max(points + [1.0])
    if high <= low:
        high = low + 1.0
    return np.linspace(low, high, bins + 1)


def _legend_below(ax: Axes, ncol: int = 2) -> None:
    """Legend under the x-axis label, where it can never hide data or a reference line."""
    below_label = offset_copy(ax.transAxes, fig=ax.figure, y=-LEGEND_DROP_POINTS, units="points")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.0), bbox_transform=below_label, ncol=ncol,
              borderaxespad=0.0, markerscale=2.0)


def _histogram(ax: Axes, values: np.ndarray, edges: np.ndarray, colour: str, label: str | None = None,
               filled: bool = True) -> None:
    counts, _ = np.histogram(values, bins=edges)
    share = counts / max(values.size, 1)
    if filled:
        ax.stairs(share, edges, fill=True, facecolor=colour, edgecolor="none", linewidth=0, alpha=0.55,
                  label=label)
    ax.stairs(share, edges, color=colour, linewidth=1.4 if filled else 2.0, label=None if filled else label)
    _format_axis(ax.yaxis, "percent")


def moic_histogram(moic: Sequence[float], *, reference: float | None = None,
                   reference_label: str = "Published", ax: Axes) -> Axes:
    """Distribution of the money multiple on committed capital (share of draws per bin).

    Marks break-even (1.0×) and, when given, a reference multiple (Essex reported 1.45×).
    """
    values = _finite(moic)
    edges = _edges(values, (0.0, 1.0, reference))
    _histogram(ax, values, edges, PRIMARY, label="Simulated draws")
    ax.axvline(1.0, label="Break-even 1.0×", **BREAK_EVEN_STYLE)
    if reference is not None:
        ax.axvline(reference, label=f"{reference_label} {reference:.2f}×", **REFERENCE_STYLE)
    ax.set_xlabel("MOIC on committed capital (× capital committed)")
    ax.set_ylabel("Share of draws")
    _format_axis(ax.xaxis, "multiple")
    ax.set_title("Investors: money multiple")
    _legend_below(ax)
    return ax


def irr_cdf(irr: Sequence[float], *, target: float | None = None, ax: Axes) -> Axes:
    """Empirical CDF of the annual IRR over the draws where it is defined, target marked.

    The x axis starts at the 1st percentile (less a margin) so that a few total losses at −100%
    do not squash the rest; the legend says how many draws lie off the scale.
    """
    values = _finite(irr)
    probs = np.linspace(0.0, 1.0, CDF_POINTS)
    if values.size:
        ax.step(np.quantile(values, probs), probs, where="post", color=PRIMARY, linewidth=2.0,
                label=f"Simulated IRR ({values.size:,} draws)")
    ax.axvline(0.0, label="Zero return", **BREAK_EVEN_STYLE)
    if target is not None:
        label = f"Target return {100 * target:.1f}%"
        if values.size:
            below = float(np.mean(values < target))
            label += f": {100 * below:.0f}% of draws fall short"
            ax.plot([target], [below], "o", color=REFERENCE, markersize=5)
        ax.axvline(target, label=label, **REFERENCE_STYLE)
    if values.size:
        low, high = np.quantile(values, [0.01, 1.0])
        left = min(low, 0.0, target if target is not None else 0.0)
        left -= 0.08 * (max(high, target or 0.0) - left)
        off_scale = int(np.sum(values < left))
        if off_scale:
            ax.plot([], [], " ", label=f"{100 * off_scale / values.size:.1f}% of draws below {_percent(left)} "
                    "(off scale)")
        ax.set_xlim(left=left)
    ax.set_xlabel("IRR (annual, %)")
    ax.set_ylabel("Share of draws with IRR ≤ x")
    _format_axis(ax.xaxis, "percent")
    _format_axis(ax.yaxis, "percent")
    ax.set_ylim(0.0, 1.02)
    ax.set_title("Investors: IRR, cumulative distribution")
    _legend_below(ax)
    return ax


def _fan(ax: Axes, x: np.ndarray, bands: pd.DataFrame, colour: str, what: str) -> None:
    """p05–p95 and p25–p75 bands and the median of a tidy percentile frame."""
    ax.fill_between(x, bands["p05"], bands["p95"], color=colour, alpha=0.18, linewidth=0,
                    label=f"{what}: 90% of draws (p05–p95)")
    ax.fill_between(x, bands["p25"], bands["p75"], color=colour, alpha=0.38, linewidth=0,
                    label=f"{what}: middle half (p25–p75)")
    ax.plot(x, bands["p50"], color=colour, linewidth=2.0, label=f"{what}: median")


def cash_position_fan(bands: pd.DataFrame, *, committed: float | None = None, ax: Axes) -> Axes:
    """Investors' cumulative net cash position by quarter (distributions − capital drawn).

    ``bands``: rows of one series with ``month_end`` and ``p05 … p95`` in £.
    """
    x = bands["month_end"].to_numpy() / 12.0
    _fan(ax, x, bands, PRIMARY, "Position")
    ax.axhline(0.0, label="Break-even (all capital back)", **BREAK_EVEN_STYLE)
    if committed is not None:
        ax.axhline(-committed, label=f"All committed capital drawn ({_pounds_m(-committed)})", **LIMIT_STYLE)
    ax.set_xlabel("Years from contract start (quarter ends)")
    ax.set_ylabel("Cumulative net cash to investors (£m)")
    _format_axis(ax.yaxis, "money")
    ax.set_title("Investors: cumulative cash position")
    _legend_below(ax)
    return ax


def payments_vs_savings(outcome_payments: Sequence[float], true_savings: Sequence[float], *,
                        cap: float | None = None, ax: Axes) -> Axes:
    """Council: outcome payments against the true savings from care avoided, one point per draw.

    Points above the diagonal are draws where the council paid more than it truly saved.
    """
    paid = np.asarray(outcome_payments, dtype=float)
    saved = np.asarray(true_savings, dtype=float)
    ax.scatter(saved, paid, s=7, color=PRIMARY, alpha=0.35, linewidths=0, rasterized=True,
               label=f"One draw ({paid.size:,} shown)")
    ax.axline((0.0, 0.0), slope=1.0, label="Break-even: payments = true savings", **BREAK_EVEN_STYLE)
    if cap is not None:
        ax.axhline(cap, label=f"Payment cap {_pounds_m(cap)}", **LIMIT_STYLE)
    top = max([np.nanmax(paid) if paid.size else 1.0, cap or 0.0])
    ax.set_ylim(0.0, 1.12 * top)
    ax.text(0.02, 0.97, "Above the dashed line: the council pays more than it saves", transform=ax.transAxes,
            va="top", ha="left", fontsize=9, color=PALETTE["black"])
    ax.set_xlabel("True savings: value of care days avoided (£m)")
    ax.set_ylabel("Outcome payments by the council (£m)")
    _format_axis(ax.xaxis, "money")
    _format_axis(ax.yaxis, "money")
    ax.set_title("Council: what it pays vs what it saves")
    _legend_below(ax)
    return ax


def deadweight_histogram(deadweight_share: Sequence[float], *, ax: Axes) -> Axes:
    """Share of the paid-for care days that would have been avoided without MST."""
    values = _finite(deadweight_share)
    _histogram(ax, values, np.linspace(0.0, 1.0, HIST_BINS + 1), PRIMARY, label="Simulated draws")
    if values.size:
        ax.axvline(float(values.mean()), color=PALETTE["black"], linewidth=1.2,
                   label=f"Mean {100 * values.mean():.0f}%")
    ax.set_xlabel("Deadweight: share of paid-for care days not caused by the service (%)")
    ax.set_ylabel("Share of draws")
    _format_axis(ax.xaxis, "percent")
    ax.set_title("Council: deadweight in the payments")
    _legend_below(ax)
    return ax


def starts_fan(bands: pd.DataFrame, *, plan_months: Sequence[float] | None = None,
               plan_starts: Sequence[float] | None = None, ax: Axes) -> Axes:
    """Cumulative young people started by quarter, with the planned profile when given."""
    x = bands["month_end"].to_numpy() / 12.0
    _fan(ax, x, bands, PRIMARY, "Started")
    if plan_months is not None and plan_starts is not None:
        ax.plot(np.asarray(plan_months) / 12.0, plan_starts, label=f"Plan: {plan_starts[-1]:,.0f} young people",
                **REFERENCE_STYLE)
    ax.set_xlabel("Years from contract start (quarter ends)")
    ax.set_ylabel("Young people started (cumulative)")
    ax.set_ylim(bottom=0)
    ax.set_title("Referrals: young people started vs plan")
    _legend_below(ax)
    return ax


def care_proportions(treated: Sequence[float], counterfactual: Sequence[float], *,
                     baseline: float | None = None, target: float | None = None, ax: Axes) -> Axes:
    """Care proportion (care days ÷ child-days) with MST and without, per draw.

    Marks the contract's historical baseline (Essex 55%) and its target (27%).
    """
    with_mst, without = _finite(treated), _finite(counterfactual)
    edges = np.linspace(0.0, max(0.6, (baseline or 0) + 0.05, *(v.max() for v in (with_mst, without) if v.size)),
                        HIST_BINS + 1)
    _histogram(ax, with_mst, edges, PRIMARY, label="With MST (treated)")
    _histogram(ax, without, edges, SECONDARY, label="Without MST (counterfactual)", filled=False)
    if baseline is not None:
        ax.axvline(baseline, label=f"Contract baseline {100 * baseline:.0f}%", **LIMIT_STYLE)
    if target is not None:
        ax.axvline(target, label=f"Contract target {100 * target:.0f}%", **REFERENCE_STYLE)
    ax.set_xlabel("Care proportion: care days ÷ child-days in the tracking window (%)")
    ax.set_ylabel("Share of draws")
    _format_axis(ax.xaxis, "percent")
    ax.set_title("Outcomes: time in care, with and without MST")
    _legend_below(ax)
    return ax


def tornado(table: pd.DataFrame, *, centre: float | None = None, metric: str = "the metric",
            kind: str = "number", max_inputs: int = 12, ax: Axes) -> Axes:
    """Mean of ``metric`` when each input is in its bottom vs top decile, widest swing on top.

    ``table``: columns ``input``, ``low_mean``, ``high_mean`` (one row per input).  The two bars
    of an input sit side by side, so neither hides the other when both fall on one side.
    """
    rows = table.assign(swing=(table["high_mean"] - table["low_mean"]).abs())
    rows = rows.sort_values("swing", ascending=False).head(max_inputs).iloc[::-1]
    y = np.arange(len(rows))
    mid = centre if centre is not None else float(np.mean(rows[["low_mean", "high_mean"]].to_numpy())) if len(rows) else 0.0
    ax.barh(y + 0.19, rows["low_mean"] - mid, left=mid, color=SECONDARY, height=0.38, label="Input in bottom decile")
    ax.barh(y - 0.19, rows["high_mean"] - mid, left=mid, color=PRIMARY, height=0.38, label="Input in top decile")
    ax.axvline(mid, color=PALETTE["black"], linewidth=1.0)
    ax.set_yticks(y, rows["input"])
    ax.grid(axis="y", visible=False)
    if kind in FORMATTERS:
        _format_axis(ax.xaxis, kind)
    ax.set_xlabel(f"Mean {metric}")
    ax.set_ylabel("Uncertain input")
    ax.set_title("What drives the result: tornado")
    _legend_below(ax)
    return ax


def overlaid_distributions(values_a: Sequence[float], values_b: Sequence[float], *, label_a: str,
                           label_b: str, xlabel: str, kind: str = "number", ax: Axes) -> Axes:
    """Two distributions of one metric on shared bins: A filled, B as an outline; means marked.

    ``kind``: ``multiple``, ``percent``, ``money`` or ``number`` (tick formatting).
    """
    a, b = _finite(values_a), _finite(values_b)
    both = np.concatenate([a, b])
    edges = _edges(both, ()) if both.size else np.linspace(0.0, 1.0, HIST_BINS + 1)
    _histogram(ax, a, edges, PRIMARY, label=label_a)
    _histogram(ax, b, edges, SECONDARY, label=label_b, filled=False)
    for values, colour, linestyle in ((a, PRIMARY, "-"), (b, SECONDARY, "--")):
        if values.size:
            ax.axvline(float(values.mean()), color=colour, linestyle=linestyle, linewidth=1.5)
    if kind in FORMATTERS:
        _format_axis(ax.xaxis, kind)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Share of draws")
    return ax
