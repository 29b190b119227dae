"""The executive summary, the cheap driver ranking and the budget by financial year (report wing)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simsib.report.budget import payments_by_year, quarter_years
from simsib.report.drivers import average_ranks, drivers, spearman_se, uncertain_inputs
from simsib.report.executive import summary_sentences
from simsib.report.formatting import money, percent


def test_average_ranks_match_scipy_with_ties():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 20, 500).astype(float)  # many ties, as a money multiple's total losses
    assert np.array_equal(average_ranks(values), stats.rankdata(values))


def test_drivers_give_spearman_rho_strongest_first_and_skip_what_cannot_be_ranked():
    rng = np.random.default_rng(4)
    n = 2000
    strong, weak = rng.normal(size=n), rng.normal(size=n)
    moic = np.maximum(0.0, 1.0 - 0.8 * strong + 0.2 * weak + 0.3 * rng.normal(size=n))  # ties at 0
    moic[:10] = np.nan  # undefined draws are left out
    draws = {"moic_committed": moic, "population.p30_entry": strong, "effect.duration_months": weak,
             "spv.reserve": np.full(n, 5.0), "irr": rng.normal(size=n)}
    assert uncertain_inputs(draws) == ["population.p30_entry", "effect.duration_months"]
    found = drivers(draws)
    assert [d.key for d in found] == ["population.p30_entry", "effect.duration_months"]
    keep = ~np.isnan(moic)
    for d, x in zip(found, (strong, weak)):
        assert d.rho == pytest.approx(stats.spearmanr(x[keep], moic[keep]).statistic, abs=1e-12)
    assert found[0].rho < 0 < found[1].rho
    assert "30 months" in found[0].label  # the plain label, not the key


def test_spearman_standard_error_matches_the_spread_over_replications():
    # sd of rho over R independent samples of n; its own error is sd / sqrt(2(R - 1)).
    rng = np.random.default_rng(5)
    n, replications, target = 200, 400, 0.5
    cov = [[1.0, target], [target, 1.0]]
    rhos = []
    for _ in range(replications):
        x, y = rng.multivariate_normal([0.0, 0.0], cov, size=n).T
        rhos.append(stats.spearmanr(x, y).statistic)
    spread = float(np.std(rhos, ddof=1))
    predicted = spearman_se(float(np.mean(rhos)), n)
    assert abs(predicted - spread) < 4 * spread / np.sqrt(2 * (replications - 1))


def test_quarters_fall_in_english_financial_years():
    labels, year = quarter_years(9, "2013-04")
    assert labels == ["2013/14", "2014/15", "2015/16"]
    assert year.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2]
    # A contract starting in February: its first quarter ends in April, in the next financial year.
    labels, year = quarter_years(5, "2013-02")
    assert labels == ["2013/14", "2014/15"] and year.tolist() == [0, 0, 0, 0, 1]
    # Without a calendar start: contract years.
    labels, year = quarter_years(6)
    assert labels == ["year 1", "year 2"] and year.tolist() == [0, 0, 0, 0, 1, 1]


def test_payments_by_year_sum_each_years_quarters_and_stop_after_the_last_payment():
    payments = np.array([[1.0, 2.0, 3.0, 4.0, 10.0, 0.0, 0.0, 0.0, 0.0],
                         [0.0, 0.0, 0.0, 0.0, 20.0, 0.0, 0.0, 0.0, 0.0],
                         [5.0, 0.0, 0.0, 0.0, 30.0, 0.0, 0.0, 0.0, 0.0]])
    rows = payments_by_year(payments, "2013-04")
    assert [r["year"] for r in rows] == ["2013/14", "2014/15", "total"]
    assert rows[0]["mean"] == pytest.approx(5.0) and rows[0]["p50"] == 5.0  # (10, 0, 5)
    assert rows[1]["mean"] == pytest.approx(20.0) and rows[1]["p05"] == pytest.approx(11.0)
    assert rows[2]["mean"] == pytest.approx(np.mean([20.0, 20.0, 35.0]))


SUMMARY = {
    "investor": {
        "prob_loss": {"value": 0.526, "se": 0.005}, "prob_total_loss": {"value": 0.212, "se": 0.004},
        "es05": {"value": 0.0, "se": 0.0, "var": 0.0, "tail": 0.05}, "irr": {"mean": -0.19, "p50": -0.012},
        "tranches": {"senior": {"prob_loss": {"value": 0.402, "se": 0.005}},
                     "first_loss": {"prob_loss": {"value": 0.607, "se": 0.005}}},
    },
    "council": {
        "outcome_payments": {"mean": 4.71e6, "se": 2.4e4, "p05": 2.53e5, "p95": 7.2e6},
        "prob_cap_reached": {"value": 0.265, "se": 0.004},
        "deadweight_share": {"mean": 0.801, "se": 0.003},
        "prob_pays_more_than_saved": {"value": 0.848, "se": 0.004},
    },
}


def test_sentences_are_generated_from_the_numbers_with_their_errors():
    sentences = summary_sentences(SUMMARY, cap=7.2e6)
    text = " ".join(sentences)
    for figure in ("52.6% ± 0.5%", "21.2% ± 0.4%", "0.00× ± 0.00×", "−1.2% a year", "£4.71m ± £24k",
                   "£253k and £7.20m", "the £7.20m cap is reached in 26.5% ± 0.4%", "80.1% ± 0.3%",
                   "84.8% ± 0.4%", "senior loses money in 40.2% ± 0.5%", "first_loss loses money in 60.7% ± 0.5%"):
        assert figure in text, figure
    assert len(sentences) == 4  # no draws: no reference or driver sentence
    assert "no cap" in " ".join(summary_sentences(SUMMARY, capped=False))


def test_sentences_leave_out_what_a_run_lacks():
    assert summary_sentences({"investor": {"prob_loss": {"value": None, "se": None}}, "council": {}}) == []


def test_reference_and_driver_sentences_from_the_draws():
    rng = np.random.default_rng(6)
    n = 4000
    risk = rng.uniform(size=n)
    moic = np.where(rng.uniform(size=n) < 0.3, 1.5, 0.5) * (1.2 - 0.4 * risk)
    draws = {"moic_committed": moic, "irr": rng.normal(0.02, 0.05, n), "population.p30_entry": risk}
    sentences = summary_sentences(SUMMARY, draws, reference_moic=1.45)
    share = float((moic >= 1.45).mean())
    assert f"reference multiple, 1.45× on committed capital, or more in {percent(share)} ± " \
           f"{percent(np.sqrt(share * (1 - share) / n))} of draws" in " ".join(sentences)
    assert "hinges most on the share of referred young people" in sentences[-1]
    assert "the lower the multiple" in sentences[-1]
    assert "The median IRR is" in sentences[0] and "± " in sentences[0].split("median IRR")[1]


def test_sentences_of_a_real_run_quote_its_summary():
    import simsib

    result = simsib.simulate(simsib.load_scenario(), draws=600, seed=2)
    summary = result.summary_dict
    columns = {c: result.draws[c].to_numpy() for c in result.draws.columns}
    text = " ".join(summary_sentences(summary, columns, reference_moic=1.45, cap=7.2e6))
    assert f"lose money in {percent(summary['investor']['prob_loss']['value'])}" in text
    assert money(summary["council"]["outcome_payments"]["mean"]) in text


def test_sentences_take_their_errors_from_the_replicates_under_qmc():
    """Under QMC sampling (the draws carry a ``replicate`` column) the reference multiple's chance
    and the median IRR get replicate standard errors, shown with two significant digits."""
    from simsib.analysis.estimates import METRICS, estimate
    from simsib.report.executive import reference_sentence
    from simsib.run.summary import replicate_se

    rng = np.random.default_rng(6)
    groups = np.repeat(np.arange(20), 50)
    moic = 1.0 + 0.5 * rng.random(1000)
    draws = {"moic_committed": moic, "replicate": groups, "irr": 0.05 + 0.01 * rng.normal(size=1000)}
    se = replicate_se((moic >= 1.45).astype(float), groups)
    assert f"± {100 * se:.1f}%" in reference_sentence(draws, 1.45)
    median, median_se = estimate(METRICS["median_irr"], draws)
    assert median_se != pytest.approx(estimate(METRICS["median_irr"], {"irr": draws["irr"]})[1], rel=1e-6)
    summary = {"investor": {"prob_loss": {"value": 0.2, "se": 0.00031}}}
    text = summary_sentences(summary, draws)[0]
    assert "20.0% ± 0.031%" in text and f"{percent(median)} ± " in text


def test_sentences_grade_the_bad_case_and_count_deadweight_in_pounds():
    summary = {
        "investor": {**SUMMARY["investor"], "irr_median": {"value": -0.012, "se": 0.003},
                     "prob_moic_below_half": {"value": 0.31, "se": 0.005},
                     "es10": {"value": 0.0, "se": 0.0}, "es25": {"value": 0.18, "se": 0.01},
                     "prob_reference": {"value": 0.29, "se": 0.006, "reference": 1.45}},
        "council": {**SUMMARY["council"], "deadweight_paid": {"mean": 3.9e6, "se": 2.0e4},
                    "deadweight_share_of_payments": {"value": 0.83, "se": 0.002}},
        "outcomes": {"prob_service_stopped_early": {"value": 0.12, "se": 0.004},
                     "unfunded_costs": {"mean": 2.5e5, "se": 1.0e4}},
    }
    text = " ".join(summary_sentences(summary, reference_moic=1.45))
    # P(total loss) 21% > 5%: the worst 5% are all 0x, so the bad case is graded further.
    for figure in ("lose more than half of the capital they put in in 31.0% ± 0.5%",
                   "worst 25% of draws return 0.18× ± 0.01× of committed capital",
                   "median IRR is −1.2% ± 0.3% a year", "or more in 29.0% ± 0.6% of draws",
                   "stops early for lack of capital in 12.0% ± 0.4%", "£250k ± £10k",
                   "£3.90m ± £20k on average (83.0% ± 0.2% of all payments)"):
        assert figure in text, figure
    summary["investor"]["prob_total_loss"] = {"value": 0.0, "se": 0.0}
    text = " ".join(summary_sentences(summary))
    assert "in no draw lose almost everything" in text and "more than half" not in text


def test_rank_correlation_errors_come_from_the_replicates_under_qmc():
    # Two inputs tied to the metric, 20 replicates: the error is the replicates' spread of ρ / √R,
    # not the iid formula's.
    from simsib.report.drivers import drivers, replicate_spearman_se, spearman_se

    rng = np.random.default_rng(3)
    n, replicates = 2000, 20
    x = rng.normal(size=n)
    draws = {"referrals.referrals_per_month": x, "moic_committed": x + rng.normal(size=n),
             "replicate": np.repeat(np.arange(replicates), n // replicates)}
    (found,) = drivers(draws)
    assert found.se == replicate_spearman_se(x, draws["moic_committed"], draws["replicate"])
    assert found.se != spearman_se(found.rho, n)
    del draws["replicate"]
    (iid,) = drivers(draws)
    assert iid.se == spearman_se(iid.rho, n) and iid.rho == found.rho
