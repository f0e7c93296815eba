"""Fast point-in-polygon assignment: a raster pre-lookup with an exact test only near
boundaries.

How it works (``PolygonIndex``):

1. A grid covers the polygons' bounds. Every polygon boundary is densified to steps of at most
   half a cell and each sample marks its cell as *mixed*; where two consecutive samples sit in
   diagonal neighbour cells, the two cells sharing that corner are marked too. So every cell that
   a boundary passes through is mixed; every other cell lies wholly inside one polygon or wholly
   outside all of them.
2. The non-mixed cells fall apart into 4-connected regions that no boundary crosses; one
   point-in-polygon test per region (at a cell centre) labels the whole region.
3. A point is looked up by its cell: a label answers at once; only points in mixed cells get an
   exact test (shapely STRtree, ``intersects``).

Points on a shared boundary go to the polygon that comes first in the index's order (callers
sort by CBS code, so: the lowest code). Points outside every polygon get -1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from .errors import CrsError, InvalidInput

OUTSIDE = -1
MIXED = -2


def _roots(n: int, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    """For the graph of nodes 0..n-1 and edges ``a[k]``-``b[k]``: each node's root, the
    smallest node of its connected component (union-find with pointer jumping, whole
    arrays at a time: a round hooks every root to the smallest root it touches, then the
    parents jump to their roots; the edges within one component drop out)."""
    parent = np.arange(n, dtype=np.int64)
    while len(a):
        pa, pb = parent[a], parent[b]
        apart = pa != pb
        if not apart.any():
            break
        a, b, pa, pb = a[apart], b[apart], pa[apart], pb[apart]
        np.minimum.at(parent, np.maximum(pa, pb), np.minimum(pa, pb))
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return parent


def connected(n: int, a: ArrayLike, b: ArrayLike) -> tuple[int, NDArray[np.int64]]:
    """The connected components of the graph of nodes 0..n-1 and edges ``a[k]``-``b[k]``:
    their number and each node's component, numbered in the order of their smallest node
    (as ``scipy.sparse.csgraph.connected_components`` numbers them, undirected)."""
    roots = _roots(n, np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    number = np.cumsum(roots == np.arange(n)) - 1
    return (int(number[-1]) + 1 if n else 0), number[roots]


#: rasters up to this many cells are labelled in numpy (``label_regions``)
NUMPY_LABEL_CELLS = 4_000_000


def label_regions(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int32], int]:
    """The 4-connected regions of the true cells of ``mask``: each cell's region 1..n,
    numbered in the order of their first cell (row by row), 0 for false cells, and n; the
    labels of ``scipy.ndimage.label``. Up to ``NUMPY_LABEL_CELLS`` cells in numpy (a gemeente's
    raster: ``geoveilig import`` does without loading scipy), beyond that with scipy, which is
    faster there (32·10⁶ cells: 2.1 s against 4.9 s).

    Each row's runs of true cells are joined to the runs they touch in the next row: the
    regions are the components of that graph of runs (``connected``)."""
    if mask.size > NUMPY_LABEL_CELLS:
        from scipy import ndimage

        regions, n = ndimage.label(mask)
        return regions.astype(np.int32, copy=False), int(n)
    nx = mask.shape[1]
    labels = np.zeros(mask.shape, dtype=np.int32)
    if mask.size == 0 or not mask.any():
        return labels, 0
    left = np.zeros_like(mask)
    left[:, 1:] = mask[:, :-1]
    starts = mask & ~left
    run = np.cumsum(starts.ravel(), dtype=np.int64) - 1  # a cell's run (where mask holds)
    n_runs = int(run[-1]) + 1
    # a vertical touch of two runs: the first column of each stretch where both rows hold
    both = mask[:-1] & mask[1:]
    before = np.zeros_like(both)
    before[:, 1:] = both[:, :-1]
    first = np.flatnonzero((both & ~before).ravel())
    # the runs' components, numbered by their smallest (first) run: region 1, 2, ...
    n, region = connected(n_runs, run[first], run[first + nx])
    cells = mask.ravel()
    labels.ravel()[cells] = region[run[cells]] + 1
    return labels, n


def require_rd(frame: Any, what: str, *, missing_ok: bool = False) -> None:
    """Raise :class:`CrsError` (an ``InvalidInput``) unless ``frame`` (a GeoDataFrame or
    GeoSeries) is in EPSG:28992, RD New, in metres: the one check every core function that
    computes in metres makes. ``what`` names the input in the Dutch message; ``missing_ok``
    accepts a frame without a CRS (read as RD)."""
    crs = getattr(frame, "crs", None)
    if crs is None:
        if missing_ok:
            return
        raise CrsError(f"{what}: geen coördinatenstelsel (CRS); verwacht EPSG:28992 (RD New)")
    if crs.to_epsg() != 28992:
        raise CrsError(f"{what}: coördinatenstelsel {crs.to_string()} is niet RD New in meters; "
                       "zet eerst om naar EPSG:28992 (RD New)")


class PolygonIndex:
    """Assign points to the polygon that contains them.

    ``geometries``: polygons (shapely array or GeoSeries) in a projected CRS; they should not
    overlap (where they do, the first in order wins). ``max_cells`` bounds the raster's memory
    (2 or 4 bytes a cell).
    """

    def __init__(
        self,
        geometries: ArrayLike,
        *,
        cell_size: float | None = None,
        max_cells: int = 32_000_000,
        mixed_share: float = 0.05,
    ) -> None:
        geoms = np.asarray(geometries, dtype=object)
        if len(geoms) == 0:
            raise InvalidInput("geen polygonen om punten aan toe te wijzen")
        if shapely.is_empty(geoms).any() or shapely.is_missing(geoms).any():
            raise InvalidInput("lege of ontbrekende polygoon in de gebiedsindeling")
        self.geometries = geoms
        self.tree = shapely.STRtree(geoms)
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        width, height = max(xmax - xmin, 1e-9), max(ymax - ymin, 1e-9)
        area = width * height
        boundaries = shapely.boundary(geoms)
        total_length = float(shapely.length(boundaries).sum())
        if cell_size is None:
            # Mixed cells cover about 1.5 * L * c of the extent A: choose c for the wanted share,
            # but never more than max_cells cells.
            c_share = mixed_share * area / max(1.5 * total_length, 1e-9)
            c_min = np.sqrt(area / max_cells)
            cell_size = float(max(c_share, c_min))
        elif cell_size <= 0:
            raise InvalidInput(f"celgrootte moet positief zijn, niet {cell_size}")
        self.cell_size = c = float(cell_size)
        self.x0, self.y0 = float(xmin), float(ymin)
        self.nx = int(np.floor(width / c)) + 1
        self.ny = int(np.floor(height / c)) + 1
        dtype = np.int16 if len(geoms) < np.iinfo(np.int16).max else np.int32
        raster = np.zeros((self.ny, self.nx), dtype=dtype)

        # 1. Mark every cell a boundary passes through.
        dense = shapely.segmentize(boundaries, c / 2.0)
        coords, owner = shapely.get_coordinates(dense, return_index=True)
        ci = np.clip(np.floor((coords[:, 0] - self.x0) / c).astype(np.int64), 0, self.nx - 1)
        cj = np.clip(np.floor((coords[:, 1] - self.y0) / c).astype(np.int64), 0, self.ny - 1)
        mixed = np.zeros((self.ny, self.nx), dtype=bool)
        mixed[cj, ci] = True
        same = owner[1:] == owner[:-1]
        diag = same & (np.abs(np.diff(ci)) == 1) & (np.abs(np.diff(cj)) == 1)
        if diag.any():
            k = np.nonzero(diag)[0]
            mixed[cj[k], ci[k + 1]] = True
            mixed[cj[k + 1], ci[k]] = True

        # 2. Label regions of non-mixed cells; one exact test per region.
        regions, n_regions = label_regions(~mixed)
        region_label = np.full(n_regions + 1, OUTSIDE, dtype=np.int64)
        if n_regions:
            # the first cell of each region, without sorting the whole raster
            flat = regions.ravel()
            first_of = np.full(n_regions + 1, -1, dtype=np.int64)
            first_of[flat[::-1]] = np.arange(flat.size - 1, -1, -1)
            ids = np.arange(1, n_regions + 1)
            first = first_of[1:]
            fj, fi = np.divmod(first, self.nx)
            centres = shapely.points(self.x0 + (fi + 0.5) * c, self.y0 + (fj + 0.5) * c)
            region_label[ids] = self._exact(centres)
        raster[:] = region_label[regions]
        raster[mixed] = MIXED
        # A border of OUTSIDE cells lets lookups clip instead of masking.
        self.raster = np.pad(raster, 1, constant_values=OUTSIDE)
        self.mixed_share = float(mixed.mean())

    def _exact(self, points: NDArray[np.float64]) -> NDArray[np.int64]:
        out = np.full(len(points), OUTSIDE, dtype=np.int64)
        if len(points) == 0:
            return out
        pt_idx, poly_idx = self.tree.query(points, predicate="intersects")
        if len(pt_idx):
            # Lowest polygon index wins on shared boundaries (and on overlaps).
            best = np.full(len(points), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(best, pt_idx, poly_idx)
            hit = best != np.iinfo(np.int64).max
            out[hit] = best[hit]
        return out

    def lookup(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.int64]:
        """Index of the polygon containing each point (x, y), or -1."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        inv = 1.0 / self.cell_size
        # fmax maps NaN to -1, i.e. to the OUTSIDE border.
        fi = np.fmin(np.fmax((x - self.x0) * inv, -1.0), self.nx) + 1.0
        fj = np.fmin(np.fmax((y - self.y0) * inv, -1.0), self.ny) + 1.0
        flat = fj.astype(np.intp) * (self.nx + 2) + fi.astype(np.intp)
        out = self.raster.ravel()[flat].astype(np.int64)
        need = np.flatnonzero(out == MIXED)
        if len(need):
            out[need] = self._exact(shapely.points(x[need], y[need]))
        return out
