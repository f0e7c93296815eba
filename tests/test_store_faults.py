"""Concurrency and faults: two imports at once (two processes), an import killed with SIGKILL
half-way, and a database connection lost during a request (503, then recovery)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geoveilig.api import create_app
from geoveilig.errors import StoreUnavailable
from geoveilig.settings import Settings
from geoveilig.store import Store, chunks
from geoveilig.store.backup import table_rows
from geoveilig.store.rows import RowBackend

from .storehelp import parsed

FORK = mp.get_context("fork")  # the child inherits the parsed data; it opens its own Store


def _integrity(store: Store) -> tuple[int, int, int]:
    """(rows, distinct incident ids, rows whose batch is missing)."""
    with store.engine.connect() as conn:
        tables = table_rows(conn)
    ids = [r[1] for r in tables["incidents"]]
    batches = {r[0] for r in tables["import_batches"]}
    return len(ids), len(set(ids)), sum(r[-1] not in batches for r in tables["incidents"])


def _import_child(url, data, name, barrier, results):  # runs in a forked process
    with Store(url) as store:
        barrier.wait(timeout=60)
        s = store.import_incidents(data, source_name=name, content_sha256=name * 8)
        results.put((name, s.accepted, s.already_present))


def test_two_imports_at_once_in_two_processes(store, demo_incidents):
    a = parsed(demo_incidents.iloc[:6000])
    b = parsed(demo_incidents.iloc[3000:9000])  # 3000 incidents in both files
    barrier, results = FORK.Barrier(2), FORK.Queue()
    procs = [FORK.Process(target=_import_child, args=(store.url, d, n, barrier, results))
             for d, n in ((a, "a"), (b, "b"))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    got = sorted(results.get(timeout=5) for _ in procs)
    # one of them came second and found the overlap already stored
    assert sum(g[1] for g in got) == 9000 and sum(g[2] for g in got) == 3000
    assert _integrity(store) == (9000, 9000, 0)
    assert sorted(store.batches()["accepted"]) == sorted(g[1] for g in got)


def _killed_child(url, data, ready):  # runs in a forked process; never returns
    rows, packed = RowBackend.insert, chunks.write

    def wait_to_be_killed() -> None:  # rows written, transaction still open
        ready.set()
        time.sleep(120)

    def slow_rows(self, conn, frame, batch_id):
        rows(self, conn, frame, batch_id)
        wait_to_be_killed()

    def slow_chunks(conn, table, merge=True):
        packed(conn, table, merge)
        wait_to_be_killed()

    RowBackend.insert = slow_rows  # type: ignore[method-assign]
    chunks.write = slow_chunks
    with Store(url) as store:
        store.import_incidents(data, source_name="killed.csv", content_sha256="k" * 64)
    os._exit(3)  # pragma: no cover  (the parent kills us before)


def test_import_killed_half_way_leaves_nothing(store, demo_incidents):
    first = demo_incidents.iloc[:1000]
    store.import_incidents(parsed(first), source_name="first.csv", content_sha256="f" * 64)
    data = parsed(demo_incidents.iloc[500:25500])  # big enough for the bulk path
    ready = FORK.Event()
    child = FORK.Process(target=_killed_child, args=(store.url, data, ready))
    child.start()
    assert ready.wait(90), "the child never reached the middle of its import"
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    # no partial batch: neither the rows nor the batch of the killed import are there
    assert _integrity(store) == (1000, 1000, 0)
    assert list(store.batches()["source_name"]) == ["first.csv"]
    with store.engine.connect() as conn:
        if store.columnar:  # SQLite: the chunks of the first import only
            assert conn.execute(sa.text("SELECT count(*), sum(n_rows) FROM incident_chunks")
                                ).one() == (1, 1000)
        else:  # the indexes the bulk path dropped inside the transaction are back
            names = {i["name"] for i in sa.inspect(conn).get_indexes("incidents")}
            unique = {u["name"] for u in sa.inspect(conn).get_unique_constraints("incidents")}
            fks = {f["name"] for f in sa.inspect(conn).get_foreign_keys("incidents")}
            assert {"ix_incidents_occurred_at", "ix_incidents_crime_type_occurred_at",
                    "ix_incidents_geom"} <= names
            assert "uq_incidents_incident_id" in unique
            assert "fk_incidents_batch_id_import_batches" in fks
    # importing the file again works and adds no duplicates
    s = store.import_incidents(data, source_name="again.csv", content_sha256="a" * 64)
    assert (s.accepted, s.already_present) == (24500, 500)
    assert _integrity(store) == (25500, 25500, 0)


# --- lost connections (PostgreSQL: the server can go away; SQLite is a file) ---------------
PG = [pytest.param("postgis", marks=pytest.mark.postgres)]


def _admin(store: Store) -> sa.Engine:
    url = sa.make_url(store.url).set(database="postgres")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _terminate(admin: sa.Engine, database: str, pid: int | None = None) -> int:
    with admin.connect() as conn:
        return len(conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d "
            "AND pid <> pg_backend_pid() AND (CAST(:p AS int) IS NULL OR pid = :p)"),
            {"d": database, "p": pid}).all())


@pytest.mark.parametrize("backend", PG)
def test_connection_lost_during_a_request_is_retried_once(store, backend, demo_incidents,
                                                          monkeypatch):
    import geoveilig.store.rows as store_module

    store.import_incidents(parsed(demo_incidents.iloc[:200]), source_name="x.csv",
                           content_sha256="x" * 64)
    admin = _admin(store)
    db = sa.make_url(store.url).database
    assert store.count_incidents() == 200
    # between requests: every pooled connection is killed (server restart, failover)
    assert _terminate(admin, db) >= 1
    assert store.count_incidents() == 200  # pre-ping replaced the dead connection
    # during a request: the backend dies after checkout, just before the query runs
    original, calls = store_module.fetch, []

    def dying_fetch(conn, stmt):
        calls.append(conn.connection.dbapi_connection.info.backend_pid)
        if len(calls) == 1:
            _terminate(admin, db, calls[0])
        return original(conn, stmt)

    monkeypatch.setattr(store_module, "fetch", dying_fetch)
    assert len(store.incidents()) == 200
    assert len(calls) == 2 and calls[0] != calls[1]  # retried once on a fresh connection
    admin.dispose()


@pytest.mark.parametrize("backend", PG)
def test_database_away_gives_503_and_recovers_without_restart(store, backend, shared_geo):
    admin = _admin(store)
    db = sa.make_url(store.url).database
    settings = Settings(geo_dir=shared_geo, database_url=store.url)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
            _terminate(admin, db)
            with pytest.raises(StoreUnavailable, match="niet bereikbaar"):
                store.count_incidents()
            r = client.get("/health")
            assert r.status_code == 503
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "database niet bereikbaar" in r.json()["detail"]
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        # the database is back: the same app and store answer again
        r = client.get("/health")
        assert r.status_code == 200 and r.json()["status"] == "ok"
    assert store.count_incidents() == 0
    admin.dispose()
