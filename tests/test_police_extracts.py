"""Real police extracts: the layouts of the police systems (one file per layout in
``tests/data``, written for these tests in the documented layout), nothing silently dropped,
re-importable rejects, safe files and ``geoveilig crimetypes``."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geoveilig import crimetypes
from geoveilig.cli import app
from geoveilig.errors import InvalidInput, UnknownCrimeType
from geoveilig.incidents import parse_incidents, write_rejects
from geoveilig.settings import Settings
from geoveilig.store import Store

DATA = Path(__file__).parent / "data"
runner = CliRunner()


@pytest.fixture
def env(monkeypatch, tmp_path, shared_geo):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GEOVEILIG_DATABASE_URL", raising=False)
    return tmp_path


def _store() -> Store:
    return Store(Settings().resolved_database_url())


def _parse(name: str, areas, data: bytes | None = None):
    return parse_incidents(data if data is not None else (DATA / name).read_bytes(),
                           filename=name, areas=areas)


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Europe/Amsterdam")


# --- layouts ------------------------------------------------------------------------------

def test_bvh_layout_keeps_begin_and_end_times(areas):
    """The issue's trial file: the 08:00-17:30 burglary window must not become 00:00."""
    r = _parse("bvh_export.csv", areas)
    assert r.rejected_rows == 0 and len(r.frame) == 3
    assert r.source == {"format": "csv", "encoding": "cp1252", "sep": ",", "newline": "\r\n"}
    f = r.frame.set_index("incident_id")
    first = f.loc["PL2200-2017001001"]
    assert first["occurred_from"] == _ts("2017-03-14 08:00")
    assert first["occurred_to"] == _ts("2017-03-14 17:30")
    assert first["occurred_at"] == _ts("2017-03-14 12:45")  # the window's midpoint
    assert first["crime_type"] == "woninginbraak"
    second = f.loc["PL2200-2017001002"]  # "7:15" is read as 07:15, the class is the shed one
    assert second["occurred_to"] == _ts("2017-03-16 07:15")
    assert second["crime_type"] == "inbraak-schuur-garage"
    assert second["address"] == "Café Zuid"
    assert r.coordinate_system == "wgs84"  # lon in X, lat in Y
    assert r.columns["begin pleegperiode (tijd)"] == "Begintijd"
    assert r.columns["einde pleegperiode (tijd)"] == "Eindtijd"
    assert r.ignored_columns == ["Plaats"]


def test_bvi_layout_utf16_tabs_codes_and_status(areas):
    r = _parse("bvi_ib_export.txt", areas)
    assert r.rejected_rows == 0
    assert r.source["encoding"] == "utf-16-le" and r.source["sep"] == "\t"
    f = r.frame.set_index("incident_id")
    assert list(f["crime_type"]) == ["woninginbraak", "mishandeling", "vernieling"]
    assert f.loc["BVI-2017-0001", "occurred_at"] == _ts("2017-03-14 21:30")
    assert r.columns["misdrijftype (politiecode)"] == "Incidentcode"
    assert r.columns["misdrijftype"] == "Maatschappelijke klasse"
    assert r.columns["x (RD)"] == "RD X" and r.coordinate_system == "rd"
    assert not f["withdrawn"].any()


def test_open_data_layout_code_and_label_in_one_column(areas):
    r = _parse("politie_open_data.csv", areas)
    assert r.rejected_rows == 0
    assert list(r.frame["crime_type"]) == ["inbraak-schuur-garage", "fietsendiefstal",
                                           "inbraak-bedrijf"]
    assert r.columns["breedtegraad"] == "Breedtegraad"


def test_xlsx_layout_with_excel_dates_and_times(areas, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Registratienummer", "Maatschappelijke klasse", "Begindatum", "Begintijd",
                  "Einddatum", "Eindtijd", "X-coördinaat", "Y-coördinaat"])
    sheet.append(["X-1", "Diefstal/inbraak woning", datetime(2017, 3, 14), time(8, 0),
                  datetime(2017, 3, 14), time(17, 30), 175965.6, 385810.5])
    sheet.append(["X-2", "1.4.4", datetime(2017, 3, 15, 22, 15), None, None, None,
                  177630, 385682])
    path = tmp_path / "extract.xlsx"
    book.save(path)
    r = _parse("extract.xlsx", areas, path.read_bytes())
    assert r.rejected_rows == 0, r.rejects
    f = r.frame.set_index("incident_id")
    assert f.loc["X-1", "occurred_from"] == _ts("2017-03-14 08:00")
    assert f.loc["X-1", "occurred_to"] == _ts("2017-03-14 17:30")
    assert f.loc["X-2", "crime_type"] == "bedreiging"
    assert f.loc["X-2", "occurred_at"] == _ts("2017-03-15 22:15")
    assert r.source["format"] == "xlsx"


# --- nothing silently dropped ---------------------------------------------------------------

HEAD = "registratienummer;soort;pleegdatum;x;y"
ROW = "a;woninginbraak;2017-01-01 10:00;173624;388270"


def test_unused_date_or_time_column_is_an_error(areas):
    for extra, value in (("Meldtijd", "10:15"), ("Aangiftedatum", "02-01-2017"),
                         ("kolom7", "03-01-2017 12:00")):
        data = f"{HEAD};{extra}\n{ROW};{value}\n".encode()
        with pytest.raises(InvalidInput, match=f"niet gebruikt worden: {extra}"):
            parse_incidents(data, filename="f.csv", areas=areas)
    # a column that is neither used nor a date is named, and the file is read
    r = parse_incidents(f"{HEAD};Opmerking\n{ROW};let op\n".encode(), filename="f.csv",
                        areas=areas)
    assert r.ignored_columns == ["Opmerking"] and len(r.frame) == 1


def test_duplicate_header_columns_are_refused_with_their_names(areas):
    data = f"{HEAD};Soort\n{ROW};overval\n".encode()
    with pytest.raises(InvalidInput, match="meer dan één keer.*soort"):
        parse_incidents(data, filename="f.csv", areas=areas)


def test_police_code_and_class_must_agree(areas):
    data = (b"nummer;incidentcode;maatschappelijke klasse;pleegdatum;x;y\n"
            b"a;1.1.1;Diefstal/inbraak woning;2017-01-01;173624;388270\n"
            b"b;1.4.7;Diefstal/inbraak woning;2017-01-01;173624;388270\n"
            b"c;9.9.9;Diefstal/inbraak woning;2017-01-01;173624;388270\n")
    r = parse_incidents(data, filename="f.csv", areas=areas)
    assert list(r.frame["incident_id"]) == ["a"]
    reasons = dict(zip(r.rejects["row"], r.rejects["reason"], strict=True))
    assert "verschillende misdrijftypen" in reasons[3]
    assert "onbekende politiecode" in reasons[4] and "geoveilig crimetypes" in reasons[4]


def test_unknown_crime_type_points_to_the_crimetypes_command(areas):
    r = parse_incidents(f"{HEAD}\na;fraude-x;2017-01-01;173624;388270\n".encode(),
                        filename="f.csv", areas=areas)
    assert "geoveilig crimetypes" in r.rejects["reason"].iloc[0]
    with pytest.raises(UnknownCrimeType, match="geoveilig crimetypes"):
        crimetypes.resolve("fraude-x")


# --- file types ---------------------------------------------------------------------------

def test_wrong_file_type_is_refused_from_its_first_bytes(env):
    big = env / "groot.csv"
    with big.open("wb") as fh:  # 1 GB (sparse): only the head may be read
        fh.write(b"%PDF-1.7\n")
        fh.truncate(1 << 30)
    result = runner.invoke(app, ["import", str(big)])
    assert result.exit_code == 1 and "PDF-document" in result.output
    assert "Traceback" not in result.output
    archive = env / "x.zip"
    with __import__("zipfile").ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "hallo")
    result = runner.invoke(app, ["import", str(archive)])
    assert result.exit_code == 1 and "zip-archief" in result.output


def test_non_point_geometries_are_rejected_per_row(env):
    pt = shapely.Point(173624, 388270)
    gdf = gpd.GeoDataFrame({
        "registratienummer": ["p", "poly", "multi"],
        "soort": ["woninginbraak", "overval", "straatroof"],
        "pleegdatum": ["2017-01-01", "2017-01-02", "2017-01-03"],
    }, geometry=[pt, pt.buffer(10), shapely.MultiPoint([(173624, 388270), (173630, 388280)])],
        crs=28992)
    path = env / "mixed.geojson"
    gdf.to_file(path, driver="GeoJSON")
    rej = env / "afgewezen.geojson"
    result = runner.invoke(app, ["import", str(path), "--rejects", str(rej)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "geometrie is geen punt" in result.output
    result = runner.invoke(app, ["import", str(path), "--partial", "--rejects", str(rej)])
    assert result.exit_code == 0, result.output
    assert "Ingelezen: 1," in result.output and "afgewezen: 2" in result.output
    back = gpd.read_file(rej)
    assert list(back["registratienummer"]) == ["poly", "multi"]
    assert list(back.geometry.geom_type) == ["Polygon", "MultiPoint"]  # unchanged
    assert set(back["fout_reden"]) == {"geometrie is geen punt"}


# --- re-importable rejects -------------------------------------------------------------------

def test_rejects_round_trip_in_the_inputs_own_layout(env):
    text = ("Registratienummer,Omschrijving,Begindatum,Begintijd,Einddatum,Eindtijd,X,Y\r\n"
            "R1,Diefstal/inbraak woning,14-03-2017,08:00,14-03-2017,17:30,5.714318,51.439141\r\n"
            "R2,Fraude,15-03-2017,22:00,16-03-2017,07:15,5.617811,51.497302\r\n"
            "R3,Mishandeling,31-02-2017,13:05,,,5.699309,51.493882\r\n"
            "R4,Straatroof,16-03-2017,13:05,,,5.699309,51.493882\r\n")
    src = env / "extract.csv"
    src.write_bytes(text.encode("cp1252"))
    rej = env / "afgewezen.csv"
    result = runner.invoke(app, ["import", str(src), "--partial", "--rejects", str(rej)])
    assert result.exit_code == 0, result.output
    assert "Ingelezen: 2," in result.output and "afgewezen: 2" in result.output
    raw = rej.read_bytes()
    lines = raw.decode("cp1252").split("\r\n")  # the input's encoding and line ends
    assert lines[0] == ("Registratienummer,Omschrijving,Begindatum,Begintijd,Einddatum,"
                        "Eindtijd,X,Y,fout_kolom,fout_reden")
    rows = list(csv.reader(io.StringIO(raw.decode("cp1252")), delimiter=","))
    assert [r[:8] for r in rows[1:]] == [
        ["R2", "Fraude", "15-03-2017", "22:00", "16-03-2017", "07:15", "5.617811", "51.497302"],
        ["R3", "Mishandeling", "31-02-2017", "13:05", "", "", "5.699309", "51.493882"]]
    assert rows[1][8] == "Omschrijving" and "onbekend misdrijftype" in rows[1][9]
    assert rows[2][8] == "Begindatum" and "datum niet te lezen" in rows[2][9]
    # fix both rows in the rejects file and import it again
    fixed = raw.decode("cp1252").replace(",Fraude,", ",Bedreiging,").replace(
        "31-02-2017", "28-02-2017")
    rej.write_bytes(fixed.encode("cp1252"))
    result = runner.invoke(app, ["import", str(rej)])
    assert result.exit_code == 0, result.output
    assert "Ingelezen: 2," in result.output
    assert "Genegeerde kolommen: fout_kolom, fout_reden" in result.output
    with _store() as store:
        got = store.incidents().set_index("incident_id")
    assert sorted(got.index) == ["R1", "R2", "R3", "R4"]
    assert got.loc["R2", "crime_type"] == "bedreiging"
    assert got.loc["R2", "occurred_to"] == _ts("2017-03-16 07:15")


def test_rejects_of_a_store_conflict_and_an_excel_file(env, areas):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["registratienummer", "soort", "pleegdatum", "x", "y"])
    sheet.append(["E1", "overval", "2017-01-01 10:00", 173624, 388270])
    sheet.append(["E2", "onzin", "2017-01-01 10:00", 173624, 388270])
    path = env / "a.xlsx"
    book.save(path)
    rej = env / "afgewezen.xlsx"
    result = runner.invoke(app, ["import", str(path), "--rejects", str(rej)])
    assert result.exit_code == 2
    back = openpyxl.load_workbook(rej).active
    rows = [list(r) for r in back.iter_rows(values_only=True)]
    assert rows[0] == ["registratienummer", "soort", "pleegdatum", "x", "y", "fout_kolom",
                       "fout_reden"]
    assert rows[1][:2] == ["E2", "onzin"] and len(rows) == 2
    data = path.read_bytes()
    rejects = pd.DataFrame({"row": [2], "column": ["registratienummer"], "value": ["E1"],
                            "reason": ["botst"]})
    assert write_rejects(data, "a.xlsx", rejects, env / "b.xlsx") == 1


# --- safe files -------------------------------------------------------------------------------

DANGEROUS = ["=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "+HYPERLINK(\"http://x\")"]


def test_formulas_round_trip_export_then_import(env, monkeypatch):
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";")
    writer.writerow([*HEAD.split(";"), "adres"])
    for i, value in enumerate(DANGEROUS):
        writer.writerow([f"f{i}", "woninginbraak", f"2017-01-0{i + 1} 10:00", "173624",
                         "388270", value])
    src = env / "in.csv"
    src.write_text(buf.getvalue(), encoding="utf-8")
    result = runner.invoke(app, ["import", str(src)])
    assert result.exit_code == 0, result.output
    out = env / "export.csv"
    assert runner.invoke(app, ["export", "--out", str(out)]).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8")), delimiter=";"))
    cells = [r[rows[0].index("adres")] for r in rows[1:]]
    assert sorted(cells) == sorted("'" + v for v in DANGEROUS)  # neutralised in the file
    with _store() as store:
        before = store.incidents().set_index("incident_id")["address"].to_dict()
    assert sorted(before.values()) == sorted(DANGEROUS)
    # a fresh store: the exported file imports to the same values
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(env / "second"))
    result = runner.invoke(app, ["import", str(out)])
    assert result.exit_code == 0, result.output
    with _store() as store:
        after = store.incidents().set_index("incident_id")["address"].to_dict()
    assert after == before


# --- geoveilig crimetypes ---------------------------------------------------------------------

def test_crimetypes_command_lists_every_accepted_name(env):
    result = runner.invoke(app, ["crimetypes"])
    assert result.exit_code == 0
    assert "inbraak-schuur-garage" in result.output
    assert "Diefstal/inbraak box/garage/schuur/tuinhuis" in result.output
    result = runner.invoke(app, ["crimetypes", "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.output), delimiter=";"))
    assert {r["slug"] for r in rows} == set(crimetypes.SLUGS)
    for r in rows:  # every listed name is accepted and gives its category
        assert crimetypes.resolve(r["naam"]) == r["slug"], r
    assert {"slug", "label", "synoniem", "politiecode", "politieklasse", "incidentcode"} == {
        r["soort"] for r in rows}
    assert runner.invoke(app, ["crimetypes", "--format", "xml"]).exit_code != 0


# --- dates from the data, not the clock -------------------------------------------------------

def test_reference_date_is_the_day_after_the_last_incident_when_data_end_earlier():
    from datetime import date

    from geoveilig.times import reference_date

    day, note = reference_date(_ts("2017-03-16 13:05"), today=date(2026, 12, 6))
    assert day == date(2017, 3, 17) and "dag na het laatste incident (2017-03-16)" in note
    assert reference_date(_ts("2026-12-06 08:00"), today=date(2026, 12, 6))[0] == \
        date(2026, 12, 6)
    assert reference_date(None, today=date(2026, 12, 6)) == (date(2026, 12, 6),
                                                             "peildatum 2026-12-06 (vandaag)")


def test_prevention_commands_default_to_the_day_after_the_data(env):
    assert runner.invoke(app, ["import", str(DATA / "bvh_export.csv")]).exit_code == 0
    reg = env / "reg.csv"
    reg.write_text("group_id;type;label;buurten;status_history\n"
                   "t1;bpt;BPT Dierdonk;BU07941900|BU07941909;actief 2016-06-01\n",
                   encoding="utf-8")
    assert runner.invoke(app, ["prevention", "import", str(reg)]).exit_code == 0
    result = runner.invoke(app, ["prevention", "gaps", "--crime-type", "totaal"])
    assert result.exit_code == 0, result.output
    assert "Peildatum 2017-03-17: de dag na het laatste incident" in result.output
    assert "Witte vlekken op 2017-03-17" in result.output
    result = runner.invoke(app, ["prevention", "coverage"])
    assert result.exit_code == 0, result.output
    assert "Dekking preventiegroepen op 2017-03-17" in result.output


def test_prevention_layers_default_date_comes_from_the_data(tmp_path, areas):
    from geoveilig.layers import LayerContext, build_prevention_coverage
    from geoveilig.store import prevention as sp

    store = Store.sqlite(tmp_path / "s.sqlite")
    try:
        parsed = _parse("bvh_export.csv", areas)
        store.import_incidents(parsed, source_name="bvh_export.csv", content_sha256="0" * 64)
        sp.add_group(store, group_id="t1", type="bpt", status="actief", since="2016-01-01",
                     buurten=["BU07941900"])
        layer = build_prevention_coverage(LayerContext(areas=areas, store=store), {})
        assert set(layer["date"]) == {"2017-03-17"}
    finally:
        store.close()
