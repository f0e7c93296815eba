"""The backtest cache in the store (``store.backtests``, ``hotspots.service``): the same result
back, on SQLite and PostGIS; a new key for other data, other parameters and above all another
end (origin): a verdict is never reused for another forecast origin."""

from __future__ import annotations

import pandas as pd
import pytest

from geoveilig.hotspots import backtest, make_grid
from geoveilig.hotspots.service import backtest_key, cached_backtest
from geoveilig.hotspots.simulate import self_exciting_incidents
from geoveilig.store.backtests import get_backtest

KW = {"window": "14d", "n_origins": 3, "n_boot": 200, "crime_type": "woninginbraak"}


@pytest.fixture(scope="module")
def grid(areas):
    return make_grid(areas)


@pytest.fixture(scope="module")
def incidents(areas):
    return self_exciting_incidents(areas.gemeente.geometry.iloc[0], 500, days=500, seed=5)


def test_cached_result_is_the_computed_one(store, grid, incidents):
    calls = []
    first, cached = cached_backtest(store, incidents, grid, ["kde"],
                                    progress=lambda d, n: calls.append((d, n)), **KW)
    assert not cached and calls[-1] == (3, 3) and len(calls) == 3  # progress per origin
    again, cached = cached_backtest(store, incidents, grid, ["kde"], **KW)
    assert cached
    pd.testing.assert_frame_equal(again.scores, first.scores)
    pd.testing.assert_frame_equal(again.summary, first.summary)
    assert again.origins == first.origins and str(again.origins[0].tz) == "Europe/Amsterdam"
    assert (again.verdict, again.best_method, again.criterion_met, again.window, again.block,
            again.warnings, again.criterion, again.end) == \
        (first.verdict, first.best_method, first.criterion_met, first.window, first.block,
         first.warnings, first.criterion, first.end)
    assert again.verdict_for("kde") == first.verdict_for("kde")
    # and both equal a backtest run without the cache
    fresh = backtest(incidents, grid, ["kde"], **KW)
    pd.testing.assert_frame_equal(fresh.summary.drop(columns="seconds"),
                                  again.summary.drop(columns="seconds"))
    # --refresh computes again
    _, cached = cached_backtest(store, incidents, grid, ["kde"], refresh=True, **KW)
    assert not cached


def test_key_changes_with_origin_data_and_parameters(grid, incidents):
    base = backtest_key(incidents, grid, ["kde"], end="2017-06-01", **KW)
    assert base == backtest_key(incidents, grid, ["kde"], end="2017-06-01", **KW)
    # another origin: another key (no verdict reused for another forecast origin)
    assert base != backtest_key(incidents, grid, ["kde"], end="2017-06-02", **KW)
    assert base != backtest_key(incidents, grid, ["kde"], **KW)
    assert base != backtest_key(incidents, grid, ["kde"], end="2017-06-01",
                                **{**KW, "window": "28d"})
    assert base != backtest_key(incidents, grid, ["kde", "gistar"], end="2017-06-01", **KW)
    assert base != backtest_key(incidents, grid, ["kde"], end="2017-06-01", seed=1, **KW)
    moved = incidents.copy()
    moved.loc[moved.index[0], "x"] += 10.0  # one incident corrected
    assert base != backtest_key(moved, grid, ["kde"], end="2017-06-01", **KW)
    assert base != backtest_key(incidents.iloc[:-1], grid, ["kde"], end="2017-06-01", **KW)
    assert base != backtest_key(incidents, make_grid_like(grid), ["kde"], end="2017-06-01", **KW)


def make_grid_like(grid):
    from dataclasses import replace

    return replace(grid, cell_size=grid.cell_size + 1)


def test_other_end_is_computed_not_reused(store, grid, incidents):
    end = incidents["occurred_at"].max().normalize() - pd.Timedelta(days=20)
    a, _ = cached_backtest(store, incidents, grid, ["kde"], end=end, **KW)
    b, cached = cached_backtest(store, incidents, grid, ["kde"],
                                end=end - pd.Timedelta(days=14), **KW)
    assert not cached and b.end < a.end <= end
    assert get_backtest(store, "0" * 64) is None
