"""Seeded point processes for tests and benchmarks: a homogeneous Poisson process and a
self-exciting (Hawkes-type) process with near-repeat contagion, both inside any polygon."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import TIMEZONE
from ..errors import InvalidInput


def _uniform_in(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    xmin, ymin, xmax, ymax = polygon.bounds
    out = np.empty((0, 2))
    shapely.prepare(polygon)
    while len(out) < n:
        k = int((n - len(out)) * 1.5 * (xmax - xmin) * (ymax - ymin) / polygon.area) + 16
        cand = np.c_[rng.uniform(xmin, xmax, k), rng.uniform(ymin, ymax, k)]
        cand = cand[shapely.contains_xy(polygon, cand[:, 0], cand[:, 1])]
        out = np.vstack([out, cand])
    return out[:n]


def _frame(xy: np.ndarray, days: np.ndarray, start: pd.Timestamp, crs: object,
           crime_type: str) -> gpd.GeoDataFrame:
    order = np.argsort(days, kind="stable")
    xy, days = xy[order], days[order]
    when = start + pd.to_timedelta(days, unit="D")
    return gpd.GeoDataFrame(
        {"incident_id": [f"sim-{i}" for i in range(len(days))], "crime_type": crime_type,
         "occurred_at": when, "x": xy[:, 0], "y": xy[:, 1]},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def poisson_incidents(polygon: shapely.Geometry, n: int, *, start: str = "2016-01-01",
                      days: float = 730, seed: int = 0, crs: object = "EPSG:28992",
                      crime_type: str = "woninginbraak") -> gpd.GeoDataFrame:
    """``n`` events uniform in space (inside ``polygon``) and time."""
    rng = np.random.default_rng(seed)
    xy = _uniform_in(polygon, n, rng)
    t = rng.uniform(0, days, n)
    return _frame(xy, t, pd.Timestamp(start, tz=TIMEZONE), crs, crime_type)


def self_exciting_incidents(
    polygon: shapely.Geometry, n_background: int, *, start: str = "2016-01-01",
    days: float = 730, offspring_mean: float = 0.6, sigma_m: float = 60.0,
    decay_days: float = 7.0, hotspots: int = 6, hotspot_share: float = 0.5,
    hotspot_sigma_m: float = 250.0, seed: int = 0, crs: object = "EPSG:28992",
    crime_type: str = "woninginbraak",
) -> gpd.GeoDataFrame:
    """A Hawkes process: background events (a share around fixed hotspots, the rest uniform),
    each triggering Poisson(``offspring_mean``) offspring at a Gaussian distance (σ
    ``sigma_m``) and an exponential delay (mean ``decay_days``), recursively."""
    if offspring_mean >= 1:
        raise InvalidInput("offspring_mean moet kleiner dan 1 zijn (anders explodeert het proces)")
    rng = np.random.default_rng(seed)
    n_hot = int(n_background * hotspot_share)
    centres = _uniform_in(polygon, max(hotspots, 1), rng)
    k = rng.integers(0, len(centres), n_hot)
    hot = centres[k] + rng.normal(0, hotspot_sigma_m, (n_hot, 2))
    uni = _uniform_in(polygon, n_background - n_hot, rng)
    xy = np.vstack([hot, uni])
    t = rng.uniform(0, days, n_background)
    all_xy, all_t = [xy], [t]
    gen_xy, gen_t = xy, t
    for _ in range(50):
        m = rng.poisson(offspring_mean, len(gen_t))
        if m.sum() == 0:
            break
        parent = np.repeat(np.arange(len(gen_t)), m)
        gen_xy = gen_xy[parent] + rng.normal(0, sigma_m, (parent.size, 2))
        gen_t = gen_t[parent] + rng.exponential(decay_days, parent.size)
        all_xy.append(gen_xy)
        all_t.append(gen_t)
    xy = np.vstack(all_xy)
    t = np.concatenate(all_t)
    inside = (t < days) & shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])
    return _frame(xy[inside], t[inside], pd.Timestamp(start, tz=TIMEZONE), crs, crime_type)
