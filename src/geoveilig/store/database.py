"""The database under a ``Store``: the SQLAlchemy engine (SQLite pragmas and transaction
handling) and the schema revision (Alembic migrations in ``store/migrations``).

Alembic is imported only when a migration runs: a store already at the newest revision (every
start but the first) reads the head from the migration files' ``revision`` lines.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS", "WRITER_WAIT_MS", "alembic_config", "create_engine", "head_from_files",
           "stored_revision"]

MIGRATIONS = Path(__file__).with_name("migrations")
#: how long an import waits for another one (SQLite ``busy_timeout``)
WRITER_WAIT_MS = 600_000
_REVISION = re.compile(r"^(down_)?revision\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


def create_engine(url: str, *, echo: bool = False) -> Engine:
    """The engine of a store at ``url`` (the directory of a SQLite file is created)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    sqlite = url.startswith("sqlite")
    # pre-ping: a pooled connection the server dropped (restart, failover, terminated
    # backend) is replaced on checkout instead of failing the next request
    engine = sa.create_engine(url, echo=echo, future=True, pool_pre_ping=not sqlite)
    if engine.dialect.name == "sqlite":
        # pysqlite's own transaction handling does not cover DDL (our temporary tables);
        # let SQLAlchemy emit BEGIN so that a failed import rolls back completely. Writers
        # (imports) take the write lock up front (BEGIN IMMEDIATE): two imports at once
        # then wait for each other instead of failing on a read->write lock upgrade.
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


@functools.cache
def head_from_files() -> str | None:
    """The newest revision, read from the migration files' ``revision``/``down_revision``
    lines without importing alembic (None when that is not one single head)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (downs if down else revisions).add(value)
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def stored_revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config(connection: Connection | None) -> Config:
    """The Alembic configuration of the store's migrations, running on ``connection``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get("geoveilig_write", False):
        # an import waits for another one however long it takes (a 10⁶-row import is ~30 s),
        # up to 10 minutes; readers are never blocked by writers in WAL mode
        conn.exec_driver_sql(f"PRAGMA busy_timeout={WRITER_WAIT_MS}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


#: The page size of a new SQLite store (one that exists keeps its own; SQLite's default is
#: 4096). Incidents are BLOBs of 1-2 MB (``store.chunks``), each spread over a quarter of the
#: pages it takes at 4 KB: the commit of an import of 10⁶ rows (28 MB) took 0.08-0.11 s
#: against 0.13-0.14 s, and reading all its chunks ~12% less time (measured on this project's
#: test machine). A small row costs a little more per write (a 16 KB page).
PAGE_SIZE = 16384


def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new, empty file only: before WAL mode
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache: bulk imports
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()
    dbapi_conn.isolation_level = None
