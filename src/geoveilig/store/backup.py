"""Backup and restore of the whole store.

``backup(store, out)``:

- SQLite: a consistent copy of the database file made with SQLite's online backup API (a
  snapshot even while the service keeps writing); the copy is an ordinary store file.
- PostgreSQL: a portable bundle: a zip with ``manifest.json`` (format, schema revision, tables,
  columns, row counts) and one Parquet file per table. It needs no server tools (pg_dump of the
  right major version) and restores into SQLite as well as into PostgreSQL.

``restore(store, path)`` reads either kind into an EMPTY store, in one transaction: the store is
taken to the backup's schema revision, every table is filled (parents before children; a
self-referencing key is set after all rows are in), sequences are moved past the restored ids
and the schema is upgraded to the newest revision again. Generated columns (PostGIS ``geom``)
are not stored in a bundle: the database recomputes them.

Every table of the store is included (they are reflected, not listed): ``incident_history``
(migration 0008: the previous versions of corrected and withdrawn incidents, with who, when
and what changed), so a restore keeps the audit trail of corrections; the stored plans
(``plans``, ``plan_sites``) and the deployments with their status and plan link come back as
they were, plans before the deployments that refer to them.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ..errors import InvalidInput, StoreUnavailable
from . import Store, _alembic_config, chunks, postgis

__all__ = ["BUNDLE_FORMAT", "BackupSummary", "backup", "restore", "table_rows"]

BUNDLE_FORMAT = "geoveilig-backup/1"
_SKIP = {"alembic_version", "spatial_ref_sys"}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 20_000


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    kind: str  # "sqlite" | "bundle"
    revision: str | None
    rows: dict[str, int]

    def message(self) -> str:
        total = sum(self.rows.values())
        what = "SQLite-kopie" if self.kind == "sqlite" else "bundel (Parquet per tabel)"
        return (f"{self.path}: {what}, schemaversie {self.revision}, {len(self.rows)} tabellen, "
                f"{total} rijen")


def _tables(conn: Connection) -> list[sa.Table]:
    """The store's tables (reflected, so tables of every module count), parents first."""
    md = sa.MetaData()
    names = [t for t in sa.inspect(conn).get_table_names() if t not in _SKIP]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # PostGIS 'geometry' type
        md.reflect(conn, only=names)
    return [t for t in md.sorted_tables if t.name in names]


def _columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [c for c in table.columns if c.computed is None]


def _order(table: sa.Table) -> list[sa.Column[Any]]:
    return list(table.primary_key.columns) or _columns(table)


def _logical(conn: Connection) -> dict[str, dict[str, list[Any]]]:
    """{table: {column: values}} of every table in key order; incidents stored as chunks
    (SQLite, see ``chunks``) appear as the logical ``incidents`` rows of every backend."""
    data = {}
    for t in _tables(conn):
        if t.name == chunks.TABLE:
            data["incidents"] = chunks.read_all(conn)
            continue
        cols = _columns(t)
        rows = conn.execute(sa.select(*cols).order_by(*_order(t))).all()
        data[t.name] = {c.name: [r[i] for r in rows] for i, c in enumerate(cols)}
    return data


def table_rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (stored columns, in key order; incidents as rows on every
    backend): for checks and tests."""
    return {name: list(zip(*columns.values(), strict=True))
            for name, columns in _logical(conn).items()}


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


# --- backup ------------------------------------------------------------------------------
def backup(store: Store, out: str | Path) -> BackupSummary:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        if store.engine.dialect.name == "sqlite":
            summary = _backup_sqlite(store, tmp)
        else:
            summary = _backup_bundle(store, tmp)
        os.replace(tmp, out)
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"database niet bereikbaar: {exc.orig}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return BackupSummary(out, summary.kind, summary.revision, summary.rows)


def _backup_sqlite(store: Store, out: Path) -> BackupSummary:
    raw = store.engine.raw_connection()
    try:
        dst = sqlite3.connect(out)
        try:
            raw.driver_connection.backup(dst)  # type: ignore[union-attr]
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        raw.close()
    engine = sa.create_engine(f"sqlite:///{out}", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = {}
            for t in _tables(conn):
                if t.name == chunks.TABLE:  # counted as the logical incident rows
                    rows["incidents"] = chunks.count(conn, chunks.ChunkQuery())
                else:
                    rows[t.name] = conn.execute(
                        sa.select(sa.func.count()).select_from(t)).scalar_one()
            revision = _revision(conn)
    finally:
        engine.dispose()
    return BackupSummary(out, "sqlite", revision, rows)


def _backup_bundle(store: Store, out: Path) -> BackupSummary:
    manifest: dict[str, Any] = {"format": BUNDLE_FORMAT, "tables": {}}
    # one REPEATABLE READ transaction: all tables from the same snapshot
    with store.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
            conn.begin(), zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        manifest["revision"] = _revision(conn)
        for t in _tables(conn):
            cols = _columns(t)
            rows = conn.execute(sa.select(*cols).order_by(*_order(t))).all()
            data = pa.table({c.name: pa.array([r[i] for r in rows]) for i, c in enumerate(cols)})
            buf = io.BytesIO()
            pq.write_table(data, buf, compression="zstd")
            zf.writestr(f"{t.name}.parquet", buf.getvalue())
            manifest["tables"][t.name] = {"rows": len(rows), "columns": [c.name for c in cols]}
        zf.writestr("manifest.json", json.dumps(manifest, indent=1))
    rows_per_table = {k: v["rows"] for k, v in manifest["tables"].items()}
    return BackupSummary(out, "bundle", manifest["revision"], rows_per_table)


# --- restore -----------------------------------------------------------------------------
def _read_backup(path: Path) -> tuple[str | None, dict[str, dict[str, list[Any]]]]:
    """(revision, {table: {column: values}}) of a SQLite copy or a bundle."""
    with path.open("rb") as f:
        head = f.read(16)
    if head == _SQLITE_MAGIC:
        engine = sa.create_engine(f"sqlite:///{path.resolve()}", poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                revision = _revision(conn)
                data = _logical(conn)
        finally:
            engine.dispose()
        return revision, data
    if not zipfile.is_zipfile(path):
        raise InvalidInput(f"'{path}' is geen geoveilig-back-up (geen SQLite-bestand of bundel)")
    with zipfile.ZipFile(path) as zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except KeyError:
            raise InvalidInput(f"'{path}': manifest.json ontbreekt in de bundel") from None
        if manifest.get("format") != BUNDLE_FORMAT:
            raise InvalidInput(f"'{path}': onbekend bundelformaat {manifest.get('format')!r}")
        data = {}
        for name, meta in manifest["tables"].items():
            table = pq.read_table(io.BytesIO(zf.read(f"{name}.parquet")))
            data[name] = {c: table.column(c).to_pylist() for c in meta["columns"]}
            if table.num_rows != meta["rows"]:
                raise InvalidInput(f"'{path}': tabel {name} heeft {table.num_rows} rijen, "
                                   f"het manifest zegt {meta['rows']}")
    return manifest.get("revision"), data


def restore(store: Store, path: str | Path) -> BackupSummary:
    """Restore a backup into ``store``, which must be empty (no rows in any table)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"back-upbestand '{path}' bestaat niet")
    with path.open("rb") as f:
        kind = "sqlite" if f.read(16) == _SQLITE_MAGIC else "bundle"
    revision, data = _read_backup(path)
    known = {s.revision for s in ScriptDirectory.from_config(
        _alembic_config(None)).walk_revisions()}
    if revision is not None and revision not in known:
        raise InvalidInput(f"back-up heeft schemaversie {revision}, die deze versie van "
                           "geoveilig niet kent (nieuwere back-up?)")
    counts: dict[str, int] = {}
    try:
        with store.engine.begin() as conn:
            filled = [t.name for t in _tables(conn)
                      if conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first()]
            if filled:
                raise InvalidInput("herstellen kan alleen in een lege database; deze bevat al "
                                   f"gegevens in: {', '.join(filled)}")
            cfg = _alembic_config(conn)
            if revision != _revision(conn):
                command.downgrade(cfg, revision or "base")
            tables = {t.name: t for t in _tables(conn)}
            # incidents: rows into a row table, or packed into chunks (SQLite since 0007)
            names = set(tables) | ({"incidents"} if chunks.TABLE in tables else set())
            missing = sorted(set(data) - names)
            if missing:
                raise InvalidInput(f"back-up bevat onbekende tabel(len): {', '.join(missing)}")
            for name, table in tables.items():
                if name == chunks.TABLE:
                    if "incidents" in data:
                        counts["incidents"] = chunks.write_rows(conn, data["incidents"])
                    continue
                columns = data.get(name)
                if columns is None:
                    continue
                counts[name] = _insert(conn, table, columns)
            if postgis.is_postgresql(conn):
                postgis.reset_sequences(conn, list(tables.values()))
            command.upgrade(cfg, "head")
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"database niet bereikbaar: {exc.orig}") from exc
    store._detect()
    return BackupSummary(path, kind, revision, counts)


def _insert(conn: Connection, table: sa.Table, columns: dict[str, list[Any]]) -> int:
    names = [c.name for c in _columns(table) if c.name in columns]
    n = len(columns[names[0]]) if names else 0
    # a key to the same table (team_id -> group_id) is filled in after all rows exist
    selfref = [fk.parent.name for fk in table.foreign_keys
               if fk.column.table.name == table.name and fk.parent.name in names]
    rows = [dict(zip(names, vals, strict=True))
            for vals in zip(*(columns[c] for c in names), strict=True)]
    deferred = [{**{f"k_{k.name}": r[k.name] for k in table.primary_key.columns},
                 **{f"v_{c}": r[c] for c in selfref}}
                for r in rows if any(r[c] is not None for c in selfref)]
    for r in rows:
        for c in selfref:
            r[c] = None
    for start in range(0, n, _CHUNK):
        conn.execute(table.insert(), rows[start:start + _CHUNK])
    if deferred:
        stmt = table.update().where(*[k == sa.bindparam(f"k_{k.name}")
                                      for k in table.primary_key.columns])
        conn.execute(stmt.values({c: sa.bindparam(f"v_{c}") for c in selfref}), deferred)
    return n
