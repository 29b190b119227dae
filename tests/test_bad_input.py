"""Broken inputs, through the CLI: exit code 2, a message naming the file, the dotted key and the
value, no traceback, and no output folder.  Plus a property test: mutated scenarios either load
or raise ScenarioError, never anything else.

Broken files are made from the bundled Essex scenario -- parsed, edited at a key, written back
with tomli_w -- or as small children that ``extends`` it, so they stay valid tests when Essex's
numbers change.
"""

from __future__ import annotations

import copy
import math
import tomllib
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from simsib.cli.main import app
from simsib.scenario.errors import ScenarioError
from simsib.scenario.loader import bundled_scenario_path, load_scenario, validate

ESSEX_PATH = bundled_scenario_path("essex")
ESSEX: dict[str, Any] = tomllib.loads(ESSEX_PATH.read_text(encoding="utf-8"))
runner = CliRunner()

Writer = Callable[[Path], Path]  # writes the broken input into a folder, returns the path to pass


def edited(*edits: tuple[str, Any]) -> Writer:
    """Essex with ``(dotted.key, value)`` edits; value ``DELETE`` removes the key."""

    def write(folder: Path) -> Path:
        data = copy.deepcopy(ESSEX)
        for key, value in edits:
            *parents, last = [int(p) if p.isdigit() else p for p in key.split(".")]
            node = data
            for part in parents:
                node = node[part]
            if value is DELETE:
                del node[last]
            else:
                node[last] = value
        path = folder / "broken.toml"
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
        return path

    return write


DELETE = object()


def child(text: str) -> Writer:
    """A child of the bundled Essex scenario with ``text`` below its ``extends`` line."""

    def write(folder: Path) -> Path:
        path = folder / "child.toml"
        path.write_text(f"extends = {str(ESSEX_PATH)!r}\n{text}", encoding="utf-8")
        return path

    return write


def raw(content: str | bytes, name: str = "broken.toml") -> Writer:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return write


def chain(length: int, cycle: bool = False) -> Writer:
    """``length`` files, each extending the next; the last extends Essex (or the first)."""

    def write(folder: Path) -> Path:
        for i in range(length):
            parent = f"f{i + 1}.toml" if i + 1 < length else ("f0.toml" if cycle else str(ESSEX_PATH))
            (folder / f"f{i}.toml").write_text(f"extends = {parent!r}\n", encoding="utf-8")
        return folder / "f0.toml"

    return write


def essex(folder: Path) -> Path:
    return ESSEX_PATH


def folder_itself(folder: Path) -> Path:
    target = folder / "a-folder.toml"
    target.mkdir()
    return target


def missing_file(folder: Path) -> Path:
    return folder / "no-such-scenario.toml"


# Children of Essex with [[cohorts]] (the Essex mechanism pays the care cohorts).
REUNIFICATION = '''
[[cohorts]]
name = "edge"
process = "care"
[[cohorts]]
name = "home"
process = "care"
starts_in_care = true
'''
RECURRENT = '''
[[cohorts]]
name = "edge"
process = "care"
[[cohorts]]
name = "released"
process = "recurrent_events"
events_per_year = 1.0
log_rate_ratio = -0.1
'''
ATTAINMENT = '''
[[cohorts]]
name = "leavers"
process = "attainment"
[[cohorts.outcomes]]
name = "job"
probability = 0.3
within_months = 12
'''

IMPOSSIBLE_CORRELATIONS = '''
[referrals]
ramp_initial_fraction = { dist = "beta", a = 2, b = 4 }
[[correlations]]
between = ["referrals.ramp_months", "effect.completion_rate"]
rank = 0.9
[[correlations]]
between = ["effect.completion_rate", "referrals.ramp_initial_fraction"]
rank = 0.9
[[correlations]]
between = ["referrals.ramp_months", "referrals.ramp_initial_fraction"]
rank = -0.9
'''

# (id, writer, extra CLI arguments, texts the message must contain).  The file name is checked
# for every case whose input is a file.
CASES: list[tuple[str, Writer, list[str], list[str]]] = [
    ("missing key", edited(("care.short_stay_share", DELETE)), [], ["care.short_stay_share", "required key is missing"]),
    ("missing section", edited(("spv", DELETE)), [], ["spv: required key is missing"]),
    ("wrong type int", edited(("referrals.teams", "two")), [], ["referrals.teams", "'two'", "whole number"]),
    ("wrong type quantity", edited(("contract.cap", "lots")), [], ["contract.cap", "'lots'", "expected a number"]),
    ("table for a number", edited(("meta.reference_moic", {"x": 1})), [], ["meta.reference_moic"]),
    ("boolean for a number", edited(("referrals.referral_conversion", {"dist": "beta", "a": True, "b": 7})), [],
     ["referrals.referral_conversion.a", "not a boolean", "True"]),
    ("nan", edited(("spv.reserve", math.nan)), [], ["spv.reserve", "finite", "nan"]),
    ("nan in a distribution", edited(("effect.completion_rate", {"dist": "beta", "a": math.nan, "b": 3})), [],
     ["effect.completion_rate.a", "nan"]),
    ("inf", edited(("contract.cap", {"value": math.inf})), [], ["contract.cap.value", "finite", "inf"]),
    ("negative duration", edited(("effect.duration_months", -3)), [], ["effect.duration_months", "never negative", "-3"]),
    ("negative tracking window", edited(("contract.tracking_months", -30)), [], ["contract.tracking_months", "-30"]),
    ("probability above 1", edited(("effect.completion_rate", 1.3)), [], ["effect.completion_rate", "[0, 1]", "1.3"]),
    ("probability below 0", edited(("contract.mechanisms.0.baseline_care_proportion", -0.1)), [],
     ["contract.mechanisms.0.baseline_care_proportion", "[0, 1]", "-0.1"]),
    ("probability from a normal", edited(("referrals.referral_conversion", {"dist": "normal", "mean": 0.6, "sd": 0.1})),
     [], ["referrals.referral_conversion", "normal distribution ranges over (-inf, inf)"]),
    ("beta p05 >= p95", edited(("effect.completion_rate", {"dist": "beta", "p05": 0.9, "p95": 0.8})), [],
     ["effect.completion_rate.p95", "greater than p05", "0.8"]),
    ("lognormal p05 >= p95", edited(("effect.duration_months", {"dist": "lognormal", "p05": 60, "p95": 9})), [],
     ["effect.duration_months.p95", "greater than p05", "9"]),
    ("two forms at once", edited(("effect.completion_rate", {"dist": "beta", "a": 17, "mean": 0.8})), [],
     ["effect.completion_rate.mean", "cannot be combined with a"]),
    ("negative sd", edited(("effect.log_hazard_ratio", {"dist": "normal", "mean": 0, "sd": -0.25})), [],
     ["effect.log_hazard_ratio.sd", "greater than 0", "-0.25"]),
    ("negative cap", edited(("contract.cap", -7_200_000)), [], ["contract.cap", "never negative", "-7.2e+06"]),
    ("unknown mechanism", edited(("contract.mechanisms.0.type", "days_saved_vs_baselin")), [],
     ["contract.mechanisms.0.type", "'days_saved_vs_baselin'", "did you mean 'days_saved_vs_baseline'",
      "valid choices: days_saved_vs_baseline, days_out_of_care, milestone, engagement"]),
    ("mechanism without type", edited(("contract.mechanisms.0.type", DELETE)), [],
     ["contract.mechanisms.0.type", "required key is missing", "engagement"]),
    ("misspelt key", edited(("referrals.therapist_per_team", 4), ("referrals.therapists_per_team", DELETE)), [],
     ["referrals.therapist_per_team", "unknown key", "did you mean 'therapists_per_team'", "valid choices:"]),
    ("misspelt section", child("[spvv]\nreserve = 1\n"), [], ["spvv", "unknown key", "did you mean 'spv'"]),
    ("misspelt parameter", edited(("effect.completion_rate", {"dist": "beta", "a": 17, "bb": 3})), [],
     ["effect.completion_rate.bb", "did you mean 'b'", "concentration"]),
    ("misspelt netting", edited(("contract.netting", "cohorts")), [],
     ["contract.netting", "'cohorts'", "did you mean 'cohort'", "valid choices: contract, cohort"]),
    ("unknown dist family", edited(("referrals.ramp_months", {"dist": "triangle", "low": 6, "mode": 12, "high": 24})),
     [], ["referrals.ramp_months.dist", "'triangle'", "did you mean 'triangular'", "lognormal"]),
    ("table without dist", edited(("effect.completion_rate", {"a": 17, "b": 3})), [],
     ["effect.completion_rate", "needs 'dist'"]),
    ("distribution for a whole number", edited(("referrals.teams", {"dist": "uniform", "low": 1, "high": 3})), [],
     ["referrals.teams", "cannot be a distribution"]),
    ("unknown key in a cited number", edited(("referrals.teams", {"value": 2, "sorce": "E11"})), [],
     ["referrals.teams.sorce", "unknown key", "value, source"]),
    ("bad source", edited(("referrals.teams", {"value": 2, "source": "because I said so"})), [],
     ["referrals.teams.source", "judgement:"]),
    ("extends cycle", chain(3, cycle=True), [], ["extends", "extends cycle: f0.toml -> f1.toml -> f2.toml -> f0.toml"]),
    ("missing parent", raw('extends = "nowhere.toml"\n'), [], ["extends", "not found", "'nowhere.toml'"]),
    ("extends chain deeper than 8", chain(10), [], ["extends", "deeper than 8"]),
    ("extends not text", raw("extends = 3\n"), [], ["extends", "(got 3)"]),
    ("empty file", raw(""), [], ["file is empty"]),
    ("only comments", raw("# nothing here\n"), [], ["meta: required key is missing", "spv: required key is missing"]),
    ("non-UTF-8 bytes", raw(b'[meta]\nname = "caf\xe9"\n'), [], ["not UTF-8", "0xe9", "offset"]),
    ("10 MB file", raw("#" + "x" * 10_000_000 + "\n"), [], ["MiB", "must be under 1 MiB"]),
    ("invalid TOML", raw('[meta\nname = "x"\n'), [], ["invalid TOML", "line 1"]),
    ("duplicate TOML key", raw('[meta]\nname = "a"\nname = "b"\n'), [], ["invalid TOML"]),
    ("a folder", folder_itself, [], ["got a folder"]),
    ("no such file", missing_file, [], ["file not found", "essex (bundled)"]),
    ("misspelt bundled name", lambda folder: Path("essexx"), [], ["file not found", "did you mean 'essex'"]),
    ("deeply nested TOML", raw("a = " + "[" * 100_000 + "]" * 100_000 + "\n"), [], ["nested more than 32 levels"]),
    ("deeply nested --set", essex, ["--set", "meta.x=" + "[" * 5_000 + "]" * 5_000], ["--set meta.x", "nested"]),
    ("absurd cap", edited(("contract.cap", 7.2e16)), [], ["contract.cap", "between 0 and 1e+10", "7.2e+16"]),
    ("absurd tracking window", edited(("contract.tracking_months", 3000)), [],
     ["contract.tracking_months", "between 1 and 240", "3000"]),
    ("absurd referrals", edited(("referrals.referrals_per_month", {"dist": "lognormal", "median": 1e9, "sigma": 0.2})),
     [], ["referrals.referrals_per_month", "99.8% range"]),
    ("overflowing distribution", edited(("effect.duration_months", {"dist": "lognormal", "mu": 1000, "sigma": 1})),
     [], ["effect.duration_months", "overflow"]),
    ("undefined range inside a mixture", edited(("population.p30_entry", {"dist": "mixture", "weights": [0.5, 0.5],
     "components": [{"dist": "beta", "a": 1, "b": 1}, {"dist": "negative_binomial", "mean": 1e300, "dispersion": 1e-300}]})),
     [], ["population.p30_entry", "too extreme"]),
    ("text that looks like code", edited(("contract.cap", "__import__('os').system('exit 3')")), [],
     ["contract.cap", "__import__"]),
    ("text that looks like a number", edited(("contract.cap", "7.2e6")), [], ["contract.cap", "'7.2e6'"]),
    ("weights not summing to 1", edited(("population.age_at_start.weights", [0.05, 0.10, 0.17, 0.22, 0.22, 0.16, 0.18])),
     [], ["population.age_at_start.weights", "sum to 1", "1.1"]),
    ("weights and values differ in length", edited(("population.age_at_start.weights", [0.5, 0.5])), [],
     ["population.age_at_start.weights", "one weight per entry of values"]),
    ("ages at the age limit", edited(("population.age_at_start", {"dist": "categorical", "values": [12, 18], "weights": [0.5, 0.5]})),
     [], ["population.age_at_start", "from 0 to 17", "age limit (18)", "[12, 18]"]),
    ("unknown process", child('[[cohorts]]\nname = "a"\nprocess = "recurent_events"\n'), [],
     ["cohorts.0.process", "'recurent_events'", "did you mean 'recurrent_events'", "attainment"]),
    ("cohort without process", child('[[cohorts]]\nname = "a"\n'), [], ["cohorts.0.process", "required key", "care"]),
    ("unknown cohort key", child(REUNIFICATION.replace("starts_in_care", "starts_in_cre")), [],
     ["cohorts.1.starts_in_cre", "unknown key", "did you mean 'starts_in_care'"]),
    ("boolean written as text", child(REUNIFICATION.replace("starts_in_care = true", 'starts_in_care = "yes"')), [],
     ["cohorts.1.starts_in_care", "'yes'"]),
    ("reunification without p30_exit", child(REUNIFICATION), [],
     ["population.p30_exit", "required", "cohort 'home' starts in care"]),
    ("duplicate cohort names", child(REUNIFICATION.replace('"home"', '"edge"') + '[cohorts.population]\nage_at_start = { dist = "categorical", values = [14], weights = [1.0] }\np30_exit = 0.5\n'),
     [], ["cohorts.1.name", "'edge' names cohorts.0 too"]),
    ("months without a cohort", child('[[cohorts]]\nname = "late"\nprocess = "care"\nstarts_from_month = 12\n'), [],
     ["cohorts", "no cohort takes starts in service months 0-11"]),
    ("mechanism for an unknown cohort", child('[[contract.mechanisms]]\ntype = "days_out_of_care"\nprice_per_day = 40\n'
                                             'cohorts = ["egde"]\n' + RECURRENT), [],
     ["contract.mechanisms.0.cohorts", "'egde' is not a cohort", "edge, released"]),
    ("mechanism for the wrong process", child('[[contract.mechanisms]]\ntype = "days_out_of_care"\nprice_per_day = 40\n'
                                              'cohorts = ["released"]\n' + RECURRENT), [],
     ["contract.mechanisms.0.cohorts", "cannot pay for cohort 'released'", "recurrent_events"]),
    ("trigger with cohort netting", child('[contract]\nnetting = "cohort"\n[[contract.mechanisms]]\ntype = "events_avoided"\n'
                                          'price_per_event = 1000\ncohort_threshold = 0.1\n' + RECURRENT), [],
     ["contract.netting", "must be \"contract\" with a events_avoided mechanism"]),
    ("result after the measurement end", child('[[contract.mechanisms]]\ntype = "events_avoided"\nprice_per_event = 1000\n'
                                               'results_lag_months = 12\n' + RECURRENT), [],
     ["contract.mechanisms.0.results_lag_months", "after contract.measurement_end_month (96)", "'released' in month 102"]),
    ("care section missing", edited(("care", DELETE)), [], ["care: required", "the scenario's one cohort follows the care process"]),
    ("rate card for an unknown milestone", child('[[contract.mechanisms]]\ntype = "rate_card"\n[[contract.mechanisms.items]]\n'
                                                 'outcome = "jobs"\nprice = 100\n' + ATTAINMENT), [],
     ["contract.mechanisms.0.items.0.outcome", "'jobs' is not a milestone", "milestones: job"]),
    ("milestone after a later one", child(ATTAINMENT.replace('[[cohorts.outcomes]]\nname = "job"',
                                                             '[[cohorts.outcomes]]\nname = "kept"\nafter = "job"\n'
                                                             'delay_months = 3\nprobability = 0.5\n[[cohorts.outcomes]]\n'
                                                             'name = "job"')), [],
     ["cohorts.0.outcomes.0.after", "'job' is not an earlier milestone"]),
    ("payers' shares not summing to 1", child('[[contract.payers]]\nname = "a"\nshare = 0.6\n[[contract.payers]]\n'
                                              'name = "b"\nshare = 0.6\n'), [], ["contract.payers", "sum to 1", "1.2"]),
    ("payer share a distribution", child('[[contract.payers]]\nname = "a"\nshare = { dist = "beta", a = 2, b = 2 }\n'), [],
     ["contract.payers.0.share", "fixed share"]),
    ("service ends before it starts", edited(("referrals.service_end_month", 0)), [],
     ["referrals.service_end_month", "must be after"]),
    ("bad scenario name", edited(("meta.name", "my scenario")), [], ["meta.name", "'my scenario'"]),
    ("correlation with an unknown input", edited(("correlations.0.between", ["referrals.ramp_month", "effect.completion_rate"])),
     [], ["correlations.0.between", "'referrals.ramp_month'", "did you mean 'referrals.ramp_months'"]),
    ("correlation of an input with itself", edited(("correlations.0.between", ["effect.completion_rate"] * 2)), [],
     ["correlations.0.between", "same input twice"]),
    ("correlation out of range", edited(("correlations.0.rank", -1.3)), [], ["correlations.0.rank", "-1.3"]),
    ("impossible correlation matrix", child(IMPOSSIBLE_CORRELATIONS), [], ["correlations", "not jointly possible"]),
    ("--set without =", essex, ["--set", "contract.cap"], ["--set", "dotted.key=value", "'contract.cap'"]),
    ("--set empty key", essex, ["--set", "=3"], ["--set", "dotted.key=value"]),
    ("--set empty key part", essex, ["--set", "contract..cap=3"], ["--set", "dotted.key=value"]),
    ("--set without value", essex, ["--set", "contract.cap="], ["--set contract.cap", "expected a value"]),
    ("--set bad index", essex, ["--set", "contract.mechanisms.x.price_per_day=80"],
     ["--set contract.mechanisms.x", "list index from 0 to 0", "'x'"]),
    ("--set index out of range", essex, ["--set", "contract.mechanisms.5.price_per_day=80"],
     ["--set contract.mechanisms.5", "list index"]),
    ("--set unknown key", essex, ["--set", "contract.capp=7e6"], ["--set contract.capp", "unknown key", "did you mean 'cap'"]),
    ("--set unknown parameter", essex, ["--set", "effect.duration_months.medain=30"],
     ["--set effect.duration_months.medain", "did you mean 'median'"]),
    ("--set inside a plain value", essex, ["--set", "contract.netting.x=1"], ["--set contract.netting", "plain value"]),
    ("--set bad value", essex, ["--set", "contract.cap=-5"], ["contract.cap", "never negative", "-5"]),
    ("--set text for a number", essex, ["--set", "contract.cap=abc"], ["contract.cap", "'abc'"]),
]

RUN_ONLY: list[tuple[str, list[str], list[str]]] = [
    ("--draws 0", ["--draws", "0"], ["--draws"]),
    ("--draws -5", ["--draws", "-5"], ["--draws"]),
    ("--draws abc", ["--draws", "abc"], ["--draws"]),
    ("--seed -1", ["--seed", "-1"], ["--seed"]),
    ("--scheduler without dask", ["--scheduler", "tcp://127.0.0.1:8786"], ["--scheduler", "--executor dask"]),
    ("--executor unknown", ["--executor", "spark"], ["--executor"]),
]


def invoke(args: list[str]):
    result = runner.invoke(app, args)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def check_message(output: str, path: Path | None, needles: list[str]) -> None:
    assert output.count("internal error") == 0, output
    if path is not None:
        assert str(path) in output, output
    for needle in needles:
        assert needle in output, f"{needle!r} not in:\n{output}"


def _file_shown(case_id: str, path: Path) -> Path | None:
    # A cycle is reported in the file that closes it.
    return None if case_id == "extends cycle" else path


@pytest.mark.parametrize("case_id, write, extra, needles", CASES, ids=[c[0] for c in CASES])
def test_validate_rejects(tmp_path, case_id, write, extra, needles):
    path = write(tmp_path)
    result = invoke(["validate", str(path), *extra])
    assert result.exit_code == 2, result.output
    check_message(result.output, _file_shown(case_id, path), needles)


@pytest.mark.parametrize("case_id, write, extra, needles", CASES, ids=[c[0] for c in CASES])
def test_run_rejects_without_writing(tmp_path, case_id, write, extra, needles):
    path = write(tmp_path)
    out = tmp_path / "out"
    result = invoke(["run", str(path), "--draws", "10", "--seed", "1", "--out", str(out), "--quiet", *extra])
    assert result.exit_code == 2, result.output
    check_message(result.output, _file_shown(case_id, path), needles)
    assert not out.exists()
    assert not (tmp_path / ".out.partial").exists()


@pytest.mark.parametrize("case_id, extra, needles", RUN_ONLY, ids=[c[0] for c in RUN_ONLY])
def test_run_rejects_bad_arguments(tmp_path, case_id, extra, needles):
    out = tmp_path / "out"
    result = invoke(["run", str(ESSEX_PATH), "--out", str(out), "--quiet", *extra])
    assert result.exit_code == 2, result.output
    check_message(result.output, None, needles)
    assert not out.exists()


def test_run_refuses_a_file_as_output_folder(tmp_path):
    out = tmp_path / "taken"
    out.write_text("not a folder")
    result = invoke(["run", str(ESSEX_PATH), "--draws", "10", "--out", str(out), "--quiet"])
    assert result.exit_code == 2
    check_message(result.output, None, ["--out", "a file is there"])
    assert out.read_text() == "not a folder"


def test_every_problem_is_reported_at_once(tmp_path):
    path = edited(
        ("referrals.teams", "two"),
        ("effect.completion_rate", 1.3),
        ("contract.cap", -1),
        ("spv.capital_commited", 3e6),
        ("spv.capital_committed", DELETE),
    )(tmp_path)
    result = invoke(["validate", str(path)])
    assert result.exit_code == 2
    assert "5 problems" in result.output  # the misspelling is two: unknown key and missing key
    lines = [line for line in result.output.splitlines() if line.strip().startswith("- ")]
    assert len(lines) == 5, result.output
    for key in ("referrals.teams", "effect.completion_rate", "contract.cap", "spv.capital_commited",
                "spv.capital_committed"):
        assert any(f"{path}: {key}:" in line for line in lines), key


def test_validate_reports_each_file_and_json(tmp_path):
    bad = edited(("contract.cap", -1))(tmp_path)
    result = invoke(["validate", str(ESSEX_PATH), str(bad), "--json"])
    assert result.exit_code == 2
    import json

    reports = json.loads(result.stdout)
    assert [r["valid"] for r in reports] == [True, False]
    assert reports[1]["problems"] == ["contract.cap: expected an amount in £ (never negative) in [0, inf); got -1"]


def test_errors_name_keys_without_pydantic_internals(tmp_path):
    path = edited(
        ("population.p30_entry.components.1", {"dist": "beta", "a": 3, "b": -22}),
        ("effect.completion_rate", {"dist": "beta", "p95": 0.9}),
        ("contract.mechanisms.0.price_per_day", {"value": math.inf}),
    )(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        validate(tomllib.loads(path.read_text()), file=str(path))
    keys = sorted(p.key for p in caught.value.problems)
    assert keys == ["contract.mechanisms.0.price_per_day.value", "effect.completion_rate",
                    "population.p30_entry.components.1.b"]
    text = caught.value.render()
    for internal in ("function-after", "function-before", "tagged-union", ".beta", ".mixture", ".fixed",
                     "Value error", "Input should"):
        assert internal not in text, text


def test_messages_keep_square_brackets(tmp_path):
    # The terminal output is rich markup: brackets in a message or a value must not be eaten.
    path = edited(("meta.name", "[bold]x"), ("meta.[x]", 1))(tmp_path)
    for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "out")]):
        result = invoke(command)
        assert result.exit_code == 2
        assert "'[bold]x'" in result.output and 'meta."[x]": unknown key' in result.output, result.output


# --- property: mutated scenarios load or raise ScenarioError -----------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child_node in children:
        found.extend(_paths(child_node, (*prefix, key)))
    return found


ESSEX_PATHS = _paths(ESSEX)
NAMES = ["dist", "value", "source", "type", "a", "b", "mean", "sd", "low", "high", "weights", "components",
         "values", "between", "rank", "extends", "meta", "beta", "x", "", "a.b", "[", "\x7f"]
_leaf = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 0.5, 1e300, -1e300, 1e-300, True, False]),
    st.text(max_size=6),
    st.sampled_from(["beta", "mixture", "normal", "fixed", "categorical", "days_out_of_care", "milestone",
                     "engagement", "contract", "E1", "judgement: x", "referrals.ramp_months"]),
)
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(NAMES), inner, max_size=4)),
    max_leaves=8,
)
_mutation = st.tuples(st.sampled_from(["delete", "replace", "add"]), st.sampled_from(ESSEX_PATHS), _value,
                      st.sampled_from(NAMES))


def _mutate(data: dict[str, Any], mutations: list[tuple]) -> None:
    for operation, path, value, name in mutations:
        try:
            parent = data
            for part in path[:-1]:
                parent = parent[part]
            target = parent[path[-1]] if isinstance(parent, (dict, list)) else None
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, (dict, list)):
            continue  # an earlier mutation removed this place
        if operation == "delete":
            del parent[path[-1]]
        elif operation == "replace":
            parent[path[-1]] = value
        elif isinstance(target, dict):
            target[name] = value
        elif isinstance(target, list):
            target.append(value)


def _key_parts(key: str) -> list[str]:
    """A problem's dotted key parsed back with TOML's own rules (quoted parts included)."""
    parts, node = [], tomllib.loads(f"{key} = 1")
    while isinstance(node, dict):
        ((part, node),) = node.items()
        parts.append(part)
    return parts


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_mutation, min_size=1, max_size=3))
def test_mutated_scenarios_load_or_raise_scenario_error(mutations):
    data = copy.deepcopy(ESSEX)
    _mutate(data, mutations)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a stray RuntimeWarning is a bug too
        try:
            validate(data, file="mutant.toml")
        except ScenarioError as exc:
            exc.render()
            for problem in exc.problems:
                assert problem.message and "Value error" not in problem.message, problem
                assert "function-" not in problem.key, problem
                # Every key is a path of the data, except that its last part may be missing.
                node: Any = data
                for i, part in enumerate(_key_parts(problem.key)):
                    index = int(part) if isinstance(node, list) and part.isdigit() else part
                    try:
                        node = node[index]
                    except (KeyError, IndexError, TypeError):
                        assert i == len(_key_parts(problem.key)) - 1, (problem, mutations)
                        break


_override_key = st.one_of(
    st.sampled_from([".".join(map(str, p)) for p in ESSEX_PATHS]),
    st.lists(st.sampled_from([*NAMES, "0", "1", "-1", "99", "contract", "mechanisms", "cap"]), min_size=1, max_size=4)
    .map(".".join),
    st.text(max_size=12),
)
_override_value = st.one_of(
    st.sampled_from(["1", "-1", "0.5", "nan", "inf", "true", "'x'", "[1, 2]", "{ value = 3 }", "{ dist = 'beta' }",
                     "{", "[", "\"", "1979-05-27", "cohort", ""]),
    st.text(max_size=12),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_override_key, st.sampled_from(["=", "==", ""]), _override_value), min_size=1, max_size=3))
def test_random_overrides_load_or_raise_scenario_error(overrides):
    texts = [key + sep + value for key, sep, value in overrides]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            load_scenario(ESSEX_PATH, texts)
        except ScenarioError as exc:
            assert exc.file == str(ESSEX_PATH)
            exc.render()
