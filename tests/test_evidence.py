"""The evidence register and labels shipped in the package: complete, well formed, cited correctly."""

from __future__ import annotations

from pathlib import Path

import pytest

from simsib.scenario.evidence import citations_after, cited_ids, label, register, sources_in, unit
from simsib.scenario.format import all_quantities
from simsib.scenario.loader import bundled_scenario_path, load_raw, load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "simsib" / "scenarios").glob("*.toml"))
TAGS = {"P", "D", "J", "?"}


def test_register_entries_are_complete():
    entries = register()
    assert len(entries) >= 57
    for entry in entries.values():
        assert entry.title and entry.figure and entry.source, entry.id
        assert set(entry.tag.replace(" ", "").split("/")) <= TAGS, (entry.id, entry.tag)
        assert 1990 <= entry.year <= 2026, entry.id
        if entry.later_year is not None:
            assert entry.later_year > entry.year and entry.later_part, entry.id
        assert len(entry.title) <= 80, entry.id


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_cited_id_is_in_the_register(path):
    cited = cited_ids(sources_in(load_raw(path)))
    assert cited, f"{path.name} cites no evidence"
    missing = [i for i in cited if i not in register()]
    assert not missing, f"{path.name} cites ids the register lacks: {missing}"


def test_cited_ids_reads_lists_and_text():
    assert cited_ids(["E20: START, OR 1.25", "E5, E12; judgement", "judgement: none", "E5"]) == ["E20", "E5", "E12"]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_per_draw_input_has_a_plain_label_and_unit(path):
    for key in all_quantities(load_scenario(path)):
        assert label(key) != key, f"no label for {key}"
        assert len(label(key, short=True)) <= 34, key
        assert unit(key), f"no unit for {key}"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_per_draw_column_has_a_plain_label_and_unit(path):
    import simsib

    for column in simsib.simulate(load_scenario(path), draws=4, seed=1).draws.columns:
        assert label(column) != column, f"no label for the column {column}"
        assert len(label(column, short=True)) <= 34, column
        assert unit(column) or column in ("irr_status",), f"no unit for the column {column}"


def test_labels_of_metrics_and_mechanism_fields():
    assert "multiple" in label("moic_committed") or "×" in (unit("moic_committed") or "")
    assert label("contract.mechanisms.3.price_per_day") == label("contract.mechanisms.0.price_per_day")
    assert label("no.such.key") == "no.such.key"


# Scenarios that must use only the evidence public at a date: the year they are dated.
DATED = {"essex-2012": 2012, "essex-launch": 2012}


@pytest.mark.parametrize("name", DATED)
def test_a_dated_scenario_cites_nothing_published_after_its_date(name):
    raw = load_raw(bundled_scenario_path(name))  # after `extends`: inherited values count too
    sources = sources_in(raw)
    assert len(cited_ids(sources)) >= 10
    assert citations_after(sources, DATED[name]) == []


def test_the_date_check_catches_later_evidence_and_unmarked_mixed_ids():
    problems = citations_after([
        "E20: START trial",  # 2018
        "E6: historical comparison group",  # 2012, but mixed with the realised 10.8% (2019)
        "E6: historical comparison group (2012 part)",  # fine
        "E22: efficacy trials",  # 2004, fine
        "E3, E22: 1.45x",  # 2019
        "E99: unknown",
    ], 2012)
    assert len(problems) == 4
    assert [p.split()[0] for p in problems] == ["E20", "E6", "E3", "E99"]
