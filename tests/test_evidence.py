"""The evidence register and labels shipped in the package: complete, well formed, cited correctly."""

from __future__ import annotations

from pathlib import Path

import pytest

from simsib.scenario.evidence import cited_ids, label, register, sources_in, unit
from simsib.scenario.format import all_quantities
from simsib.scenario.loader import load_raw, load_scenario

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
