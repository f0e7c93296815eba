"""``geoveilig.quickread``: the driver-level reads that keep ``geoveilig keys list`` fast give
the same answer as the store, on SQLite and PostGIS, and step aside for a new database."""

from __future__ import annotations

from typer.testing import CliRunner

from geoveilig.cli import app
from geoveilig.quickread import api_keys
from geoveilig.store import Store
from geoveilig.store.keys import create_key, list_keys, revoke_key


def test_api_keys_read_like_the_store(database_url):
    assert api_keys(database_url) is None  # nothing migrated yet: the store must open it
    store = Store(database_url)
    try:
        assert api_keys(database_url) == []
        first, _ = create_key(store, "Team Noord", "police")
        create_key(store, "Analist", "analyst")
        revoke_key(store, first.key_id)
        expected = list_keys(store)
    finally:
        store.close()
    rows = api_keys(database_url)
    assert [r[:4] for r in rows] == [tuple(r) for r in expected[["key_id", "name", "role",
                                                                  "created_at"]].itertuples(
        index=False, name=None)]
    assert [r[4] is not None for r in rows] == [True, False]


def test_unknown_url_or_missing_file_steps_aside(tmp_path):
    assert api_keys(f"sqlite:///{tmp_path / 'none.sqlite'}") is None
    assert not (tmp_path / "none.sqlite").exists()  # read-only: nothing created
    assert api_keys("mysql://somewhere/db") is None


def test_keys_list_on_a_new_and_a_filled_store(monkeypatch, tmp_path, shared_geo):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    result = runner.invoke(app, ["keys", "list"])  # no database yet: the store makes one
    assert result.exit_code == 0 and "Geen sleutels." in result.output
    assert runner.invoke(app, ["keys", "create", "--role", "police", "--name", "Wijkteam"]
                         ).exit_code == 0
    result = runner.invoke(app, ["keys", "list"])
    assert result.exit_code == 0
    assert "police" in result.output and "actief" in result.output and "Wijkteam" in result.output


def test_keys_list_does_not_load_the_store_package(tmp_path):
    import subprocess
    import sys

    Store.sqlite(tmp_path / "geoveilig.sqlite").close()
    probe = ("import sys; sys.argv = ['geoveilig', 'keys', 'list']\n"
             "from geoveilig.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pandas', 'sqlalchemy', 'geoveilig.store') "
             "if m in sys.modules), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True,
                          env={"GEOVEILIG_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert "Geen sleutels." in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "[]"
