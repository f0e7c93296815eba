"""Small read-only queries straight through the database driver, for commands that must answer
in a fraction of a second (``geoveilig keys list``): importing the store package loads pandas,
geopandas, pyarrow and SQLAlchemy (~1.5 s of CPU), the driver alone ~0.02 s (sqlite3) or
~0.1 s (psycopg).

Each function returns ``None`` when it cannot answer safely (a URL it does not know, a database
file that does not exist yet, a table that is missing because the schema was never migrated);
the caller then opens the :class:`geoveilig.store.Store`, which creates and migrates the schema.
Nothing here writes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

#: ``store.keys.list_keys`` columns, in that order
KEY_COLUMNS = ("key_id", "name", "role", "created_at", "revoked_at", "gemeente")


def _connect(url: str) -> tuple[Any, str] | None:
    """A DB-API connection for ``url`` and its parameter style, or None."""
    if url.startswith("sqlite:///"):
        import sqlite3

        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            return None
        # read-only: never creates or changes the file
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True), "sqlite"
    if url.startswith(("postgresql+psycopg://", "postgresql://", "postgres://")):
        try:
            import psycopg
        except ImportError:
            return None
        conninfo = "postgresql://" + url.split("://", 1)[1]
        try:
            return psycopg.connect(conninfo, connect_timeout=10), "postgresql"
        except psycopg.Error:
            return None  # let the store report the problem in its own words
    return None


def api_keys(url: str) -> list[tuple[Any, ...]] | None:
    """The rows of ``api_keys`` (:data:`KEY_COLUMNS`, in creation order), or None when this
    database cannot be read this way (see the module docstring)."""
    opened = _connect(url)
    if opened is None:
        return None
    conn, dialect = opened
    with contextlib.closing(conn):
        cur = conn.cursor()
        if dialect == "sqlite":
            cur.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='api_keys'")
        else:
            cur.execute("SELECT to_regclass('api_keys') IS NOT NULL")
        found = cur.fetchone()
        if not found or not found[0]:
            return None
        try:
            cur.execute(f"SELECT {', '.join(KEY_COLUMNS)} FROM api_keys ORDER BY id")
        except Exception:  # an older schema (before 0014): the store migrates it
            return None
        rows = [tuple(r) for r in cur.fetchall()]
        if dialect == "postgresql":
            conn.rollback()
        return rows
