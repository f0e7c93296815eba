"""Seeded point processes for tests and benchmarks: a homogeneous Poisson process and a
self-exciting (Hawkes-type) process with near-repeat contagion, both inside any polygon, and
the self-exciting process's true expected count per cell given its past
(:func:`self_exciting_intensity`), the oracle a forecast is measured against."""

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
    centres = _uniform_in(polygon, max(hotspots, 1), rng)  # first draw: see _centres
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


def _centres(polygon: shapely.Geometry, hotspots: int, seed: int) -> np.ndarray:
    """The hotspot centres :func:`self_exciting_incidents` draws first from its seed."""
    return _uniform_in(polygon, max(hotspots, 1), np.random.default_rng(seed))


def _cell_mass(v: np.ndarray, edges: np.ndarray, sigma: float) -> np.ndarray:
    """Mass of N(v, sigma) in each interval [edges[k], edges[k+1]): shape (len(v), k)."""
    from scipy.special import ndtr

    cdf = ndtr((edges[None, :] - np.asarray(v, float)[:, None]) / sigma)
    return np.diff(cdf, axis=1)


def self_exciting_intensity(
    polygon: shapely.Geometry, incidents: object, grid: object, origin: object,
    window: object = "14d", *, n_background: int, start: str = "2016-01-01",
    days: float = 730, offspring_mean: float = 0.6, sigma_m: float = 60.0,
    decay_days: float = 7.0, hotspots: int = 6, hotspot_share: float = 0.5,
    hotspot_sigma_m: float = 250.0, seed: int = 0,
) -> np.ndarray:
    """Expected events per active cell of ``grid`` in ``[origin, origin + window)`` of the
    process :func:`self_exciting_incidents` draws with the same arguments, given its events
    before ``origin`` (``incidents``): background (hotspot Gaussians + uniform) plus the
    direct offspring of every past event, each integrated exactly over the cell (Gaussian cell
    masses, exponential delays), times the cell's share inside the study area. Offspring of
    events inside the window itself are left out (first order), as is the loss of events that
    fall outside the polygon; both hardly change the ranking of cells."""
    from .events import as_events, parse_window, to_epoch

    win = parse_window(window).total_seconds() / 86_400
    ev = as_events(incidents).before(pd.Timestamp(origin))
    g = grid
    xe = g.x0 + np.arange(g.nx + 1) * g.cell_size  # type: ignore[attr-defined]
    ye = g.y0 + np.arange(g.ny + 1) * g.cell_size  # type: ignore[attr-defined]
    rate = n_background / days  # background events per day
    n_hot = int(n_background * hotspot_share) / n_background
    centres = _centres(polygon, hotspots, seed)
    w_hot = np.full(len(centres), rate * n_hot * win / len(centres))
    raster = (_cell_mass(centres[:, 1], ye, hotspot_sigma_m) * w_hot[:, None]).T @ \
        _cell_mass(centres[:, 0], xe, hotspot_sigma_m)
    age = (to_epoch(origin) - ev.t) / 86_400
    keep = age < 30 * decay_days
    trig = offspring_mean * (np.exp(-age[keep] / decay_days)
                             - np.exp(-(age[keep] + win) / decay_days))
    if keep.any():
        raster = raster + (_cell_mass(ev.y[keep], ye, sigma_m) * trig[:, None]).T @ \
            _cell_mass(ev.x[keep], xe, sigma_m)
    cells = g.from_raster(raster)  # type: ignore[attr-defined]
    uniform = rate * (1 - n_hot) * win / polygon.area * g.cell_size ** 2  # type: ignore
    return (cells + uniform) * g.share_in_area  # type: ignore[attr-defined]
