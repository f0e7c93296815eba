"""Incidents in the embedded SQLite store: compressed Arrow column chunks with zone maps.

On SQLite the incidents are not one row per incident but chunks of up to ``CHUNK_ROWS`` rows
in ``incident_chunks`` (migration 0007): per chunk one BLOB, an Arrow IPC stream compressed
with zstd (``data``), and its zone map in plain columns: row count, id range, time range
(``t_min``/``t_max``, epoch seconds), bounding box (RD metres) and the crime types, wijken and
buurten present. An import is sorted by ``occurred_at`` and cut into chunks, so a query for a
period reads only the chunks whose time range overlaps it and filters their rows with Arrow
compute kernels. Small imports (a monthly police extract) would leave many small chunks, each
costing a decode per query: once ``MERGE_AT`` chunks hold fewer than a quarter of
``CHUNK_ROWS`` rows they are merged, in the importing transaction, into full chunks sorted by
time.

Why: a row table with its unique key and three secondary indexes costs SQLite 12 s per million
rows on our reference machine (most of it building the indexes), while writing the same rows as
chunks takes about 1 s; period queries read 4x faster too (``benchmarks/bench_import.py``).
Uniqueness of ``incident_id`` is checked by the store under the write lock (``BEGIN
IMMEDIATE``), against the ids of every stored chunk. PostgreSQL/PostGIS keeps its row table.

The logical rows are the same on both backends (``COLUMNS``): backups, restores and migrations
convert between chunks and rows with ``write_rows`` and ``read_all``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import StoreUnavailable
from ..times import epoch_seconds

__all__ = ["CHUNK_ROWS", "COLUMNS", "MERGE_AT", "SCHEMA", "TABLE", "ChunkQuery",
           "compact", "frame_table", "next_id", "read", "read_all", "remove", "rows_table",
           "stored_keys",
           "to_frame", "write", "write_rows"]

TABLE = "incident_chunks"
CHUNK_ROWS = 65_536
#: chunks below a quarter of CHUNK_ROWS are merged once there are this many
MERGE_AT = 8
_CODEC = pa.Codec("zstd", compression_level=1)
#: threads that build the chunks of one write
_WORKERS = max(1, min(4, os.cpu_count() or 1))
_TEXT = pa.dictionary(pa.int32(), pa.string())

#: the columns of one chunk
SCHEMA = pa.schema([
    ("id", pa.int64()),
    ("incident_id", pa.string()),
    ("crime_type", _TEXT),
    ("occurred_at", pa.int64()),
    ("occurred_from", pa.int64()),
    ("occurred_to", pa.int64()),
    ("x", pa.float64()),
    ("y", pa.float64()),
    ("buurt_code", _TEXT),
    ("wijk_code", _TEXT),
    ("address", pa.string()),
    ("content_hash", pa.int64()),
    ("batch_id", pa.int64()),
])
_DICTIONARY = [f.name for f in SCHEMA if pa.types.is_dictionary(f.type)]
#: a logical incident row, as in the PostgreSQL ``incidents`` table (without ``geom``)
COLUMNS = tuple(SCHEMA.names)
_META = ("n_rows", "id_min", "id_max", "t_min", "t_max", "x_min", "y_min", "x_max", "y_max",
         "crime_types", "wijk_codes", "buurt_codes", "data")


@dataclass(frozen=True)
class ChunkQuery:
    """A validated filter: epoch-second bounds (``end`` exclusive), crime-type slugs, wijk and
    buurt codes (an incident matches when its wijk OR its buurt is listed; ``None`` = no area
    filter) and a closed RD box."""

    start: int | None = None
    end: int | None = None
    crime_types: frozenset[str] | None = None
    wijk_codes: frozenset[str] | None = None
    buurt_codes: frozenset[str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    #: the filters exclude each other (a bbox and a polygon that do not overlap)
    nothing: bool = False

    @property
    def areas(self) -> bool:
        return self.wijk_codes is not None or self.buurt_codes is not None

    def where(self) -> tuple[str, list[object]]:
        """The SQL condition on the zone maps (time range and bbox)."""
        sql: list[str] = ["1 = 1"]
        params: list[object] = []
        if self.nothing:
            sql.append("1 = 0")
        if self.start is not None:
            sql.append("t_max >= ?")
            params.append(self.start)
        if self.end is not None:
            sql.append("t_min < ?")
            params.append(self.end)
        if self.bbox is not None:
            x0, y0, x1, y1 = self.bbox
            sql.append("x_max >= ? AND x_min <= ? AND y_max >= ? AND y_min <= ?")
            params += [x0, x1, y0, y1]
        return " AND ".join(sql), params

    def may_match(self, crime_types: str, wijk_codes: str, buurt_codes: str) -> bool:
        """Whether a chunk with these zone-map lists can hold a matching row."""
        if self.crime_types is not None and self.crime_types.isdisjoint(crime_types.split(",")):
            return False
        if self.areas:
            return not ((self.wijk_codes or frozenset()).isdisjoint(wijk_codes.split(","))
                        and (self.buurt_codes or frozenset()).isdisjoint(buurt_codes.split(",")))
        return True

    def mask(self, table: pa.Table) -> pa.ChunkedArray | None:
        """The rows of one decoded chunk that match (None: all of them)."""
        parts = []
        t = table.column("occurred_at")
        if self.start is not None:
            parts.append(pc.greater_equal(t, self.start))
        if self.end is not None:
            parts.append(pc.less(t, self.end))
        if self.crime_types is not None:
            parts.append(_isin(table.column("crime_type"), self.crime_types))
        if self.areas:
            parts.append(pc.or_(_isin(table.column("wijk_code"), self.wijk_codes or frozenset()),
                                _isin(table.column("buurt_code"),
                                      self.buurt_codes or frozenset())))
        if self.bbox is not None:
            x, y = table.column("x"), table.column("y")
            x0, y0, x1, y1 = self.bbox
            parts += [pc.greater_equal(x, x0), pc.less_equal(x, x1),
                      pc.greater_equal(y, y0), pc.less_equal(y, y1)]
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = pc.and_(out, p)
        return pc.fill_null(out, False)


def _isin(column: pa.ChunkedArray, values: Iterable[str]) -> pa.ChunkedArray:
    """Membership of a dictionary column, tested on its (small) dictionaries."""
    wanted = pa.array(sorted(values), pa.string())
    out = []
    for chunk in column.chunks:
        hit = pc.is_in(chunk.dictionary, value_set=wanted)
        out.append(pc.fill_null(pc.take(hit, chunk.indices), False))
    return pa.chunked_array(out, pa.bool_())


# --- building tables -------------------------------------------------------------------------
def _epoch(values: pd.Series) -> pa.Array:
    """tz-aware timestamps -> int64 epoch seconds (UTC), NaT -> null."""
    seconds, null = epoch_seconds(values)
    return pa.array(seconds, pa.int64(), mask=null)


def _text(values: object, dictionary: bool) -> pa.Array:
    """Text values (a pandas column, Arrow-backed or not, or a sequence) as Arrow strings.
    A column of Python objects that holds no value (a file without addresses) becomes nulls
    without a look at each of them (10⁶ rows: ~25 ms)."""
    if isinstance(values, pd.Series) and values.dtype == object and not values.notna().any():
        arr = pa.nulls(len(values), pa.string())
        return arr.dictionary_encode() if dictionary else arr
    arr = pa.array(values, pa.string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.dictionary_encode() if dictionary else arr


def frame_table(frame: pd.DataFrame, first_id: int, batch_id: int) -> pa.Table:
    """Parsed incidents (``ParseResult.frame``) of import ``batch_id`` as a chunk table,
    numbered from ``first_id`` in the order of the frame."""
    n = len(frame)
    address = frame["address"] if "address" in frame else pd.Series(None, index=frame.index,
                                                                    dtype=object)
    return pa.table({
        "id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
        "incident_id": _text(frame["incident_id"], False),
        "crime_type": _text(frame["crime_type"], True),
        "occurred_at": _epoch(frame["occurred_at"]),
        "occurred_from": _epoch(frame["occurred_from"]),
        "occurred_to": _epoch(frame["occurred_to"]),
        "x": pa.array(frame["x"].to_numpy(dtype=float)),
        "y": pa.array(frame["y"].to_numpy(dtype=float)),
        "buurt_code": _text(frame["buurt_code"], True),
        "wijk_code": _text(frame["wijk_code"], True),
        "address": _text(address, False),
        "content_hash": pa.array(frame["content_hash"].to_numpy(dtype=np.int64)),
        "batch_id": pa.array(np.full(n, batch_id, dtype=np.int64)),
    }).cast(SCHEMA)


def rows_table(columns: Mapping[str, Sequence[object]]) -> pa.Table:
    """Logical rows (``COLUMNS`` -> values, as in a backup or the PostgreSQL table) as a chunk
    table, ids kept."""
    cols = {}
    for field in SCHEMA:
        values = columns[field.name]
        if pa.types.is_dictionary(field.type):
            cols[field.name] = _text(values, True)
        else:
            cols[field.name] = pa.array(values, field.type, from_pandas=True)
    return pa.table(cols)


# --- writing ---------------------------------------------------------------------------------
def next_id(conn: Connection) -> int:
    """The id the next stored incident gets."""
    top = conn.execute(sa.text(f"SELECT max(id_max) FROM {TABLE}")).scalar_one()
    return 1 if top is None else int(top) + 1


def _listed(column: pa.ChunkedArray) -> str:
    """The values present in a dictionary column, sorted, comma-separated (a zone map)."""
    arr = column.combine_chunks()
    used = arr.dictionary.take(pc.unique(arr.indices).drop_null())
    return ",".join(sorted(used.to_pylist()))


def _serialise(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression=_CODEC)
    with ipc.new_stream(sink, SCHEMA, options=options) as writer:
        writer.write_table(table, max_chunksize=len(table) or None)
    return sink.getvalue().to_pybytes()


def raw_cursor(conn: Connection) -> Any:
    """A raw DBAPI cursor on ``conn``'s connection."""
    driver = conn.connection.driver_connection
    if driver is None:  # the connection was invalidated (lost) and not replaced
        raise StoreUnavailable("database niet bereikbaar: verbinding verbroken")
    return driver.cursor()


def time_order(occurred_at: pa.ChunkedArray) -> pa.Array:
    """The positions of ``occurred_at`` (epoch seconds) in time order, ties in their own order:
    ``pc.sort_indices`` (a stable merge sort), in about a third of its time. The time and the
    position make one key per row, ``(t - min) * n + position``, whose plain (unstable) sort
    has no ties to order, so it is the stable order. Where that key would not fit 63 bits
    (a span of centuries in billions of rows) or a time is missing, Arrow's stable sort."""
    n = len(occurred_at)
    if n == 0 or occurred_at.null_count:
        return pc.sort_indices(occurred_at)
    t = occurred_at.to_numpy()
    lo, hi = int(t.min()), int(t.max())
    if (hi - lo + 1) * n >= 2**63:
        return pc.sort_indices(occurred_at)
    key = (t - lo) * n
    key += np.arange(n, dtype=np.int64)
    return pa.array(np.argsort(key).astype(np.uint64))


def write(conn: Connection, table: pa.Table, merge: bool = True) -> int:
    """Store ``table`` (``SCHEMA`` columns, ids ascending) as chunks in ``conn``'s open
    transaction, sorted by ``occurred_at`` (a stable sort: ties stay in id order), so that
    each chunk covers a short period; then (``merge``) merge small chunks (``compact``).
    Returns the number of chunks written."""
    if len(table) == 0:
        return 0
    table = table.select(SCHEMA.names).cast(SCHEMA)
    order = time_order(table.column("occurred_at"))

    def chunk_row(start: int) -> tuple[Any, ...]:
        """The zone map and BLOB of the rows at ``order[start:start + CHUNK_ROWS]``."""
        part = table.take(order.slice(start, CHUNK_ROWS))
        ids, t = part.column("id"), part.column("occurred_at")
        x, y = pc.min_max(part.column("x")), pc.min_max(part.column("y"))
        return (
            len(part), pc.min(ids).as_py(), pc.max(ids).as_py(),
            pc.min(t).as_py(), pc.max(t).as_py(), x["min"].as_py(), y["min"].as_py(),
            x["max"].as_py(), y["max"].as_py(), _listed(part.column("crime_type")),
            _listed(part.column("wijk_code")), _listed(part.column("buurt_code")),
            _serialise(part),
        )

    starts = range(0, len(table), CHUNK_ROWS)
    if len(starts) == 1:
        rows = [chunk_row(0)]
    else:
        # Gathering a chunk's rows and compressing it run in Arrow without the GIL: the
        # chunks are built on all cores, in their order (the bytes are the same as one by one).
        with ThreadPoolExecutor(min(len(starts), _WORKERS)) as pool:
            rows = list(pool.map(chunk_row, starts))
    sql = (f"INSERT INTO {TABLE} ({', '.join(_META)}) "
           f"VALUES ({', '.join('?' * len(_META))})")
    cursor = raw_cursor(conn)
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()
    if merge:
        compact(conn)
    return len(rows)


def compact(conn: Connection) -> int:
    """Merge the small chunks into full ones (sorted by time) once there are ``MERGE_AT`` of
    them, in ``conn``'s open transaction. Returns the number of chunks merged."""
    cursor = raw_cursor(conn)
    try:
        # the ids first: the BLOBs are read only when there is something to merge
        cursor.execute(f"SELECT id FROM {TABLE} WHERE n_rows < ? ORDER BY id",
                       (max(1, CHUNK_ROWS // 4),))
        small = [(i,) for (i,) in cursor.fetchall()]
        if len(small) < MERGE_AT:
            return 0
        blobs = [cursor.execute(f"SELECT data FROM {TABLE} WHERE id = ?", i).fetchone()[0]
                 for i in small]
        merged = pa.concat_tables([_plain(_decode(blob)) for blob in blobs])
        cursor.executemany(f"DELETE FROM {TABLE} WHERE id = ?", small)
    finally:
        cursor.close()
    write(conn, merged.sort_by("id"), merge=False)  # full chunks and at most one small one
    return len(small)


def remove(conn: Connection, incident_ids: Sequence[str]) -> pa.Table:
    """Take the stored rows with these ``incident_id`` out of their chunks (in ``conn``'s open
    transaction) and return them (plain strings, ``SCHEMA`` columns). Each chunk holding one
    of them is rewritten without it, ids kept; the other chunks are not touched."""
    wanted = pa.array(sorted(set(incident_ids)), pa.string())
    removed = []
    if not len(wanted):
        return _plain(SCHEMA.empty_table())
    cursor = raw_cursor(conn)
    try:
        cursor.execute(f"SELECT id, data FROM {TABLE} ORDER BY id")
        found = cursor.fetchall()
        for chunk_id, blob in found:
            table = _decode(blob)
            hit = pc.fill_null(pc.is_in(table.column("incident_id"), value_set=wanted), False)
            if not pc.any(hit).as_py():
                continue
            removed.append(_plain(table.filter(hit)))
            cursor.execute(f"DELETE FROM {TABLE} WHERE id = ?", (chunk_id,))
            rest = table.filter(pc.invert(hit))
            if len(rest):
                write(conn, _plain(rest).sort_by("id"), merge=False)
    finally:
        cursor.close()
    if not removed:
        return _plain(SCHEMA.empty_table())
    return pa.concat_tables(removed)


def write_rows(conn: Connection, columns: Mapping[str, Sequence[object]]) -> int:
    """Logical incident rows (``COLUMNS`` -> values; from a backup, or the row table of an
    older schema) stored as chunks, ids kept. Returns the number of rows."""
    table = rows_table(columns)
    write(conn, table.sort_by("id"))
    return len(table)


# --- reading ---------------------------------------------------------------------------------
def _decode(blob: bytes) -> pa.Table:
    return ipc.open_stream(pa.py_buffer(blob)).read_all()


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded to plain strings (the chunks' dictionaries differ)."""
    for name in _DICTIONARY:
        i = table.schema.get_field_index(name)
        if i < 0:
            continue
        col = table.column(i)
        plain = pa.chunked_array([c.dictionary_decode() for c in col.chunks], pa.string())
        table = table.set_column(i, name, plain)
    return table


def read(conn: Connection, query: ChunkQuery, columns: Sequence[str] | None = None,
         ordered: bool = True) -> pa.Table:
    """The stored rows matching ``query`` with plain string columns; ``columns`` limits the
    columns. ``ordered``: sorted by (``occurred_at``, ``id``) over all chunks (chunks of
    different imports overlap in time); otherwise in storage order."""
    names = list(columns) if columns is not None else list(SCHEMA.names)
    keep = [*names, *(k for k in ("occurred_at", "id") if ordered and k not in names)]
    where, params = query.where()
    cursor = raw_cursor(conn)
    try:
        cursor.execute(f"SELECT crime_types, wijk_codes, buurt_codes, data "
                       f"FROM {TABLE} WHERE {where} ORDER BY id", params)
        found = cursor.fetchall()
    finally:
        cursor.close()
    parts = []
    for types, wijken, buurten, blob in found:
        if not query.may_match(types, wijken, buurten):
            continue
        table = _decode(blob)
        mask = query.mask(table)
        if mask is not None:
            table = table.filter(mask)
        parts.append(table.select(keep))
    if not parts:
        return _plain(pa.schema([SCHEMA.field(n) for n in names]).empty_table())
    table = _plain(pa.concat_tables(parts))
    if ordered:
        table = table.sort_by([("occurred_at", "ascending"), ("id", "ascending")])
    return table.select(names)


def _column(values: pa.ChunkedArray, index: pd.RangeIndex) -> pd.Series:
    """One column as pandas infers it from DBAPI rows (``DataFrame.from_records``): text with
    any value as pandas' ``str`` dtype (missing = NaN), text without values as objects (None),
    numbers as numpy."""
    if pa.types.is_string(values.type) and values.null_count < len(values):
        return pd.Series(pd.array(values.combine_chunks(), dtype="str"), index=index)
    return pd.Series(values.to_numpy(zero_copy_only=False), index=index,
                     dtype=object if pa.types.is_string(values.type) else None)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A DataFrame as the row table's DBAPI path gives it (see ``_column``)."""
    index = pd.RangeIndex(len(table))
    return pd.DataFrame({name: _column(table.column(name), index)
                         for name in table.column_names}, index=index)


def count(conn: Connection, query: ChunkQuery) -> int:
    if query == ChunkQuery():
        total = conn.execute(sa.text(f"SELECT sum(n_rows) FROM {TABLE}")).scalar_one()
        return int(total or 0)
    return len(read(conn, query, columns=["id"], ordered=False))


def time_range(conn: Connection) -> tuple[int, int] | None:
    lo, hi = conn.execute(sa.text(f"SELECT min(t_min), max(t_max) FROM {TABLE}")).one()
    return None if lo is None else (int(lo), int(hi))


def stored_keys(conn: Connection) -> pa.Table:
    """``incident_id`` and ``content_hash`` of every stored incident."""
    return read(conn, ChunkQuery(), columns=["incident_id", "content_hash"], ordered=False)


def read_all(conn: Connection) -> dict[str, list[object]]:
    """Every stored incident as logical rows (``COLUMNS`` -> values), in id order."""
    table = read(conn, ChunkQuery(), ordered=False).sort_by("id")
    return {name: table.column(name).to_pylist() for name in COLUMNS}


def has_chunks(conn: Connection) -> bool:
    return TABLE in sa.inspect(conn).get_table_names()
