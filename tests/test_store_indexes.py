"""The index set of the PostGIS incident table (migration 0015) and the plans that use it:
four indexes (primary key, unique incident id, GiST on ``geom``, ``(occurred_at,
crime_type)``), each used by a read of the store, and nothing the reads do not use."""

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

NEW = {"pk_incidents", "uq_incidents_incident_id", "ix_incidents_geom",
       "ix_incidents_occurred_at_crime_type"}
OLD = {"ix_incidents_occurred_at", "ix_incidents_crime_type_occurred_at", "ix_incidents_x_y"}


def _indexes(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'incidents'"))}


def _plan(conn: sa.Connection, stmt: sa.Select) -> str:  # type: ignore[type-arg]
    sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))


@pytest.mark.parametrize("backend", ["postgis"])
def test_0015_replaces_three_btrees_with_one_and_back(database_url, demo_incidents):
    with Store(database_url) as store:
        assert _indexes(store.engine) == NEW
        store.import_incidents(parsed(demo_incidents.iloc[:2000]), source_name="a.csv",
                               content_sha256="a" * 64)
        with store.engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0014")
        assert _indexes(store.engine) == (NEW - {"ix_incidents_occurred_at_crime_type"}) | OLD
        with store.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        assert _indexes(store.engine) == NEW
        assert len(store.incidents()) == 2000


@pytest.mark.parametrize("backend", ["postgis"])
def test_reads_use_the_time_index_and_the_gist_index(store, demo_incidents):
    """A period with one crime type is a range scan of ``(occurred_at, crime_type)`` with the
    type tested in the index; min/max(occurred_at) reads its two ends; a bbox the GiST index."""
    store.import_incidents(parsed(demo_incidents.iloc[:3000]), source_name="a.csv",
                           content_sha256="a" * 64)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE incidents")
        conn.exec_driver_sql("SET enable_seqscan = off")
        one_type = _plan(conn, sa.select(sa.func.count()).select_from(t).where(
            *store.backend.where(incident_query("2015-01-01", "2015-02-01", ["woninginbraak"]))))
        assert "ix_incidents_occurred_at_crime_type" in one_type
        cond = next(line for line in one_type.splitlines() if "Index Cond" in line)
        assert "crime_type" in cond and "occurred_at" in cond
        ends = _plan(conn, sa.select(sa.func.min(t.c.occurred_at), sa.func.max(t.c.occurred_at)))
        assert ends.count("Index Only Scan") == 2 and "occurred_at_crime_type" in ends
        box = _plan(conn, sa.select(sa.func.count()).select_from(t).where(
            *store.backend.where(incident_query(bbox=(173000, 386000, 174000, 387000)))))
        assert "ix_incidents_geom" in box
    stored = store.incidents()["occurred_at"]
    assert store.time_range() == (stored.min(), stored.max())


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
