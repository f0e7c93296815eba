"""Reading and writing the registry as CSV and GeoJSON, and the refusal of personal data.

File layout (one row / feature per group; column names are case- and separator-insensitive,
Dutch synonyms in brackets):

- ``group_id`` (id, groep_id) — required, stable identifier chosen by the municipality.
- ``type`` (soort) — ``buurtpreventieteam`` (bpt, team) or ``whatsapp-preventiegroep``
  (whatsapp, wabp).
- ``label`` (groepsnaam, teamnaam) — the group's *own* name, e.g. "BPT Brandevoort-Noord".
- ``team_id`` (team, gekoppeld_team) — for a WhatsApp group: the ``group_id`` of its team.
- ``buurten`` (buurtcodes) — CBS buurt codes separated by ``;``, ``|``, ``,`` or spaces (in a
  ``;``-separated CSV use ``|``). In GeoJSON also a JSON list.
- ``geometry`` (wkt) in CSV: a WKT polygon in RD (EPSG:28992); in GeoJSON the feature's
  geometry (RD when the file names EPSG:28992 in its ``crs`` member, else RFC 7946 WGS84).
- ``area_kind`` — ``buurten`` or ``polygon``; default: buurten when ``buurten`` is filled in.
  A buurt group's geometry in an export is only for viewing; on import the list wins.
- ``postcodes`` — optional postcode areas (1234 or 1234AB), kept as information only.
- ``members`` (aantal_leden, leden, deelnemers) — optional number of members.
- Status: either ``status_history`` (``actief 2017-03-01 | gestopt 2018-01-15``: entries
  ``status date`` separated by ``|`` or ``;``), or one date per status ``in_oprichting_sinds``,
  ``actief_sinds``, ``gestopt_sinds`` (English: ``forming_since``, ``active_since``,
  ``stopped_since``), or ``status`` + ``since`` (sinds). Dates ``JJJJ-MM-DD`` or
  ``DD-MM-JJJJ``.
- ``synthetic`` — true for demo data.

Personal data are refused (the import stops, nothing is stored): geoveilig registers groups,
not people. A column is refused when its normalised name (lower case, without spaces, ``-``,
``_``, ``.``)

- is ``naam``/``name`` or ends in ``naam``/``name`` (voornaam, achternaam, contactnaam,
  beheerdernaam...), except the group-name columns ``groepsnaam``, ``teamnaam``,
  ``groupname``, ``teamname`` and the area-name columns ``buurtnaam``, ``wijknaam``;
  rename a group-name column to ``label``;
- contains ``telefoon``, ``phone``, ``mobiel``, ``mobile``, ``gsm``, ``mail`` (e-mail,
  email, emailadres), ``adres``/``address`` (adres, woonadres, e-mailadres), ``huisnummer``,
  ``housenumber``, ``contact`` (contactpersoon, contactgegevens), ``geboorte``/``birth``,
  ``bsn``, ``coordinator``/``coördinator``, ``beheerder``, ``admin``, ``voorzitter``,
  ``persoon``/``person``;
- is ``tel``, ``telnr``, ``nummer``, ``lid`` or ``leden`` with non-numeric values (names of
  members).

Besides, a ``label``, ``group_id``, ``team_id`` or ``postcodes`` value that looks like an
e-mail address or a Dutch phone number (``06-12345678``, ``+31 6 ...``, ``040-1234567``)
rejects its row (``registry.looks_personal``; the library functions ``add_group`` etc. apply the
same check). Other unknown columns are
ignored (not stored) and reported as a warning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from .. import RD_NEW, safecsv
from ..areas import Areas
from ..columns import map_columns
from ..errors import ImportRejected, InvalidInput
from ..incidents import _read_csv
from ..textfile import _decode
from .registry import (
    ACTIVE,
    FORMING,
    STATUS_LABELS,
    STOPPED,
    Registry,
    _key,
    _validate,
    to_date,
)

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "group_id": ("group_id", "groupid", "id", "groep_id", "groepid", "groepscode"),
    "type": ("type", "soort", "groepstype", "group_type"),
    "label": ("label", "groepsnaam", "teamnaam", "group_name", "team_name"),
    "team_id": ("team_id", "team", "gekoppeld_team", "parent_team", "teamid"),
    "buurten": ("buurten", "buurt_codes", "buurtcodes", "buurtcode", "buurt"),
    "geometry": ("geometry", "geometrie", "wkt", "geom"),
    "area_kind": ("area_kind", "gebiedstype", "gebied_soort"),
    "postcodes": ("postcodes", "postcode", "postcodegebieden", "pc4", "pc6"),
    "members": ("members", "aantal_leden", "leden", "deelnemers", "aantal_deelnemers",
                "member_count"),
    "status_history": ("status_history", "statushistorie", "statusgeschiedenis", "historie"),
    "status": ("status",),
    "since": ("since", "sinds", "status_since", "datum", "vanaf"),
    FORMING: ("in_oprichting_sinds", "forming_since", "oprichting_sinds", "in_oprichting"),
    ACTIVE: ("actief_sinds", "active_since", "actief"),
    STOPPED: ("gestopt_sinds", "stopped_since", "gestopt", "opgeheven_sinds"),
    "synthetic": ("synthetic", "synthetisch", "demo"),
}
_IGNORED_OK = {"buurtnaam", "wijknaam", "wijk", "wijkcode", "wijkcodes", "areakm2", "typelabel",
               "statuslabel", "statussince", "currentstatus", "opmerking"}
_NAME_OK = {"groepsnaam", "teamnaam", "groupname", "teamname", "buurtnaam", "wijknaam"}
_PERSONAL_PARTS = (
    ("telefoon", "telefoonnummer"), ("phone", "telefoonnummer"), ("mobiel", "telefoonnummer"),
    ("mobile", "telefoonnummer"), ("gsm", "telefoonnummer"), ("mail", "e-mailadres"),
    ("adres", "adres"), ("address", "adres"), ("huisnummer", "adres"),
    ("housenumber", "adres"), ("contact", "contactpersoon"), ("geboorte", "geboortedatum"),
    ("birth", "geboortedatum"), ("bsn", "burgerservicenummer"),
    ("coordinator", "naam van een persoon"), ("coördinator", "naam van een persoon"),
    ("beheerder", "naam van een persoon"), ("admin", "naam van een persoon"),
    ("voorzitter", "naam van een persoon"), ("persoon", "persoonsgegevens"),
    ("person", "persoonsgegevens"),
)
_PERSONAL_EXACT = {"tel": "telefoonnummer", "telnr": "telefoonnummer",
                   "nummer": "telefoonnummer"}


def personal_column(name: str) -> str | None:
    """Why a column name is refused as personal data (a Dutch description), or None."""
    k = _key(name)
    if k in _NAME_OK:
        return None
    if k in ("naam", "name") or k.endswith(("naam", "name")):
        return "naam van een persoon"
    if k in _PERSONAL_EXACT:
        return _PERSONAL_EXACT[k]
    for part, why in _PERSONAL_PARTS:
        if part in k:
            return why
    return None


def check_personal_data(columns: list[str], filename: str = "bestand") -> None:
    """Raise ``ImportRejected`` naming every column with personal data."""
    refused = [(c, personal_column(c)) for c in columns if not c.startswith("__")]
    refused = [(c, why) for c, why in refused if why]
    if not refused:
        return
    rejects = pd.DataFrame({
        "row": 1, "column": [c for c, _ in refused], "value": "",
        "reason": [f"kolom '{c}' bevat persoonsgegevens ({why}): geoveilig registreert "
                   "groepen, geen personen. Verwijder de kolom (de naam van de groep zelf "
                   "mag in de kolom 'label')" for c, why in refused],
    })
    names = ", ".join(f"'{c}'" for c, _ in refused)
    raise ImportRejected(
        f"{filename}: kolom(men) met persoonsgegevens geweigerd: {names}; er is niets "
        "ingelezen", rejects)


@dataclass(frozen=True)
class ParsedRegistry:
    registry: Registry
    n_rows: int
    warnings: tuple[str, ...]


def _to_rd() -> Transformer:
    return Transformer.from_crs("OGC:CRS84", RD_NEW, always_xy=True)


def _objects(values: list[Any]) -> np.ndarray:
    """A 1-d object array (numpy would make a 2-d array of coordinate sequences)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _read_geojson(data: bytes, filename: str) -> pd.DataFrame:
    try:
        doc = json.loads(_decode(data, filename))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{filename}: geen geldige GeoJSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InvalidInput(f"{filename}: verwacht een GeoJSON FeatureCollection")
    crs_name = str(((doc.get("crs") or {}).get("properties") or {}).get("name", ""))
    rd = "28992" in crs_name
    if crs_name and not rd and not re.search(r"CRS84|4326", crs_name):
        raise InvalidInput(f"{filename}: coördinatenstelsel '{crs_name}' niet ondersteund; "
                           "gebruik RD (EPSG:28992) of WGS84")
    rows = []
    geoms = []
    for i, feat in enumerate(doc.get("features") or []):
        props = dict((feat or {}).get("properties") or {})
        for k, v in list(props.items()):
            if isinstance(v, list):
                props[k] = ";".join(map(str, v))
            elif v is None:
                props[k] = ""
            elif isinstance(v, bool):
                props[k] = "true" if v else "false"
            else:
                props[k] = str(v)
        if "group_id" not in props and feat.get("id") is not None:
            props["group_id"] = str(feat["id"])
        props["__row"] = i + 1
        rows.append(props)
        g = (feat or {}).get("geometry")
        try:
            geoms.append(shapely.geometry.shape(g) if g else None)
        except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException):
            geoms.append("invalid")
    frame = pd.DataFrame(rows).fillna("")
    if "__row" not in frame:
        frame["__row"] = pd.Series(dtype=int)
    geo = _objects(geoms)
    ok = np.array([isinstance(g, shapely.Geometry) for g in geo], dtype=bool)
    if ok.any() and not rd:
        sample = np.vstack([shapely.get_coordinates(g) for g in geo[ok]])
        if np.abs(sample).max() > 360:
            raise InvalidInput(f"{filename}: de coördinaten lijken RD-meters maar het bestand "
                               "noemt geen EPSG:28992 in 'crs'; voeg dat toe of lever WGS84")
        tr = _to_rd()
        geo[ok] = [shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0],
                                                                               xy[:, 1])))
                   for g in geo[ok]]
    frame["__geometry"] = geo
    return frame


def _parse_history(raw: pd.DataFrame, cols: dict[str, str], filename: str) -> list[dict[str, Any]]:
    hist: list[dict[str, Any]] = []
    ids = raw[cols["group_id"]].astype(str).str.strip() if "group_id" in cols else \
        pd.Series([""] * len(raw))
    rows = raw["__row"].to_numpy()
    if "status_history" in cols:
        col = cols["status_history"]
        for gid, row, text in zip(ids, rows, raw[col].astype(str), strict=True):
            for part in filter(None, (p.strip() for p in re.split(r"[|;]", text))):
                m = re.match(r"^(.*?)[\s:@=]+(\d{1,4}[-/]\d{1,2}[-/]\d{1,4})$", part)
                if m is None:
                    hist.append({"group_id": gid, "status": part, "since": None, "row": row,
                                 "column": col})
                else:
                    hist.append({"group_id": gid, "status": m.group(1), "row": row,
                                 "since": _date_text(m.group(2)), "column": col})
    for status in (FORMING, ACTIVE, STOPPED):
        if status in cols:
            col = cols[status]
            for gid, row, text in zip(ids, rows, raw[col].astype(str), strict=True):
                if text.strip():
                    hist.append({"group_id": gid, "status": status, "row": row,
                                 "since": _date_text(text), "column": col})
    if "status" in cols:
        scol = cols["status"]
        dcol = cols.get("since")
        for i, (gid, row, text) in enumerate(zip(ids, rows, raw[scol].astype(str),
                                                 strict=True)):
            if text.strip():
                since = raw[dcol].iloc[i] if dcol else ""
                hist.append({"group_id": gid, "status": text, "row": row,
                             "since": _date_text(str(since)), "column": dcol or "since"})
    return hist


def _date_text(text: str) -> object:
    text = text.strip()
    if not text:
        return None
    m = re.match(r"^(\d{1,2})[-/](\d{1,2})[-/](\d{4})$", text)
    if m:
        text = f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    try:
        return to_date(text)
    except InvalidInput:
        return text


def parse_registry(data: bytes, filename: str = "bestand",
                   known_buurten: list[str] | None = None) -> ParsedRegistry:
    """Parse a CSV or GeoJSON registry file. Refuses personal data (whole file), validates
    every row and raises ``ImportRejected`` (row, column, value, reason) when anything is
    wrong: a file is taken whole or not at all."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    is_json = filename.lower().endswith((".geojson", ".json")) or head.startswith(b"{")
    if is_json:
        raw = _read_geojson(data, filename)
    else:  # undo the neutralisation of an export (safecsv): '=... reads as =...
        raw = safecsv.restore_frame(_read_csv(data, filename))
    columns = [c for c in raw.columns if not c.startswith("__")]
    check_personal_data(columns, filename)
    cols = map_columns(columns, _SYNONYMS)
    warnings: list[str] = []
    ignored = [c for c in columns if c not in cols.values() and _key(c) not in _IGNORED_OK]
    if ignored:
        warnings.append("kolom(men) genegeerd en niet opgeslagen: " + ", ".join(ignored))
    if "group_id" not in cols:
        raise InvalidInput(f"{filename}: kolom 'group_id' ontbreekt")
    if "type" not in cols:
        raise InvalidInput(f"{filename}: kolom 'type' ontbreekt")
    problems: list[dict[str, Any]] = []
    g = pd.DataFrame({"row": raw["__row"].to_numpy()})
    for canon in ("group_id", "type", "label", "team_id", "buurten", "area_kind", "postcodes",
                  "members", "synthetic"):
        g[canon] = raw[cols[canon]].to_numpy() if canon in cols else None
    if is_json:
        geo = _objects(list(raw["__geometry"]))
        bad = np.array([isinstance(x, str) for x in geo], dtype=bool)
        for row in raw.loc[bad, "__row"]:
            problems.append({"row": row, "column": "geometry", "value": "",
                             "reason": "geometrie niet te lezen"})
        geo[bad] = None
        g["geometry"] = geo
    elif "geometry" in cols:
        texts = raw[cols["geometry"]].astype(str).str.strip()
        geo = np.full(len(raw), None, dtype=object)
        for i, t in enumerate(texts):
            if t:
                try:
                    geo[i] = shapely.from_wkt(t)
                except shapely.errors.GEOSException:
                    problems.append({"row": raw["__row"].iloc[i], "column": cols["geometry"],
                                     "value": t[:40], "reason": "geen geldige WKT"})
        g["geometry"] = geo
    hist = pd.DataFrame(_parse_history(raw, cols, filename),
                        columns=["group_id", "status", "since", "row", "column"])
    reg = _validate(g, hist, problems, known_buurten, same_rows=True)
    if problems:
        rejects = pd.DataFrame(problems, columns=["row", "column", "value", "reason"])
        rejects = rejects.sort_values(["row", "column"], kind="stable", ignore_index=True)
        raise ImportRejected(
            f"{filename}: {rejects['row'].nunique()} van {len(raw)} rijen ongeldig; er is "
            "niets ingelezen", rejects)
    return ParsedRegistry(registry=reg, n_rows=len(raw), warnings=tuple(warnings))


# --- export ----------------------------------------------------------------------------------

def _history_text(registry: Registry) -> pd.Series:
    h = registry.history
    text = (h["status"] + " " + h["since"].dt.strftime("%Y-%m-%d")).groupby(
        h["group_id"]).agg(" | ".join)
    return text.reindex(registry.groups["group_id"]).fillna("")


def registry_table(registry: Registry, when: date | datetime | str | None = None
                   ) -> pd.DataFrame:
    """The registry as a flat table (the CSV layout): one row per group, ``status_history``
    in full, the status on ``when`` (default the latest) for reading, WKT for polygons."""
    g = registry.groups
    day = when if when is not None else (registry.history["since"].max()
                                         if len(registry.history) else "2000-01-01")
    status = registry.status_on(day)
    return pd.DataFrame({
        "group_id": g["group_id"].to_numpy(),
        "type": g["type"].to_numpy(),
        "label": g["label"].fillna("").to_numpy(),
        "team_id": g["team_id"].fillna("").to_numpy(),
        "area_kind": g["area_kind"].to_numpy(),
        "buurten": ["|".join(b) for b in g["buurten"]],
        "geometry": [shapely.to_wkt(x, rounding_precision=2) if x is not None else ""
                     for x in g.geometry],
        "postcodes": g["postcodes"].fillna("").to_numpy(),
        "members": g["members"].astype(object).where(g["members"].notna(), "").to_numpy(),
        "status_history": _history_text(registry).to_numpy(),
        "current_status": status.map(STATUS_LABELS).fillna("").to_numpy(),
        "synthetic": np.where(g["synthetic"], "true", "false"),
    })


def to_csv(registry: Registry, when: date | datetime | str | None = None) -> bytes:
    """CSV (``;``-separated, UTF-8): buurten joined by ``|``, polygons as WKT (RD). Written
    through :mod:`geoveilig.safecsv` (a group named ``=...`` becomes ``'=...``, which a
    spreadsheet shows as text); :func:`parse_registry` restores it."""
    return safecsv.to_csv(registry_table(registry, when), sep=";", index=False).encode("utf-8")


def to_geojson(registry: Registry, areas: Areas, *, when: date | datetime | str | None = None,
               crs: str = "wgs84") -> bytes:
    """GeoJSON FeatureCollection, one feature per group with its resolved area (buurt groups:
    the union of their buurten, for viewing). ``crs="wgs84"`` writes RFC 7946 (lon/lat),
    ``crs="rd"`` writes EPSG:28992 with a ``crs`` member (as the CBS files in shared/geo)."""
    from .coverage import group_areas

    table = registry_table(registry, when).drop(columns=["geometry"])
    layer = group_areas(registry, areas, when, include_unregistered=True)
    geoms = layer.geometry
    if crs == "wgs84":
        geoms = geoms.to_crs("OGC:CRS84")
    elif crs != "rd":
        raise InvalidInput(f"onbekend coördinatenstelsel '{crs}': kies wgs84 of rd",
                           where="crs")
    features = []
    for rec, geom in zip(table.to_dict("records"), geoms, strict=True):
        props = {k: v for k, v in rec.items()}
        props["buurten"] = [b for b in str(rec["buurten"]).split("|") if b]
        props["members"] = None if rec["members"] == "" else int(rec["members"])
        props["synthetic"] = rec["synthetic"] == "true"
        for k in ("label", "team_id", "postcodes"):
            props[k] = props[k] or None
        features.append({"type": "Feature", "id": rec["group_id"], "properties": props,
                         "geometry": json.loads(shapely.to_geojson(geom))})
    doc: dict[str, Any] = {"type": "FeatureCollection"}
    if crs == "rd":
        doc["crs"] = {"type": "name",
                      "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}}
    doc["features"] = features
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
