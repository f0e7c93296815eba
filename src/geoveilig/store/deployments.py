"""The deployments registry: units and visits in the field (mobile alarm systems, flexible
cameras, BuurtTent visits) with their place and period. Used as input by ``placement`` (units
that stay, rotation, effect evaluation) and shown as a map layer.

A deployment is a point (``x``, ``y``, RD metres) with an optional radius or area polygon
(``area_wkt``), a period (``start`` inclusive, ``end`` exclusive or open) and flags saying
whether the place is approximate and whether the record is synthetic (demo data).

The deployment cycle: a deployment has a status, ``gepland`` (planned: a planned start and
end, no actual start yet), ``geplaatst`` (placed: the actual start is known), ``beëindigd``
(ended: the actual end too) or ``geannuleerd`` (cancelled while planned). The only changes are
``place`` (gepland -> geplaatst), ``end`` (geplaatst -> beëindigd), ``cancel`` (gepland ->
geannuleerd) and deleting a planned deployment; anything else is a ``Conflict`` (HTTP 409).
Each change is one conditional UPDATE, so two workers cannot both place or end the same
deployment. A deployment made from a stored plan keeps ``plan_id`` and ``plan_rank``."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text
from sqlalchemy.engine import Engine

from .. import RD_NEW, TIMEZONE
from ..errors import Conflict, InvalidInput, NotFound
from ..spatial import require_rd
from ..times import local_timestamp
from . import plans as _plans  # noqa: F401  (the plans table: deployments refer to it)
from .models import metadata
from .protocols import HasEngine

__all__ = ["KINDS", "STATUSES", "add_deployments", "cancel_deployment", "deployments",
           "end_deployment", "get_deployment", "list_deployments", "place_deployment",
           "remove_deployment"]

#: Kinds of deployment and their Dutch labels.
KINDS: dict[str, str] = {
    "alarm": "mobiel alarmsysteem",
    "camera": "flexibele camera",
    "buurttent": "BuurtTent",
    "witte-voeten": "witte-voetenactie",  # issue 24: geoveilig.alerts.wittevoeten
}

#: The states of a deployment, in the order of the cycle.
STATUSES = ("gepland", "geplaatst", "beëindigd", "geannuleerd")

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
    Column("start_at", BigInteger),
    Column("end_at", BigInteger),
    Column("units", Integer, nullable=False, default=1),
    Column("approximate", Integer, nullable=False, default=0),
    Column("synthetic", Integer, nullable=False, default=0),
    Column("source", Text),
    Column("note", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, server_default="geplaatst"),
    Column("planned_start_at", BigInteger),
    Column("planned_end_at", BigInteger),
    Column("plan_id", Integer, sa.ForeignKey("plans.id")),
    Column("plan_rank", Integer),
    Column("updated_at", BigInteger),
    Column("revision", Integer, nullable=False, server_default="0"),
    Index(None, "kind", "start_at"),
    Index(None, "status"),
)

COLUMNS = ["id", "kind", "label", "status", "radius_m", "area_wkt", "buurt_code", "wijk_code",
           "start", "end", "planned_start", "planned_end", "plan_id", "plan_rank", "units",
           "approximate", "synthetic", "source", "note"]
_TIMES = (("start_at", "start"), ("end_at", "end"), ("planned_start_at", "planned_start"),
          ("planned_end_at", "planned_end"))


def _engine(store: HasEngine) -> Engine:
    engine = getattr(store, "engine", store)
    if not isinstance(engine, Engine):
        raise InvalidInput("verwacht een Store of SQLAlchemy-engine")
    return engine


def _epoch(value: object, what: str) -> int | None:
    """A date/time (naive = Europe/Amsterdam wall clock, ``geoveilig.times``) as epoch s."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    try:
        ts = local_timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"{what}: ongeldige datum '{value}'") from exc
    return int(ts.tz_convert("UTC").timestamp())


def _optional(r: dict[str, Any], name: str) -> object:
    v = r.get(name)
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def _status_and_times(r: dict[str, Any], where: str) -> dict[str, object]:
    """The status and the four times of one row, checked against each other."""
    start = _epoch(r.get("start"), f"{where} start")
    end = _epoch(r.get("end"), f"{where} einde")
    p_start = _epoch(r.get("planned_start"), f"{where} geplande start")
    p_end = _epoch(r.get("planned_end"), f"{where} gepland einde")
    status = _optional(r, "status")
    if status is None:
        status = ("beëindigd" if end is not None else "geplaatst" if start is not None
                  else "gepland")
    status = str(status).strip().lower().replace("beeindigd", "beëindigd")
    if status not in STATUSES:
        raise InvalidInput(f"inzetten: {where}: onbekende status '{status}'; kies uit "
                           f"{', '.join(STATUSES)}")
    if status in ("geplaatst", "beëindigd") and start is None:
        raise InvalidInput(f"inzetten: {where} heeft geen startdatum (status {status})")
    if status == "beëindigd" and end is None:
        raise InvalidInput(f"inzetten: {where} is beëindigd maar heeft geen einddatum")
    if status in ("gepland", "geannuleerd"):
        if start is not None or end is not None:
            raise InvalidInput(f"inzetten: {where} is {status} maar heeft al een start of einde")
        if p_start is None:
            raise InvalidInput(f"inzetten: {where} heeft geen geplande startdatum")
    if status == "geplaatst" and end is not None:
        raise InvalidInput(f"inzetten: {where} heeft een einde maar status geplaatst; "
                           "gebruik status beëindigd")
    if end is not None and start is not None and end <= start:
        raise InvalidInput(f"inzetten: {where} eindigt voor of op de startdatum")
    if p_end is not None and p_start is not None and p_end <= p_start:
        raise InvalidInput(f"inzetten: {where} eindigt (gepland) voor of op de geplande start")
    return {"status": status, "start_at": start, "end_at": end, "planned_start_at": p_start,
            "planned_end_at": p_end}


def add_deployments(store: HasEngine, frame: gpd.GeoDataFrame) -> list[int]:
    """Store deployments; returns their ids. ``frame``: GeoDataFrame (EPSG:28992) of points
    (polygons are stored as ``area_wkt`` with their centroid as the point) with columns
    ``kind`` (alarm|camera|buurttent) and optional ``status`` (gepland, geplaatst, beëindigd,
    geannuleerd; default from the dates), ``start``/``end`` (actual), ``planned_start``/
    ``planned_end``, ``label``, ``radius_m``, ``buurt_code``, ``wijk_code``, ``units``,
    ``approximate``, ``synthetic``, ``source``, ``note``, ``plan_id``, ``plan_rank``.
    A placed deployment needs ``start``, a planned one ``planned_start``. All rows or none
    are stored."""
    require_rd(frame, "inzetten")
    if len(frame) == 0:
        return []
    if "kind" not in frame.columns:
        raise InvalidInput("inzetten: kolom kind ontbreekt")
    if not ({"start", "planned_start"} & set(frame.columns)):
        raise InvalidInput("inzetten: kolom start (of planned_start) ontbreekt")
    bad = sorted(set(map(str, frame["kind"])) - set(KINDS))
    if bad:
        raise InvalidInput(f"inzetten: onbekend soort {', '.join(map(str, bad))}; kies uit "
                           f"{', '.join(KINDS)}")
    now = int(time.time())
    rows = []
    for i, rec in enumerate(frame.itertuples(index=False)):
        r = rec._asdict()
        where = f"rij {i + 1}"
        geom = r[frame.geometry.name]
        if geom is None or geom.is_empty:
            raise InvalidInput(f"inzetten: {where} heeft geen plaats")
        pt = geom if geom.geom_type == "Point" else geom.centroid
        radius = _optional(r, "radius_m")
        radius = None if radius is None else float(radius)  # type: ignore[arg-type]
        if radius is not None and radius <= 0:
            raise InvalidInput(f"inzetten: {where}: straal moet groter dan 0 zijn")
        units = _optional(r, "units")
        plan_id, plan_rank = _optional(r, "plan_id"), _optional(r, "plan_rank")
        rows.append({
            "kind": r["kind"], "label": _optional(r, "label") or KINDS[r["kind"]],
            "x": float(pt.x), "y": float(pt.y), "radius_m": radius,
            "area_wkt": None if geom.geom_type == "Point" else geom.wkt,
            "buurt_code": _optional(r, "buurt_code"), "wijk_code": _optional(r, "wijk_code"),
            **_status_and_times(r, where),
            "units": 1 if units is None else int(units),  # type: ignore[call-overload]
            "approximate": int(bool(_optional(r, "approximate") or False)),
            "synthetic": int(bool(_optional(r, "synthetic") or False)),
            "source": _optional(r, "source"), "note": _optional(r, "note"),
            "plan_id": None if plan_id is None else int(plan_id),  # type: ignore[call-overload]
            "plan_rank": None if plan_rank is None else int(plan_rank),  # type: ignore[call-overload]
            "created_at": now, "updated_at": now, "revision": 0,
        })
        if rows[-1]["units"] < 1:
            raise InvalidInput(f"inzetten: {where}: aantal eenheden moet minstens 1 zijn")
    _check_plan_links(store, rows)
    with _engine(store).begin() as conn:
        ids = [conn.execute(deployments.insert().values(**row).returning(deployments.c.id))
               .scalar_one() for row in rows]
    return [int(i) for i in ids]


def _check_plan_links(store: HasEngine, rows: list[dict[str, Any]]) -> None:
    """Every ``plan_id`` names a stored plan and ``plan_rank`` one of its ranked sites."""
    linked = {(r["plan_id"], r["plan_rank"]) for r in rows if r["plan_id"] is not None}
    if not linked:
        return
    from .plans import plan_site_table, plans

    with _engine(store).connect() as conn:
        known = {int(i) for i in conn.execute(sa.select(plans.c.id).where(
            plans.c.id.in_([p for p, _ in linked]))).scalars()}
        ranks = set(conn.execute(sa.select(plan_site_table.c.plan_id, plan_site_table.c.rank)
                                 .where(plan_site_table.c.plan_id.in_(sorted(known)))).all())
    for plan_id, rank in sorted(linked, key=str):
        if plan_id not in known:
            raise InvalidInput(f"inzetten: plan {plan_id} bestaat niet", where="planId")
        if rank is not None and (plan_id, rank) not in ranks:
            raise InvalidInput(f"inzetten: plan {plan_id} heeft geen plaats met rang {rank}",
                               where="ranks")


def list_deployments(
    store: HasEngine,
    *,
    kinds: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    active_at: date | datetime | str | None = None,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> gpd.GeoDataFrame:
    """Deployments as a GeoDataFrame of points (EPSG:28992), optionally filtered by kind,
    status, by being in place at a moment, or by having been in place during [start, end)
    (the actual period: deployments that are only planned or were cancelled have none)."""
    t = deployments.c
    stmt = sa.select(deployments).order_by(sa.func.coalesce(t.start_at, t.planned_start_at),
                                           t.id)
    if kinds is not None:
        stmt = stmt.where(t.kind.in_(list(kinds)))
    if statuses is not None:
        stmt = stmt.where(t.status.in_(list(statuses)))
    if active_at is not None:
        at = _epoch(active_at, "active_at")
        stmt = stmt.where(t.start_at <= at, sa.or_(t.end_at.is_(None), t.end_at > at))
    if start is not None:
        stmt = stmt.where(t.start_at.is_not(None),
                          sa.or_(t.end_at.is_(None), t.end_at > _epoch(start, "start")))
    if end is not None:
        stmt = stmt.where(t.start_at < _epoch(end, "end"))
    with _engine(store).connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in deployments.columns])
    for src, dst in _TIMES:
        frame[dst] = pd.to_datetime(pd.to_numeric(frame[src], errors="coerce"), unit="s",
                                    utc=True).dt.tz_convert(TIMEZONE)
    for flag in ("approximate", "synthetic"):
        frame[flag] = frame[flag].astype(bool)
    frame["id"] = frame["id"].astype(np.int64)
    for col in ("plan_id", "plan_rank"):
        frame[col] = pd.to_numeric(frame[col]).astype("Int64")
    return gpd.GeoDataFrame(frame[COLUMNS],
                            geometry=gpd.points_from_xy(frame["x"].astype(float),
                                                        frame["y"].astype(float)),
                            crs=RD_NEW)


def get_deployment(store: HasEngine, deployment_id: int) -> pd.Series:
    """One deployment as a row of ``list_deployments`` (with ``geometry``); ``NotFound``."""
    frame = list_deployments(store)
    row = frame.loc[frame["id"] == int(deployment_id)]
    if row.empty:
        raise NotFound(f"inzet {deployment_id} bestaat niet")
    return row.iloc[0]


def _transition(store: HasEngine, deployment_id: int, *, allowed: tuple[str, ...], to: str,
                values: dict[str, object], verb: str) -> None:
    """Move one deployment from a status in ``allowed`` to ``to`` in one conditional UPDATE;
    ``NotFound`` for an unknown id, ``Conflict`` when its status does not allow it."""
    t = deployments.c
    with _engine(store).begin() as conn:
        n = conn.execute(deployments.update().where(
            t.id == int(deployment_id), t.status.in_(allowed)).values(
            status=to, updated_at=int(time.time()), revision=t.revision + 1, **values)).rowcount
        if n == 1:
            return
        current = conn.execute(sa.select(t.status).where(t.id == int(deployment_id))
                               ).scalar_one_or_none()
    if current is None:
        raise NotFound(f"inzet {deployment_id} bestaat niet")
    raise Conflict(f"inzet {deployment_id} is {current}: {verb} kan alleen als de inzet "
                   f"{' of '.join(allowed)} is")


def place_deployment(store: HasEngine, deployment_id: int, at: date | datetime | str) -> None:
    """gepland -> geplaatst on ``at`` (the actual start)."""
    start = _epoch(at, "plaatsingsdatum")
    if start is None:
        raise InvalidInput("plaatsingsdatum ontbreekt", where="placedAt")
    _transition(store, deployment_id, allowed=("gepland",), to="geplaatst",
                values={"start_at": start}, verb="plaatsen")


def end_deployment(store: HasEngine, deployment_id: int, at: date | datetime | str) -> None:
    """geplaatst -> beëindigd on ``at`` (after the actual start)."""
    end = _epoch(at, "einddatum")
    if end is None:
        raise InvalidInput("einddatum ontbreekt", where="endedAt")
    t = deployments.c
    with _engine(store).connect() as conn:
        start = conn.execute(sa.select(t.start_at).where(t.id == int(deployment_id))
                             ).scalar_one_or_none()
    if start is not None and end <= start:
        raise InvalidInput(f"inzet {deployment_id}: de einddatum ligt voor of op de "
                           "plaatsingsdatum", where="endedAt")
    _transition(store, deployment_id, allowed=("geplaatst",), to="beëindigd",
                values={"end_at": end}, verb="beëindigen")


def cancel_deployment(store: HasEngine, deployment_id: int) -> None:
    """gepland -> geannuleerd."""
    _transition(store, deployment_id, allowed=("gepland",), to="geannuleerd", values={},
                verb="annuleren")


def remove_deployment(store: HasEngine, deployment_id: int, *, any_status: bool = False) -> None:
    """Delete one deployment: only while it is planned (``Conflict`` otherwise), unless
    ``any_status`` (library use: correcting the registry); ``NotFound`` when the id does not
    exist."""
    t = deployments.c
    cond = [t.id == int(deployment_id)]
    if not any_status:
        cond.append(t.status == "gepland")
    with _engine(store).begin() as conn:
        n = conn.execute(deployments.delete().where(*cond)).rowcount
        current = None if n else conn.execute(
            sa.select(t.status).where(t.id == int(deployment_id))).scalar_one_or_none()
    if n == 0 and current is None:
        raise NotFound(f"inzet {deployment_id} bestaat niet")
    if n == 0:
        raise Conflict(f"inzet {deployment_id} is {current}: alleen geplande inzet kan "
                       "verwijderd worden (annuleer of beëindig hem anders)")
