"""The default scenario's priors on population risk and effect, derived from the 2012 prior.

``essex`` (the default) prices an Essex-like contract with everything known today.  Its priors
on the referred population's risk (``population.p30_entry``) and on MST's effect
(``effect.log_hazard_ratio``) are not picked: they are the 2012 prior (``essex-2012``)
conditioned on what was published since, by **likelihood weighting of prior draws**:

1. Draw ``n`` pairs ``(p30_i, θ_i)`` from the 2012 prior, remembering each draw's mixture
   strands ``(k_i, j_i)`` (``essex-2012``'s three population strands and three effect strands).
2. Simulate, for each pair, what Essex would then have published: the ``essex-realised``
   scenario's observed delivery (388 starts, measurement to March 2019) with that pair and
   every other input drawn as usual, giving the treated care proportion ``y_i``.
3. Weight each draw by the likelihood of the published figures:

   * Essex's care proportion, 10.8% (E6, 2019): ``exp(−½ ((y_i − 0.108)/h)²)``, a Gaussian
     kernel of width ``h`` = 1 point [judgement: E6's later page gives 11.92%, so the figure is
     uncertain by about a point].  ``y_i`` already carries the chance of 388 young people's
     paths, so this is approximate Bayesian computation with a kernel;
   * the START trial (E20, 2018): ``N(0.223 | θ_i, 0.25² + τ²)``, the English trial's log odds
     ratio as a measurement of the effect in an English service, with heterogeneity between
     services ``τ`` = 0.36 [E26: the random-effects predictive spread] (ln OR taken as ln HR, as
     in E26).

4. The posterior weight of strand ``k`` is ``Σ_{i∈k} W_i / Σ_i W_i``; within each strand the
   posterior is summarised by its weighted moments (a beta for ``p30`` by the method of moments,
   a normal for ``θ``), and the pair's dependence -- the ridge along which a lower risk and a
   weaker effect explain 10.8% as well as a higher risk and a stronger one -- by their weighted
   Spearman rank correlation, imposed in the default by ``[[correlations]]``.

The effective sample size ``(Σ W)² / Σ W²`` says how many prior draws the result rests on.
Everything else in the default (delivery, care, costs) is today's evidence, cited value by
value; :mod:`docs/derivations/essex_default.py` prints this module's arithmetic and writes its
numbers into ``simsib/scenarios/essex.toml``, and ``tests/test_derivation.py`` checks that the
bundled file holds exactly what it derives.

This is a self-contained weighting of one set of prior draws, not the general re-forecast
(``simsib update``, issue 17), which conditions on observed quarterly series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simsib.model.inputs import sample_inputs
from simsib.model.streams import chunk_seed
from simsib.run.pipeline import draw_columns, settle, simulate_outcomes
from simsib.scenario.format import Scenario
from simsib.scenario.loader import bundled_scenario_path, load_raw, load_scenario, validate

PRIOR_SCENARIO = "essex-2012"
OBSERVATION_SCENARIO = "essex-realised"
POPULATION_KEY = "population.p30_entry"
EFFECT_KEY = "effect.log_hazard_ratio"
PUBLISHED_CARE_PROPORTION = 0.108  # E6 (2019)
KERNEL_WIDTH = 0.01  # judgement: E6's later page gives 11.92%
START_LOG_ODDS_RATIO, START_SE = 0.223, 0.250  # E20
HETEROGENEITY = 0.36  # E26: random-effects predictive spread, as between-service heterogeneity
DRAWS = 50_000
SEED = 20121201  # signing: December 2012
MIN_WEIGHT = 0.001  # a strand whose posterior weight rounds below this is dropped


@dataclass(frozen=True)
class Strand:
    """One mixture strand's prior and posterior: weight, ESS and summary of the draws in it."""

    label: str
    prior_weight: float
    draws: int
    posterior_weight: float
    effective_draws: float
    mean: float
    sd: float


@dataclass(frozen=True)
class Derivation:
    """The derived priors, rounded as the default scenario holds them, and the arithmetic."""

    population: list[Strand]
    effect: list[Strand]
    beta: list[tuple[float, float]]  # (a, b) of each population strand kept
    normal: list[tuple[float, float]]  # (mean, sd) of each effect strand kept
    population_weights: list[float]
    effect_weights: list[float]
    rank_correlation: float
    effective_draws: float
    draws: int
    seed: int
    # Per prior draw, (draws,): simulated care proportion, likelihood weight, values and strands.
    prior_care_proportion: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    p30: np.ndarray = field(repr=False)
    log_hazard_ratio: np.ndarray = field(repr=False)
    population_strand: np.ndarray = field(repr=False)
    effect_strand: np.ndarray = field(repr=False)

    def kept(self, which: str) -> list[Strand]:
        """The strands of ``population`` or ``effect`` the default keeps (weight ≥ MIN_WEIGHT)."""
        return [s for s in getattr(self, which) if round(s.posterior_weight, 3) >= MIN_WEIGHT]


def _mixture(scenario: Scenario, key: str):
    section, name = key.split(".")
    return getattr(getattr(scenario, section), name)


def _strands(mixture, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(strand index, value) of each draw of ``mixture`` from uniforms (n, n_uniforms), as
    :meth:`Mixture.from_uniforms` picks them."""
    edges = np.cumsum(mixture.weights) / np.sum(mixture.weights)
    chosen = np.minimum(np.searchsorted(edges, uniforms[:, 0], side="right"), len(mixture.components) - 1)
    return chosen, mixture.from_uniforms(uniforms)


def observation_scenario() -> Scenario:
    """``essex-realised`` with no correlations, and the two derived keys set to placeholders that
    every draw overwrites -- so the derivation never reads the values it derives (``essex-realised``
    inherits them from ``essex``)."""
    raw = load_raw(bundled_scenario_path(OBSERVATION_SCENARIO))
    raw["correlations"] = []
    raw["population"]["p30_entry"] = {"value": 0.5, "source": "judgement: placeholder, drawn by the derivation"}
    raw["effect"]["log_hazard_ratio"] = {"value": 0.0, "source": "judgement: placeholder, drawn by the derivation"}
    return validate(raw)


def prior_predictive(prior: Scenario, observed: Scenario, draws: int, seed: int):
    """Prior draws of (strands, p30, θ) and the treated care proportion each implies."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0x2012,))))
    population, effect = _mixture(prior, POPULATION_KEY), _mixture(prior, EFFECT_KEY)
    k, p30 = _strands(population, rng.random((draws, population.n_uniforms)))
    j, theta = _strands(effect, rng.random((draws, effect.n_uniforms)))
    care = np.empty(draws)
    chunk = observed.simulation.chunk_size
    for index, start in enumerate(range(0, draws, chunk)):
        rows = slice(start, min(start + chunk, draws))
        stream = chunk_seed(seed, index)
        inputs = sample_inputs(observed, stream, rows.stop - rows.start)
        inputs[POPULATION_KEY], inputs[EFFECT_KEY] = p30[rows], theta[rows]
        outcomes, monthly = simulate_outcomes(observed, inputs, stream)
        columns = draw_columns(observed, inputs, settle(observed, inputs, outcomes, monthly), monthly)
        care[rows] = columns["care_proportion_treated"]
    return k, p30, j, theta, care


def likelihood(care: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Weight of each draw: the kernel on Essex's 10.8% times START's normal likelihood."""
    essex = np.exp(-0.5 * ((care - PUBLISHED_CARE_PROPORTION) / KERNEL_WIDTH) ** 2)
    spread = np.hypot(START_SE, HETEROGENEITY)
    start = np.exp(-0.5 * ((START_LOG_ODDS_RATIO - theta) / spread) ** 2) / spread
    return np.where(np.isnan(care), 0.0, essex * start)


def weighted_moments(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    total = weights.sum()
    mean = float((weights * values).sum() / total)
    return mean, float(np.sqrt((weights * (values - mean) ** 2).sum() / total))


def weighted_spearman(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """Weighted Pearson correlation of the weighted mid-ranks (each value's weighted CDF)."""

    def midranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        cumulative = np.cumsum(weights[order])
        ranks = np.empty_like(v)
        ranks[order] = (cumulative - weights[order] / 2) / cumulative[-1]
        return ranks

    rx, ry = midranks(x), midranks(y)
    mx, sx = weighted_moments(rx, weights)
    my, sy = weighted_moments(ry, weights)
    return float((weights * (rx - mx) * (ry - my)).sum() / weights.sum() / (sx * sy))


def _summarise(labels: list[str], prior_weights, strand: np.ndarray, values: np.ndarray,
               weights: np.ndarray) -> list[Strand]:
    total = weights.sum()
    out = []
    for index, (label, prior_weight) in enumerate(zip(labels, prior_weights)):
        rows = strand == index
        w = weights[rows]
        posterior = float(w.sum() / total)
        mean, sd = weighted_moments(values[rows], w) if w.sum() > 0 else (float("nan"), float("nan"))
        ess = float(w.sum() ** 2 / (w**2).sum()) if w.sum() > 0 else 0.0
        out.append(Strand(label, float(prior_weight), int(rows.sum()), posterior, ess, mean, sd))
    return out


def rounded_weights(weights: list[float]) -> list[float]:
    """Weights to 3 decimals summing to exactly 1 (the largest absorbs the rounding)."""
    kept = [round(w, 3) for w in weights]
    largest = int(np.argmax(kept))
    kept[largest] = round(1.0 - sum(w for i, w in enumerate(kept) if i != largest), 3)
    return kept


def beta_by_moments(mean: float, sd: float) -> tuple[float, float]:
    """Beta(a, b) with this mean and sd, to 2 decimals: ``a + b = mean(1 − mean)/sd² − 1``."""
    concentration = mean * (1.0 - mean) / sd**2 - 1.0
    return round(mean * concentration, 2), round((1.0 - mean) * concentration, 2)


def strand_labels(mixture) -> list[str]:
    return [component.source or f"strand {i + 1}" for i, component in enumerate(mixture.components)]


def derive(draws: int = DRAWS, seed: int = SEED) -> Derivation:
    """Condition ``essex-2012``'s priors on Essex's 10.8% and START (module docstring)."""
    prior = load_scenario(bundled_scenario_path(PRIOR_SCENARIO))
    k, p30, j, theta, care = prior_predictive(prior, observation_scenario(), draws, seed)
    weights = likelihood(care, theta)
    population, effect = _mixture(prior, POPULATION_KEY), _mixture(prior, EFFECT_KEY)
    pop = _summarise(strand_labels(population), population.weights, k, p30, weights)
    eff = _summarise(strand_labels(effect), effect.weights, j, theta, weights)
    pop_kept = [s for s in pop if round(s.posterior_weight, 3) >= MIN_WEIGHT]
    eff_kept = [s for s in eff if round(s.posterior_weight, 3) >= MIN_WEIGHT]
    # Strands so light they round to nothing are dropped (said in the derivation's printout).
    return Derivation(
        population=pop, effect=eff,
        beta=[beta_by_moments(s.mean, s.sd) for s in pop_kept],
        normal=[(round(s.mean, 3), round(s.sd, 3)) for s in eff_kept],
        population_weights=rounded_weights([s.posterior_weight for s in pop_kept]),
        effect_weights=rounded_weights([s.posterior_weight for s in eff_kept]),
        rank_correlation=round(weighted_spearman(p30, theta, weights), 2),
        effective_draws=float(weights.sum() ** 2 / (weights**2).sum()),
        draws=draws, seed=seed, prior_care_proportion=care, weights=weights, p30=p30, log_hazard_ratio=theta,
        population_strand=k, effect_strand=j,
    )
