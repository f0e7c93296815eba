"""The one header matcher shared by the incident import and the prevention-group import."""

from geoveilig import incidents
from geoveilig.columns import key, map_columns
from geoveilig.prevention import io as prevention_io


def test_key_ignores_case_spaces_and_separators():
    assert key("  Begin_Datum ") == key("begin-datum") == key("BEGIN.DATUM") == "begindatum"


def test_first_synonym_wins_and_a_column_feeds_one_field():
    synonyms = {"a": ("x", "y"), "b": ("y", "z")}
    assert map_columns(["Y", "X"], synonyms) == {"a": "X", "b": "Y"}
    # 'y' is taken by field a when there is no x: b falls back to z, or stays unmapped
    assert map_columns(["y", "z"], synonyms) == {"a": "y", "b": "z"}
    assert map_columns(["y"], synonyms) == {"a": "y"}
    assert map_columns([], synonyms) == {}


def test_incident_import_uses_it():
    cols = ["Registratienummer", "Omschrijving", "Begin datum", "Begintijd", "X", "Y", "Extra"]
    mapped = incidents._map_columns(cols)
    assert mapped == map_columns(cols, incidents.SYNONYMS)
    assert mapped["incident_id"] == "Registratienummer"
    assert mapped["occurred_from"] == "Begin datum"
    assert mapped["time_from"] == "Begintijd"
    assert "Extra" not in mapped.values()


def test_prevention_import_uses_it():
    cols = ["Groep-ID", "Soort", "Buurtcodes", "Sinds"]
    mapped = map_columns(cols, prevention_io._SYNONYMS)
    assert mapped == {"group_id": "Groep-ID", "type": "Soort", "buurten": "Buurtcodes",
                      "since": "Sinds"}
