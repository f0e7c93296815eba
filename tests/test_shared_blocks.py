"""The shared building blocks of the core: one CRS check (spatial.require_rd) and one rule for
JSON values (geoveilig._json)."""
from __future__ import annotations

import json
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geoveilig._json import json_value
from geoveilig.errors import CrsError, InvalidInput
from geoveilig.spatial import require_rd


def _points(crs: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"a": [1]}, geometry=gpd.points_from_xy([170_000.0], [385_000.0]),
                            crs=crs)


def test_require_rd_accepts_rd_and_names_the_input_otherwise() -> None:
    require_rd(_points("EPSG:28992"), "incidenten")
    with pytest.raises(CrsError, match=r"^incidenten: coördinatenstelsel EPSG:4326"):
        require_rd(_points("EPSG:28992").to_crs(4326), "incidenten")
    with pytest.raises(CrsError, match="geen coördinatenstelsel"):
        require_rd(_points(None), "inzetten")
    # a frame without a CRS is only read as RD when the caller says so
    require_rd(_points(None), "uitgesloten zones", missing_ok=True)
    # CrsError is an InvalidInput: the edges answer 400 / exit non-zero
    assert issubclass(CrsError, InvalidInput)


def test_json_value_one_rule_for_missing_numbers_and_times() -> None:
    ts = pd.Timestamp("2024-03-31 03:30", tz="Europe/Amsterdam")
    values = [None, pd.NaT, pd.NA, float("nan"), np.float64("inf"), np.int64(3),
              np.bool_(True), ts, datetime(2024, 1, 2, 3, 4), "x", 2.5]
    got = [json_value(v) for v in values]
    assert got == [None, None, None, None, None, 3, True, ts.isoformat(),
                   "2024-01-02T03:04:00", "x", 2.5]
    assert type(got[5]) is int and type(got[6]) is bool
    json.dumps(got, allow_nan=False)
    # unknown objects stay as they are, or become text with stringify (the stored plans)
    assert json_value((1, 2)) == (1, 2)
    assert json_value((1, 2), stringify=True) == "(1, 2)"
    assert json_value(np.datetime64("NaT"), stringify=True) is None


def test_local_day_is_the_amsterdam_calendar_day() -> None:
    from geoveilig.times import local_day

    # 23:30 UTC on 31 March is already 1 April in Amsterdam (summer time, +02:00)
    assert local_day(pd.Timestamp("2024-03-31 23:30", tz="UTC")) == pd.Timestamp("2024-04-01")
    # naive = Amsterdam wall clock, also in the autumn hour that occurs twice
    assert local_day("2024-10-27 02:30") == pd.Timestamp("2024-10-27")
    assert local_day(datetime(2024, 5, 6, 7, 8)).tzinfo is None


def test_alert_extents_read_naive_times_by_the_one_time_rule() -> None:
    """The alert zones localised naive times without the importer's DST rule (the autumn hour
    that occurs twice raised); they now read them as every other part does."""
    from geoveilig.alerts.zones import estimate_extents

    history = pd.DataFrame({"occurred_at": pd.Series([], dtype="datetime64[ns, UTC]"),
                            "crime_type": pd.Series([], dtype=object)})
    out = estimate_extents(history, pd.Timestamp("2024-10-27 02:30"),
                           crime_types=["woninginbraak"])
    assert set(out) <= {"woninginbraak"}


def test_grid_over_bounds_is_the_whole_aligned_raster() -> None:
    from geoveilig.hotspots.grid import Grid, make_grid

    g = Grid.over_bounds((1010.0, 2030.0, 1490.0, 2260.0), 125.0, "EPSG:28992")
    assert (g.x0, g.y0, g.nx, g.ny) == (1000.0, 2000.0, 4, 3)
    assert g.n_cells == 12 and (g.share_in_area == 1).all()
    # the same corner and cells as make_grid over the same box
    import shapely
    m = make_grid(shapely.box(1010.0, 2030.0, 1490.0, 2260.0), 125.0, crs="EPSG:28992")
    assert (m.x0, m.y0, m.nx, m.ny) == (g.x0, g.y0, g.nx, g.ny)
    assert g.cell_of(np.array([1010.0, 1499.0, 999.0]), np.array([2030.0, 2374.0, 2030.0])
                     ).tolist() == [0, 11, -1]
    wider = Grid.over_bounds((1010.0, 2030.0, 1490.0, 2260.0), 125.0, "EPSG:28992",
                             extra_cells=1)
    assert (wider.nx, wider.ny) == (5, 4)
    with pytest.raises(InvalidInput):
        Grid.over_bounds((0, 0, 1, 1), 0.0, "EPSG:28992")
