"""Loading scenarios: ``extends`` merging, ``--set`` overrides, the scenario hash, the default
scenario, scenario files as data, and the generated scenario reference."""

from __future__ import annotations

import ast
import copy
import pickle
import tomllib
from pathlib import Path

import pytest

import simsib
from simsib.scenario import reference
from simsib.scenario.distributions import as_distribution
from simsib.scenario.errors import Problem, ScenarioError, dotted
from simsib.scenario.loader import (
    MAX_EXTENDS_DEPTH,
    bundled_scenario_path,
    deep_merge,
    load_raw,
    load_scenario,
    scenario_sha256,
    validate,
)

ROOT = Path(__file__).resolve().parent.parent
ESSEX_PATH = bundled_scenario_path("essex")
ESSEX_RAW = tomllib.loads(ESSEX_PATH.read_text(encoding="utf-8"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def child_of_essex(tmp_path: Path, text: str, name: str = "child.toml") -> Path:
    return write(tmp_path / name, f"extends = {str(ESSEX_PATH)!r}\n{text}")


# --- extends --------------------------------------------------------------------------------


def test_child_tables_merge_key_by_key(tmp_path):
    path = child_of_essex(tmp_path, '[meta]\nname = "variant"\n[referrals]\nteams = 3\n')
    raw = load_raw(path)
    assert raw["meta"]["name"] == "variant"
    assert raw["meta"]["description"] == ESSEX_RAW["meta"]["description"]  # kept from the parent
    assert raw["referrals"]["teams"] == 3
    assert raw["referrals"]["referrals_per_month"] == ESSEX_RAW["referrals"]["referrals_per_month"]
    assert "extends" not in raw
    assert load_scenario(path).referrals.teams == 3


def test_a_distribution_table_replaces_the_parents_whole(tmp_path):
    path = child_of_essex(tmp_path, '[effect]\nduration_months = { dist = "uniform", low = 6, high = 18 }\n')
    assert load_raw(path)["effect"]["duration_months"] == {"dist": "uniform", "low": 6, "high": 18}
    fixed = child_of_essex(tmp_path, "[effect]\nduration_months = { value = 12 }\n", "fixed.toml")
    assert load_raw(fixed)["effect"]["duration_months"] == {"value": 12}
    assert load_scenario(fixed).effect.duration_months.value == 12


def test_a_table_without_dist_adjusts_the_parents_parameters(tmp_path):
    parent = ESSEX_RAW["effect"]["duration_months"]
    path = child_of_essex(tmp_path, "[effect]\nduration_months = { sigma = 0.9 }\n")
    merged = load_raw(path)["effect"]["duration_months"]
    assert merged == {**parent, "sigma": 0.9}


def test_a_plain_number_replaces_a_distribution(tmp_path):
    path = child_of_essex(tmp_path, "[effect]\nduration_months = 12\n")
    assert load_scenario(path).effect.duration_months.value == 12


def test_lists_are_replaced_whole(tmp_path):
    path = child_of_essex(tmp_path, 'correlations = []\n[[contract.mechanisms]]\ntype = "engagement"\nprice_per_person = 500\n')
    scenario = load_scenario(path)
    assert scenario.correlations == []
    assert [m.type for m in scenario.contract.mechanisms] == ["engagement"]


def test_deep_merge_leaves_its_inputs_alone():
    parent = copy.deepcopy(ESSEX_RAW)
    child = {"referrals": {"teams": 5}, "effect": {"duration_months": {"value": 3}}}
    merged = deep_merge(parent, child)
    assert parent == ESSEX_RAW and child == {"referrals": {"teams": 5}, "effect": {"duration_months": {"value": 3}}}
    merged["referrals"]["teams"] = 9
    assert parent["referrals"]["teams"] == ESSEX_RAW["referrals"]["teams"]


def test_extends_is_relative_to_the_file(tmp_path):
    write(tmp_path / "base" / "parent.toml", f'extends = {str(ESSEX_PATH)!r}\n[meta]\nname = "parent"\n')
    path = write(tmp_path / "variants" / "deep" / "child.toml", 'extends = "../../base/parent.toml"\n[referrals]\nteams = 1\n')
    scenario = load_scenario(path)
    assert (scenario.meta.name, scenario.referrals.teams) == ("parent", 1)


def test_extends_falls_back_to_a_bundled_scenario_by_name(tmp_path):
    path = write(tmp_path / "mine.toml", 'extends = "essex.toml"\n[meta]\nname = "mine"\n')
    assert load_scenario(path).meta.name == "mine"


def _chain(tmp_path: Path, parents: int) -> Path:
    """A file with ``parents`` files above it, the last being Essex."""
    for i in range(parents):
        above = f"f{i + 1}.toml" if i + 1 < parents else str(ESSEX_PATH)
        write(tmp_path / f"f{i}.toml", f"extends = {above!r}\n")
    return tmp_path / "f0.toml"


def test_extends_chain_of_the_maximum_depth_loads(tmp_path):
    assert load_scenario(_chain(tmp_path, MAX_EXTENDS_DEPTH)).meta.name == "essex"


def test_extends_chain_one_deeper_is_an_error(tmp_path):
    with pytest.raises(ScenarioError, match="deeper than 8"):
        load_scenario(_chain(tmp_path, MAX_EXTENDS_DEPTH + 1))


def test_a_file_extending_itself_is_a_cycle(tmp_path):
    path = write(tmp_path / "self.toml", 'extends = "self.toml"\n')
    with pytest.raises(ScenarioError, match="extends cycle: self.toml -> self.toml"):
        load_scenario(path)


def test_bundled_scenarios_all_validate():
    for path in sorted(ESSEX_PATH.parent.glob("*.toml")):
        assert load_scenario(path).meta.name == path.stem


# --- --set ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override, path, expected",
    [
        ("contract.payment_lag_quarters=2", ("contract", "payment_lag_quarters"), 2),
        ("contract.cap=7.1e6", ("contract", "cap"), 7.1e6),
        ("contract.cap=7_100_000", ("contract", "cap"), 7_100_000),
        ("contract.netting=cohort", ("contract", "netting"), "cohort"),
        ('contract.netting="cohort"', ("contract", "netting"), "cohort"),
        ("meta.description=two words", ("meta", "description"), "two words"),
        ("contract.mechanisms.0.price_per_day=80", ("contract", "mechanisms", 0, "price_per_day"), 80),
        ("effect.duration_months.median=30", ("effect", "duration_months", "median"), 30),
        ('effect.duration_months={ dist = "uniform", low = 6, high = 18 }', ("effect", "duration_months"),
         {"dist": "uniform", "low": 6, "high": 18}),
        ("meta.sources=['E1', 'E2']", ("meta", "sources"), ["E1", "E2"]),
        ("contract.mechanisms.1={ type = 'engagement', price_per_person = 100 }", ("contract", "mechanisms", 1),
         {"type": "engagement", "price_per_person": 100}),
        ("spv.reserve.source=judgement: a test", ("spv", "reserve", "source"), "judgement: a test"),
        (" contract.cap = 5e6 ", ("contract", "cap"), 5e6),
    ],
)
def test_set_overrides(override, path, expected):
    raw = load_raw(ESSEX_PATH, [override])
    node = raw
    for part in path:
        node = node[part]
    assert node == expected
    load_scenario(ESSEX_PATH, [override])  # and the result validates


def test_set_into_a_distribution_keeps_its_other_parameters():
    scenario = load_scenario(ESSEX_PATH, ["effect.duration_months.median=30"])
    original = ESSEX_RAW["effect"]["duration_months"]
    assert scenario.effect.duration_months.median == 30
    assert scenario.effect.duration_months.sigma == original["sigma"]


def test_set_into_a_plain_number_keeps_the_number():
    raw = load_raw(ESSEX_PATH, ["meta.reference_moic=1.5", "spv.reserve=1000", "spv.reserve.source=E1"])
    assert raw["spv"]["reserve"] == {"value": 1000, "source": "E1"}


def test_later_overrides_win_and_the_file_is_untouched():
    before = ESSEX_PATH.read_bytes()
    scenario = load_scenario(ESSEX_PATH, ["contract.cap=1e6", "contract.cap=2e6"])
    assert scenario.contract.cap.value == 2e6
    assert ESSEX_PATH.read_bytes() == before


def test_set_is_validated_like_the_file():
    with pytest.raises(ScenarioError) as caught:
        load_scenario(ESSEX_PATH, ["effect.completion_rate=1.5"])
    assert [p.key for p in caught.value.problems] == ["effect.completion_rate"]
    assert caught.value.file == str(ESSEX_PATH)


# --- hash -----------------------------------------------------------------------------------


def test_scenario_hash_is_stable():
    first, second = load_scenario(), load_scenario(ESSEX_PATH)
    assert scenario_sha256(first) == scenario_sha256(second)
    assert len(scenario_sha256(first)) == 64


@pytest.mark.parametrize(
    "override",
    [
        "contract.cap=7100000",
        "contract.mechanisms.0.price_per_day=76",
        "effect.duration_months.sigma=0.61",
        "referrals.teams=3",
        "meta.description=changed",
        "effect.completion_rate.source=E31: a changed citation",
        "correlations.0.rank=-0.31",
        "simulation.chunk_size=500",
    ],
)
def test_scenario_hash_changes_with_any_value(override):
    assert scenario_sha256(load_scenario(ESSEX_PATH, [override])) != scenario_sha256(load_scenario())


def test_scenario_hash_ignores_how_a_number_is_written():
    base = scenario_sha256(load_scenario(ESSEX_PATH, ["contract.cap=7_200_000"]))
    assert scenario_sha256(load_scenario(ESSEX_PATH, ["contract.cap=7.2e6"])) == base
    assert scenario_sha256(load_scenario(ESSEX_PATH, ["contract.cap={ value = 7200000 }"])) == base


# --- defaults and data-not-code -------------------------------------------------------------


def test_load_scenario_defaults_to_essex():
    default = load_scenario()
    assert default.meta.name == "essex"
    assert default == load_scenario(ESSEX_PATH)
    assert simsib.load_scenario is load_scenario


def test_validate_accepts_the_parsed_table_and_rejects_non_tables():
    assert validate(copy.deepcopy(ESSEX_RAW)).meta.name == "essex"
    with pytest.raises(ScenarioError):
        validate(["not", "a", "table"])  # type: ignore[arg-type]


def test_code_in_a_scenario_stays_text(tmp_path):
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    path = child_of_essex(tmp_path, f"[meta]\ndescription = {code!r}\n")
    assert load_scenario(path).meta.description == code
    assert load_scenario(ESSEX_PATH, [f"meta.description={code}"]).meta.description == code
    with pytest.raises(ScenarioError):
        load_scenario(ESSEX_PATH, [f"contract.cap={code}"])
    with pytest.raises(ScenarioError):
        load_scenario(ESSEX_PATH, ["contract.cap=7.2e6 + 1"])
    assert not marker.exists()


@pytest.mark.parametrize("module", sorted(p.relative_to(ROOT / "simsib" / "scenario").as_posix()
                                         for p in (ROOT / "simsib" / "scenario").rglob("*.py")))
def test_loading_modules_never_evaluate_or_import_by_name(module):
    tree = ast.parse((ROOT / "simsib" / "scenario" / module).read_text(encoding="utf-8"))
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not calls & {"eval", "exec", "compile", "__import__"}
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names} | {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"pickle", "importlib", "marshal", "shelve", "yaml", "dill", "runpy"}


# --- errors ---------------------------------------------------------------------------------


def test_scenario_error_survives_pickling():
    # Raised in a worker process, it must arrive intact.
    error = ScenarioError([Problem(key="contract.cap", message="bad", value=-1, has_value=True)], file="x.toml")
    copy_ = pickle.loads(pickle.dumps(error))
    assert copy_.problems == error.problems and copy_.file == "x.toml" and str(copy_) == str(error)


@pytest.mark.parametrize("parts", [["meta", "name"], ["contract", "mechanisms", 0, "type"], ["meta", "a.b"],
                                   ["meta", "[x]"], ["meta", ""], ["meta", "\x7f\n\"é"]])
def test_dotted_keys_read_back_as_toml(parts):
    node = tomllib.loads(f"{dotted(parts)} = 1")
    for part in parts:
        node = node[str(part)]
    assert node == 1


# --- the scenario reference -----------------------------------------------------------------


def test_reference_doc_is_up_to_date():
    committed = (ROOT / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    assert committed == reference.render_reference(), (
        f"docs/scenario-reference.md is out of date with the schema; regenerate it with `{reference.REGENERATE}`"
    )


def test_reference_names_every_table_and_key():
    import simsib.scenario.distributions
    import simsib.scenario.format

    text = reference.render_reference()
    from simsib.scenario.format.fields import Section

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    from simsib.scenario.format.cohorts import BASES

    tables = [c for c in subclasses(Section) if c.__module__.startswith("simsib.scenario.format") and c not in BASES]
    assert len(tables) >= 14
    for table in [*tables, *simsib.scenario.distributions._FAMILIES]:
        if table is simsib.scenario.format.Scenario:
            continue
        assert " ".join(table.__doc__.split()[:4]).replace("``", "`") in text, table
        for name, info in table.model_fields.items():
            if name != "dist":
                assert f"| `{info.alias or name}` |" in text, f"{table.__name__}.{name}"


def test_reference_examples_make_a_valid_scenario():
    examples = reference.SECTION_EXAMPLES
    mechanisms = [k for k in examples if k.startswith("contract.mechanisms.")]
    base = "\n\n".join(text for key, text in examples.items() if key not in mechanisms[1:])
    scenario = validate(tomllib.loads(base))
    assert scenario.meta.name == "essex-weak-effect"
    for key in mechanisms[1:]:
        data = tomllib.loads(base)
        data["contract"]["mechanisms"] = tomllib.loads(examples[key])["contract"]["mechanisms"]
        assert validate(data).contract.mechanisms[0].type == key.rsplit(".", 1)[1]


def test_reference_family_examples_are_valid():
    from simsib.scenario.distributions import _FAMILIES, _tag

    assert set(reference.FAMILY_EXAMPLES) == {_tag(f) for f in _FAMILIES}
    for tag, examples in reference.FAMILY_EXAMPLES.items():
        for example in examples:
            assert as_distribution(tomllib.loads(f"x = {example}")["x"]).dist == tag
