"""Two scenarios side by side on common random numbers: paired differences of the headlines.

Both scenarios are simulated with the same entropy and the same chunk size.  Every random
stream is keyed by chunk index and component (per-draw inputs by their dotted name; see
:mod:`simsib.model.streams`), so draw *i* of A and draw *i* of B share every random number that their
scenarios have in common: an input the variant leaves alone takes identical values in both.
Differences are therefore measured draw by draw, and their standard errors are those of the
*paired* differences -- far smaller than comparing two independent runs.  A scenario compared
with itself gives differences of exactly zero.

"Better" is stated per metric, from the point of view of whoever the metric matters to:
higher is better for the investors' MOIC, IRR and NPV, for the council's true savings and net
benefit and for young people started; lower is better for the investors' chance of a loss, the
council's outcome payments and deadweight share, and the treated care proportion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd

from simsib.analysis.variants import Precision, VariantSet, run_variants
from simsib.model.qmc import REPLICATE_COLUMN
from simsib.model.streams import new_entropy
from simsib.run.summary import standard_error
from simsib.scenario.format import Scenario
from simsib.scenario.loader import load_scenario, scenario_sha256


class CompareMetric(NamedTuple):
    label: str
    column: str  # a draws column, or "loss" (MOIC on drawn < 1, as in summary.json)
    kind: str  # multiple / percent / money / number / prob
    better: str  # "higher" or "lower"
    who: str  # whose point of view "better" takes


COMPARE_METRICS = (
    CompareMetric("MOIC on committed capital", "moic_committed", "multiple", "higher", "investors"),
    CompareMetric("MOIC on drawn capital", "moic_drawn", "multiple", "higher", "investors"),
    CompareMetric("IRR (annual)", "irr", "percent", "higher", "investors"),
    CompareMetric("Loss: MOIC on drawn < 1", "loss", "prob", "lower", "investors"),
    CompareMetric("NPV to investors", "npv", "money", "higher", "investors"),
    CompareMetric("Outcome payments", "outcome_payments", "money", "lower", "council"),
    CompareMetric("True savings (care avoided)", "true_savings", "money", "higher", "council"),
    CompareMetric("Deadweight share of paid days", "deadweight_share", "percent", "lower", "council"),
    CompareMetric("Paid for deadweight", "deadweight_paid", "money", "lower", "council"),
    CompareMetric("Council net benefit", "net_benefit", "money", "higher", "council"),
    CompareMetric("Young people started", "young_people_started", "number", "higher", "outcomes"),
    CompareMetric("Care proportion, treated", "care_proportion_treated", "percent", "lower", "outcomes"),
)


def metric_values(draws: pd.DataFrame, column: str) -> np.ndarray:
    """One comparison metric per draw, shape (n_draws,), float (NaN where undefined)."""
    if column == "loss":
        return (np.nan_to_num(draws["moic_drawn"].to_numpy(dtype=float), nan=0.0) < 1.0).astype(float)
    return draws[column].to_numpy(dtype=float)


def paired_difference(values_a: np.ndarray, values_b: np.ndarray, better: str,
                      groups: np.ndarray | None = None) -> dict[str, float]:
    """Mean difference B − A over draws where both are defined, with paired standard errors.

    Returns ``mean_a``, ``mean_b``, ``difference``, ``difference_se`` (sd of the per-draw
    differences ÷ √n), ``p_b_better`` and ``p_b_worse`` (shares of draws where B is strictly
    better / worse, in the direction ``better`` = "higher" or "lower") with binomial standard
    errors, and ``n``.  Ties count as neither, so a scenario against itself has both at 0.
    ``groups`` labels each draw's replicate under QMC sampling: the errors then come from them.
    """
    a, b = np.asarray(values_a, dtype=float), np.asarray(values_b, dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    n = int(both.sum())
    if n == 0:
        return {"mean_a": None, "mean_b": None, "difference": None, "difference_se": None,
                "p_b_better": None, "p_b_better_se": None, "p_b_worse": None, "p_b_worse_se": None, "n": 0}
    diff = b[both] - a[both]
    direction = 1.0 if better == "higher" else -1.0
    improved, worsened = (direction * diff > 0).astype(float), (direction * diff < 0).astype(float)
    groups = None if groups is None else np.asarray(groups)[both]
    return {
        "mean_a": float(a[both].mean()),
        "mean_b": float(b[both].mean()),
        "difference": float(diff.mean()),
        "difference_se": standard_error(diff, groups),
        "p_b_better": float(improved.mean()),
        "p_b_better_se": standard_error(improved, groups, probability=True),
        "p_b_worse": float(worsened.mean()),
        "p_b_worse_se": standard_error(worsened, groups, probability=True),
        "n": n,
    }


@dataclass
class Comparison:
    """Result of :func:`compare`: one row per metric in ``table``, and both runs' draws."""

    label_a: str
    label_b: str
    draws: int
    seed: int | None
    seed_entropy: int
    chunk_size: int
    sha256_a: str
    sha256_b: str
    table: pd.DataFrame
    draws_a: pd.DataFrame
    draws_b: pd.DataFrame
    precision: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: run identity and one record per metric (NaN written as null)."""
        records = self.table.astype(object).where(self.table.notna(), None).to_dict(orient="records")
        return {
            "a": self.label_a, "b": self.label_b, "draws": self.draws, "seed": self.seed,
            "seed_entropy": self.seed_entropy, "chunk_size": self.chunk_size,
            "scenario_sha256_a": self.sha256_a, "scenario_sha256_b": self.sha256_b,
            "common_random_numbers": True, "precision": self.precision,
            "difference": "B − A, mean over draws where both are defined; se of the paired differences",
            "metrics": records,
        }


def _as_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def compare(
    scenario_a: Scenario | str | Path,
    scenario_b: Scenario | str | Path,
    draws: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    label_a: str | None = None,
    label_b: str | None = None,
    precision: Precision | None = None,
    progress: Callable[[int], None] | None = None,
) -> Comparison:
    """Simulate A and B on common random numbers and compare their headline metrics.

    Parameters
    ----------
    scenario_a, scenario_b : Scenario or path
        B is run with A's chunk size (the chunking is part of the random-number layout).
    draws : int, optional
        Draws for both [default: A's ``simulation.draws``].
    seed : int, optional
        Shared seed; without one, fresh entropy is drawn once and used for both.
    precision : Precision, optional
        Run both until every target is met (then ``draws`` is ignored).
    progress : callable, optional
        Called with the number of draws each finished chunk adds (a progress bar).

    Returns
    -------
    Comparison
        ``table`` has one row per metric of :data:`COMPARE_METRICS`: label, column, kind,
        better, who, mean_a, mean_b, difference (B − A), difference_se, p_b_better(_se),
        p_b_worse(_se), n.

    Examples
    --------
    >>> import simsib
    >>> essex = simsib.load_scenario()
    >>> same = compare(essex, essex, draws=100, seed=3)
    >>> float(same.table["difference"].abs().max())
    0.0
    """
    a, b = _as_scenario(scenario_a), _as_scenario(scenario_b)
    chunk_size = a.simulation.chunk_size
    if b.simulation.chunk_size != chunk_size:
        b = b.model_copy(update={"simulation": b.simulation.model_copy(update={"chunk_size": chunk_size})})
    n_draws = int(draws if draws is not None else a.simulation.draws)
    entropy = int(seed) if seed is not None else new_entropy()
    # A and B as two variants of one run: the same chunks and streams (B reuses A's care paths
    # when it differs only in money); each one's numbers are those of simulate(X, draws, seed).
    columns_a, columns_b = run_variants(VariantSet.of(a, [a, b]), entropy, n_draws, workers=workers,
                                        precision=precision, progress=progress)
    draws_a, draws_b = pd.DataFrame(columns_a), pd.DataFrame(columns_b)
    n_draws = len(draws_a)
    groups = columns_a.get(REPLICATE_COLUMN)
    rows = []
    for metric in COMPARE_METRICS:
        stats = paired_difference(metric_values(draws_a, metric.column), metric_values(draws_b, metric.column),
                                  metric.better, groups)
        rows.append({**metric._asdict(), **stats})
    name_a, name_b = label_a or a.meta.name, label_b or b.meta.name
    if name_a == name_b and scenario_sha256(a) != scenario_sha256(b):
        name_b += " (variant)"
    return Comparison(name_a, name_b, n_draws, seed, entropy, chunk_size, scenario_sha256(a),
                      scenario_sha256(b), pd.DataFrame(rows), draws_a, draws_b,
                      precision.record if precision is not None else None)


