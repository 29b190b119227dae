"""simsib: Monte Carlo investment-risk simulation for social impact bonds.

>>> import simsib
>>> scenario = simsib.load_scenario()          # the bundled Essex scenario
>>> result = simsib.simulate(scenario, draws=500, seed=42)
>>> table = result.summary()                    # doctest: +SKIP
"""

__version__ = "0.1.0"

from simsib.errors import ScenarioError  # noqa: E402
from simsib.loader import load_scenario  # noqa: E402
from simsib.runner import SimulationResult, simulate  # noqa: E402

__all__ = ["ScenarioError", "SimulationResult", "__version__", "load_scenario", "simulate"]
