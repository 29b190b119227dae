"""A comparison of two scenarios as a table, a figure, and files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from simsib.analysis.compare import Comparison
from simsib.report import figures
from simsib.report.formatting import money, multiple, number, percent, standard_error

_FORMAT = {"multiple": multiple, "percent": percent, "money": money, "number": number, "prob": percent}


# Panels of the overlaid-distributions figure: (draws column, x label, tick kind).
FIGURE_PANELS = (
    ("moic_committed", "MOIC on committed capital (×)", "multiple"),
    ("irr", "IRR (annual, %)", "percent"),
    ("outcome_payments", "Outcome payments by the council (£m)", "money"),
    ("net_benefit", "Council net benefit (£m)", "money"),
)


def _signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def _signed_fmt(fmt, value: float | None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    text = fmt(value)
    return "−" + text[1:] if text.startswith("-") else text if text.startswith("−") else "+" + text


def comparison_figure(comparison: Comparison):
    """Overlaid distributions of A and B for the key metrics, one panel each: a ``Figure``."""
    from matplotlib.ticker import MaxNLocator

    with figures.style():
        fig, axes = figures.new_axes(10.0, 7.0, ncols=2, nrows=2)
        for ax, (column, xlabel, kind) in zip(axes.ravel(), FIGURE_PANELS):
            figures.overlaid_distributions(
                comparison.draws_a[column], comparison.draws_b[column], label_a=f"A: {comparison.label_a}",
                label_b=f"B: {comparison.label_b}", xlabel=xlabel, kind=kind, ax=ax)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # tick labels never run into each other
        handles, labels = axes.ravel()[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 1.0))
        fig.suptitle(f"{comparison.draws:,} draws on common random numbers; vertical lines mark the means",
                     y=0.955, fontsize=9, color="#555555")
        fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def difference_figure(comparison: Comparison):
    """The paired difference B − A per draw for the key metrics, one panel each: a histogram of
    the per-draw differences with their mean ± 2 paired standard errors marked."""
    from matplotlib.ticker import MaxNLocator

    rows = comparison.table.set_index("column") if "column" in comparison.table.columns else None
    with figures.style():
        fig, axes = figures.new_axes(10.0, 7.0, ncols=2, nrows=2)
        for ax, (column, xlabel, kind) in zip(axes.ravel(), FIGURE_PANELS):
            a = comparison.draws_a[column].to_numpy(dtype=float)
            b = comparison.draws_b[column].to_numpy(dtype=float)
            both = np.isfinite(a) & np.isfinite(b)
            diff = b[both] - a[both]
            if diff.size:
                edges = np.linspace(diff.min(), diff.max(), figures.HIST_BINS + 1) if np.ptp(diff) > 0 \
                    else np.array([diff[0] - 0.5, diff[0] + 0.5])
                ax.hist(diff, bins=edges, weights=np.full(diff.size, 1.0 / diff.size), color=figures.PRIMARY,
                        alpha=0.6)
                mean = float(diff.mean())
                se = float(rows.loc[column, "difference_se"]) if rows is not None and column in rows.index \
                    else float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0
                ax.axvspan(mean - 2 * se, mean + 2 * se, color=figures.SECONDARY, alpha=0.35, linewidth=0,
                           label="Mean ± 2 standard errors")
                ax.axvline(mean, color=figures.SECONDARY, linewidth=1.6, label="Mean difference")
                ax.axvline(0.0, **figures.BREAK_EVEN_STYLE, label="No difference")
            figures._format_axis(ax.xaxis, kind)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # tick labels never run into each other
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
            figures._format_axis(ax.yaxis, "percent")
            ax.set_xlabel(f"B − A: {xlabel}")
            ax.set_ylabel("Share of draws")
        handles, labels = axes.ravel()[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 1.0))
        fig.suptitle(f"B: {comparison.label_b} minus A: {comparison.label_a}, draw by draw on common random numbers "
                     f"({comparison.draws:,} draws)", y=0.955, fontsize=9, color="#555555")
        fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def save_comparison(comparison: Comparison, folder: Path) -> None:
    """Write comparison.json, .csv, .md, .png and .svg into ``folder`` (which must exist)."""
    import json

    folder = Path(folder)
    (folder / "comparison.json").write_text(json.dumps(comparison.to_dict(), indent=2) + "\n")
    comparison.table.to_csv(folder / "comparison.csv", index=False)
    (folder / "comparison.md").write_text(comparison_markdown(comparison) + "\n![B − A draw by draw](difference.png)\n"
                                          "\n![A and B](comparison.png)\n")
    for stem, fig in (("comparison", comparison_figure(comparison)), ("difference", difference_figure(comparison))):
        with figures.style():
            fig.savefig(folder / f"{stem}.png")
            svg = io.BytesIO()
            fig.savefig(svg, format="svg", metadata={"Date": None})
        (folder / f"{stem}.svg").write_bytes(svg.getvalue())


def _points(se: float | None) -> str:
    """A standard error in percentage points: one decimal, or two significant digits when smaller."""
    return standard_error(se, "percent").removesuffix("%")


def formatted_rows(comparison: Comparison) -> list[list[str]]:
    """Rows for a table: metric, A, B, B − A ± se, P(B better) ± se, better when."""
    rows = []
    for r in comparison.table.itertuples(index=False):
        fmt = _FORMAT[r.kind]
        if r.kind in ("prob", "percent"):  # differences of shares are in percentage points
            diff = f"{_signed(100 * r.difference, 1)} pp ± {_points(r.difference_se)} pp" if r.n else "–"
        else:
            diff = f"{_signed_fmt(fmt, r.difference)} ± {standard_error(r.difference_se, r.kind)}" if r.n else "–"
        better = f"{percent(r.p_b_better)} ± {standard_error(r.p_b_better_se, 'percent')}" if r.n else "–"
        rows.append([r.label, fmt(r.mean_a), fmt(r.mean_b), diff, better, f"{r.better} ({r.who})"])
    return rows

def comparison_markdown(comparison: Comparison) -> str:
    header = ["metric", f"A: {comparison.label_a}", f"B: {comparison.label_b}", "B − A ± se", "P(B better) ± se",
              "better when"]
    lines = [f"# simsib compare: {comparison.label_a} vs {comparison.label_b}", "",
             f"{comparison.draws:,} draws on common random numbers, seed {comparison.seed_entropy}. Differences are "
             "B − A, with standard errors of the paired per-draw differences; P(B better) is the share "
             "of draws in which B is strictly better, from the point of view in the last column.", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in formatted_rows(comparison)]
    return "\n".join(lines) + "\n"
