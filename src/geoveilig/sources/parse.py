"""Rows of the documented OData JSON layout (``TypedDataSet``: one object per cell row, the
dimensions as keys such as ``WijkenEnBuurten``/``RegioS``, ``Perioden``, ``SoortMisdrijf``,
``Marges``, and the topics as ``Name_N`` columns) into plain frames.

* Dimension keys are padded with spaces by CBS ('GM0794    '); they are stripped.
* ``null`` is "not published" (secret or too small), never zero: it stays missing.
* Periods: ``2017MM01`` = a month, ``2017JJ00`` = the whole year (month 0), ``2017KW01`` =
  a quarter (kept with ``quarter`` set, so nothing is silently dropped; counts use months).
* Topic columns are matched by their name without the ``_N`` suffix, because the number
  differs between the yearly key-figure tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from . import mapping

REGION_KEYS = ("WijkenEnBuurten", "RegioS", "Codering")
_PERIOD = re.compile(r"^(\d{4})(MM|JJ|KW)(\d{2})$")
_LEVELS = {"GM": "gemeente", "WK": "wijk", "BU": "buurt", "NL": "land"}

COUNT_COLUMNS = ("area_code", "area_level", "year", "month", "crime_class", "crime_label",
                 "count", "table_id", "source", "retrieved_at")
FIGURE_COLUMNS = ("area_code", "area_level", "year", "inhabitants", "dwellings",
                  "land_area_ha", "table_id", "source", "retrieved_at")
PERCEPTION_COLUMNS = ("area_code", "area_level", "year", "indicator", "label", "unit", "value",
                      "lower", "upper", "table_id", "source", "retrieved_at")


def base_key(column: str) -> str:
    """``AantalInwoners_5`` -> ``AantalInwoners``."""
    return re.sub(r"_\d+$", "", column)


def area_level(code: str) -> str:
    return _LEVELS.get(code[:2].upper(), "onbekend")


def parse_period(text: object) -> tuple[int, int, int]:
    """``2017MM03`` -> (2017, 3, 0); ``2017JJ00`` -> (2017, 0, 0); ``2017KW02`` ->
    (2017, 0, 2). Anything else is an ``InvalidInput``."""
    m = _PERIOD.match(str(text).strip())
    if not m:
        raise InvalidInput(f"onbekende periodecode '{text}'", where="Perioden")
    year, kind, n = int(m.group(1)), m.group(2), int(m.group(3))
    if kind == "MM":
        if not 1 <= n <= 12:
            raise InvalidInput(f"onbekende maand in periodecode '{text}'", where="Perioden")
        return year, n, 0
    return year, 0, n if kind == "KW" else 0


def _region_key(row: Mapping[str, Any]) -> str:
    for key in REGION_KEYS:
        if key in row:
            return key
    raise InvalidInput("geen regiokolom (WijkenEnBuurten of RegioS) in het antwoord",
                       where="TypedDataSet")


def _topic(row: Mapping[str, Any], name: str) -> str | None:
    for key in row:
        if base_key(key) == name:
            return key
    return None


def _number(value: object) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.nan


def code_titles(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """A dimension's code list (``{"Key": ..., "Title": ...}`` rows) as code -> title."""
    return {str(r["Key"]).strip(): str(r.get("Title") or r["Key"]).strip() for r in rows}


def parse_counts(rows: list[dict[str, Any]], classes: Mapping[str, str], *, table_id: str,
                 retrieved_at: datetime, source: str = "politie") -> pd.DataFrame:
    """Police counts per area, period and crime class. ``classes`` is the ``SoortMisdrijf``
    code list (code -> label); codes missing from it keep the label of the mapping table or
    their code. Quarter rows are rejected with an error: the police tables publish months and
    years only, and a different layout must not be guessed."""
    if not rows:
        return pd.DataFrame(columns=list(COUNT_COLUMNS))
    region = _region_key(rows[0])
    topic = _topic(rows[0], "GeregistreerdeMisdrijven")
    if topic is None or "SoortMisdrijf" not in rows[0] or "Perioden" not in rows[0]:
        raise InvalidInput("het antwoord heeft niet de kolommen SoortMisdrijf, Perioden en "
                           "GeregistreerdeMisdrijven van een politietabel", where=table_id)
    frame = pd.DataFrame.from_records(rows, columns=[region, "Perioden", "SoortMisdrijf", topic])
    codes = frame[region].astype(str).str.strip()
    periods = [parse_period(p) for p in frame["Perioden"]]
    if any(q for _y, _m, q in periods):
        raise InvalidInput("kwartaalcijfers in een politietabel: verwacht maanden (MM) of "
                           "jaren (JJ)", where=table_id)
    crime = frame["SoortMisdrijf"].astype(str).str.strip()

    def label(code: str) -> str:
        if code in classes:
            return classes[code]
        m = mapping.lookup(code)
        return m.label if m is not None and m.code == code else code

    labels = {c: label(c) for c in crime.unique()}
    out = pd.DataFrame({
        "area_code": codes,
        "area_level": codes.map(area_level),
        "year": np.array([p[0] for p in periods], dtype=np.int64),
        "month": np.array([p[1] for p in periods], dtype=np.int64),
        "crime_class": crime,
        "crime_label": crime.map(labels),
        "count": pd.array([None if r.get(topic) is None else int(r[topic]) for r in rows],
                          dtype="Int64"),
    })
    out["table_id"] = table_id
    out["source"] = source
    out["retrieved_at"] = pd.Timestamp(retrieved_at).tz_convert("UTC")
    return out


#: topic names of "Kerncijfers wijken en buurten" (stable over the years, ``_N`` varies)
INHABITANTS = "AantalInwoners"
DWELLINGS = "Woningvoorraad"
LAND_AREA = "OppervlakteLand"


def parse_key_figures(rows: list[dict[str, Any]], *, table_id: str, year: int,
                      retrieved_at: datetime, source: str = "cbs") -> pd.DataFrame:
    """Inhabitants, dwellings and land area (ha) per area from a "Kerncijfers wijken en
    buurten" table of ``year``. Negative or missing values (secret) stay missing."""
    if not rows:
        return pd.DataFrame(columns=list(FIGURE_COLUMNS))
    region = _region_key(rows[0])
    cols = {name: _topic(rows[0], name) for name in (INHABITANTS, DWELLINGS, LAND_AREA)}
    if cols[INHABITANTS] is None:
        raise InvalidInput("het antwoord heeft geen kolom AantalInwoners van de kerncijfers "
                           "wijken en buurten", where=table_id)
    codes = pd.Series([str(r[region]).strip() for r in rows])

    def values(name: str) -> np.ndarray:
        key = cols[name]
        if key is None:
            return np.full(len(rows), np.nan)
        arr = np.array([_number(r.get(key)) for r in rows], dtype=float)
        return np.where(arr >= 0, arr, np.nan)

    out = pd.DataFrame({
        "area_code": codes, "area_level": codes.map(area_level),
        "year": np.full(len(rows), int(year), dtype=np.int64),
        "inhabitants": pd.array(np.round(values(INHABITANTS)), dtype="Int64"),
        "dwellings": pd.array(np.round(values(DWELLINGS)), dtype="Int64"),
        "land_area_ha": values(LAND_AREA),
    })
    out["table_id"] = table_id
    out["source"] = source
    out["retrieved_at"] = pd.Timestamp(retrieved_at).tz_convert("UTC")
    return out


_MARGIN_KINDS = (("ondergrens", "lower"), ("bovengrens", "upper"), ("marge", "margin"),
                 ("waarde", "value"))


def margin_kind(title: str) -> str:
    """'Waarde' -> value, 'Ondergrens 95%-interval' -> lower, 'Bovengrens ...' -> upper,
    'Marge' -> margin (half-width)."""
    t = title.lower()
    for word, kind in _MARGIN_KINDS:
        if word in t:
            return kind
    raise InvalidInput(f"onbekende soort betrouwbaarheidsmarge '{title}'", where="Marges")


def parse_perception(rows: list[dict[str, Any]], topics: Mapping[str, tuple[str, str]],
                     margins: Mapping[str, str], *, table_id: str, retrieved_at: datetime,
                     source: str = "cbs-veiligheidsmonitor") -> pd.DataFrame:
    """Veiligheidsmonitor indicators with their margins.

    ``topics``: column key -> (Dutch title, unit) of the indicators to keep (from the table's
    ``DataProperties``); ``margins``: code -> title of the margins dimension (``Marges`` or
    ``Betrouwbaarheidsmarges``; 'Waarde', 'Ondergrens', 'Bovengrens' or 'Marge'). A table
    without a margins dimension gives values without margins."""
    if not rows:
        return pd.DataFrame(columns=list(PERCEPTION_COLUMNS))
    region = _region_key(rows[0])
    mdim = next((k for k in ("Marges", "Betrouwbaarheidsmarges") if k in rows[0]), None)
    records: dict[tuple[str, int, str], dict[str, float]] = {}
    for r in rows:
        year, month, _q = parse_period(r["Perioden"])
        if month:
            raise InvalidInput("maandcijfers in een tabel van de Veiligheidsmonitor",
                               where=table_id)
        kind = "value" if mdim is None else margin_kind(
            margins.get(str(r[mdim]).strip(), str(r[mdim])))
        code = str(r[region]).strip()
        for key in topics:
            if key in r:
                records.setdefault((code, year, key), {})[kind] = _number(r[key])
    out_rows = []
    for (code, year, key), vals in sorted(records.items()):
        value = vals.get("value", np.nan)
        lower, upper = vals.get("lower", np.nan), vals.get("upper", np.nan)
        if "margin" in vals and np.isnan(lower) and not np.isnan(value):
            lower, upper = value - vals["margin"], value + vals["margin"]
        title, unit = topics[key]
        out_rows.append({"area_code": code, "area_level": area_level(code), "year": year,
                         "indicator": base_key(key), "label": title, "unit": unit,
                         "value": value, "lower": lower, "upper": upper})
    out = pd.DataFrame(out_rows, columns=list(PERCEPTION_COLUMNS[:9]))
    out["table_id"] = table_id
    out["source"] = source
    out["retrieved_at"] = pd.Timestamp(retrieved_at).tz_convert("UTC")
    return out


def perception_topics(properties: Iterable[Mapping[str, Any]],
                      words: tuple[str, ...] = ("onveilig",)) -> dict[str, tuple[str, str]]:
    """The perception indicators of a table's ``DataProperties``: topics whose key or title
    contains one of ``words`` (default: feelings of being unsafe)."""
    out: dict[str, tuple[str, str]] = {}
    for p in properties:
        if str(p.get("Type", "")) != "Topic":
            continue
        key, title = str(p.get("Key", "")), str(p.get("Title", ""))
        if any(w in key.lower() or w in title.lower() for w in words):
            out[key] = (title, str(p.get("Unit") or ""))
    return out
