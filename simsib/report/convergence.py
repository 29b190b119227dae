"""The convergence figure of a run: how each headline estimate settled as chunks were added.

From ``convergence.csv`` (:mod:`simsib.run.precision`): each figure's running estimate and
standard error after every chunk, in chunk order.  :func:`figure_parts` gives the report its
figure (as :mod:`simsib.report.commission_section` does), :func:`convergence` draws it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simsib.report.figures import PALETTE, _legend_below
from simsib.report.headlines import HEADLINES

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes


def figure_parts(run: Any) -> list[dict[str, Any]]:
    """Keyword arguments of the report's convergence figure (``name``, ``section``, ``title``,
    ``caption``, ``draw``); none when the run folder has no ``convergence.csv``."""
    table = run.convergence
    if table is None or table.empty:
        return []
    names = {f"{section}.{key}": label for label, section, key, _ in HEADLINES}
    labels = {figure: names.get(figure, figure) for figure in dict.fromkeys(table["figure"])}
    method = run.summary.get("standard_errors", {}).get("method", "iid")
    return [{
        "name": "convergence", "section": "convergence", "title": "Convergence of the headline figures",
        "caption": "Running estimate over the first n draws (chunks in chunk order), divided by the final estimate, "
                   f"with ± 2 standard errors ({'from replicates' if method == 'replicates' else 'iid'}). A band "
                   "that is narrow at the right-hand end is a figure the run has pinned down.",
        "draw": lambda ax: convergence(table, labels=labels, ax=ax)}]


def convergence(table: pd.DataFrame, *, labels: dict[str, str], ax: Axes) -> Axes:
    """Running estimates against draws, each divided by its final value, with ± 2 SE bands.

    ``table`` has columns draws, figure, estimate, se (``convergence.csv``); ``labels`` names the
    figures to draw.  Dividing by the final value puts figures of any unit on one axis.
    """
    colours = [PALETTE[c] for c in ("blue", "orange", "green", "sky_blue", "black")]
    for colour, (figure, label) in zip(colours, labels.items()):
        rows = table[table["figure"] == figure].dropna(subset=["estimate"])
        final = rows["estimate"].iloc[-1] if len(rows) else 0.0
        if not final:
            continue
        x, y, half = rows["draws"], rows["estimate"] / final, 2 * rows["se"].fillna(0.0) / abs(final)
        ax.fill_between(x, y - half, y + half, color=colour, alpha=0.18, linewidth=0)
        ax.plot(x, y, color=colour, label=label)
    ax.axhline(1.0, color=PALETTE["black"], linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("Draws (log scale)")
    ax.set_ylabel("Running estimate ÷ final estimate")
    ax.set_title("Convergence: each figure ± 2 standard errors")
    _legend_below(ax)
    return ax
