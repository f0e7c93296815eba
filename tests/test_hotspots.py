"""Tests of geoveilig.hotspots: grid, KDE, Gi*, metrics, leakage, near-repeat, backtest,
surfaces and bad input. Issue 4, point 6."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geoveilig.errors import CrsError, InvalidInput
from geoveilig.hotspots import (
    METHODS,
    InsufficientData,
    SuccessCriterion,
    as_events,
    backtest,
    captured,
    elevated_extent,
    gi_star,
    gi_star_z,
    hotspot_surface,
    kde_lattice,
    knox_test,
    make_grid,
    mann_kendall,
    parse_window,
    recommended_bandwidths,
    run_method,
    scores,
    select_bandwidth,
)
from geoveilig.hotspots.emerging import _classify, emerging_hotspots
from geoveilig.hotspots.simulate import poisson_incidents, self_exciting_incidents

from ._hotspots_data import OTHER_CITY, OTHER_CRS

TZ = "Europe/Amsterdam"


@pytest.fixture(scope="module")
def helmond(areas):
    return areas


@pytest.fixture(scope="module")
def grid(helmond):
    return make_grid(helmond)


@pytest.fixture(scope="module")
def burglaries(helmond):
    poly = helmond.gemeente.geometry.iloc[0]
    return self_exciting_incidents(poly, 700, days=2 * 365, seed=3)


@pytest.fixture(scope="module")
def other_grid():
    return make_grid(gpd.GeoSeries([OTHER_CITY], crs=OTHER_CRS), 100.0)


@pytest.fixture(scope="module")
def other_incidents():
    return self_exciting_incidents(OTHER_CITY, 500, days=2 * 365, seed=5, crs=OTHER_CRS,
                                   sigma_m=40)


# --- grid ------------------------------------------------------------------------------------
def test_grid_covers_gemeente_with_shares_and_codes(helmond, grid):
    poly = helmond.gemeente.geometry.iloc[0]
    assert grid.cell_size == 125.0
    assert np.all((grid.share_in_area > 0) & (grid.share_in_area <= 1))
    assert grid.cell_area.sum() == pytest.approx(poly.area, rel=1e-9)
    cells = grid.cells()
    assert cells.crs.to_epsg() == 28992
    assert cells["buurt_code"].notna().all()
    assert cells["buurt_code"].str.startswith("BU0794").all()
    assert (cells["wijk_code"] == "WK" + cells["buurt_code"].str[2:8]).all()
    assert cells["buurt_code"].nunique() == len(helmond.buurten)
    # a point maps to the cell whose box contains it
    i = 100
    assert grid.cell_of(np.array([grid.cx[i] + 60]), np.array([grid.cy[i] - 60]))[0] == i


def test_grid_on_second_city_in_other_crs(other_grid):
    assert other_grid.cell_area.sum() == pytest.approx(OTHER_CITY.area, rel=1e-9)
    # the lake is not part of the study area
    lake = other_grid.cell_of(np.array([601_550.0]), np.array([5_701_550.0]))
    assert lake[0] == -1
    assert other_grid.cells()["buurt_code"].isna().all()


def test_grid_neighbours_queen(grid):
    w = grid.neighbours()
    assert w.shape == (grid.n_cells, grid.n_cells)
    assert (w.diagonal() == 1).all()
    assert (w != w.T).nnz == 0
    assert np.asarray(w.sum(axis=1)).max() == 9


def test_grid_refuses_bad_input(helmond):
    with pytest.raises(InvalidInput, match="celgrootte"):
        make_grid(helmond, 0)
    with pytest.raises(InvalidInput, match="celgrootte"):
        make_grid(helmond, -125)
    with pytest.raises(CrsError):
        make_grid(helmond.gemeente.to_crs("EPSG:4326"))


# --- KDE ---------------------------------------------------------------------------------------
def test_kde_integrates_to_event_count():
    rng = np.random.default_rng(1)
    n = 3000
    x = rng.normal(1_000, 300, n)
    y = rng.normal(2_000, 200, n)
    cs, bw = 50.0, 80.0
    # raster covering the data with a margin of many bandwidths
    x0, y0 = x.min() - 10 * bw, y.min() - 10 * bw
    nx = int(np.ceil((x.max() + 10 * bw - x0) / cs))
    ny = int(np.ceil((y.max() + 10 * bw - y0) / cs))
    dens = kde_lattice(x, y, x0=x0, y0=y0, nx=nx, ny=ny, cell_size=cs, bandwidth=bw)
    assert dens.sum() * cs * cs == pytest.approx(n, rel=2e-3)
    w = rng.uniform(0, 2, n)
    dens_w = kde_lattice(x, y, x0=x0, y0=y0, nx=nx, ny=ny, cell_size=cs, bandwidth=bw,
                         weights=w)
    assert dens_w.sum() * cs * cs == pytest.approx(w.sum(), rel=2e-3)


def test_kde_matches_exact_gaussian_kde():
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(2)
    n = 1500
    x = rng.normal(0, 400, n)
    y = rng.normal(0, 300, n)
    cs, bw = 125.0, 150.0
    x0 = y0 = -2000.0
    nx = ny = 32
    dens = kde_lattice(x, y, x0=x0, y0=y0, nx=nx, ny=ny, cell_size=cs, bandwidth=bw)
    cx = x0 + (np.arange(nx) + 0.5) * cs
    cy = y0 + (np.arange(ny) + 0.5) * cs
    xx, yy = np.meshgrid(cx, cy)
    ref = np.exp(KernelDensity(bandwidth=bw).fit(np.c_[x, y])
                 .score_samples(np.c_[xx.ravel(), yy.ravel()])).reshape(ny, nx) * n
    assert np.abs(dens - ref).max() <= 0.002 * ref.max()


def test_bandwidth_rules():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 100, 500), rng.normal(0, 100, 500)
    scott = select_bandwidth(x, y, "scott")
    assert scott == pytest.approx(100 * 500 ** (-1 / 6), rel=0.1)
    assert select_bandwidth(x, y, 250) == 250
    assert select_bandwidth(x[:1], y[:1], "silverman", 125) == 250  # documented fallback
    assert select_bandwidth(x[:50] / 100, y[:50] / 100, "nrd-cell", 125) == 125
    with pytest.raises(InvalidInput, match="bandbreedte"):
        select_bandwidth(x, y, -5)
    with pytest.raises(InvalidInput, match="bandbreedteregel"):
        select_bandwidth(x, y, "magic")


# --- Gi* ---------------------------------------------------------------------------------------
def test_gistar_equals_esda(grid, burglaries):
    from esda.getisord import G_Local
    from libpysal.weights import WSP

    y = grid.counts(as_events(burglaries))
    w = grid.neighbours()
    ours = gi_star_z(y, w)
    wl = WSP(w.tocsr()).to_W(silence_warnings=True)
    ref = G_Local(y, wl, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(ours, ref.Zs, rtol=0, atol=1e-9)
    # our p-values are two-sided, esda's analytic ones one-sided
    np.testing.assert_allclose(gi_star(y, w).p, 2 * ref.p_norm, rtol=1e-9, atol=1e-12)
    # a wider (distance-band) neighbourhood, diagonal left empty: Gi* adds the cell itself
    w2 = grid.neighbours(300.0, include_self=False)
    ref2 = G_Local(y, WSP(w2.tocsr()).to_W(silence_warnings=True), transform="B", star=True,
                   permutations=0)
    np.testing.assert_allclose(gi_star_z(y, w2), ref2.Zs, rtol=0, atol=1e-9)


def test_gistar_classes_and_empty_neighbourhoods(grid):
    y = np.zeros(grid.n_cells)
    centre = grid.n_cells // 2
    w = grid.neighbours()
    block = w[centre].indices
    y[block] = 6.0
    rng = np.random.default_rng(0)
    y += rng.poisson(0.05, grid.n_cells)
    res = gi_star(y, w)
    assert res.classes[centre] == "hot"
    assert res.q[centre] < 0.05
    # cells with nothing in their neighbourhood are never called cold spots
    assert res.empty.sum() > grid.n_cells / 2
    assert (res.classes[res.empty] == "not-significant").all()
    assert (res.z[res.empty] < 0).all()  # their z stays the analytic (esda) value
    tested = gi_star(y, w, empty="test")
    assert (tested.classes == "cold").sum() >= (res.classes == "cold").sum()
    flat = gi_star(np.zeros(grid.n_cells), w)
    assert (flat.z == 0).all() and (flat.classes == "not-significant").all()


# --- metrics -----------------------------------------------------------------------------------
def test_pai_and_hit_rate_hand_made():
    # ten cells of 1 ha; risk ranks them 0..9; 20 events in the window
    risk = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], float)
    obs = np.array([5, 3, 0, 2, 0, 0, 6, 0, 0, 4], float)
    area = np.full(10, 10_000.0)
    s = scores(risk, obs, area, coverages=(0.1, 0.2, 0.5))
    # top 10% = cell 0: 5 of 20 events
    assert s["hit_10"] == pytest.approx(5 / 20)
    assert s["pai_10"] == pytest.approx((5 / 20) / 0.1)
    # top 20% = cells 0, 1: 8 of 20
    assert s["hit_20"] == pytest.approx(8 / 20)
    assert s["pai_20"] == pytest.approx(2.0)
    # top 50%: cells 0-4 = 10 events; best possible 50% = 6+5+4+3+2 = 20
    assert s["hit_50"] == pytest.approx(0.5)
    assert s["pai_50"] == pytest.approx(1.0)
    assert s["pei_10"] == pytest.approx(5 / 6)
    assert s["pei_20"] == pytest.approx(8 / 11)
    assert s["pei_50"] == pytest.approx(10 / 20)


def test_metrics_ties_and_unequal_areas():
    obs = np.array([4, 0, 0, 0], float)
    area = np.array([1.0, 1.0, 1.0, 1.0])
    # constant risk: a random order -> expected hit rate = area share, PAI = 1
    s = scores(np.ones(4), obs, area, coverages=(0.25, 0.5))
    assert s["hit_25"] == pytest.approx(0.25) and s["pai_50"] == pytest.approx(1.0)
    # a half-size border cell with the highest risk: 25% of the area takes it and half the next
    area2 = np.array([0.5, 1.0, 1.0, 1.5])
    got = captured(np.array([4, 3, 2, 1.0]), np.array([1, 2, 0, 0.0]), area2, (0.25,))
    assert got[0] == pytest.approx(1 + 2 * 0.5)
    empty = scores(np.arange(4.0), np.zeros(4), area)
    assert np.isnan(empty["pai_5"])


# --- leakage -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(METHODS))
def test_no_method_sees_data_after_origin(method, grid, burglaries):
    origin = pd.Timestamp("2017-09-01", tz=TZ)
    before = burglaries[burglaries["occurred_at"] < origin]
    # the future: many events, clustered in one corner, including one exactly at the origin
    rng = np.random.default_rng(9)
    k = 400
    fx = grid.cx[10] + rng.normal(0, 50, k)
    fy = grid.cy[10] + rng.normal(0, 50, k)
    when = origin + pd.to_timedelta(rng.uniform(0, 30, k), unit="D")
    when = when.insert(0, origin)
    future = gpd.GeoDataFrame(
        {"occurred_at": when, "x": np.r_[grid.cx[10], fx], "y": np.r_[grid.cy[10], fy]},
        geometry=gpd.points_from_xy(np.r_[grid.cx[10], fx], np.r_[grid.cy[10], fy]),
        crs=burglaries.crs)
    leaky = pd.concat([burglaries, future], ignore_index=True)
    a = run_method(method, before, grid, origin, "14d")
    b = run_method(method, leaky, grid, origin, "14d")
    np.testing.assert_array_equal(a, b)
    assert np.ptp(a) > 0


# --- near-repeat ---------------------------------------------------------------------------------
def test_knox_finds_planted_contagion(helmond):
    poly = helmond.gemeente.geometry.iloc[0]
    sim = self_exciting_incidents(poly, 500, days=365, offspring_mean=0.5, sigma_m=50,
                                  decay_days=5, hotspot_share=0.0, seed=11)
    res = knox_test(sim, permutations=99, seed=1)
    assert res.elevated[0, 0]
    assert res.ratio[0, 0] > 2
    ext = elevated_extent(res)
    assert ext.found and 100 <= ext.distance <= 400 and 7 <= ext.days <= 42
    rec = recommended_bandwidths(res)
    assert rec["source"] == "knox" and rec["distance_bandwidth"] == ext.distance
    # the recommendation plugs straight into the prospective method
    grid = make_grid(helmond)
    origin = sim["occurred_at"].max()
    risk = run_method("prospective", sim, grid, origin, "14d", rec["prospective"])
    assert np.ptp(risk) > 0
    assert set(res.table().columns) >= {"knox_ratio", "p", "q", "elevated"}


def test_knox_finds_nothing_in_poisson(helmond):
    poly = helmond.gemeente.geometry.iloc[0]
    sim = poisson_incidents(poly, 900, days=365, seed=12)
    res = knox_test(sim, permutations=99, seed=1)
    assert not res.elevated.any()
    assert not elevated_extent(res).found
    assert recommended_bandwidths(res)["source"] == "default"
    assert 0.7 < np.nanmedian(res.ratio) < 1.3


def test_knox_is_seeded(helmond):
    poly = helmond.gemeente.geometry.iloc[0]
    sim = poisson_incidents(poly, 200, days=365, seed=1)
    a = knox_test(sim, permutations=19, seed=4)
    b = knox_test(sim, permutations=19, seed=4)
    np.testing.assert_array_equal(a.p, b.p)


# --- emerging ------------------------------------------------------------------------------------
def test_mann_kendall_matches_scipy_kendall():
    from scipy import stats

    rng = np.random.default_rng(0)
    series = np.vstack([np.arange(12.0), -np.arange(12.0), rng.normal(size=12)])
    z, p = mann_kendall(series)
    assert z[0] > 3 and z[1] < -3 and p[0] < 0.01
    tau = stats.kendalltau(np.arange(12), series[2])
    assert np.sign(z[2]) == np.sign(tau.statistic) or tau.statistic == 0


def test_emerging_categories_hand_made():
    t = 10
    hot = np.zeros((7, t), bool)
    cold = np.zeros((7, t), bool)
    hot[0, -1] = True  # new
    hot[1, -3:] = True  # consecutive
    hot[2, :] = True  # persistent (no trend)
    hot[3, :-1] = True  # historical
    hot[4, [2, 5, 9]] = True  # sporadic
    hot[5, [6, 9]] = True
    cold[5, 3] = True  # oscillating
    cold[6, -1] = True  # new cold
    trend_z = np.zeros(7)
    sig = np.zeros(7, bool)
    cat = _classify(hot, cold, trend_z, sig)
    assert list(cat) == ["new", "consecutive", "persistent", "historical", "sporadic",
                         "oscillating", "new-cold"]
    cat2 = _classify(hot, cold, np.array([0, 0, 3.0, 0, 0, 0, 0]), np.array([0, 0, 1, 0, 0, 0, 0],
                                                                             bool))
    assert cat2[2] == "intensifying"


def test_emerging_hotspots_runs_on_second_city(other_grid, other_incidents):
    origin = pd.Timestamp("2017-10-01", tz=TZ)
    res = emerging_hotspots(other_incidents, other_grid, origin, period="28d", n_periods=10)
    assert res.z.shape == (other_grid.n_cells, 10)
    assert set(res.category) <= {"no-pattern", *[c for c in _all_categories()]}
    assert (res.category != "no-pattern").any()


def _all_categories():
    from geoveilig.hotspots import CATEGORIES

    return [*CATEGORIES, *[c + "-cold" for c in CATEGORIES]]


# --- backtest & surfaces ----------------------------------------------------------------------
def test_backtest_on_second_city(other_grid, other_incidents):
    crit = SuccessCriterion(min_origins=3)
    res = backtest(other_incidents, other_grid, ["kde", "prospective", "gistar"],
                   n_origins=4, n_boot=200, seed=1, crime_type="woninginbraak", criterion=crit)
    assert list(res.summary["method"]) == ["naive", "kde", "prospective", "gistar"]
    assert len(res.scores) == 4 * 4
    assert res.best_method in set(res.summary["method"])
    row = res.summary.set_index("method").loc["prospective"]
    assert row["pai_5_low"] <= row["pai_5"] <= row["pai_5_high"]
    assert "criterium" in res.verdict
    assert res.summary["meets_criterion"].dtype == bool
    # the verdict follows the declared rule
    s = res.summary.set_index("method")
    for m, r in s.iterrows():
        expected = (m != "naive") and r["pai_5"] > s.loc["naive", "pai_5"] \
            and r["pai_5_low"] > 1 and r["n_origins"] >= 3
        assert bool(r["meets_criterion"]) == bool(expected)
    again = backtest(other_incidents, other_grid, ["kde", "prospective", "gistar"],
                     n_origins=4, n_boot=200, seed=1, criterion=crit)
    pd.testing.assert_frame_equal(res.summary.drop(columns="seconds"),
                                  again.summary.drop(columns="seconds"))
    csv = res.to_csv()
    assert csv.splitlines()[0].startswith("method,")
    from matplotlib.figure import Figure

    assert isinstance(res.plot(), Figure)


def test_backtest_by_crime_type(other_grid, other_incidents):
    from geoveilig.hotspots import backtest_by_crime_type

    mixed = other_incidents.copy()
    mixed.loc[mixed.index[::3], "crime_type"] = "straatroof"
    table, results = backtest_by_crime_type(mixed, other_grid, ["woninginbraak", "straatroof",
                                                                "overval"],
                                            methods=["kde"], n_origins=3, n_boot=100)
    assert set(table["crime_type"]) == {"woninginbraak", "straatroof"}
    assert table.groupby("crime_type")["best"].sum().eq(1).all()
    assert isinstance(results["overval"], str) and "incidenten" in results["overval"]


def test_backtest_criterion_can_fail(other_grid):
    sim = poisson_incidents(OTHER_CITY, 600, days=2 * 365, seed=2, crs=OTHER_CRS)
    res = backtest(sim, other_grid, ["kde"], n_origins=4, n_boot=200,
                   criterion=SuccessCriterion(min_lower=50.0))
    assert not res.criterion_met
    assert "Geen methode voldoet" in res.verdict
    # too few origins: never a verdict, whatever the scores
    few = backtest(sim, other_grid, ["kde"], n_origins=4, n_boot=200)
    assert not few.summary["meets_criterion"].any()
    assert any("minstens 10 nodig" in w for w in few.warnings)


def test_surface_is_map_ready(grid, burglaries):
    res = backtest(burglaries, grid, ["prospective"], n_origins=3, n_boot=100)
    gdf = hotspot_surface(burglaries, grid, "best", backtest=res, window="14d")
    for col in ("risk", "rank", "percentile", "gi_z", "gi_p", "gi_q", "gi_class", "method",
                "window", "origin", "buurt_code", "wijk_code", "criterion_met", "geometry"):
        assert col in gdf.columns
    # the verdict is the same for every cell: said once, in the metadata
    assert "verdict" not in gdf.columns and "criterium" in gdf.attrs["hotspots"]["verdict"]
    assert gdf.crs.to_epsg() == 28992 and len(gdf) == grid.n_cells
    top = gdf.loc[gdf["risk"].idxmax()]
    assert top["rank"] == 1 and top["percentile"] == 100
    assert gdf["method"].iloc[0] == res.best_method
    assert gdf.attrs["hotspots"]["backtest"]["criterion"].startswith("PAI")
    from geoveilig.hotspots import risk_by_area

    per_buurt = risk_by_area(gdf, "buurt")
    assert per_buurt["risk_sum"].sum() == pytest.approx(gdf["risk"].sum())
    assert per_buurt["code"].str.startswith("BU").all()
    assert risk_by_area(gdf, "wijk")["risk_share"].sum() == pytest.approx(1.0)
    em = hotspot_surface(burglaries, grid, "emerging")
    assert "emerging_category" in em.columns


# --- bad input ---------------------------------------------------------------------------------
def test_bad_input_messages(grid, burglaries):
    with pytest.raises(InvalidInput, match="vóór"):
        run_method("kde", burglaries, grid, "2000-01-01", "14d")
    with pytest.raises(InvalidInput, match="positieve periode"):
        parse_window("0d")
    with pytest.raises(InvalidInput, match="ongeldige periode"):
        parse_window("twee weken")
    assert parse_window("2w") == pd.Timedelta(days=14)
    assert parse_window("1m") == pd.Timedelta(days=30)
    with pytest.raises(InvalidInput, match="bandbreedte"):
        run_method("kde", burglaries, grid, "2017-06-01", "14d", {"bandwidth": 0})
    with pytest.raises(InvalidInput, match="afstandsbandbreedte"):
        run_method("prospective", burglaries, grid, "2017-06-01", "14d",
                   {"distance_bandwidth": -1})
    few = burglaries.iloc[:5]
    with pytest.raises(InsufficientData, match="te weinig"):
        run_method("learned", few, grid, few["occurred_at"].max() + pd.Timedelta(days=1), "14d")
    with pytest.raises(InsufficientData):
        knox_test(few)
    with pytest.raises(InvalidInput, match="onbekende methode"):
        run_method("crystal-ball", burglaries, grid, "2017-06-01", "14d")
    with pytest.raises(CrsError):
        run_method("kde", burglaries.to_crs("EPSG:4326"), grid, "2017-06-01", "14d")
    # naive with an empty last period: no silent empty surface, a clear message instead
    origin = burglaries["occurred_at"].max() + pd.Timedelta(days=60)
    with pytest.raises(InsufficientData, match="geen verschil tussen cellen"):
        hotspot_surface(burglaries, grid, "naive", origin=origin, params={"lookback": "14d"})
    with pytest.raises(InsufficientData, match="backtest"):
        hotspot_surface(burglaries, grid, "best")
    with pytest.raises(InsufficientData, match="geschiedenis"):
        backtest(burglaries[burglaries["occurred_at"] < "2016-03-01"], grid, ["kde"])


def test_backtest_reports_empty_windows_and_crs_mismatch(other_grid, other_incidents, grid,
                                                         burglaries):
    last = other_incidents["occurred_at"].max()
    origins = [last - pd.Timedelta(days=40), last + pd.Timedelta(days=30)]  # 2nd window empty
    res = backtest(other_incidents, other_grid, ["kde"], origins=origins, n_boot=50)
    empty = res.scores[res.scores["origin"] == res.origins[-1]]
    assert empty["pai_5"].isna().all() and (empty["n_events"] == 0).all()
    assert any("zonder incidenten" in w for w in res.warnings)
    assert (res.summary["n_origins"] == 1).all()
    with pytest.raises(CrsError, match="verschillend"):
        run_method("kde", burglaries, other_grid, "2017-06-01", "14d")


def test_events_from_geometry_only(burglaries):
    gdf = burglaries[["occurred_at", "geometry"]]
    ev = as_events(gdf)
    assert len(ev) == len(burglaries)
    assert np.all(np.diff(ev.t) >= 0)
    assert shapely.Point(ev.x[0], ev.y[0]).is_valid


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.floats(1.0, 5000.0), st.floats(0.5, 800.0),
       st.integers(0, 2**32 - 1))
def test_pairs_within_are_the_pairs_of_a_kd_tree(n, extent, r, seed):
    """``pairs_within`` finds exactly the pairs of ``cKDTree.query_pairs`` (each once, the
    smaller index first), also for repeated points and points on a grid of the cell size,
    whether the candidates are compared in blocks or all at once."""
    from scipy.spatial import cKDTree

    from geoveilig.hotspots.nearrepeat import pairs_within

    rng = np.random.default_rng(seed)
    points = rng.uniform(0, extent, (n, 2))
    points[: n // 4] = np.round(points[: n // 4] / r) * r  # on the cells' edges
    points[n // 4: n // 3] = points[: n // 3 - n // 4]  # the same places again
    from geoveilig.hotspots import nearrepeat

    expected = cKDTree(points).query_pairs(r, output_type="ndarray") if n else \
        np.zeros((0, 2), dtype=np.int64)
    for block in (nearrepeat.PAIR_BLOCK, 7):  # compared a few cells at a time, and all at once
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(nearrepeat, "PAIR_BLOCK", block)
            got = pairs_within(points, r)
        assert (got[:, 0] < got[:, 1]).all()
        assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, expected.tolist()))
