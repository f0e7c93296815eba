"""The contract of ``store.backend.IncidentBackend``: the same cases, run through the protocol
itself, on each implementation: the SQLite chunks (``columnar.ChunkBackend``), the row table
without PostGIS (``rows.RowBackend`` on a SQLite store before migration 0007) and the row table
with PostGIS. Every answer is compared with a plain pandas filter of the input rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from alembic import command

from geoveilig.store import Store, chunks, import_batches
from geoveilig.store.backend import IncidentBackend
from geoveilig.store.database import alembic_config
from geoveilig.store.query import IncidentQuery, incident_query

from .storehelp import parsed

KINDS = ("chunks", "rows", pytest.param("postgis", marks=pytest.mark.postgres))


@pytest.fixture(params=KINDS)
def kind_store(request, tmp_path):
    kind = request.param
    if kind == "chunks":
        store = Store.sqlite(tmp_path / "chunks.sqlite")
    elif kind == "rows":  # the row table of SQLite before 0007: no PostGIS, shapely polygons
        url = f"sqlite:///{tmp_path / 'rows.sqlite'}"
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0006")
        engine.dispose()
        store = Store(url, migrate=False)
    else:
        store = Store(request.getfixturevalue("postgres_server").migrated())
    yield kind, store
    store.close()


@pytest.fixture(scope="module")
def rows(demo_incidents):
    """400 parsed incidents, 20 of them at the same time (ties are ordered by id)."""
    frame = parsed(demo_incidents.iloc[::37].iloc[:400].reset_index(drop=True)).frame.copy()
    frame.loc[frame.index[:20], "occurred_at"] = frame["occurred_at"].iloc[0]
    return frame


def _epoch(values: pd.Series) -> np.ndarray:
    return np.array([int(t.timestamp()) for t in values], dtype=np.int64)


def _load(store: Store, frame: pd.DataFrame) -> int:
    """``frame`` stored through the protocol in one write transaction; the batch id."""
    with store._writing() as conn:
        batch_id = conn.execute(import_batches.insert().values(
            kind="incidents", imported_at=0, source_name="contract.csv",
            content_sha256="c" * 64, n_rows=len(frame), accepted=len(frame), rejected=0,
            already_present=0, synthetic=1).returning(import_batches.c.id)).scalar_one()
        store.backend.insert(conn, frame, batch_id)
    return batch_id


def _read(store: Store, query: IncidentQuery, within=None, columns=("incident_id",)):
    with store.engine.connect() as conn:
        return store.backend.read(conn, query, within, list(columns))


def _count(store: Store, query: IncidentQuery, within=None) -> int:
    with store.engine.connect() as conn:
        return store.backend.count(conn, query, within)


def test_the_store_picks_the_backend_of_its_schema(kind_store):
    kind, store = kind_store
    assert isinstance(store.backend, IncidentBackend)
    assert store.backend.name == kind
    assert store.spatial == (kind == "postgis")
    assert store.columnar == (kind == "chunks")


def test_an_empty_table(kind_store, rows):
    _, store = kind_store
    b = store.backend
    with store.engine.connect() as conn:
        assert b.time_range(conn) is None
        assert b.count(conn, IncidentQuery(), None) == 0
        empty = b.read(conn, IncidentQuery(), None, ["incident_id", "x", "y"])
        assert list(empty.columns) == ["incident_id", "x", "y"] and len(empty) == 0
    with store._writing() as conn:
        assert len(b.existing(conn, rows)) == 0
        gone = b.remove(conn, ["nothing-here"])
    assert len(gone) == 0 and set(chunks.COLUMNS) <= set(gone.columns)


def test_filters_answer_as_a_plain_filter(kind_store, rows, areas):
    _, store = kind_store
    _load(store, rows)
    t, x, y = _epoch(rows["occurred_at"]), rows["x"].to_numpy(), rows["y"].to_numpy()
    ids = rows["incident_id"].to_numpy()
    with store.engine.connect() as conn:
        assert store.backend.time_range(conn) == (int(t.min()), int(t.max()))

    # everything, ordered by (occurred_at, id): ties keep the order they were stored in
    got = _read(store, IncidentQuery(), columns=("incident_id", "occurred_at", "x", "y"))
    order = np.lexsort((np.arange(len(rows)), t))
    assert list(got["incident_id"]) == list(ids[order])
    assert list(got["occurred_at"].astype(np.int64)) == list(t[order])
    assert np.allclose(got["x"].astype(float), x[order])

    mid = int(np.median(t))
    wijk = str(rows["wijk_code"].iloc[0])
    buurt = str(rows["buurt_code"].iloc[-1])
    types = sorted(rows["crime_type"].unique())[:2]
    box = (float(np.quantile(x, .2)), float(np.quantile(y, .2)),
           float(x[5]), float(y[5]))  # a corner through a stored point
    box = (min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3]))
    tri = shapely.Polygon([(x[0], y[0]), (x[1], y[1]), (x[2], y[2])]).convex_hull
    wijk_shape = areas.wijken.set_index("code").geometry[wijk]
    in_box = (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
    cases = [
        (dict(start=pd.Timestamp(mid, unit="s", tz="UTC")), None, t >= mid),
        (dict(end=pd.Timestamp(mid, unit="s", tz="UTC")), None, t < mid),
        (dict(crime_types=types), None, rows["crime_type"].isin(types).to_numpy()),
        (dict(area_codes=[wijk, buurt]), None,
         ((rows["wijk_code"] == wijk) | (rows["buurt_code"] == buurt)).to_numpy()),
        (dict(area_codes=["GM0794"]), None, np.ones(len(rows), dtype=bool)),
        (dict(bbox=box), None, in_box),
        (dict(bbox=box, crime_types=types), None,
         in_box & rows["crime_type"].isin(types).to_numpy()),
        (dict(), tri, shapely.intersects_xy(tri, x, y)),  # vertices are stored points
        (dict(), wijk_shape, shapely.intersects_xy(wijk_shape, x, y)),
        (dict(bbox=box), wijk_shape, in_box & shapely.intersects_xy(wijk_shape, x, y)),
        (dict(bbox=(0, 0, 1, 1)), wijk_shape, np.zeros(len(rows), dtype=bool)),  # disjoint
    ]
    for filters, within, want in cases:
        query = incident_query(within=within, **filters)
        got = _read(store, query, within)
        assert sorted(got["incident_id"]) == sorted(ids[want]), filters
        assert _count(store, query, within) == int(want.sum()), filters
    assert tri.boundary.intersects(shapely.Point(x[0], y[0]))  # a boundary case was tested


def test_existing_and_remove(kind_store, rows):
    _, store = kind_store
    batch_id = _load(store, rows)
    new = rows.iloc[:7].copy()
    new["incident_id"] = [f"{i}-new" if k >= 5 else i
                          for k, i in enumerate(new["incident_id"])]  # 5 stored, 2 not
    new.loc[new.index[0], "content_hash"] = 12345  # a correction: other content, same id
    with store._writing() as conn:
        found = store.backend.existing(conn, new).sort_values("incident_id")
    want = rows.iloc[:5].sort_values("incident_id")
    assert list(found["incident_id"]) == list(want["incident_id"])
    assert list(found["stored_hash"].astype(np.int64)) == list(want["content_hash"])
    assert sorted(found["content_hash"].astype(np.int64)) == sorted(new["content_hash"].iloc[:5])

    gone_ids = list(rows["incident_id"].iloc[[3, 100, 250]])
    with store._writing() as conn:
        gone = store.backend.remove(conn, gone_ids)
    assert sorted(gone["incident_id"]) == sorted(gone_ids)
    assert set(gone["batch_id"]) == {batch_id}
    by_id = rows.set_index("incident_id")
    for rec in gone.to_dict("records"):
        source = by_id.loc[rec["incident_id"]]
        assert int(rec["occurred_at"]) == int(source["occurred_at"].timestamp())
        assert int(rec["content_hash"]) == int(source["content_hash"])
        assert rec["crime_type"] == source["crime_type"]
        assert float(rec["x"]) == pytest.approx(float(source["x"]))
    assert _count(store, IncidentQuery()) == len(rows) - 3
    assert not set(gone_ids) & set(_read(store, IncidentQuery())["incident_id"])
    with store._writing() as conn:  # removed once: gone
        assert len(store.backend.remove(conn, gone_ids)) == 0


def test_insert_after_existing_stores_exactly_the_rows_kept(kind_store, rows):
    """The import's order: ``existing`` on the whole parsed frame (PostgreSQL stages it), then
    ``insert`` of the rows the duplicate rules keep, a subset in another order."""
    _, store = kind_store
    _load(store, rows.iloc[:100])
    new = rows.iloc[50:300]
    with store._writing() as conn:
        found = store.backend.existing(conn, new)
        assert sorted(found["incident_id"]) == sorted(rows["incident_id"].iloc[50:100])
        kept = new.loc[~new["incident_id"].isin(found["incident_id"])].iloc[::-1]
        batch_id = conn.execute(import_batches.insert().values(
            kind="incidents", imported_at=0, source_name="kept.csv", content_sha256="k" * 64,
            n_rows=len(new), accepted=len(kept), rejected=0, already_present=50,
            synthetic=1).returning(import_batches.c.id)).scalar_one()
        store.backend.insert(conn, kept, batch_id)
    got = _read(store, IncidentQuery(), columns=("incident_id", "content_hash"))
    assert sorted(got["incident_id"]) == sorted(rows["incident_id"].iloc[:300])
    assert got.set_index("incident_id")["content_hash"].astype(np.int64).to_dict() == \
        rows.iloc[:300].set_index("incident_id")["content_hash"].astype(np.int64).to_dict()
    # a second transaction on the same pooled connection stages again (nothing stale)
    with store._writing() as conn:
        assert len(store.backend.existing(conn, rows.iloc[300:])) == 0
    _load(store, rows.iloc[300:])
    assert _count(store, IncidentQuery()) == len(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chunk_time_order_is_the_stable_sort(seed):
    """``chunks.time_order`` gives Arrow's stable sort: times in order, ties in row order,
    also with times before 1970, in several Arrow chunks, and on the fallbacks (a missing
    time; a span too long for one 63-bit key)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    n = 20_000
    t = rng.integers(-10 * 365 * 86400, 50 * 365 * 86400, n) // 3600 * 3600  # many ties
    t[rng.random(n) < 0.3] = t[0]
    parts = pa.chunked_array([pa.array(t[:n // 3]), pa.array(t[n // 3:])])
    for column in (pa.chunked_array([pa.array(t)]), parts):
        got = chunks.time_order(column).to_numpy()
        assert np.array_equal(got, pc.sort_indices(column).to_numpy())
        assert np.array_equal(got, np.argsort(t, kind="stable"))
    wide = pa.chunked_array([pa.array(np.array([2**62, -2**62, 0, 0], dtype=np.int64))])
    assert chunks.time_order(wide).to_pylist() == [1, 2, 3, 0]
    missing = pa.chunked_array([pa.array([5, None, 1, 5], pa.int64())])
    assert chunks.time_order(missing).to_pylist() == [2, 0, 3, 1]
