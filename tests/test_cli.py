import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geoveilig.api import create_app
from geoveilig.cli import app
from geoveilig.settings import Settings

runner = CliRunner()


@pytest.fixture
def env(monkeypatch, tmp_path, shared_geo):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_every_command_has_dutch_help():
    for args in (["--help"], ["import", "--help"], ["demo", "--help"], ["areas", "show", "--help"],
                 ["areas", "fetch", "--help"], ["serve", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
    assert "Lees incidenten in" in runner.invoke(app, ["import", "--help"]).output


def test_areas_show(env):
    result = runner.invoke(app, ["areas", "show"])
    assert result.exit_code == 0
    assert "Brandevoort" in result.output and "WK079421" in result.output


def test_import_bad_file_fails_in_dutch_and_writes_rejects(env):
    f = env / "in.csv"
    f.write_text("registratienummer;soort;pleegdatum;x;y\n"
                 "a;woninginbraak;2017-01-01;173624;388270\n"
                 "b;fraude;2017-01-01;173624;388270\n", encoding="utf-8")
    rej = env / "rej.csv"
    result = runner.invoke(app, ["import", str(f), "--rejects", str(rej)])
    assert result.exit_code == 2
    assert "Import geweigerd" in result.output and "rij 3, kolom soort" in result.output
    assert "fraude" in rej.read_text(encoding="utf-8")
    result = runner.invoke(app, ["import", str(f), "--partial"])
    assert result.exit_code == 0
    assert "Ingelezen: 1, afgewezen: 1, al aanwezig: 0" in result.output
    result = runner.invoke(app, ["import", str(env / "missing.csv")])
    assert result.exit_code != 0
    result = runner.invoke(app, ["areas", "show", "--level", "land"])
    assert result.exit_code != 0


def test_missing_geography_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(tmp_path / "nope"))
    result = runner.invoke(app, ["areas", "show"])
    assert result.exit_code == 1
    assert "gebiedsindeling niet gevonden" in result.output
    assert "Traceback" not in result.output


def test_demo_then_health(env, shared_geo):
    from geoveilig.demo import yearly_counts

    total = int(yearly_counts().to_numpy().sum())
    result = runner.invoke(app, ["demo", "--seed", "42"])
    assert result.exit_code == 0, result.output
    assert f"{total} incidenten" in result.output
    again = runner.invoke(app, ["demo", "--seed", "42"])
    assert f"0 incidenten ingelezen, {total} waren er al" in again.output
    settings = Settings(geo_dir=shared_geo, data_dir=env / "data")
    with TestClient(create_app(settings)) as client:
        body = client.get("/health").json()
    assert body["status"] == "ok" and body["incidents"] == total and body["buurten"] == 44
    json.dumps(body)
