"""The figures a sweep, stress test or comparison reports agree with summary.json's."""

import numpy as np
import pytest

from simsib.analysis.estimates import METRICS, estimate
from simsib.run.summary import EVENTS


@pytest.mark.parametrize("name", ["prob_loss", "prob_total_loss"])
def test_nothing_drawn_is_not_a_loss_in_either(name):
    # MOIC on drawn capital is NaN where nothing was drawn: the investor risked nothing.
    moic = np.array([np.nan, 0.05, 0.5, 1.2, np.nan, 2.0])
    event = next(e for section, key, _, e in EVENTS if key == name)
    summary_share = float(np.mean(event(moic)))
    value, _ = estimate(METRICS[name], {"moic_drawn": moic})
    assert value == summary_share
    assert value == {"prob_loss": 2 / 6, "prob_total_loss": 1 / 6}[name]
