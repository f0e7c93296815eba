"""The incident row table ``incidents``: PostgreSQL/PostGIS, and SQLite before migration 0007.

One row per incident with a unique key on ``incident_id`` and indexes on time, type and
location (``store.models``). With PostGIS (``spatial``) the generated ``geom`` column and its
GiST index answer bbox and polygon filters in the database (``store.postgis``); without it the
bbox is a range condition on ``x``/``y`` and a polygon is tested with shapely on the
candidates in its bbox. Reads and writes go through the DBAPI cursor (``fetch``,
``RowBackend._executemany``): SQLAlchemy ``Row`` objects cost too much for 10⁵-10⁶ incidents.

An import into PostgreSQL sends its rows once: ``existing`` copies the parsed frame into a
temporary staging table (``COPY ... FROM STDIN``, no index, no WAL; then ``ANALYZE``) and
joins it with the stored ids, probing the unique index on ``incident_id`` when the table is
larger than the batch (``postgis.lookup_by_index``: hashing the whole table instead costs a
scan of every stored row per import); ``insert`` moves the rows the import keeps (the
duplicate/``--update`` rules of ``Store.import_incidents``) with one ``INSERT ... SELECT``,
``geom`` generated from ``x``/``y`` by the database. Its cost is the maintenance of the
table's indexes (four btree/GiST and a BRIN, migration 0015): a batch of at least half the
stored rows drops them and rebuilds them after (``_bulk``). The import runs with
``postgis.IMPORT_SETTINGS`` (no JIT, more memory for joins and index builds).
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
from .models import POSTGRESQL_USING, incidents
from .query import IncidentQuery, inside, only_inside, with_xy

__all__ = ["RowBackend", "fetch"]

_CHUNK = 50_000
_ROWS_PER_STATEMENT = 200
_SQLITE_MAX_VARIABLES = 32_766  # SQLite >= 3.32
_REQUIRED = ("incident_id", "crime_type", "occurred_at", "content_hash")
#: an import of at least this many rows into a table not larger than it uses the bulk path
_BULK_ROWS = 20_000
#: ... and is at least half the rows stored (``RowBackend._bulk``)
_BULK_SHARE = 2
#: PostgreSQL: the temporary table an import is staged in (``COPY``), then inserted from
_STAGING = sa.Table("_import_rows", sa.MetaData(), sa.Column("incident_id", sa.String(64)),
                    sa.Column("content_hash", sa.BigInteger))
#: ``Connection.info`` key: (rows, fingerprint) of the frame in the staging table
_STAGED = "geoveilig_staged_import"
#: the logical columns of a stored incident (``geom`` is generated, ``batch_id`` per import)
_LOGICAL = ("incident_id", "crime_type", "occurred_at", "occurred_from", "occurred_to", "x", "y",
            "buurt_code", "wijk_code", "address", "content_hash")


#: PostgreSQL: min/max(occurred_at) from the ends of each crime type's part of the
#: (crime_type, occurred_at) index, the types found by skipping through the same index (a few
#: probes per type instead of reading the table; a BRIN index cannot give a minimum)
_TIME_RANGE = """
WITH RECURSIVE types(c) AS (
    SELECT min(crime_type) FROM incidents
    UNION ALL
    SELECT (SELECT min(crime_type) FROM incidents WHERE crime_type > types.c)
    FROM types WHERE types.c IS NOT NULL
)
SELECT min((SELECT min(occurred_at) FROM incidents WHERE crime_type = types.c)),
       max((SELECT max(occurred_at) FROM incidents WHERE crime_type = types.c))
FROM types WHERE types.c IS NOT NULL
"""


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


def _columns(frame: pd.DataFrame) -> dict[str, Any]:
    """The logical columns of parsed rows as the row table stores them."""
    return {
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


def _present(data: dict[str, Any]) -> list[str]:
    """Columns without any value stay out of the write (they default to NULL): most sources
    have no time window and no address."""
    return [c for c, v in data.items()
            if v.dtype != object or c in _REQUIRED or not pd.isna(v).all()]


def _fingerprint(frame: pd.DataFrame) -> int:
    """A hash of the ids of ``frame`` in order: is the staged frame this one?"""
    if len(frame) == 0:
        return 0
    hashed = pd.util.hash_array(frame["incident_id"].to_numpy(dtype=object))
    return int((hashed * np.arange(1, len(hashed) + 1, dtype=np.uint64)).sum())


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
        if query.areas:  # (an empty side left out: ``IN ()`` keeps the planner from indexes)
            sides = [col.in_(sorted(codes)) for col, codes in (
                (t.wijk_code, query.wijk_codes), (t.buurt_code, query.buurt_codes)) if codes]
            where.append(sa.or_(*sides) if sides else sa.false())
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
        if postgis.is_postgresql(conn):  # occurred_at has a BRIN index only (migration 0015)
            lo, hi = conn.execute(sa.text(_TIME_RANGE)).one()
        else:
            lo, hi = conn.execute(sa.select(sa.func.min(incidents.c.occurred_at),
                                            sa.func.max(incidents.c.occurred_at))).one()
        return None if lo is None else (int(lo), int(hi))

    # --- writing -----------------------------------------------------------------------
    def existing(self, conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
        empty = pd.DataFrame(columns=["incident_id", "content_hash", "stored_hash"])
        if postgis.is_postgresql(conn):  # the whole frame goes to the staging table once
            self._stage(conn, frame)
            if len(frame) == 0 or conn.execute(sa.select(incidents.c.id).limit(1)).first() \
                    is None:
                return empty
            s = _STAGING.c
            stmt = sa.select(s.incident_id, s.content_hash,
                             incidents.c.content_hash.label("stored_hash")).join(
                incidents, incidents.c.incident_id == s.incident_id)
            with postgis.lookup_by_index(conn, self._stored_at_least(conn, len(frame) + 1)
                                         > len(frame)):
                found = fetch(conn, stmt)
            return found if len(found) else empty
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
        if postgis.is_postgresql(conn):
            self._insert_staged(conn, frame, batch_id)
            return
        if len(frame) == 0:
            return
        data = _columns(frame)
        cols = _present(data)
        # Bulk mode: for a large batch into a smaller table, drop the secondary indexes, insert
        # in key order and rebuild them (same transaction, so a failure restores them too).
        bulk = self._bulk(conn, len(frame))
        order = np.argsort(data["incident_id"].astype(str), kind="stable") if bulk else None
        columns = [data[c][order] if bulk else data[c] for c in cols]
        if bulk:
            for index in incidents.indexes:
                index.drop(conn)
        self._executemany(conn, "incidents", cols, columns, constants={"batch_id": batch_id})
        if bulk:
            for index in incidents.indexes:
                index.create(conn)

    @staticmethod
    def _bulk(conn: Connection, n: int) -> bool:
        """Whether ``n`` new rows go in with the indexes dropped and rebuilt after: when they
        are at least ``1 / _BULK_SHARE`` of the rows already stored. PostGIS, files of 500,000
        rows (``benchmarks/bench_pg_import.py``, 2 loaded cores): maintaining the indexes of
        migration 0015 took 75-95 µs per inserted row into 2.5-3.5 million, rebuilding them
        after the 5th file (2 million stored) 107 µs per inserted row, so the rebuild pays
        only while the batch is at least about half the table (before 0015: a quarter)."""
        return n >= _BULK_ROWS and n * _BULK_SHARE >= RowBackend._stored_at_least(
            conn, n * _BULK_SHARE + 1)

    @staticmethod
    def _stored_at_least(conn: Connection, limit: int) -> int:
        """The number of stored rows, counted up to ``limit``: a decision about a batch of
        ``n`` rows costs O(n), not a count of the whole (national) table."""
        inner = sa.select(incidents.c.id).limit(limit).subquery()
        return int(conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())

    # --- PostgreSQL: COPY into a staging table, one INSERT ... SELECT -------------------------
    def _stage(self, conn: Connection, frame: pd.DataFrame) -> None:
        """``frame`` into the transaction's temporary staging table (``COPY``; no index, no
        WAL), remembered on the connection for ``_insert_staged``."""
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {_STAGING.name}"))
        conn.execute(sa.text(
            f"CREATE TEMPORARY TABLE {_STAGING.name} ON COMMIT DROP AS SELECT "
            f"{', '.join(_LOGICAL)} FROM incidents WITH NO DATA"))
        data = _columns(frame)
        cols = _present(data)
        postgis.import_session(conn)
        if len(frame):
            self._executemany(conn, _STAGING.name, cols, [data[c] for c in cols])
            # statistics of the staged rows: the planner's choice of join for the duplicate
            # check and the INSERT ... SELECT (default: a guess from the table's pages)
            conn.execute(sa.text(f"ANALYZE {_STAGING.name}"))
        conn.info[_STAGED] = (len(frame), _fingerprint(frame))

    def _insert_staged(self, conn: Connection, frame: pd.DataFrame, batch_id: int) -> None:
        """Insert the rows of ``frame`` from the staging table with one ``INSERT ... SELECT``
        in the order of the file (usually time: the heap stays clustered by time).
        ``existing`` staged the frame the import started with; the rows the
        import kept (``frame``, a subset) are selected by id. Without a staged frame (a caller
        that did not ask ``existing`` first) ``frame`` is staged here."""
        staged = conn.info.pop(_STAGED, None)
        alive = conn.execute(sa.text(f"SELECT to_regclass('pg_temp.{_STAGING.name}')")
                             ).scalar_one() is not None
        if staged is None or not alive:
            self._stage(conn, frame)
            staged = conn.info.pop(_STAGED)
        try:
            if len(frame) == 0:
                return
            where = ""
            if staged != (len(frame), _fingerprint(frame)):  # the kept rows, by id
                conn.execute(sa.text(
                    "CREATE TEMPORARY TABLE _import_keep (incident_id varchar(64) PRIMARY KEY) "
                    "ON COMMIT DROP"))
                self._executemany(conn, "_import_keep", ["incident_id"], [
                    pd.unique(frame["incident_id"].to_numpy(dtype=object))])
                where = ("WHERE incident_id IN (SELECT incident_id FROM _import_keep)")
            bulk = self._bulk(conn, len(frame))
            if bulk:  # indexes and constraints rebuilt in one pass each, same transaction
                for index in incidents.indexes:
                    index.drop(conn)
                postgis.bulk_begin(conn)
            names = ", ".join(_LOGICAL)
            with postgis.reraise_dbapi(conn):
                done = conn.execute(sa.text(
                    f"INSERT INTO incidents ({names}, batch_id) SELECT {names}, "
                    f"{int(batch_id)} FROM {_STAGING.name} {where}"
                )).rowcount
            if done != len(frame):  # the staged rows are not the rows of this frame
                raise RuntimeError(f"{done} rows staged for an import of {len(frame)}")
            if not bulk:  # the new block ranges into the BRIN index now, not at VACUUM
                postgis.summarize_new_ranges(conn)
            if bulk:
                for index in incidents.indexes:
                    _create_index(conn, index)
                postgis.bulk_end(conn)
                # statistics for the planner now, not when autovacuum comes by: without them
                # a gemeente's bbox query scans the time index of the whole country
                conn.execute(sa.text("ANALYZE incidents"))
        finally:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {_STAGING.name}"))
            conn.execute(sa.text("DROP TABLE IF EXISTS _import_keep"))

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


def _create_index(conn: Connection, index: sa.Index) -> None:
    """Create ``index`` of the incident table as the migrations made it: on PostgreSQL with
    its access method of ``models.POSTGRESQL_USING`` (BRIN for the time index)."""
    using = POSTGRESQL_USING.get(str(index.name)) if postgis.is_postgresql(conn) else None
    if using is None:
        index.create(conn)
        return
    columns = ", ".join(conn.dialect.identifier_preparer.quote(c.name) for c in index.columns)
    conn.execute(sa.text(f"CREATE INDEX {conn.dialect.identifier_preparer.quote(str(index.name))} "
                         f"ON {incidents.name} USING {using} ({columns})"))
