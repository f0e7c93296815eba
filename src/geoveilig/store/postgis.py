"""PostgreSQL/PostGIS specifics of the store, kept apart from the portable code.

- spatial filters pushed into the database: ``geom`` (a generated Point column, SRID 28992,
  GiST index; migration ``0004``) ``ST_Intersects`` a bbox envelope or polygon;
- bulk inserts through ``COPY ... FROM STDIN`` (psycopg 3, CSV written by Arrow);
- ``import_lock``: imports take a transaction-scoped advisory lock, so two imports running at
  once (two processes) are serialised and the second sees the rows of the first;
- ``reraise_dbapi``: errors raised on raw DBAPI cursors (the fast paths) are turned into
  SQLAlchemy errors, invalidating the connection when it was lost, so the pool replaces it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .chunks import raw_cursor

SRID = 28992
#: key of the advisory lock that serialises imports (any constant bigint; "geoveilig")
IMPORT_LOCK = 0x67656F7665696C


def is_postgresql(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


def has_geometry(conn: Connection) -> bool:
    """Whether ``incidents.geom`` exists (PostgreSQL with migration 0004 applied)."""
    if not is_postgresql(conn):
        return False
    return bool(conn.execute(sa.text(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'incidents' AND column_name = 'geom'")).scalar_one())


def bbox_clause(table: sa.Table, bbox: Sequence[float]) -> sa.ColumnElement[bool]:
    """``geom`` intersects the closed box (minx, miny, maxx, maxy): the same rows as
    ``minx <= x <= maxx and miny <= y <= maxy``, answered by the GiST index."""
    env = sa.func.ST_MakeEnvelope(float(bbox[0]), float(bbox[1]), float(bbox[2]),
                                  float(bbox[3]), SRID)
    return sa.func.ST_Intersects(sa.literal_column(f"{table.name}.geom"), env)


def within_clause(table: sa.Table, wkb: bytes) -> sa.ColumnElement[bool]:
    """``geom`` intersects a (multi)polygon given as WKB in EPSG:28992 (boundary included)."""
    shape = sa.func.ST_GeomFromWKB(sa.literal(wkb, sa.LargeBinary), SRID)
    return sa.func.ST_Intersects(sa.literal_column(f"{table.name}.geom"), shape)


def lock_imports(conn: Connection) -> None:
    """Wait for other imports to finish; released at commit/rollback (also when the importing
    process is killed: the server ends its session)."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": IMPORT_LOCK})


def copy_rows(conn: Connection, table: str, cols: list[str],
              columns: list[Sequence[object]]) -> None:
    """Insert rows with ``COPY ... FROM STDIN (FORMAT csv)``; the CSV is written by Arrow's
    C++ writer (every string quoted, a NULL is an unquoted empty field, doubles in shortest
    round-trip form), about 20 times faster than adapting row by row in Python."""
    data = pa.table({c: pa.array(list(v) if not isinstance(v, list) else v)
                     for c, v in zip(cols, columns, strict=True)})
    buf = io.BytesIO()
    pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False, batch_size=65_536,
                                                  quoting_style="needed"))
    cursor = raw_cursor(conn)
    try:
        with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT csv)") as copy:
            view = buf.getbuffer()
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start:start + (1 << 20)])
            del view
    finally:
        cursor.close()


#: ``SET LOCAL`` of an import transaction: no JIT compilation (up to a second per statement
#: for plans whose cost is the rows they move, not expressions) and memory for hashing the
#: staged batch (the server default, 4 MB, spills a batch of 500,000 ids to disk).
#: (``maintenance_work_mem`` stays the server's: 256 MB did not make the bulk path's index
#: rebuilds faster on 2 busy cores, ``benchmarks/bench_pg_import.py``.)
IMPORT_SETTINGS = {"jit": "off", "work_mem": "64MB"}


def import_session(conn: Connection) -> None:
    """The settings of ``IMPORT_SETTINGS`` for the rest of ``conn``'s transaction."""
    for name, value in IMPORT_SETTINGS.items():
        conn.execute(sa.text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})


@contextmanager
def lookup_by_index(conn: Connection, wanted: bool) -> Iterator[None]:
    """While inside (``wanted``): joins of a staged batch with ``incidents`` probe its indexes
    (nested loop) instead of hashing the whole table. The planner prices an index probe as a
    random read (``random_page_cost``) and so hashes the table even when it is 10-100 times
    larger than the batch: a scan of every stored row per import, the cost growing with the
    table. Probes cost O(batch x log(table))."""
    if not wanted:
        yield
        return
    for name in ("enable_hashjoin", "enable_mergejoin"):
        conn.execute(sa.text("SELECT set_config(:n, 'off', true)"), {"n": name})
    yield  # (on an error the transaction rolls back, and these settings with it)
    for name in ("enable_hashjoin", "enable_mergejoin"):
        conn.execute(sa.text("SELECT set_config(:n, 'on', true)"), {"n": name})


def summarize_new_ranges(conn: Connection) -> None:
    """Add the block ranges filled since the last summary to the BRIN index on
    ``incidents.occurred_at`` (migration 0015); until then a period query reads them all."""
    conn.execute(sa.text("SELECT brin_summarize_new_values('ix_incidents_occurred_at')"))


_BULK_CONSTRAINTS = (
    ("uq_incidents_incident_id", "UNIQUE (incident_id)"),
    ("fk_incidents_batch_id_import_batches",
     "FOREIGN KEY (batch_id) REFERENCES import_batches (id)"),
)


def bulk_begin(conn: Connection) -> None:
    """Bulk import (inside the import's transaction, table already locked by the index drops):
    drop the GiST index, the unique key and the batch foreign key, so that COPY does not
    maintain them row by row; ``bulk_end`` rebuilds and re-validates them in one pass each."""
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_incidents_geom"))
    for name, _ in _BULK_CONSTRAINTS:
        conn.execute(sa.text(f"ALTER TABLE incidents DROP CONSTRAINT IF EXISTS {name}"))


def bulk_end(conn: Connection) -> None:
    """Rebuild what ``bulk_begin`` dropped; a violation fails (and rolls back) the import."""
    for name, definition in _BULK_CONSTRAINTS:
        conn.execute(sa.text(f"ALTER TABLE incidents ADD CONSTRAINT {name} {definition}"))
    conn.execute(sa.text("CREATE INDEX ix_incidents_geom ON incidents USING GIST (geom)"))


def reset_sequences(conn: Connection, tables: Sequence[sa.Table]) -> None:
    """After rows were inserted with explicit ids: move each serial sequence past max(id)."""
    for t in tables:
        for c in t.primary_key.columns:
            if not isinstance(c.type, sa.Integer):
                continue
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": t.name, "c": c.name}).scalar_one()
            if seq:
                conn.execute(sa.text(
                    f"SELECT setval(:s, COALESCE((SELECT max({c.name}) FROM {t.name}), 0) + 1, "
                    "false)"), {"s": seq})


@contextmanager
def reraise_dbapi(conn: Connection) -> Iterator[None]:
    """Wrap DBAPI errors from a raw cursor like SQLAlchemy does for its own statements."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            None, None, exc, dbapi.Error, connection_invalidated=lost,
            dialect=conn.dialect) from exc
