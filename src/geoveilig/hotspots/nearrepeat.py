"""Near-repeat test: a Knox test with Monte Carlo significance over distance x time bands, in
the manner of Ratcliffe's Near Repeat Calculator.

For every pair of events closer than the largest distance edge, the distance band and the band
of the time between them are counted (observed). Times are then permuted over the fixed
locations ``permutations`` times (seeded) and counted the same way: the mean is the expected
count, the Knox ratio is observed / expected, and the one-sided p-value is
``(1 + #{permuted >= observed}) / (permutations + 1)``. Because many bands are tested at once,
the p-values are also corrected with Benjamini-Hochberg (``q``), and a band counts as
*elevated* when its q-value is below ``alpha`` and its ratio above ``min_ratio``.

Only pairs within the largest distance edge are ever formed (k-d tree ``query_pairs``); the
permutations only redraw the pairs' time differences, so the test is cheap.

:func:`elevated_extent` reads the result as the distance/time extent over which risk after an
incident is raised (the connected elevated bands starting at the closest distance and shortest
time); :func:`recommended_bandwidths` turns it into the prospective method's bandwidths and an
alarm duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..spatial import label_regions
from .events import DAY, InsufficientData, as_events
from .fdr import benjamini_hochberg

DEFAULT_DISTANCE_EDGES = (0.0, 100.0, 200.0, 300.0, 400.0, 500.0)
DEFAULT_TIME_EDGES_DAYS = (0, 7, 14, 21, 28, 42, 56)


@dataclass(frozen=True)
class NearRepeatResult:
    distance_edges: tuple[float, ...]  # metres
    time_edges: tuple[float, ...]  # days
    observed: np.ndarray  # (n_distance_bands, n_time_bands)
    expected: np.ndarray
    ratio: np.ndarray
    p: np.ndarray
    q: np.ndarray
    elevated: np.ndarray  # bool
    n_events: int
    n_pairs: int
    permutations: int
    seed: int
    alpha: float

    def table(self) -> pd.DataFrame:
        """Long table: one row per distance x time band (Dutch-friendly labels)."""
        rows = []
        de, te = self.distance_edges, self.time_edges
        for i in range(len(de) - 1):
            for j in range(len(te) - 1):
                rows.append({
                    "distance_from": de[i], "distance_to": de[i + 1],
                    "days_from": te[j], "days_to": te[j + 1],
                    "observed": int(self.observed[i, j]), "expected": self.expected[i, j],
                    "knox_ratio": self.ratio[i, j], "p": self.p[i, j], "q": self.q[i, j],
                    "elevated": bool(self.elevated[i, j]),
                })
        return pd.DataFrame(rows)

    def ratio_frame(self) -> pd.DataFrame:
        """Knox ratios as a distance x time matrix (like the calculator's output sheet)."""
        de, te = self.distance_edges, self.time_edges
        return pd.DataFrame(
            self.ratio,
            index=[f"{de[i]:g}-{de[i + 1]:g} m" for i in range(len(de) - 1)],
            columns=[f"{te[j]:g}-{te[j + 1]:g} d" for j in range(len(te) - 1)],
        )


def _band_counts(dband: np.ndarray, dt_days: np.ndarray, time_edges: np.ndarray,
                 n_d: int) -> np.ndarray:
    n_t = time_edges.size - 1
    tband = np.searchsorted(time_edges, dt_days, side="right") - 1
    ok = (tband >= 0) & (tband < n_t)
    return np.bincount(dband[ok] * n_t + tband[ok], minlength=n_d * n_t).reshape(n_d, n_t)


#: candidate pairs compared at a time by ``pairs_within``
PAIR_BLOCK = 1 << 22


def pairs_within(points: np.ndarray, r: float) -> np.ndarray:
    """The pairs ``(i, j)``, ``i < j``, of ``points`` (n x 2) at most ``r`` apart (the pairs of
    ``scipy.spatial.cKDTree.query_pairs``, in numpy: the near-repeat test of an import's
    alerts does without loading scipy). The points are put in square cells of side ``r``;
    a pair lies in one cell or in two neighbouring ones, so only those are compared."""
    n = len(points)
    if n < 2 or not r > 0:
        return np.zeros((0, 2), dtype=np.int64)
    cx = np.floor((points[:, 0] - points[:, 0].min()) / r).astype(np.int64)
    cy = np.floor((points[:, 1] - points[:, 1].min()) / r).astype(np.int64)
    width = int(cx.max()) + 3  # a margin column: a neighbour never wraps to the next row
    cell = (cy + 1) * width + cx + 1
    order = np.argsort(cell, kind="stable")
    cells, start, count = np.unique(cell[order], return_index=True, return_counts=True)
    found = []
    for dx, dy in ((0, 0), (1, 0), (-1, 1), (0, 1), (1, 1)):  # each neighbour pair once
        other = np.searchsorted(cells, cells + dy * width + dx)
        other = np.minimum(other, len(cells) - 1)
        has = cells[other] == cells + dy * width + dx
        a_start, a_count = start[has], count[has]
        b_start, b_count = start[other[has]], count[other[has]]
        sizes = a_count * b_count
        # the candidate pairs of a few cells at a time: memory stays near the pairs found
        ends = np.cumsum(sizes)
        cuts = np.searchsorted(ends, np.arange(PAIR_BLOCK, int(ends[-1]) if len(ends) else 0,
                                               PAIR_BLOCK), side="right")
        for lo, hi in zip([0, *cuts], [*cuts, len(sizes)], strict=True):
            if hi > lo:
                found.append(_close_pairs(points, r, order, a_start[lo:hi], b_start[lo:hi],
                                          b_count[lo:hi], sizes[lo:hi], dx == dy == 0))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(found)


def _close_pairs(points: np.ndarray, r: float, order: np.ndarray, a_start: np.ndarray,
                 b_start: np.ndarray, b_count: np.ndarray, sizes: np.ndarray,
                 same: bool) -> np.ndarray:
    """The pairs at most ``r`` apart among every point of cell a and every point of cell b,
    for the cell pairs given (their points' positions in ``order``); in one cell (``same``)
    each pair once."""
    total = int(sizes.sum())
    offset = np.repeat(np.cumsum(sizes) - sizes, sizes)
    within = np.arange(total, dtype=np.int64) - offset
    nb = np.repeat(b_count, sizes)
    i = order[np.repeat(a_start, sizes) + within // nb]
    j = order[np.repeat(b_start, sizes) + within % nb]
    if same:
        keep = i < j
        i, j = i[keep], j[keep]
    dx, dy = points[i, 0] - points[j, 0], points[i, 1] - points[j, 1]
    close = dx * dx + dy * dy <= r * r  # squared, as cKDTree compares them
    i, j = i[close], j[close]
    return np.c_[np.minimum(i, j), np.maximum(i, j)]


def knox_test(
    incidents: object,
    *,
    distance_edges: tuple[float, ...] = DEFAULT_DISTANCE_EDGES,
    time_edges_days: tuple[float, ...] = DEFAULT_TIME_EDGES_DAYS,
    permutations: int = 99,
    seed: int = 0,
    alpha: float = 0.05,
    min_ratio: float = 1.2,
    min_events: int = 10,
) -> NearRepeatResult:
    """Knox test of space-time clustering (see the module docstring). Bands are half-open
    ``[from, to)``; with a first distance edge of 0 the first band includes same-location
    pairs."""
    ev = as_events(incidents)
    de = np.asarray(distance_edges, float)
    te = np.asarray(time_edges_days, float)
    if de.size < 2 or te.size < 2 or np.any(np.diff(de) <= 0) or np.any(np.diff(te) <= 0) \
            or de[0] < 0 or te[0] < 0:
        raise InvalidInput("afstands- en tijdsgrenzen moeten oplopend en niet-negatief zijn")
    if permutations < 19:
        raise InvalidInput(f"minstens 19 permutaties nodig, niet {permutations}")
    if len(ev) < min_events:
        raise InsufficientData(f"near-repeattest: te weinig incidenten ({len(ev)}, minimaal "
                               f"{min_events} nodig)")
    pts = np.c_[ev.x, ev.y]
    pairs = pairs_within(pts, de[-1])
    if pairs.size:
        d = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T)
        keep = (d >= de[0]) & (d < de[-1])
        pairs, d = pairs[keep], d[keep]
    else:
        d = np.zeros(0)
    n_d = de.size - 1
    dband = np.searchsorted(de, d, side="right") - 1
    days = ev.t / DAY
    a, b = pairs[:, 0] if pairs.size else np.zeros(0, int), pairs[:, 1] if pairs.size else \
        np.zeros(0, int)
    observed = _band_counts(dband, np.abs(days[a] - days[b]), te, n_d)
    rng = np.random.default_rng(seed)
    sims = np.empty((permutations, *observed.shape))
    for k in range(permutations):  # loop over permutations, vectorised over pairs
        perm = rng.permutation(days)
        sims[k] = _band_counts(dband, np.abs(perm[a] - perm[b]), te, n_d)
    expected = sims.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, observed / expected, np.nan)
    p = (1 + (sims >= observed[None]).sum(axis=0)) / (permutations + 1)
    q = benjamini_hochberg(p.ravel()).reshape(p.shape)
    elevated = (q < alpha) & (np.nan_to_num(ratio) > min_ratio)
    return NearRepeatResult(tuple(de), tuple(te), observed, expected, ratio, p, q, elevated,
                            len(ev), int(d.size), permutations, seed, alpha)


@dataclass(frozen=True)
class NearRepeatExtent:
    distance: float  # metres: upper edge of the elevated distance bands
    days: float  # upper edge of the elevated time bands
    found: bool


def elevated_extent(result: NearRepeatResult) -> NearRepeatExtent:
    """The distance and time extent of the elevated bands connected to the closest distance
    and shortest time band (4-connected). ``found=False`` when that first band is not
    elevated (no near-repeat pattern)."""
    if not result.elevated[0, 0]:
        return NearRepeatExtent(0.0, 0.0, False)
    labels, _ = label_regions(result.elevated)
    comp = labels == labels[0, 0]
    di, tj = np.nonzero(comp)
    return NearRepeatExtent(float(result.distance_edges[di.max() + 1]),
                            float(result.time_edges[tj.max() + 1]), True)


def recommended_bandwidths(result: NearRepeatResult, *, default_distance: float = 400.0,
                           default_days: float = 56.0) -> dict[str, object]:
    """Parameters for the prospective method and the alarm duration derived from a Knox test.

    Returns ``distance_bandwidth`` (m), ``time_bandwidth`` (e.g. ``"28d"``),
    ``alarm_days``, ``source`` ("knox", or "default" when no near-repeat pattern was found:
    then the Bowers-Johnson-Pease defaults are returned) and ``prospective``: the parameters to
    pass as ``params`` to the prospective method
    (``backtest(..., params={"prospective": rec["prospective"]})``)."""
    ext = elevated_extent(result)
    if ext.found:
        dist, days, source = ext.distance, ext.days, "knox"
    else:
        dist, days, source = default_distance, default_days, "default"
    tb = f"{days:g}d"
    return {"distance_bandwidth": dist, "time_bandwidth": tb, "alarm_days": days,
            "source": source,
            "prospective": {"distance_bandwidth": dist, "time_bandwidth": tb}}
