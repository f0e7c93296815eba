"""Backup and restore round trips: every row of every table comes back (both backends)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from geoveilig.cli import app
from geoveilig.demo.prevention import demo_prevention_groups
from geoveilig.errors import InvalidInput
from geoveilig.store import Store
from geoveilig.store import prevention as sp
from geoveilig.store.backup import backup, restore, table_rows

from .storehelp import parsed

runner = CliRunner()


@pytest.fixture(scope="module")
def registry(areas):
    return demo_prevention_groups(areas, seed=42)


def _fill(store, areas, demo_incidents, registry):
    store.import_incidents(parsed(demo_incidents.iloc[:3000]), source_name="a.csv",
                           content_sha256="a" * 64)
    store.import_incidents(parsed(demo_incidents.iloc[2500:4000]), source_name="b.csv",
                           content_sha256="b" * 64)
    sp.save_registry(store, registry, mode="replace",
                     known_buurten=list(areas.buurten["code"]), actor="test")
    store.audit("tester", "backup-test", "incidents", "détail ü")


def _rows(store):
    with store.engine.connect() as conn:
        return table_rows(conn)


def _target(backend, tmp_path, request):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite'}"
    server = request.getfixturevalue("postgres_server")
    url = server.create()
    request.addfinalizer(lambda: server.drop(url))
    return url


def test_backup_restore_round_trip_via_cli(store, backend, areas, demo_incidents, registry,
                                           tmp_path, request, monkeypatch):
    _fill(store, areas, demo_incidents, registry)
    before = _rows(store)
    assert len(before["incidents"]) == 4000 and len(before["prevention_groups"]) > 50
    assert sum(r[4] is not None for r in before["prevention_groups"]) > 0  # team links
    monkeypatch.setenv("GEOVEILIG_DATABASE_URL", store.url)
    out = tmp_path / "backup.bin"
    result = runner.invoke(app, ["backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Back-up geschreven" in result.output
    assert out.read_bytes()[:4] == (b"SQLi" if backend == "sqlite" else b"PK\x03\x04")

    target = _target(backend, tmp_path, request)
    monkeypatch.setenv("GEOVEILIG_DATABASE_URL", target)
    result = runner.invoke(app, ["restore", str(out)])
    assert result.exit_code == 0, result.output
    with Store(target) as restored:
        assert _rows(restored) == before
        assert restored.schema_revision() == Store.head_revision()
        # new rows get fresh ids after the restored ones (sequences moved on)
        restored.audit("tester", "after-restore")
        assert _rows(restored)["audit_log"][-1][0] == before["audit_log"][-1][0] + 1
        if backend == "postgis":  # geometry recomputed by the database
            with restored.engine.connect() as conn:
                n = conn.execute(sa.text("SELECT count(*) FROM incidents WHERE "
                                         "ST_X(geom) = x AND ST_Y(geom) = y")).scalar_one()
            assert n == 4000
    # a second restore into the now filled database is refused, in Dutch
    result = runner.invoke(app, ["restore", str(out)])
    assert result.exit_code == 1 and "lege database" in result.output


@pytest.mark.parametrize("backend", [pytest.param("postgis", marks=pytest.mark.postgres)])
def test_backup_crosses_backends(store, backend, areas, demo_incidents, registry, tmp_path,
                                 request):
    """A PostGIS bundle restores into SQLite and a SQLite copy into PostGIS."""
    _fill(store, areas, demo_incidents, registry)
    before = _rows(store)
    bundle = tmp_path / "pg.zip"
    backup(store, bundle)
    with Store.sqlite(tmp_path / "from_pg.sqlite") as lite:
        restore(lite, bundle)
        assert _rows(lite) == before
        copy = tmp_path / "lite-copy.sqlite"
        backup(lite, copy)
    url = _target("postgis", tmp_path, request)
    with Store(url) as pg:
        restore(pg, copy)
        assert _rows(pg) == before


def test_restore_refuses_garbage_and_unknown_revisions(store, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup")
    with pytest.raises(InvalidInput, match="geen geoveilig-back-up"):
        restore(store, junk)
    with pytest.raises(InvalidInput, match="bestaat niet"):
        restore(store, tmp_path / "missing.zip")
