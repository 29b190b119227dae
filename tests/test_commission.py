"""SIB or not (issue 21): the council's options on the same simulated young people.

Hand-worked money (the provider's working capital, the cash need, the bad case), the identities
the comparison must obey (issue 21, point 5), agreement with ``simsib run``'s own accounts, common
random numbers and worker counts, the scenario table, the command and the report section.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import ESSEX_RAW
from typer.testing import CliRunner

from simsib.analysis.commission import OPTIONS, commission
from simsib.analysis.commission_tables import bad_case_difference, risk_transfer, savings_per_pound, summary
from simsib.cli.main import app
from simsib.contract.commissioning import cash_need, provider_position
from simsib.run.api import simulate
from simsib.scenario.errors import ScenarioError
from simsib.scenario.evidence import label
from simsib.scenario.loader import bundled_scenario_path, load_scenario, validate

DRAWS = 300
runner = CliRunner()


def scenario_from(changes: dict, drop: tuple[str, ...] = ()):
    """Essex with dotted keys set (plain numbers are fixed) and dropped."""
    raw = copy.deepcopy(ESSEX_RAW)
    for key, value in changes.items():
        *path, last = key.split(".")
        node = raw
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[last] = value
    for key in drop:
        *path, last = key.split(".")
        node = raw
        for part in path:
            node = node[part]
        node.pop(last)
    return validate(raw)


# --- hand-worked money ------------------------------------------------------------------------


def test_provider_position_hand_worked():
    costs, payments = np.array([[100.0, 100.0, 0.0]]), np.array([[0.0, 0.0, 250.0]])
    rate = 0.1
    q = 1.1 ** 0.25 - 1.0
    found = provider_position(costs, payments, np.array([rate]))
    # Quarter 0: borrows 100.  Quarter 1: 100·q interest, borrows 100 more.  Quarter 2: interest
    # on 200 + 100·q, then 250 comes in.
    interest = 100 * q + q * (200 + 100 * q)
    assert found.financing_cost[0] == pytest.approx(interest, rel=1e-14)
    assert found.peak_working_capital[0] == pytest.approx(200 + 100 * q, rel=1e-14)
    assert found.result[0] == pytest.approx(250 - 200 - interest, rel=1e-14)
    # Cash in hand earns nothing, and a provider never short pays nothing.
    flush = provider_position(np.array([[0.0, 10.0]]), np.array([[50.0, 0.0]]), np.array([0.5]))
    assert flush.financing_cost[0] == 0.0 and flush.peak_working_capital[0] == 0.0 and flush.result[0] == 40.0


def test_cash_need_hand_worked():
    outlays = np.array([[50.0, 50.0, 0.0], [0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    savings = np.array([[0.0, 20.0, 100.0, 5.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 30.0]])
    peak, when = cash_need(outlays, savings)
    np.testing.assert_array_equal(peak, [80.0, 0.0, 10.0])
    assert when[0] == 1.0 and np.isnan(when[1]) and when[2] == 0.0


def test_bad_case_of_an_option_with_itself_and_a_shift():
    values = np.arange(100, dtype=float)[::-1]
    same = bad_case_difference(values, values)
    assert same == {"mean": 0.0, "se": 0.0}
    # Every draw £1 better: the worst 10% average exactly £1 better, with no uncertainty.
    shifted = bad_case_difference(values, values + 1.0)
    assert shifted["mean"] == 1.0 and shifted["se"] == 0.0


def test_savings_per_pound_hand_worked():
    draws = {"direct.savings_to_18": np.array([4.0, 8.0, 0.0, 20.0]),
             "direct.service_cost": np.array([2.0, 2.0, 2.0, 2.0])}
    claim = savings_per_pound(draws, "to_18")
    assert claim["claimed"] == 4.0
    assert claim["ratio"]["mean"] == pytest.approx(4.0)
    assert claim["ratio_of_means"]["mean"] == pytest.approx(4.0)
    assert claim["prob_at_least_claimed"]["value"] == 0.5 and claim["prob_at_least_one"]["value"] == 0.75


# --- the identities of issue 21, point 5 ---------------------------------------------------


@pytest.fixture(scope="module")
def certain_effect():
    """A strong, lasting, certain effect on young people more at risk than the baseline assumes
    (so next to no deadweight), no cap, capital to spare and no council management on either
    side: the SIB delivers exactly the full service."""
    return scenario_from({
        "effect.log_hazard_ratio": -1.2, "effect.duration_months": 120, "population.p30_entry": 0.97,
        "contract.cap": 20_000_000, "contract.mechanisms.0.price_per_day": 150,
        "spv.capital_committed": 8_000_000, "spv.upfront_drawdown_share": 0.0,
        "contract.council_management_cost_per_quarter": 0, "commissioning.direct_management_cost_per_quarter": 0,
        "simulation.chunk_size": 100,
    })


def test_direct_costs_less_than_the_sib_by_the_investors_return_plus_fees(certain_effect):
    result = commission(certain_effect, draws=DRAWS, seed=5)
    run = simulate(certain_effect, draws=DRAWS, seed=5).draws
    d = result.draws
    assert not d["sib.stopped_early"].any() and not run["unfunded_costs"].any()
    assert np.all(d["sib.savings_to_18"] > 0) and run["deadweight_share"].mean() < 0.05
    spv = certain_effect.spv
    fees = float(spv.management_fee_per_quarter.value) * certain_effect.n_quarters + float(spv.upfront_fees.value)
    expected = (run["distributions"] - run["capital_drawn"]).to_numpy() + fees
    for h in ("to_18", "window"):
        gap = d[f"direct.net_benefit_{h}"] - d[f"sib.net_benefit_{h}"]
        scale = d["sib.outlay"] + d["direct.outlay"]
        assert np.all(np.abs(gap - expected) <= 1e-12 * scale), h
    # Investors who are paid for a working programme earn a return: the SIB costs more.
    assert expected.mean() > 2 * expected.std(ddof=1) / np.sqrt(DRAWS)


@pytest.fixture(scope="module")
def no_effect():
    """No effect at all, and a baseline equal to the counterfactual care proportion on average:
    whatever the contract pays is noise.  No target, teams starting at once: the full service's
    team costs can be worked out by hand."""
    base = {"effect.log_hazard_ratio": 0.0, "referrals.team_start_delay_months": 0,
            "commissioning.direct_management_cost_per_quarter": 5_000, "simulation.chunk_size": 100}
    pilot = scenario_from(base, drop=("referrals.target_young_people",))
    counterfactual = float(simulate(pilot, draws=DRAWS, seed=9).draws["care_proportion_counterfactual"].mean())
    return scenario_from({**base, "contract.mechanisms.0.baseline_care_proportion": counterfactual},
                         drop=("referrals.target_young_people",))


def test_no_effect_sib_costs_noise_and_management_direct_costs_the_service(no_effect):
    result = commission(no_effect, draws=DRAWS, seed=9)
    run = simulate(no_effect, draws=DRAWS, seed=9).draws
    # The same referrals with capital enough never to stop: the young people the full service takes.
    full = simulate(scenario_from({"effect.log_hazard_ratio": 0.0, "referrals.team_start_delay_months": 0,
                                   "spv.capital_committed": 50_000_000, "simulation.chunk_size": 100},
                                  drop=("referrals.target_young_people",)), draws=DRAWS, seed=9).draws
    d = result.draws
    r = no_effect.referrals
    months_running = r.service_end_month + float(r.months_per_case.value)  # teams from month 0 to here
    team_costs = r.teams * float(no_effect.spv.team_cost_per_quarter.value) * months_running / 3
    service = team_costs + float(no_effect.spv.cost_per_young_person.value) * full["young_people_started"].to_numpy()
    direct_management = 5_000 * np.ceil(months_running / 3)
    sib_management = 10_000 * no_effect.n_quarters
    for h in ("to_18", "window"):
        assert not d[f"sib.savings_{h}"].any() and not d[f"direct.savings_{h}"].any()
        np.testing.assert_allclose(d[f"sib.net_benefit_{h}"],
                                   -(run["payments_without_effect"].to_numpy() + sib_management), rtol=1e-12)
        np.testing.assert_allclose(d[f"direct.net_benefit_{h}"], -(service + direct_management), rtol=1e-12)
    # Noise is cheap beside the service: the SIB transfers the failed programme's cost to investors.
    assert d["sib.outlay"].mean() < 0.5 * d["direct.outlay"].mean()


@pytest.fixture(scope="module")
def essex_2012():
    scenario = load_scenario(bundled_scenario_path("essex-2012"))
    return scenario.model_copy(update={"simulation": scenario.simulation.model_copy(update={"chunk_size": 100})})


@pytest.fixture(scope="module")
def essex_2012_result(essex_2012):
    return commission(essex_2012, draws=DRAWS, seed=3)


def test_an_option_against_itself_and_pbr_against_an_sib_that_never_stops(essex_2012_result):
    d = essex_2012_result.draws
    tables = risk_transfer({**d, "direct.net_benefit_to_18_pv": d["sib.net_benefit_to_18_pv"],
                            "direct.net_benefit_to_18": d["sib.net_benefit_to_18"]})
    assert tables["extra_cost_pv"] == {"mean": 0.0, "se": 0.0}
    assert tables["bad_case"]["sib_less_direct"] == {"mean": 0.0, "se": 0.0}
    # Where the SIB's SPV never ran short, PbR is the same contract without the SPV: to the
    # council, exactly the same money.
    kept = d["sib.stopped_early"] == 0
    assert 0 < kept.sum() < DRAWS  # essex-2012 stops in some draws: both kinds are tested
    for figure in ("outlay", "net_benefit_to_18_pv", "net_benefit_window", "peak_cash_need_to_18"):
        np.testing.assert_array_equal(d[f"pbr.{figure}"][kept], d[f"sib.{figure}"][kept])
    assert np.all(d["do_nothing.net_benefit_to_18_pv"] == 0.0)


def test_sib_figures_are_the_runs_own(essex_2012, essex_2012_result):
    run = simulate(essex_2012, draws=DRAWS, seed=3).draws
    d = essex_2012_result.draws
    for mine, theirs in (("sib.net_benefit_window_pv", "net_benefit_pv"), ("sib.net_benefit_to_18_pv", "net_benefit_to_18_pv"),
                         ("sib.net_benefit_window", "net_benefit"), ("sib.savings_window", "true_savings")):
        np.testing.assert_allclose(d[mine], run[theirs].to_numpy(), rtol=1e-12, atol=1e-6)
    np.testing.assert_array_equal(d["sib.stopped_early"] > 0, run["service_stopped_early"].to_numpy())


def test_the_sibs_extra_cost_is_its_parts(essex_2012_result):
    d = essex_2012_result.draws
    parts = ("investors_return", "spv_fees", "service_not_delivered", "other_spv_flows", "management_extra",
             "term_sheet_cost")
    for h in ("to_18", "window"):
        total = sum(d[f"sib.{p}"] for p in parts) + d[f"sib.care_not_delivered_{h}"]
        gap = d[f"direct.net_benefit_{h}"] - d[f"sib.net_benefit_{h}"]
        assert np.all(np.abs(total - gap) <= 1e-9 * (d["sib.outlay"] + d["direct.outlay"]))
    assert d["sib.other_spv_flows"].any() and d["sib.service_not_delivered"].min() < 0


def test_same_numbers_for_any_worker_count(essex_2012, essex_2012_result):
    other = commission(essex_2012, draws=DRAWS, seed=3, workers=2)
    for column, values in essex_2012_result.draws.items():
        assert values.tobytes() == other.draws[column].tobytes(), column
    for key, values in essex_2012_result.cash_position.items():
        np.testing.assert_array_equal(values, other.cash_position[key])


def test_tables_for_every_horizon(essex_2012_result):
    tables = summary(essex_2012_result.draws, essex_2012_result.cash_position)
    for h in ("to_18", "window"):
        rows = {r["option"]: r for r in tables[h]["options"]}
        assert list(rows) == list(OPTIONS)
        assert rows["do_nothing"]["net_benefit_pv"]["mean"] == 0.0 and rows["do_nothing"]["outlay_pv"]["mean"] == 0.0
        sib = essex_2012_result.draws[f"sib.net_benefit_{h}_pv"]
        assert rows["sib"]["net_benefit_pv"]["mean"] == pytest.approx(sib.mean())
        risk = tables[h]["risk_transfer"]
        # Cash parts plus what paying later is worth add up to the extra cost in present value.
        assert sum(p["mean"] for p in risk["parts"]) == pytest.approx(risk["extra_cost_pv"]["mean"], abs=1e-3)
        assert risk["better_expected"]["option"] in OPTIONS
        assert len(tables[h]["cash_by_year"]["sib"]) >= 8


def test_every_column_has_labels(essex_2012_result):
    for column in essex_2012_result.draws:
        option, figure = column.split(".", 1)
        assert label(f"commission.option.{option}") != f"commission.option.{option}", column
        assert label(f"commission.{figure}") != f"commission.{figure}", column
        assert len(label(f"commission.{figure}", short=True)) <= 34


# --- the scenario table ----------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (-0.1, "never negative"), (True, "commissioning.provider_financing_rate"), (3.0, "between 0 and 0.5"),
])
def test_bad_financing_rate_names_the_key(value, expected):
    with pytest.raises(ScenarioError) as error:
        scenario_from({"commissioning.provider_financing_rate": value})
    text = error.value.render()
    assert "commissioning.provider_financing_rate" in text and expected in text


def test_unknown_commissioning_key_is_an_error():
    with pytest.raises(ScenarioError) as error:
        scenario_from({"commissioning.provider_financing": 0.05})
    assert "provider_financing_rate" in error.value.render()


def test_commissioning_is_money_only():
    from simsib.analysis.variants import reuses_outcomes

    base = load_scenario()
    variant = scenario_from({"commissioning.provider_financing_rate": 0.12})
    assert reuses_outcomes(base, variant)


# --- the command and the report ----------------------------------------------------------------


def test_cli_commission_into_a_run_folder_and_the_report(tmp_path):
    folder = tmp_path / "run"
    common = ["--draws", "200", "--seed", "4", "--out", str(folder), "--quiet", "--workers", "1"]
    assert runner.invoke(app, ["run", "essex-2012", *common]).exit_code == 0
    result = runner.invoke(app, ["commission", "essex-2012", *common])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "Price of risk transfer" in result.output and "E14" in result.output
    for name in ("commission.csv", "commission.json", "commission.md", "commission_draws.parquet", "commission.png",
                 "commission_cash.png", "summary.json"):
        assert (folder / name).is_file(), name
    stored = json.loads((folder / "commission.json").read_text())
    assert stored["header"]["horizon"] == "to_18" and set(stored["horizons"]) == {"to_18", "window"}
    assert pq.read_table(folder / "commission_draws.parquet").num_rows == 200
    report = runner.invoke(app, ["report", str(folder), "--xlsx"])
    assert report.exit_code == 0, report.output
    markdown = (folder / "report.md").read_text()
    assert "## Commissioning: SIB or not" in markdown and "figures/commission_net_benefit.png" in markdown
    assert 'id="commission"' in (folder / "index.html").read_text()
    from openpyxl import load_workbook

    assert "commissioning" in load_workbook(folder / "results.xlsx", read_only=True).sheetnames


def test_report_without_a_comparison_has_no_section(tmp_path):
    folder = tmp_path / "run"
    assert runner.invoke(app, ["run", "--draws", "100", "--seed", "1", "--out", str(folder), "--quiet"]).exit_code == 0
    assert runner.invoke(app, ["report", str(folder)]).exit_code == 0
    assert "Commissioning" not in (folder / "report.md").read_text()


def test_cli_json_window_and_set(tmp_path):
    common = ["commission", "--draws", "100", "--seed", "2", "--json", "--horizon", "window"]
    plain = runner.invoke(app, [*common, "--out", str(tmp_path / "a")])
    assert plain.exit_code == 0, plain.output
    document = json.loads(plain.output)
    assert document["header"]["horizon"] == "window"
    dearer = runner.invoke(app, [*common, "--out", str(tmp_path / "b"), "--set", "commissioning.provider_financing_rate=0.2"])
    assert dearer.exit_code == 0, dearer.output
    changed = json.loads(dearer.output)["horizons"]["window"]
    before = document["horizons"]["window"]
    # Only the provider's financing changes: the council's options are the same draws.
    assert changed["options"] == before["options"]
    assert (changed["risk_transfer"]["provider_under_pbr"]["financing_cost"]["mean"]
            > before["risk_transfer"]["provider_under_pbr"]["financing_cost"]["mean"])


def test_cli_refuses_a_scenario_without_care_and_a_bad_horizon(tmp_path):
    other = runner.invoke(app, ["commission", "peterborough", "--draws", "50", "--out", str(tmp_path / "p")])
    assert other.exit_code == 2
    assert "recurrent_events" in other.output and "cohorts.0.process" in other.output
    bad = runner.invoke(app, ["commission", "--horizon", "lifetime", "--out", str(tmp_path / "q")])
    assert bad.exit_code == 2


def test_term_sheet_costs_to_the_council_count_as_the_run_counts_them():
    """Minimum coupons and a guarantee by the commissioner: the SIB's net benefit is still the
    run's, its term-sheet cost the run's ``council_term_sheet_cost``, and its cash profile holds it."""
    from simsib.scenario.loader import load_raw

    raw = load_raw(bundled_scenario_path("essex-tranches"))
    raw["simulation"]["chunk_size"] = 100
    raw["spv"]["tranches"][0].update({"minimum_coupon": 0.03, "minimum_coupon_years": 3})
    raw["spv"]["guarantees"] = [{"guarantor": "council", "party": "commissioner", "tranche": "first_loss",
                                 "share": 0.5, "paid_at": "final_distribution"}]
    scenario = validate(raw)
    result = commission(scenario, draws=200, seed=6)
    run = simulate(scenario, draws=200, seed=6).draws
    d = result.draws
    assert run["council_term_sheet_cost"].min() > 0  # the coupons are paid in every draw
    np.testing.assert_allclose(d["sib.term_sheet_cost"], run["council_term_sheet_cost"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(d["sib.net_benefit_to_18_pv"], run["net_benefit_to_18_pv"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(d["sib.outlay"], run["outcome_payments"].to_numpy() + run["council_management_costs"].to_numpy()
                               + run["council_term_sheet_cost"].to_numpy(), rtol=1e-12)


def test_report_section_without_the_per_draw_file_keeps_its_tables(tmp_path):
    folder = tmp_path / "run"
    common = ["--draws", "100", "--seed", "2", "--out", str(folder), "--quiet", "--workers", "1"]
    assert runner.invoke(app, ["run", *common]).exit_code == 0
    assert runner.invoke(app, ["commission", *common]).exit_code == 0
    (folder / "commission_draws.parquet").unlink()
    assert runner.invoke(app, ["report", str(folder)]).exit_code == 0
    markdown = (folder / "report.md").read_text()
    assert "## Commissioning: SIB or not" in markdown and "Price of risk transfer" in markdown
    assert "commission_net_benefit" not in markdown
