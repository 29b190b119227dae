"""Why one simulated path per draw is not enough: the path's own noise in the log-likelihood.

For ``essex-2012`` and Essex's eight published figures (``essex-year1`` and ``essex-end``), takes
the prior draws whose single path fits best, simulates each of their inputs along ``--paths``
fresh paths, and prints the standard deviation of the measurement model's log-likelihood across
those paths: the noise a one-path weight carries at fixed inputs.

    python benchmarks/path_noise.py [--draws 4000] [--paths 500] [--top 3]
"""

from __future__ import annotations

import argparse

import numpy as np

from simsib.analysis.likelihood import RowModel, log_likelihood
from simsib.analysis.observations import read_observations
from simsib.analysis.observed import simulated_values
from simsib.analysis.update_chunks import Batch, UpdateSpec, batch_chunk
from simsib.analysis.weights import effective_sample_size, normalise
from simsib.model.streams import update_seed
from simsib.run.observables import observable_series, simulate_history
from simsib.run.pipeline import settle
from simsib.scenario.format import all_quantities
from simsib.scenario.loader import bundled_scenario_path, load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--paths", type=int, default=500)
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args()

    scenario = load_scenario(bundled_scenario_path("essex-2012"))
    observations = read_observations("essex-year1", scenario).and_then(read_observations("essex-end", scenario))
    model = RowModel.of(observations)
    spec = UpdateSpec(scenario, 1, 1000, observations)
    prior = [batch_chunk(spec, Batch(i, 1000), 1) for i in range(args.draws // 1000)]
    loglik = np.concatenate([log_likelihood(model, c.simulated[:, 0]).sum(axis=1) for c in prior])
    draws = {k: np.concatenate([c.draws[k] for c in prior]) for k in prior[0].draws}
    print(f"one path per draw: effective sample size {effective_sample_size(normalise(loglik)[0]):.1f} "
          f"of {args.draws:,}")
    for rank, i in enumerate(np.argsort(-loglik)[:args.top]):
        inputs = {key: np.full(args.paths, draws[key][i] if key in draws else float(d.value))
                  for key, d in all_quantities(scenario).items()}
        history = simulate_history(scenario, inputs, update_seed(1, rank, 9))
        settlement = settle(scenario, inputs, history.outcomes, history.monthly_starts)
        values = simulated_values(observations, observable_series(scenario, inputs, history, settlement))
        spread = log_likelihood(model, values).sum(axis=1)
        print(f"best draw {rank + 1}: log-likelihood {loglik[i]:.1f} on its own path; over {args.paths} fresh "
              f"paths of its inputs mean {spread.mean():.1f}, sd {spread.std(ddof=1):.1f}")


if __name__ == "__main__":
    main()
