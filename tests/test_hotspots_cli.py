"""The ``geoveilig hotspots`` / ``backtest`` / ``nearrepeat`` commands on a small store."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from geoveilig.areas import load_areas
from geoveilig.cli import app
from geoveilig.hotspots.simulate import self_exciting_incidents
from geoveilig.incidents import parse_incidents
from geoveilig.store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def env(tmp_path_factory, shared_geo):
    tmp = tmp_path_factory.mktemp("hotspots_cli")
    areas = load_areas(shared_geo, gemeente="GM0794")
    sim = self_exciting_incidents(areas.buurten.union_all().buffer(-50), 400, days=600, seed=7,
                                  start="2016-01-01")
    frame = sim.drop(columns="geometry").assign(
        occurred_at=sim["occurred_at"].dt.strftime("%Y-%m-%d %H:%M"))
    data = frame[["incident_id", "crime_type", "occurred_at", "x", "y"]].to_csv(index=False)
    parsed = parse_incidents(data.encode(), filename="sim.csv", areas=areas)
    assert len(parsed.rejects) == 0
    url = f"sqlite:///{tmp / 'g.sqlite'}"
    with Store(url) as store:
        store.import_incidents(parsed, source_name="sim.csv", content_sha256="x" * 64)
    return {"GEOVEILIG_DATABASE_URL": url, "GEOVEILIG_GEO_DIR": str(shared_geo)}, tmp


def test_backtest_command(env):
    variables, tmp = env
    out = tmp / "bt.csv"
    res = runner.invoke(app, ["backtest", "--crime-type", "woninginbraak", "--methods",
                              "kde,prospective", "--origins", "3", "--out", str(out)],
                        env=variables)
    assert res.exit_code == 0, res.output
    assert "criterium" in res.stdout
    # a table for people: Dutch headers, ja/nee, decimal commas, no NaN or internal names
    assert "criterium gehaald" in res.stdout and "PAI 5%" in res.stdout
    for english in ("meets_criterion", "pai_5", "NaN", "True", "False", "n_origins"):
        assert english not in res.stdout
    assert " ja" in res.stdout or " nee" in res.stdout
    text = out.read_text()
    assert text.startswith("method,") and "prospective" in text


def test_hotspots_command_writes_geojson_with_verdict(env):
    variables, tmp = env
    out = tmp / "hs.geojson"
    res = runner.invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--method", "kde",
                              "--origins", "3", "--window", "2w", "--out", str(out)],
                        env=variables)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    doc = json.loads(text)
    props = doc["features"][0]["properties"]
    for key in ("risk", "rank", "percentile", "gi_z", "gi_class", "method", "window",
                "origin", "criterion_met"):
        assert key in props
    assert props["method"] == "kde" and props["window"] == "14d"
    assert -180 <= doc["features"][0]["geometry"]["coordinates"][0][0][0] <= 180
    # the verdict is stated once per file, in the collection's metadata, not per feature
    verdict = doc["metadata"]["verdict"]
    assert "criterium" in verdict and "verdict" not in props
    assert text.count(verdict) == 1 and verdict in res.output
    assert doc["metadata"]["method"] == "kde" and doc["metadata"]["backtest"]["backtested"]
    # the file as it was written before (the sentence in every feature) is far bigger
    import geopandas as gpd

    before = tmp / "per_feature.geojson"
    gpd.read_file(out).assign(verdict=verdict).to_file(before, driver="GeoJSON")
    assert out.stat().st_size < 0.75 * before.stat().st_size


def test_hotspots_geopackage_keeps_the_verdict_in_the_layer_metadata(env):
    import pyogrio

    variables, tmp = env
    out = tmp / "hs.gpkg"
    res = runner.invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--method", "kde",
                              "--origins", "3", "--out", str(out)], env=variables)
    assert res.exit_code == 0, res.output
    info = pyogrio.read_info(out, layer="hotspots")
    meta = json.loads(info["layer_metadata"]["geoveilig_hotspots"])
    assert "criterium" in meta["verdict"] and "verdict" not in info["fields"]


def test_commands_fail_in_dutch(env):
    variables, tmp = env
    res = runner.invoke(app, ["hotspots", "--crime-type", "straatroof", "--out",
                              str(tmp / "x.geojson")], env=variables)
    assert res.exit_code == 1
    assert "geen incidenten" in res.output
    res = runner.invoke(app, ["backtest", "--crime-type", "woninginbraak", "--window", "0d"],
                        env=variables)
    assert res.exit_code == 1 and "positieve periode" in res.output
    res = runner.invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--method", "orakel",
                              "--no-backtest", "--out", str(tmp / "x.geojson")], env=variables)
    assert res.exit_code == 1 and "onbekende methode" in res.output
    # a date pandas reads but the library cannot compute with (a time in ns): before, an
    # OverflowError traceback
    for origin in ("3000-01-01", "1600-01-01"):
        res = runner.invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--method", "kde",
                                  "--no-backtest", "--origin", origin,
                                  "--out", str(tmp / "x.geojson")], env=variables)
        assert res.exit_code == 1, res.output
        assert f"datum '{origin}' valt buiten" in res.output and "--origin" in res.output
        assert not isinstance(res.exception, OverflowError)


def test_nearrepeat_command(env):
    variables, _ = env
    res = runner.invoke(app, ["nearrepeat", "--crime-type", "woninginbraak",
                              "--permutations", "19"], env=variables)
    assert res.exit_code == 0, res.output
    assert "Knox" in res.stdout
