"""The bundled scenario library: valid, evidence-cited, and sane relative to each other."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

import simsib
from simsib.backtest import TARGETS, run_backtest
from simsib.loader import SCENARIO_DIR, load_scenario

BUNDLED = sorted(SCENARIO_DIR.glob("*.toml"))
REQUIRED = {"essex", "essex-launch", "essex-realised", "essex-no-effect", "start-evidence",
            "broad-referrals", "norfolk"}

# Plain values that are report markers or settings, not model parameters (cited in comments).
UNCITED_OK = {"meta", "simulation", "extends", "correlations.rank", "contract.netting",
              "spv.target_return", "contract.mechanisms.type", "contract.mechanisms.repeat",
              "contract.mechanisms.on", "stress"}


def test_every_required_scenario_is_bundled_and_valid():
    names = {p.stem for p in BUNDLED}
    assert REQUIRED <= names
    for path in BUNDLED:
        scenario = load_scenario(path)
        assert scenario.meta.name == path.stem


def _uncited_values(node, prefix=""):
    """Dotted keys of numbers not inside a table that carries a `source`."""
    if isinstance(node, dict):
        if "source" in node:
            return []
        found = []
        for key, value in node.items():
            found += _uncited_values(value, f"{prefix}.{key}" if prefix else key)
        return found
    if isinstance(node, list):
        return [k for item in node for k in _uncited_values(item, prefix)]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return [prefix]
    return []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_default_cites_evidence_or_judgement(path: Path):
    data = tomllib.loads(path.read_text())
    uncited = [k for k in _uncited_values(data) if k.split(".")[0] not in UNCITED_OK and k not in UNCITED_OK
               and ".".join(k.split(".")[:2]) not in UNCITED_OK]
    assert uncited == [], f"{path.name}: values without a source: {uncited}"


def _draws(name: str, n: int = 600, seed: int = 5):
    return simsib.simulate(load_scenario(SCENARIO_DIR / f"{name}.toml"), draws=n, seed=seed).draws


def _se_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))


def test_broad_referrals_mean_more_deadweight_and_less_council_benefit_than_essex():
    essex, broad = _draws("essex"), _draws("broad-referrals")
    dw_e, dw_b = essex.deadweight_share.dropna().to_numpy(), broad.deadweight_share.dropna().to_numpy()
    assert dw_b.mean() - dw_e.mean() > 4 * _se_diff(dw_b, dw_e)
    assert dw_b.mean() > 0.9  # "far higher": nearly everything paid for would have happened anyway
    nb_e, nb_b = essex.net_benefit.to_numpy(), broad.net_benefit.to_numpy()
    assert nb_e.mean() - nb_b.mean() > 4 * _se_diff(nb_e, nb_b)


def test_start_evidence_gives_investors_a_far_higher_probability_of_loss_than_essex():
    essex, start = _draws("essex"), _draws("start-evidence")
    loss_e = (essex.moic_drawn < 1).to_numpy(float)
    loss_s = (start.moic_drawn < 1).to_numpy(float)
    assert loss_s.mean() - loss_e.mean() > 4 * _se_diff(loss_s, loss_e)
    assert loss_s.mean() > 0.9


def test_no_effect_scenario_has_identical_treated_and_counterfactual_care():
    draws = _draws("essex-no-effect", n=300)
    np.testing.assert_array_equal(draws.care_proportion_treated, draws.care_proportion_counterfactual)
    assert (draws.care_days_saved_true == 0).all()


@pytest.mark.slow
def test_backtest_every_published_figure_inside_its_90_percent_interval():
    table = run_backtest(draws=2000, seed=20190331)
    assert len(table) == len(TARGETS)
    outside = table.loc[~table.inside, ["figure", "published", "p05", "p95"]]
    assert outside.empty, f"published figures outside the model's 90% interval:\n{outside}"
