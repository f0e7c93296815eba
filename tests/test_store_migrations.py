"""Alembic migrations on SQLite and PostGIS: from empty, from the previous revision with data
in it, and down to base."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from geoveilig.store import Store, _alembic_config


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
