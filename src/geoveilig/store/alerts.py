"""Store tables and functions for near-repeat alerts (``geoveilig.alerts``); migration 0011.

- ``alerts``: the outbox. One row per alert: the generalised zone (125 m cells as JSON ids and
  the union of their squares as WKT, RD metres), crime type, validity (epoch seconds), the
  measured extent it came from, the buurten/wijken and prevention groups concerned, the Dutch
  message and the action. ``alert_key`` is the idempotency key (unique): writing the same
  alert twice stores it once. ``status``: ``pending`` (not yet delivered everywhere),
  ``delivered`` or ``failed`` (retries exhausted; ``geoveilig alerts resend`` tries again).
  No column holds an address, an exact point, an incident id or a person.
- ``alert_deliveries``: the delivery log, one row per attempt per channel and target.

Alerts are written by the import itself (``Store.import_incidents(on_import=...)``), so an
import and its alerts commit or roll back together (transactional outbox).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection

from .. import RD_NEW, TIMEZONE
from ..errors import InvalidInput, NotFound
from ..times import local_timestamp
from .models import metadata
from .protocols import HasEngine

__all__ = ["ALERT_COLUMNS", "STATUSES", "alert_deliveries", "alerts", "deliveries",
           "get_alert", "list_alerts", "log_delivery", "set_status", "write_alerts"]

STATUSES = ("pending", "delivered", "failed")

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_key", String(64), nullable=False),
    Column("batch_id", Integer, ForeignKey("import_batches.id")),
    Column("created_at", BigInteger, nullable=False),
    Column("crime_type", String(40), nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("valid_until", BigInteger, nullable=False),
    Column("distance_m", Float, nullable=False),
    Column("days", Float, nullable=False),
    Column("extent_source", String(16), nullable=False),
    Column("n_incidents", Integer, nullable=False),
    Column("cells", Text, nullable=False),
    Column("zone_wkt", Text, nullable=False),
    Column("buurten", Text),
    Column("wijken", Text),
    Column("group_ids", Text),
    Column("message", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("status", String(16), nullable=False),
    UniqueConstraint("alert_key"),
    Index(None, "valid_until"),
    Index(None, "status"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("http_status", Integer),
    Column("error", Text),
    Column("idempotency_key", String(64), nullable=False),
    Index(None, "alert_id"),
)

#: Columns of ``list_alerts`` (besides the geometry).
ALERT_COLUMNS = ["id", "alert_key", "batch_id", "created_at", "crime_type", "valid_from",
                 "valid_until", "distance_m", "days", "extent_source", "n_incidents", "cells",
                 "buurten", "wijken", "group_ids", "message", "action", "status"]

_LISTS = ("buurten", "wijken", "group_ids")


def _epoch(value: object) -> int:
    return int(local_timestamp(value).tz_convert("UTC").timestamp())


def _time(values: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(values), unit="s", utc=True).dt.tz_convert(TIMEZONE)


def write_alerts(conn: Connection, records: Sequence[dict[str, Any]],
                 batch_id: int | None) -> list[int]:
    """Insert alert ``records`` (``geoveilig.alerts.Alert.record()``) through ``conn`` (inside
    the caller's transaction, e.g. the import's). An ``alert_key`` already stored is skipped
    (idempotent). Returns the ids of the new rows."""
    if not records:
        return []
    keys = [r["alert_key"] for r in records]
    known = {k for (k,) in conn.execute(sa.select(alerts.c.alert_key).where(
        alerts.c.alert_key.in_(keys))).all()}
    now = int(time.time())
    rows: list[dict[str, Any]] = []
    for r in records:
        if r["alert_key"] in known:
            continue
        known.add(r["alert_key"])
        rows.append({
            "alert_key": r["alert_key"], "batch_id": batch_id, "created_at": now,
            "crime_type": r["crime_type"], "valid_from": _epoch(r["valid_from"]),
            "valid_until": _epoch(r["valid_until"]), "distance_m": float(r["distance_m"]),
            "days": float(r["days"]), "extent_source": r["extent_source"],
            "n_incidents": int(r["n_incidents"]), "cells": json.dumps(list(r["cells"])),
            "zone_wkt": shapely.to_wkt(r["geometry"], rounding_precision=1),
            "buurten": ";".join(r["buurten"]) or None, "wijken": ";".join(r["wijken"]) or None,
            "group_ids": ";".join(r["group_ids"]) or None, "message": r["message"],
            "action": r["action"], "status": "pending",
        })
    if not rows:
        return []
    # one statement for all rows (SQLAlchemy's "insertmanyvalues"), ids in the rows' order
    inserted = conn.execute(alerts.insert().returning(alerts.c.id,
                                                      sort_by_parameter_order=True), rows)
    return [int(i) for i in inserted.scalars().all()]


def _frame(rows: Sequence[Any]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, columns=[c.name for c in alerts.columns])
    geoms = shapely.from_wkt(frame["zone_wkt"].to_numpy(dtype=object)) if len(frame) else []
    for c in ("created_at", "valid_from", "valid_until"):
        frame[c] = _time(frame[c])
    frame["cells"] = [json.loads(c) for c in frame["cells"]]
    for c in _LISTS:
        frame[c] = [tuple(v.split(";")) if v else () for v in frame[c]]
    return gpd.GeoDataFrame(frame[ALERT_COLUMNS], geometry=gpd.GeoSeries(geoms, crs=RD_NEW),
                            crs=RD_NEW)


def list_alerts(store: HasEngine, *, active_at: object | None = None,
                status: Iterable[str] | None = None, ids: Iterable[int] | None = None
                ) -> gpd.GeoDataFrame:
    """Alerts as a GeoDataFrame (EPSG:28992; the zone polygon), newest first; filtered by being
    valid at ``active_at`` (valid_from <= t < valid_until), by status, or by ids."""
    t = alerts.c
    stmt = sa.select(alerts).order_by(t.id.desc())
    if active_at is not None:
        at = _epoch(active_at)
        stmt = stmt.where(t.valid_from <= at, t.valid_until > at)
    if status is not None:
        wanted = list(status)
        bad = sorted(set(wanted) - set(STATUSES))
        if bad:
            raise InvalidInput(f"onbekende status {', '.join(bad)}: kies uit "
                               f"{', '.join(STATUSES)}", where="status")
        stmt = stmt.where(t.status.in_(wanted))
    if ids is not None:
        stmt = stmt.where(t.id.in_([int(i) for i in ids]))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return _frame(rows)


def get_alert(store: HasEngine, alert_id: int) -> pd.Series:
    """One alert (a row of ``list_alerts``); ``NotFound`` when the id does not exist."""
    found = list_alerts(store, ids=[alert_id])
    if found.empty:
        raise NotFound(f"melding {alert_id} bestaat niet", where="id")
    return found.iloc[0]


def set_status(store: HasEngine, alert_id: int, status: str) -> None:
    if status not in STATUSES:
        raise InvalidInput(f"onbekende status '{status}'", where="status")
    with store.engine.begin() as conn:
        n = conn.execute(alerts.update().where(alerts.c.id == int(alert_id))
                         .values(status=status)).rowcount
    if n == 0:
        raise NotFound(f"melding {alert_id} bestaat niet", where="id")


def log_delivery(store: HasEngine, alert_id: int, *, channel: str, target: str, attempt: int,
                 ok: bool, idempotency_key: str, http_status: int | None = None,
                 error: str | None = None) -> None:
    """One delivery attempt in the log (its own small transaction: an attempt is logged even
    when a later one fails)."""
    with store.engine.begin() as conn:
        conn.execute(alert_deliveries.insert().values(
            alert_id=int(alert_id), channel=channel, target=target, attempt=int(attempt),
            at=int(time.time()), ok=int(bool(ok)), http_status=http_status,
            error=None if error is None else str(error)[:500],
            idempotency_key=idempotency_key))


def deliveries(store: HasEngine, alert_id: int | None = None) -> pd.DataFrame:
    """The delivery log (of one alert), oldest first; ``at`` in Europe/Amsterdam."""
    t = alert_deliveries.c
    stmt = sa.select(alert_deliveries).order_by(t.id)
    if alert_id is not None:
        stmt = stmt.where(t.alert_id == int(alert_id))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in alert_deliveries.columns])
    frame["at"] = _time(frame["at"])
    frame["ok"] = frame["ok"].astype(bool)
    return frame
