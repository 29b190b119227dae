"""Variants of one scenario on common random numbers, reusing simulated care paths where allowed.

Sweeps, stress tests and mechanism comparisons all run several *variants* of a base scenario
(the base with some dotted keys overridden) on the same seed and the same chunks.  Every input
is drawn from its own stream keyed by name (:func:`simsib.model.streams.input_stream`), so a variant
shares every draw of every input it did not change: differences between variants are the
effect of the change, not noise.

Simulating young people and their care paths is the expensive stage.  A variant that differs
from the base only in money keys -- prices, caps, costs, fees, capital -- has exactly the base's
care paths, so they are simulated once per chunk and settled for each such variant.  Whether a
variant may reuse them is decided by comparing *everything else* (:func:`model_fingerprint`):
the referrals, population, effect and care-path sections, the tracking window, the measurement
end, the number of quarters and cohorts, the correlations, the [[cohorts]] and what the mechanisms
need measured (milestone lengths, point-in-time days, offsets).  A
key not known to be money-only therefore always leads to a fresh simulation, which is slower
but never wrong; and each chunk checks again that the model's inputs really are identical.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from simsib.contract.mechanisms import model_needs
from simsib.model.inputs import DrawInputs, sample_inputs
from simsib.model.streams import chunk_seed, input_stream
from simsib.run.execution import map_processes
from simsib.run.pipeline import draw_columns, run_chunk, settle, simulate_outcomes
from simsib.scenario.format import Scenario, all_quantities
from simsib.scenario.variants import NOT_MODEL
from simsib.scenario.variants import under as _under

# Dotted prefixes that only the money stages (payments, waterfall, metrics) read.  Extend only
# with keys that never reach simsib.model.referrals or simsib.model.care_paths; tests/test_sweep.py checks
# that a variant of each reuses care paths *and* matches a fresh simulation exactly.
MONEY_ONLY = (
    "contract.cap",
    "contract.cohort_cap",
    "contract.netting",
    "contract.council_management_cost_per_quarter",
    "contract.target_care_proportion",
    "contract.mechanisms",  # compared through what they need measured instead (model_needs)
    "contract.payers",
    "contract.reviews",  # cut each draw in the settlement; what they can extend is in the fingerprint
    "contract.termination",
    "spv",
    "care.la_foster_weekly_cost",
    "care.ifa_foster_weekly_cost",
    "care.residential_weekly_cost",
    "care.residential_share",
    "care.ifa_share_of_fostering",
    "care.cost_inflation",
    "commissioning",  # read by simsib commission's alternatives only, never by the model
)
def _strip(node: Any, prefix: str = "") -> Any:
    if isinstance(node, dict):
        return {
            k: _strip(v, f"{prefix}.{k}" if prefix else str(k))
            for k, v in node.items()
            if k != "source" and not _under(f"{prefix}.{k}" if prefix else str(k), MONEY_ONLY + NOT_MODEL)
        }
    if isinstance(node, list):
        return [_strip(v, f"{prefix}.{i}") for i, v in enumerate(node)]
    return node


def model_fingerprint(scenario: Scenario) -> dict[str, Any]:
    """Everything the referral and care-path simulation may depend on (money keys and
    citations removed), plus the shape of its results."""
    return {
        "scenario": _strip(scenario.model_dump(mode="json", by_alias=True)),
        "n_quarters": scenario.n_quarters,
        "n_cohorts": scenario.n_cohorts,
        # The model simulates the envelope: every extension a review can grant.
        "extension_months": scenario.extension_months,
    }


def reuses_outcomes(outcome_base: Scenario, variant: Scenario) -> bool:
    """True when ``variant``'s care paths are exactly those simulated for ``outcome_base``.

    ``outcome_base`` may measure more (milestone lengths, point days, offsets) than the variant needs.
    """
    if model_fingerprint(outcome_base) != model_fingerprint(variant):
        return False
    return model_needs(outcome_base).covers(model_needs(variant))


def _model_inputs_equal(a: DrawInputs, b: DrawInputs) -> bool:
    keys = {k for k in (*a, *b) if not _under(k, MONEY_ONLY)}
    return all(k in a and k in b and np.array_equal(a[k], b[k]) for k in keys)


def derive_inputs(
    base: Scenario, base_inputs: DrawInputs, variant: Scenario, chunk: np.random.SeedSequence, n_draws: int
) -> DrawInputs:
    """``sample_inputs(variant, chunk, n_draws)``, drawing only the inputs the variant changed.

    Identical to sampling afresh because each input has its own named stream; when a changed
    input takes part in a rank correlation (which reorders a chunk's draws) it samples afresh.
    """
    before, after = all_quantities(base), all_quantities(variant)
    changed = [k for k, dist in after.items() if k not in before or before[k] != dist]
    correlated = {k for c in (*base.correlations, *variant.correlations) for k in c.between}
    if base.correlations != variant.correlations or correlated.intersection(changed):
        return sample_inputs(variant, chunk, n_draws)
    inputs = {k: base_inputs[k] for k in after if k not in changed}
    for key in changed:
        dist = after[key]
        inputs[key] = (
            np.full(n_draws, float(dist.value)) if dist.is_fixed else dist.sample(input_stream(chunk, key), n_draws)
        )
    return {k: inputs[k] for k in after}


# --- running variants ---------------------------------------------------------------------


@dataclass(frozen=True)
class VariantSet:
    """Variants to run on common random numbers, and what their care paths come from.

    outcome_base : the scenario whose care paths reusing variants share (the base, or the base
        with extra milestone block lengths tracked)
    reuse : per variant, whether it reuses ``outcome_base``'s care paths
    """

    outcome_base: Scenario
    variants: tuple[Scenario, ...]
    reuse: tuple[bool, ...]

    @classmethod
    def of(cls, outcome_base: Scenario, variants: Sequence[Scenario]) -> "VariantSet":
        return cls(outcome_base, tuple(variants), tuple(reuses_outcomes(outcome_base, v) for v in variants))


Columns = dict[str, np.ndarray]


def run_variant_chunk(
    vset: VariantSet, entropy: int, index: int, n_draws: int, columns: Sequence[str] | None = None
) -> list[Columns]:
    """Chunk ``index`` of every variant: per variant, its per-draw columns (all, or ``columns``).

    Each variant's numbers are exactly those of ``run_chunk(variant, entropy, index, n_draws)``.
    """
    chunk = chunk_seed(entropy, index)
    base = vset.outcome_base
    base_inputs: DrawInputs | None = None
    shared = None
    out = []
    for variant, reuse in zip(vset.variants, vset.reuse):
        if reuse:
            if base_inputs is None:
                base_inputs = sample_inputs(base, chunk, n_draws)
            inputs = derive_inputs(base, base_inputs, variant, chunk, n_draws)
            reuse = _model_inputs_equal(base_inputs, inputs)
        if reuse:
            if shared is None:
                shared = simulate_outcomes(base, base_inputs, chunk)
            outcomes, monthly = shared
            drawn = draw_columns(variant, inputs, settle(variant, inputs, outcomes, monthly), monthly)
        else:
            drawn = run_chunk(variant, entropy, index, n_draws, quarterly=False).draws
        out.append({c: drawn[c] for c in columns} if columns is not None else drawn)
    return out


def chunk_sizes(draws: int, chunk_size: int) -> list[tuple[int, int]]:
    """(index, draws in chunk), the same split as :class:`simsib.run.execution.RunPlan`."""
    full, rest = divmod(draws, chunk_size)
    return list(enumerate([chunk_size] * full + ([rest] if rest else [])))


def run_variants(
    vset: VariantSet,
    entropy: int,
    draws: int,
    *,
    columns: Sequence[str] | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[Columns]:
    """Run every variant over ``draws`` draws (chunks of the base's ``simulation.chunk_size``).

    Returns per variant a dict column -> (draws,) array, in draw order; the numbers equal
    ``simsib.simulate(variant, draws, seed)`` for the same seed, for any ``workers``.
    """
    plan = chunk_sizes(draws, vset.outcome_base.simulation.chunk_size)
    parts: dict[int, list[Columns]] = {}
    if workers <= 1 or len(plan) <= 1:
        for index, size in plan:
            parts[index] = run_variant_chunk(vset, entropy, index, size, columns)
            if progress:
                progress(size)
    else:
        # The run's own process pool: a dead worker or Ctrl-C ends the sweep promptly.
        calls = [(vset, entropy, i, n, columns) for i, n in plan]
        with closing(map_processes(run_variant_chunk, calls, workers)) as results:
            for position, part in results:
                index, size = plan[position]
                parts[index] = part
                if progress:
                    progress(size)
    ordered = [parts[i] for i, _ in plan]
    return [
        {c: np.concatenate([chunk[v][c] for chunk in ordered]) for c in ordered[0][v]}
        for v in range(len(vset.variants))
    ]


def probe_columns(scenario: Scenario) -> list[str]:
    """Names of the per-draw columns a run of ``scenario`` produces (from a two-draw chunk)."""
    return list(run_chunk(scenario, 0, 0, 2, quarterly=False).draws)
