"""Variants of one scenario on common random numbers, reusing simulated care paths where allowed.

Sweeps, stress tests and mechanism comparisons all run several *variants* of a base scenario
(the base with some dotted keys overridden) on the same seed and the same chunks.  Every input
is drawn from its own stream keyed by name (:func:`simsib.streams.input_stream`), so a variant
shares every draw of every input it did not change: differences between variants are the
effect of the change, not noise.

Simulating young people and their care paths is the expensive stage.  A variant that differs
from the base only in money keys -- prices, caps, costs, fees, capital -- has exactly the base's
care paths, so they are simulated once per chunk and settled for each such variant.  Whether a
variant may reuse them is decided by comparing *everything else* (:func:`model_fingerprint`):
the referrals, population, effect and care-path sections, the tracking window, the measurement
end, the number of quarters and cohorts, the correlations and the milestone block lengths.  A
key not known to be money-only therefore always leads to a fresh simulation, which is slower
but never wrong; and each chunk checks again that the model's inputs really are identical.
"""

from __future__ import annotations

import copy
import difflib
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from simsib.errors import Problem, ScenarioError, did_you_mean
from simsib.execution import map_processes
from simsib.loader import apply_override, validate
from simsib.payments import milestone_needs
from simsib.pipeline import draw_columns, run_chunk, settle, simulate_outcomes
from simsib.sampling import DrawInputs, sample_inputs
from simsib.scenario import Scenario, all_quantities
from simsib.streams import chunk_seed, input_stream

# Dotted prefixes that only the money stages (payments, waterfall, metrics) read.  Extend only
# with keys that never reach simsib.referrals or simsib.carepaths; tests/test_sweep.py checks
# that a variant of each reuses care paths *and* matches a fresh simulation exactly.
MONEY_ONLY = (
    "contract.cap",
    "contract.cohort_cap",
    "contract.netting",
    "contract.council_management_cost_per_quarter",
    "contract.target_care_proportion",
    "contract.mechanisms",  # compared through their milestone block lengths instead
    "spv",
    "care.la_foster_weekly_cost",
    "care.ifa_foster_weekly_cost",
    "care.residential_weekly_cost",
    "care.residential_share",
    "care.ifa_share_of_fostering",
)
# Sections that are not part of the model at all (and may not be varied).
NOT_MODEL = ("meta", "simulation", "stress")


def _under(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


# --- keys and variants --------------------------------------------------------------------


def scenario_keys(scenario: Scenario) -> list[str]:
    """Every dotted key a variant may set: each table and value of the validated scenario
    (defaults included), as spelt in scenario files; not ``meta``, ``simulation`` or ``stress``."""
    keys: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if prefix:
            keys.append(prefix)
        if isinstance(node, dict):
            for name, child in node.items():
                walk(child, f"{prefix}.{name}" if prefix else str(name))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{prefix}.{i}")

    dump = scenario.model_dump(by_alias=True)
    for section in NOT_MODEL:
        dump.pop(section, None)
    walk(dump, "")
    return keys


def check_keys(scenario: Scenario, keys: Iterable[str], where: str, file: str | None = None) -> None:
    """Raise ScenarioError naming every key the scenario does not have, with close names."""
    known = scenario_keys(scenario)
    known_set = set(known)
    suggestible = [k for k in known if not k.endswith((".source", ".dist"))]
    problems = []
    for key in keys:
        if key in known_set:
            continue
        if _under(key, NOT_MODEL):
            problems.append(Problem(key=key, message=f"{where}: '{key.split('.')[0]}' settings cannot be varied"))
            continue
        close = difflib.get_close_matches(key, suggestible, n=4, cutoff=0.6)
        message = f"{where}: the scenario has no key '{key}'"
        if len(close) > 1:
            message += f" (close names: {', '.join(close[1:])})"
        problems.append(Problem(key=key, message=message, suggestion=close[0] if close else None))
    if problems:
        raise ScenarioError(problems, file=file)


def build_variant(raw: Mapping[str, Any], overrides: Mapping[str, Any], file: str | None = None) -> Scenario:
    """The base table with ``{dotted key: value}`` overrides applied, validated.

    A value replaces the whole entry at its key (a number replaces a distribution table).
    """
    data = copy.deepcopy(dict(raw))
    data.pop("stress", None)  # a variant is a case of its own, not a source of further cases
    for key, value in overrides.items():
        apply_override(data, key.split("."), copy.deepcopy(value))
    return validate(data, file=file)


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
    }


def reuses_outcomes(outcome_base: Scenario, variant: Scenario) -> bool:
    """True when ``variant``'s care paths are exactly those simulated for ``outcome_base``.

    ``outcome_base`` may track more milestone block lengths than the variant needs.
    """
    if model_fingerprint(outcome_base) != model_fingerprint(variant):
        return False
    have, need = milestone_needs(outcome_base), milestone_needs(variant)
    return set(need[0]) <= set(have[0]) and set(need[1]) <= set(have[1])


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
            drawn = draw_columns(variant, inputs, settle(variant, inputs, outcomes), monthly)
        else:
            drawn = run_chunk(variant, entropy, index, n_draws, quarterly=False).draws
        out.append({c: drawn[c] for c in columns} if columns is not None else drawn)
    return out


def chunk_sizes(draws: int, chunk_size: int) -> list[tuple[int, int]]:
    """(index, draws in chunk), the same split as :class:`simsib.execution.RunPlan`."""
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


# --- what to measure on variants ----------------------------------------------------------

MEDIAN_Z = 1.959963984540054  # the order statistics n/2 ± z·√n/2 bound a 95% interval for the median


@dataclass(frozen=True)
class Metric:
    """A summary figure of per-draw columns.

    kind : ``mean`` (over draws where defined), ``prob`` (share of draws where an event holds)
        or ``median`` (over draws where defined)
    unit : how to show it: ``money``, ``percent``, ``multiple`` or ``number``
    values : columns -> (n,) float per-draw values (NaN where undefined; 0/1 for ``prob``)
    """

    name: str
    label: str
    kind: str
    unit: str
    columns: tuple[str, ...]
    values: Callable[[Mapping[str, np.ndarray]], np.ndarray]


def _column_metric(name: str, column: str, label: str, unit: str, kind: str = "mean") -> Metric:
    return Metric(name, label, kind, unit, (column,), lambda c: np.asarray(c[column], dtype=float))


def _event_metric(name: str, label: str, columns: tuple[str, ...], event: Callable) -> Metric:
    return Metric(name, label, "prob", "percent", columns, lambda c: np.asarray(event(c), dtype=float))


def _lost(c: Mapping[str, np.ndarray], below: float) -> np.ndarray:
    # As in simsib.summary, an undefined MOIC (nothing drawn) counts as 0, so figures agree.
    return np.nan_to_num(c["moic_drawn"], nan=0.0) < below


METRICS: dict[str, Metric] = {m.name: m for m in (
    _column_metric("outcome_payments", "outcome_payments", "Council expected payment", "money"),
    _event_metric("prob_cap_reached", "P(cap reached)", ("cap_reached",), lambda c: c["cap_reached"]),
    _event_metric("prob_loss", "Investors' P(loss)", ("moic_drawn",), lambda c: _lost(c, 1.0)),
    _event_metric("prob_total_loss", "Investors' P(total loss)", ("moic_drawn",), lambda c: _lost(c, 0.1)),
    _column_metric("median_irr", "irr", "Median IRR", "percent", kind="median"),
    _column_metric("irr", "irr", "Mean IRR (where defined)", "percent"),
    _column_metric("moic_committed", "moic_committed", "MOIC on committed capital", "multiple"),
    _column_metric("moic_drawn", "moic_drawn", "MOIC on drawn capital", "multiple"),
    _column_metric("capital_drawn", "capital_drawn", "Capital drawn", "money"),
    _column_metric("true_savings", "true_savings", "True savings (care avoided)", "money"),
    _event_metric("prob_pays_more_than_saved", "Council P(pays more than saved)",
                  ("outcome_payments", "true_savings"), lambda c: c["outcome_payments"] > c["true_savings"]),
    _column_metric("deadweight_share", "deadweight_share", "Deadweight share of paid days", "percent"),
    _column_metric("net_benefit", "net_benefit", "Council net benefit", "money"),
    _column_metric("young_people_started", "young_people_started", "Young people started", "number"),
    _column_metric("care_proportion_treated", "care_proportion_treated", "Care proportion, treated", "percent"),
    _column_metric("care_proportion_counterfactual", "care_proportion_counterfactual",
                   "Care proportion, counterfactual", "percent"),
)}


def resolve_metric(name: str, available: Sequence[str]) -> Metric:
    """A named metric, any per-draw column (its mean), or ``median_<column>``.

    Raises ScenarioError naming the metric, with the closest valid name.
    """
    if name in METRICS:
        return METRICS[name]
    if name in available:
        return _column_metric(name, name, name, "number")
    if name.startswith("median_") and name[len("median_"):] in available:
        column = name[len("median_"):]
        return _column_metric(name, column, f"Median {column}", "number", kind="median")
    choices = sorted({*METRICS, *available})
    raise ScenarioError.single(
        "--metric", f"unknown metric '{name}'; use a named metric ({', '.join(METRICS)}), any per-draw "
        "column (its mean) or median_<column>", suggestion=did_you_mean(name, choices),
    )


def estimate(metric: Metric, columns: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """(value, Monte Carlo standard error) of ``metric`` over the draws in ``columns``.

    mean: ``sd/√n`` over defined draws; prob: ``√(p(1−p)/n)``; median: half the width of the
    distribution-free 95% interval between order statistics ``n/2 ± 1.96·√n/2``, over 2·1.96.
    """
    values = metric.values(columns)
    defined = np.sort(values[~np.isnan(values)])
    n = defined.size
    if n == 0:
        return float("nan"), float("nan")
    if metric.kind == "median":
        half = MEDIAN_Z * np.sqrt(n) / 2
        lo, hi = int(max(np.floor(n / 2 - half), 0)), int(min(np.ceil(n / 2 + half), n - 1))
        return float(np.median(defined)), float((defined[hi] - defined[lo]) / (2 * MEDIAN_Z))
    mean = float(defined.mean())
    if metric.kind == "prob":
        return mean, float(np.sqrt(mean * (1.0 - mean) / n))
    return mean, float(defined.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def paired_difference(
    metric: Metric, base: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> tuple[float, float]:
    """(change, paired standard error) of a mean or probability from ``base`` to ``other``.

    Both runs share their random numbers draw by draw, so the change is the mean of per-draw
    differences (over draws where both are defined) and its error ``sd(differences)/√n`` --
    far smaller than the two runs' own errors when the change is small.  A median has no
    per-draw difference; its change is returned with an unpaired error bound.
    """
    a, b = metric.values(base), metric.values(other)
    if metric.kind == "median":
        (va, sa), (vb, sb) = estimate(metric, base), estimate(metric, other)
        return vb - va, float(np.hypot(sa, sb))
    both = ~(np.isnan(a) | np.isnan(b))
    diff = b[both] - a[both]
    if diff.size == 0:
        return float("nan"), float("nan")
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan")
    return float(diff.mean()), se
