"""Figures of a re-forecast: observed points on the posterior's bands, and forecasts at successive reviews.

Same conventions as :mod:`simsib.report.figures` (one function per figure, drawing given data
on a given ``ax``, the Okabe–Ito palette, legends below).
"""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from simsib.report.figures import (
    BREAK_EVEN_STYLE,
    LIMIT_STYLE,
    PALETTE,
    PRIMARY,
    REFERENCE_STYLE,
    _fan,
    _format_axis,
    _legend_below,
)

OBSERVED = PALETTE["black"]
REVIEW_STYLE = dict(color=PALETTE["vermillion"], linestyle="-.", linewidth=1.4)
STRAND_COLOURS = (PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"], PALETTE["sky_blue"],
                  PALETTE["yellow"])


def observed_fan(bands: pd.DataFrame, observed_months: Sequence[float], observed_values: Sequence[float], *,
                 review_month: float, label: str, kind: str = "number", ax: Axes) -> Axes:
    """A posterior fan by quarter with the observed figures as points and the review date marked.

    ``bands``: rows of one series with ``month_end`` and ``p05 … p95``; ``kind`` formats the y
    axis (``money``, ``percent`` or ``number``).
    """
    x = bands["month_end"].to_numpy() / 12.0
    _fan(ax, x, bands, PRIMARY, "Posterior")
    ax.scatter(np.asarray(observed_months, dtype=float) / 12.0, observed_values, s=36, color=OBSERVED, zorder=5,
               label="Observed", marker="D")
    ax.axvline(review_month / 12.0, label=f"Review date (month {review_month:g})", **REVIEW_STYLE)
    ax.set_xlabel("Years from contract start (quarter ends)")
    ax.set_ylabel(label)
    if kind in ("money", "percent"):
        _format_axis(ax.yaxis, kind)
    ax.set_title(f"Re-forecast: {label}")
    _legend_below(ax)
    return ax


def stage_intervals(labels: Sequence[str], p05: Sequence[float], p50: Sequence[float], p95: Sequence[float], *,
                    what: str, kind: str, reference: float | None = None, reference_label: str = "",
                    limit: float | None = None, limit_label: str = "", published: float | None = None,
                    published_label: str = "", ax: Axes) -> Axes:
    """Median and 90% interval of one figure at each review (signing first); ``reference``
    (break-even), ``limit`` (a contractual limit) and ``published`` (a published outcome) marked."""
    y = np.arange(len(labels))[::-1]
    ax.hlines(y, p05, p95, color=PRIMARY, linewidth=6, alpha=0.35, label="90% interval")
    ax.plot(p50, y, "o", color=PRIMARY, label="Median")
    if reference is not None:
        ax.axvline(reference, label=reference_label, **BREAK_EVEN_STYLE)
    if limit is not None:
        ax.axvline(limit, label=limit_label, **LIMIT_STYLE)
    if published is not None:
        ax.axvline(published, label=published_label, **REFERENCE_STYLE)
    ax.set_yticks(y, labels)
    ax.set_xlabel(what)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    if kind in ("money", "percent", "multiple"):
        _format_axis(ax.xaxis, kind)
    ax.set_title(what)
    _legend_below(ax, ncol=2)
    return ax


def strand_bars(labels: Sequence[str], strand_names: Sequence[str], weights: np.ndarray, *, what: str,
                ax: Axes) -> Axes:
    """Stacked weight of each mixture strand at each review, shape (reviews, strands)."""
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for j, name in enumerate(strand_names):
        # Strand names are their evidence: wrapped, so two legends fit side by side.
        ax.barh(y, weights[:, j], left=left, color=STRAND_COLOURS[j % len(STRAND_COLOURS)],
                label=textwrap.fill(name, 55), height=0.6)
        left += weights[:, j]
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Weight of each strand")
    _format_axis(ax.xaxis, "percent")
    ax.set_title(what)
    _legend_below(ax, ncol=1)
    return ax



def stage_panels(labels: Sequence[str], stages: dict[str, Sequence[float]], strands: dict[str, tuple[list[str], np.ndarray]],
                 *, published_moic: float | None = None, cap: float | None = None, ax: Axes) -> Axes:
    """The forecast at each review on one figure: MOIC and outcome payments (median and 90%
    interval; the published MOIC and the cap marked when given), and the weight of each strand
    of the mixture inputs named in ``strands`` (title -> (strand names, (reviews, strands)
    weights)).  Draws in the figure of ``ax``, replacing it with a grid of panels; returns the
    first panel."""
    figure = ax.figure
    ax.remove()
    rows = 1 + (len(strands) + 1) // 2
    axes = figure.subplots(rows, 2, squeeze=False)
    figure.set_size_inches(11.0, 3.6 * rows)
    stage_intervals(labels, stages["moic_p05"], stages["moic_median"], stages["moic_p95"],
                    what="MOIC on committed capital", kind="multiple", reference=1.0,
                    reference_label="Capital back (1×)", published=published_moic,
                    published_label=f"Published {published_moic:.2f}×" if published_moic else "", ax=axes[0, 0])
    stage_intervals(labels, stages["payments_p05"], stages["payments_median"], stages["payments_p95"],
                    what="Outcome payments", kind="money", limit=cap,
                    limit_label=f"Cap {cap / 1e6:.1f}m" if cap else "", ax=axes[0, 1])
    for i, (title, (names, weights)) in enumerate(strands.items()):
        strand_bars(labels, names, weights, what=title, ax=axes[1 + i // 2, i % 2])
    for j in range(len(strands), 2 * (rows - 1)):
        axes[1 + j // 2, j % 2].remove()
    figure.subplots_adjust(hspace=0.9, wspace=0.55)
    return axes[0, 0]
