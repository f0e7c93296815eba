"""Synthetic benchmark data (not demo data): random incidents and polygon sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geoveilig.areas import Areas
from geoveilig.crimetypes import SLUGS


def points_in_helmond(areas: Areas, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform over the buurten's bounding box widened by 500 m (about 60% inside)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = areas.buurten.total_bounds
    return rng.uniform(x0 - 500, x1 + 500, n), rng.uniform(y0 - 500, y1 + 500, n)


def points_inside(areas: Areas, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points inside the buurten (rejection sampling)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = areas.buurten.total_bounds
    xs, ys = [], []
    got = 0
    while got < n:
        x = np.round(rng.uniform(x0, x1, 2 * n), 1)  # as written to the CSV
        y = np.round(rng.uniform(y0, y1, 2 * n), 1)
        ok = areas.buurt_index.lookup(x, y) >= 0
        xs.append(x[ok])
        ys.append(y[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def voronoi_polygons(n: int, extent: float, min_vertices: int = 100,
                     seed: int = 0) -> np.ndarray:
    """n non-overlapping polygons (a Voronoi tessellation of a square of ``extent`` metres),
    densified so that each has at least ``min_vertices`` vertices."""
    rng = np.random.default_rng(seed)
    pts = shapely.multipoints(rng.uniform(0, extent, (n, 2)))
    box = shapely.box(0, 0, extent, extent)
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box)),
                                 box)
    perim = shapely.length(cells)
    step = perim / (min_vertices + 2)
    out = shapely.segmentize(cells, step)  # per-geometry tolerance
    return out


def incident_csv(path: Path, x: np.ndarray, y: np.ndarray, seed: int = 0) -> Path:
    """A police-style Dutch CSV (``;``, decimal commas, day-first dates) with these points."""
    rng = np.random.default_rng(seed)
    n = len(x)
    start = pd.Timestamp("2012-01-01").value
    span = pd.Timestamp("2018-03-31").value - start
    t = pd.to_datetime(start + (rng.random(n) * span).astype(np.int64)).floor("min")
    frame = pd.DataFrame({
        "registratienummer": np.char.add("BENCH-", np.arange(n).astype(str)),
        "soort": np.asarray([s for s in SLUGS])[rng.integers(0, len(SLUGS), n)],
        "pleegdatum": t.strftime("%d-%m-%Y %H:%M"),
        "x": np.char.replace(np.round(x, 1).astype(str), ".", ","),
        "y": np.char.replace(np.round(y, 1).astype(str), ".", ","),
    })
    frame.to_csv(path, sep=";", index=False)
    return path
