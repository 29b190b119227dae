"""Simulation-based calibration of ``simsib update`` (slow: about a minute on 2 cores).

100 synthetic truths drawn from the Essex prior, each observed to date at the end of a random
quarter between 4 and 16 (referrals, starts, completions, care proportion, payments; measured
with the update's observation model) and updated from a fresh 300-draw prior with 10 paths per
draw.  Stated test: for each of six key inputs and the total outcome payments, the
Kolmogorov–Smirnov test of the posterior PITs against U(0, 1) must give p ≥ 0.001 (Bonferroni:
a family-wise false-alarm rate below 1% over the seven); the posterior 90% interval of total
payments must hold the truth in 90% ± 2 standard errors of the cases (84%-96% for 100).  A
negative control shows the test can fail: an overconfident posterior (weights to the fourth
power) must be rejected at p < 0.001 for at least three of the quantities.

Measured (``python benchmarks/calibration.py``): posterior p-values 0.13-0.99, coverage 94%;
control p-values 1e-7 to 0.0013.
"""

from __future__ import annotations

import numpy as np
import pytest

from simsib.analysis.calibration import calibrate, coverage, uniformity
from simsib.scenario.loader import load_scenario

pytestmark = pytest.mark.slow

TRUTHS = 100
SETTINGS = dict(draws=300, paths=10, seed=2024, max_rounds=4, workers=2)


@pytest.fixture(scope="module")
def calibration():
    return calibrate(load_scenario(), TRUTHS, **SETTINGS)


def test_posterior_ranks_are_uniform(calibration):
    p_values = {q: uniformity(calibration.posterior_pit[q]) for q in calibration.quantities}
    assert min(p_values.values()) >= 0.001, p_values


def test_payment_intervals_cover_90_percent(calibration):
    share, se = coverage(calibration.covered)
    assert abs(share - 0.9) <= 2 * se, (share, se)


def test_an_overconfident_posterior_fails_the_same_test(calibration):
    p_values = np.array([uniformity(calibration.control_pit[q]) for q in calibration.quantities])
    assert (p_values < 0.001).sum() >= 3, p_values
