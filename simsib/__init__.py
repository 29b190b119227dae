"""simsib: Monte Carlo investment-risk simulation for social impact bonds.

>>> import simsib
>>> scenario = simsib.load_scenario()          # the bundled Essex scenario
>>> result = simsib.simulate(scenario, draws=500, seed=42)
>>> table = result.summary()                    # doctest: +SKIP

The public names are imported on first use, so ``import simsib`` (and ``simsib --version``)
stays instant.
"""

from __future__ import annotations

__version__ = "0.1.0"

# name -> module that defines it; resolved by __getattr__ on first use.
_PUBLIC = {
    "ScenarioError": "simsib.scenario.errors",
    "load_scenario": "simsib.scenario.loader",
    "simulate": "simsib.run.api",
    "SimulationResult": "simsib.run.api",
    "update": "simsib.analysis.update",
    "UpdateResult": "simsib.analysis.update",
    "read_observations": "simsib.analysis.observations",
}

__all__ = ["ScenarioError", "SimulationResult", "UpdateResult", "__version__", "load_scenario", "read_observations",
           "simulate", "update"]


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'simsib' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
