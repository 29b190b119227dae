"""Run until precise: running estimates and standard errors of summary figures, chunk by chunk.

A run to a precision (``--precision investor.prob_loss=0.005``, or ``simulation.precision``)
adds chunks in the run's fixed chunk order and stops at the first chunk boundary where every
named figure's standard error is at or below its target -- its 90% upper confidence bound, not
the estimate itself (:func:`upper_bound`): a standard error from 20 replicates is uncertain by
about ±16%, and stopping the first time a noisy estimate dips below the target would stop too
early, with the target missed (measured: a P(loss) target of 0.005 met by an estimate of 0.0046
after 1,000 draws whose true error was 0.008).  :class:`Convergence` folds chunks in
*only in chunk order* (a chunk that finishes early waits for those before it), so where a run
stops depends on the chunks' numbers alone -- never on which worker finished first -- and the
result is bit-identical to a run of exactly that many draws.  The same running estimates, taken
at every chunk boundary of a finished run, are its convergence table (``convergence.csv``: each
headline figure and its standard error against draws).

Standard errors are those of :mod:`simsib.run.summary`: iid (sample sd / sqrt(n); binomial for
probabilities) under random sampling, replicate batch means under QMC sampling (every chunk
holds a block of every replicate, :func:`simsib.model.qmc.replicate_ids`).  Running sums are
combined in chunk order (Chan et al.'s pairwise update for the iid variance), so they are
deterministic; they agree with the summary's to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import special

from simsib.model.qmc import replicate_ids
from simsib.run.summary import DISTRIBUTIONS, EVENTS
from simsib.scenario.format import Scenario

# figure (SECTION.KEY) -> (draws columns, value per draw, probability?).  A mean figure averages
# the defined (non-NaN) values; a probability averages 0/1 events over every draw.
FIGURES: dict[str, tuple[tuple[str, ...], Callable[..., np.ndarray], bool]] = {
    **{f"{section}.{key}": ((column,), lambda values: np.asarray(values, dtype=float), False)
       for section, key, column in DISTRIBUTIONS},
    **{f"{section}.{key}": (columns, event, True) for section, key, columns, event in EVENTS},
}
# The headline figures tracked in every run's convergence table.
CONVERGENCE_FIGURES = ("investor.moic_committed", "investor.prob_loss", "council.outcome_payments",
                       "council.prob_cap_reached", "council.net_benefit")
CONVERGENCE_FILE = "convergence.csv"
STOP_CONFIDENCE = 0.90  # a run stops when it is this sure that every standard error is at or below target


def upper_bound(se: float, df: int, confidence: float = STOP_CONFIDENCE) -> float:
    """Upper ``confidence`` bound of a standard error ``se`` estimated with ``df`` degrees of freedom.

    ``se² · df / σ²`` is about χ² with ``df`` degrees of freedom (replicates − 1 under QMC,
    draws − 1 for independent draws), so ``σ ≤ se · √(df / χ²_df(1 − confidence))`` with that
    confidence: × 1.28 with 20 replicates, × 1.03 with 1,000 independent draws.
    """
    if df < 1:
        return float("inf")
    return float(se * np.sqrt(df / special.chdtri(df, confidence)))


def columns_for(figures: Sequence[str]) -> list[str]:
    """The draws columns the figures are computed from."""
    return sorted({c for figure in figures for c in FIGURES[figure][0]})


@dataclass
class _Running:
    """One figure's running sums: per replicate (count, sum), or iid (count, mean, M2)."""

    probability: bool
    replicates: int  # 0 under random sampling
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    defined_anywhere: bool = False
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sums: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, values: np.ndarray, groups: np.ndarray | None, defined: bool) -> None:
        self.defined_anywhere |= defined
        keep = ~np.isnan(values)
        values = values[keep]
        if values.size == 0:
            return
        if self.replicates:
            if self.counts.size == 0:
                self.counts, self.sums = np.zeros(self.replicates), np.zeros(self.replicates)
            self.counts += np.bincount(groups[keep], minlength=self.replicates)
            self.sums += np.bincount(groups[keep], weights=values, minlength=self.replicates)
            return
        n_b, mean_b = values.size, float(values.mean())
        m2_b = float(((values - mean_b) ** 2).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    @property
    def degrees_of_freedom(self) -> int:
        """Of the standard error: replicates with draws − 1, or draws − 1."""
        return int((self.counts > 0).sum()) - 1 if self.replicates else self.n - 1

    def estimate(self) -> tuple[float | None, float | None]:
        """(estimate, standard error); None where undefined so far."""
        if not self.defined_anywhere:
            return None, None
        if self.replicates:
            used = self.counts > 0
            if not used.any():
                return None, None
            counts, means = self.counts[used], self.sums[used] / self.counts[used]
            weights = counts / counts.sum()
            mean = float(self.sums[used].sum() / counts.sum())  # = sum(w_r m_r)
            if counts.size < 2:
                return mean, None
            r = counts.size
            return mean, float(np.sqrt(r / (r - 1) * ((weights * (means - mean)) ** 2).sum()))
        if self.n == 0:
            return None, None
        if self.probability:
            return self.mean, float(np.sqrt(self.mean * (1.0 - self.mean) / self.n))
        return self.mean, (float(np.sqrt(self.m2 / (self.n - 1) / self.n)) if self.n > 1 else None)


class Convergence:
    """Running estimates of ``figures`` over the chunks added so far, which must come in chunk order.

    >>> monitor = Convergence(scenario, ["investor.prob_loss"])   # doctest: +SKIP
    >>> monitor.add(0, chunk.draws); monitor.se("investor.prob_loss")
    """

    def __init__(self, scenario: Scenario, figures: Sequence[str]):
        self.scenario = scenario
        self.figures = list(dict.fromkeys(figures))
        replicates = scenario.simulation.replicates if scenario.simulation.sampling != "random" else 0
        self.running = {f: _Running(probability=FIGURES[f][2], replicates=replicates) for f in self.figures}
        self.chunks = 0  # chunks added: 0 .. chunks-1
        self.draws = 0
        self.rows: list[tuple[int, str, float | None, float | None]] = []  # (draws, figure, estimate, se)

    def add(self, index: int, columns: Mapping[str, np.ndarray]) -> None:
        """Fold in chunk ``index`` (which must be the next in chunk order), given its draws columns."""
        if index != self.chunks:
            raise ValueError(f"chunk {index} added out of order (expected chunk {self.chunks})")
        size = len(next(iter(columns.values())))
        groups = replicate_ids(self.scenario, size) if self.scenario.simulation.sampling != "random" else None
        for figure, running in self.running.items():
            names, value, probability = FIGURES[figure]
            raw = [np.asarray(columns[c]) for c in names]
            defined = not (raw[0].dtype.kind == "f" and np.isnan(raw[0]).all())
            if probability:
                with np.errstate(invalid="ignore"):
                    values = np.asarray(value(*raw), dtype=float)
            else:
                values = value(*raw)
            running.add(values, groups, defined)
        self.chunks += 1
        self.draws += size
        for figure in self.figures:
            self.rows.append((self.draws, figure, *self.running[figure].estimate()))

    def se(self, figure: str) -> float | None:
        return self.running[figure].estimate()[1]

    def se_upper(self, figure: str) -> float | None:
        """The standard error's upper confidence bound (:func:`upper_bound`); None if not estimable."""
        se = self.se(figure)
        return None if se is None else upper_bound(se, self.running[figure].degrees_of_freedom)

    def unmet(self, targets: Mapping[str, float]) -> dict[str, float | None]:
        """Figures not yet known to be at or below target: their standard error's upper bound is
        above it (value: the standard error; None: not yet estimable)."""
        out = {}
        for figure, target in targets.items():
            upper = self.se_upper(figure)
            if upper is None or upper > target:
                out[figure] = self.se(figure)
        return out


def precision_record(targets: Mapping[str, float], monitor: Convergence, max_draws: int,
                     stopped: str) -> dict[str, Any]:
    """The manifest's ``precision``: the targets, the draws used, why the run stopped, what it reached."""
    return {
        "targets": dict(targets),
        "max_draws": max_draws,
        "draws_used": monitor.draws,
        "stopped": stopped,
        "achieved_se": {figure: monitor.se(figure) for figure in targets},
        "achieved_se_upper": {figure: monitor.se_upper(figure) for figure in targets},
        "rule": (f"chunks added in chunk order; stop at the first chunk boundary where every standard error's "
                 f"{STOP_CONFIDENCE:.0%} upper confidence bound is at or below its target"),
    }


def convergence_columns(rows: Sequence[tuple[int, str, float | None, float | None]],
                        max_points: int = 400) -> dict[str, list]:
    """``convergence.csv`` as columns: draws, figure, estimate, se (at most ``max_points`` per figure,
    spread evenly in log(draws), always with the first and last boundary)."""
    draws = sorted({r[0] for r in rows})
    if len(draws) > max_points:
        wanted = np.unique(np.geomspace(1, len(draws), max_points).astype(int) - 1)
        keep = {draws[i] for i in wanted} | {draws[0], draws[-1]}
    else:
        keep = set(draws)
    chosen = [r for r in rows if r[0] in keep]
    return {"draws": [r[0] for r in chosen], "figure": [r[1] for r in chosen],
            "estimate": [r[2] for r in chosen], "se": [r[3] for r in chosen]}
