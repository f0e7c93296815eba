"""The incident chunk table of the embedded SQLite store as an ``IncidentBackend``.

The chunks themselves (layout, zone maps, merging, reading with Arrow) are ``store.chunks``;
this adapter answers the store's questions with them. Uniqueness of ``incident_id`` is checked
under the write lock (``BEGIN IMMEDIATE``) against the ids of every stored chunk, one Arrow
hash join per import.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from sqlalchemy.engine import Connection

from . import chunks
from .query import IncidentQuery, inside, only_inside, with_xy

__all__ = ["ChunkBackend"]


class ChunkBackend:
    """``IncidentBackend`` over ``incident_chunks`` (SQLite from migration 0007)."""

    name = "chunks"
    spatial = False

    def __repr__(self) -> str:
        return "ChunkBackend()"

    # --- reading -----------------------------------------------------------------------
    def read(self, conn: Connection, query: IncidentQuery, within: shapely.Geometry | None,
             columns: Sequence[str]) -> pd.DataFrame:
        if within is None:
            return chunks.to_frame(chunks.read(conn, query, columns=columns))
        frame = chunks.to_frame(chunks.read(conn, query, columns=with_xy(columns)))
        return only_inside(frame, within, columns)  # shapely on the bbox candidates

    def count(self, conn: Connection, query: IncidentQuery,
              within: shapely.Geometry | None) -> int:
        if within is None:
            return chunks.count(conn, query)
        xy = chunks.read(conn, query, columns=["x", "y"])  # exact test on the candidates
        return int(inside(within, xy.column("x").to_numpy(), xy.column("y").to_numpy()).sum())

    def time_range(self, conn: Connection) -> tuple[int, int] | None:
        return chunks.time_range(conn)

    # --- writing -----------------------------------------------------------------------
    def existing(self, conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
        empty = pd.DataFrame(columns=["incident_id", "content_hash", "stored_hash"])
        if len(frame) == 0:
            return empty
        stored = chunks.stored_keys(conn)  # under the write lock: every stored id
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

    def insert(self, conn: Connection, frame: pd.DataFrame, batch_id: int) -> None:
        if len(frame) == 0:
            return
        chunks.write(conn, chunks.frame_table(frame, chunks.next_id(conn), batch_id))

    def remove(self, conn: Connection, incident_ids: list[str]) -> pd.DataFrame:
        table = chunks.remove(conn, incident_ids)
        return pd.DataFrame({c: table.column(c).to_pylist() for c in chunks.COLUMNS})
