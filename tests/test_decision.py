"""The figures a decision turns on, in summary.json: graded bad case, deadweight in £, budget by year."""

from __future__ import annotations

import numpy as np
import pytest

import simsib
from simsib.run.decision import median, ratio_of_means
from simsib.run.summary import standard_error

DRAWS = 1000


@pytest.fixture(scope="module")
def result():
    return simsib.simulate(simsib.load_scenario(), draws=DRAWS, seed=7)


def test_payments_by_financial_year_add_up_to_the_total(result):
    years = result.summary_dict["council"]["payments_by_year"]
    assert [row["year"] for row in years][:2] == ["2013/14", "2014/15"] and years[-1]["year"] == "total"
    assert {"year", "mean", "se", "p05", "p50", "p95", "n"} <= set(years[0])
    # The quarterly sample holds every draw of this run: the yearly means add up to the total,
    # which is the mean of the outcome payments.
    total = result.summary_dict["council"]["outcome_payments"]["mean"]
    assert sum(row["mean"] for row in years[:-1]) == pytest.approx(total, rel=1e-12)
    assert years[-1]["mean"] == pytest.approx(total, rel=1e-12)
    for row in years:
        assert row["p05"] <= row["p50"] <= row["p95"] and row["n"] == DRAWS
        assert row["se"] is not None and (row["se"] > 0 or row["p95"] == 0)


def test_investor_bad_case_is_graded(result):
    investor, draws = result.summary_dict["investor"], result.draws
    irr = draws["irr"].to_numpy()
    assert investor["irr_median"]["value"] == pytest.approx(np.nanmedian(irr))
    moic = draws["moic_committed"].to_numpy()
    assert investor["moic_committed"]["p10"] == pytest.approx(np.percentile(moic, 10))
    # Worse tails average lower multiples: ES05 ≤ ES10 ≤ ES25.
    assert investor["es05"]["value"] <= investor["es10"]["value"] <= investor["es25"]["value"]
    assert investor["es25"]["value"] == pytest.approx(np.sort(moic)[: DRAWS // 4].mean())
    assert investor["prob_moic_below_half"]["value"] == pytest.approx((draws["moic_drawn"] < 0.5).mean())
    reference = investor["prob_reference"]
    assert reference["reference"] == 1.45 and reference["value"] == pytest.approx((moic >= 1.45).mean())
    assert reference["se"] > 0


def test_deadweight_counts_every_draw(result):
    council, draws = result.summary_dict["council"], result.draws
    assert draws["deadweight_share"].notna().all()  # Essex pays for care days only
    assert council["deadweight_share"]["n"] == DRAWS and council["deadweight_paid"]["n"] == DRAWS
    # Where the contract counted fewer than no care days saved but paid, every pound was deadweight.
    unbacked = (draws["care_days_saved_contract"] < 0) & (draws["outcome_payments"] > 0)
    assert (draws.loc[unbacked, "deadweight_paid"] == draws.loc[unbacked, "outcome_payments"]).all()
    pooled = council["deadweight_share_of_payments"]
    assert pooled["value"] == pytest.approx(draws["deadweight_paid"].sum() / draws["outcome_payments"].sum())
    assert 0 < pooled["se"] < pooled["value"]


def test_median_standard_error_matches_the_spread_over_replications():
    # The median of n normals has sd sqrt(pi/2)/sqrt(n); over R replications the sd of the
    # estimated medians has relative error about 1/sqrt(2(R-1)) = 7% at R = 100: 4 of those.
    rng = np.random.default_rng(5)
    n, r = 2001, 100
    samples = rng.normal(size=(r, n))
    spread = np.median(samples, axis=1).std(ddof=1)
    ses = np.array([median(s)["se"] for s in samples])
    assert abs(ses.mean() / spread - 1) < 4 / np.sqrt(2 * (r - 1))
    groups = np.repeat(np.arange(20), n // 20 + 1)[:n]
    assert median(samples[0], groups)["se"] > 0


def test_ratio_of_means_standard_error_matches_the_spread_over_replications():
    rng = np.random.default_rng(6)
    n, r = 1000, 200
    ratios, ses = [], []
    for _ in range(r):
        paid = rng.exponential(1.0, n)
        dead = paid * rng.uniform(0, 1, n)
        found = ratio_of_means(dead, paid, None, standard_error)
        ratios.append(found["value"])
        ses.append(found["se"])
    assert abs(np.mean(ses) / np.std(ratios, ddof=1) - 1) < 4 / np.sqrt(2 * (r - 1))


def test_deadweight_is_undefined_for_a_contract_that_pays_for_no_care_days():
    from simsib.report.executive import summary_sentences
    from simsib.scenario.loader import bundled_scenario_path, load_scenario

    result = simsib.simulate(load_scenario(bundled_scenario_path("peterborough")), draws=200, seed=1)
    council = result.summary_dict["council"]
    assert result.draws["deadweight_share"].isna().all()  # it pays for fewer reconvictions, not care days
    assert council["deadweight_share"]["mean"] is None and council["deadweight_share_of_payments"]["value"] is None
    # Not "nothing was paid" (it pays £m): the figure does not apply, and no headline shows it.
    assert council["deadweight_share_of_payments"]["reason"].startswith("not applicable: the contract counts no care")
    assert council["outcome_payments"]["mean"] > 0
    # No cap either: P(cap reached) does not apply (not 0%), and the cap sentence is not said.
    assert council["prob_cap_reached"]["value"] is None and "no cap" in council["prob_cap_reached"]["reason"]
    from simsib.report.headlines import headlines
    keys = {row[2] for row in headlines(result.summary_dict)}
    assert "deadweight_share_of_payments" not in keys and "prob_cap_reached" not in keys
    # Its reconvictions carry no cost (judgement: the register has none), so true savings are 0
    # by construction: no sentence compares payments with them.
    text = " ".join(summary_sentences(result.summary_dict))
    assert "deadweight" not in text and "pays more than the true savings" not in text
    assert "puts no value on the outcomes" in text
