"""Parsing and validating incident files (CSV, Excel .xlsx, GeoJSON, GeoPackage) into a
GeoDataFrame.

Police layouts: date and time in separate columns (``pleegdatum`` + ``pleegtijd``, the window
``begindatum`` + ``begintijd`` and ``einddatum`` + ``eindtijd``), the police's classes and codes
as crime types (``crimetypes.POLICE_CLASSES``; a code column and a class column must agree), a
``status`` column whose withdrawn values (``WITHDRAWN``) set ``withdrawn`` in the result. Every
input column is used or listed in ``ParseResult.ignored_columns``; an unused column that looks
like a date or time refuses the file. ``write_rejects`` writes the rejected rows back in the
input's own layout with ``fout_kolom`` and ``fout_reden``.

``parse_incidents`` takes the file's bytes (the caller reads the file) and returns every valid
row plus a rejection report with, for each bad row, the row number, the column and the reason.
Nothing here touches the store.

Columns of the result (EPSG:28992):

- ``incident_id``: the source's registration number (text)
- ``crime_type``: a slug of ``geoveilig.crimetypes``
- ``occurred_at``: the analysis moment, tz-aware Europe/Amsterdam. When the source gives only
  a window (``occurred_from``/``occurred_to``, as for burglaries discovered later) it is the
  midpoint of that window.
- ``occurred_from``, ``occurred_to``: the window, or NaT
- ``address``: optional free text (may be None)
- ``x``, ``y``, ``geometry``: the location in RD New metres
- ``buurt_code``, ``wijk_code``: assigned from the buurt polygons (when areas are given)
- ``row``: the row number in the source (the line number for CSV, header = line 1;
  the feature number for GeoJSON/GeoPackage)

Coordinate rule (``crs=None``): columns named ``lon``/``lat`` (or longitude, lengtegraad, ...)
are WGS84; columns named ``rd_x``/``rd_y`` (or ``x_rd``, ...) are RD. Plain ``x``/``y`` columns
are classified row by row: RD when 0 <= x <= 300 000 and 289 000 <= y <= 629 000, WGS84 when
3 <= x <= 7.5 and 50.5 <= y <= 53.7. If every classifiable row is of one kind the file is that
kind; if one kind holds at least 80% of the rows, the other rows are rejected as "looks like
lon/lat in an RD column" (or the reverse); otherwise the file is refused as ambiguous and the
user must declare ``crs``.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from numpy.typing import NDArray
from pandas.arrays import ArrowStringArray
from pyproj import Transformer

from . import RD_NEW, TIMEZONE, crimetypes, safecsv
from ._strings import STR, infers_str, take_strings
from .areas import Areas
from .columns import map_columns
from .errors import InvalidInput
from .textfile import SNIFF_BYTES, CsvText, _check_header, read_csv_text, sniff
from .times import EARLIEST, LATEST, local_series

CoordinateSystem = Literal["rd", "wgs84"]

COLUMNS = (
    "incident_id", "crime_type", "occurred_at", "occurred_from", "occurred_to", "address",
    "x", "y", "buurt_code", "wijk_code", "row",
)

#: Accepted header names per canonical column (compared lower-case, without spaces, '_', '-').
SYNONYMS: dict[str, tuple[str, ...]] = {
    "incident_id": ("incident_id", "id", "registratienummer", "registratienr", "regnr",
                    "zaaknummer", "bvhnummer", "nummer", "mutatienummer", "incidentnummer",
                    "registration_number"),
    "crime_type": ("crime_type", "misdrijf", "soort", "soortmisdrijf", "categorie", "delict",
                   "maatschappelijkeklasse", "klasse", "type", "misdrijftype", "incident_type",
                   "crime", "category", "omschrijving"),
    "occurred_at": ("occurred_at", "datum", "pleegdatum", "datumtijd", "datetime", "date",
                    "pleegmoment", "tijdstip", "moment"),
    "time": ("tijd", "time", "pleegtijd"),
    "time_from": ("begintijd", "tijdvan", "pleegtijdvan", "starttijd", "begin_time",
                  "time_from", "vantijd"),
    "time_to": ("eindtijd", "tijdtot", "pleegtijdtot", "end_time", "time_to", "tottijd"),
    "crime_code": ("incidentcode", "soortmisdrijfcode", "misdrijfcode", "politiecode",
                   "maatschappelijkeklassecode", "mkcode", "klassecode", "crime_code"),
    "status": ("status", "registratiestatus", "statusregistratie", "mutatie"),
    "occurred_from": ("occurred_from", "begindatum", "pleegdatumvan", "datumvan", "van",
                      "begin", "start", "pleegbegin", "from"),
    "occurred_to": ("occurred_to", "einddatum", "pleegdatumtot", "datumtot", "tot", "eind",
                    "end", "pleegeinde", "to"),
    "x_rd": ("rd_x", "x_rd", "rdx", "xrd"),
    "y_rd": ("rd_y", "y_rd", "rdy", "yrd"),
    "x": ("x", "xcoord", "xcoordinaat", "x_coordinaat", "xcoördinaat", "coord_x"),
    "y": ("y", "ycoord", "ycoordinaat", "y_coordinaat", "ycoördinaat", "coord_y"),
    "lon": ("lon", "lng", "long", "longitude", "lengtegraad"),
    "lat": ("lat", "latitude", "breedtegraad"),
    "address": ("address", "adres", "straat", "straatnaam", "pleeglocatie", "locatie",
                "pleegadres"),
}

#: Dutch names of the fields, for the summary "which column fed which field"
FIELD_LABELS = {
    "incident_id": "registratienummer", "crime_type": "misdrijftype",
    "crime_code": "misdrijftype (politiecode)", "occurred_at": "pleegmoment",
    "time": "pleegmoment (tijd)", "occurred_from": "begin pleegperiode",
    "time_from": "begin pleegperiode (tijd)", "occurred_to": "einde pleegperiode",
    "time_to": "einde pleegperiode (tijd)", "x_rd": "x (RD)", "y_rd": "y (RD)", "x": "x",
    "y": "y", "lon": "lengtegraad", "lat": "breedtegraad", "address": "adres",
    "status": "status (ingetrokken)",
}
#: status values that withdraw a registration, and values that mean a normal one
WITHDRAWN = frozenset({"ingetrokken", "vervallen", "verwijderd", "geannuleerd", "withdrawn",
                       "cancelled", "canceled", "deleted"})
ACTIVE = frozenset({"", "actief", "geldig", "nieuw", "gewijzigd", "definitief", "open",
                    "afgesloten", "active", "new", "updated", "valid"})
#: a header that names a date or time
_DATE_NAME = re.compile(r"datum|date|tijd|time|moment", re.IGNORECASE)
_TIME_VALUE = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")

_RD_X = (0.0, 300_000.0)
_RD_Y = (289_000.0, 629_000.0)
_WGS_X = (3.0, 7.5)
_WGS_Y = (50.5, 53.7)
MAJORITY = 0.8

@functools.cache
def _to_rd() -> Transformer:
    """WGS84 -> RD New, made on first use (an RD file, the common case, needs none)."""
    return Transformer.from_crs("EPSG:4326", RD_NEW, always_xy=True)


class ParseResult:
    """The valid rows, the rejection report (``row``, ``column``, ``value``, ``reason``), the
    number of rows read, the coordinate system found and the exact repeats within the file.

    ``frame`` holds the valid rows with ``x``/``y``; ``incidents`` is the same as a
    GeoDataFrame, made on first use (building 10⁶ shapely points costs a second that an
    import into the store, which needs only x and y, does not pay)."""

    def __init__(self, incidents: pd.DataFrame, rejects: pd.DataFrame, n_rows: int,
                 coordinate_system: CoordinateSystem | None,
                 duplicates_in_file: int = 0, columns: dict[str, str] | None = None,
                 ignored_columns: list[str] | None = None,
                 source: dict[str, str] | None = None) -> None:
        self.frame = incidents
        #: which input column(s) fed which field (Dutch field name -> column names)
        self.columns = columns or {}
        #: input columns that were not used (named in the summary, never silently dropped)
        self.ignored_columns = ignored_columns or []
        #: how the file was read: format, encoding, separator (for the rejects file)
        self.source = source or {}
        self.rejects = rejects
        self.n_rows = n_rows
        self.coordinate_system = coordinate_system
        self.duplicates_in_file = duplicates_in_file
        self._geo: gpd.GeoDataFrame | None = (
            incidents if isinstance(incidents, gpd.GeoDataFrame) else None)

    @property
    def incidents(self) -> gpd.GeoDataFrame:
        if self._geo is None:
            f = self.frame
            self._geo = gpd.GeoDataFrame(f, geometry=gpd.points_from_xy(f["x"], f["y"]),
                                         crs=RD_NEW)
        return self._geo

    def __repr__(self) -> str:
        return (f"ParseResult({len(self.frame)} incidents, {self.rejected_rows} rejected rows "
                f"of {self.n_rows}, {self.coordinate_system})")

    @property
    def rejected_rows(self) -> int:
        return int(self.rejects["row"].nunique()) if len(self.rejects) else 0


class _Rejects:
    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, rows: pd.Series | np.ndarray, column: str, values: object,
            reason: str | np.ndarray) -> None:
        rows = np.asarray(rows)
        if len(rows) == 0:
            return
        vals = np.asarray(values, dtype=object) if not np.isscalar(values) else values
        self.parts.append(pd.DataFrame({
            "row": rows, "column": column,
            "value": pd.Series(vals).astype(str).str.slice(0, 80).to_numpy()
            if not np.isscalar(vals) else str(vals),
            "reason": reason if isinstance(reason, str) else np.asarray(reason, dtype=object),
        }))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({"row": pd.Series(dtype=int), "column": pd.Series(dtype=str),
                                 "value": pd.Series(dtype=str), "reason": pd.Series(dtype=str)})
        return pd.concat(self.parts, ignore_index=True).sort_values(
            ["row", "column"], kind="stable", ignore_index=True)


def _map_columns(columns: list[str]) -> dict[str, str]:
    """Canonical name -> source column (``geoveilig.columns.map_columns`` with ``SYNONYMS``)."""
    return map_columns(columns, SYNONYMS)


# --- format detection and reading ----------------------------------------------------------

def _detect_format(data: bytes, filename: str | None) -> str:
    return sniff(data[:SNIFF_BYTES], filename)


def _read_csv(data: bytes, filename: str | None, text: CsvText | None = None) -> pd.DataFrame:
    """The rows of a CSV file as text columns plus ``__row`` (``text``: the file as
    ``textfile.read_csv_text`` read it already)."""
    if text is None:
        text = read_csv_text(data, filename)
    if text.table is not None:
        frame = text.table.to_pandas(
            types_mapper={pa.string(): pd.StringDtype("pyarrow", np.nan)}.get)
        frame.columns = [str(c).strip() for c in frame.columns]
        frame["__row"] = np.arange(len(frame)) + 2  # line numbers, header = line 1
        frame.attrs["source"] = text.source
        return frame
    assert text.text is not None
    try:
        frame = pd.read_csv(io.StringIO(text.text), sep=text.sep, dtype=str,
                            keep_default_na=False, skip_blank_lines=False,
                            on_bad_lines="error", engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise InvalidInput(f"{filename or 'bestand'}: CSV niet te lezen: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame["__row"] = np.arange(len(frame)) + 2  # line numbers, header = line 1
    blank = (frame.drop(columns="__row") == "").all(axis=1)
    frame = frame.loc[~blank].reset_index(drop=True)
    frame.attrs["source"] = text.source
    return frame


def _cell(value: object) -> str:
    """An Excel cell as the text a CSV export would hold: dates ISO (a date without time as
    the date alone), whole numbers without '.0', empty cells as ''."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _read_xlsx(data: bytes, filename: str | None) -> pd.DataFrame:
    """The first worksheet of an Excel workbook (openpyxl, read-only): the first non-empty row
    is the header, every cell becomes text (see ``_cell``); ``__row`` is Excel's row number."""
    import openpyxl  # only for Excel files
    from openpyxl.utils.exceptions import InvalidFileException

    name = filename or "bestand"
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"{name}: geen geldig Excel-bestand (.xlsx): {exc}") from exc
    try:
        sheet = book.worksheets[0]
        header: list[str] | None = None
        rows: list[list[str]] = []
        numbers: list[int] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell(v) for v in values]
            if header is None:
                if any(c.strip() for c in cells):
                    header = [c.strip() for c in cells]
                    while header and not header[-1]:
                        header.pop()
                continue
            if not any(c.strip() for c in cells):
                continue
            cells = (cells + [""] * len(header))[:len(header)]
            rows.append(cells)
            numbers.append(number)
    finally:
        book.close()
    if header is None:
        raise InvalidInput(f"{name}: het werkblad is leeg")
    _check_header(header, filename)
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else \
        pd.DataFrame({c: pd.Series(dtype=object) for c in header})
    frame["__row"] = np.asarray(numbers, dtype=np.int64)
    frame.attrs["source"] = {"format": "xlsx"}
    return frame


def _read_geo(data: bytes, filename: str | None, fmt: str) -> pd.DataFrame:
    import pyogrio  # GDAL: only for GeoJSON and GeoPackage files

    try:
        gdf = gpd.read_file(io.BytesIO(data), engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        kind = "GeoPackage" if fmt == "gpkg" else "GeoJSON"
        raise InvalidInput(f"{filename or 'bestand'}: geen geldige {kind}: {exc}") from exc
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype(str).replace("NaT", "")
        else:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), "").astype(str)
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_header([str(c) for c in gdf.columns if c != gdf.geometry.name], filename)
    geom = gdf.geometry
    is_point = (geom.geom_type == "Point").to_numpy()
    # coordinates of the points only: .x raises for a polygon or multipoint, which must be a
    # rejected row, not an error
    values = geom.values
    frame["__x"] = np.where(is_point, shapely.get_x(np.where(is_point, values, None)), np.nan) \
        if len(gdf) else []
    frame["__y"] = np.where(is_point, shapely.get_y(np.where(is_point, values, None)), np.nan) \
        if len(gdf) else []
    frame["__geomtype"] = geom.geom_type.fillna("").to_numpy() if len(gdf) else []
    crs = gdf.crs
    frame.attrs["crs"] = None if crs is None else ("wgs84" if crs.is_geographic else
                                                  ("rd" if crs.to_epsg() == 28992 else crs))
    frame["__row"] = np.arange(len(frame)) + 1
    return frame


# --- field parsers ---------------------------------------------------------------------------

_NUM_CLEAN = re.compile(r"^\s*([-+]?)(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?\s*$")


def _arrow(values: pd.Series, *, stripped: bool = False) -> pa.Array | pa.ChunkedArray:
    """The values as Arrow strings, trimmed of whitespace. ``stripped``: they come from
    ``.str.strip()``, which for Arrow-backed strings is the same trim, done already."""
    arr = pa.array(values.astype(str), type=pa.string(), from_pandas=True)
    if stripped and values.dtype == STR:
        return arr
    return pc.utf8_trim_whitespace(arr)


def parse_number(values: pd.Series) -> pd.Series:
    """Numbers with a decimal point or a Dutch decimal comma (``155123,45``, ``155.123,45``).
    Unparseable -> NaN."""
    return _parse_number(values, _arrow(values))


def _parse_number(values: pd.Series, arr: pa.Array | pa.ChunkedArray) -> pd.Series:
    """``parse_number`` of ``values``, given as trimmed Arrow strings ``arr``."""
    # Fast path: with the decimal comma made a point, a column of plain numbers casts in one
    # go. Anything else (thousands separators, text, ...) makes the cast fail, and the exact
    # rules below decide row by row. The comma becomes a point byte for byte (both are one
    # byte in UTF-8), as pc.replace_substring(arr, ",", ".") would, at a fraction of its cost.
    plain = _replace_byte(arr, ord(","), ord("."))
    if pc.any(pc.equal(plain, "")).as_py():
        plain = pc.if_else(pc.equal(plain, ""), pa.scalar(None, pa.string()), plain)
    try:
        num = pc.cast(plain, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    else:
        return pd.Series(num.to_numpy(zero_copy_only=False), index=values.index, dtype=float)
    comma = pc.match_substring(arr, ",")
    thousands = pc.and_(comma, pc.match_substring_regex(arr, r"^[-+]?\d{1,3}(\.\d{3})+(,\d*)?$"))
    arr = pc.if_else(thousands, pc.replace_substring(arr, ".", ""), arr)
    arr = pc.replace_substring(arr, ",", ".")
    valid = pc.match_substring_regex(arr, r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
    num = pc.cast(pc.if_else(valid, arr, pa.scalar(None, pa.string())), pa.float64())
    return pd.Series(num.to_numpy(zero_copy_only=False), index=values.index, dtype=float)


_DATE_FORMATS = (
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y%m%d",
)
_AWARE = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")


def _literal_counts(fmt: str) -> dict[str, int]:
    """How often each character that ``fmt`` matches literally occurs in it (not the
    directives, not whitespace, which matches any amount of whitespace)."""
    literal = re.sub(r"%.", "", fmt)
    return {ch: literal.count(ch) for ch in set(literal) if not ch.isspace()}


def _reads_only_its_own(i: int) -> bool:
    """Whether no format before ``_DATE_FORMATS[i]`` can read a value that it reads.

    A value read by a format holds exactly the format's literal characters (the directives
    read digits and whitespace; allow one '-' per %Y for a sign), so an earlier format that
    needs more of some character than that can read none of these values."""
    fmt = _DATE_FORMATS[i]
    have = _literal_counts(fmt)
    have["-"] = have.get("-", 0) + fmt.count("%Y")
    return all(any(k > have.get(ch, 0) for ch, k in _literal_counts(earlier).items())
               for earlier in _DATE_FORMATS[:i])


#: The formats whose values no earlier format reads: when such a format reads a value, it is
#: the first that does, which is the format the value gets.
_PROBE_FORMATS = frozenset(fmt for i, fmt in enumerate(_DATE_FORMATS) if _reads_only_its_own(i))
_ISO_START = r"^\d{4}-\d{2}-\d{2}"
#: a whole naive ISO 8601 value; an ISO value with any other ending (an offset _AWARE does not
#: know, a zone name) is not read, so it is rejected instead of mixing naive and aware times
_ISO_NAIVE = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?)?"


def parse_datetime(values: pd.Series, times: pd.Series | None = None) -> pd.Series:
    """Parse ISO 8601 and Dutch day-first dates (optionally with a separate time column) into
    Europe/Amsterdam. Naive values are local time; in the ambiguous autumn hour they are read
    as winter time, a non-existent spring hour moves forward. Unparseable -> NaT.

    Each naive, non-ISO value is read with the first of ``_DATE_FORMATS`` that reads it. A
    column in one format costs one ``strptime``: the format of the first value is applied to
    the whole column (see ``_PROBE_FORMATS``); only the values it does not read go through
    the formats in order."""
    return _parse_datetime(values.astype(str).str.strip(),
                           None if times is None else times.astype(str).str.strip())


def _parse_datetime(s: pd.Series, t: pd.Series | None) -> pd.Series:
    """``parse_datetime`` of values (and times) already made text and stripped."""
    if t is not None:
        s = s.where(t == "", s + " " + t)  # "" + " " + t is not stripped
    arr = _arrow(s, stripped=t is None)
    n = len(s)
    whole = _whole_layout(arr)
    if whole is not None and whole[1].all():  # every value in the first value's layout
        return local_series(pd.Series(whole[2].view("datetime64[ns]"), index=s.index))
    empty = _mask(pc.equal(arr, ""))
    aware = np.zeros(n, dtype=bool)
    # The offset at the end (_AWARE) is 'Z' or a sign 3, 5 or 6 bytes from the end (+01,
    # +0100, +01:00): the regex runs only when some value has one.
    if ((_byte_at(arr, -1) == ord("Z")) | np.isin(_byte_at(arr, -3), _SIGNS)
            | np.isin(_byte_at(arr, -5), _SIGNS) | np.isin(_byte_at(arr, -6), _SIGNS)).any():
        aware = _mask(pc.match_substring_regex(arr, _AWARE.pattern)) & ~empty
    result = pd.Series(pd.NaT, index=s.index, dtype=f"datetime64[ns, {TIMEZONE}]")
    if aware.any():
        parsed = _ns_range(pd.to_datetime(s[aware], format="ISO8601", utc=True,
                                          errors="coerce"))
        result[aware] = parsed.dt.tz_convert(TIMEZONE)
    naive_mask = ~aware & ~empty
    if naive_mask.any():
        iso = np.zeros(n, dtype=bool)
        stamps = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)  # NaT
        # An ISO start has '-' as 5th and 8th character; pandas' \d may be any Unicode digit,
        # so values that are not ASCII are candidates too.
        if (~_mask(pc.string_is_ascii(arr))
                | ((_byte_at(arr, 4) == ord("-")) & (_byte_at(arr, 7) == ord("-")))).any():
            sn = s[naive_mask]
            iso_n = sn.str.match(_ISO_START)
            parsed = pd.Series(pd.NaT, index=sn.index, dtype="datetime64[ns]")
            readable = iso_n & sn.str.fullmatch(_ISO_NAIVE)
            if readable.any():
                parsed[readable] = _ns_range(pd.to_datetime(sn[readable], format="ISO8601",
                                                            errors="coerce"))
            stamps[naive_mask] = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64)
            iso[naive_mask] = iso_n.to_numpy(dtype=bool, na_value=False)
        rest = naive_mask & ~iso

        def read(fmt: str) -> None:
            where = np.flatnonzero(rest)
            part = arr if len(where) == n else arr.filter(pa.array(rest))
            fixed = (whole[1][where], whole[2][where]) if whole is not None \
                and fmt == whole[0] else _fixed_width(part, fmt)
            if fixed is not None:  # the values written digit for digit: read without strptime
                done, ns = fixed
                stamps[where[done]] = ns[done]
                rest[where[done]] = False
                if done.all():
                    return
                where, part = where[~done], part.filter(pa.array(~done))
            got = pc.strptime(part, format=fmt, unit="ns", error_is_null=True)
            ok = _mask(pc.is_valid(got))
            if ok.any():  # strptime rolls a day that does not exist (31-02) into the next month
                ok &= _day_as_written(part, fmt) == _numpy(pc.day(got), len(where), fill=0)
            ns = _numpy(pc.cast(got, pa.int64()), len(where), fill=0)
            ok &= (ns >= _NAIVE_NS[0]) & (ns <= _NAIVE_NS[1])  # as _ns_range
            stamps[where[ok]] = ns[ok]
            rest[where[ok]] = False

        first = np.flatnonzero(rest)[:1]
        probe = arr.take(pa.array(first))
        fmt0 = next((f for f in _DATE_FORMATS if len(first) and pc.strptime(
            probe, format=f, unit="ns", error_is_null=True).is_valid()[0].as_py()), None)
        if fmt0 in _PROBE_FORMATS:
            read(fmt0)
        for fmt in _DATE_FORMATS:  # what the probe's format did not read, in order
            if not rest.any():
                break
            if fmt != fmt0:
                read(fmt)
        local = local_series(pd.Series(stamps.view("datetime64[ns]"), index=s.index))
        if naive_mask.all():
            result = local
        else:
            result[naive_mask] = local[naive_mask]
    return result


_SIGNS = np.array([ord("+"), ord("-")], dtype=np.uint8)


def _ns_range(parsed: pd.Series) -> pd.Series:
    """ISO values as pandas read them (in the unit it chose) in ns; a time outside what the
    library computes with (``times.EARLIEST``-``LATEST``: what ns holds, a day from each end,
    which a naive value's offset could cross) is unreadable (NaT), as strptime in ns makes
    it, instead of an error on the whole column."""
    low, high = (EARLIEST, LATEST) if parsed.dt.tz is not None else _NAIVE_RANGE
    return parsed.where(parsed.isna() | ((parsed >= low) & (parsed <= high))).dt.as_unit("ns")


#: ``times.EARLIEST``-``LATEST`` as naive times, and in ns (``_parse_datetime``'s stamps)
_NAIVE_RANGE = (EARLIEST.tz_localize(None), LATEST.tz_localize(None))
_NAIVE_NS = (_NAIVE_RANGE[0].as_unit("ns").value, _NAIVE_RANGE[1].as_unit("ns").value)


def _whole_layout(arr: pa.Array | pa.ChunkedArray
                  ) -> tuple[str, np.ndarray, np.ndarray] | None:
    """The values written digit for digit in the layout of the first value's format
    (``_fixed_width``), read before anything else: the format, which values and their naive
    time in ns. Only for a format that is the first to read each of its values
    (``_PROBE_FORMATS``) and whose layout can hold no ISO start and no offset (a value in it
    is then neither empty, aware nor ISO), so that ``_parse_datetime`` reads these values
    exactly so; the others take the whole way. None when the first value has no such
    format."""
    valid = arr.drop_null() if arr.null_count else arr
    first = pc.index(pc.not_equal(valid, ""), True).as_py() if len(valid) else -1
    if first < 0:
        return None
    probe = valid.slice(first, 1)
    fmt = next((f for f in _DATE_FORMATS if pc.strptime(
        probe, format=f, unit="ns", error_is_null=True).is_valid()[0].as_py()), None)
    if fmt is None or fmt not in _PROBE_FORMATS or not _plain_layout(fmt):
        return None
    fixed = _fixed_width(arr, fmt)
    return None if fixed is None else (fmt, *fixed)


@functools.cache
def _plain_layout(fmt: str) -> bool:
    """Whether a value in ``fmt``'s fixed layout is certainly not ISO (no '-' as its 5th and
    8th byte) and has no offset (no 'Z' last, no sign 3, 5 or 6 bytes from the end): the
    bytes ``_parse_datetime`` tests for those."""
    layout = _layout(fmt)
    if layout is None:
        return False
    length, _, literal = layout

    def byte(k: int) -> int | None:  # the literal byte at k (from the end when negative)
        return literal.get(length + k if k < 0 else k)

    iso = byte(4) == ord("-") and byte(7) == ord("-")
    offset = byte(-1) == ord("Z") or any(byte(-k) in (ord("+"), ord("-")) for k in (3, 5, 6))
    return not iso and not offset
_FIELD_WIDTH = {"d": 2, "m": 2, "Y": 4, "H": 2, "M": 2, "S": 2}
#: the years whose dates ``_fixed_width`` reads (a time in ns reaches into 2262)
_FIRST_YEAR, _LAST_YEAR = 1900, 2261


def _month_table() -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Per month from January ``_FIRST_YEAR`` to December ``_LAST_YEAR``: the day (since
    1970-01-01) it starts on and its number of days (the proleptic Gregorian calendar)."""
    month = np.arange((_LAST_YEAR - _FIRST_YEAR + 1) * 12 + 1)
    first = (np.datetime64(f"{_FIRST_YEAR}-01", "M") + month).astype("datetime64[D]")
    days = first.astype(np.int64).astype(np.int32)
    return days[:-1], np.diff(days).astype(np.int32)


_MONTH_START, _MONTH_LENGTH = _month_table()


@functools.cache
def _layout(fmt: str) -> tuple[int, dict[str, int], dict[int, int]] | None:
    """A format of ``_DATE_FORMATS`` as a fixed layout: its length, where each field starts
    and the literal bytes (a space stands for exactly one space here); None for a format
    with a directive of another kind."""
    fields: dict[str, int] = {}
    literal: dict[int, int] = {}
    pos = i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            if fmt[i + 1] not in _FIELD_WIDTH:
                return None
            fields[fmt[i + 1]] = pos
            pos += _FIELD_WIDTH[fmt[i + 1]]
            i += 2
        else:
            literal[pos] = ord(fmt[i])
            pos += 1
            i += 1
    return pos, fields, literal


def _fixed_width(arr: pa.Array | pa.ChunkedArray, fmt: str
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """The values of ``arr`` that ``fmt`` reads written exactly in its layout (two digits for
    day, month, hour, minute and second, four for the year, one space), read from their bytes
    with numpy: which values (``done``) and their naive time in ns. Only values that are
    certainly valid count as done (a year from 1900 to 2261, in range of a time in ns; a day
    of that month; hours up to 23, seconds up to 59); strptime reads these to the same time,
    and reads (or refuses) the rest as before. None for a format without such a layout."""
    layout = _layout(fmt)
    if layout is None:
        return None
    parts = [_fixed_width_chunk(chunk, layout)
             for chunk in (arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr])]
    if not parts:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _fixed_width_chunk(chunk: pa.Array, layout: tuple[int, dict[str, int], dict[int, int]]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``_fixed_width`` of one Arrow string array."""
    length, fields, literal = layout
    m = len(chunk)
    done = np.zeros(m, dtype=bool)
    ns = np.zeros(m, dtype=np.int64)
    if m == 0 or chunk.buffers()[2] is None:
        return done, ns
    off = _offsets(chunk)
    fits = np.diff(off) == length
    if chunk.null_count:
        fits &= _mask(chunk.is_valid())
    rows = np.flatnonzero(fits)
    if len(rows) == 0:
        return done, ns
    if len(rows) < m:  # the values of that length, packed one after another
        chunk = chunk.filter(pa.array(fits))
        off = _offsets(chunk)
    start = int(off[0])
    # one row per byte position (a transposed copy: each field is then read from contiguous
    # memory), the literal bytes checked and every digit position at once (a byte that is no
    # digit wraps to a value above 9); the fields in int32, computed in place
    text = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[
        start:start + len(rows) * length].reshape(len(rows), length).T.copy()
    good = np.ones(len(rows), dtype=bool)
    for at, byte in literal.items():
        good &= text[at] == byte
    positions = [k for name, at in fields.items() for k in range(at, at + _FIELD_WIDTH[name])]
    digit = {k: i for i, k in enumerate(positions)}
    digits = text[positions]
    digits -= np.uint8(48)
    good &= (digits <= 9).all(axis=0)

    def value(name: str) -> NDArray[np.int32] | int:
        if name not in fields:
            return 0
        at = fields[name]
        out = digits[digit[at]].astype(np.int32)
        for k in range(at + 1, at + _FIELD_WIDTH[name]):
            out *= 10
            out += digits[digit[k]]
        return out

    year, month, day = value("Y"), value("m"), value("d")
    hour, minute, second = value("H"), value("M"), value("S")
    year, month, day = (np.broadcast_to(v, len(rows)) for v in (year, month, day))
    # the month's place in _MONTH_START (0 where the year or month is out of range)
    known = (year >= _FIRST_YEAR) & (year <= _LAST_YEAR) & (month >= 1) & (month <= 12)
    at_month = np.where(known, (year - _FIRST_YEAR) * 12 + month - 1, 0)
    good &= known & (day >= 1) & (day <= _MONTH_LENGTH[at_month]) \
        & (np.asarray(hour) <= 23) & (np.asarray(minute) <= 59) & (np.asarray(second) <= 59)
    days = _MONTH_START[at_month] + (day - 1)
    seconds = days.astype(np.int64)
    seconds *= 86400
    seconds += hour * 3600 + minute * 60 + second
    seconds *= 1_000_000_000
    if len(rows) == m and good.all():
        return np.ones(m, dtype=bool), seconds
    done[rows[good]] = True
    ns[rows[good]] = seconds[good]
    return done, ns


def _day_as_written(arr: pa.Array | pa.ChunkedArray, fmt: str) -> np.ndarray:
    """The day of the month as the text writes it (formats starting with ``%d``: one or two
    digits at the start; ``%Y%m%d``: bytes 6-7), -1 where it cannot be read."""
    if fmt == "%Y%m%d":
        tens, ones = _byte_at(arr, 6).astype(np.int64), _byte_at(arr, 7).astype(np.int64)
        return np.where((tens >= 48) & (tens <= 57) & (ones >= 48) & (ones <= 57),
                        (tens - 48) * 10 + ones - 48, -1)
    first, second = _byte_at(arr, 0).astype(np.int64), _byte_at(arr, 1).astype(np.int64)
    one = (first >= 48) & (first <= 57)
    two = one & (second >= 48) & (second <= 57)
    return np.where(two, (first - 48) * 10 + second - 48, np.where(one, first - 48, -1))


def _replace_byte(arr: pa.Array | pa.ChunkedArray, old: int, new: int
                  ) -> pa.Array | pa.ChunkedArray:
    """The strings with every byte ``old`` replaced by ``new`` (both ASCII, so no UTF-8
    sequence changes length or validity); ``arr`` itself when no string holds ``old``."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    out = []
    changed = False
    for chunk in chunks:
        bufs = chunk.buffers()
        if len(chunk) == 0 or bufs[2] is None:
            out.append(chunk)
            continue
        data = np.frombuffer(bufs[2], dtype=np.uint8)
        hit = data == old
        if not hit.any():
            out.append(chunk)
            continue
        data = np.where(hit, np.uint8(new), data)
        out.append(pa.Array.from_buffers(chunk.type, len(chunk),
                                         [bufs[0], bufs[1], pa.py_buffer(data)],
                                         null_count=chunk.null_count, offset=chunk.offset))
        changed = True
    if not changed:
        return arr
    return pa.chunked_array(out, type=arr.type) if isinstance(arr, pa.ChunkedArray) else out[0]


def _offsets(chunk: pa.Array) -> NDArray[np.integer[Any]]:
    """The ``len(chunk) + 1`` offsets of a string or binary Arrow array into its data buffer
    (a view, int32 or int64 as the array keeps them)."""
    wide = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
    off: NDArray[np.integer[Any]] = np.frombuffer(chunk.buffers()[1],
                                                  dtype=np.int64 if wide else np.int32)
    return off[chunk.offset:chunk.offset + len(chunk) + 1]


def _byte_at(arr: pa.Array | pa.ChunkedArray, k: int) -> np.ndarray:
    """Byte ``k`` of each string (from the end when negative; UTF-8), 0 where the string is
    shorter (or null)."""
    parts = [np.zeros(0, dtype=np.uint8)]
    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        if len(chunk) == 0:
            continue
        data = chunk.buffers()[2]
        # the offsets as stored: a position inside a string is below its end, so it never
        # overflows their type, and one that would (past the end) counts as outside
        off = _offsets(chunk)
        start, end = off[:-1], off[1:]
        pos = start + k if k >= 0 else end + k
        inside = (pos >= start) & (pos < end)
        out = np.zeros(len(chunk), dtype=np.uint8)
        if data is not None:
            out[inside] = np.frombuffer(data, dtype=np.uint8)[pos[inside]]
        parts.append(out)
    return np.concatenate(parts)


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as a numpy mask, null as False."""
    return _numpy(values, len(values), fill=False).astype(bool, copy=False)


def _numpy(values: pa.Array | pa.ChunkedArray, n: int, *, fill: object) -> np.ndarray:
    if values.null_count:
        values = pc.fill_null(values, fill)
    out = values.to_numpy() if isinstance(values, pa.ChunkedArray) else \
        values.to_numpy(zero_copy_only=False)
    assert len(out) == n
    return out


# --- main entry ------------------------------------------------------------------------------

def parse_incidents(
    data: bytes,
    *,
    filename: str | None = None,
    crs: CoordinateSystem | None = None,
    areas: Areas | None = None,
    now: datetime | pd.Timestamp | None = None,
    text: CsvText | None = None,
) -> ParseResult:
    """Parse and validate an incident file. ``crs`` declares the coordinates ('rd' or
    'wgs84'); ``areas`` assigns buurt and wijk and rejects points outside the gemeente;
    ``now`` (default: the current time) bounds dates from above; ``text``: a CSV file's
    ``data`` as ``textfile.read_csv_text`` read it already."""
    if crs not in (None, "rd", "wgs84"):
        raise InvalidInput(f"onbekend coördinatenstelsel '{crs}': kies 'rd' of 'wgs84'")
    if not data or data.isspace():  # isspace: no copy of the file, as strip() makes
        raise InvalidInput(f"{filename or 'bestand'}: het bestand is leeg")
    fmt, raw = read_raw(data, filename, text)
    quoted, trimmed = _prepared(text)
    restored = _restore(raw, quoted)
    return _validate(raw, fmt=fmt, filename=filename or "bestand", crs=crs, areas=areas,
                     now=now, trimmed={c: a for c, a in trimmed.items() if c not in restored})


def _prepared(text: CsvText | None) -> tuple[tuple[bool, ...] | None,
                                             dict[str, pa.ChunkedArray]]:
    """What ``textfile.prepare_columns`` did ahead for the parse: per column whether a value
    starts with a quote (None: not known), and the trimmed values by column name (as
    ``_read_csv`` names the columns)."""
    if text is None or text.table is None or not text.quoted:
        return None, {}
    names = [str(c).strip() for c in text.table.column_names]
    return text.quoted, dict(zip(names, text.trimmed, strict=True)) if text.trimmed else {}


def read_raw(data: bytes, filename: str | None, text: CsvText | None = None
             ) -> tuple[str, pd.DataFrame]:
    """The file type and its rows as text columns (plus ``__row`` and, for geometries,
    ``__x``/``__y``/``__geomtype``), as the file holds them (``text``: see
    ``parse_incidents``)."""
    fmt = "csv" if text is not None else _detect_format(data, filename)
    if fmt == "csv":
        raw = _read_csv(data, filename, text)
    elif fmt == "xlsx":
        raw = _read_xlsx(data, filename)
    else:
        raw = _read_geo(data, filename, fmt)
    raw.attrs.setdefault("source", {})["format"] = fmt
    return fmt, raw


def _restore(raw: pd.DataFrame, quoted: tuple[bool, ...] | None = None) -> set[str]:
    """Undo the formula neutralisation of ``geoveilig.safecsv`` in place (a cell written as
    ``'=...`` reads as ``=...``); only cells that start with a quote are touched. ``quoted``:
    per column, whether any value starts with a quote, known already (``textfile.
    prepare_columns``); the others are not looked at. Returns the columns changed."""
    changed: set[str] = set()
    for i, col in enumerate(raw.columns):
        if str(col).startswith("__") or (quoted is not None and not quoted[i]):
            continue
        values = raw[col]
        if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
            continue
        arr = pa.array(values.astype(str), pa.string(), from_pandas=True)
        starts = _byte_at(arr, 0) == ord("'")
        if starts.any():
            fixed = values.astype(object).copy()
            fixed[starts] = [safecsv.restore(v) for v in values[starts]]
            raw[col] = fixed.astype(values.dtype) if values.dtype != object else fixed
            changed.add(str(col))
    return changed


class _Input:
    """The raw rows of a file with its column mapping: each field's column, and its values as
    stripped text (computed once per field)."""

    def __init__(self, raw: pd.DataFrame, cols: dict[str, str],
                 trimmed: dict[str, pa.ChunkedArray] | None = None) -> None:
        self.raw = raw
        self.cols = cols
        self.n = len(raw)
        self.rows = raw["__row"].to_numpy()
        self._stripped: dict[str, pd.Series] = {}
        self._trimmed = trimmed or {}  # column -> its values trimmed already (parse_incidents)

    def col(self, name: str) -> pd.Series:
        raw = self.raw
        return raw[self.cols[name]] if name in self.cols else \
            pd.Series([""] * self.n, index=raw.index)

    def stripped(self, name: str) -> pd.Series:
        """``col(name).astype(str).str.strip()``, computed once per field."""
        if name not in self._stripped:
            column = self.cols.get(name)
            self._stripped[name] = self._trimmed_series(column) if column in self._trimmed \
                else self.col(name).astype(str).str.strip()
        return self._stripped[name]

    def stripped_column(self, column: str) -> pd.Series:
        """``raw[column].astype(str).str.strip()``, not kept (the coordinates: read once, and
        for a file of 5·10⁶ rows ~170 MB of text)."""
        return self._trimmed_series(column) if column in self._trimmed else \
            self.raw[column].astype(str).str.strip()

    def _trimmed_series(self, column: str) -> pd.Series:
        """The column's values trimmed already (``parse_incidents``): the values Arrow trims
        as ``.str.strip()`` does."""
        return pd.Series(ArrowStringArray(self._trimmed[column], dtype=STR),
                         index=self.raw.index)


def _validate(raw: pd.DataFrame, *, fmt: str, filename: str, crs: CoordinateSystem | None,
              areas: Areas | None, now: datetime | pd.Timestamp | None,
              trimmed: dict[str, pa.ChunkedArray] | None = None) -> ParseResult:
    rej = _Rejects()
    geo = fmt in ("geojson", "gpkg")
    cols, mapping, ignored = _header(raw, geo=geo, filename=filename)
    src = _Input(raw, cols, trimmed)
    rows = src.rows
    _check_ids(src, rej)
    slug_arr, withdrawn, (at, frm, to), (x, y, system, xcol, ycol) = _fields(
        src, rej, now=now, geo=geo, crs=crs, filename=filename)
    address = src.stripped("address") if "address" in cols else None

    def dates(series: pd.Series | None) -> pd.arrays.DatetimeArray:
        if series is None:
            series = pd.Series(pd.NaT, index=raw.index, dtype=f"datetime64[ns, {TIMEZONE}]")
        return series.dt.tz_convert(TIMEZONE).array

    frame = pd.DataFrame({
        "incident_id": _column(src.stripped("incident_id")),
        "crime_type": slug_arr,
        "occurred_at": dates(at),
        "occurred_from": dates(frm),
        "occurred_to": dates(to),
        "address": _column(address.replace("", None)) if address is not None else None,
        "x": x,
        "y": y,
        "row": rows,
    })
    if "status" in cols:
        frame["withdrawn"] = withdrawn
    content = frame[CONTENT]  # taken before _assign_areas adds its columns
    if not _parallel(src.n):
        _assign_areas(frame, areas, x, y, rows, rej, f"{xcol}/{ycol}")
        hashes, may_repeat = content_hash(content), _may_repeat(frame["incident_id"])
    else:  # the areas, the content hash and the repeat check on three threads (see _fields)
        with ThreadPoolExecutor(2) as pool:
            hashing = pool.submit(content_hash, content)
            sorting = pool.submit(_may_repeat, frame["incident_id"])
            _assign_areas(frame, areas, x, y, rows, rej, f"{xcol}/{ycol}")
            hashes, may_repeat = hashing.result(), sorting.result()
    rejects, ok, dup_in_file = _repeats_in_file(frame, rej, cols["incident_id"], hashes,
                                                may_repeat)
    valid = (frame if ok.all() else frame.loc[ok]).reset_index(drop=True)
    return ParseResult(incidents=valid, rejects=rejects, n_rows=src.n, coordinate_system=system,
                       duplicates_in_file=dup_in_file, columns=mapping, ignored_columns=ignored,
                       source=dict(raw.attrs.get("source", {})))


#: files from ``PARALLEL_ROWS`` up to ``PARALLEL_MAX_ROWS`` rows have their fields checked in
#: parallel (``_fields``). Larger files one field after another: the threads hold their
#: intermediate columns at the same time (5·10⁶ rows: a peak ~220 MB higher, near the 3 GB
#: the import of such a file must stay under) and spend more time getting fresh memory.
PARALLEL_ROWS = 50_000
PARALLEL_MAX_ROWS = 2_000_000


def _parallel(n: int) -> bool:
    return PARALLEL_ROWS <= n <= PARALLEL_MAX_ROWS


def _fields(src: _Input, rej: _Rejects, *, now: datetime | pd.Timestamp | None, geo: bool,
            crs: CoordinateSystem | None, filename: str) -> tuple[
        np.ndarray | pd.api.extensions.ExtensionArray, np.ndarray,
        tuple[pd.Series, pd.Series | None, pd.Series | None],
        tuple[np.ndarray, np.ndarray, CoordinateSystem | None, str, str]]:
    """Crime type and status, dates, and coordinates of every row, each checked on its own
    columns, with their rejects added to ``rej`` in that order.

    The three are independent, so a large file has them checked on three threads (most of
    the work runs in Arrow and numpy, which release the GIL): each thread collects its own
    rejects, which are added in the order above, and an error is raised as the first one in
    that order, so the result is the same as checking one after another."""
    def types(r: _Rejects) -> tuple[np.ndarray | pd.api.extensions.ExtensionArray,
                                    np.ndarray]:
        return _crime_types(src, r), _withdrawn(src, r)

    def dates(r: _Rejects) -> tuple[pd.Series, pd.Series | None, pd.Series | None]:
        return _dates(src, r, now)

    def coordinates(r: _Rejects) -> tuple[np.ndarray, np.ndarray, CoordinateSystem | None,
                                          str, str]:
        return _coordinates(src, geo=geo, crs=crs, rej=r, filename=filename)

    if not _parallel(src.n):
        t = types(rej)
        d = dates(rej)
        return t[0], t[1], d, coordinates(rej)
    parts = [_Rejects(), _Rejects(), _Rejects()]
    with ThreadPoolExecutor(2) as pool:
        t_job = pool.submit(types, parts[0])
        d_job = pool.submit(dates, parts[1])
        try:
            c: tuple[np.ndarray, np.ndarray, CoordinateSystem | None, str, str] | None = \
                coordinates(parts[2])
            error: BaseException | None = None
        except BaseException as exc:  # raised after the errors of the fields before it
            c, error = None, exc
        t_result, d_result = t_job.result(), d_job.result()
    if error is not None:
        raise error
    assert c is not None
    for part in parts:
        rej.parts.extend(part.parts)
    return t_result[0], t_result[1], d_result, c


def _header(raw: pd.DataFrame, *, geo: bool, filename: str
            ) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The columns: field -> column (a police code alone feeds the crime type), which column
    fed which field (Dutch, for the summary) and the unused columns. Refuses a file without a
    required field, without rows, or with an unused column that holds dates or times."""
    cols = _map_columns([c for c in raw.columns if not c.startswith("__")])
    missing = []
    if "incident_id" not in cols:
        missing.append("registratienummer (id)")
    if "crime_type" not in cols and "crime_code" in cols:
        cols["crime_type"], code_only = cols.pop("crime_code"), True
    else:
        code_only = False
    if "crime_type" not in cols:
        missing.append("misdrijftype (soort)")
    if "occurred_at" not in cols and "occurred_from" not in cols:
        missing.append("datum (pleegdatum of begindatum)")
    has_xy = geo or {"x", "y"} <= cols.keys() or {"x_rd", "y_rd"} <= cols.keys() or \
        {"lon", "lat"} <= cols.keys()
    if not has_xy:
        missing.append("coördinaten (x/y, rd_x/rd_y of lon/lat)")
    if missing:
        found = ", ".join(c for c in raw.columns if not c.startswith("__")) or "geen"
        raise InvalidInput(
            f"{filename}: verplichte kolom(men) ontbreken: {'; '.join(missing)}. "
            f"Gevonden kolommen: {found}"
        )
    if len(raw) == 0:
        raise InvalidInput(f"{filename}: het bestand bevat geen rijen")
    used_keys = set(cols)
    pairs = (("lon", "lat"), ("x_rd", "y_rd"), ("x", "y"))
    if geo:  # the location is the geometry; coordinate columns are not read
        used_keys -= {k for p in pairs for k in p}
    else:  # the coordinate columns read are the first complete pair (as in _coordinates)
        pair = next(p for p in pairs if set(p) <= cols.keys())
        used_keys -= {k for p in pairs for k in p} - set(pair)
    if "time" in cols and "occurred_at" not in cols:
        used_keys.discard("time")
    if "time_from" in cols and "occurred_from" not in cols:
        used_keys.discard("time_from")
    if "time_to" in cols and "occurred_to" not in cols:
        used_keys.discard("time_to")
    used = {cols[k] for k in used_keys}
    ignored = [c for c in raw.columns if not str(c).startswith("__") and c not in used]
    datelike = [c for c in ignored if _looks_like_date(c, raw[c])]
    if datelike:
        raise InvalidInput(
            f"{filename}: kolom(men) met een datum of tijd die niet gebruikt worden: "
            f"{', '.join(datelike)}. Hernoem ze naar een bekende naam (bijv. pleegdatum, "
            "pleegtijd, begindatum, begintijd, einddatum, eindtijd) of verwijder ze; een tijd "
            "die stil wegvalt geeft een verkeerd pleegmoment")
    mapping = {FIELD_LABELS[k] if not (k == "crime_type" and code_only)
               else FIELD_LABELS["crime_code"]: cols[k] for k in sorted(
                   used_keys, key=list(FIELD_LABELS).index)}
    return cols, mapping, ignored


def _check_ids(src: _Input, rej: _Rejects) -> None:
    """Identifiers: every row has one."""
    bad = src.stripped("incident_id") == ""
    rej.add(src.rows[bad], src.cols["incident_id"], "", "registratienummer ontbreekt")


def _crime_types(src: _Input, rej: _Rejects) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """The slug of each row (each distinct value resolved once); with a police code column
    the code decides, and code and class name must agree."""
    cols, rows = src.cols, src.rows
    ct_raw = src.stripped("crime_type")
    codes, uniques = pd.factorize(ct_raw)
    slugs_u, _ = crimetypes.resolve_many(list(uniques))
    slug_arr = take_strings([*slugs_u, None], codes)
    bad = pd.isna(slug_arr)
    rej.add(rows[bad], cols["crime_type"], ct_raw[bad],
            f"onbekend misdrijftype ({crimetypes.HINT})")
    if "crime_code" not in cols:
        return slug_arr
    code_raw = src.stripped("crime_code")
    ccodes, cuniq = pd.factorize(code_raw)
    cslugs, _ = crimetypes.resolve_many(list(cuniq))
    code_slug = take_strings([*cslugs, None], ccodes)
    has_code = (code_raw != "").to_numpy()
    unknown = has_code & pd.isna(code_slug)
    rej.add(rows[unknown], cols["crime_code"], code_raw[unknown],
            f"onbekende politiecode ({crimetypes.HINT})")
    both = has_code & ~pd.isna(code_slug) & ~bad
    code_obj = np.asarray(code_slug, dtype=object)
    class_obj = np.asarray(slug_arr, dtype=object)
    differ = both & (code_obj != class_obj)
    if differ.any():  # a moped code within the class of bicycles and mopeds agrees
        differ[differ] = ~np.asarray(crimetypes.refines(code_obj[differ], class_obj[differ]),
                                     dtype=bool)
    rej.add(rows[differ], cols["crime_code"], code_raw[differ],
            "politiecode en misdrijfomschrijving horen bij verschillende misdrijftypen")
    take = has_code & ~pd.isna(code_slug)
    if take.any():
        slug_arr = np.where(take, code_obj, class_obj)
    return slug_arr


def _withdrawn(src: _Input, rej: _Rejects) -> np.ndarray:
    """Status: which rows withdraw a registration; an unknown status is rejected."""
    withdrawn = np.zeros(src.n, dtype=bool)
    if "status" in src.cols:
        status = src.stripped("status").str.lower()
        withdrawn = status.isin(WITHDRAWN).to_numpy()
        unknown = ~withdrawn & ~status.isin(ACTIVE).to_numpy()
        rej.add(src.rows[unknown], src.cols["status"], src.stripped("status")[unknown],
                "onbekende status (gebruik bijv. 'ingetrokken' voor een ingetrokken "
                "registratie, of laat leeg)")
    return withdrawn


def _dates(src: _Input, rej: _Rejects, now: datetime | pd.Timestamp | None
           ) -> tuple[pd.Series, pd.Series | None, pd.Series | None]:
    """The moment, and the window (begin, end) when given: dates with their time columns,
    checked (readable, not in the future, the end not before the begin, the moment inside
    the window); a row with only a window gets its midpoint as the moment."""
    cols, rows = src.cols, src.rows
    now_ts = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz=TIMEZONE)
    if now_ts.tzinfo is None:
        now_ts = now_ts.tz_localize(TIMEZONE)

    def clock(name: str) -> pd.Series | None:
        """A time column, hours padded to two digits (8:00 -> 08:00)."""
        if name not in cols:
            return None
        return src.stripped(name).str.replace(r"^(\d):", r"0\1:", regex=True)

    at = _parse_datetime(src.stripped("occurred_at"), clock("time")) \
        if "occurred_at" in cols else None
    frm = _parse_datetime(src.stripped("occurred_from"), clock("time_from")) \
        if "occurred_from" in cols else None
    to = _parse_datetime(src.stripped("occurred_to"), clock("time_to")) \
        if "occurred_to" in cols else None
    for series, name in ((at, "occurred_at"), (frm, "occurred_from"), (to, "occurred_to")):
        if series is None:
            continue
        text = src.stripped(name)
        unparsable = series.isna() & (text != "")
        rej.add(rows[unparsable], cols[name], text[unparsable],
                "datum niet te lezen (gebruik bijv. 2017-03-14 21:30 of 14-03-2017 21:30)")
        future = series.notna() & (series > now_ts)
        rej.add(rows[future], cols[name], text[future], "datum ligt in de toekomst")
    if frm is not None and to is not None:
        reversed_ = frm.notna() & to.notna() & (to < frm)
        rej.add(rows[reversed_], cols["occurred_to"], src.col("occurred_to")[reversed_],
                "einde van de pleegperiode ligt voor het begin")
    if at is None:
        assert frm is not None
        end = to if to is not None else frm
        at = frm + (end.fillna(frm) - frm) / 2
        no_date = frm.isna() & (src.stripped("occurred_from") == "")
        rej.add(rows[no_date], cols["occurred_from"], "", "begindatum ontbreekt")
    else:
        no_date = at.isna() & (src.stripped("occurred_at") == "")
        if frm is not None:
            # only a window: use its midpoint
            end = to if to is not None else frm
            mid = frm + (end.fillna(frm) - frm) / 2
            at = at.where(at.notna(), mid)
            no_date &= frm.isna()
            outside = at.notna() & frm.notna() & (at < frm)
            if to is not None:
                outside |= at.notna() & to.notna() & (at > to)
            rej.add(rows[outside & ~no_date], cols["occurred_at"],
                    src.col("occurred_at")[outside],
                    "pleegmoment ligt buiten de opgegeven pleegperiode")
        rej.add(rows[no_date], cols["occurred_at"], "", "datum ontbreekt")
    return at, frm, to


def _assign_areas(frame: pd.DataFrame, areas: Areas | None, x: np.ndarray, y: np.ndarray,
                  rows: np.ndarray, rej: _Rejects, label: str) -> None:
    """Buurt and wijk of each row (``frame`` gets ``buurt_code``/``wijk_code``); a point in no
    buurt of the configured gemeenten is rejected (``Areas.outside_reason``)."""
    if areas is None:
        frame["buurt_code"] = None
        frame["wijk_code"] = None
        return
    finite = np.isfinite(x) & np.isfinite(y)
    assigned = areas.assign(np.where(finite, x, np.nan), np.where(finite, y, np.nan))
    frame["buurt_code"] = _column(assigned["buurt_code"])
    frame["wijk_code"] = _column(assigned["wijk_code"])
    outside = finite & pd.isna(frame["buurt_code"]).to_numpy()
    rej.add(rows[outside], label,
            pd.Series(x[outside]).round(2).astype(str) + " " +
            pd.Series(y[outside]).round(2).astype(str),
            areas.outside_reason())


#: the fields whose values make an incident's content (``content_hash``)
CONTENT = ["crime_type", "occurred_at", "occurred_from", "occurred_to", "address", "x", "y"]


def _repeats_in_file(frame: pd.DataFrame, rej: _Rejects, id_column: str, hashes: np.ndarray,
                     may_repeat: bool) -> tuple[pd.DataFrame, pd.Series, int]:
    """Ids repeated within the file (``frame`` gets ``content_hash``, ``hashes``, the
    ``content_hash`` of its ``CONTENT``; ``may_repeat``: ``_may_repeat`` of its ids): with
    other content all rows of the id are rejected, with the same content the repeats are
    dropped and counted. Returns the rejection report, the rows to keep and the number of
    exact repeats."""
    rejects = rej.frame()
    bad_rows = set(rejects["row"].tolist())
    ok = ~frame["row"].isin(bad_rows)
    frame["content_hash"] = hashes
    dup_in_file = 0
    if may_repeat:
        dupmask = frame["incident_id"].duplicated(keep=False) & (frame["incident_id"] != "")
    else:
        dupmask = pd.Series(False, index=frame.index)
    if dupmask.any():
        d = frame.loc[dupmask]
        variants = d.groupby("incident_id")["content_hash"].nunique()
        conflicting = set(variants[variants > 1].index)
        conf = frame["incident_id"].isin(conflicting)
        if conf.any():
            c = frame.loc[conf]
            listed = c.groupby("incident_id")["row"].agg(lambda r: ", ".join(map(str, r[:5])))
            reason = ("dubbel registratienummer met andere inhoud (rijen "
                      + c["incident_id"].map(listed) + ")")
            rej.add(c["row"], id_column, c["incident_id"], reason.to_numpy())
            rejects = rej.frame()
            ok &= ~conf
        exact = frame["incident_id"].duplicated(keep="first") & ~conf & ok
        dup_in_file = int(exact.sum())
        ok &= ~exact
    return rejects, ok, dup_in_file


def _looks_like_date(name: str, values: pd.Series) -> bool:
    """Whether an unused column holds dates or times: by its name, or because most of its
    first non-empty values read as a date or a clock time."""
    if _DATE_NAME.search(re.sub(r"[\s_\-.]+", "", str(name))):
        return True
    sample = values.astype(str).str.strip()
    sample = sample[sample != ""].head(50)
    if len(sample) == 0:
        return False
    clock = sample.str.match(_TIME_VALUE.pattern)
    dated = parse_datetime(sample).notna()
    # plain numbers (a count, an x coordinate) are no dates, though %Y%m%d may read them
    plain = sample.str.fullmatch(r"[-+]?\d+([.,]\d+)?")
    return bool(((clock | dated) & ~plain).mean() >= 0.8)


def _column(values: pd.Series) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``values.to_numpy()`` for a DataFrame column, without the round trip through Python
    strings when it ends where it starts: an object array holding a string is inferred back to
    the ``str`` dtype (``STR``), so a ``str`` column with a string is passed as it is."""
    if values.dtype == STR and values.notna().any() and infers_str():
        return values.array
    return values.to_numpy()


def _may_repeat(ids: pd.Series) -> bool:
    """False when no non-empty id occurs twice (then ``duplicated`` has nothing to find);
    True when one may. One Arrow sort instead of hashing every id in pandas."""
    if ids.dtype != STR or ids.isna().any():
        return True
    arr = pa.array(ids)
    ordered = arr.take(pc.sort_indices(arr))
    same = pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
    return bool(pc.any(pc.and_(same, pc.not_equal(ordered.slice(1), ""))).as_py())


def content_hash(frame: pd.DataFrame) -> np.ndarray:
    """A stable 63-bit hash of each row's content (coordinates to the centimetre)."""
    def normal(c: str) -> pd.Series:
        values = frame[c]
        if c in ("x", "y"):
            return (values * 100).round().astype("Int64")
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            return values.dt.tz_convert("UTC").astype("int64").where(values.notna(), -1)
        return values

    # the other columns as they are, not copied (10⁶ rows: ~0.1 s and their memory)
    norm = pd.DataFrame({c: normal(c) for c in frame.columns}, copy=False)
    h = pd.util.hash_pandas_object(norm, index=False).to_numpy()
    return (h >> np.uint64(1)).astype(np.int64)


def _classify(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rd = (x >= _RD_X[0]) & (x <= _RD_X[1]) & (y >= _RD_Y[0]) & (y <= _RD_Y[1])
    wgs = (x >= _WGS_X[0]) & (x <= _WGS_X[1]) & (y >= _WGS_Y[0]) & (y <= _WGS_Y[1])
    swapped = (y >= _WGS_X[0]) & (y <= _WGS_X[1]) & (x >= _WGS_Y[0]) & (x <= _WGS_Y[1])
    return rd, wgs, swapped


def _coordinates(
    src: _Input, *, geo: bool, crs: CoordinateSystem | None, rej: _Rejects, filename: str,
) -> tuple[np.ndarray, np.ndarray, CoordinateSystem | None, str, str]:
    raw, cols, rows = src.raw, src.cols, src.rows
    declared = crs
    if geo:
        xcol, ycol = "geometrie", "geometrie"
        x = raw["__x"].to_numpy(dtype=float)
        y = raw["__y"].to_numpy(dtype=float)
        gtype = raw["__geomtype"]
        notpoint = (gtype != "Point") & (gtype != "")
        rej.add(rows[notpoint], "geometrie", gtype[notpoint], "geometrie is geen punt")
        nogeom = (gtype == "").to_numpy()
        rej.add(rows[nogeom], "geometrie", "", "geometrie ontbreekt")
        file_crs = raw.attrs.get("crs")
        if declared is None and file_crs in ("rd", "wgs84"):
            declared = file_crs
        elif declared is None and file_crs is not None:
            raise InvalidInput(f"{filename}: coördinatenstelsel {file_crs} wordt niet "
                               "ondersteund; gebruik RD New (EPSG:28992) of WGS84")
    else:
        if {"lon", "lat"} <= cols.keys():
            xcol, ycol = cols["lon"], cols["lat"]
            declared = declared or "wgs84"
        elif {"x_rd", "y_rd"} <= cols.keys():
            xcol, ycol = cols["x_rd"], cols["y_rd"]
            declared = declared or "rd"
        else:
            xcol, ycol = cols["x"], cols["y"]
        xt, yt = src.stripped_column(xcol), src.stripped_column(ycol)
        x = _parse_number(xt, _arrow(xt, stripped=True)).to_numpy(dtype=float)
        y = _parse_number(yt, _arrow(yt, stripped=True)).to_numpy(dtype=float)
        for vals, raw, name in ((x, xt, xcol), (y, yt, ycol)):
            empty = (raw == "").to_numpy()
            rej.add(rows[empty], name, "", "coördinaat ontbreekt")
            unreadable = ~np.isfinite(vals) & ~empty
            rej.add(rows[unreadable], name, raw[unreadable], "coördinaat is geen getal")
    finite = np.isfinite(x) & np.isfinite(y)
    rd, wgs, swapped = _classify(x, y)
    system: CoordinateSystem | None = declared
    if system is None:
        n_rd, n_wgs = int(rd.sum()), int(wgs.sum())
        total = n_rd + n_wgs
        if total == 0:
            raise InvalidInput(
                f"{filename}: coördinatenstelsel niet te bepalen: de waarden passen niet bij RD "
                "(x 0-300000, y 289000-629000) of bij lon/lat; geef het op met --crs rd|wgs84"
            )
        if n_rd >= MAJORITY * total:
            system = "rd"
        elif n_wgs >= MAJORITY * total:
            system = "wgs84"
        else:
            raise InvalidInput(
                f"{filename}: coördinaten dubbelzinnig: {n_rd} rijen lijken RD, {n_wgs} rijen "
                "lijken lon/lat; geef het stelsel op met --crs rd|wgs84"
            )
    label = f"{xcol}/{ycol}" if xcol != ycol else xcol
    def text(mask: np.ndarray) -> list[str]:  # only for the rows reported
        return [f"{a:.6g} {b:.6g}" for a, b in zip(x[mask], y[mask], strict=True)]

    if system == "rd":
        lonlat = finite & (wgs | swapped)
        rej.add(rows[lonlat], label, text(lonlat), "lijkt op lon/lat in een RD-kolom")
        other = finite & ~rd & ~lonlat
        rej.add(rows[other], label, text(other), "geen geldige RD-coördinaat")
    else:
        rdlike = finite & rd
        rej.add(rows[rdlike], label, text(rdlike),
                "lijkt op een RD-coördinaat in een lon/lat-kolom")
        sw = finite & swapped & ~wgs
        rej.add(rows[sw], label, text(sw), "lon en lat lijken verwisseld")
        other = finite & ~wgs & ~rdlike & ~sw
        rej.add(rows[other], label, text(other), "geen geldige lon/lat in Nederland")
        ok = finite & wgs
        xx, yy = np.full_like(x, np.nan), np.full_like(y, np.nan)
        if ok.any():
            xx[ok], yy[ok] = _to_rd().transform(x[ok], y[ok])
        x, y = xx, yy
    valid = finite & (rd if system == "rd" else np.isfinite(x))
    x = np.where(valid, x, np.nan)
    y = np.where(valid, y, np.nan)
    return x, y, system, xcol, ycol


# --- export ----------------------------------------------------------------------------------


def _iso(values: pd.Series) -> pd.Series:
    """tz-aware timestamps as ISO 8601 with their UTC offset (NaT -> '')."""
    local = values.dt.tz_convert(TIMEZONE)
    text = local.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(
        r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True)
    return text.where(values.notna(), "")


def export_table(incidents: pd.DataFrame) -> pd.DataFrame:
    """Incidents as the store gives them (``Store.incidents()``) in the import format: Dutch
    headers, ISO 8601 times with their offset, RD coordinates in metres, the slug as crime
    type, plus the assigned buurt and wijk codes (ignored on import). Importing the result
    gives the same incidents again (``geoveilig export`` then ``geoveilig import``)."""
    f = incidents
    address = f["address"] if "address" in f else pd.Series([None] * len(f), index=f.index)
    return pd.DataFrame({
        "registratienummer": f["incident_id"].astype(str).to_numpy(),
        "soort": f["crime_type"].astype(str).to_numpy(),
        "pleegdatum": _iso(f["occurred_at"]).to_numpy(),
        "begindatum": _iso(f["occurred_from"]).to_numpy(),
        "einddatum": _iso(f["occurred_to"]).to_numpy(),
        "adres": address.fillna("").astype(str).to_numpy(),
        "rd_x": f["x"].to_numpy(dtype=float),
        "rd_y": f["y"].to_numpy(dtype=float),
        "buurtcode": f["buurt_code"].fillna("").astype(str).to_numpy(),
        "wijkcode": f["wijk_code"].fillna("").astype(str).to_numpy(),
    })


# --- re-importable rejects -------------------------------------------------------------------

#: the columns added to every rejected row (Dutch; the importer names them as ignored)
ERROR_COLUMNS = ("fout_kolom", "fout_reden")


def rejected_rows(data: bytes, filename: str | None, rejects: pd.DataFrame
                  ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The rejected rows of the file ``data`` unchanged, in its own columns and order, plus
    ``fout_kolom`` and ``fout_reden`` (every reason for the row, joined with ' | '), and how
    the file was read (format, encoding, separator). ``rejects`` is the rejection report of
    ``parse_incidents`` or of the store (``row``, ``column``, ``reason``)."""
    _, raw = read_raw(data, filename)
    source = dict(raw.attrs.get("source", {}))
    if not len(rejects):
        keep = raw.iloc[0:0]
    else:
        keep = raw.loc[raw["__row"].isin(rejects["row"].unique())]
    reasons = rejects.groupby("row", sort=False).agg(
        fout_kolom=("column", lambda c: " | ".join(dict.fromkeys(map(str, c)))),
        fout_reden=("reason", lambda r: " | ".join(dict.fromkeys(map(str, r)))))
    out = keep.drop(columns=[c for c in keep.columns
                             if str(c).startswith("__") and c != "__row"]).copy()
    for col in ERROR_COLUMNS:
        out[col] = out["__row"].map(reasons[col]).fillna("").to_numpy()
    return out.reset_index(drop=True), source


def write_rejects(data: bytes, filename: str | None, rejects: pd.DataFrame,
                  out: str | Path) -> int:
    """Write the rejected rows of ``data`` to ``out`` so that they can be fixed and imported
    again: a CSV with the input's separator, encoding and line ends; an Excel file for an
    Excel input; GeoJSON for GeoJSON/GeoPackage (rejected geometries that are no point are
    written as an empty point with the reason). Text cells are neutralised against formula
    injection (``geoveilig.safecsv``), which the importer undoes. Returns the number of rows."""
    rows, source = rejected_rows(data, filename, rejects)
    reasons_rows = rows["__row"].to_numpy(dtype=np.int64)
    rows = rows.drop(columns=[c for c in rows.columns if str(c).startswith("__")])
    fmt = source.get("format", "csv")
    out = Path(out)
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("afgewezen")
        sheet.append(list(rows.columns))
        for record in safecsv.neutralise_frame(rows).itertuples(index=False):
            sheet.append(list(record))
        book.save(out)
        return len(rows)
    if fmt in ("geojson", "gpkg"):
        # the features themselves, geometry as it was (a polygon stays a polygon)
        gdf = gpd.read_file(io.BytesIO(data), engine="pyogrio")
        picked = gdf.iloc[reasons_rows - 1].reset_index(drop=True)
        for col in ERROR_COLUMNS:
            picked[col] = rows[col].to_numpy()
        geometry = picked.geometry.name
        text = safecsv.neutralise_frame(picked.drop(columns=geometry))
        gdf = gpd.GeoDataFrame(text, geometry=picked.geometry.values, crs=gdf.crs)
        out.unlink(missing_ok=True)
        gdf.to_file(out, driver="GeoJSON", engine="pyogrio")
        return len(rows)
    encoding = source.get("encoding", "utf-8")
    with out.open("w", encoding=encoding, newline="", errors="replace") as fh:
        writer = csv.writer(fh, delimiter=source.get("sep", ";"),
                            lineterminator=source.get("newline", "\n"))
        writer.writerow([safecsv.neutralise(str(c)) for c in rows.columns])
        for record in rows.itertuples(index=False):
            writer.writerow([safecsv.neutralise("" if pd.isna(v) else str(v)) for v in record])
    return len(rows)
