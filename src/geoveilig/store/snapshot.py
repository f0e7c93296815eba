"""A new SQLite store from one schema snapshot instead of replaying every migration.

``migrations/sqlite_schema.sql`` holds the schema that the migrations build on an empty SQLite
database (the ``sqlite_master`` statements in creation order) at the revision named in its
first line. A new store runs these statements and records that revision in
``alembic_version`` in one transaction; when the migrations have moved on since the snapshot
was written, Alembic then runs only the newer ones. ``tests/test_store_snapshot.py`` checks
that a store made this way has exactly the schema of a migrated one, so the two cannot drift;
after a change to the migrations, write the snapshot again:

    python -m geoveilig.store.snapshot

PostgreSQL databases are always created by the migrations (a server database is created once;
the snapshot exists for the many new SQLite files: the first ``geoveilig import``, tests).
"""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .database import MIGRATIONS

SNAPSHOT = MIGRATIONS / "sqlite_schema.sql"
_HEADER = re.compile(r"^-- revision: (\S+)$")


def schema_statements(conn: Connection) -> list[str]:
    """The schema of the SQLite database behind ``conn``: the ``CREATE`` statements of its
    tables, indexes, views and triggers in creation order (SQLite's own objects left out)."""
    rows = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid").all()
    return [str(sql) for (sql,) in rows]


def read_snapshot(path: Path = SNAPSHOT) -> tuple[str, list[str]] | None:
    """The snapshot's revision and statements (None without a snapshot file)."""
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    found = _HEADER.match(lines[0]) if lines else None
    if found is None:
        return None
    statements: list[str] = []
    pending = ""
    for line in lines[1:]:
        if not pending and (not line.strip() or line.startswith("--")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip().removesuffix(";").rstrip())
            pending = ""
    if pending.strip():
        return None  # an unfinished statement: not a snapshot this code wrote
    return found.group(1), statements


def is_empty(conn: Connection) -> bool:
    """No tables, indexes, views or triggers yet (a new SQLite file)."""
    return conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one() == 0


def create_from_snapshot(conn: Connection, path: Path = SNAPSHOT) -> str | None:
    """Create the schema of an empty SQLite database from the snapshot, in ``conn``'s open
    transaction, and record its revision in ``alembic_version``. Returns that revision, or
    None (nothing done) when the database is not SQLite or not empty, or there is no
    snapshot."""
    if conn.dialect.name != "sqlite" or not is_empty(conn):
        return None
    snapshot = read_snapshot(path)
    if snapshot is None:
        return None
    revision, statements = snapshot
    for sql in statements:
        conn.exec_driver_sql(sql)
    conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                 {"v": revision})
    return revision


def write_snapshot(path: Path = SNAPSHOT) -> str:
    """Migrate a new in-memory SQLite database to the newest revision and write its schema
    to ``path``. Returns the revision."""
    from alembic import command

    from .database import alembic_config, create_engine, stored_revision

    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with engine.connect() as conn:
            revision = stored_revision(conn)
            statements = schema_statements(conn)
    finally:
        engine.dispose()
    if revision is None:
        raise RuntimeError("the migrations recorded no revision")
    body = "".join(f"{sql};\n\n" for sql in statements)
    path.write_text(f"-- revision: {revision}\n"
                    "-- The SQLite schema the migrations build, for new stores; written by "
                    "'python -m geoveilig.store.snapshot' (do not edit).\n\n" + body,
                    encoding="utf-8")
    return revision


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SNAPSHOT
    print(f"{target}: revision {write_snapshot(target)}")
