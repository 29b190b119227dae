"""The weighted draws of a re-forecast: the prior run's, then rounds of adaptive proposals.

:func:`simulate_prior` runs the prior -- each draw's inputs along ``paths`` simulated paths, the
first being the path ``simsib run`` gives for the same seed -- and keeps, per draw, the first
path's per-draw columns, every path's value of each observed row and the normal scores of its
inputs.  :func:`adapt` adds rounds of draws from proposals fitted to the weighted draws
(:mod:`simsib.analysis.adaptive`) until the effective sample size reaches a target, and
:func:`log_weights` weights every draw by the deterministic-mixture rule, with the synthetic
likelihood of :mod:`simsib.analysis.likelihood`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
from scipy import special

from simsib.analysis.adaptive import (
    FIT_ESS,
    Proposal,
    ScoreLayout,
    fit_proposal,
    prior_logpdf,
    prior_scores,
    score_layout,
)
from simsib.analysis.likelihood import SyntheticLikelihood
from simsib.analysis.observations import Observations
from simsib.analysis.update_chunks import ADAPT_KEY, Batch, PathsChunk, UpdateSpec, batch_chunk
from simsib.analysis.weights import effective_sample_size, normalise
from simsib.model.inputs import sample_inputs
from simsib.model.streams import chunk_seed, update_seed
from simsib.run.execution import map_processes, warm_up
from simsib.run.plan import RunPlan, make_plan
from simsib.scenario.format import Scenario


@dataclass
class Pool:
    """Weighted draws (axis 0): the prior's, then any adaptive proposals.

    simulated : (P, paths, rows) each path's value of each observed row
    batches : every batch by index (prior chunks first); batch_of, position : each draw's batch
        and its position in it; scores : (P, D) normal scores of the inputs
        (:mod:`simsib.analysis.adaptive`); log_proposals : (P, rounds + 1) log density of each
        draw under the prior and each round's proposal, for the deterministic-mixture weights
    """

    spec: UpdateSpec
    plan: RunPlan
    layout: ScoreLayout
    draws: dict[str, np.ndarray]
    simulated: np.ndarray
    scores: np.ndarray
    batches: dict[int, Batch]
    batch_of: np.ndarray
    position: np.ndarray
    log_proposals: np.ndarray
    round_sizes: list[int]
    n_prior: int
    proposals: list[Proposal]
    paths: int
    seconds: float
    seed: int | None = None

    @property
    def n(self) -> int:
        return self.simulated.shape[0]

    @property
    def prior_draws(self) -> dict[str, np.ndarray]:
        return {k: v[:self.n_prior] for k, v in self.draws.items()}

    def extended(self, chunks: Sequence[PathsChunk], batches: Sequence[Batch], proposal: Proposal) -> Pool:
        """This pool and one more round: ``batches`` drawn from ``proposal`` and simulated."""
        columns, _, simulated = concatenate(chunks)
        new = np.concatenate([b.scores for b in batches])
        new_rows = np.column_stack([prior_logpdf(self.layout, new), *(q.logpdf(new) for q in self.proposals)])
        scores = np.concatenate([self.scores, new])
        log_proposals = np.column_stack([np.concatenate([self.log_proposals, new_rows]), proposal.logpdf(scores)])
        return replace(
            self,
            draws={k: np.concatenate([self.draws[k], columns[k]]) for k in self.draws},
            simulated=np.concatenate([self.simulated, simulated]),
            scores=scores,
            batches={**self.batches, **{b.index: b for b in batches}},
            batch_of=np.concatenate([self.batch_of, *(np.full(b.size, b.index) for b in batches)]),
            position=np.concatenate([self.position, *(np.arange(b.size) for b in batches)]),
            log_proposals=log_proposals,
            round_sizes=self.round_sizes + [len(new)],
            proposals=self.proposals + [proposal],
        )

    def log_mixture(self) -> np.ndarray:
        """log of Σ_t (N_t / N) q_t at each draw: the deterministic-mixture denominator."""
        shares = np.log(np.asarray(self.round_sizes, dtype=float) / sum(self.round_sizes))
        return special.logsumexp(self.log_proposals + shares[None, :], axis=1)


def run_batches(function: Callable[..., PathsChunk], calls: list[tuple], workers: int, scenario: Scenario) -> list:
    """``function(*call)`` for every call, in order, in this process or over worker processes."""
    if workers <= 1 or len(calls) <= 1:
        return [function(*call) for call in calls]
    warm_up(scenario)
    return [result for _, result in sorted(map_processes(function, calls, workers), key=lambda r: r[0])]


def concatenate(chunks: Sequence[PathsChunk]) -> tuple[dict, dict, np.ndarray]:
    draws = {k: np.concatenate([c.draws[k] for c in chunks]) for k in chunks[0].draws}
    quarterly = {k: np.concatenate([c.quarterly[k] for c in chunks]) for k in chunks[0].quarterly}
    return draws, quarterly, np.concatenate([c.simulated for c in chunks])


def simulate_prior(
    scenario: Scenario, observations: Observations, draws: int | None, seed: int | None, *, paths: int = 20,
    workers: int = 1,
) -> Pool:
    """The prior run along ``paths`` paths per draw (the first: ``simsib run``'s numbers for the
    same seed), keeping what the update needs."""
    started = time.perf_counter()
    plan = make_plan(scenario, draws, seed)
    spec = UpdateSpec(scenario, plan.entropy, plan.chunk_size, observations)
    layout = score_layout(scenario)
    batches = [Batch(index, size) for index, size in plan.chunks]
    chunks = run_batches(batch_chunk, [(spec, b, paths) for b in batches], workers, scenario)
    columns, _, simulated = concatenate(chunks)
    # The uniforms behind each prior draw's inputs (cheap: the input streams alone).
    scores = np.concatenate([
        prior_scores(scenario, layout, chunk_seed(plan.entropy, b.index),
                     sample_inputs(scenario, chunk_seed(plan.entropy, b.index), b.size)) for b in batches])
    return Pool(spec, plan, layout, columns, simulated, scores, {b.index: b for b in batches},
                np.concatenate([np.full(b.size, b.index) for b in batches]),
                np.concatenate([np.arange(b.size) for b in batches]),
                prior_logpdf(layout, scores)[:, None], [plan.draws], plan.draws, [], paths,
                time.perf_counter() - started, seed)


def log_weights(pool: Pool, loglik: np.ndarray) -> np.ndarray:
    """Deterministic-mixture log weights, (P,): log prior + log-likelihood − log Σ_t (N_t/N) q_t."""
    if not pool.proposals:  # prior draws only: the prior cancels
        return loglik
    return prior_logpdf(pool.layout, pool.scores) + loglik - pool.log_mixture()


def adapt(pool: Pool, likelihood: SyntheticLikelihood, rows: list[int], stage: int, target_ess: float,
          max_rounds: int, workers: int) -> tuple[Pool, np.ndarray]:
    """Rounds of adaptive proposals (``min(N, chunk_size)`` draws each: many small rounds adapt
    faster than a few large ones) until the effective sample size reaches ``target_ess``.
    Returns the grown pool and each draw's log-likelihood (P,)."""
    loglik = likelihood.log_likelihood(pool.simulated[:, :, rows])
    entropy, chunk_size = pool.plan.entropy, pool.plan.chunk_size
    for round_ in range(max_rounds):
        logw = log_weights(pool, loglik)
        if effective_sample_size(normalise(logw)[0]) >= target_ess:
            break
        proposal = fit_proposal(pool.layout, pool.scores, logw, min(target_ess, FIT_ESS))
        draw = np.random.Generator(np.random.PCG64(update_seed(entropy, 0, ADAPT_KEY, stage, round_, 1)))
        scores = proposal.sample(draw, min(pool.n_prior, chunk_size))
        parts = np.split(scores, range(chunk_size, len(scores), chunk_size))
        batches = [Batch(len(pool.batches) + j, len(part), part, stage) for j, part in enumerate(parts)]
        chunks = run_batches(batch_chunk, [(pool.spec, b, pool.paths) for b in batches], workers, pool.spec.scenario)
        pool = pool.extended(chunks, batches, proposal)
        loglik = likelihood.log_likelihood(pool.simulated[:, :, rows])
    return pool, loglik
