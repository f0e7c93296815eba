"""Alembic migrations on SQLite and PostGIS: from empty, from the previous revision with data
in it, and down to base."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from alembic import command

from geoveilig.store import Store, _alembic_config
from geoveilig.store.backup import table_rows

from .storehelp import parsed


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"spatial_ref_sys"}


def test_upgrade_from_empty(database_url, backend):
    with Store(database_url) as store:
        assert store.schema_revision() == Store.head_revision()
        # SQLite keeps incidents as column chunks (0007), PostgreSQL as rows
        layout = "incident_chunks" if backend == "sqlite" else "incidents"
        assert {layout, "import_batches", "audit_log", "prevention_groups",
                "prevention_status", "incident_history"} <= _tables(store.engine)
        assert store.spatial == (backend == "postgis")
        assert store.columnar == (backend == "sqlite")
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


def test_chunk_layout_round_trips_the_rows_of_the_row_table(tmp_path, areas, demo_incidents):
    """SQLite 0006 -> 0007 packs the row table into chunks per batch and 0007 -> 0006 unpacks
    them: every row comes back identical, ids and batches included."""
    url = f"sqlite:///{tmp_path / 'rows.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
    engine.dispose()
    with Store(url, migrate=False) as old:  # the row-table code path of the store
        assert not old.columnar
        old.import_incidents(parsed(demo_incidents.iloc[:3000]), source_name="a.csv",
                             content_sha256="a" * 64)
        old.import_incidents(parsed(demo_incidents.iloc[2000:5000]), source_name="b.csv",
                             content_sha256="b" * 64)
        with old.engine.connect() as conn:
            rows = table_rows(conn)
        frame = old.incidents(start="2012-03-01", crime_types=["woninginbraak", "overig"])
    assert len(rows["incidents"]) == 5000 and len(frame) > 100
    with Store(url) as store:  # auto-upgrade: packed (and 0009 adds the empty plan tables)
        assert store.columnar
        with store.engine.connect() as conn:
            now = table_rows(conn)
            assert {name: now[name] for name in rows} == rows
            assert not any(now[name] for name in set(now) - set(rows))  # later tables: empty
            n_chunks = conn.execute(sa.text("SELECT count(*), sum(n_rows) "
                                            "FROM incident_chunks")).one()
        assert tuple(n_chunks) == (1, 5000)
        pd.testing.assert_frame_equal(
            store.incidents(start="2012-03-01", crime_types=["woninginbraak", "overig"]), frame)
        with store.engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0006")
        with store.engine.connect() as conn:
            assert table_rows(conn) == rows
            assert "incident_chunks" not in _tables(store.engine)


def test_0009_gives_existing_deployments_a_status_and_downgrades(database_url, backend):
    """Deployments recorded before the cycle existed become placed (or ended when they have
    an end); plans and the new columns go away again on downgrade."""
    from geoveilig.store.deployments import list_deployments

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0007")
        conn.execute(sa.text(
            "INSERT INTO deployments (kind, label, x, y, start_at, end_at, units, approximate, "
            "synthetic, created_at) VALUES "
            "('alarm', 'a', 173650, 388300, 1509490800, NULL, 1, 0, 0, 5), "
            "('buurttent', 'b', 173650, 388300, 1509490800, 1509577200, 1, 0, 0, 6)"))
    engine.dispose()
    with Store(database_url) as store:
        assert store.schema_revision() == Store.head_revision()  # 0009 and after
        got = list_deployments(store)
        assert list(got["status"]) == ["geplaatst", "beëindigd"]
        assert got["plan_id"].isna().all() and got["planned_start"].isna().all()
        assert {"plans", "plan_sites"} <= _tables(store.engine)
        with store.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO deployments (kind, label, x, y, planned_start_at, units, "
                "approximate, synthetic, created_at, status, revision) VALUES "
                "('camera', 'c', 173650, 388300, 1509490800, 1, 0, 0, 7, 'gepland', 0)"))
            command.downgrade(_alembic_config(conn), "0007")
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT label FROM deployments ORDER BY id")).all()
            assert [r[0] for r in rows] == ["a", "b"]  # the planned one has no place in 0007
        assert "plans" not in _tables(store.engine)
        cols = {c["name"]: c for c in sa.inspect(store.engine).get_columns("deployments")}
        assert "status" not in cols and not cols["start_at"]["nullable"]
