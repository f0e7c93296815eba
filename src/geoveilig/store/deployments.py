"""The deployments registry: units and visits in the field (mobile alarm systems, flexible
cameras, BuurtTent visits) with their place and period. Used as input by ``placement`` (units
that stay, rotation, effect evaluation) and shown as a map layer.

A deployment is a point (``x``, ``y``, RD metres) with an optional radius or area polygon
(``area_wkt``), a period (``start`` inclusive, ``end`` exclusive or open) and flags saying
whether the place is approximate and whether the record is synthetic (demo data)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text
from sqlalchemy.engine import Engine

from .. import RD_NEW, TIMEZONE
from ..errors import CrsError, InvalidInput, NotFound
from ..times import local_timestamp
from .models import metadata

__all__ = ["KINDS", "add_deployments", "deployments", "list_deployments", "remove_deployment"]

#: Kinds of deployment and their Dutch labels.
KINDS: dict[str, str] = {
    "alarm": "mobiel alarmsysteem",
    "camera": "flexibele camera",
    "buurttent": "BuurtTent",
}

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("label", Text, nullable=False),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("radius_m", Float),
    Column("area_wkt", Text),
    Column("buurt_code", String(10)),
    Column("wijk_code", String(8)),
    Column("start_at", BigInteger, nullable=False),
    Column("end_at", BigInteger),
    Column("units", Integer, nullable=False, default=1),
    Column("approximate", Integer, nullable=False, default=0),
    Column("synthetic", Integer, nullable=False, default=0),
    Column("source", Text),
    Column("note", Text),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "kind", "start_at"),
)

COLUMNS = ["id", "kind", "label", "radius_m", "area_wkt", "buurt_code", "wijk_code", "start",
           "end", "units", "approximate", "synthetic", "source", "note"]


def _engine(store: object) -> Engine:
    engine = getattr(store, "engine", store)
    if not isinstance(engine, Engine):
        raise InvalidInput("verwacht een Store of SQLAlchemy-engine")
    return engine


def _epoch(value: object, what: str) -> int | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[arg-type]
        return None
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{what}: ongeldige datum '{value}'") from exc
    return int(local_timestamp(ts).tz_convert("UTC").timestamp())


def add_deployments(store: object, frame: gpd.GeoDataFrame) -> list[int]:
    """Store deployments; returns their ids. ``frame``: GeoDataFrame (EPSG:28992) of points
    (polygons are stored as ``area_wkt`` with their centroid as the point) with columns
    ``kind`` (alarm|camera|buurttent), ``start`` and optional ``label``, ``end``,
    ``radius_m``, ``buurt_code``, ``wijk_code``, ``units``, ``approximate``, ``synthetic``,
    ``source``, ``note``."""
    if frame.crs is None or frame.crs.to_epsg() != 28992:
        raise CrsError("inzetten: verwacht EPSG:28992 (RD New)")
    if len(frame) == 0:
        return []
    for col in ("kind", "start"):
        if col not in frame.columns:
            raise InvalidInput(f"inzetten: kolom {col} ontbreekt")
    bad = sorted(set(frame["kind"]) - set(KINDS))
    if bad:
        raise InvalidInput(f"inzetten: onbekend soort {', '.join(map(str, bad))}; kies uit "
                           f"{', '.join(KINDS)}")
    now = int(time.time())
    rows = []
    for i, rec in enumerate(frame.itertuples(index=False)):
        r = rec._asdict()
        geom = r[frame.geometry.name]
        if geom is None or geom.is_empty:
            raise InvalidInput(f"inzetten: rij {i + 1} heeft geen plaats")
        pt = geom if geom.geom_type == "Point" else geom.centroid
        start = _epoch(r.get("start"), f"rij {i + 1} start")
        if start is None:
            raise InvalidInput(f"inzetten: rij {i + 1} heeft geen startdatum")
        end = _epoch(r.get("end"), f"rij {i + 1} einde")
        if end is not None and end <= start:
            raise InvalidInput(f"inzetten: rij {i + 1} eindigt voor of op de startdatum")
        radius = r.get("radius_m")
        radius = None if radius is None or pd.isna(radius) else float(radius)
        if radius is not None and radius <= 0:
            raise InvalidInput(f"inzetten: rij {i + 1}: straal moet groter dan 0 zijn")
        rows.append({
            "kind": r["kind"], "label": r.get("label") or KINDS[r["kind"]],
            "x": float(pt.x), "y": float(pt.y), "radius_m": radius,
            "area_wkt": None if geom.geom_type == "Point" else geom.wkt,
            "buurt_code": r.get("buurt_code"), "wijk_code": r.get("wijk_code"),
            "start_at": start, "end_at": end,
            "units": int(r.get("units") or 1) if not pd.isna(r.get("units", 1)) else 1,
            "approximate": int(bool(r.get("approximate", False))),
            "synthetic": int(bool(r.get("synthetic", False))),
            "source": r.get("source"), "note": r.get("note"), "created_at": now,
        })
    with _engine(store).begin() as conn:
        ids = [conn.execute(deployments.insert().values(**row).returning(deployments.c.id))
               .scalar_one() for row in rows]
    return [int(i) for i in ids]


def list_deployments(
    store: object,
    *,
    kinds: Iterable[str] | None = None,
    active_at: date | datetime | str | None = None,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> gpd.GeoDataFrame:
    """Deployments as a GeoDataFrame of points (EPSG:28992), optionally filtered by kind,
    by being active at a moment, or by overlapping the period [start, end)."""
    t = deployments.c
    stmt = sa.select(deployments).order_by(t.start_at, t.id)
    if kinds is not None:
        stmt = stmt.where(t.kind.in_(list(kinds)))
    if active_at is not None:
        at = _epoch(active_at, "active_at")
        stmt = stmt.where(t.start_at <= at, sa.or_(t.end_at.is_(None), t.end_at > at))
    if start is not None:
        stmt = stmt.where(sa.or_(t.end_at.is_(None), t.end_at > _epoch(start, "start")))
    if end is not None:
        stmt = stmt.where(t.start_at < _epoch(end, "end"))
    with _engine(store).connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in deployments.columns])
    for src, dst in (("start_at", "start"), ("end_at", "end")):
        frame[dst] = pd.to_datetime(pd.to_numeric(frame[src], errors="coerce"), unit="s",
                                    utc=True).dt.tz_convert(TIMEZONE)
    for flag in ("approximate", "synthetic"):
        frame[flag] = frame[flag].astype(bool)
    frame["id"] = frame["id"].astype(np.int64)
    return gpd.GeoDataFrame(frame[COLUMNS],
                            geometry=gpd.points_from_xy(frame["x"].astype(float),
                                                        frame["y"].astype(float)),
                            crs=RD_NEW)


def remove_deployment(store: object, deployment_id: int) -> None:
    """Delete one deployment; ``NotFound`` when the id does not exist."""
    with _engine(store).begin() as conn:
        n = conn.execute(deployments.delete().where(deployments.c.id == int(deployment_id)))
    if n.rowcount == 0:
        raise NotFound(f"inzet {deployment_id} bestaat niet")
