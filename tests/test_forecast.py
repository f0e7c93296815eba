"""Tests of issue 21 (forecasts without look-ahead, the combined forecast, defaults that
travel) and the hotspot points of issue 15 (prospective on cell centres, overlapping backtest
windows, naive incident times)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geoveilig.hotspots import as_events, backtest, make_grid
from geoveilig.hotspots.events import Events, to_epoch
from geoveilig.hotspots.prospective import prospective_risk
from geoveilig.hotspots.simulate import self_exciting_incidents

from ._hotspots_data import OTHER_CITY, OTHER_CRS

TZ = "Europe/Amsterdam"


@pytest.fixture(scope="module")
def other_grid():
    return make_grid(gpd.GeoSeries([OTHER_CITY], crs=OTHER_CRS), 100.0)


@pytest.fixture(scope="module")
def other_incidents():
    return self_exciting_incidents(OTHER_CITY, 500, days=2 * 365, seed=5, crs=OTHER_CRS,
                                   sigma_m=40)


# --- issue 15 ------------------------------------------------------------------------------
def test_prospective_counts_an_event_on_a_cell_centre_once(other_grid):
    """Police coordinates snapped to cell centres: the event's own cell gets weight 1/(1+0)
    times the time weight, once."""
    g = other_grid
    c = 500
    origin = pd.Timestamp("2020-06-15", tz=TZ)
    t = to_epoch(origin) - 7 * 86_400  # one week old: time weight 1/(1 + 7/7) = 0.5
    ev = Events(np.array([g.cx[c]]), np.array([g.cy[c]]), np.array([t], np.int64))
    risk = prospective_risk(ev, g, origin, distance_bandwidth=400.0)
    assert risk[c] == pytest.approx(0.5)
    # a neighbour one cell east: distance = one cell = one distance unit -> 0.5 * 0.5
    east = np.flatnonzero((g.row == g.row[c]) & (g.col == g.col[c] + 1))
    assert risk[east[0]] == pytest.approx(0.25)


def test_naive_incident_times_are_amsterdam_wall_clock():
    frame = pd.DataFrame({"occurred_at": ["2020-06-01 12:00", "2020-01-15 12:00"],
                          "x": [1.0, 2.0], "y": [1.0, 2.0]})
    ev = as_events(frame)
    utc = pd.to_datetime(ev.t, unit="s", utc=True)
    # summer time: 12:00 in Amsterdam is 10:00 UTC; winter time: 11:00 UTC
    assert list(utc.strftime("%m-%d %H:%M")) == ["01-15 11:00", "06-01 10:00"]
    aware = pd.DataFrame({"occurred_at": pd.to_datetime(["2020-06-01 12:00"]).tz_localize(TZ),
                          "x": [1.0], "y": [1.0]})
    assert as_events(aware).t[0] == ev.t[1]


def test_backtest_bootstrap_respects_overlapping_windows(other_grid, other_incidents):
    from geoveilig.hotspots.backtesting import bootstrap_indices

    idx = bootstrap_indices(12, 3, 50, np.random.default_rng(0))
    assert idx.shape == (50, 12)
    # every resample is made of runs of three consecutive origins (moving blocks)
    for row in idx:
        for k in range(0, 12, 3):
            assert np.array_equal(np.diff(row[k:k + 3]), [1, 1])
    res = backtest(other_incidents, other_grid, ["kde"], window="14d", step="7d",
                   n_origins=6, n_boot=100)
    assert res.block == 2
    assert any("overlappen" in w for w in res.warnings)
    res = backtest(other_incidents, other_grid, ["kde"], window="14d", step="14d",
                   n_origins=4, n_boot=100)
    assert res.block == 1


def test_package_does_not_shadow_a_module_with_a_function():
    import importlib

    import geoveilig.hotspots as hs

    assert callable(hs.backtest)
    mod = importlib.import_module("geoveilig.hotspots.backtesting")
    assert mod.backtest is hs.backtest
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("geoveilig.hotspots.backtest")


@pytest.mark.parametrize("days", [60, 200, 370])
def test_learned_on_short_history_never_raises_sklearn_errors(other_grid, other_incidents,
                                                              days):
    from geoveilig.hotspots import run_method
    from geoveilig.hotspots.events import InsufficientData

    origin = other_incidents["occurred_at"].min() + pd.Timedelta(days=days)
    try:
        risk = run_method("learned", other_incidents, other_grid, origin, "14d")
    except InsufficientData as exc:  # a Dutch message is fine, a ValueError is not
        assert "te weinig" in str(exc)
    else:
        assert risk.shape == (other_grid.n_cells,) and np.ptp(risk) > 0


# --- no look-ahead at any entry point ----------------------------------------------------------
ORIGIN = "2017-06-05"


@pytest.fixture(scope="module")
def helmond_sim(areas):
    """Two years of simulated burglaries in Helmond, as the importer reads them."""
    from geoveilig.incidents import parse_incidents

    sim = self_exciting_incidents(areas.buurten.union_all().buffer(-50), 700, days=730, seed=7,
                                  start="2016-01-01")
    frame = sim.drop(columns="geometry").assign(
        occurred_at=sim["occurred_at"].dt.strftime("%Y-%m-%d %H:%M"))
    cut = pd.Timestamp(ORIGIN, tz=TZ)

    def parsed(part: pd.DataFrame):  # type: ignore[no-untyped-def]
        data = part[["incident_id", "crime_type", "occurred_at", "x", "y"]].to_csv(index=False)
        p = parse_incidents(data.encode(), filename="sim.csv", areas=areas)
        assert len(p.rejects) == 0
        return p

    before = frame[sim["occurred_at"] < cut]
    assert len(before) < len(frame) - 100  # plenty of future to leak
    return parsed(frame), parsed(before)


def _fill(store, parsed) -> None:  # type: ignore[no-untyped-def]
    store.import_incidents(parsed, source_name="sim.csv", content_sha256="x" * 64)


def test_hotspot_surface_refuses_a_backtest_past_the_origin(other_grid, other_incidents):
    from geoveilig.errors import InvalidInput
    from geoveilig.hotspots import hotspot_surface

    res = backtest(other_incidents, other_grid, ["kde"], n_origins=3, n_boot=50)
    early = res.origins[-1]  # its window ends 14 days later: after this origin
    with pytest.raises(InvalidInput, match="vooruitkijken"):
        hotspot_surface(other_incidents, other_grid, "best", origin=early, backtest=res)
    ok = backtest(other_incidents, other_grid, ["kde"], n_origins=3, n_boot=50, end=early)
    assert ok.end <= early
    gdf = hotspot_surface(other_incidents, other_grid, "best", origin=early, backtest=ok)
    assert gdf.attrs["hotspots"]["backtest"]["backtested"]


def test_cli_hotspots_origin_uses_only_the_past(tmp_path, shared_geo, helmond_sim):
    import json

    from typer.testing import CliRunner

    from geoveilig.cli import app
    from geoveilig.store import Store

    outs = []
    for name, parsed in zip(("all", "past"), helmond_sim, strict=True):
        with Store.sqlite(tmp_path / f"{name}.sqlite") as store:
            _fill(store, parsed)
        env = {"GEOVEILIG_DATABASE_URL": f"sqlite:///{tmp_path / f'{name}.sqlite'}",
               "GEOVEILIG_GEO_DIR": str(shared_geo)}
        out = tmp_path / f"{name}.geojson"
        res = CliRunner().invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--method",
                                       "kde", "--origins", "4", "--origin", ORIGIN, "--rd",
                                       "--out", str(out)], env=env)
        assert res.exit_code == 0, res.output
        doc = json.loads(out.read_text())
        outs.append((res.output, [f["properties"] for f in doc["features"]], doc["metadata"]))
    (text_all, all_, meta_all), (text_past, past, meta_past) = outs
    assert [p["risk"] for p in all_] == [p["risk"] for p in past]
    assert meta_all["verdict"] == meta_past["verdict"]  # the backtest saw the same data
    assert all_[0]["backtest_score"] == past[0]["backtest_score"]
    assert "bandbreedte" in text_all and "bandbreedte" in text_past  # chosen from the data


def test_api_hotspots_layer_uses_only_the_past(tmp_path, shared_geo, helmond_sim):
    from fastapi.testclient import TestClient

    from geoveilig.api import create_app
    from geoveilig.settings import Settings
    from geoveilig.store import Store
    from geoveilig.store.keys import create_key

    risks = []
    for name, parsed in zip(("all", "past"), helmond_sim, strict=True):
        data = tmp_path / name
        data.mkdir()
        with Store.sqlite(data / "geoveilig.sqlite") as store:
            _fill(store, parsed)
            key = create_key(store, "test", "analyst")[1]
        app = create_app(Settings(data_dir=data, geo_dir=shared_geo))
        with TestClient(app) as client:
            r = client.get(f"/v1/collections/hotspots/items?crimeType=woninginbraak"
                           f"&method=combined&origin={ORIGIN}&limit=10000",
                           headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        feats = sorted(r.json()["features"], key=lambda f: f["properties"]["cell_id"])
        risks.append([f["properties"]["risk"] for f in feats])
    assert risks[0] == risks[1] and max(risks[0]) > min(risks[0])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgis",
                                                            marks=pytest.mark.postgres)])
def test_placement_demand_uses_only_the_past(backend, tmp_path, request, areas, helmond_sim):
    from geoveilig.placement.service import demand
    from geoveilig.store import Store

    def make(name: str) -> Store:
        if backend == "sqlite":
            return Store.sqlite(tmp_path / f"{name}.sqlite")
        return Store(request.getfixturevalue("postgres_server").migrated())

    got = []
    for name, parsed in zip(("all", "past"), helmond_sim, strict=True):
        with make(name) as store:
            _fill(store, parsed)
            d = demand(store, areas, pd.Timestamp(ORIGIN), 14, ("woninginbraak",),
                       method="kde", with_backtest=True)
        got.append(d)
    assert got[0].backtest_score is not None
    assert got[0].backtest_score == got[1].backtest_score
    np.testing.assert_array_equal(got[0].cells["risk"].to_numpy(), got[1].cells["risk"])


# --- the combined forecast and the choices from the past --------------------------------------
def test_gaussian_cell_mass_is_exact(other_grid):
    from geoveilig.hotspots.combined import gaussian_cell_mass
    from geoveilig.hotspots.simulate import _cell_mass

    g = other_grid
    rng = np.random.default_rng(0)
    x = rng.uniform(600_000, 606_000, 200)
    y = rng.uniform(5_700_000, 5_707_000, 200)
    w = rng.random(200)
    xe = g.x0 + np.arange(g.nx + 1) * g.cell_size
    ye = g.y0 + np.arange(g.ny + 1) * g.cell_size
    dense = g.from_raster((_cell_mass(y, ye, 60.0) * w[:, None]).T @ _cell_mass(x, xe, 60.0))
    np.testing.assert_allclose(gaussian_cell_mass(g, x, y, w, 60.0), dense, atol=1e-9)


def test_stack_weights_recover_a_known_mixture():
    from geoveilig.hotspots.combined import stack_weights

    rng = np.random.default_rng(1)
    n = 400
    p = rng.dirichlet(np.ones(n), size=3).T  # three distributions over 400 cells
    truth = np.array([0.6, 0.3, 0.1])
    y = rng.poisson(20_000 * p @ truth).astype(float)
    w = stack_weights(p, y)
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w, truth, atol=0.03)


def test_choices_travel_and_fall_back_in_dutch(other_grid, other_incidents):
    from geoveilig.hotspots.combined import choices

    ev = as_events(other_incidents, other_grid.crs)
    late = pd.Timestamp("2017-09-01", tz=TZ)
    kde = choices(ev, other_grid, late, "14d", "kde")
    # the simulated near repeats have σ 40 m: the likelihood wants a few cells, not a city
    assert kde["bandwidth_m"] <= 4 * other_grid.cell_size
    assert "gekozen" in kde["notes"][0]
    lb = choices(ev, other_grid, late, "14d", "naive")
    assert lb["lookback_days"] in (7, 14, 28, 56, 91, 182, 365)
    early = ev.first + pd.Timedelta(days=30)
    short = choices(ev, other_grid, early, "14d", "combined")
    assert any("te weinig geschiedenis" in n for n in short["notes"])
    from geoveilig.hotspots import hotspot_surface

    gdf = hotspot_surface(other_incidents, other_grid, "combined", origin=early)
    assert np.ptp(gdf["risk"]) > 0
    assert "te weinig geschiedenis" in " ".join(gdf.attrs["hotspots"]["choices"]["notes"])


def test_combined_weights_use_only_windows_before_the_origin(other_grid, other_incidents):
    from geoveilig.hotspots.combined import fit_stack
    from geoveilig.hotspots.events import to_epoch

    origin = pd.Timestamp("2017-09-01", tz=TZ)
    past = as_events(other_incidents[other_incidents["occurred_at"] < origin], other_grid.crs)
    full = as_events(other_incidents, other_grid.crs)
    w = 14 * 86_400
    a = fit_stack(past, other_grid, to_epoch(origin), w)
    b = fit_stack(full, other_grid, to_epoch(origin), w)
    assert a.weights == b.weights and a.n_windows == b.n_windows >= 3
    assert a.bandwidth == b.bandwidth and a.lookback == b.lookback
    assert sum(a.weights.values()) == pytest.approx(1.0)


def test_cli_best_falls_back_on_short_history(tmp_path, shared_geo, helmond_sim):
    from typer.testing import CliRunner

    from geoveilig.cli import app
    from geoveilig.store import Store

    with Store.sqlite(tmp_path / "s.sqlite") as store:
        _fill(store, helmond_sim[1])
    env = {"GEOVEILIG_DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
           "GEOVEILIG_GEO_DIR": str(shared_geo)}
    res = CliRunner().invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--origin",
                                   "2016-04-01", "--out", str(tmp_path / "x.geojson")], env=env)
    assert res.exit_code == 0, res.output
    assert "geen backtest mogelijk" in res.output and "methode combined" in res.output


def test_backtest_scores_identical_with_and_without_the_cache_between_origins(other_grid,
                                                                            other_incidents):
    """The speed-up of the backtest (components cached per data set and moment, shared by the
    rolling origins; one thread-pool controller; the cell-centre tree built once per grid)
    must not change a score: the same seeded process scored with the cache kept across the
    origins and with it emptied before every origin gives identical tables."""
    from geoveilig.hotspots import combined as comb

    ev = as_events(other_incidents, other_grid.crs)
    comb._CACHES.clear()
    shared = backtest(ev, other_grid, ["combined", "prospective"], n_origins=5, n_boot=50)
    assert shared.scores["error"].isna().all()
    assert shared.scores["n_events"].sum() > 0
    rows = []
    for o in shared.origins:
        comb._CACHES.clear()
        rows.append(backtest(ev, other_grid, ["combined", "prospective"], origins=[o],
                             n_boot=50, criterion=None).scores)
    fresh = pd.concat(rows, ignore_index=True)
    cols = [c for c in shared.scores.columns if c.split("_")[0] in ("hit", "pai", "pei")]
    assert len(cols) >= 9
    pd.testing.assert_frame_equal(shared.scores[["origin", "method", *cols]],
                                  fresh[["origin", "method", *cols]], check_exact=True)


def test_nearrepeat_surface_from_cached_axis_masses_is_identical(other_grid, other_incidents):
    """The near-repeat component takes its events' per-axis masses from one matrix for the
    whole data set (cached between moments): exactly the surface computed from its own events
    alone."""
    from geoveilig.hotspots import combined as comb
    from geoveilig.hotspots.events import DAY

    ev = as_events(other_incidents, other_grid.crs)
    comb._CACHES.clear()
    for t in (int(ev.t[0]) + 60 * DAY, int(ev.t[-1]) - 20 * DAY, int(ev.t[-1]) + DAY):
        for tau, sigma in ((7.0, 50.0), (28.0, 100.0)):
            a = int(np.searchsorted(ev.t, t - 8 * tau * DAY))
            b = int(np.searchsorted(ev.t, t))
            assert b - a > 0
            direct = comb.gaussian_cell_mass(other_grid, ev.x[a:b], ev.y[a:b],
                                             np.exp(-(t - ev.t[a:b]) / (tau * DAY)), sigma)
            assert direct.sum() > 0
            assert np.array_equal(comb.nearrepeat_surface(ev, other_grid, t, tau, sigma),
                                  direct)
