"""Shared fixtures. The real Helmond boundaries come from ``GEOVEILIG_GEO_DIR`` or, by
default, ``../shared/geo`` beside the repository (never copied into it).

``store`` runs every test that uses it twice: on SQLite (``[sqlite]``, a fresh file) and on
PostgreSQL + PostGIS (``[postgis]``: one database per session migrated to head, every table
emptied with TRUNCATE before each test) on the server given by
``GEOVEILIG_TEST_POSTGRES_URL`` (``.ci/run`` starts a throwaway cluster and sets it). Without
that variable the ``postgis`` cases are deselected locally, with a line in the header saying
so; under ``CI=true`` they run and FAIL instead. ``database_url`` is an EMPTY database on the
same two backends (migration tests).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import geopandas as gpd
import pytest
import sqlalchemy as sa

from geoveilig.areas import Areas, load_areas
from geoveilig.store import Store

ROOT = Path(__file__).resolve().parents[1]


#: CI sets GEOVEILIG_REQUIRE_SHARED=1 (``.ci/run``): there a missing ``../shared`` fails the
#: run. Elsewhere (someone who only cloned the repository) the tests that need the generalised
#: CBS boundaries or the seed table of ``../shared`` are skipped, each saying why.
SHARED_REQUIRED = os.environ.get("GEOVEILIG_REQUIRE_SHARED") == "1"


def missing_shared(message: str) -> NoReturn:
    """Fail (CI) or skip (a clone alone) a test whose shared data are not here."""
    if SHARED_REQUIRED:
        pytest.fail(message)
    pytest.skip(message)


def geo_dir() -> Path:
    """The folder with the generalised CBS boundaries of Helmond the tests are written for
    (``GEOVEILIG_GEO_DIR``, by default ``../shared/geo``)."""
    env = os.environ.get("GEOVEILIG_GEO_DIR")
    path = Path(env) if env else ROOT.parent / "shared" / "geo"
    if not path.is_absolute():
        path = (ROOT / path).resolve()
    if not (path / "helmond_buurten_2017.geojson").exists():
        missing_shared(f"the generalised CBS boundaries of Helmond are not in {path} (they "
                       "come with ../shared beside the repository; set GEOVEILIG_GEO_DIR)")
    return path


@pytest.fixture(scope="session")
def shared_geo() -> Path:
    return geo_dir()


@pytest.fixture(scope="session")
def areas(shared_geo: Path) -> Areas:
    return load_areas(shared_geo)


POSTGRES_ENV = "GEOVEILIG_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", pytest.param("postgis", marks=pytest.mark.postgres))


def _postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_report_header(config: pytest.Config) -> str:
    if _postgres_url():
        return f"postgis backend: {POSTGRES_ENV} is set"
    if _in_ci():
        return f"postgis backend: {POSTGRES_ENV} NOT set under CI: postgis tests will fail"
    return (f"postgis backend: {POSTGRES_ENV} not set, postgis tests DESELECTED "
            "(run .ci/run, or start a server with .ci/pg-cluster start DIR and export the URL)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _postgres_url() or _in_ci():
        return
    keep = [i for i in items if i.get_closest_marker("postgres") is None]
    dropped = [i for i in items if i.get_closest_marker("postgres") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class PostgresServer:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT",
                                      poolclass=sa.pool.NullPool)
        self.shared: str | None = None

    def _exec(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def create(self) -> str:
        """URL of a new, empty database (with the postgis extension only)."""
        name = f"gv_test_{uuid.uuid4().hex[:12]}"
        self._exec(f'CREATE DATABASE "{name}"')
        with sa.create_engine(self.url.set(database=name), poolclass=sa.pool.NullPool,
                              isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        return self.url.set(database=name).render_as_string(hide_password=False)

    def migrated(self) -> str:
        """URL of the session's database at head, emptied (TRUNCATE) for each test: creating
        a PostGIS database per test costs ~1 s, truncating ~20 ms."""
        if self.shared is None:
            self.shared = self.create()
            Store(self.shared).close()  # migrates to head
        engine = sa.create_engine(self.shared, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names()
                      if t not in ("alembic_version", "spatial_ref_sys")]
            if tables:
                conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        engine.dispose()
        return self.shared

    def drop(self, url: str) -> None:
        self._exec(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')

    def close(self) -> None:
        if self.shared:
            self.drop(self.shared)
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    url = _postgres_url()
    if not url:
        pytest.fail(f"CI=true but {POSTGRES_ENV} is not set: the postgis backend must be "
                    "tested (.ci/run starts a PostgreSQL/PostGIS cluster)")
    server = PostgresServer(url)
    try:
        server._exec("SELECT 1")
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL test server {url} not reachable: {exc.orig}")
    yield server
    server.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this test case: ``sqlite`` or ``postgis``."""
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of an EMPTY database (no tables) on the test's backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create()
    yield url
    server.drop(url)


@pytest.fixture
def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh store migrated to head, on SQLite and on PostGIS."""
    if backend == "sqlite":
        s = Store.sqlite(tmp_path / "test.sqlite")
        yield s
        s.close()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    s = Store(server.migrated())
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_incidents(areas: Areas) -> gpd.GeoDataFrame:
    from geoveilig.demo import generate_incidents

    return generate_incidents(areas, seed=42)
