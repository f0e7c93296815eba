"""``geoveilig recommend``: end to end on a small synthetic store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geoveilig.areas import load_areas
from geoveilig.cli import app


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory, shared_geo):
    tmp = tmp_path_factory.mktemp("recommend")
    areas = load_areas(shared_geo)
    poly = shapely.union_all(np.asarray(areas.buurten.geometry.values))
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = poly.bounds
    centres = rng.uniform((minx, miny), (maxx, maxy), (30, 2))
    xy = centres[rng.integers(0, 30, 6000)] + rng.normal(0, 250, (6000, 2))
    xy = xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]
    types = rng.choice(["woninginbraak", "vernieling", "straatroof", "mishandeling",
                        "inbraak-schuur-garage"], len(xy))
    t = pd.Timestamp("2017-01-01") + pd.to_timedelta(rng.random(len(xy)) * 455, unit="D")
    csv = tmp / "incidents.csv"
    pd.DataFrame({"registratienummer": [f"T{i}" for i in range(len(xy))], "misdrijf": types,
                  "datum": t.strftime("%Y-%m-%d %H:%M"), "x": xy[:, 0].round(1),
                  "y": xy[:, 1].round(1)}).to_csv(csv, index=False)
    env = {"GEOVEILIG_DATA_DIR": str(tmp / "data"), "GEOVEILIG_GEO_DIR": str(shared_geo)}
    runner = CliRunner()
    res = runner.invoke(app, ["import", str(csv), "--partial"], env=env)
    assert res.exit_code == 0, res.output
    return runner, env, tmp


def test_recommend_cameras_writes_explained_sites(cli_env):
    runner, env, tmp = cli_env
    out = tmp / "cameras.geojson"
    res = runner.invoke(app, ["recommend", "cameras", "--count", "3", "--radius", "75",
                              "--window", "4w", "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    assert "bovengrens" in res.output and "gat" in res.output
    # every run is saved as a plan, with the objective's unit and the count of new sites
    text = " ".join(res.output.split())  # rich wraps long lines
    assert "Opgeslagen als plan 1" in text and "3 nieuwe plaatsen" in text
    assert "incidenten op straat binnen 75 m in de komende 4 weken" in text
    shown = runner.invoke(app, ["plans", "show", "1"], env=env)
    assert shown.exit_code == 0 and "cli:" in shown.output
    fc = json.loads(out.read_text())
    props = [f["properties"] for f in fc["features"]]
    assert len(props) == 3
    for key in ("rank", "expected_covered", "share_of_risk", "wijk_code", "buurt_code",
                "buurt_name"):
        assert key in props[0]
    lon, lat = fc["features"][0]["geometry"]["coordinates"]
    assert 5.5 < lon < 5.8 and 51.4 < lat < 51.55  # WGS84, Helmond


def test_recommend_buurttent_dates(cli_env):
    runner, env, tmp = cli_env
    out = tmp / "tent.geojson"
    res = runner.invoke(app, ["recommend", "buurttent", "--count", "17", "--year", "2018",
                              "--min-gap-weeks", "6", "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    fc = json.loads(out.read_text())
    dates = [f["properties"]["date"] for f in fc["features"]]
    assert len(dates) == 17 and all(d.startswith("2018-") for d in dates)


def test_recommend_bad_input_is_a_dutch_message(cli_env):
    runner, env, tmp = cli_env
    res = runner.invoke(app, ["recommend", "alarms", "--count", "3", "--radius", "0",
                              "--out", str(tmp / "x.geojson")], env=env)
    assert res.exit_code == 1
    assert "radius moet groter dan 0" in res.output
    res = runner.invoke(app, ["recommend", "alarms", "--count", "3", "--window", "abc",
                              "--out", str(tmp / "x.geojson")], env=env)
    assert res.exit_code == 1 and "ongeldig venster" in res.output


def test_recommend_buurttent_uses_the_prevention_registry(cli_env, tmp_path):
    runner, env, _ = cli_env
    env = {**env, "GEOVEILIG_DATA_DIR": str(tmp_path / "data2")}
    src = Path(cli_env[1]["GEOVEILIG_DATA_DIR"]).parent / "incidents.csv"
    assert runner.invoke(app, ["import", str(src), "--partial"], env=env).exit_code == 0
    res = runner.invoke(app, ["prevention", "demo"], env=env)
    assert res.exit_code == 0, res.output
    out = tmp_path / "tent.geojson"
    res = runner.invoke(app, ["recommend", "buurttent", "--count", "10", "--year", "2018",
                              "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    props = [f["properties"] for f in json.loads(out.read_text())["features"]]
    assert all("register" in p["method"] for p in props)
    assert all(0 <= p["uncovered_share"] <= 1 for p in props)
    assert any(p["uncovered_share"] < 1 for p in props)


@pytest.mark.parametrize("method", ["gistar", "emerging"])
def test_recommend_refuses_z_score_methods(cli_env, method):
    """Gi* and emerging give z-scores, not incidents: a plan may not sum them as 'verwacht
    gedekte incidenten'."""
    runner, env, tmp = cli_env
    out = tmp / f"{method}.geojson"
    res = runner.invoke(app, ["recommend", "cameras", "--count", "2", "--method", method,
                              "--out", str(out)], env=env)
    assert res.exit_code == 1, res.output
    assert "z-scores" in res.output and "Traceback" not in res.output
    assert not out.exists()
