"""The incident table behind one small protocol, one implementation per backend.

A ``Store`` keeps its incidents in one of two physical layouts with the same logical rows
(``chunks.COLUMNS``; times in epoch seconds, RD metres):

- ``rows.RowBackend``: the SQL row table ``incidents`` (PostgreSQL, with PostGIS pushing bbox
  and polygon tests into the database when ``incidents.geom`` exists; SQLite before 0007);
- ``columnar.ChunkBackend``: compressed Arrow chunks with zone maps in ``incident_chunks``
  (SQLite from migration 0007, ``store.chunks``).

``Store`` picks one when it opens the database (``detect``) and does everything that does not
depend on the layout itself (transactions and their locks, import batches, the history of
corrections, conversions to Europe/Amsterdam timestamps and GeoDataFrames). Every method runs
on a connection the ``Store`` gives it: reads on a pooled connection (retried once when the
connection was lost), writes in the import's write transaction (rolled back as a whole).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import pandas as pd
import shapely
from sqlalchemy.engine import Connection

from . import chunks, postgis
from .query import IncidentQuery

__all__ = ["IncidentBackend", "detect"]


@runtime_checkable
class IncidentBackend(Protocol):
    """What a ``Store`` needs from its incident table."""

    #: short name for messages and tests: ``"chunks"``, ``"rows"`` or ``"postgis"``
    name: str
    #: bbox and polygon filters are answered by a spatial index in the database (PostGIS)
    spatial: bool

    def read(self, conn: Connection, query: IncidentQuery, within: shapely.Geometry | None,
             columns: Sequence[str]) -> pd.DataFrame:
        """The matching incidents' ``columns`` (logical columns, times in epoch seconds),
        ordered by (``occurred_at``, ``id``); a polygon ``within`` tested exactly (boundary
        included). Text columns as the DBAPI gives them (``chunks.to_frame``)."""
        ...

    def count(self, conn: Connection, query: IncidentQuery,
              within: shapely.Geometry | None) -> int:
        """The number of rows ``read`` returns for the same filter."""
        ...

    def time_range(self, conn: Connection) -> tuple[int, int] | None:
        """The first and last ``occurred_at`` (epoch seconds); None when nothing is stored."""
        ...

    def existing(self, conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
        """For the ``incident_id`` of ``frame`` that are stored: ``incident_id``,
        ``content_hash`` (from ``frame``) and ``stored_hash``. Runs under the write lock."""
        ...

    def insert(self, conn: Connection, frame: pd.DataFrame, batch_id: int) -> None:
        """Store the parsed rows of ``frame`` (``ParseResult.frame``) as import ``batch_id``."""
        ...

    def remove(self, conn: Connection, incident_ids: list[str]) -> pd.DataFrame:
        """Take the stored incidents with these ids out and return their logical rows
        (``chunks.COLUMNS``, times in epoch seconds)."""
        ...


def detect(conn: Connection) -> IncidentBackend:
    """The backend of the database behind ``conn`` (its schema decides: chunks on SQLite from
    migration 0007, PostGIS when ``incidents.geom`` exists, else the plain row table)."""
    from .columnar import ChunkBackend
    from .rows import RowBackend

    if conn.dialect.name == "sqlite" and chunks.has_chunks(conn):
        return ChunkBackend()
    return RowBackend(spatial=postgis.has_geometry(conn))
