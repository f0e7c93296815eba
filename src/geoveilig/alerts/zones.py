"""Alert zones: where and until when the risk is raised after new incidents.

1. **Extent per crime type** (:func:`estimate_extents`): the Knox near-repeat test
   (``hotspots.nearrepeat``) on the incidents of that type in the ``HISTORY_DAYS`` before the
   reference moment gives the distance (m) and time (days) over which risk is raised. A type
   without a significant near-repeat pattern gets no alerts, except ``woninginbraak``, which
   falls back to the naive rule ``FALLBACK`` (200 m / 14 days) and says so (``source``).
2. **Generalised zone** (:func:`incident_cells`): the incident is first snapped to its 125 m
   cell; the zone is every grid cell whose centre lies within ``distance + cell/2`` of that
   cell's centre, and never fewer than ``MIN_CELLS`` cells (the nearest cells are added). So a
   zone depends on the incident's cell only: an alert can at most tell which 125 m cell an
   incident was in, never the address or the point (two incidents in one cell give the same
   zone). ``MIN_CELLS`` = 5 cells = 7.8 ha; in Helmond's residential areas that is well over
   a hundred dwellings.
3. **Merging** (:func:`build_zones`): zones of the same crime type that share a cell are merged
   (connected components), valid from the day of the first incident until the end of the
   last one's validity. Times are whole days: the alert does not reveal the hour either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import RD_NEW, TIMEZONE
from ..errors import InvalidInput
from ..hotspots import Grid, elevated_extent, knox_test
from ..hotspots.events import check_metric_crs
from ..spatial import connected
from ..times import local_timestamp

#: Crime types considered for alerts (others only rarely repeat near in space and time).
CANDIDATE_TYPES = ("woninginbraak", "inbraak-schuur-garage", "inbraak-bedrijf",
                   "diefstal-uit-motorvoertuig")
#: Types alerted even when the Knox test finds no pattern (with the fallback extent).
ALWAYS = ("woninginbraak",)
#: The naive rule: 200 m / 14 days (also the backtest's comparison).
FALLBACK = (200.0, 14.0)
#: A zone is never smaller than this many 125 m cells (5 x 1.5625 ha = 7.8 ha).
MIN_CELLS = 5
#: Days of history the extent is estimated on (two years, as the alarm planner).
HISTORY_DAYS = 730
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Extent:
    """The measured near-repeat extent of one crime type."""

    crime_type: str
    distance_m: float
    days: float
    source: str  # "knox" (measured) or "standaard" (no significant pattern: FALLBACK)
    n_events: int
    knox_ratio: float  # Knox ratio over the bands within the extent (1 = no excess)

    def text(self) -> str:
        how = ("gemeten met de Knox-test" if self.source == "knox"
               else "geen significant patroon gevonden: standaardregel")
        return (f"{self.distance_m:g} m en {self.days:g} dagen ({how}, {self.n_events} "
                "incidenten in de afgelopen twee jaar)")


def estimate_extents(history: pd.DataFrame, as_of: pd.Timestamp, *,
                     crime_types: Iterable[str] = CANDIDATE_TYPES, permutations: int = 99,
                     seed: int = 0, history_days: int = HISTORY_DAYS) -> dict[str, Extent]:
    """The near-repeat extent per crime type from the incidents in the ``history_days``
    before ``as_of`` (nothing after it: no look-ahead). Types without a pattern are left out,
    except those in ``ALWAYS`` (fallback extent, ``source="standaard"``)."""
    as_of = local_timestamp(as_of)
    when = pd.to_datetime(history["occurred_at"], utc=True)
    recent = history.loc[((when >= as_of - history_days * DAY) & (when < as_of)).to_numpy()]
    out: dict[str, Extent] = {}
    for slug in dict.fromkeys(crime_types):
        part = recent.loc[(recent["crime_type"] == slug).to_numpy()]
        result, found = None, None
        try:
            result = knox_test(part, permutations=permutations, seed=seed)
            ext = elevated_extent(result)
            if ext.found:
                found = ext
        except InvalidInput:  # too few incidents (InsufficientData) counts as no pattern
            pass
        if found is not None:
            out[slug] = Extent(slug, found.distance, found.days, "knox", len(part),
                               _ratio(result, found.distance, found.days))
        elif slug in ALWAYS:
            out[slug] = Extent(slug, FALLBACK[0], FALLBACK[1], "standaard", len(part),
                               _ratio(result, *FALLBACK))
    return out


def _ratio(result: object, distance: float, days: float) -> float:
    """Knox ratio (observed / expected pairs) over all bands within the extent: how much a
    recent incident raises the risk in its zone on average (1 without a result)."""
    if result is None:
        return 1.0
    de = np.asarray(result.distance_edges)  # type: ignore[attr-defined]
    te = np.asarray(result.time_edges)  # type: ignore[attr-defined]
    di = de[1:] <= distance + 1e-9
    tj = te[1:] <= days + 1e-9
    obs = float(result.observed[np.ix_(di, tj)].sum())  # type: ignore[attr-defined]
    exp = float(result.expected[np.ix_(di, tj)].sum())  # type: ignore[attr-defined]
    return obs / exp if exp > 0 else 1.0


def _add_days(days: pd.Series, n: int) -> pd.Series:
    """Calendar days later, at midnight (across daylight-saving changes)."""
    return (days.dt.tz_localize(None) + n * DAY).dt.tz_localize(TIMEZONE)


def cell_key(grid: Grid, cells: np.ndarray) -> np.ndarray:
    """Stable cell ids: the RD coordinates of the cell's south-west corner, ``"x_y"``."""
    x = np.round(grid.cx[cells] - grid.cell_size / 2).astype(np.int64)
    y = np.round(grid.cy[cells] - grid.cell_size / 2).astype(np.int64)
    return np.array([f"{a}_{b}" for a, b in zip(x, y, strict=True)], dtype=object)


def incident_cells(grid: Grid, x: float, y: float, distance_m: float,
                   min_cells: int = MIN_CELLS) -> np.ndarray:
    """Active cell indices of the generalised zone around a point (see the module
    docstring): a function of the point's cell only. Empty when the point is off the grid."""
    home = int(grid.cell_of(np.array([x]), np.array([y]))[0])
    return _cells_around(grid, home, distance_m, min_cells)


def _cells_around(grid: Grid, home: int, distance_m: float, min_cells: int) -> np.ndarray:
    """``incident_cells`` of a point in cell ``home`` (-1: off the grid)."""
    if home < 0:
        return np.zeros(0, dtype=np.int64)
    hx, hy = grid.cx[home], grid.cy[home]
    d = np.hypot(grid.cx - hx, grid.cy - hy)
    inside = np.flatnonzero(d <= distance_m + grid.cell_size / 2 + 1e-6)
    if inside.size < min_cells:
        inside = np.argsort(d, kind="stable")[:min_cells]
    return np.sort(inside)


@dataclass(frozen=True)
class Zone:
    """One merged zone of raised risk (no point, no address, no incident id)."""

    crime_type: str
    cells: tuple[int, ...]  # active cell indices of the grid
    cell_ids: tuple[str, ...]  # stable ids (cell_key)
    geometry: shapely.Geometry  # union of the cell squares, RD metres
    valid_from: pd.Timestamp  # midnight of the day of the first incident
    valid_until: pd.Timestamp  # midnight after the last day of validity (exclusive)
    n_incidents: int
    extent: Extent
    as_of: pd.Timestamp  # the moment the zone was derived (the newest incident known)

    @property
    def key(self) -> str:
        """Idempotency key: the same zone derived twice has the same key."""
        text = "|".join([self.crime_type, ",".join(self.cell_ids),
                         self.valid_from.date().isoformat(), self.valid_until.date().isoformat()])
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cell_union(squares: np.ndarray) -> shapely.Geometry:
    """The union of grid cell squares on a 1 m precision grid. The squares of one grid form a
    coverage (edges shared exactly, no overlaps), so the coverage union gives the same shape
    as ``shapely.union_all(squares, grid_size=1.0)`` at a fraction of its cost."""
    return shapely.set_precision(shapely.coverage_union_all(squares), 1.0)


def build_zones(incidents: pd.DataFrame, extents: dict[str, Extent], grid: Grid,
                as_of: pd.Timestamp | None = None, *, min_cells: int = MIN_CELLS
                ) -> list[Zone]:
    """Merged zones for ``incidents`` (new ones) of the types in ``extents``. Only incidents
    whose zone is still valid after ``as_of`` (default: the newest incident) count; the
    others are history, not news. Incidents off the grid are outside the study area."""
    check_metric_crs(getattr(incidents, "crs", None) or RD_NEW)
    if len(incidents) == 0:
        return []
    when = pd.to_datetime(incidents["occurred_at"], utc=True).dt.tz_convert(TIMEZONE)
    as_of = local_timestamp(as_of) if as_of is not None else when.max()
    zones: list[Zone] = []
    for slug, ext in extents.items():
        mask = (incidents["crime_type"] == slug).to_numpy()
        if not mask.any():
            continue
        day = when[mask].dt.normalize()
        until = _add_days(day, int(np.ceil(ext.days)) + 1)
        live = (until > as_of).to_numpy()
        xs = pd.to_numeric(incidents["x"]).to_numpy(float)[mask][live]
        ys = pd.to_numeric(incidents["y"]).to_numpy(float)[mask][live]
        day, until = day[live].reset_index(drop=True), until[live].reset_index(drop=True)
        # a zone depends on the incident's cell only: computed once per cell
        homes = grid.cell_of(xs, ys).tolist()
        around = {h: _cells_around(grid, h, ext.distance_m, min_cells) for h in set(homes)}
        cell_sets = [around[h] for h in homes]
        keep = [i for i, c in enumerate(cell_sets) if c.size]
        if not keep:
            continue
        rows = np.concatenate([np.full(cell_sets[i].size, k) for k, i in enumerate(keep)])
        cols = np.concatenate([cell_sets[i] for i in keep])
        # incidents whose zones share a cell are one zone: the components of the graph of
        # the incidents and the cells they cover (an incident is a smaller node than any
        # cell, so the zones are numbered first, by their first incident)
        touched, cell_node = np.unique(cols, return_inverse=True)
        label = connected(len(keep) + len(touched), rows, len(keep) + cell_node)[1][:len(keep)]
        n = int(label.max()) + 1
        geoms = grid.geometries()
        for comp in range(n):
            members = [keep[k] for k in np.flatnonzero(label == comp)]
            cells = np.unique(np.concatenate([cell_sets[i] for i in members]))
            zones.append(Zone(
                crime_type=slug, cells=tuple(int(c) for c in cells),
                cell_ids=tuple(cell_key(grid, cells)),
                geometry=_cell_union(geoms[cells]),
                valid_from=day.iloc[members].min(), valid_until=until.iloc[members].max(),
                n_incidents=len(members), extent=ext, as_of=as_of))
    return zones


def zones_frame(zones: list[Zone]) -> gpd.GeoDataFrame:
    """Zones as a GeoDataFrame (EPSG:28992)."""
    return gpd.GeoDataFrame({
        "alert_key": [z.key for z in zones],
        "crime_type": [z.crime_type for z in zones],
        "n_cells": [len(z.cells) for z in zones],
        "n_incidents": [z.n_incidents for z in zones],
        "valid_from": [z.valid_from for z in zones],
        "valid_until": [z.valid_until for z in zones],
        "distance_m": [z.extent.distance_m for z in zones],
        "days": [z.extent.days for z in zones],
    }, geometry=gpd.GeoSeries([z.geometry for z in zones], crs=RD_NEW), crs=RD_NEW)
