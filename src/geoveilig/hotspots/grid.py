"""The analysis grid: square cells over a study area (default 125 m, the cell size of the Dutch
police's crime anticipation system).

A :class:`Grid` is a raster (origin ``x0, y0`` at the lower-left corner, ``nx`` columns, ``ny``
rows, row 0 at the bottom) of which only the *active* cells are kept: those that overlap the
study area by more than ``min_share``. Every per-cell array in this package is ordered like
``grid.cells`` (the active cells, by row then column). Each cell carries ``share_in_area`` (the
share of its area inside the study area) and, when :class:`~geoveilig.areas.Areas` are given,
the ``buurt_code``/``wijk_code`` of its centre (``Areas.assign``); a cell whose centre lies
outside every buurt (the generalised CBS layers do not cover the gemeente outline exactly) gets
the nearest buurt. Without Areas the codes are None.

Nothing is Helmond-specific: any projected CRS in metres and any polygon(s) work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InvalidInput
from .events import Events, check_metric_crs

if TYPE_CHECKING:  # scipy loads where a neighbour matrix is made (see ``Grid.neighbours``)
    from scipy import sparse


@dataclass(frozen=True, eq=False)
class Grid:
    x0: float
    y0: float
    cell_size: float
    nx: int
    ny: int
    crs: object
    #: flat raster index (row * nx + col) of each active cell
    flat: np.ndarray
    share_in_area: np.ndarray
    buurt_code: np.ndarray = field(repr=False)
    wijk_code: np.ndarray = field(repr=False)

    @classmethod
    def over_bounds(cls, bounds: tuple[float, float, float, float] | np.ndarray,
                    cell_size: float, crs: object, *, extra_cells: int = 0) -> Grid:
        """Every cell of the raster over ``bounds`` (xmin, ymin, xmax, ymax), its corner on
        multiples of ``cell_size`` (as :func:`make_grid`), with ``extra_cells`` more columns
        and rows on the east and north side. All cells are active (share 1, no area codes):
        for computations on a whole raster that need no study area (the interim demand, the
        search for control places)."""
        if not np.isfinite(cell_size) or cell_size <= 0:
            raise InvalidInput(f"celgrootte moet positief zijn, niet {cell_size}",
                               where="cell_size")
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        x0 = float(np.floor(xmin / cell_size) * cell_size)
        y0 = float(np.floor(ymin / cell_size) * cell_size)
        nx = int(np.ceil((xmax - x0) / cell_size)) + extra_cells
        ny = int(np.ceil((ymax - y0) / cell_size)) + extra_cells
        if nx * ny > 50_000_000:
            raise InvalidInput(f"raster te groot ({nx} x {ny} cellen); kies een grotere "
                               "celgrootte", where="cell_size")
        n = nx * ny
        return cls(x0, y0, float(cell_size), nx, ny, crs, np.arange(n), np.ones(n),
                   np.full(n, None, dtype=object), np.full(n, None, dtype=object))

    # --- geometry -------------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        return int(self.flat.size)

    @property
    def row(self) -> np.ndarray:
        return self.flat // self.nx

    @property
    def col(self) -> np.ndarray:
        return self.flat % self.nx

    @property
    def cx(self) -> np.ndarray:
        return self.x0 + (self.col + 0.5) * self.cell_size

    @property
    def cy(self) -> np.ndarray:
        return self.y0 + (self.row + 0.5) * self.cell_size

    @property
    def cell_area(self) -> np.ndarray:
        """Area of each cell inside the study area (m²)."""
        return self.share_in_area * self.cell_size**2

    @cached_property
    def centre_tree(self) -> Any:
        """A ``scipy.spatial.cKDTree`` of the cell centres, built once per grid (a backtest
        queries it at every origin)."""
        from scipy.spatial import cKDTree

        return cKDTree(np.c_[self.cx, self.cy])

    @cached_property
    def raster_to_cell(self) -> np.ndarray:
        """Raster index -> active cell index (-1 for inactive raster positions)."""
        lut = np.full(self.nx * self.ny, -1, dtype=np.int64)
        lut[self.flat] = np.arange(self.n_cells)
        return lut

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Active cell index of each point, -1 outside the active cells."""
        col = np.floor((np.asarray(x, float) - self.x0) / self.cell_size)
        row = np.floor((np.asarray(y, float) - self.y0) / self.cell_size)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        out = np.full(col.shape, -1, dtype=np.int64)
        out[inside] = self.raster_to_cell[(row[inside] * self.nx + col[inside]).astype(np.int64)]
        return out

    def counts(self, events: Events) -> np.ndarray:
        """Number of events per active cell (events outside the active cells are ignored)."""
        idx = self.cell_of(events.x, events.y)
        return np.bincount(idx[idx >= 0], minlength=self.n_cells).astype(float)

    def to_raster(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Per-cell values as a (ny, nx) raster (row 0 = south)."""
        r = np.full(self.nx * self.ny, fill, dtype=float)
        r[self.flat] = values
        return r.reshape(self.ny, self.nx)

    def from_raster(self, raster: np.ndarray) -> np.ndarray:
        return np.asarray(raster).reshape(-1)[self.flat]

    def geometries(self) -> np.ndarray:
        x, y, s = self.cx, self.cy, self.cell_size / 2
        return shapely.box(x - s, y - s, x + s, y + s)

    def cells(self) -> gpd.GeoDataFrame:
        """The active cells as a GeoDataFrame: ``cell_id``, ``row``, ``col``, ``x``, ``y``
        (centre), ``share_in_area``, ``buurt_code``, ``wijk_code``, geometry."""
        return gpd.GeoDataFrame(
            {
                "cell_id": np.arange(self.n_cells),
                "row": self.row, "col": self.col, "x": self.cx, "y": self.cy,
                "share_in_area": self.share_in_area,
                "buurt_code": self.buurt_code, "wijk_code": self.wijk_code,
            },
            geometry=self.geometries(), crs=self.crs,
        )

    # --- neighbourhoods -------------------------------------------------------------------
    def neighbours(self, distance: float | None = None, *, include_self: bool = True
                   ) -> sparse.csr_matrix:
        """Binary weights between active cells whose centres are at most ``distance`` metres
        apart (default: queen contiguity, i.e. the 3x3 block, distance = cell size x √2).
        Vectorised over raster offsets."""
        if distance is None:
            distance = self.cell_size * np.sqrt(2) * 1.0001
        if distance <= 0:
            raise InvalidInput(f"buurafstand moet positief zijn, niet {distance}")
        k = int(np.floor(distance / self.cell_size + 1e-9))
        offsets = [(dr, dc) for dr in range(-k, k + 1) for dc in range(-k, k + 1)
                   if (dr * dr + dc * dc) * self.cell_size**2 <= distance**2 * (1 + 1e-12)
                   and (include_self or (dr, dc) != (0, 0))]
        row, col = self.row, self.col
        rows, cols = [], []
        for dr, dc in offsets:  # loop over a handful of offsets, not over cells
            r2, c2 = row + dr, col + dc
            ok = (r2 >= 0) & (r2 < self.ny) & (c2 >= 0) & (c2 < self.nx)
            j = np.full(row.shape, -1, dtype=np.int64)
            j[ok] = self.raster_to_cell[r2[ok] * self.nx + c2[ok]]
            keep = j >= 0
            rows.append(np.nonzero(keep)[0])
            cols.append(j[keep])
        i = np.concatenate(rows)
        j = np.concatenate(cols)
        from scipy import sparse

        return sparse.csr_matrix((np.ones(i.size), (i, j)), shape=(self.n_cells, self.n_cells))


def make_grid(
    study_area: object,
    cell_size: float = 125.0,
    *,
    areas: object | None = None,
    crs: object | None = None,
    min_share: float = 0.0,
    align: float | None = None,
) -> Grid:
    """Cells of ``cell_size`` metres over ``study_area`` (a (Geo)DataFrame/GeoSeries of
    polygons, a shapely geometry, or :class:`~geoveilig.areas.Areas`, whose gemeente outline
    is used; its buurten then tag the cells). The raster corner is aligned to multiples of
    ``align`` (default: the cell size) so grids of different runs coincide."""
    if not np.isfinite(cell_size) or cell_size <= 0:
        raise InvalidInput(f"celgrootte moet positief zijn, niet {cell_size}", where="cell_size")
    if hasattr(study_area, "gemeente") and hasattr(study_area, "buurten"):
        areas = study_area if areas is None else areas
        study_area = study_area.gemeente  # type: ignore[attr-defined]
    if isinstance(study_area, gpd.GeoDataFrame | gpd.GeoSeries):
        check_metric_crs(study_area.crs, "studiegebied")
        crs = study_area.crs
        geom = shapely.union_all(np.asarray(study_area.geometry.values))
    elif isinstance(study_area, shapely.Geometry):
        if crs is None:
            raise InvalidInput("geef het coördinatenstelsel (crs) van het studiegebied op")
        check_metric_crs(crs, "studiegebied")
        geom = study_area
    else:
        raise InvalidInput("studiegebied moet een GeoDataFrame, GeoSeries of polygoon zijn")
    if geom.is_empty or geom.area <= 0:
        raise InvalidInput("het studiegebied is leeg")
    align = cell_size if align is None else align
    xmin, ymin, xmax, ymax = geom.bounds
    x0 = np.floor(xmin / align) * align
    y0 = np.floor(ymin / align) * align
    nx = int(np.ceil((xmax - x0) / cell_size))
    ny = int(np.ceil((ymax - y0) / cell_size))
    if nx * ny > 50_000_000:
        raise InvalidInput(f"raster te groot ({nx} x {ny} cellen); kies een grotere celgrootte",
                           where="cell_size")
    flat_all = np.arange(nx * ny)
    r, c = flat_all // nx, flat_all % nx
    # cheap pre-filter on the raster of the polygon's bounding boxes, then exact areas
    boxes = shapely.box(x0 + c * cell_size, y0 + r * cell_size,
                        x0 + (c + 1) * cell_size, y0 + (r + 1) * cell_size)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, boxes)
    share = np.zeros(nx * ny)
    inner = hit & shapely.contains_properly(geom, boxes)
    share[inner] = 1.0
    edge = hit & ~inner
    share[edge] = shapely.area(shapely.intersection(boxes[edge], geom)) / cell_size**2
    keep = share > min_share
    flat = flat_all[keep]
    share = np.clip(share[keep], 0.0, 1.0)
    cx = x0 + (flat % nx + 0.5) * cell_size
    cy = y0 + (flat // nx + 0.5) * cell_size
    if areas is not None:
        codes = areas.assign(cx, cy)  # type: ignore[attr-defined]
        buurt = codes["buurt_code"].to_numpy(object)
        wijk = codes["wijk_code"].to_numpy(object)
        missing = np.flatnonzero(pd.isna(buurt))
        if missing.size:  # centre outside every (generalised) buurt: take the nearest buurt
            bu = areas.buurten  # type: ignore[attr-defined]
            tree = shapely.STRtree(np.asarray(bu.geometry.values))
            src, dst = tree.query_nearest(shapely.points(cx[missing], cy[missing]))
            first = np.unique(src, return_index=True)[1]
            buurt[missing[src[first]]] = bu["code"].to_numpy(object)[dst[first]]
            wijk[missing[src[first]]] = bu["wijk_code"].to_numpy(object)[dst[first]]
    else:
        buurt = np.full(flat.size, None, dtype=object)
        wijk = np.full(flat.size, None, dtype=object)
    return Grid(float(x0), float(y0), float(cell_size), nx, ny, crs, flat, share, buurt, wijk)
