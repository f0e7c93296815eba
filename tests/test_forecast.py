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
