"""Spatial queries: PostGIS answers bbox and polygon filters in the database (ST_Intersects on
the GiST index), SQLite with x/y ranges (+ shapely for polygons): both give exactly the rows of a
plain reference filter, boundaries included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geoveilig.errors import InvalidInput
from geoveilig.store.query import incident_query

from .storehelp import parsed


def test_bbox_queries_match_a_plain_filter(store, backend, demo_incidents):
    """PostGIS answers with ST_Intersects on the GiST index, SQLite with x/y ranges: both give
    exactly the rows of a plain pandas filter, boundaries included."""
    sample = demo_incidents.iloc[::7].iloc[:4000]
    store.import_incidents(parsed(sample), source_name="s.csv", content_sha256="s" * 64)
    x, y = sample["x"].to_numpy(), sample["y"].to_numpy()
    rng = np.random.default_rng(7)
    for k in range(25):
        i, j = rng.integers(0, len(sample), 2)
        if k % 2:  # boxes whose edges pass exactly through stored points
            box = (min(x[i], x[j]), min(y[i], y[j]), max(x[i], x[j]), max(y[i], y[j]))
        else:
            cx, cy = rng.uniform(x.min(), x.max()), rng.uniform(y.min(), y.max())
            w, h = rng.uniform(50, 1500, 2)
            box = (cx - w, cy - h, cx + w, cy + h)
        want = set(sample.loc[(x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3]),
                              "incident_id"])
        got = store.incidents(bbox=box)
        assert set(got["incident_id"]) == want, box
        assert store.count_incidents(bbox=box, crime_types=["woninginbraak"]) == int(
            (sample["incident_id"].isin(want) & (sample["crime_type"] == "woninginbraak")).sum())
    if backend == "postgis":
        stmt = sa.select(sa.func.count()).select_from(sa.table("incidents")).where(
            *store.backend.where(incident_query(bbox=(173000, 386000, 174000, 387000))))
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
        assert "ix_incidents_geom" in plan
    assert isinstance(got, pd.DataFrame)


def test_polygon_queries_match_shapely(store, backend, areas, demo_incidents):
    sample = demo_incidents.iloc[::5].iloc[:5000]
    store.import_incidents(parsed(sample), source_name="s.csv", content_sha256="s" * 64)
    x, y = sample["x"].to_numpy(), sample["y"].to_numpy()
    wijken = areas.wijken.set_index("code").geometry
    donut = shapely.box(*sample.total_bounds).buffer(-500).difference(
        shapely.Point(float(np.median(x)), float(np.median(y))).buffer(700))
    # a polygon whose vertices are stored points (boundary cases)
    tri = shapely.Polygon([(x[0], y[0]), (x[1], y[1]), (x[2], y[2])]).convex_hull
    shapes = [wijken.iloc[0], wijken.iloc[3], donut, tri,
              shapely.MultiPolygon([shapely.box(x[3] - 300, y[3] - 300, x[3], y[3]),
                                    shapely.box(x[4], y[4], x[4] + 300, y[4] + 300)])]
    for shape in shapes:
        want = set(sample.loc[shapely.intersects_xy(shape, x, y), "incident_id"])
        got = store.incidents(within=shape, start="2012-01-01")
        assert set(got["incident_id"]) == want
        assert store.count_incidents(within=shape) == len(want)
    assert len(want) >= 2  # the two corner points of the multipolygon at least
    with pytest.raises(InvalidInput, match="within"):
        store.incidents(within=shapely.Point(0, 0))
