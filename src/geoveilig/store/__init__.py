"""The store: SQLAlchemy 2 over an embedded SQLite file by default, or any database URL
(PostgreSQL/PostGIS through ``GEOVEILIG_DATABASE_URL``).

The schema is created and migrated automatically (Alembic, ``store/migrations``) when a
``Store`` is opened. Imports run in one transaction: a failed import leaves the store as it was.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .. import RD_NEW, TIMEZONE
from ..errors import ImportRejected, InvalidInput, StoreUnavailable
from ..incidents import ParseResult
from ..times import epoch_seconds, local_timestamp
from . import chunks, postgis
from .chunks import ChunkQuery
from .models import audit_log, import_batches, incident_history, incidents, metadata

if TYPE_CHECKING:  # alembic is imported when a migration runs, not on every start
    from alembic.config import Config

__all__ = ["ImportSummary", "Store", "audit_log", "import_batches", "incident_history", "incidents",
           "metadata"]

_MIGRATIONS = Path(__file__).with_name("migrations")
_CHUNK = 50_000
_ROWS_PER_STATEMENT = 200
_SQLITE_MAX_VARIABLES = 32_766  # SQLite >= 3.32
_REQUIRED = ("incident_id", "crime_type", "occurred_at", "content_hash")
_BULK_ROWS = 20_000
_WRITER_WAIT_MS = 600_000
#: the columns of ``Store.incidents()`` before the geometry is added
_OUT = ("incident_id", "crime_type", "occurred_at", "occurred_from", "occurred_to", "x", "y",
        "buurt_code", "wijk_code", "address")
T = TypeVar("T")


@dataclass(frozen=True)
class ImportSummary:
    batch_id: int | None
    source_name: str
    n_rows: int
    accepted: int
    rejected: int
    already_present: int
    rejects: pd.DataFrame
    #: stored incidents replaced by a corrected version (``--update``)
    updated: int = 0
    #: withdrawn registrations in the file (removed from the store when they were in it)
    withdrawn: int = 0

    def message(self) -> str:
        return (f"{self.source_name}: {self.accepted} ingelezen, {self.updated} bijgewerkt, "
                f"{self.withdrawn} ingetrokken, {self.rejected} afgewezen, "
                f"{self.already_present} waren er al")


def _plain_value(value: object) -> object:
    """A value as JSON and the database take it (numpy scalars and NaN/NA unwrapped)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if isinstance(value, np.generic) else value


def _add_rejects(rejects: pd.DataFrame, rows: pd.DataFrame, column: str,
                 reason: str) -> pd.DataFrame:
    """``rejects`` with one more reason for each of ``rows`` (parsed rows)."""
    extra = pd.DataFrame({"row": rows["row"].to_numpy(), "column": column,
                          "value": rows["incident_id"].to_numpy(), "reason": reason})
    return pd.concat([rejects, extra], ignore_index=True).sort_values(
        "row", kind="stable", ignore_index=True)


def _isin(values: pd.Series | np.ndarray, members: Sequence[object] | np.ndarray) -> np.ndarray:
    """Membership of text values in a (large) list of texts, hashed by Arrow."""
    found = pc.is_in(pa.array(values, pa.string(), from_pandas=True),
                     value_set=pa.array(members, pa.string(), from_pandas=True))
    return found.to_numpy(zero_copy_only=False)


def _fetch(conn: Connection, stmt: sa.Select) -> pd.DataFrame:
    """Run a SELECT through the DBAPI cursor straight into a DataFrame (SQLAlchemy Row
    objects cost ~10 µs each, too much for 10⁵-10⁶ incidents)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    if compiled.positiontup is not None:
        params: object = tuple(compiled.params[k] for k in compiled.positiontup)
    else:
        params = compiled.params
    with postgis.reraise_dbapi(conn):
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(str(compiled), params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    return pd.DataFrame.from_records(rows, columns=list(stmt.selected_columns.keys()),
                                     nrows=len(rows))


_REVISION = re.compile(r"^(down_)?revision\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


@functools.cache
def _head_from_files() -> str | None:
    """The newest revision, read from the migration files' ``revision``/``down_revision``
    lines without importing alembic (None when that is not one single head)."""
    revisions, downs = set(), set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (downs if down else revisions).add(value)
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _epoch(series: pd.Series) -> np.ndarray:
    """tz-aware timestamps -> int64 seconds since epoch (UTC); NaT -> None-able float."""
    seconds, null = epoch_seconds(pd.to_datetime(series, utc=True))
    out = seconds.astype(object)
    out[null] = None
    return out


def _to_epoch(value: datetime | date | str | pd.Timestamp) -> int:
    return int(local_timestamp(value).tz_convert("UTC").timestamp())


def _from_epoch(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, unit="s", utc=True).dt.tz_convert(TIMEZONE)


class Store:
    """A connection to the geoveilig database. ``url`` is a SQLAlchemy URL."""

    def __init__(self, url: str, *, migrate: bool = True, echo: bool = False) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        sqlite = url.startswith("sqlite")
        # pre-ping: a pooled connection the server dropped (restart, failover, terminated
        # backend) is replaced on checkout instead of failing the next request
        self.engine: Engine = sa.create_engine(url, echo=echo, future=True,
                                               pool_pre_ping=not sqlite)
        if self.engine.dialect.name == "sqlite":
            # pysqlite's own transaction handling does not cover DDL (our temporary tables);
            # let SQLAlchemy emit BEGIN so that a failed import rolls back completely. Writers
            # (imports) take the write lock up front (BEGIN IMMEDIATE): two imports at once
            # then wait for each other instead of failing on a read->write lock upgrade.
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self.spatial = False  # PostGIS geometry column present (set by migrate/_detect)
        self.columnar = False  # SQLite: incidents in chunks (migration 0007; see chunks.py)
        if migrate:
            self.migrate()
        else:
            self._detect()

    @classmethod
    def sqlite(cls, path: str | Path) -> Store:
        return cls(f"sqlite:///{Path(path).resolve()}")

    # --- schema ------------------------------------------------------------------------
    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (creates it in an empty database)."""
        try:
            head = _head_from_files()
            if head is not None:  # at head already (every start but the first): no alembic
                with self.engine.connect() as conn:
                    if _stored_revision(conn) == head:
                        self._detect()
                        return
            from alembic import command

            with self.engine.begin() as conn:
                command.upgrade(_alembic_config(conn), "head")
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"database niet bereikbaar: {exc.orig}") from exc
        self._detect()

    def _detect(self) -> None:
        try:
            with self.engine.connect() as conn:
                self.spatial = postgis.has_geometry(conn)
                self.columnar = conn.dialect.name == "sqlite" and chunks.has_chunks(conn)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"database niet bereikbaar: {exc.orig}") from exc

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction: imports are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL:
        an advisory lock), a lost database raises ``StoreUnavailable`` (nothing is written)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(geoveilig_write=True)
                with conn.begin():
                    if postgis.is_postgresql(conn):
                        postgis.lock_imports(conn)
                    yield conn
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"database niet bereikbaar: {exc.orig}") from exc

    def _read(self, work: Callable[[Connection], T]) -> T:
        """Run a read on a pooled connection; when the connection turns out to be lost
        (server restarted, backend terminated) retry once on a fresh one, and raise
        ``StoreUnavailable`` (HTTP 503) when the database stays away."""
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    return work(conn)
            except sa.exc.DBAPIError as exc:
                if not (exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError)):
                    raise
                if attempt == 2 or not exc.connection_invalidated:
                    raise StoreUnavailable(f"database niet bereikbaar: {exc.orig}") from exc
        raise AssertionError("unreachable")

    def schema_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return self._read(lambda conn: MigrationContext.configure(conn).get_current_revision())

    @staticmethod
    def head_revision() -> str | None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- import ------------------------------------------------------------------------
    def import_incidents(
        self,
        parsed: ParseResult,
        *,
        source_name: str,
        content_sha256: str,
        partial: bool = False,
        synthetic: bool = False,
        on_import: Callable[[Connection, pd.DataFrame, int], object] | None = None,
        update: bool = False,
        actor: str = "geoveilig",
    ) -> ImportSummary:
        """Store the valid rows of ``parsed`` in one transaction.

        Without ``partial`` any rejected row (from parsing, or an id already stored with other
        content) raises ``ImportRejected`` and nothing is written. Rows whose id is stored with
        the same content count as already present (re-importing a file adds nothing).

        ``on_import(conn, new_rows, batch_id)`` is called inside the import transaction after
        the rows are written, with the rows that were actually added (not those already
        present) and the new batch id; whatever it writes through ``conn`` commits or rolls
        back with the import (the alerts outbox uses it: ``geoveilig.alerts``). If it raises,
        nothing of the import is stored.

        ``update``: a row whose id is stored with other content is a correction (the police
        re-classified it or corrected its location): it replaces the stored version, which is
        kept in ``incident_history`` with ``actor``, the time, this batch and what changed. A
        row with a withdrawn status (``ParseResult.frame['withdrawn']``) removes the stored
        incident the same way. Without ``update`` both are refused."""
        rejects = parsed.rejects
        frame = parsed.frame
        withdrawn = (frame["withdrawn"].to_numpy(dtype=bool) if "withdrawn" in frame
                     else np.zeros(len(frame), dtype=bool))
        hint = ""
        if withdrawn.any() and not update:
            w = frame.loc[withdrawn]
            hint = f"; {len(w)} ingetrokken registratie(s): verwerk die met --update"
            rejects = _add_rejects(rejects, w, "registratienummer",
                                   "ingetrokken registratie: verwerk intrekkingen met --update")
            frame, withdrawn = frame.loc[~withdrawn], withdrawn[~withdrawn]
        if len(rejects) and not partial:
            raise ImportRejected(
                f"{source_name}: {rejects['row'].nunique()} van {parsed.n_rows} rijen ongeldig; "
                "er is niets ingelezen (gebruik --partial om de geldige rijen in te lezen)"
                + hint, rejects,
            )
        if frame["buurt_code"].isna().any():
            raise InvalidInput("incidenten zonder buurt: parseer met de gebiedsindeling (areas)")
        n_present = parsed.duplicates_in_file
        replace_ids: np.ndarray = np.empty(0, dtype=object)
        n_withdrawn = int(withdrawn.sum())
        n_updated = 0
        with self._writing() as conn:
            existing = self._existing(conn, frame)
            if len(existing):
                same = (existing["stored_hash"] == existing["content_hash"]).to_numpy()
                ids = existing["incident_id"].to_numpy(dtype=object)
                gone = _isin(ids, frame["incident_id"].to_numpy(dtype=object)[withdrawn]) \
                    if withdrawn.any() else np.zeros(len(ids), dtype=bool)
                conflict_ids = pd.unique(ids[~same & ~gone])
                present_ids = pd.unique(ids[same & ~gone])
                if len(conflict_ids) and not update:
                    c = frame.loc[_isin(frame["incident_id"], conflict_ids)]
                    rejects = _add_rejects(
                        rejects, c, "registratienummer",
                        "registratienummer staat al in de database met andere inhoud "
                        "(correcties: gebruik --update)")
                    if not partial:
                        raise ImportRejected(
                            f"{source_name}: {len(c)} rij(en) botsen met al opgeslagen "
                            "incidenten (zelfde registratienummer, andere inhoud); er is niets "
                            "ingelezen (verwerk correcties met --update)", rejects)
                    drop = ids
                else:
                    n_updated = len(conflict_ids)
                    replace_ids = pd.unique(np.concatenate([conflict_ids, ids[gone]]))
                    drop = present_ids
                n_present += len(present_ids)
                keep = ~_isin(frame["incident_id"], drop)
                frame, withdrawn = frame.loc[keep], withdrawn[keep]
            frame = frame.loc[~withdrawn]  # withdrawn: stored ones are in replace_ids
            n_rejected = int(rejects["row"].nunique()) if len(rejects) else 0
            now = int(time.time())
            batch_id = conn.execute(
                import_batches.insert().values(
                    kind="incidents", imported_at=now, source_name=source_name,
                    content_sha256=content_sha256, n_rows=parsed.n_rows,
                    accepted=len(frame) - n_updated,
                    rejected=n_rejected, already_present=n_present, synthetic=int(synthetic),
                ).returning(import_batches.c.id)
            ).scalar_one()
            if len(replace_ids):
                old = self._remove(conn, list(replace_ids))
                self._history(conn, old, frame, batch_id, actor, now)
            self._insert(conn, frame, batch_id)
            if len(replace_ids):
                conn.execute(audit_log.insert().values(
                    at=now, actor=actor, action="import-update", target=source_name,
                    detail=json.dumps({"batch_id": batch_id, "updated": n_updated,
                                       "withdrawn": len(replace_ids) - n_updated})))
            if on_import is not None:
                on_import(conn, frame, batch_id)
        return ImportSummary(batch_id=batch_id, source_name=source_name, n_rows=parsed.n_rows,
                             accepted=len(frame) - n_updated, rejected=n_rejected,
                             already_present=n_present, rejects=rejects, updated=n_updated,
                             withdrawn=n_withdrawn)

    def _remove(self, conn: Connection, ids: list[str]) -> pd.DataFrame:
        """Take the stored incidents with these ids out (in the write transaction); their
        logical rows (``chunks.COLUMNS``, times in epoch seconds)."""
        if self.columnar:
            table = chunks.remove(conn, ids)
            return pd.DataFrame({c: table.column(c).to_pylist() for c in chunks.COLUMNS})
        t = incidents
        parts = []
        for start in range(0, len(ids), 1000):
            part = ids[start:start + 1000]
            parts.append(_fetch(conn, sa.select(*(t.c[c] for c in chunks.COLUMNS))
                                .where(t.c.incident_id.in_(part))))
            conn.execute(t.delete().where(t.c.incident_id.in_(part)))
        return pd.concat(parts, ignore_index=True)

    def _history(self, conn: Connection, old: pd.DataFrame, new: pd.DataFrame, batch_id: int,
                 actor: str, now: int) -> None:
        """One ``incident_history`` row per replaced version: the old version, and the fields
        that changed (``{field: [old, new]}``; a withdrawal names no new values)."""
        current = new.set_index("incident_id")
        fields = ("crime_type", "occurred_at", "occurred_from", "occurred_to", "x", "y",
                  "buurt_code", "wijk_code", "address")
        rows = []
        for rec in old.to_dict("records"):
            iid = rec["incident_id"]
            if iid in current.index:
                now_row = current.loc[iid]
                changes = {}
                for f in fields:
                    was = _plain_value(rec[f])
                    value = now_row.get(f)
                    if f.startswith("occurred"):
                        value = None if pd.isna(value) else int(
                            pd.Timestamp(value).tz_convert("UTC").timestamp())
                    value = _plain_value(value)
                    if was != value:
                        changes[f] = [was, value]
                action = "update"
            else:
                changes, action = {}, "withdraw"
            rows.append({
                "incident_id": iid, "action": action, "changed_at": now, "actor": actor,
                "batch_id": batch_id, "changes": json.dumps(changes, ensure_ascii=False),
                **{f: _plain_value(rec[f]) for f in fields},
                "content_hash": int(rec["content_hash"]),
                "previous_batch_id": int(rec["batch_id"]),
            })
        if rows:
            conn.execute(incident_history.insert(), rows)

    def history(self, incident_id: str | None = None) -> pd.DataFrame:
        """The previous versions of corrected and withdrawn incidents (oldest first), with
        ``changed_at`` as a Europe/Amsterdam timestamp and ``changes`` as a dict."""
        stmt = sa.select(incident_history).order_by(incident_history.c.id)
        if incident_id is not None:
            stmt = stmt.where(incident_history.c.incident_id == incident_id)
        frame = self._read(lambda conn: _fetch(conn, stmt))
        if len(frame):
            frame["changed_at"] = _from_epoch(frame["changed_at"])
            frame["changes"] = [json.loads(c) for c in frame["changes"]]
        return frame

    def _existing(self, conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
        """Stored (incident_id, stored_hash) for the ids in ``frame``, with the new hash."""
        empty = pd.DataFrame(columns=["incident_id", "content_hash", "stored_hash"])
        if len(frame) == 0:
            return empty
        if self.columnar:  # under the write lock: every stored id, one hash join (Arrow)
            stored = chunks.stored_keys(conn)
            if not len(stored):
                return empty
            ids = pa.array(frame["incident_id"], pa.string(), from_pandas=True)
            at = pc.index_in(ids, value_set=stored.column("incident_id"))
            hit = pc.is_valid(at)
            return pd.DataFrame({
                "incident_id": ids.filter(hit).to_numpy(zero_copy_only=False),
                "content_hash": frame["content_hash"].to_numpy(dtype=np.int64)[
                    hit.to_numpy(zero_copy_only=False)],
                "stored_hash": stored.column("content_hash").take(at.filter(hit)).to_numpy()})
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
            found = _fetch(conn, sa.select(tmp.c.incident_id, tmp.c.content_hash,
                                           incidents.c.content_hash.label("stored_hash"))
                           .join(incidents, incidents.c.incident_id == tmp.c.incident_id))
        finally:
            tmp.drop(conn)
        return found if len(found) else empty

    def _insert(self, conn: Connection, frame: pd.DataFrame, batch_id: int) -> None:
        if len(frame) == 0:
            return
        if self.columnar:
            chunks.write(conn, chunks.frame_table(frame, chunks.next_id(conn), batch_id))
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
                self.engine.dialect.paramstyle, "?")
            names = ", ".join([*cols, *constants])
            one = "(" + ", ".join([mark] * len(cols) + [str(v) for v in constants.values()]) + ")"
            values = [v.tolist() if isinstance(v, np.ndarray) else list(v) for v in columns]
            n = len(values[0]) if values else 0
            per = max(1, min(_ROWS_PER_STATEMENT, _SQLITE_MAX_VARIABLES // max(1, len(cols))))
            cursor = conn.connection.driver_connection.cursor()
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

    # --- queries -----------------------------------------------------------------------
    def incidents(
        self,
        *,
        start: datetime | date | str | None = None,
        end: datetime | date | str | None = None,
        crime_types: Iterable[str] | None = None,
        area_codes: Iterable[str] | None = None,
        bbox: Sequence[float] | None = None,
        within: shapely.Geometry | None = None,
    ) -> gpd.GeoDataFrame:
        """Incidents as a GeoDataFrame (EPSG:28992), filtered by period (``start`` inclusive,
        ``end`` exclusive; dates are Europe/Amsterdam), crime-type slugs, area codes
        (``WK…``/``BU…``; ``GM…`` = all), an RD bbox (minx, miny, maxx, maxy) and a polygon
        ``within`` (RD metres; points on its boundary count), ordered by time. On PostGIS the
        bbox and polygon are tested in the database (``ST_Intersects``, GiST index); on SQLite
        the chunks' zone maps select by time and bbox, Arrow filters their rows, and the
        polygon is tested with shapely on the candidates in its bbox."""
        query = self._query(start, end, crime_types, area_codes, bbox, within)
        if self.columnar:
            table = self._read(lambda conn: chunks.read(conn, query, columns=_OUT))
            frame = chunks.to_frame(table)
        else:
            t = incidents.c
            stmt = sa.select(*(t[c] for c in _OUT)).where(
                *self._where(query, within)).order_by(t.occurred_at, t.id)
            frame = self._read(lambda conn: _fetch(conn, stmt))
        if within is not None and not self.spatial and len(frame):
            inside = shapely.intersects_xy(within, frame["x"].to_numpy(dtype=float),
                                           frame["y"].to_numpy(dtype=float))
            frame = frame.loc[inside].reset_index(drop=True)
        for c in ("occurred_at", "occurred_from", "occurred_to"):
            frame[c] = _from_epoch(pd.to_numeric(frame[c], errors="coerce"))
        frame["x"] = frame["x"].astype(float)
        frame["y"] = frame["y"].astype(float)
        return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                                crs=RD_NEW)

    def count_incidents(
        self,
        *,
        start: datetime | date | str | None = None,
        end: datetime | date | str | None = None,
        crime_types: Iterable[str] | None = None,
        area_codes: Iterable[str] | None = None,
        bbox: Sequence[float] | None = None,
        within: shapely.Geometry | None = None,
    ) -> int:
        """The number of incidents ``incidents()`` would return for the same filters."""
        query = self._query(start, end, crime_types, area_codes, bbox, within)
        if within is not None and not self.spatial:  # exact test on the candidates
            if self.columnar:
                xy = self._read(lambda conn: chunks.read(conn, query, columns=["x", "y"]))
                x, y = xy.column("x").to_numpy(), xy.column("y").to_numpy()
            else:
                rows = self._read(lambda conn: _fetch(conn, sa.select(
                    incidents.c.x, incidents.c.y).where(*self._where(query, within))))
                x, y = rows["x"].to_numpy(dtype=float), rows["y"].to_numpy(dtype=float)
            return int(shapely.intersects_xy(within, x, y).sum())
        if self.columnar:
            return self._read(lambda conn: chunks.count(conn, query))
        stmt = sa.select(sa.func.count()).select_from(incidents).where(
            *self._where(query, within))
        return int(self._read(lambda conn: conn.execute(stmt).scalar_one()))

    @staticmethod
    def _query(start, end, crime_types, area_codes, bbox,  # type: ignore[no-untyped-def]
               within: shapely.Geometry | None = None) -> ChunkQuery:
        """The filters validated (``InvalidInput`` says which is wrong), in epoch seconds; a
        polygon ``within`` narrows the bbox to its own."""
        lo = _to_epoch(start) if start is not None else None
        hi = _to_epoch(end) if end is not None else None
        if lo is not None and hi is not None and hi <= lo:
            raise InvalidInput(f"lege of omgekeerde periode: {start} tot {end}")
        wijk = buurt = None
        if area_codes is not None:
            codes = [str(c) for c in area_codes]
            if not any(c.startswith("GM") for c in codes):
                bad = [c for c in codes if not c.startswith(("WK", "BU"))]
                if bad:
                    raise InvalidInput(f"onbekende gebiedscode(s): {', '.join(bad)}")
                wijk = frozenset(c for c in codes if c.startswith("WK"))
                buurt = frozenset(c for c in codes if c.startswith("BU"))
        box = None
        if bbox is not None:
            if len(bbox) != 4 or bbox[0] > bbox[2] or bbox[1] > bbox[3]:
                raise InvalidInput(f"ongeldige bbox {list(bbox)}: verwacht minx,miny,maxx,maxy")
            box = (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))
        if within is not None:
            if not isinstance(within, shapely.Geometry) or within.is_empty or \
                    shapely.get_type_id(within) not in (3, 6, 7):
                raise InvalidInput("ongeldig gebied 'within': verwacht een (multi)polygoon in "
                                   "RD-meters (EPSG:28992)")
            x0, y0, x1, y1 = within.bounds
            if box is not None:  # candidates in both boxes
                x0, y0 = max(x0, box[0]), max(y0, box[1])
                x1, y1 = min(x1, box[2]), min(y1, box[3])
            box = (x0, y0, x1, y1)
        nothing = box is not None and (box[0] > box[2] or box[1] > box[3])
        return ChunkQuery(start=lo, end=hi,
                          crime_types=frozenset(crime_types) if crime_types is not None else None,
                          wijk_codes=wijk, buurt_codes=buurt, bbox=None if nothing else box,
                          nothing=nothing)

    def _where(self, query: ChunkQuery, within: shapely.Geometry | None) -> list:
        """``query`` as conditions on the row table (PostgreSQL, or SQLite before 0007)."""
        t = incidents.c
        where: list = [sa.false()] if query.nothing else []
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

    def batches(self) -> pd.DataFrame:
        rows = self._read(lambda conn: conn.execute(
            sa.select(import_batches).order_by(import_batches.c.id)).all())
        frame = pd.DataFrame(rows, columns=[c.name for c in import_batches.columns])
        frame["imported_at"] = _from_epoch(frame["imported_at"])
        return frame

    def has_synthetic_data(self) -> bool:
        """Whether any stored import batch is synthetic (demo data): every report and map made
        from this store must then say so on its first page."""
        with self.engine.connect() as conn:
            return bool(conn.execute(
                sa.select(sa.func.max(import_batches.c.synthetic))).scalar() or 0)

    def time_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        if self.columnar:
            found = self._read(chunks.time_range)
            if found is None:
                return None
            lo, hi = found
        else:
            lo, hi = self._read(lambda conn: tuple(conn.execute(
                sa.select(sa.func.min(incidents.c.occurred_at),
                          sa.func.max(incidents.c.occurred_at))).one()))
            if lo is None:
                return None
        ts = _from_epoch(pd.Series([lo, hi]))
        return ts.iloc[0], ts.iloc[1]

    def plan_sites(self, plan_id: int) -> gpd.GeoDataFrame:
        """The sites of a stored plan (``store.plans.plan_sites``): points (EPSG:28992) with
        ``rank``, ``status``, ``expected_covered`` and the plan's explanation columns."""
        from .plans import plan_sites

        return plan_sites(self, plan_id)

    def audit(self, actor: str, action: str, target: str | None = None,
              detail: str | None = None) -> None:
        self.audit_many([(int(time.time()), actor, action, target, detail)])

    def audit_many(self, rows: Sequence[tuple[int, str, str, str | None, str | None]]) -> None:
        """Audit rows ``(at epoch s, actor, action, target, detail)`` in one transaction."""
        if not rows:
            return
        if self.engine.dialect.name == "sqlite":
            # the API audits every restricted read: on SQLite a plain DBAPI transaction costs
            # 0.06 ms against 0.3 ms through SQLAlchemy
            with closing(self.engine.raw_connection()) as raw:
                cursor = raw.cursor()
                cursor.execute(f"PRAGMA busy_timeout={_WRITER_WAIT_MS}")
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    cursor.executemany("INSERT INTO audit_log (at, actor, action, target, "
                                       "detail) VALUES (?, ?, ?, ?, ?)", rows)
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
            return
        with self.engine.begin() as conn:
            conn.execute(audit_log.insert(), [
                {"at": at, "actor": actor, "action": action, "target": target,
                 "detail": detail} for at, actor, action, target, detail in rows])


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get("geoveilig_write", False):
        # an import waits for another one however long it takes (a 10⁶-row import is ~30 s),
        # up to 10 minutes; readers are never blocked by writers in WAL mode
        conn.exec_driver_sql(f"PRAGMA busy_timeout={_WRITER_WAIT_MS}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache: bulk imports
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()
    dbapi_conn.isolation_level = None
