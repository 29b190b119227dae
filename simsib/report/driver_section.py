"""The report's "What drives the result" section, in every report, from the run's own draws.

No extra simulation: over the draws the run already has (the first :data:`DRIVER_DRAWS`), each
uncertain input's rank correlation with the money multiple, the mean multiple and the chance of
a loss when the input is in its bottom or top quarter (:func:`simsib.report.drivers.input_effects`),
and how the inputs of the draws in which investors lose differ from the rest (standardised mean
difference).  One table and three figures -- a tornado of the multiple, a loss-driver tornado
and a spider chart -- list the same inputs in the same order.  Sobol indices stay on request
(``simsib sensitivity``), shown in the section below when present.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow.parquet as pq

from simsib.model.qmc import REPLICATE_COLUMN
from simsib.report import driver_figures
from simsib.report.drivers import InputEffect, input_effects
from simsib.report.formatting import multiple, percent, standard_error
from simsib.report.tables import DRAWS_FILE, RunFolder
from simsib.scenario.evidence import label

DRIVER_DRAWS = 200_000  # the first draws: enough for ρ to ±0.002, and bounded memory
MAX_INPUTS = 10
SPIDER_INPUTS = 5
METRIC = "moic_committed"


def _draws(run: RunFolder) -> dict[str, np.ndarray]:
    names = pq.read_schema(run.path / DRAWS_FILE).names
    wanted = [c for c in names if "." in c or c in (METRIC, "moic_drawn", REPLICATE_COLUMN)]
    frame = run.head(wanted, DRIVER_DRAWS)
    return {c: frame[c].to_numpy(dtype=float) for c in frame.columns}


def _unit(unit: str | None) -> str:
    return unit or ""


def _rho(effect: InputEffect) -> str:
    return f"{effect.rho:+.2f} ± {effect.rho_se:.1g}".replace("-", "−")


def analyse(run: RunFolder) -> dict[str, Any] | None:
    """The section's context: ``effects`` (strongest first), table ``rows``, ``draws`` used, the
    overall P(loss) and mean multiple, and the ``columns`` for the figures; None without inputs."""
    draws = _draws(run)
    if METRIC not in draws:
        return None
    loss = np.asarray(draws.get("moic_drawn", draws[METRIC])) < 1.0  # NaN (nothing drawn) is no loss
    groups = draws.get(REPLICATE_COLUMN)
    effects = input_effects(draws, loss, METRIC, groups=groups)[:MAX_INPUTS]
    if not effects:
        return None
    rows = []
    for e in effects:
        smd = "–" if np.isnan(e.smd) else f"{e.smd:+.2f}".replace("-", "−")
        rows.append({"key": e.key, "label": label(e.key, short=True), "unit": _unit(e.unit), "rho": _rho(e),
                     "low_mean": multiple(e.low_mean), "high_mean": multiple(e.high_mean),
                     "low_loss": f"{percent(e.low_loss)} ± {standard_error(e.low_loss_se, 'percent')}",
                     "high_loss": f"{percent(e.high_loss)} ± {standard_error(e.high_loss_se, 'percent')}",
                     "smd": smd})
    n = len(draws[METRIC])
    return {"effects": effects, "rows": rows, "draws": n, "cut": n < run.summary.get("draws", n),
            "prob_loss": float(loss.mean()), "mean": float(np.nanmean(draws[METRIC])), "columns": draws}


HEADER = ("input", "unit", "rank corr. ± se", "multiple, input low", "multiple, input high",
          "P(loss), input low", "P(loss), input high", "SMD of losers")
ROW_KEYS = ("label", "unit", "rho", "low_mean", "high_mean", "low_loss", "high_loss", "smd")


def figure_parts(found: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The section's figures (as :class:`simsib.report.document.Figure` fields)."""
    if not found:
        return []
    effects = found["effects"]
    size = (7.0, 1.4 + 0.42 * len(effects))
    whose = f"the first {found['draws']:,} draws" if found["cut"] else f"all {found['draws']:,} draws"
    keys = [e.key for e in effects[:SPIDER_INPUTS]]
    parts = [
        {"name": "drivers", "section": "drivers", "title": "Tornado: money multiple by input",
         "caption": f"Mean money multiple on committed capital when each input is in its bottom quarter (orange) or "
                    f"top quarter (blue) of {whose}; the line is the mean over all of them, "
                    f"{multiple(found['mean'])}. Inputs in the order of the table, strongest rank correlation on top.",
         "draw": lambda ax: driver_figures.effects_tornado(effects, centre=found["mean"],
                                                           xlabel="Mean money multiple (committed)", ax=ax),
         "size": size},
        {"name": "loss_drivers", "section": "drivers", "title": "Loss drivers: chance of a loss by input",
         "caption": f"Chance that investors lose money (multiple on drawn capital below 1×) when each input is in its "
                    f"bottom quarter (orange) or top quarter (blue) of {whose}; the line is the overall chance, "
                    f"{percent(found['prob_loss'])}. Same inputs, same order as the table.",
         "draw": lambda ax: driver_figures.effects_tornado(effects, centre=found["prob_loss"], loss=True,
                                                           xlabel="P(loss on drawn capital)", ax=ax),
         "size": size},
        {"name": "spider", "section": "drivers", "title": "Spider chart: the multiple as each main input rises",
         "caption": f"Mean money multiple on committed capital in each tenth of each of the {len(keys)} main inputs "
                    f"(binned means over {whose}); a steep line is an input the result hinges on. The horizontal "
                    "line is the overall mean.",
         "draw": lambda ax: driver_figures.spider(found["columns"], keys, [label(k, short=True) for k in keys],
                                                  metric=METRIC, ylabel="Mean money multiple (committed)", ax=ax),
         "size": (7.0, 4.6)},
    ]
    return parts
