"""The command line's basics: --version, schema, validate, and a small run's folder."""

from __future__ import annotations

import json
import tomllib

import jsonschema
import pandas as pd
import pytest
from typer.testing import CliRunner

import simsib
from simsib.cli.main import app
from simsib.scenario.loader import bundled_scenario_path, load_raw, load_scenario, scenario_sha256

runner = CliRunner()
ESSEX_PATH = bundled_scenario_path("essex")
BUNDLED = sorted(ESSEX_PATH.parent.glob("*.toml"))
SECTIONS = {"meta", "simulation", "referrals", "population", "effect", "care", "contract", "spv", "correlations",
            "stress"}


def invoke(args: list[str]):
    result = runner.invoke(app, args)
    assert "Traceback" not in result.output, result.output
    return result


def test_version():
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"simsib {simsib.__version__}"


def test_schema_is_a_json_schema_of_the_sections(tmp_path):
    result = invoke(["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert SECTIONS <= set(schema["properties"])
    assert set(schema["required"]) == {"meta", "referrals", "contract", "spv"}  # [care] etc.: when a cohort needs them
    assert schema["additionalProperties"] is False
    out = tmp_path / "schema.json"
    assert invoke(["schema", "--out", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == schema


@pytest.fixture(scope="module")
def schema_validator():
    return jsonschema.Draft202012Validator(json.loads(invoke(["schema"]).stdout))


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_schema_accepts_every_bundled_scenario(path, schema_validator):
    # What an editor checks against the schema: shorthands such as `0.5`, `{ value = 30, source = .. }`
    # and `extends` must pass.  Children are checked merged (alone they lack required keys).
    validator = schema_validator
    merged = load_raw(path)
    assert [e.message for e in validator.iter_errors(merged)] == []
    if path == ESSEX_PATH:
        assert [e.message for e in validator.iter_errors(tomllib.loads(path.read_text()))] == []


def test_validate_bundled_scenarios():
    result = invoke(["validate", *map(str, BUNDLED)])
    assert result.exit_code == 0, result.output
    assert sum(line.startswith("ok") for line in result.output.splitlines()) == len(BUNDLED)


def test_validate_by_bundled_name_and_json():
    result = invoke(["validate", "essex", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [{"file": str(ESSEX_PATH), "valid": True, "name": "essex"}]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "essex"
    result = invoke(["run", "--draws", "200", "--seed", "3", "--out", str(out), "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_the_folder(run_folder):
    names = {p.name for p in run_folder.iterdir()}
    assert {"summary.json", "draws.parquet", "quarterly.csv", "manifest.json", "scenario.toml"} <= names
    summary = json.loads((run_folder / "summary.json").read_text())
    manifest = json.loads((run_folder / "manifest.json").read_text())
    assert summary["draws"] == 200 and summary["seed"] == 3 and summary["seed_entropy"] == 3
    assert manifest["scenario_sha256"] == summary["scenario_sha256"] == scenario_sha256(load_scenario())
    assert len(pd.read_parquet(run_folder / "draws.parquet")) == 200
    assert not pd.read_csv(run_folder / "quarterly.csv").empty


def test_the_written_scenario_revalidates_with_the_same_hash(run_folder):
    written = run_folder / "scenario.toml"
    result = invoke(["validate", str(written)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run_folder / "manifest.json").read_text())
    assert scenario_sha256(load_scenario(written)) == manifest["scenario_sha256"]


def test_set_is_recorded_in_the_written_scenario(tmp_path):
    out = tmp_path / "set"
    result = invoke(["run", "--draws", "20", "--seed", "1", "--out", str(out), "--workers", "1", "--quiet",
                     "--set", "contract.cap=6e6", "--set", "meta.name=capped", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["scenario"] == "capped"
    written = load_scenario(out / "scenario.toml")
    assert written.contract.cap.value == 6e6
    assert scenario_sha256(written) == summary["scenario_sha256"]


def test_unseeded_run_records_its_entropy(tmp_path):
    out = tmp_path / "unseeded"
    result = invoke(["run", "--draws", "20", "--out", str(out), "--workers", "1", "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["seed"] is None
    assert isinstance(summary["seed_entropy"], int) and summary["seed_entropy"] > 0
    assert manifest["seed_entropy"] == summary["seed_entropy"]
    # The recorded entropy reruns the same numbers.
    again = tmp_path / "again"
    rerun = invoke(["run", "--draws", "20", "--seed", str(summary["seed_entropy"]), "--out", str(again),
                    "--workers", "1", "--quiet"])
    assert rerun.exit_code == 0, rerun.output
    pd.testing.assert_frame_equal(pd.read_parquet(out / "draws.parquet"), pd.read_parquet(again / "draws.parquet"))


def test_validate_checks_the_stress_cases(tmp_path):
    """A misspelt key or an impossible value in a [stress.*] case is caught by validate."""
    essex = bundled_scenario_path("essex")
    child = tmp_path / "typo.toml"
    child.write_text(
        f'extends = "{essex.as_posix()}"\n\n'
        '[stress.typo]\nset = { "effect.log_hazard_rato" = 0 }\n\n'
        '[stress.impossible]\nset = { "effect.completion_rate" = 1.5 }\n'
    )
    result = CliRunner().invoke(app, ["validate", str(child)])
    assert result.exit_code == 2
    assert "stress.typo.set" in result.output and "log_hazard_ratio" in result.output
    assert "completion_rate" in result.output
    assert "Traceback" not in result.output
