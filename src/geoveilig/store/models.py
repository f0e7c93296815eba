"""Tables of the store (SQLAlchemy 2 Core/ORM metadata). Times are stored as seconds since the
Unix epoch (UTC) in BIGINT columns: portable, compact and fast to range-filter on SQLite and
PostgreSQL alike; the store converts them to Europe/Amsterdam timestamps on the way out.
Locations are RD New (EPSG:28992) metres in ``x``/``y``.

``incidents`` is the row table of PostgreSQL/PostGIS (and of SQLite before migration 0007); the
embedded SQLite store keeps the same logical rows in ``incident_chunks`` (``store.chunks``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

import_batches = Table(
    "import_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False, default="incidents"),
    Column("imported_at", BigInteger, nullable=False),
    Column("source_name", Text, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("already_present", Integer, nullable=False),
    Column("synthetic", Integer, nullable=False, default=0),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), nullable=False, unique=True),
    Column("crime_type", String(40), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("occurred_from", BigInteger),
    Column("occurred_to", BigInteger),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("buurt_code", String(10)),
    Column("wijk_code", String(8)),
    Column("address", Text),
    Column("content_hash", BigInteger, nullable=False),
    Column("batch_id", Integer, ForeignKey("import_batches.id"), nullable=False),
    # PostgreSQL/PostGIS (migration 0015): a period with crime types; a period without them
    # (BRIN there, see ``POSTGRESQL_USING``); bbox and polygon queries use the GiST index on
    # ``geom`` (0004). (No buurt_code index: the area filter cannot use it, see 0006.)
    Index(None, "crime_type", "occurred_at"),
    Index(None, "occurred_at"),
)

#: The access method of indexes that PostgreSQL keeps otherwise than as a btree (migration
#: 0015: BRIN, block ranges, next to free to maintain), for the PostGIS import that rebuilds
#: the indexes (``rows.RowBackend``). Not a ``postgresql_using`` argument of the ``Index``:
#: that loads SQLAlchemy's PostgreSQL dialects with these models (~0.1 s of every start,
#: also of ``geoveilig import`` into SQLite).
POSTGRESQL_USING = {"ix_incidents_occurred_at": "brin"}

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(128)),
    Column("detail", Text),
)

#: previous versions of corrected or withdrawn incidents (migration 0008): who, when, which
#: batch, what changed (JSON ``{field: [old, new]}``) and the whole previous version
incident_history = Table(
    "incident_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # 'update' | 'withdraw'
    Column("changed_at", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("batch_id", Integer, ForeignKey("import_batches.id"), nullable=False),
    Column("changes", Text, nullable=False),
    Column("crime_type", String(40), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("occurred_from", BigInteger),
    Column("occurred_to", BigInteger),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("buurt_code", String(10)),
    Column("wijk_code", String(8)),
    Column("address", Text),
    Column("content_hash", BigInteger, nullable=False),
    Column("previous_batch_id", Integer, nullable=False),
    Index(None, "incident_id"),
)
