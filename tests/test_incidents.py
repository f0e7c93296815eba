import io
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from geoveilig.errors import GeoveiligError, InvalidInput
from geoveilig.incidents import parse_datetime, parse_incidents, parse_number

NOW = pd.Timestamp("2018-04-20 12:00", tz="Europe/Amsterdam")
CENTRUM = (173624.5, 388270.2)  # inside BU07941000 Centrum
ANNA = (173949.0, 386938.0)  # inside BU07941006 Annabuurt en Suytkade
TO_WGS = Transformer.from_crs(28992, 4326, always_xy=True)


def parse(text: str, **kw):
    kw.setdefault("now", NOW)
    return parse_incidents(text.encode("utf-8"), filename=kw.pop("filename", "t.csv"), **kw)


def reasons(result):
    return dict(zip(result.rejects["row"], result.rejects["reason"], strict=False))


def test_dutch_csv_with_semicolons_and_decimal_commas(areas):
    text = ("Registratienummer;Soort misdrijf;Pleegdatum;X;Y;Adres\n"
            "2017001;Woninginbraken;14-03-2017 21:30;173624,5;388270,2;Markt 1\n"
            "2017002;fietsendiefstal;15/03/2017;173.949,0;386.938,0;\n")
    r = parse(text, areas=areas)
    assert r.coordinate_system == "rd"
    assert len(r.rejects) == 0
    got = r.incidents
    assert list(got["incident_id"]) == ["2017001", "2017002"]
    assert list(got["crime_type"]) == ["woninginbraak", "fietsendiefstal"]
    assert got["occurred_at"].iloc[0] == pd.Timestamp("2017-03-14 21:30", tz="Europe/Amsterdam")
    assert got["x"].iloc[1] == 173949.0
    assert list(got["buurt_code"]) == ["BU07941000", "BU07941006"]
    assert list(got["wijk_code"]) == ["WK079410", "WK079410"]
    assert got["address"].iloc[0] == "Markt 1" and pd.isna(got["address"].iloc[1])
    assert got.crs.to_epsg() == 28992


def test_english_csv_with_lon_lat(areas):
    lon, lat = TO_WGS.transform(*CENTRUM)
    text = ("id,crime_type,occurred_at,lon,lat\n"
            f"a,burglary,2017-03-14T21:30:00+01:00,{lon:.7f},{lat:.7f}\n")
    r = parse(text, areas=areas)
    assert r.coordinate_system == "wgs84"
    assert abs(r.incidents["x"].iloc[0] - CENTRUM[0]) < 0.05
    assert r.incidents["buurt_code"].iloc[0] == "BU07941000"


def test_plain_xy_detected_as_lonlat(areas):
    lon, lat = TO_WGS.transform(*ANNA)
    rows = "".join(f"i{k};straatroof;2017-01-0{k + 1};{lon:.6f};{lat:.6f}\n" for k in range(5))
    r = parse("id;soort;datum;x;y\n" + rows, areas=areas)
    assert r.coordinate_system == "wgs84" and len(r.incidents) == 5


def test_lonlat_row_in_rd_file_is_rejected(areas):
    rows = "".join(f"i{k};straatroof;2017-01-0{k + 1};{CENTRUM[0]};{CENTRUM[1]}\n"
                   for k in range(8))
    r = parse("id;soort;datum;x;y\n" + rows + "bad;straatroof;2017-01-09;5,65;51,47\n",
              areas=areas)
    assert r.coordinate_system == "rd"
    assert reasons(r) == {10: "lijkt op lon/lat in een RD-kolom"}


def test_ambiguous_coordinates_are_refused():
    text = ("id;soort;datum;x;y\n"
            f"a;straatroof;2017-01-01;{CENTRUM[0]};{CENTRUM[1]}\n"
            "b;straatroof;2017-01-01;5,65;51,47\n")
    with pytest.raises(InvalidInput, match="dubbelzinnig.*--crs"):
        parse(text)
    with pytest.raises(InvalidInput, match="niet te bepalen"):
        parse("id;soort;datum;x;y\na;straatroof;2017-01-01;9999999;1\n")


def test_declared_crs_wins(areas):
    text = f"id;soort;datum;x;y\na;straatroof;2017-01-01;{CENTRUM[0]};{CENTRUM[1]}\n"
    r = parse(text, crs="wgs84", areas=areas)
    assert reasons(r) == {2: "lijkt op een RD-coördinaat in een lon/lat-kolom"}


def test_every_rejection_reason_with_row_and_column(areas):
    c = f"{CENTRUM[0]};{CENTRUM[1]}"
    text = "\n".join([
        "registratienummer;soort;pleegdatum;x;y",
        f"ok1;woninginbraak;2017-03-14 21:30;{c}",          # 2 ok
        f";woninginbraak;2017-03-14;{c}",                   # 3 missing id
        f"r4;fraude;2017-03-14;{c}",                        # 4 unknown type
        f"r5;woninginbraak;gisteren;{c}",                   # 5 unparseable date
        f"r6;woninginbraak;2030-01-01;{c}",                 # 6 future
        "r7;woninginbraak;2017-03-14;abc;388270",           # 7 not a number
        "r8;woninginbraak;2017-03-14;;388270",              # 8 missing coordinate
        "r9;woninginbraak;2017-03-14;150000;400000",        # 9 outside the gemeente
        f"r10;woninginbraak;2017-03-14;{c}",                # 10 dup id, other content ...
        f"r10;woninginbraak;2017-03-15;{c}",                # 11 ... conflicting
        f"ok1;woninginbraak;2017-03-14 21:30;{c}",          # 12 exact duplicate: dropped
        f"r13;woninginbraak;;{c}",                          # 13 missing date
        "",
    ])
    r = parse(text, areas=areas)
    rej = r.rejects
    by_row = rej.groupby("row")["reason"].apply(list).to_dict()
    assert by_row[3] == ["registratienummer ontbreekt"]
    assert by_row[4][0].startswith("onbekend misdrijftype")
    assert by_row[5][0].startswith("datum niet te lezen")
    assert by_row[6] == ["datum ligt in de toekomst"]
    assert by_row[7] == ["coördinaat is geen getal"]
    assert by_row[8] == ["coördinaat ontbreekt"]
    assert by_row[9] == ["ligt buiten de gemeente Helmond (in geen enkele buurt)"]
    assert by_row[10] == by_row[11] == ["dubbel registratienummer met andere inhoud (rijen 10, 11)"]
    assert by_row[13] == ["datum ontbreekt"]
    assert set(rej.loc[rej.row == 4, "column"]) == {"soort"}
    assert set(rej.loc[rej.row == 4, "value"]) == {"fraude"}
    assert list(r.incidents["incident_id"]) == ["ok1"]
    assert r.duplicates_in_file == 1
    assert r.rejected_rows == 10


def test_window_only_uses_midpoint_and_checks_order(areas):
    c = f"{CENTRUM[0]};{CENTRUM[1]}"
    text = ("id;soort;begindatum;einddatum;x;y\n"
            f"a;woninginbraak;10-03-2017 18:00;11-03-2017 08:00;{c}\n"
            f"b;woninginbraak;11-03-2017 18:00;10-03-2017 08:00;{c}\n")
    r = parse(text, areas=areas)
    assert r.incidents["occurred_at"].iloc[0] == pd.Timestamp("2017-03-11 01:00",
                                                              tz="Europe/Amsterdam")
    assert reasons(r) == {3: "einde van de pleegperiode ligt voor het begin"}


def test_not_text_and_empty_and_missing_columns():
    with pytest.raises(InvalidInput, match="geen tekstbestand"):
        parse_incidents(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" * 10, filename="foto.csv")
    with pytest.raises(InvalidInput, match="leeg"):
        parse_incidents(b"   \n", filename="leeg.csv")
    with pytest.raises(InvalidInput, match="verplichte kolom.*misdrijftype.*Gevonden kolommen: id"):
        parse("id;datum;x;y\n1;2017-01-01;1;2\n")
    with pytest.raises(InvalidInput, match="geen geldige GeoPackage"):
        parse_incidents(b"not sqlite", filename="x.gpkg")


def test_geojson_and_geopackage(areas, tmp_path):
    lon, lat = TO_WGS.transform(*ANNA)
    gdf = gpd.GeoDataFrame(
        {"id": ["g1", "g2"], "soort": ["Straatroof", "Overval"],
         "datum": ["2017-05-01T22:00:00", "2017-05-02T10:00:00"]},
        geometry=gpd.points_from_xy([lon, lon], [lat, lat]), crs=4326)
    buf = io.BytesIO()
    gdf.to_file(buf, driver="GeoJSON")
    r = parse_incidents(buf.getvalue(), filename="x.geojson", areas=areas, now=NOW)
    assert r.coordinate_system == "wgs84" and list(r.incidents["buurt_code"]) == ["BU07941006"] * 2
    path = tmp_path / "inc.gpkg"
    gdf.to_crs(28992).to_file(path, driver="GPKG")
    r = parse_incidents(path.read_bytes(), filename="inc.gpkg", areas=areas, now=NOW)
    assert r.coordinate_system == "rd" and len(r.incidents) == 2
    assert abs(r.incidents["x"].iloc[0] - ANNA[0]) < 0.05


def test_parse_number_and_datetime_formats():
    got = parse_number(pd.Series(["155123,45", "155.123,45", "155123.45", "5,65", "", "x"]))
    np.testing.assert_allclose(got[:4], [155123.45, 155123.45, 155123.45, 5.65])
    assert got[4:].isna().all()
    dt = parse_datetime(pd.Series(["2017-03-26 02:30", "2017-10-29 02:30", "2017-10-29T02:30+01:00",
                                   "20170101", "31-12-2017"]))
    assert dt.iloc[0] == pd.Timestamp("2017-03-26 03:30", tz="Europe/Amsterdam")  # DST gap
    assert dt.iloc[1].utcoffset() == pd.Timedelta(hours=1)  # ambiguous hour: winter time
    assert dt.iloc[2] == dt.iloc[1]
    assert dt.iloc[3] == pd.Timestamp("2017-01-01", tz="Europe/Amsterdam")
    assert dt.iloc[4] == pd.Timestamp("2017-12-31", tz="Europe/Amsterdam")


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(
    st.floats(-1e7, 1e7, allow_nan=False).map(lambda v: f"{v:.3f}"),
    st.floats(-1e7, 1e7, allow_nan=False).map(lambda v: f"{v:.2f}".replace(".", ",")),
    st.integers(1000, 999_999).map(lambda v: f"{v:,}".replace(",", ".") + ",5"),
    st.sampled_from(["", " ", "x", "1,2,3", "1.2.3", "nan", "inf", "1e5", " 7,5 ", "+.5"]),
), min_size=1, max_size=30))
def test_parse_number_fast_path_agrees_with_the_rules(values: list[str]) -> None:
    """A column of plain numbers takes one Arrow cast; any other value sends the whole column
    through the row-by-row rules. Both give the same number for every plain value, and
    anything non-numeric is not a finite number either way."""
    got = parse_number(pd.Series(values)).to_numpy()
    one_by_one = np.array([parse_number(pd.Series([v])).iloc[0] for v in values])
    finite = np.isfinite(got)
    np.testing.assert_array_equal(finite, np.isfinite(one_by_one))
    np.testing.assert_allclose(got[finite], one_by_one[finite])
    for v, g in zip(values, got, strict=True):
        plain = v.strip().replace(",", ".")
        if re.fullmatch(r"[-+]?\d+(\.\d+)?", plain):
            assert g == float(plain)


rd_x = st.floats(170_000, 178_000, allow_nan=False)
rd_y = st.floats(384_000, 390_500, allow_nan=False)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(rd_x, rd_y, st.integers(0, 364 * 24 * 60),
                               st.sampled_from(["Woninginbraak", "straatroof", "Overvallen",
                                                "fietsendiefstal"])),
                     min_size=1, max_size=25),
       dutch=st.booleans())
def test_property_formatting_round_trips(areas, rows, dutch):
    """Any valid rows, written in Dutch or English CSV style, parse back to the same values."""
    base = pd.Timestamp("2017-01-01")
    lines = []
    for k, (x, y, minutes, kind) in enumerate(rows):
        t = base + pd.Timedelta(minutes=minutes)
        if dutch:
            lines.append(f"N{k};{kind};{t:%d-%m-%Y %H:%M};{x:.2f};{y:.2f}".replace(".", ","))
        else:
            lines.append(f"N{k},{kind},{t:%Y-%m-%dT%H:%M},{x:.2f},{y:.2f}")
    header = "registratienummer;soort;datum;x;y" if dutch else "id,crime_type,occurred_at,x,y"
    r = parse("\n".join([header, *lines]) + "\n")
    assert len(r.rejects) == 0
    assert len(r.incidents) == len(rows)
    np.testing.assert_allclose(r.incidents["x"], [round(x, 2) for x, *_ in rows], atol=0.006)
    expected = [(base + pd.Timedelta(minutes=m)).tz_localize(
        "Europe/Amsterdam", ambiguous=False, nonexistent=pd.Timedelta(hours=1))
        for _, _, m, _ in rows]
    assert list(r.incidents["occurred_at"]) == expected


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda s: s.encode()))
def test_property_garbage_never_crashes(blob):
    """Arbitrary bytes give a result or a GeoveiligError, never another exception."""
    try:
        r = parse_incidents(blob, filename="x.csv", now=NOW)
    except GeoveiligError:
        return
    assert len(r.incidents) + r.rejected_rows + r.duplicates_in_file <= r.n_rows
