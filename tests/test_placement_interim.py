"""The interim demand (until the hotspot engine lands): scaling and cells."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geoveilig.errors import CrsError, InvalidInput
from geoveilig.placement.interim import interim_buurttent_table, interim_demand


def _incidents(areas, ages_days, crime_type="woninginbraak"):
    pt = areas.buurten.set_index("code").geometry["BU07941006"].representative_point()
    origin = pd.Timestamp("2018-01-01", tz="Europe/Amsterdam")
    n = len(ages_days)
    return gpd.GeoDataFrame({
        "crime_type": [crime_type] * n,
        "occurred_at": [origin - pd.Timedelta(days=a) for a in ages_days],
        "buurt_code": ["BU07941006"] * n, "wijk_code": ["WK079410"] * n,
    }, geometry=gpd.points_from_xy([pt.x] * n, [pt.y] * n), crs="EPSG:28992")


def test_constant_rate_gives_the_rate_times_the_window(areas):
    # one incident per day for the whole look-back: the expected count in 28 days is ~28
    inc = _incidents(areas, np.arange(365) + 0.5)
    d = interim_demand(inc, areas, origin="2018-01-01", window_days=28, lookback_days=365)
    assert d["risk"].sum() == pytest.approx(28.0, rel=0.01)
    assert (d["risk"] > 0).sum() == 1
    row = d.loc[d["risk"].idxmax()]
    assert row["buurt_code"] == "BU07941006" and row["residential"]
    assert d.crs.to_epsg() == 28992
    assert d["buurt_code"].notna().all()


def test_recent_incidents_weigh_more_and_filters(areas):
    old = interim_demand(_incidents(areas, [300.0]), areas, origin="2018-01-01")
    new = interim_demand(_incidents(areas, [3.0]), areas, origin="2018-01-01")
    assert new["risk"].sum() > 10 * old["risk"].sum()
    none = interim_demand(_incidents(areas, [3.0], "vernieling"), areas, origin="2018-01-01",
                          crime_types=["woninginbraak"])
    assert none["risk"].sum() == 0
    with pytest.raises(InvalidInput, match="venster"):
        interim_demand(_incidents(areas, [3.0]), areas, origin="2018-01-01", window_days=0)
    with pytest.raises(CrsError):
        interim_demand(_incidents(areas, [3.0]).to_crs("EPSG:4326"), areas, origin="2018-01-01")


def test_buurttent_table(areas):
    inc = _incidents(areas, [10.0, 20.0, 400.0])
    t = interim_buurttent_table(inc, areas, origin="2018-01-01", hic_types=["woninginbraak"])
    assert len(t) == len(areas.buurten)
    assert t.set_index("buurt_code").loc["BU07941006", "hic_risk"] == 2
    assert (t["uncovered_share"] == 1.0).all()
    assert "inhabitants" not in t.columns  # never invented
