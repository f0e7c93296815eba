"""Prospective hotspotting (Bowers, Johnson & Pease 2004, "Prospective hot-spotting: the future
of crime mapping?", Br. J. Criminol. 44(5)).

Each past event ``i`` within ``distance_bandwidth`` metres and ``time_bandwidth`` before the
origin adds to the risk of cell ``c``::

    w_ic = 1 / (1 + d_ic / distance_unit) · 1 / (1 + t_i / time_unit)

with ``d_ic`` the distance from the event to the cell centre and ``t_i`` the age of the event at
the origin. The paper used 50 m cells as ``distance_unit``, a week as ``time_unit``, and
bandwidths of 400 m and two months; here the defaults are the grid's cell size, 7 days, 400 m and
56 days. A near-repeat test (:func:`geoveilig.hotspots.nearrepeat.knox_test`) can set the two
bandwidths from the data (:func:`~geoveilig.hotspots.nearrepeat.recommended_bandwidths`).

Events are matched to cell centres with a k-d tree (``sparse_distance_matrix``), no loops.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..errors import InvalidInput
from .events import Events, history, parse_window, to_epoch
from .grid import Grid


def prospective_risk(events: Events, grid: Grid, origin: pd.Timestamp, *,
                     distance_bandwidth: float = 400.0, time_bandwidth: object = "56d",
                     distance_unit: float | None = None, time_unit: object = "7d") -> np.ndarray:
    """Bowers-Johnson-Pease risk per active cell from ``events`` strictly before ``origin``."""
    if not np.isfinite(distance_bandwidth) or distance_bandwidth <= 0:
        raise InvalidInput(f"afstandsbandbreedte moet positief zijn, niet {distance_bandwidth}",
                           where="distance_bandwidth")
    du = grid.cell_size if distance_unit is None else float(distance_unit)
    if du <= 0:
        raise InvalidInput(f"afstandseenheid moet positief zijn, niet {distance_unit}")
    tb = parse_window(time_bandwidth, "time_bandwidth").total_seconds()
    tu = parse_window(time_unit, "time_unit").total_seconds()
    t0 = to_epoch(origin)
    ev = events.before(origin)
    recent = ev.t >= t0 - tb
    x, y, age = ev.x[recent], ev.y[recent], (t0 - ev.t[recent]).astype(float)
    if x.size == 0:
        return np.zeros(grid.n_cells)
    cells = grid.centre_tree
    pts = cKDTree(np.c_[x, y])
    dist = pts.sparse_distance_matrix(cells, distance_bandwidth, output_type="coo_matrix")
    # older SciPy drops exact zeros from the sparse matrix, newer keeps them: add the events
    # sitting on a cell centre and keep every (event, cell) pair once, whatever the version
    on_centre = cells.query(np.c_[x, y], k=1, distance_upper_bound=1e-9)[1]
    hit = on_centre < grid.n_cells
    i = np.concatenate([dist.row, np.nonzero(hit)[0]]).astype(np.int64)
    c = np.concatenate([dist.col, on_centre[hit]]).astype(np.int64)
    d = np.concatenate([dist.data, np.zeros(int(hit.sum()))])
    _, first = np.unique(i * grid.n_cells + c, return_index=True)
    i, c, d = i[first], c[first], d[first]
    wt = 1.0 / (1.0 + age / tu)
    w = wt[i] / (1.0 + d / du)
    return np.bincount(c, weights=w, minlength=grid.n_cells).astype(float)


def method_prospective(incidents: object, grid: Grid, origin: pd.Timestamp,
                       window: pd.Timedelta, **params: object) -> np.ndarray:
    """Method ``prospective`` (see module docstring). Needs at least one event before the
    origin; no recent events give a zero surface (the caller reports it)."""
    ev = history(incidents, origin, crs=grid.crs, min_events=1, method="prospective")
    return prospective_risk(ev, grid, origin, **params)  # type: ignore[arg-type]

