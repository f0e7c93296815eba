"""Deployments as files: CSV and GeoJSON in and out, RD New or WGS84, re-importable.

Columns (CSV; GeoJSON has the same properties and a point or polygon geometry):

- ``kind`` (soort): alarm, camera or buurttent — required;
- a place: ``x``/``y`` (RD New metres) or ``lon``/``lat`` (WGS84), or ``area_wkt`` (a polygon
  in RD); in GeoJSON the geometry (RD when the file names EPSG:28992, otherwise WGS84);
- ``status``: gepland, geplaatst, beëindigd or geannuleerd (default from the dates);
- ``start``/``end`` (actual), ``planned_start``/``planned_end`` (``JJJJ-MM-DD`` or with a
  time; a time without zone is Europe/Amsterdam wall clock, ``geoveilig.times``);
- optional ``label``, ``radius_m``, ``buurt_code``, ``wijk_code`` (filled in from the
  boundaries when empty), ``units``, ``approximate``, ``synthetic``, ``source``, ``note``,
  ``plan_id``, ``plan_rank``; ``id`` of an export is read and ignored (the store numbers).

Validation is like the incident import: every bad row is reported with its row number, column
and reason, and by default nothing is stored when one row is bad. A row that is already in
the store (same kind, place to the centimetre, status and dates) counts as already present,
so an exported file can be imported again without doubling the registry. Exports go through
``geoveilig.safecsv`` (formula neutralisation) and imports undo it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from . import RD_NEW, WGS84
from .areas import Areas
from .errors import InvalidInput
from .safecsv import restore_frame
from .safecsv import to_csv as safe_csv
from .store.deployments import KINDS, STATUSES, _status_and_times

if TYPE_CHECKING:
    from .store.protocols import HasEngine

__all__ = ["EXPORT_COLUMNS", "DeploymentFile", "DeploymentImport", "export_deployments",
           "import_deployments", "parse_deployments"]

EXPORT_COLUMNS = ["id", "kind", "label", "status", "start", "end", "planned_start",
                  "planned_end", "radius_m", "area_wkt", "buurt_code", "wijk_code", "units",
                  "approximate", "synthetic", "source", "note", "plan_id", "plan_rank"]
_SYNONYMS = {"soort": "kind", "type": "kind", "naam": "label", "omschrijving": "label",
             "begin": "start", "einde": "end", "eind": "end", "gepland_begin": "planned_start",
             "geplande_start": "planned_start", "gepland_einde": "planned_end",
             "straal": "radius_m", "radius": "radius_m", "buurt": "buurt_code",
             "wijk": "wijk_code", "aantal": "units", "bron": "source", "notitie": "note",
             "opmerking": "note", "plan": "plan_id", "rang": "plan_rank",
             "longitude": "lon", "lng": "lon", "latitude": "lat"}
_KNOWN = set(EXPORT_COLUMNS) | {"x", "y", "lon", "lat", "geometry"}
_RD_BOUNDS = (0.0, 300_000.0, 300_000.0, 625_000.0)
_TO_RD = Transformer.from_crs(WGS84, RD_NEW, always_xy=True)
Crs = Literal["rd", "wgs84"]


@dataclass(frozen=True)
class DeploymentFile:
    """A parsed file: the valid rows (EPSG:28992, in the shape ``add_deployments`` takes),
    the rejected ones (``row``, ``column``, ``value``, ``reason``) and the number of rows."""

    frame: gpd.GeoDataFrame
    rejects: pd.DataFrame
    n_rows: int


def _norm(name: str) -> str:
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    return _SYNONYMS.get(key, key)


def _read(data: bytes, filename: str) -> tuple[pd.DataFrame, str | None]:
    """Raw rows as text columns (plus ``__geom`` for GeoJSON) and the file's CRS
    ('rd'/'wgs84', or None for CSV)."""
    name = filename.lower()
    if name.endswith((".geojson", ".json")):
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"{filename}: geen geldige GeoJSON ({exc})") from None
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            raise InvalidInput(f"{filename}: verwacht een GeoJSON FeatureCollection")
        crs_name = str(((doc.get("crs") or {}).get("properties") or {}).get("name", ""))
        crs = "rd" if "28992" in crs_name else "wgs84"
        feats = doc.get("features") or []
        rows = [dict(f.get("properties") or {}) for f in feats]
        raw = pd.DataFrame(rows).astype(object) if rows else pd.DataFrame()
        geoms = []
        for f in feats:
            try:
                geoms.append(shapely.geometry.shape(f["geometry"]) if f.get("geometry")
                             else None)
            except (KeyError, TypeError, ValueError, AttributeError):
                geoms.append(None)
        raw["__geom"] = pd.Series(geoms, dtype=object)
        return raw, crs
    if not name.endswith((".csv", ".txt")):
        raise InvalidInput(f"{filename}: onbekend bestandstype; gebruik .csv of .geojson")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    first = text.split("\n", 1)[0]
    sep = ";" if first.count(";") > first.count(",") else ","
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{filename}: CSV niet leesbaar ({exc})") from None
    return restore_frame(raw), None


def _number(value: object) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().replace(",", ".")
    if not text:
        return None
    return float(text)


def parse_deployments(data: bytes, filename: str = "bestand", *, areas: Areas | None = None,
                      crs: Crs | None = None) -> DeploymentFile:
    """Read and check a deployments file (see the module docstring). ``crs`` overrides the
    coordinates' system for ``x``/``y`` columns ('rd' or 'wgs84'); otherwise ``x``/``y`` are
    RD and ``lon``/``lat`` WGS84. ``areas``: points outside the gemeente are rejected and
    empty buurt/wijk codes are filled in."""
    raw, file_crs = _read(data, filename)
    raw.columns = [c if c == "__geom" else _norm(c) for c in raw.columns]
    unknown = [c for c in raw.columns if c != "__geom" and c not in _KNOWN]
    if unknown:  # nothing silently dropped
        raise InvalidInput(f"{filename}: onbekende kolom(men) {', '.join(unknown)}; bekend zijn "
                           f"{', '.join(sorted(_KNOWN - {'geometry'}))}")
    if "kind" not in raw.columns:
        raise InvalidInput(f"{filename}: kolom kind (soort) ontbreekt")
    rejects: list[dict[str, object]] = []
    rows: list[dict[str, object]] = []
    for i, rec in enumerate(raw.to_dict("records")):
        line = i + 2 if file_crs is None else i + 1  # CSV: header is line 1

        def bad(column: str, value: object, reason: str, line: int = line) -> None:
            rejects.append({"row": line, "column": column,
                            "value": "" if value is None else str(value), "reason": reason})

        r = {k: (None if (v is None or (isinstance(v, str) and not v.strip())
                          or (isinstance(v, float) and np.isnan(v))) else v)
             for k, v in rec.items()}
        kind = str(r.get("kind") or "").strip().lower()
        if kind not in KINDS:
            bad("kind", r.get("kind"), f"onbekend soort; kies uit {', '.join(KINDS)}")
            continue
        r["kind"] = kind
        geom = r.pop("__geom", None)
        try:
            if geom is not None:
                if file_crs == "wgs84":
                    geom = shapely.transform(geom, lambda xy: np.column_stack(
                        _TO_RD.transform(xy[:, 0], xy[:, 1])))
            elif r.get("area_wkt"):
                geom = shapely.from_wkt(str(r["area_wkt"]))
            elif r.get("x") is not None and r.get("y") is not None:
                x, y = _number(r["x"]), _number(r["y"])
                if crs == "wgs84":
                    x, y = _TO_RD.transform(x, y)
                geom = shapely.Point(x, y)
            elif r.get("lon") is not None and r.get("lat") is not None:
                geom = shapely.Point(*_TO_RD.transform(_number(r["lon"]), _number(r["lat"])))
        except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
            bad("geometry", None, f"plaats niet leesbaar ({exc})")
            continue
        if geom is None or geom.is_empty:
            bad("geometry", None, "plaats ontbreekt (x/y, lon/lat, area_wkt of geometrie)")
            continue
        if geom.geom_type not in ("Point", "Polygon", "MultiPolygon"):
            bad("geometry", geom.geom_type, "verwacht een punt of een (multi)polygoon")
            continue
        pt = geom if geom.geom_type == "Point" else geom.centroid
        if not (_RD_BOUNDS[0] <= pt.x <= _RD_BOUNDS[2] and _RD_BOUNDS[1] <= pt.y <= _RD_BOUNDS[3]):
            bad("geometry", f"{pt.x:.1f} {pt.y:.1f}",
                "valt buiten Nederland (RD New); zijn x en y of lon en lat verwisseld?")
            continue
        if areas is not None:
            found = areas.assign(np.array([pt.x]), np.array([pt.y])).iloc[0]
            if found["buurt_code"] is None:
                bad("geometry", f"{pt.x:.1f} {pt.y:.1f}", "ligt buiten de gemeente")
                continue
            r["buurt_code"] = r.get("buurt_code") or found["buurt_code"]
            r["wijk_code"] = r.get("wijk_code") or found["wijk_code"]
        if r.get("status") is not None and str(r["status"]).strip().lower().replace(
                "beeindigd", "beëindigd") not in STATUSES:
            bad("status", r["status"], f"onbekende status; kies uit {', '.join(STATUSES)}")
            continue
        try:
            _status_and_times(r, f"rij {line}")
            for col in ("radius_m", "units", "plan_id", "plan_rank"):
                if r.get(col) is not None:
                    v = _number(r[col])
                    r[col] = v if col == "radius_m" else int(v)  # type: ignore[arg-type]
        except InvalidInput as exc:
            bad("datum", None, exc.message.removeprefix("inzetten: "))
            continue
        except (ValueError, TypeError):
            bad(col, r.get(col), "geen getal")
            continue
        for flag in ("approximate", "synthetic"):
            if r.get(flag) is not None:
                r[flag] = str(r[flag]).strip().lower() in ("1", "true", "ja", "waar", "yes")
        r.pop("id", None)
        for col in ("x", "y", "lon", "lat"):
            r.pop(col, None)
        if geom.geom_type == "Point":
            r.pop("area_wkt", None)
        r["geometry"] = geom
        r["_row"] = line
        rows.append(r)
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=RD_NEW) if rows else \
        gpd.GeoDataFrame({"kind": pd.Series(dtype=str)}, geometry=[], crs=RD_NEW)
    rej = pd.DataFrame(rejects, columns=["row", "column", "value", "reason"])
    return DeploymentFile(frame, rej, len(raw))


def export_deployments(frame: gpd.GeoDataFrame, fmt: Literal["csv", "geojson"],
                       crs: Crs = "rd") -> bytes:
    """``list_deployments`` output as CSV (``;``, safe for spreadsheets, coordinates as
    ``x``/``y`` in RD or ``lon``/``lat`` in WGS84) or GeoJSON (RD with a ``crs`` member, or
    WGS84), in a form ``parse_deployments`` reads back."""
    out = pd.DataFrame({c: frame[c] for c in EXPORT_COLUMNS if c in frame.columns})
    for c in ("start", "end", "planned_start", "planned_end"):
        if c in out:
            out[c] = [None if pd.isna(t) else pd.Timestamp(t).isoformat() for t in out[c]]
    for c in ("plan_id", "plan_rank"):
        if c in out:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    if fmt == "csv":
        if crs == "rd":
            out["x"], out["y"] = frame.geometry.x.round(2), frame.geometry.y.round(2)
        else:
            wgs = frame.geometry.to_crs(WGS84)
            out["lon"], out["lat"] = wgs.x.round(7), wgs.y.round(7)
        return (safe_csv(out, index=False, sep=";") or "").encode("utf-8")
    geo = gpd.GeoDataFrame(out, geometry=frame.geometry.values, crs=RD_NEW)
    if "area_wkt" in geo:  # the area as the geometry, the point is its centroid
        areas_ = geo["area_wkt"].map(lambda w: shapely.from_wkt(w) if isinstance(w, str)
                                     and w else None)
        geo = geo.set_geometry([a if a is not None else p
                                for a, p in zip(areas_, geo.geometry, strict=True)], crs=RD_NEW)
        geo = geo.drop(columns=["area_wkt"])
    if crs == "wgs84":
        return geo.to_crs(WGS84).to_json(drop_id=True).encode("utf-8")
    doc = json.loads(geo.to_json(drop_id=True))
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class DeploymentImport:
    ids: list[int]
    n_rows: int
    rejected: int
    already_present: int
    rejects: pd.DataFrame

    def message(self) -> str:
        return (f"{len(self.ids)} inzet(ten) ingelezen, {self.rejected} afgewezen, "
                f"{self.already_present} waren er al")


def _keys(frame: gpd.GeoDataFrame) -> list[tuple[object, ...]]:
    """Content key of each row: kind, place to the centimetre, status and the dates."""
    from .store.deployments import _epoch

    out = []
    for rec, geom in zip(frame.to_dict("records"), frame.geometry, strict=True):
        pt = geom if geom.geom_type == "Point" else geom.centroid
        status = rec.get("status")
        if status is None or (not isinstance(status, str) and pd.isna(status)):
            status = _status_and_times(rec, "rij")["status"]
        out.append((rec["kind"], round(pt.x * 100), round(pt.y * 100), str(status),
                    *(_epoch(rec.get(c), c) for c in ("start", "end", "planned_start",
                                                       "planned_end"))))
    return out


def import_deployments(store: HasEngine, parsed: DeploymentFile, *, source_name: str,
                       partial: bool = False) -> DeploymentImport:
    """Store the valid rows of ``parsed``. Without ``partial`` one rejected row refuses the
    whole file (``ImportRejected``, nothing stored). Rows already in the store (same content
    key) are counted, not stored twice."""
    from .errors import ImportRejected
    from .store.deployments import add_deployments, list_deployments

    rejects = parsed.rejects
    if len(rejects) and not partial:
        raise ImportRejected(
            f"{source_name}: {rejects['row'].nunique()} van {parsed.n_rows} rijen ongeldig; er "
            "is niets ingelezen (gebruik --partial om de geldige rijen in te lezen)", rejects)
    frame = parsed.frame
    present = 0
    if len(frame):
        stored = set(_keys(list_deployments(store)))
        seen: set[tuple[object, ...]] = set()
        keep = []
        for key in _keys(frame):
            keep.append(key not in stored and key not in seen)
            seen.add(key)
        present = int(len(keep) - sum(keep))
        frame = frame.loc[np.array(keep, dtype=bool)]
    if "source" not in frame.columns:
        frame = frame.assign(source=source_name)
    else:
        frame = frame.assign(source=frame["source"].where(frame["source"].notna(), source_name))
    ids = add_deployments(store, frame.drop(columns=["_row"], errors="ignore"))
    return DeploymentImport(ids, parsed.n_rows, int(rejects["row"].nunique()) if len(rejects)
                            else 0, present, rejects)
