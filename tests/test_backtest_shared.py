"""A fast backtest (issue 20): what the rolling origins share (the learned model's counts and
features per period boundary, the combined forecast's learned component) never lets an origin
see data after it; the cheaper fit stays calibrated; the KDE convolution without scipy.signal
is the same; a changed model gets a new backtest cache key."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geoveilig.hotspots import make_grid, run_method
from geoveilig.hotspots.backtesting import backtest, rolling_origins
from geoveilig.hotspots.events import as_events, to_epoch
from geoveilig.hotspots.simulate import self_exciting_incidents

from ._hotspots_data import OTHER_CITY, OTHER_CRS


@pytest.fixture(scope="module")
def grid():
    return make_grid(gpd.GeoSeries([OTHER_CITY], crs=OTHER_CRS), 100.0)


@pytest.fixture(scope="module")
def incidents():
    return self_exciting_incidents(OTHER_CITY, 600, days=2 * 365, seed=11, crs=OTHER_CRS,
                                   sigma_m=40)


@pytest.mark.parametrize("method", ["learned", "combined"])
def test_shared_work_across_origins_uses_only_the_past(method, grid, incidents):
    """Run the origins in a row on one data set (as the backtest does, sharing its caches),
    then each origin alone on the data cut at it: the same risk, to the last bit."""
    ev = as_events(incidents, grid.crs)  # one object: the shared caches are used
    origins = rolling_origins(ev, "14d", n_origins=4)
    shared = [run_method(method, ev, grid, o, "14d") for o in origins]
    for origin, risk in zip(origins, shared, strict=True):
        before = incidents[incidents["occurred_at"] < origin].copy()  # a new data set
        alone = run_method(method, before, grid, origin, "14d")
        np.testing.assert_array_equal(risk, alone)
        assert np.ptp(risk) > 0
    # and a later origin's work does not change an earlier origin's answer
    again = run_method(method, ev, grid, origins[0], "14d")
    np.testing.assert_array_equal(again, shared[0])


def test_timeline_counts_and_unknown_periods(grid):
    from geoveilig.hotspots.learned import _Timeline

    w = 14 * 86_400
    start = to_epoch(pd.Timestamp("2020-01-01", tz="Europe/Amsterdam"))
    cx, cy = grid.cx[5], grid.cy[5]
    # two events in the first two weeks, three in period 3, nothing later
    t = np.array([start + 3600, start + 2 * 86_400, start + 3 * w + 10, start + 3 * w + 20,
                  start + 3 * w + 30])
    ev = as_events(gpd.GeoDataFrame(
        {"occurred_at": pd.to_datetime(t, unit="s", utc=True), "x": cx, "y": cy},
        geometry=gpd.points_from_xy(np.full(5, cx), np.full(5, cy)), crs=grid.crs), grid.crs)
    tl = _Timeline(ev, grid, w, phase=start % w)
    q0 = tl.boundary(start)
    assert tl.known_from == q0 + 1  # the period holding the first event starts before it
    assert np.isnan(tl.period(q0)).all()  # unknown, not zero
    assert tl.period(q0 + 3)[5] == 3 and tl.period(q0 + 3).sum() == 3
    assert tl.period(q0 + 10).sum() == 0  # after the last event: zeros
    f = tl.features_at(q0 + 5, per_year=26, keep=4)
    # mean over the last 4 periods (q0+1 .. q0+4): 3 events / 4
    assert f[5, 2 * 3] == pytest.approx(0.75)  # the third temporal scale
    # the long run since the data began: periods q0+1 .. q0+4 are known, 3 events
    from geoveilig.hotspots.learned import TEMPORAL_SCALES

    longrun_col = len(TEMPORAL_SCALES) * 3
    assert f[5, longrun_col] == pytest.approx(3 / 4)
    # the 26-period mean reaches before the data: unknown
    assert np.isnan(f[5, 4 * 3])


def test_weighted_zero_rows_keep_the_rate_and_every_event():
    from geoveilig.hotspots.learned import _fit_poisson

    rng = np.random.default_rng(4)
    n = 60_000
    x = rng.normal(size=(n, 3))
    y = rng.poisson(0.01, n).astype(float)
    kw = {"max_rows": 60_000, "max_iter": 10, "learning_rate": 0.1, "max_leaf_nodes": 8,
          "min_samples_leaf": 20, "max_bins": 63, "seed": 0, "n_threads": 1, "what": "test"}
    model, known, edges = _fit_poisson(x, y, np.arange(n), zero_rows=2_000, **kw)
    from geoveilig.hotspots.learned import _apply_bins

    pred = model.predict(_apply_bins(x[:, known], edges))  # type: ignore[attr-defined]
    # 2,000 of ~59,400 zero rows kept, weighted up: the mean rate stays (unweighted it would
    # be ~30 times too high)
    assert pred.mean() == pytest.approx(y.mean(), rel=0.25)


def test_binning_keeps_order_and_missing_values():
    from geoveilig.hotspots.learned import _apply_bins, _bin_edges

    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=500), rng.integers(0, 5, 500).astype(float)])
    x[::7, 0] = np.nan
    edges = _bin_edges(x, 16)
    assert edges[1] is None  # few distinct values: left to scikit-learn
    b = _apply_bins(x, edges)
    np.testing.assert_array_equal(b[:, 1], x[:, 1])
    assert np.isnan(b[::7, 0]).all() and np.nanmax(b[:, 0]) <= 15
    ok = ~np.isnan(x[:, 0])
    order = np.argsort(x[ok, 0], kind="stable")
    assert np.all(np.diff(b[ok, 0][order]) >= 0)  # monotone


def test_kde_convolution_equals_scipy_signal():
    from scipy.signal import fftconvolve

    from geoveilig.hotspots.kde import _convolve_same

    rng = np.random.default_rng(1)
    for shape, m in (((40, 57), 11), ((13, 200), 41), ((5, 3), 9)):
        a, k = rng.random(shape), rng.random(m)
        for axis in (0, 1):
            kern = k[None, :] if axis == 1 else k[:, None]
            ref = fftconvolve(a, kern, mode="same", axes=axis)
            np.testing.assert_allclose(_convolve_same(a, k, axis), ref, rtol=0, atol=1e-12)


def test_changed_model_changes_the_cache_key(grid, incidents, monkeypatch):
    from geoveilig.hotspots import service

    kw = {"window": "14d", "n_origins": 3}
    before = service.backtest_key(incidents, grid, ["learned"], **kw)
    monkeypatch.setattr(service, "CACHE_VERSION", service.CACHE_VERSION + 1)
    assert service.backtest_key(incidents, grid, ["learned"], **kw) != before


def test_backtest_with_learned_is_reproducible(grid, incidents):
    kw = {"window": "14d", "n_origins": 3, "n_boot": 100}
    a = backtest(incidents, grid, ["learned"], **kw)
    b = backtest(incidents.copy(), grid, ["learned"], **kw)
    pd.testing.assert_frame_equal(a.scores.drop(columns="seconds"),
                                  b.scores.drop(columns="seconds"))


def test_parallel_origins_give_the_serial_result(grid, incidents):
    """Origins scored in two forked worker processes: the same scores and verdict as in one
    process, and the progress is still reported per origin, in order."""
    from geoveilig.hotspots import backtesting

    kw = {"window": "14d", "n_origins": backtesting.MIN_PARALLEL_ORIGINS, "n_boot": 200}
    methods = ["kde", "learned", "combined"]
    serial = backtest(incidents, grid, methods, processes=1, **kw)
    import multiprocessing

    calls: list[tuple[int, int]] = []
    workers: list[int] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        workers.append(len(multiprocessing.active_children()))

    parallel = backtest(incidents, grid, methods, processes=2, progress=progress, **kw)
    pd.testing.assert_frame_equal(serial.scores.drop(columns="seconds"),
                                  parallel.scores.drop(columns="seconds"))
    pd.testing.assert_frame_equal(serial.summary.drop(columns="seconds"),
                                  parallel.summary.drop(columns="seconds"))
    assert serial.verdict == parallel.verdict
    n = len(serial.origins)
    assert calls == [(d, n) for d in range(1, n + 1)]
    assert max(workers) == 2  # the origins really were scored in two worker processes
    assert not backtesting._FORKED  # nothing left behind for the next backtest


def test_emerging_weights_built_once_per_grid(grid, incidents):
    from scipy import sparse

    from geoveilig.hotspots.emerging import _space_time_weights, emerging_hotspots

    a = _space_time_weights(grid, None, 12, 1)
    assert _space_time_weights(grid, None, 12, 1) is a  # reused across origins
    ws = grid.neighbours(None, include_self=True)
    tt = sparse.eye(12, format="csr") + sparse.eye(12, k=-1, format="csr")
    assert (a != sparse.kron(tt, ws, format="csr")).nnz == 0
    assert _space_time_weights(grid, None, 12, 2) is not a  # other parameters: other weights
    origin = incidents["occurred_at"].max()
    first = emerging_hotspots(incidents, grid, origin)
    np.testing.assert_array_equal(first.z, emerging_hotspots(incidents, grid, origin).z)


def test_learned_refits_on_a_fixed_schedule(grid, incidents):
    """Consecutive origins share one fit (every second period boundary); an origin's model
    is fitted from the data before its own scheduled boundary only."""
    from geoveilig.hotspots.learned import _timeline

    ev = as_events(incidents, grid.crs)
    origins = rolling_origins(ev, "14d", n_origins=6)
    for o in origins:
        run_method("learned", ev, grid, o, "14d")
    w = 14 * 86_400
    tl = _timeline(ev, grid, to_epoch(origins[-1]), w)
    boundaries = {tl.boundary(to_epoch(o)) for o in origins}
    assert len(tl.fits) == len({q - q % 2 for q in boundaries}) < len(origins)
    assert all(key[0] % 2 == 0 for key in tl.fits)
