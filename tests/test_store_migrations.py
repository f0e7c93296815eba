"""Alembic migrations on SQLite and PostGIS: from empty, from the previous revision with data
in it, and down to base."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import command

from geoveilig.store import Store, _alembic_config

from .storehelp import parsed


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"spatial_ref_sys"}


def test_upgrade_from_empty(database_url, backend):
    with Store(database_url) as store:
        assert store.schema_revision() == Store.head_revision()
        assert {"incidents", "import_batches", "audit_log", "prevention_groups",
                "prevention_status"} <= _tables(store.engine)
        assert store.spatial == (backend == "postgis")
        if backend == "postgis":
            with store.engine.connect() as conn:
                idx = conn.execute(sa.text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_incidents_geom'"
                )).scalar_one()
                srid = conn.execute(sa.text(
                    "SELECT srid FROM geometry_columns WHERE f_table_name = 'incidents' "
                    "AND f_geometry_column = 'geom'")).scalar_one()
            assert "gist" in idx.lower() and srid == 28992


def test_upgrade_from_previous_keeps_data_then_downgrade_to_base(database_url, backend):
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        conn.execute(sa.text(
            "INSERT INTO import_batches (kind, imported_at, source_name, content_sha256, n_rows,"
            " accepted, rejected, already_present, synthetic) "
            "VALUES ('incidents', 0, 'old.csv', 'abc', 2, 2, 0, 0, 0)"))
        conn.execute(sa.text(
            "INSERT INTO incidents (incident_id, crime_type, occurred_at, x, y, buurt_code, "
            "wijk_code, content_hash, batch_id) VALUES "
            "('old-1', 'woninginbraak', 1483228800, 173624.5, 388270.2, 'BU07941006', "
            "'WK079410', 1, 1), "
            "('old-2', 'overval', 1514764800, 173949.0, 386938.0, 'BU07941006', "
            "'WK079410', 2, 1)"))
    engine.dispose()
    with Store(database_url) as store:  # auto-upgrade on open
        assert store.schema_revision() == Store.head_revision()
        got = store.incidents()
        assert list(got["incident_id"]) == ["old-1", "old-2"]
        assert list(got["x"]) == [173624.5, 173949.0]
        assert len(store.incidents(bbox=(173900, 386900, 174000, 387000))) == 1
        if backend == "postgis":  # geometry filled for rows that existed before
            with store.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM incidents WHERE geom IS NOT "
                                            "NULL AND ST_SRID(geom) = 28992")).scalar_one() == 2
        with store.engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "base")
        assert _tables(store.engine) == {"alembic_version"}
        assert store.schema_revision() is None


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
            *store._filters(None, None, None, None, (173000, 386000, 174000, 387000),
                            spatial=True))
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
        assert "ix_incidents_geom" in plan
    assert isinstance(got, pd.DataFrame)
