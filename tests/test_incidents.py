import io
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
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


def test_iso_offsets_of_every_form_and_unknown_endings():
    """Offsets as +01, +0100 and +01:00 are read (also in one column with naive times); an
    ISO value with an ending we cannot read (a zone name, an offset after the hour only) is
    NaT, so the row is rejected with its number instead of the import crashing."""
    dt = parse_datetime(pd.Series(["2017-03-14T21:30+01", "2017-03-14T21:30:00+0100",
                                   "2017-03-14 21:30-01", "2017-03-14 21:30",
                                   "2017-03-14T21:30:00 CET", "2017-03-14T21+01:00"]))
    local = pd.Timestamp("2017-03-14 21:30", tz="Europe/Amsterdam")
    assert list(dt.iloc[:4]) == [local, local, local + pd.Timedelta(hours=2), local]
    assert dt.iloc[4:].isna().all()
    data = (b"registratienummer;soort;pleegdatum;x;y\n"
            b"a;woninginbraak;2017-03-14T21:30+01;173624,5;388270,2\n"
            b"b;woninginbraak;2017-03-14T21:30:00 CET;173624,5;388270,2\n")
    parsed = parse_incidents(data, filename="t.csv", crs="rd")
    assert list(parsed.frame["incident_id"]) == ["a"]
    assert list(parsed.rejects["row"]) == [3]
    assert parsed.rejects["reason"].iloc[0].startswith("datum niet te lezen")


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


# --- fast paths against the plain rules -------------------------------------------------------

def test_content_hash_values_are_pinned():
    """Hashes are stored; these were computed before the parser was made faster and must not
    change (re-importing an old file would otherwise look like a conflict)."""
    text = ("id;soort;datum;begindatum;einddatum;x;y;adres\n"
            "a;Woninginbraken;14-03-2017 21:30;;;173624,5;388270,2;Markt 1\n"
            "b;fietsendiefstal;;10-03-2017 18:00;11-03-2017 08:00;173949;386938;\n"
            "c;straatroof;2017-10-29 02:30;;;173624.51;388270.19;é straat\n"
            "d;overval;2017-03-14T21:30:00+01:00;2017-03-14 20:00;;173624.5;388270.2;\n")
    r = parse(text)
    assert dict(zip(r.frame["incident_id"], r.frame["content_hash"].tolist(), strict=True)) == {
        "a": 407594853509431247, "b": 7360141834004736766,
        "c": 3562398752119747254, "d": 619734567933052768}
    text = ("registratienummer;soort;pleegdatum;x;y\n"
            "BENCH-0;inbraak-bedrijf;13-03-2015 11:09;178669,5;383880,5\n"
            "BENCH-1;diefstal-bromfiets;08-12-2017 00:11;171302,3;384963,1\n")
    assert parse(text).frame["content_hash"].tolist() == [2812608080921889671,
                                                          4465288022767481574]


def test_frame_dtypes():
    c = f"{CENTRUM[0]};{CENTRUM[1]}"
    r = parse(f"id;soort;datum;x;y\na;woninginbraak;2017-03-14;{c}\n")
    dtypes = r.frame.dtypes.astype(str).to_dict()
    assert dtypes == {
        "incident_id": "str", "crime_type": "str",
        "occurred_at": "datetime64[ns, Europe/Amsterdam]",
        "occurred_from": "datetime64[ns, Europe/Amsterdam]",
        "occurred_to": "datetime64[ns, Europe/Amsterdam]",
        "address": "object", "x": "float64", "y": "float64", "row": "int64",
        "buurt_code": "object", "wijk_code": "object", "content_hash": "int64"}


def _written_day(value: str, fmt: str) -> int:
    """The day of the month as the value writes it: strptime rolls a day that does not exist
    (31-02) into the next month and reads '170021' as %Y%m%d 1700-2-1; the day as written must
    be the day read (``%Y%m%d``: characters 7-8; else the leading one or two digits)."""
    if fmt == "%Y%m%d":
        return int(value[6:8]) if re.fullmatch(r"[0-9]{2}", value[6:8]) else -1
    lead = re.match(r"[0-9]{1,2}", value)
    return int(lead.group()) if lead else -1


def _parse_one_by_one(values: list[str]) -> list[pd.Timestamp]:
    """The plain rule, value by value: aware ISO, naive ISO, else the first format of
    ``_DATE_FORMATS`` that reads the value with the day as written (no probing of the first
    value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from geoveilig.incidents import _AWARE, _DATE_FORMATS

    out = []
    for v in values:
        v = pd.Series([v]).str.strip().iloc[0]
        if v == "":
            out.append(pd.NaT)
        elif pc.match_substring_regex(pa.array([v]), _AWARE.pattern)[0].as_py():
            t = pd.to_datetime(pd.Series([v]), format="ISO8601", utc=True, errors="coerce")
            out.append(t.dt.tz_convert("Europe/Amsterdam").iloc[0])
        else:
            if re.match(r"^\d{4}-\d{2}-\d{2}", v):
                t = pd.to_datetime(pd.Series([v]), format="ISO8601", errors="coerce").iloc[0]
            else:
                t = next((got for fmt in _DATE_FORMATS
                          if (got := pc.strptime(pa.array([v]), format=fmt, unit="ns",
                                                 error_is_null=True)[0].as_py()) is not None
                          and got.day == _written_day(v, fmt)),
                         pd.NaT)
            t = pd.Series([t], dtype="datetime64[ns]").dt.tz_localize(
                "Europe/Amsterdam", ambiguous=False, nonexistent=pd.Timedelta(hours=1))
            out.append(t.iloc[0])
    return out


_date_text = st.builds(
    lambda d, fmt: d.strftime(fmt),
    st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                 max_value=pd.Timestamp("2030-12-31").to_pydatetime()),
    st.sampled_from(["%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S",
                     "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y%m%d",
                     "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S+01:00", "%Y-%m-%dT%H:%MZ",
                     "%-d-%-m-%Y %-H:%M", " %d-%m-%Y  %H:%M "]))
_date_garbage = st.text(alphabet="0123456789-/.: TZ+", max_size=20)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_date_text, _date_text, _date_garbage, st.just("")),
                min_size=1, max_size=25))
@example(["01-01-2000 00:00:00", "01-01-2000 00:00:00", "170021"])  # not 1700-2-1
def test_parse_datetime_probe_agrees_with_the_formats_in_order(values: list[str]) -> None:
    """The column is read with the format of its first value, then the rest in order; every
    value still gets the first format that reads it, as value by value."""
    got = parse_datetime(pd.Series(values)).tolist()
    expected = _parse_one_by_one(values)
    assert [None if pd.isna(g) else g for g in got] == \
        [None if pd.isna(e) else e for e in expected]


_near_date = st.builds(
    lambda d, m, y, hh, mm, ss, sep, form: form.format(
        d=d, m=m, y=y, hh=hh, mm=mm, ss=ss, s=sep),
    st.integers(0, 32), st.integers(0, 13), st.integers(1890, 3010), st.integers(0, 25),
    st.integers(0, 61), st.integers(0, 61), st.sampled_from("-/.x"),
    st.sampled_from(["{d:02d}{s}{m:02d}{s}{y:04d} {hh:02d}:{mm:02d}",
                     "{d:02d}{s}{m:02d}{s}{y:04d} {hh:02d}:{mm:02d}:{ss:02d}",
                     "{d:02d}{s}{m:02d}{s}{y:04d}", "{y:04d}{m:02d}{d:02d}",
                     "{d}{s}{m}{s}{y} {hh}:{mm:02d}",
                     "{d:02d}{s}{m:02d}{s}{y:04d}  {hh:02d}:{mm:02d}",
                     "{d:02d}{s}{m:02d}{s}{y:04d} {hh:02d}{s}{mm:02d}"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_near_date, _date_text, _date_garbage), min_size=1, max_size=30),
       st.booleans())
@example(["29-02-2000 23:59", "29-02-1900 00:00", "31-04-2017 10:00", "00-01-2017 10:00",
          "15-13-2017 10:00", "15-01-2017 24:00", "15-01-2017 23:60", "15-01-1899 10:00",
          "15-01-3000 10:00", "1-3-2017 9:05", "15-01-2017 10:00:60"], False)
def test_dates_read_from_their_bytes_as_strptime_reads_them(values: list[str],
                                                            with_times: bool) -> None:
    """Values written digit for digit in a format's layout are read with numpy
    (``_fixed_width``); the result is the result of strptime alone: the same times, the same
    unreadable values, also for days, months, hours and years at and beyond their limits and
    in leap years, with a separate time column too."""
    times = pd.Series(["21:30" if k % 3 else "" for k in range(len(values))]) \
        if with_times else None
    _assert_read_as_strptime_alone(pd.Series(values), times)


def _assert_read_as_strptime_alone(series: pd.Series, times: pd.Series | None) -> None:
    """``parse_datetime`` gives what it gives without reading bytes (``_fixed_width`` off)."""
    from geoveilig import incidents

    fast = parse_datetime(series, times)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(incidents, "_fixed_width", lambda arr, fmt: None)
        slow = parse_datetime(series, times)
    pd.testing.assert_series_equal(fast, slow)


_one_form = st.sampled_from(["{d:02d}-{m:02d}-{y:04d} {hh:02d}:{mm:02d}",
                             "{d:02d}/{m:02d}/{y:04d} {hh:02d}:{mm:02d}:{ss:02d}",
                             "{d:02d}.{m:02d}.{y:04d}", "{y:04d}{m:02d}{d:02d}",
                             "{y:04d}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}"])


@settings(max_examples=150, deadline=None)
@given(_one_form, st.lists(st.tuples(st.integers(0, 32), st.integers(0, 13),
                                     st.integers(1890, 2300), st.integers(0, 25),
                                     st.integers(0, 61), st.integers(0, 61)),
                           min_size=1, max_size=40),
       st.lists(st.one_of(_date_text, _date_garbage, st.just("")), max_size=3),
       st.integers(0, 40), st.booleans())
def test_a_column_in_one_layout_is_read_as_value_by_value(
        form: str, fields: list[tuple[int, ...]], others: list[str], at: int,
        with_times: bool) -> None:
    """A column whose values share the first value's layout is read at once
    (``_whole_layout``), and one with a few other values among them the whole way: both
    give what strptime alone gives (impossible days and hours, years out of range, ISO and
    empty values among them, with a time column too)."""
    values = [form.format(d=d, m=m, y=y, hh=hh, mm=mm, ss=ss)
              for d, m, y, hh, mm, ss in fields]
    for k, other in enumerate(others):  # not before the first value: its layout decides
        values.insert(1 + (at + k) % len(values), other)
    times = pd.Series(["08:15" if k % 2 else "" for k in range(len(values))]) \
        if with_times else None
    _assert_read_as_strptime_alone(pd.Series(values), times)


def test_dates_a_time_in_ns_cannot_hold_are_unreadable_not_an_error() -> None:
    """A year after 2262 or a time before 1677-09-21 (ISO, with an offset, or Dutch; a naive
    one whose offset would cross the end) is an unreadable value, which the import rejects
    with its row, instead of an error on the whole file (found by the test above)."""
    values = ["2263-01-01 00:00", "2263-01-01T00:00Z", "21-09-1677 00:13", "1677-09-21 00:13",
              "11-04-2262 23:40", "01-01-2017 10:00"]
    got = parse_datetime(pd.Series(values))
    assert got.isna().tolist() == [True, True, True, True, True, False]
    data = (b"registratienummer;soort;pleegdatum;x;y\n"
            b"A;woninginbraak;01-01-2263 10:00;171000;384000\n"
            b"B;woninginbraak;01-01-2017 10:00;171000;384000\n")
    parsed = parse_incidents(data, filename="toekomst.csv")
    assert list(parsed.rejects["row"]) == [2]  # the line in the file, after its header
    assert "datum niet te lezen" in parsed.rejects["reason"].iloc[0]


@settings(max_examples=300, deadline=None)
@given(st.one_of(_date_text, _date_garbage))
def test_date_formats_read_disjoint_values(value: str) -> None:
    """The premise of the probe (``_PROBE_FORMATS``): no value is read by two formats."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from geoveilig.incidents import _DATE_FORMATS, _PROBE_FORMATS

    assert set(_DATE_FORMATS) == _PROBE_FORMATS
    readers = [fmt for fmt in _DATE_FORMATS
               if pc.strptime(pa.array([value.strip()]), format=fmt, unit="ns",
                              error_is_null=True)[0].is_valid]
    assert len(readers) <= 1, (value, readers)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="a \t\r\n", max_size=30), st.booleans())
def test_blank_line_check_on_bytes_matches_the_text_rule(text: str, bom: bool) -> None:
    from geoveilig.textfile import _has_blank_line

    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    expected = re.search(r"\n[ \t\r]*\n(?=.)", text.strip("\r\n"), flags=re.S) is not None
    assert _has_blank_line(data, 3 if bom else 0) == expected


def test_csv_read_from_bytes_or_decoded_text_alike(areas):
    """ASCII is read as bytes, UTF-8 (with or without BOM) after the BOM, cp1252 decoded:
    the same rows either way, and the slow reader (blank line) agrees too."""
    c = f"{CENTRUM[0]};{CENTRUM[1]}"
    rows = [f"r{k};woninginbraak;14-03-2017 21:{k:02d};{c};Markt {k}" for k in range(20)]
    text = "\n".join(["id;soort;datum;x;y;adres", *rows]) + "\n"
    base = parse(text, areas=areas)
    assert len(base.frame) == 20
    accented = text.replace("Markt", "Markt é")
    results = [parse_incidents(data, filename="t.csv", areas=areas, now=NOW) for data in (
        accented.encode("utf-8"), b"\xef\xbb\xbf" + accented.encode("utf-8"),
        accented.encode("cp1252"), (accented + "\n\n").replace("\n", "\r\n").encode("utf-8"))]
    for r in results:
        pd.testing.assert_frame_equal(r.frame, results[0].frame)
        pd.testing.assert_frame_equal(r.rejects, results[0].rejects)
    slow = accented.replace("\n", "\n\n", 1)  # a blank line after the header: pandas reader
    r = parse_incidents(slow.encode(), filename="t.csv", areas=areas, now=NOW)
    assert r.frame.drop(columns="row").equals(results[0].frame.drop(columns="row"))
    assert list(r.frame["row"]) == [k + 3 for k in range(20)]
    pd.testing.assert_frame_equal(base.frame.drop(columns=["address", "content_hash"]),
                                  results[0].frame.drop(columns=["address", "content_hash"]))


def test_csv_read_ahead_gives_the_same_result(areas):
    """``geoveilig import`` reads a CSV file with ``textfile.read_csv_text`` on a thread of its
    own while the library loads: handing that reading to ``parse_incidents`` gives what
    parsing the bytes alone gives, on the fast path (Arrow) and on the exact one (a blank
    line), in every encoding; and errors of the file are the same errors."""
    from geoveilig.textfile import read_csv_text

    c = f"{CENTRUM[0]};{CENTRUM[1]}"
    rows = [f"r{k};woninginbraak;14-03-2017 21:{k:02d};{c};Markt é {k}" for k in range(20)]
    text = "\n".join(["id;soort;datum;x;y;adres", *rows, "x99;onzin;;1;2;"]) + "\n"
    for data in (text.encode("utf-8"), text.encode("cp1252"), b"\xff\xfe" + text.encode(
            "utf-16-le"), text.replace("\n", "\n\n", 1).encode("utf-8")):
        read = read_csv_text(data, "t.csv")
        assert (read.table is None) == (b"\n\n" in data)
        alone = parse_incidents(data, filename="t.csv", areas=areas, now=NOW)
        ahead = parse_incidents(data, filename="t.csv", areas=areas, now=NOW, text=read)
        pd.testing.assert_frame_equal(ahead.frame, alone.frame)
        pd.testing.assert_frame_equal(ahead.rejects, alone.rejects)
        assert len(ahead.frame) == 20 and set(ahead.rejects["row"]) == {22 + (b"\n\n" in data)}
        assert ahead.source == alone.source
    with pytest.raises(InvalidInput, match="scheidingsteken"):
        read_csv_text(b"alleen een kolom\nwaarde\n", "t.csv")


_CELL = st.text(alphabet=st.sampled_from(
    [*"ab1'=+ -\t,.", "\u00a0", "\u2003", "\u3000", "é"]), max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_CELL, _CELL, _CELL, _CELL), min_size=1, max_size=8),
       st.booleans())
@example([(" 'a1 ", "\u00a0woninginbraak\u2003", "'=1", "  x "),
          ("'=b", "'+fietsdiefstal", "", "\u3000y")], True)
def test_columns_prepared_ahead_give_the_same_result(areas, cells, limit_trimming):
    """``geoveilig import`` does the parse's first columnwise steps on the thread that read
    the file (``textfile.prepare_columns``: which columns hold a quoted cell, every column
    trimmed): the parse then gives exactly what it gives without them, with neutralised
    cells (``'=...``), Unicode whitespace and unused columns, and when the file is too long
    to be trimmed ahead (``TRIM_AHEAD_ROWS``)."""
    from geoveilig import textfile
    from geoveilig.textfile import prepare_columns, read_csv_text

    c = f"{CENTRUM[0]};{CENTRUM[1]}"
    lines = ["registratienummer;soort;pleegdatum;x;y;omschrijving"]
    lines += [f"{i or 'r' + str(k)};{t or 'woninginbraak'};{d or '14-03-2017 21:30'};{c};{u}"
              for k, (i, t, d, u) in enumerate(cells)]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        alone = parse_incidents(data, filename="t.csv", areas=areas, now=NOW)
    except InvalidInput as exc:  # the same error either way
        with pytest.raises(InvalidInput, match=re.escape(str(exc))):
            parse_incidents(data, filename="t.csv", areas=areas, now=NOW,
                            text=prepare_columns(read_csv_text(data, "t.csv")))
        return
    with pytest.MonkeyPatch.context() as mp:
        if limit_trimming:
            mp.setattr(textfile, "TRIM_AHEAD_ROWS", 0)
        read = prepare_columns(read_csv_text(data, "t.csv"))
    assert read.table is not None and len(read.quoted) == 6
    assert read.quoted == tuple(any(str(v).startswith("'") for v in col.to_pylist())
                                for col in read.table.columns)
    assert len(read.trimmed) == (0 if limit_trimming else 6)
    ahead = parse_incidents(data, filename="t.csv", areas=areas, now=NOW, text=read)
    pd.testing.assert_frame_equal(ahead.frame, alone.frame)
    pd.testing.assert_frame_equal(ahead.rejects, alone.rejects)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "", " ", "aa", "é", "A"]), min_size=1,
                max_size=12))
def test_repeat_check_agrees_with_pandas(ids: list[str]) -> None:
    from geoveilig.incidents import _may_repeat

    s = pd.Series(ids, dtype="str")
    assert _may_repeat(s) == bool((s.duplicated(keep=False) & (s != "")).any())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="0123456789,.é€ -", max_size=12)),
                min_size=1, max_size=20), st.integers(0, 5), st.booleans())
def test_comma_replaced_byte_for_byte_as_by_arrow(values, cut, chunked):
    """``_replace_byte`` (the fast path of parse_number) against pc.replace_substring, on
    sliced and chunked arrays with nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from geoveilig.incidents import _replace_byte

    arr = pa.array(values, type=pa.string()).slice(min(cut, len(values) - 1))
    if chunked:
        arr = pa.chunked_array([arr, arr.slice(1)])
    got = _replace_byte(arr, ord(","), ord("."))
    assert got.to_pylist() == pc.replace_substring(arr, ",", ".").to_pylist()
    got.validate(full=True)
