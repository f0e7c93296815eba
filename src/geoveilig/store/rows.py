"""The incident row table ``incidents``: PostgreSQL/PostGIS, and SQLite before migration 0007.

One row per incident with a unique key on ``incident_id`` and indexes on time, type and
location (``store.models``). With PostGIS (``spatial``) the generated ``geom`` column and its
GiST index answer bbox and polygon filters in the database (``store.postgis``); without it the
bbox is a range condition on ``x``/``y`` and a polygon is tested with shapely on the
candidates in its bbox. Reads and writes go through the DBAPI cursor (``fetch``,
``RowBackend._executemany``): SQLAlchemy ``Row`` objects cost too much for 10⁵-10⁶ incidents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..times import epoch_seconds
from . import chunks, postgis
from .chunks import raw_cursor as _cursor
from .models import incidents
from .query import IncidentQuery, inside, only_inside, with_xy

__all__ = ["RowBackend", "fetch"]

_CHUNK = 50_000
_ROWS_PER_STATEMENT = 200
_SQLITE_MAX_VARIABLES = 32_766  # SQLite >= 3.32
_REQUIRED = ("incident_id", "crime_type", "occurred_at", "content_hash")
#: an import of at least this many rows into a table not larger than it uses the bulk path
_BULK_ROWS = 20_000


def fetch(conn: Connection, stmt: sa.Select[Any]) -> pd.DataFrame:
    """Run a SELECT through the DBAPI cursor straight into a DataFrame (SQLAlchemy Row
    objects cost ~10 µs each, too much for 10⁵-10⁶ incidents)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    if compiled.positiontup is not None:
        params: object = tuple(compiled.params[k] for k in compiled.positiontup)
    else:
        params = compiled.params
    with postgis.reraise_dbapi(conn):
        cursor = _cursor(conn)
        try:
            cursor.execute(str(compiled), params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    return pd.DataFrame.from_records(rows, columns=list(stmt.selected_columns.keys()),
                                     nrows=len(rows))


def _epoch(series: pd.Series) -> np.ndarray:
    """tz-aware timestamps -> int64 seconds since epoch (UTC); NaT -> None-able float."""
    seconds, null = epoch_seconds(pd.to_datetime(series, utc=True))
    out = seconds.astype(object)
    out[null] = None
    return out


class RowBackend:
    """``IncidentBackend`` over the SQL row table; ``spatial``: PostGIS ``geom`` present."""

    def __init__(self, *, spatial: bool) -> None:
        self.spatial = spatial
        self.name = "postgis" if spatial else "rows"

    def __repr__(self) -> str:
        return f"RowBackend(spatial={self.spatial})"

    # --- reading -----------------------------------------------------------------------
    def where(self, query: IncidentQuery,
              within: shapely.Geometry | None = None) -> list[sa.ColumnElement[bool]]:
        """``query`` as conditions on the row table (a polygon only with PostGIS)."""
        t = incidents.c
        where: list[sa.ColumnElement[bool]] = [sa.false()] if query.nothing else []
        if query.start is not None:
            where.append(t.occurred_at >= query.start)
        if query.end is not None:
            where.append(t.occurred_at < query.end)
        if query.crime_types is not None:
            where.append(t.crime_type.in_(sorted(query.crime_types)))
        if query.areas:
            where.append(sa.or_(t.wijk_code.in_(sorted(query.wijk_codes or ())),
                                t.buurt_code.in_(sorted(query.buurt_codes or ()))))
        if self.spatial and within is not None:  # PostGIS: GiST index, exact in the database
            where.append(postgis.within_clause(incidents, shapely.to_wkb(within)))
        if query.bbox is not None:
            if self.spatial:  # ST_Intersects with the envelope, GiST index
                where.append(postgis.bbox_clause(incidents, query.bbox))
            else:
                x0, y0, x1, y1 = query.bbox
                where += [t.x >= x0, t.x <= x1, t.y >= y0, t.y <= y1]
        return where

    def read(self, conn: Connection, query: IncidentQuery, within: shapely.Geometry | None,
             columns: Sequence[str]) -> pd.DataFrame:
        t = incidents.c
        exact = within is not None and not self.spatial  # shapely on the bbox candidates
        names = with_xy(columns) if exact else list(columns)
        frame = fetch(conn, sa.select(*(t[c] for c in names)).where(
            *self.where(query, within)).order_by(t.occurred_at, t.id))
        return only_inside(frame, within, columns) if exact else frame

    def count(self, conn: Connection, query: IncidentQuery,
              within: shapely.Geometry | None) -> int:
        if within is not None and not self.spatial:  # exact test on the candidates
            rows = fetch(conn, sa.select(incidents.c.x, incidents.c.y).where(
                *self.where(query, within)))
            return int(inside(within, rows["x"], rows["y"]).sum())
        stmt = sa.select(sa.func.count()).select_from(incidents).where(
            *self.where(query, within))
        return int(conn.execute(stmt).scalar_one())

    def time_range(self, conn: Connection) -> tuple[int, int] | None:
        lo, hi = conn.execute(sa.select(sa.func.min(incidents.c.occurred_at),
                                        sa.func.max(incidents.c.occurred_at))).one()
        return None if lo is None else (int(lo), int(hi))

    # --- writing -----------------------------------------------------------------------
    def existing(self, conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
        empty = pd.DataFrame(columns=["incident_id", "content_hash", "stored_hash"])
        if len(frame) == 0:
            return empty
        if conn.execute(sa.select(incidents.c.id).limit(1)).first() is None:
            return empty
        tmp = sa.Table("_import_ids", sa.MetaData(),
                       sa.Column("incident_id", sa.String(64), primary_key=True),
                       sa.Column("content_hash", sa.BigInteger),
                       prefixes=["TEMPORARY"])
        tmp.create(conn)
        try:
            ids = frame[["incident_id", "content_hash"]].drop_duplicates("incident_id")
            ids = ids.iloc[np.argsort(ids["incident_id"].to_numpy(dtype=str), kind="stable")]
            self._executemany(conn, "_import_ids", ["incident_id", "content_hash"], [
                ids["incident_id"].to_numpy(dtype=object), ids["content_hash"].tolist()])
            found = fetch(conn, sa.select(tmp.c.incident_id, tmp.c.content_hash,
                                          incidents.c.content_hash.label("stored_hash"))
                          .join(incidents, incidents.c.incident_id == tmp.c.incident_id))
        finally:
            tmp.drop(conn)
        return found if len(found) else empty

    def insert(self, conn: Connection, frame: pd.DataFrame, batch_id: int) -> None:
        if len(frame) == 0:
            return
        data = {
            "incident_id": frame["incident_id"].to_numpy(dtype=object),
            "crime_type": frame["crime_type"].to_numpy(dtype=object),
            "occurred_at": _epoch(frame["occurred_at"]),
            "occurred_from": _epoch(frame["occurred_from"]),
            "occurred_to": _epoch(frame["occurred_to"]),
            "x": frame["x"].to_numpy(dtype=float),
            "y": frame["y"].to_numpy(dtype=float),
            "buurt_code": frame["buurt_code"].to_numpy(dtype=object),
            "wijk_code": frame["wijk_code"].to_numpy(dtype=object),
            "address": frame["address"].to_numpy(dtype=object)
            if "address" in frame else np.full(len(frame), None, dtype=object),
            "content_hash": frame["content_hash"].to_numpy(dtype=np.int64),
        }
        # columns without any value stay out of the INSERT (they default to NULL): most
        # sources have no time window and no address
        cols = [c for c, v in data.items()
                if v.dtype != object or c in _REQUIRED or not pd.isna(v).all()]
        # Bulk mode: for a large batch into a smaller table, drop the secondary indexes, insert
        # in key order and rebuild them (same transaction, so a failure restores them too).
        existing = conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one()
        bulk = len(frame) >= _BULK_ROWS and len(frame) >= existing
        order = np.argsort(data["incident_id"].astype(str), kind="stable") if bulk else None
        columns = [data[c][order] if bulk else data[c] for c in cols]
        if bulk:
            for index in incidents.indexes:
                index.drop(conn)
            if self.spatial:
                postgis.bulk_begin(conn)
        self._executemany(conn, "incidents", cols, columns, constants={"batch_id": batch_id})
        if bulk:
            for index in incidents.indexes:
                index.create(conn)
            if self.spatial:
                postgis.bulk_end(conn)

    def remove(self, conn: Connection, incident_ids: list[str]) -> pd.DataFrame:
        t = incidents
        parts = []
        for start in range(0, len(incident_ids), 1000):
            part = incident_ids[start:start + 1000]
            parts.append(fetch(conn, sa.select(*(t.c[c] for c in chunks.COLUMNS))
                               .where(t.c.incident_id.in_(part))))
            conn.execute(t.delete().where(t.c.incident_id.in_(part)))
        if not parts:
            return pd.DataFrame(columns=list(chunks.COLUMNS))
        return pd.concat(parts, ignore_index=True)

    def _executemany(self, conn: Connection, table: str, cols: list[str],
                     columns: list[Sequence[object]],
                     constants: dict[str, int] | None = None) -> None:
        """Plain DBAPI inserts, an order of magnitude faster than SQLAlchemy objects: COPY on
        PostgreSQL; on SQLite one prepared statement of many rows (``VALUES (...), (...)``),
        which halves the per-row cost of ``executemany``. ``constants`` are integer columns
        with the same value in every row (written as literals)."""
        constants = {k: int(v) for k, v in (constants or {}).items()}
        with postgis.reraise_dbapi(conn):
            if postgis.is_postgresql(conn):
                n = len(columns[0]) if columns else 0
                postgis.copy_rows(conn, table, cols + list(constants), [
                    *columns, *([v] * n for v in constants.values())])
                return
            mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(
                conn.dialect.paramstyle, "?")
            names = ", ".join([*cols, *constants])
            one = "(" + ", ".join([mark] * len(cols) + [str(v) for v in constants.values()]) + ")"
            values = [v.tolist() if isinstance(v, np.ndarray) else list(v) for v in columns]
            n = len(values[0]) if values else 0
            per = max(1, min(_ROWS_PER_STATEMENT, _SQLITE_MAX_VARIABLES // max(1, len(cols))))
            cursor = _cursor(conn)
            try:
                full = n - n % per
                if full:
                    table_ = np.empty((full, len(cols)), dtype=object)
                    for j, v in enumerate(values):
                        table_[:, j] = v[:full]
                    sql = f"INSERT INTO {table} ({names}) VALUES " + ", ".join([one] * per)
                    for start in range(0, full, _CHUNK):
                        cursor.executemany(sql, [
                            table_[s:s + per].ravel().tolist()
                            for s in range(start, min(start + _CHUNK, full), per)])
                if n > full:
                    sql = f"INSERT INTO {table} ({names}) VALUES {one}"
                    cursor.executemany(sql, list(zip(*(v[full:] for v in values),
                                                      strict=True)))
            finally:
                cursor.close()
