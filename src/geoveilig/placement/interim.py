"""Interim inputs for the placement policies, until the hotspot engine (risk surfaces) and the
prevention registry (coverage per buurt) land. Each is ONE function the edges call, so it can be
swapped for the real engine without touching the policies.

* ``interim_demand``: recency-weighted incident counts per grid cell (default 125 m), scaled to
  the expected number of incidents in the coming window. Weight of an incident of age ``a``
  days: 0.5 ** (a / half_life); the sum is divided by the integral of that weight over the
  look-back period, which turns it into a daily rate, times the window length.
  ``residential``: a cell counts as residential when a woninginbraak was recorded there in the
  three years before ``origin`` (no BAG dwelling data in the service yet).
* ``interim_buurttent_table``: HIC incidents per buurt in the year before ``origin`` as the HIC
  risk; ``uncovered_share`` as given (the CLI takes 1 - coverage share from the prevention
  registry when it holds groups), else 1 (unknown); inhabitants from the area data when present
  (never invented).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import RD_NEW
from ..areas import Areas
from ..errors import InvalidInput
from ..hotspots.grid import Grid
from ..spatial import require_rd
from ..times import local_timestamp

__all__ = ["INTERIM_METHOD", "interim_buurttent_table", "interim_demand"]

INTERIM_METHOD = "interim: recentheidsgewogen tellingen per cel"


def interim_demand(
    incidents: gpd.GeoDataFrame,
    areas: Areas,
    *,
    origin: date | datetime | str | pd.Timestamp,
    window_days: float = 28,
    crime_types: Iterable[str] | None = None,
    cell_size: float = 125.0,
    lookback_days: float = 365,
    half_life_days: float = 60,
) -> gpd.GeoDataFrame:
    """Demand cells (cell centres, EPSG:28992) inside the gemeente with ``risk`` (expected
    incidents of ``crime_types`` in the ``window_days`` after ``origin``), ``buurt_code``,
    ``wijk_code``, ``residential`` and ``count`` (incidents in the look-back)."""
    require_rd(incidents, "incidenten")
    for name, v in (("venster", window_days), ("terugblik", lookback_days),
                    ("halfwaardetijd", half_life_days), ("celgrootte", cell_size)):
        if not v > 0:
            raise InvalidInput(f"{name} moet groter dan 0 zijn (kreeg {v})")
    t0 = local_timestamp(origin)
    grid = Grid.over_bounds(areas.buurten.total_bounds, cell_size, RD_NEW)
    n_cells = grid.n_cells
    cx, cy = grid.cx, grid.cy
    where = areas.assign(cx, cy)
    inside = where["buurt_code"].notna().to_numpy()

    inc = incidents
    t = pd.to_datetime(inc["occurred_at"])
    age = ((t0 - t) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    cell = grid.cell_of(inc.geometry.x.to_numpy(), inc.geometry.y.to_numpy())
    on_grid = cell >= 0
    types = inc["crime_type"].to_numpy(dtype=object)
    wanted = np.ones(len(inc), dtype=bool) if crime_types is None else \
        np.isin(types, list(crime_types))
    recent = on_grid & wanted & (age > 0) & (age <= lookback_days)
    w = 0.5 ** (age[recent] / half_life_days)
    norm = half_life_days / np.log(2) * (1 - 0.5 ** (lookback_days / half_life_days))
    risk = np.bincount(cell[recent], weights=w, minlength=n_cells) / norm * window_days
    count = np.bincount(cell[recent], minlength=n_cells)
    burgl = on_grid & (types == "woninginbraak") & (age > 0) & (age <= 3 * 365)
    residential = np.bincount(cell[burgl], minlength=n_cells) > 0
    frame = pd.DataFrame({
        "cell_id": np.arange(n_cells)[inside], "risk": risk[inside], "count": count[inside],
        "buurt_code": where["buurt_code"].to_numpy()[inside],
        "wijk_code": where["wijk_code"].to_numpy()[inside],
        "residential": residential[inside],
    })
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(cx[inside], cy[inside]),
                            crs=RD_NEW)


def interim_buurttent_table(
    incidents: pd.DataFrame,
    areas: Areas,
    *,
    origin: date | datetime | str | pd.Timestamp,
    hic_types: Iterable[str],
    lookback_days: float = 365,
    uncovered_share: pd.Series | None = None,
) -> pd.DataFrame:
    """Per buurt: ``buurt_code``, ``wijk_code``, ``hic_risk`` (HIC incidents in the look-back
    year), ``uncovered_share`` (from ``uncovered_share``, a Series indexed by buurt code, e.g.
    1 - the prevention registry's coverage share; 1.0 = unknown where absent) and
    ``inhabitants`` when the areas have it."""
    t0 = local_timestamp(origin)
    t = pd.to_datetime(incidents["occurred_at"])
    sel = (t < t0) & (t >= t0 - pd.Timedelta(days=lookback_days)) & \
        incidents["crime_type"].isin(list(hic_types))
    counts = incidents.loc[sel].groupby("buurt_code").size()
    b = areas.buurten
    table = pd.DataFrame({
        "buurt_code": b["code"].to_numpy(), "wijk_code": b["wijk_code"].to_numpy(),
        "hic_risk": counts.reindex(b["code"]).fillna(0).to_numpy(dtype=float),
        "uncovered_share": 1.0 if uncovered_share is None else
        pd.to_numeric(uncovered_share, errors="coerce").reindex(b["code"]).fillna(1.0)
        .clip(0.0, 1.0).to_numpy(dtype=float),
    })
    if "inhabitants" in b.columns:
        table["inhabitants"] = b["inhabitants"].to_numpy()
    return table
