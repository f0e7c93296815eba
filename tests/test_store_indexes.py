"""The index set of the PostGIS incident table (migration 0015) and the plans that use it:
primary key, unique incident id, GiST on ``geom``, ``(crime_type, occurred_at)`` and a BRIN
index on ``occurred_at``, each used by a read of the store; the ``(x, y)`` btree is gone."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from geoveilig.store import Store, postgis, rows
from geoveilig.store.models import incidents as t
from geoveilig.store.query import incident_query

from .storehelp import parsed
from .test_store_migrations import _alembic_config

pytestmark = pytest.mark.postgres

INDEXES = {"pk_incidents", "uq_incidents_incident_id", "ix_incidents_geom",
           "ix_incidents_crime_type_occurred_at", "ix_incidents_occurred_at"}


def _indexes(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'incidents'"))}


def _plan(conn: sa.Connection, stmt: sa.Select) -> str:  # type: ignore[type-arg]
    sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))


@pytest.mark.parametrize("backend", ["postgis"])
def test_0015_drops_the_xy_btree_and_makes_the_time_index_brin_and_back(database_url,
                                                                          demo_incidents):
    with Store(database_url) as store:
        found = _indexes(store.engine)
        assert set(found) == INDEXES
        assert "USING brin (occurred_at)" in found["ix_incidents_occurred_at"]
        store.import_incidents(parsed(demo_incidents.iloc[:2000]), source_name="a.csv",
                               content_sha256="a" * 64)
        with store.engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0014")
        found = _indexes(store.engine)
        assert set(found) == INDEXES | {"ix_incidents_x_y"}
        assert "USING btree (occurred_at)" in found["ix_incidents_occurred_at"]
        with store.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        assert set(_indexes(store.engine)) == INDEXES
        assert len(store.incidents()) == 2000


@pytest.mark.parametrize("backend", ["postgis"])
def test_reads_use_the_remaining_indexes(store, demo_incidents):
    """A period with one crime type: ``(crime_type, occurred_at)``; a period alone: the BRIN
    index; min/max(occurred_at): the ends of the crime-type index; a bbox: the GiST index.
    The BRIN index covers the rows of an import as soon as it is committed."""
    for k, part in enumerate((demo_incidents.iloc[:3000], demo_incidents.iloc[3000:3400])):
        store.import_incidents(parsed(part), source_name=f"{k}.csv", content_sha256=f"{k}" * 64)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE incidents")
        unsummarized = conn.exec_driver_sql(
            "SELECT brin_summarize_new_values('ix_incidents_occurred_at')").scalar_one()
        assert unsummarized == 0  # (the import did it)
        conn.exec_driver_sql("SET enable_seqscan = off")
        one_type = _plan(conn, sa.select(sa.func.count()).select_from(t).where(
            *store.backend.where(incident_query("2015-01-01", "2015-02-01", ["woninginbraak"]))))
        assert "ix_incidents_crime_type_occurred_at" in one_type
        period = _plan(conn, sa.select(sa.func.count()).select_from(t).where(
            *store.backend.where(incident_query("2015-01-01", "2015-02-01"))))
        assert "Bitmap Index Scan on ix_incidents_occurred_at" in period
        ends = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + rows._TIME_RANGE))
        assert "Seq Scan" not in ends and "ix_incidents_crime_type_occurred_at" in ends
        box = _plan(conn, sa.select(sa.func.count()).select_from(t).where(
            *store.backend.where(incident_query(bbox=(173000, 386000, 174000, 387000)))))
        assert "ix_incidents_geom" in box
    stored = store.incidents()["occurred_at"]
    assert store.time_range() == (stored.min(), stored.max())
    assert store.count_incidents(start="2015-01-01", end="2015-02-01") == int(
        ((stored >= "2015-01-01") & (stored < "2015-02-01")).sum())


@pytest.mark.parametrize("backend", ["postgis"])
def test_duplicate_check_probes_the_unique_index_of_a_larger_table(store, demo_incidents):
    """A batch smaller than the table is checked against the stored ids through the unique
    index (not by hashing the table), with the duplicate rules unchanged: same content is
    already present, other content is refused (``partial``: the rest goes in)."""
    store.import_incidents(parsed(demo_incidents.iloc[:3000]), source_name="a.csv",
                           content_sha256="a" * 64)
    batch = demo_incidents.iloc[2800:3200].copy()
    changed = batch.index[:50]  # stored ids, other content
    batch.loc[changed, "crime_type"] = batch.loc[changed, "crime_type"].map(
        lambda c: "overval" if c != "overval" else "straatroof")
    with store.engine.begin() as conn:
        store.backend.existing(conn, parsed(batch).frame)  # stages the batch
        join = sa.select(rows._STAGING.c.incident_id, t.c.content_hash).join(
            t, t.c.incident_id == rows._STAGING.c.incident_id)
        with postgis.lookup_by_index(conn, True):
            plan = _plan(conn, join)
        assert "Nested Loop" in plan and "uq_incidents_incident_id" in plan
        assert conn.exec_driver_sql("SHOW enable_hashjoin").scalar_one() == "on"
        assert conn.exec_driver_sql("SHOW jit").scalar_one() == "off"  # the import's session
    summary = store.import_incidents(parsed(batch), source_name="b.csv",
                                     content_sha256="b" * 64, partial=True)
    assert (summary.accepted, summary.already_present) == (200, 150)
    assert summary.rejects["row"].nunique() == 50
    assert store.count_incidents() == 3200


@pytest.mark.parametrize("backend", ["postgis"])
def test_bulk_import_rebuilds_the_same_index_set(store, demo_incidents, monkeypatch):
    """A batch of at least half the table goes in with the indexes dropped and rebuilt (the
    BRIN index as BRIN); a smaller one maintains them; the rows are the same either way."""
    monkeypatch.setattr(rows, "_BULK_ROWS", 100)
    with store.engine.begin() as conn:
        assert rows.RowBackend._bulk(conn, 100)  # empty table
    store.import_incidents(parsed(demo_incidents.iloc[:1000]), source_name="a.csv",
                           content_sha256="a" * 64)
    with store.engine.begin() as conn:
        assert rows.RowBackend._bulk(conn, 500) and not rows.RowBackend._bulk(conn, 499)
    found = _indexes(store.engine)
    assert set(found) == INDEXES and "USING brin" in found["ix_incidents_occurred_at"]
    store.import_incidents(parsed(demo_incidents.iloc[1000:1300]), source_name="b.csv",
                           content_sha256="b" * 64)
    assert set(_indexes(store.engine)) == INDEXES
    got = store.incidents()
    assert sorted(got["incident_id"]) == sorted(demo_incidents["incident_id"].iloc[:1300])
    assert store.time_range() == (got["occurred_at"].min(), got["occurred_at"].max())
