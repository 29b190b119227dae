"""What a run computes: its scenario, entropy, draws and chunks -- and the identity of its results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from simsib import __version__
from simsib.model.streams import new_entropy
from simsib.scenario.format import Scenario
from simsib.scenario.loader import scenario_sha256


@dataclass(frozen=True)
class RunPlan:
    """What to compute: the scenario, the run's entropy and its chunks."""

    scenario: Scenario
    entropy: int
    draws: int
    chunk_size: int
    quarterly_sample: int
    cashflows: bool = False

    @property
    def chunks(self) -> list[tuple[int, int]]:
        """(index, draws in chunk) for every chunk, the last one possibly short."""
        full, rest = divmod(self.draws, self.chunk_size)
        sizes = [self.chunk_size] * full + ([rest] if rest else [])
        return list(enumerate(sizes))

    def wants_quarterly(self, index: int) -> bool:
        """Quarterly series are kept only for the first ``quarterly_sample`` draws."""
        return index * self.chunk_size < self.quarterly_sample


Progress = Callable[[int], None]  # called with the number of draws just completed


def make_plan(
    scenario: Scenario, draws: int | None, seed: int | None, *, cashflows: bool = False
) -> RunPlan:
    """A run plan; an unseeded run gets fresh OS entropy, recorded in its outputs."""
    return RunPlan(
        scenario=scenario,
        entropy=int(seed) if seed is not None else new_entropy(),
        draws=int(draws if draws is not None else scenario.simulation.draws),
        chunk_size=scenario.simulation.chunk_size,
        quarterly_sample=scenario.simulation.quarterly_sample,
        cashflows=cashflows,
    )


def run_header(plan: RunPlan, seed: int | None) -> dict[str, Any]:
    """Identity of a run's results: everything needed to reproduce them, nothing time-dependent."""
    return {
        "scenario": plan.scenario.meta.name,
        "draws": plan.draws,
        "seed": seed,
        "seed_entropy": plan.entropy,
        "chunk_size": plan.chunk_size,
        "simsib_version": __version__,
        "scenario_sha256": scenario_sha256(plan.scenario),
        # What a reader must know before using any figure (the terminal and the report show it).
        **({"caveats": list(plan.scenario.meta.caveats)} if plan.scenario.meta.caveats else {}),
    }
