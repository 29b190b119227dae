"""The re-forecast's chunks: prior draws with what a review could see of them, and posterior draws.

:func:`batch_chunk` simulates chunk ``index`` of the prior run -- the same streams, so the same
numbers, as :func:`simsib.run.pipeline.run_chunk` -- or a batch of adaptive proposals
(:mod:`simsib.analysis.adaptive`), and keeps, per draw, its per-draw columns and the simulated
value of every observed row: a few hundred bytes a draw, so the prior can be large.
:func:`posterior_chunk` simulates a batch again for the draws the resampling chose (with
repeats), keeping also their quarterly series, the money already paid and still to come at
the review quarter, and their figures had the contract been terminated at the review; their
futures after the review quarter are simulated afresh
(:func:`simsib.run.observables.continue_history`) when the update moves them.  Both are pure:
every random number comes from the run's entropy and the chunk's index, so any worker can run
any chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from simsib.analysis.adaptive import inputs_from_scores, score_layout
from simsib.analysis.likelihood import RowModel, log_likelihood
from simsib.analysis.observations import SERIES, Observations
from simsib.analysis.observed import quarterly_values, simulated_values
from simsib.model.inputs import DrawInputs, sample_inputs
from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.model.streams import chunk_seed, update_seed
from simsib.run.execution import tune_allocator
from simsib.run.observables import History, continue_history, observable_series, simulate_history
from simsib.run.pipeline import draw_columns, quarterly_series, settle
from simsib.scenario.format import Scenario
from simsib.scenario.format.reviews import Review

# update_seed subkeys: 0 resampling; then
MOVE_KEY = 1  # re-simulated futures
ADAPT_KEY = 2  # adaptive proposals (their paths, their draws, their fits)
PATHS_KEY = 3  # a prior chunk's further paths (its first is the run's own)
CHOICE_KEY = 4  # the likelihood's correlation and each posterior draw's choice of path
POSTERIOR_KEY = 5  # posterior draws' paths
# Per-draw figures compared between continuing and terminating the contract at the review.
DECISION_METRICS = ("moic_committed", "investor_profit", "distributions", "outcome_payments", "true_savings",
                    "net_benefit", "young_people_started")
TERMINATED = "terminate_"  # prefix of those figures' columns had the contract been terminated
# Money split at the review quarter: (column stem, quarterly series).
SPLIT = (("outcome_payments", "payments"), ("distributions", "distributions"), ("capital_drawn", "capital_drawn"))


@dataclass(frozen=True)
class UpdateSpec:
    """What every chunk of one re-forecast needs to know (pickled to worker processes).

    observations : every row any stage conditions on
    """

    scenario: Scenario
    entropy: int
    chunk_size: int
    observations: Observations


@dataclass
class PathsChunk:
    """Per-draw results of one chunk (axis 0 the draw).

    draws : column -> (n,) per-draw inputs and metrics, as in draws.parquet, plus the split at
        the review quarter and the ``terminate_*`` figures
    quarterly : series -> (n, n_quarters): the run's quarterly series, distributions and capital
        drawn, and each observed series (by its observations name) at every quarter end
    simulated : (n, n_rows) each observed row's value in each draw
    """

    index: int
    draws: dict[str, np.ndarray]
    quarterly: dict[str, np.ndarray]
    simulated: np.ndarray


def _paths(spec: UpdateSpec, index: int, inputs: DrawInputs, history: History, review: int | None = None, *,
           columns: bool = True) -> PathsChunk:
    """The chunk's simulated figures and (with ``columns``) per-draw columns; with a ``review``
    quarter, also its quarterly series, the money split at the review and the ``terminate_*``
    figures."""
    scenario = spec.scenario
    settlement = settle(scenario, inputs, history.outcomes, history.monthly_starts)
    observed = observable_series(scenario, inputs, history, settlement, cohorts=spec.observations.needs_cohorts)
    simulated = simulated_values(spec.observations, observed)
    if not columns:
        return PathsChunk(index, {}, {}, simulated)
    columns = draw_columns(scenario, inputs, settlement, history.monthly_starts)
    if review is None:
        return PathsChunk(index, columns, {}, simulated)
    waterfall = settlement.waterfall
    quarterly = quarterly_series(history.monthly_starts, settlement.service_stop, waterfall)
    quarterly["distributions"] = waterfall.investor_receipts
    quarterly["capital_drawn"] = waterfall.drawn
    for name in spec.observations.series_used:
        if name not in quarterly:
            quarterly[name] = quarterly_values(SERIES[name], observed)
    for stem, series in SPLIT:
        quarterly_money = quarterly[series]
        columns[f"{stem}_to_date"] = quarterly_money[:, :review].sum(axis=1)
        columns[f"{stem}_to_come"] = quarterly_money[:, review:].sum(axis=1)
    ended = terminated_at(scenario, MONTHS_PER_QUARTER * review)
    ended_columns = draw_columns(ended, inputs, settle(ended, inputs, history.outcomes, history.monthly_starts), history.monthly_starts)
    columns.update({f"{TERMINATED}{name}": ended_columns[name] for name in DECISION_METRICS})
    return PathsChunk(index, columns, quarterly, simulated)


def terminated_at(scenario: Scenario, month: int) -> Scenario:
    """``scenario`` with one more review, at ``month``, that terminates every draw still running
    then: the contract's own termination terms (``[contract.termination]``: outstanding payments
    paid or forfeited, any early-redemption floor) decide what each party gets.  The scenario's
    own reviews before ``month`` still apply first."""
    review = Review(month=month, measure="young_people_started", when="above", threshold=-1.0, action="terminate",
                    source="judgement: the decision being weighed at the review date")
    contract = scenario.contract.model_copy(update={"reviews": [*scenario.contract.reviews, review]})
    return scenario.model_copy(update={"contract": contract})


@dataclass(frozen=True)
class Batch:
    """Draws simulated together: a prior chunk (``scores`` None: its inputs are sampled from the
    chunk's seed) or a batch of adaptive proposals (inputs from ``scores``).

    index : prior chunks are 0 … C − 1; a stage's proposal batches follow them, C, C + 1, …
    """

    index: int
    size: int
    scores: np.ndarray | None = None
    stage: int = 0


def path_seed(spec: UpdateSpec, batch: Batch, path: int) -> np.random.SeedSequence:
    """Seed of path ``path`` of ``batch``: a prior chunk's first path is the run's own chunk."""
    if batch.scores is None:
        return chunk_seed(spec.entropy, batch.index) if path == 0 else update_seed(
            spec.entropy, batch.index, PATHS_KEY, path)
    return update_seed(spec.entropy, batch.index, ADAPT_KEY, batch.stage, path)


def _batch_inputs(spec: UpdateSpec, batch: Batch) -> DrawInputs:
    if batch.scores is None:
        return sample_inputs(spec.scenario, chunk_seed(spec.entropy, batch.index), batch.size)
    return inputs_from_scores(spec.scenario, score_layout(spec.scenario), batch.scores)


def batch_chunk(spec: UpdateSpec, batch: Batch, paths: int) -> PathsChunk:
    """A prior chunk or a proposal batch, each draw simulated along ``paths`` paths.

    ``draws``: the per-draw columns of the first path (for a prior chunk, ``run_chunk``'s
    numbers); ``simulated``: (n, paths, rows) each path's value of every observed row.
    """
    tune_allocator()
    inputs = _batch_inputs(spec, batch)
    chunks = [_paths(spec, batch.index, inputs, simulate_history(spec.scenario, inputs, path_seed(spec, batch, path)),
                     columns=path == 0) for path in range(paths)]
    return PathsChunk(batch.index, chunks[0].draws, {}, np.stack([c.simulated for c in chunks], axis=1))


def _where_rows(replace_rows: np.ndarray, new, old):
    """``old`` with the draws where ``replace_rows`` is true taken from ``new`` (arrays with the
    draw first, or dicts, tuples and dataclasses of them).  Per-person records of two paths may
    be of different widths: the narrower is padded as records are (never reached; cohort -1)."""
    if old is None or new is None:
        return old
    if isinstance(old, np.ndarray):
        if old.shape != new.shape:
            width = max(old.shape[1], new.shape[1])
            fill = -1 if old.dtype.kind == "i" else np.inf
            old, new = (np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill) for a in (old, new))
        mask = replace_rows.reshape((-1,) + (1,) * (old.ndim - 1))
        return np.where(mask, new, old)
    if isinstance(old, dict):
        return {key: _where_rows(replace_rows, new[key], value) for key, value in old.items()}
    if isinstance(old, tuple):
        return tuple(_where_rows(replace_rows, b, a) for a, b in zip(old, new))
    return replace(old, **{f.name: _where_rows(replace_rows, getattr(new, f.name), getattr(old, f.name))
                           for f in fields(old)})


def posterior_chunk(spec: UpdateSpec, index: int, inputs: DrawInputs, paths: int, review: int, move: bool,
                    stage: int) -> PathsChunk:
    """Posterior draws with inputs ``inputs`` (chosen by the weights), each given a path drawn
    from its paths given the data, with everything a posterior draw at ``review`` carries.

    ``paths`` paths are simulated per draw (path ``k`` from ``update_seed(entropy, index,
    POSTERIOR_KEY, stage, k)``); each draw keeps one with probability ∝ the observation model's
    likelihood of the observed rows along it -- sampling-importance-resampling, done as a
    weighted reservoir so only the kept path is held.  With ``move``, the kept paths' futures
    from the review quarter are drawn afresh (``update_seed(entropy, index, MOVE_KEY, stage)``).
    """
    tune_allocator()
    model = RowModel.of(spec.observations)
    n = len(next(iter(inputs.values())))
    kept, kept_path, log_total = None, np.zeros(n, dtype=np.int64), np.full(n, -np.inf)
    rng = np.random.Generator(np.random.PCG64(update_seed(spec.entropy, index, CHOICE_KEY, stage)))
    for path in range(paths):
        history = simulate_history(spec.scenario, inputs, update_seed(spec.entropy, index, POSTERIOR_KEY, stage, path))
        loglik = log_likelihood(model, _paths(spec, index, inputs, history, columns=False).simulated).sum(axis=1)
        log_total = np.logaddexp(log_total, loglik)
        # Keep path k with probability w_k / (w_1 + … + w_k): the kept path ends up drawn ∝ w.
        take = rng.random(n) < np.exp(loglik - np.where(np.isfinite(log_total), log_total, 0.0))
        take |= kept is None
        kept = history if kept is None else _where_rows(take, history, kept)
        kept_path = np.where(take, path, kept_path)
    if move:
        kept = continue_history(spec.scenario, inputs, kept, review, update_seed(spec.entropy, index, MOVE_KEY, stage))
    chunk = _paths(spec, index, inputs, kept, review)
    chunk.draws["path"] = kept_path
    return chunk
