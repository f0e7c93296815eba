"""Emerging hot spots: Gi* over a space-time cube with a Mann-Kendall trend per cell,
classified into the categories of ArcGIS Pro's *Emerging Hot Spot Analysis*.

The cube has ``n_periods`` bins of length ``period`` ending at the origin (oldest first). Each
bin's Gi* uses the space-time neighbourhood of the cell: the cells within
``neighbour_distance`` (default: the 3x3 block) in the same bin and the ``time_steps`` previous
bins (ArcGIS's neighbourhood time step, default 1); mean and variance are those of the whole cube
(as in ArcGIS). A bin is a significant hot (cold) spot when its two-sided p-value is below
``alpha`` (no FDR by default, as in ArcGIS; ``fdr=True`` applies Benjamini-Hochberg over all
bins); bins whose space-time neighbourhood is empty are never significant (see
:mod:`.gistar`). The Mann-Kendall test runs on each cell's series of Gi* z-scores.

Categories (hot; the cold ones mirror them with ``-cold``), checked in this order:

* ``new``: hot in the final bin and never before;
* ``consecutive``: a single run of >= 2 hot bins ending in the final bin, never hot before the
  run, and < 90% of bins hot;
* ``intensifying`` / ``persistent`` / ``diminishing``: hot in >= 90% of bins including the
  final one, with a significant upward / no significant / a significant downward trend;
* ``historical``: hot in >= 90% of bins but not in the final one;
* ``oscillating``: hot in the final bin, < 90% hot, and a significant cold spot in some
  earlier bin;
* ``sporadic``: hot in the final bin, < 90% hot, never cold (on-and-off hot);
* ``no-pattern``: none of these.

Differences from ArcGIS: square cells of the analysis grid instead of a hexagon/fishnet
space-time cube built from the data, and the 90% rule is applied to the bins of the chosen
period count. For the backtest, the method's risk is the Gi* z-score of the final bin.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import ndtr  # = stats.norm.cdf, without importing scipy.stats (~1 s)

from ..errors import InvalidInput
from .events import history, parse_window, to_epoch
from .fdr import benjamini_hochberg
from .gistar import gi_star_z
from .grid import Grid

CATEGORIES = ("new", "consecutive", "intensifying", "persistent", "diminishing",
              "sporadic", "oscillating", "historical")
CATEGORY_LABELS = {
    "new": "nieuwe hotspot", "consecutive": "opeenvolgende hotspot",
    "intensifying": "toenemende hotspot", "persistent": "aanhoudende hotspot",
    "diminishing": "afnemende hotspot", "sporadic": "sporadische hotspot",
    "oscillating": "wisselende hotspot", "historical": "historische hotspot",
    "no-pattern": "geen patroon",
}
CATEGORY_LABELS.update({f"{c}-cold": CATEGORY_LABELS[c].replace("hotspot", "coldspot")
                        for c in CATEGORIES})


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Mann-Kendall trend test over the rows of ``series`` (cells x time): the
    normal-approximation z (with continuity correction and tie correction) and two-sided p."""
    x = np.asarray(series, float)
    n = x.shape[1]
    if n < 3:
        raise InvalidInput("Mann-Kendall heeft minstens 3 perioden nodig")
    i, j = np.triu_indices(n, k=1)
    diff = x[:, j] - x[:, i]
    s = np.sign(np.where(np.abs(diff) < 1e-12, 0.0, diff)).sum(axis=1)
    # tie correction: groups of equal values per row
    xs = np.sort(np.round(x, 12), axis=1)
    same = np.diff(xs, axis=1) == 0
    tie_term = np.zeros(x.shape[0])
    run = np.ones(x.shape[0])
    for k in range(n - 1):  # loop over time steps (few), vectorised over cells
        ended = ~same[:, k]
        tie_term += np.where(ended & (run > 1), run * (run - 1) * (2 * run + 5), 0.0)
        run = np.where(same[:, k], run + 1, 1.0)
    tie_term += np.where(run > 1, run * (run - 1) * (2 * run + 5), 0.0)
    var = (n * (n - 1) * (2 * n + 5) - tie_term) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.where(var > 0, z, 0.0)
    return z, 2 * ndtr(-np.abs(z))


@dataclass(frozen=True)
class EmergingResult:
    z: np.ndarray  # cells x periods, Gi* z-scores (oldest first)
    hot: np.ndarray  # bool, cells x periods
    cold: np.ndarray
    trend_z: np.ndarray
    trend_p: np.ndarray
    category: np.ndarray  # object, per cell
    period_starts: tuple[pd.Timestamp, ...]
    period: pd.Timedelta


def _classify(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_sig: np.ndarray
              ) -> np.ndarray:
    n_cells, n_t = hot.shape
    out = np.full(n_cells, "no-pattern", dtype=object)
    for flag, other, suffix in ((cold, hot, "-cold"), (hot, cold, "")):  # hot wins: last
        final = flag[:, -1]
        frac = flag.mean(axis=1)
        # length of the run of flagged bins ending in the final bin
        rev = flag[:, ::-1]
        run = np.where(rev.all(axis=1), n_t, np.argmin(rev, axis=1))
        before_run = _any_before(flag, run)
        ever_other = other[:, :-1].any(axis=1)
        many = frac >= 0.9
        up = trend_sig & (trend_z > 0)
        down = trend_sig & (trend_z < 0)
        if suffix:  # for cold spots "intensifying" means getting colder
            up, down = down, up
        cat = np.full(n_cells, "", dtype=object)
        cat[final & (run == 1) & ~before_run] = "new"
        cat[(cat == "") & final & (run >= 2) & ~before_run & ~many] = "consecutive"
        cat[(cat == "") & final & many & up] = "intensifying"
        cat[(cat == "") & final & many & down] = "diminishing"
        cat[(cat == "") & final & many] = "persistent"
        cat[(cat == "") & ~final & many] = "historical"
        cat[(cat == "") & final & ~many & ever_other] = "oscillating"
        cat[(cat == "") & final & ~many] = "sporadic"
        set_ = cat != ""
        out[set_] = cat[set_] + suffix
    return out


def _any_before(flag: np.ndarray, run: np.ndarray) -> np.ndarray:
    """Whether any bin before the final run is flagged (vectorised)."""
    n_t = flag.shape[1]
    idx = np.arange(n_t)[None, :]
    return (flag & (idx < (n_t - run)[:, None])).any(axis=1)


_WEIGHTS: dict[tuple[object, ...], sparse.csr_matrix] = {}


def _space_time_weights(grid: Grid, neighbour_distance: float | None, n_periods: int,
                        time_steps: int) -> sparse.csr_matrix:
    """The space-time neighbour weights (the spatial neighbours, self included, in the same
    and the ``time_steps`` earlier bins), built once per grid and parameters: they do not
    depend on the data, and building them cost more than the rest of the analysis at every
    origin of a backtest."""
    key = (id(grid), grid.n_cells, neighbour_distance, n_periods, time_steps)
    hit = _WEIGHTS.get(key)
    if hit is None:
        ws = grid.neighbours(neighbour_distance, include_self=True)
        tt = sparse.eye(n_periods, format="csr")
        for s in range(1, time_steps + 1):
            tt = tt + sparse.eye(n_periods, k=-s, format="csr")
        hit = _WEIGHTS[key] = sparse.kron(tt, ws, format="csr")
        weakref.finalize(grid, _WEIGHTS.pop, key, None)
    return hit


def emerging_hotspots(incidents: object, grid: Grid, origin: pd.Timestamp, *,
                      period: object = "28d", n_periods: int = 12,
                      neighbour_distance: float | None = None, time_steps: int = 1,
                      alpha: float = 0.05, fdr: bool = False) -> EmergingResult:
    """Emerging hot spot analysis of the events before ``origin`` (see module docstring)."""
    if n_periods < 3:
        raise InvalidInput(f"minstens 3 perioden nodig voor een trend, niet {n_periods}",
                           where="n_periods")
    if time_steps < 0:
        raise InvalidInput("time_steps mag niet negatief zijn")
    ev = history(incidents, origin, crs=grid.crs, min_events=3, method="emerging")
    p_len = parse_window(period, "period")
    w = int(p_len.total_seconds())
    t0 = to_epoch(origin)
    k = (t0 - ev.t) // w  # 0 = the latest period
    cell = grid.cell_of(ev.x, ev.y)
    ok = (cell >= 0) & (k < n_periods)
    tbin = n_periods - 1 - k[ok]  # oldest first
    n = grid.n_cells
    cube = np.bincount(tbin * n + cell[ok], minlength=n * n_periods).astype(float)
    wst = _space_time_weights(grid, neighbour_distance, n_periods, time_steps)
    z = gi_star_z(cube, wst)
    p = 2 * ndtr(-np.abs(z))
    empty = (wst @ (cube > 0).astype(float)) == 0
    p = np.where(empty, 1.0, p)
    if fdr:
        p = benjamini_hochberg(p)
    sig = p < alpha
    zc = z.reshape(n_periods, n).T
    sig = sig.reshape(n_periods, n).T
    hot, cold = sig & (zc > 0), sig & (zc < 0)
    tz, tp = mann_kendall(zc)
    cat = _classify(hot, cold, tz, tp < alpha)
    starts = tuple(pd.Timestamp(origin) - (n_periods - i) * p_len for i in range(n_periods))
    return EmergingResult(zc, hot, cold, tz, tp, cat, starts, p_len)


def method_emerging(incidents: object, grid: Grid, origin: pd.Timestamp, window: pd.Timedelta,
                    **params: object) -> np.ndarray:
    """Risk = the Gi* z-score of the final bin of the space-time cube."""
    res = emerging_hotspots(incidents, grid, origin, **params)  # type: ignore[arg-type]
    return res.z[:, -1]
