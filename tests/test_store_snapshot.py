"""A new SQLite store is created from the schema snapshot (``store.snapshot``), not by
replaying every migration: its schema must be exactly the migrated one."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from geoveilig.store import Store
from geoveilig.store.database import alembic_config, head_from_files, stored_revision
from geoveilig.store.snapshot import (
    create_from_snapshot,
    read_snapshot,
    schema_statements,
    write_snapshot,
)


def _schema(url: str) -> tuple[str | None, list[str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return stored_revision(conn), schema_statements(conn)
    finally:
        engine.dispose()


def _migrated(path: Path, revision: str = "head") -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
    finally:
        engine.dispose()
    return url


def test_the_stored_snapshot_is_at_the_newest_revision() -> None:
    snapshot = read_snapshot()
    assert snapshot is not None
    assert snapshot[0] == head_from_files(), (
        "the migrations changed: run 'python -m geoveilig.store.snapshot' and commit "
        "src/geoveilig/store/migrations/sqlite_schema.sql")


def test_a_new_store_has_exactly_the_migrated_schema(tmp_path: Path) -> None:
    migrated = _schema(_migrated(tmp_path / "migrated.sqlite"))
    Store.sqlite(tmp_path / "new.sqlite").close()
    assert _schema(f"sqlite:///{tmp_path / 'new.sqlite'}") == migrated
    assert migrated[0] == head_from_files()
    assert len(migrated[1]) > 20  # tables and indexes, not an empty comparison


def test_a_new_store_uses_the_snapshot_and_no_migration(tmp_path: Path) -> None:
    """The fast path runs: a snapshot file with a marker table shows it was used (a store
    migrated by Alembic would not have that table)."""
    revision, statements = read_snapshot()  # type: ignore[misc]
    fake = tmp_path / "schema.sql"
    fake.write_text(f"-- revision: {revision}\n\n"
                    + "".join(f"{s};\n\n" for s in statements)
                    + "CREATE TABLE snapshot_marker (x INTEGER);\n", encoding="utf-8")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        assert create_from_snapshot(conn, fake) == revision
    with engine.begin() as conn:  # not empty any more: nothing is done a second time
        assert create_from_snapshot(conn, fake) is None
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    engine.dispose()
    assert "snapshot_marker" in names


def test_an_older_snapshot_is_completed_by_the_newer_migrations(tmp_path: Path) -> None:
    """When migrations were added after the snapshot was written, a new store gets the
    snapshot and then only the newer migrations: again exactly the migrated schema."""
    older = _schema(_migrated(tmp_path / "older.sqlite", "0010"))
    assert older[0] == "0010"
    snapshot = tmp_path / "schema.sql"
    snapshot.write_text("-- revision: 0010\n\n" + "".join(f"{s};\n\n" for s in older[1]),
                        encoding="utf-8")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'new.sqlite'}")
    try:
        with engine.begin() as conn:
            assert create_from_snapshot(conn, snapshot) == "0010"
            command.upgrade(alembic_config(conn), "head")
    finally:
        engine.dispose()
    assert _schema(f"sqlite:///{tmp_path / 'new.sqlite'}") == \
        _schema(_migrated(tmp_path / "migrated.sqlite"))


def test_write_snapshot_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "schema.sql"
    revision = write_snapshot(path)
    assert revision == head_from_files()
    assert read_snapshot(path) == (revision, _schema(_migrated(tmp_path / "m.sqlite"))[1])


def test_a_database_with_tables_is_left_to_the_migrations(tmp_path: Path) -> None:
    """Only an empty SQLite database takes the snapshot; a database with tables is left to
    the migrations."""
    url = _migrated(tmp_path / "old.sqlite", "0006")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        assert create_from_snapshot(conn) is None
    engine.dispose()
    store = Store(url)
    try:
        assert store.schema_revision() == head_from_files()
    finally:
        store.close()
    assert _schema(url) == _schema(_migrated(tmp_path / "migrated.sqlite"))
