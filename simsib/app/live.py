"""The live view's model: simulated care paths kept in memory, settled again for every money change.

:class:`LiveModel` holds, per chunk of the run, the sampled per-draw inputs and the simulated
outcomes (cohort × quarter sums) of the scenario it last simulated.  A change to the page's
controls becomes dotted-key overrides of the base scenario (exactly what ``--set`` would do):

* if the variant's care paths are those in memory (only money keys changed,
  :func:`simsib.analysis.variants.reuses_outcomes`), each chunk is settled again at once --
  payments, waterfall and metrics on the same paths, so differences between settings are the
  effect of the change, never noise;
* otherwise the variant is simulated afresh, chunk by chunk, reporting progress and stopping at
  the next chunk when cancelled; until it finishes the page keeps the previous numbers.

Either way a chunk's numbers are exactly those of ``simsib run`` with the same scenario, ``--set``
overrides, seed and draws (:func:`simsib.analysis.variants.run_variant_chunk` makes the same
promise, and the tests check it).  Memory: about 22 MB per 1,000 Essex draws.

With ``workers=2`` (what ``simsib app`` uses on two or more cores) a worker process keeps and
settles the second half of the chunks while this process does the first
(:mod:`simsib.app.chunks`): a money change takes about 60% of the time.
"""

from __future__ import annotations

import copy
import multiprocessing
import shlex
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from simsib.analysis.variants import chunk_sizes, reuses_outcomes
from simsib.app.chunks import NeedsSimulation, Paths, RemoteGroup, settle_groups, simulate_groups, split_plan
from simsib.app.controls import Control, controls_for, overrides
from simsib.model.qmc import REPLICATE_COLUMN, replicates_text
from simsib.run.folder import drop_none
from simsib.run.summary import summarise
from simsib.scenario.format import Scenario
from simsib.scenario.loader import apply_override, validate
from simsib.scenario.variants import build_variant, raw_at

__all__ = ["LiveModel", "NeedsSimulation", "Settled", "toml_value"]

Progress = Callable[[int, int], None]  # (draws done, draws in all)


@dataclass(frozen=True)
class Settled:
    """The numbers of one setting of the controls.

    settings : control key -> value, as on the page
    overrides : the dotted-key overrides of the base scenario they amount to
    columns : per-draw column -> (draws,) array, as in draws.parquet
    payments : (draws, n_quarters) £ outcome payments received in each quarter
    summary : as in summary.json (``investor``, ``council``, ``outcomes``, …)
    seconds : time taken to settle (and, after a re-simulation, to simulate)
    """

    scenario: Scenario
    settings: dict[str, Any]
    overrides: dict[str, Any]
    columns: dict[str, np.ndarray]
    payments: np.ndarray
    summary: dict[str, Any]
    seconds: float
    simulated: bool = False


def toml_value(value: Any) -> str:
    """A setting as ``--set`` reads it: ``6000000``, ``0.45``, ``[0.5, 0.3, 0.2]``."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class LiveModel:
    """The state behind the page: base scenario, controls, simulated paths and current numbers.

    Parameters
    ----------
    raw : the resolved base scenario table (``extends`` and the command line's ``--set`` applied)
    file : where it came from, for messages
    scenario_arg : how the command line named it (``essex``, ``my.toml``), for the ``--set`` line
    base_sets : the command line's ``--set`` arguments, repeated in the ``--set`` line
    draws, seed : the run's draws and seed, as ``simsib run --draws --seed``
    """

    def __init__(self, raw: Mapping[str, Any], *, file: str, scenario_arg: str, base_sets: Sequence[str] = (),
                 draws: int | None = None, seed: int = 1, workers: int = 1):
        self.raw = copy.deepcopy(dict(raw))
        self.file = file
        self.scenario_arg = scenario_arg
        self.base_sets = list(base_sets)
        self.base = validate(self.raw, file=file)
        self.draws = int(draws if draws is not None else self.base.simulation.draws)
        self.seed = int(seed)
        self.controls: list[Control] = controls_for(self.raw, self.base)
        # One lock for everything that reads or replaces the kept paths, here and in the workers
        # (their pipes carry one request at a time).
        self._lock = threading.Lock()
        self._paths: Paths | None = None
        groups = split_plan(chunk_sizes(self.draws, self.base.simulation.chunk_size), workers)
        self._local_plan = groups[0]
        self._cancel = multiprocessing.get_context("spawn").Event()
        self._remotes = [RemoteGroup(self.seed, group, self._cancel) for group in groups[1:]]
        self.current: Settled | None = None
        self.reference: Settled | None = None  # the scenario's own settings: what changes are measured from

    def close(self) -> None:
        """Stop the worker processes (the view cannot be used afterwards)."""
        for remote in self._remotes:
            remote.close()
        self._remotes = []

    # --- settings -> scenario -------------------------------------------------------------

    def base_settings(self) -> dict[str, Any]:
        return {c.key: c.value for c in self.controls}

    def variant(self, settings: Mapping[str, Any]) -> tuple[dict[str, Any], Scenario]:
        """(overrides, validated scenario) for the page's settings; raises ScenarioError."""
        changes = overrides(self.controls, {**self.base_settings(), **settings}, self.raw)
        return changes, build_variant(self.raw, changes, file=self.file)

    def needs_simulation(self, scenario: Scenario) -> bool:
        paths = self._paths
        return paths is None or not reuses_outcomes(paths[0], scenario)

    # --- computing ------------------------------------------------------------------------

    def _settle(self, scenario: Scenario, settings: Mapping[str, Any], changes: dict[str, Any],
                started: float) -> Settled:
        """Every chunk settled for ``scenario`` on the kept paths, and the run's summary."""
        columns, payments = settle_groups(self._paths, scenario, self._remotes)
        summary = summarise(columns.__getitem__, self.draws, list(columns), groups=columns.get(REPLICATE_COLUMN),
                            replicates_text=replicates_text(scenario))
        return Settled(scenario, dict(settings), changes, columns, payments, summary, time.perf_counter() - started)

    def start(self, progress: Progress | None = None) -> Settled:
        """Simulate the base scenario and settle it: the page's first numbers."""
        result = self.simulate(self.base_settings(), progress)
        assert result is not None  # nothing can cancel it
        self.reference = result
        return result

    def update(self, settings: Mapping[str, Any]) -> Settled:
        """Settle a money change on the paths in memory; raises :class:`NeedsSimulation` when the
        change reaches the model, ScenarioError when the settings are invalid."""
        started = time.perf_counter()
        settings = {**self.base_settings(), **settings}
        changes, scenario = self.variant(settings)
        with self._lock:
            if self.needs_simulation(scenario):
                raise NeedsSimulation
            self.current = self._settle(scenario, settings, changes, started)
            return self.current

    def simulate(self, settings: Mapping[str, Any], progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Settled | None:
        """Simulate the settings' scenario afresh, chunk by chunk in every group at once, and settle
        it; None (the kept paths and numbers unchanged) if ``cancelled()`` turns true."""
        started = time.perf_counter()
        settings = {**self.base_settings(), **settings}
        changes, scenario = self.variant(settings)
        done = 0

        def advance(draws: int) -> None:
            nonlocal done
            done += draws
            if progress is not None:
                progress(done, self.draws)

        with self._lock:
            local = simulate_groups(scenario, self.seed, self._local_plan, self._remotes, self._cancel, advance,
                                    cancelled or (lambda: False))
            if local is None:
                return None
            self._paths = (scenario, local)
            self.current = replace(self._settle(scenario, settings, changes, started), simulated=True)
            return self.current

    # --- reproducing the view ---------------------------------------------------------------

    def set_line(self, changes: Mapping[str, Any]) -> str:
        """The ``simsib run`` command that gives the same numbers as the view."""
        words = ["simsib", "run", self.scenario_arg, "--draws", str(self.draws), "--seed", str(self.seed)]
        for text in self.base_sets:
            words += ["--set", text]
        for key, value in changes.items():
            words += ["--set", f"{key}={toml_value(value)}"]
        return shlex.join(words)

    def scenario_toml(self, settled: Settled, filename: str = "scenario.toml") -> str:
        """The resolved scenario of a view, as a file ``filename`` that ``simsib run FILE --seed S``
        reproduces the view from."""
        import tomli_w

        data = copy.deepcopy(self.raw)
        for key, value in settled.overrides.items():
            apply_override(data, key.split("."), copy.deepcopy(value))
        apply_override(data, ["simulation", "draws"], self.draws)
        validate(data, file=self.file)  # what is offered must load
        lines = [f"# The scenario of a simsib app view: {self.base.meta.name} ({Path(self.file).name}"
                 + (", with --set " + ", ".join(self.base_sets) if self.base_sets else "") + ").",
                 "# Rerun it with", f"#   simsib run {filename} --seed {self.seed}",
                 f"# for the view's numbers ({self.draws:,} draws)."]
        if settled.overrides:
            lines.append("# Changed in the app (each replaces the scenario's value and its source):")
            for key, value in settled.overrides.items():
                before = raw_at(self.raw, key)
                lines.append(f"#   {key} = {toml_value(value)}  (was {_shown(before)})")
        return "\n".join(lines) + "\n\n" + tomli_w.dumps(drop_none(data))


def _shown(entry: Any) -> str:
    if isinstance(entry, dict):
        value = entry.get("value", "a distribution")
        source = entry.get("source")
        return f"{toml_value(value)}, {source}" if source else toml_value(value)
    return toml_value(entry) if entry is not None else "not set"
