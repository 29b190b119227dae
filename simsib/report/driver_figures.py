"""Figures of what drives a run's result, from its own draws: two tornados and a spider chart.

Colours as everywhere in the reports (:mod:`simsib.report.figures`): the input in its bottom
quartile is orange, in its top quartile blue; inputs are listed top to bottom in the order of
the drivers table beside them (strongest rank correlation first).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from simsib.report.drivers import InputEffect
from simsib.report.figures import PALETTE, PRIMARY, SECONDARY, _format_axis, _legend_below
from simsib.scenario.evidence import label

SPIDER_BINS = 10
SPIDER_COLOURS = ("blue", "orange", "green", "purple", "sky_blue", "black")


def effects_tornado(effects: Sequence[InputEffect], *, centre: float, loss: bool = False, xlabel: str,
                    kind: str = "multiple", ax: Axes) -> Axes:
    """Per input, ``low_mean``/``high_mean`` (or ``low_loss``/``high_loss`` with ``loss``) as
    bars from ``centre``, the first effect on top; ``kind`` formats the x axis."""
    rows = list(effects)[::-1]
    y = np.arange(len(rows))
    low = np.array([e.low_loss if loss else e.low_mean for e in rows])
    high = np.array([e.high_loss if loss else e.high_mean for e in rows])
    ax.barh(y + 0.19, low - centre, left=centre, color=SECONDARY, height=0.38, label="Input in its bottom quarter")
    ax.barh(y - 0.19, high - centre, left=centre, color=PRIMARY, height=0.38, label="Input in its top quarter")
    ax.axvline(centre, color=PALETTE["black"], linewidth=1.0)
    ax.set_yticks(y, [label(e.key, short=True) for e in rows])
    ax.grid(axis="y", visible=False)
    _format_axis(ax.xaxis, "percent" if loss else kind)
    ax.set_xlabel(xlabel)
    ax.set_title("What drives losses: chance of a loss by input" if loss else "What drives the result: tornado")
    _legend_below(ax)
    return ax


def spider(draws: Mapping[str, np.ndarray], keys: Sequence[str], labels: Sequence[str], *, metric: str,
           ylabel: str, kind: str = "multiple", ax: Axes) -> Axes:
    """Mean ``metric`` against each input's percentile (binned means over the draws, in tenths)."""
    y = np.asarray(draws[metric], dtype=float)
    centres = (np.arange(SPIDER_BINS) + 0.5) / SPIDER_BINS
    for colour, key, name in zip(SPIDER_COLOURS, keys, labels):
        x = np.asarray(draws[key], dtype=float)
        # Percentile of each draw's input (mean rank for ties), then mean metric per tenth.
        order = np.argsort(x, kind="stable")
        rank = np.empty(x.size)
        rank[order] = np.arange(x.size)
        _, first, counts = np.unique(x[order], return_index=True, return_counts=True)
        tied = np.repeat(first + (counts - 1) / 2.0, counts)
        rank[order] = tied
        bins = np.minimum((rank / x.size * SPIDER_BINS).astype(int), SPIDER_BINS - 1)
        means = np.array([np.nanmean(y[bins == b]) if (bins == b).any() else np.nan for b in range(SPIDER_BINS)])
        shown = ~np.isnan(means)
        ax.plot(100 * centres[shown], means[shown], marker="o", markersize=3, color=PALETTE[colour], label=name)
    ax.axhline(float(np.nanmean(y)), color=PALETTE["black"], linewidth=0.8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Input's percentile over the draws")
    _format_axis(ax.yaxis, kind)
    ax.set_ylabel(ylabel)
    ax.set_title("Spider chart: the result as each main input rises")
    _legend_below(ax, ncol=1)
    return ax
