"""A learned risk model: scikit-learn ``HistGradientBoostingRegressor`` (Poisson loss) on lagged
cell counts.

Time is cut into periods of the forecast window's length on a grid through the origin: period
``k`` before the origin is ``[origin - (k+1)·window, origin - k·window)``. A *training origin*
``j >= 1`` (``j`` periods before the real origin) gets the features computed from the periods
before it and the target = the count in the period that starts there. Every target period ends
at or before the real origin, so the model is trained only on data before it (no leakage); the
forecast uses ``j = 0``.

Features per cell and origin:

* mean count per period over the last 1, 2, 4, 13 and 26 periods (temporal scales);
* the same for the 3x3 and 5x5 block of cells around the cell (spatial scales, neighbour counts);
* the long-run mean count per period of the cell since the data began, also summed over the
  3x3, 5x5 and 9x9 blocks;
* the count in the same period one year earlier (seasonal lag) and the sine/cosine of the day of
  the year of the target period's start (seasonality);
* the cell's ``share_in_area`` and any per-cell attributes passed as ``cell_features`` (for
  example buurt attributes joined on ``buurt_code``; none are invented).

Training uses ``train_periods`` (default 26) earlier origins. Almost every row has a zero
target (a handful of burglaries over thousands of cells): beyond ``zero_rows`` (8 000) the
zero-target rows are subsampled (seeded) and the kept ones weighted by the inverse of their
sampling fraction, so the Poisson loss stays unbiased while every row with an event is kept;
this is about four times faster than the uniform subsample it replaced and scored at least as
well in the backtest on the demo burglaries. Beyond ``max_rows`` (60 000) rows are subsampled
uniformly. Columns with more distinct values than ``max_bins`` are binned at their quantiles
before the fit (scikit-learn's own binning would otherwise compute weighted percentiles in
Python). Option ``gate=True`` makes it a two-part model: rows whose 9x9 block had no event
since the data began are left out of the fit and such cells get the mean target of those rows
(on the demo burglaries it scored lower, so it is off by default). The fit runs on
``n_threads`` threads (default 1: the backtest is the parallel unit, and the boosting threads
fight over shared cores).

**Shared across origins.** The counts per cell and period of the whole data set, and the
features at each period boundary, are computed once per data set, grid, window and phase
(:class:`_Timeline`, cached like the combined forecast's components) and reused by every origin
of a backtest on the same period grid (step a multiple of the window): an origin reads only the
periods before it, so sharing cannot leak (a test compares every origin with a run on the data
cut at that origin).

**Refit schedule.** The model is refitted every ``refit_periods`` (default 2) periods on a
calendar-fixed schedule and used at the origins in between with their own features (fit at the
last scheduled boundary at or before the origin, from the data before that boundary), so a
26-origin backtest fits it 13 times; an origin gets the same model alone or in a backtest.

Periods that start before the first incident are unknown (NaN, which the model handles), so
the start of the data is not read as a run of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import ndimage, sparse

from .events import Events, InsufficientData, from_epoch, history, to_epoch
from .grid import Grid

TEMPORAL_SCALES = (1, 2, 4, 13, 26)
SPATIAL_SCALES = (1, 2)  # radius in cells: 3x3 and 5x5 blocks
LONGRUN_SCALES = (1, 2, 4)  # the long-run mean also over 3x3, 5x5 and 9x9 blocks
#: column of the long-run count over the widest block: zero there = a "quiet" row
GATE_COLUMN = len(TEMPORAL_SCALES) * (1 + len(SPATIAL_SCALES)) + len(LONGRUN_SCALES)


_CONTROLLER: list[object] = []


def _limit_threads(n: int) -> Any:
    """``threadpool_limits(n)`` through one ``ThreadpoolController`` made once (after
    scikit-learn, so its OpenMP runtime is known): building the controller inspects every
    loaded library, which cost more than a prediction when done at every call."""
    from threadpoolctl import ThreadpoolController

    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=n)  # type: ignore[attr-defined]


def _bin_edges(x_fit: np.ndarray, max_bins: int) -> list[np.ndarray | None]:
    """Quantile bin edges (unweighted, from ``x_fit``) of the columns with more than
    ``max_bins`` distinct values, None for the others. :func:`_apply_bins` replaces such a
    column by its bin number, so that scikit-learn's binner takes its fast path (distinct
    values) even with sample weights, where it would compute weighted percentiles in Python."""
    qs = np.linspace(0, 1, max_bins + 1)[1:-1]
    edges: list[np.ndarray | None] = []
    for c in range(x_fit.shape[1]):
        col = x_fit[:, c]
        col = col[~np.isnan(col)]
        many = np.unique(col).size > max_bins
        edges.append(np.unique(np.quantile(col, qs)) if many else None)
    return edges


def _apply_bins(x: np.ndarray, edges: list[np.ndarray | None]) -> np.ndarray:
    """``x`` with the binned columns (:func:`_bin_edges`) replaced by their bin (NaN stays)."""
    out = np.array(x, dtype=float)
    for c, e in enumerate(edges):
        if e is not None:
            v = out[:, c]
            out[:, c] = np.where(np.isnan(v), np.nan, np.searchsorted(e, v, side="left"))
    return out


class _Timeline:
    """Counts per cell in every period of one period grid over the whole data set (sparse), and the
    features at each period boundary, shared by the rolling origins of a backtest.

    Period ``i`` is ``[phase + i·w, phase + (i+1)·w)``; the features at boundary ``q`` (the
    moment ``phase + q·w``) read only periods ``< q`` and the target of a training row at ``q``
    is period ``q``, so an origin at boundary ``Q`` reads nothing at or after ``Q`` (the counts
    of later periods exist here but are never read for it: no look-ahead). Periods that start
    before the first event are unknown (NaN); periods after the last event hold zeros."""

    def __init__(self, ev: Events, grid: Grid, w: int, phase: int) -> None:
        self.grid, self.w, self.phase = grid, w, phase
        t = ev.t.astype(np.int64)
        first = int(t[0])
        self.i0 = (first - phase) // w  # the period holding the first event
        # the first known period: the first that starts at or after the first event
        self.known_from = self.i0 + (0 if (first - phase) % w == 0 else 1)
        p = (t - phase) // w - self.i0
        n_p = int(p[-1]) + 1
        cell = grid.cell_of(ev.x, ev.y)
        ok = cell >= 0
        # sparse (cells x periods; duplicates summed): years of data on a fine grid would not
        # fit in memory as a dense matrix, and most cells are empty in most periods
        self.counts = sparse.csc_array(
            (np.ones(int(ok.sum())), (cell[ok], p[ok])), shape=(grid.n_cells, n_p))
        self.features: dict[tuple[int, int], np.ndarray] = {}
        #: fitted models (or the reason none could be fitted) per fit boundary and parameters
        self.fits: dict[tuple[object, ...], object] = {}

    def boundary(self, t: int) -> int:
        """The boundary index of the moment ``t`` (which lies on this period grid)."""
        return (t - self.phase) // self.w

    def _sum(self, a: int, b: int) -> np.ndarray:
        """Sum of the counts per cell over the known periods ``[a, b)``; ``a >= known_from``."""
        lo, hi = a - self.i0, min(b - self.i0, self.counts.shape[1])
        if hi <= lo:
            return np.zeros(self.grid.n_cells)
        return np.asarray(self.counts[:, lo:hi].sum(axis=1), dtype=float)

    def period(self, i: int) -> np.ndarray:
        """Counts per cell in period ``i`` (NaN when it starts before the first event)."""
        if i < self.known_from:
            return np.full(self.grid.n_cells, np.nan)
        return self._sum(i, i + 1)

    def _mean(self, a: int, b: int) -> np.ndarray:
        if a < self.known_from or b <= a:
            return np.full(self.grid.n_cells, np.nan)
        return self._sum(a, b) / (b - a)

    def features_at(self, q: int, per_year: int, keep: int) -> np.ndarray:
        """The feature matrix at boundary ``q`` (module docstring, float32), computed once;
        the ``keep`` latest boundaries stay cached."""
        key = (q, per_year)
        hit = self.features.get(key)
        if hit is not None:
            return hit
        grid = self.grid
        cols = []
        for span in TEMPORAL_SCALES:
            m = self._mean(q - span, q)
            cols.append(m)
            rast = grid.to_raster(np.nan_to_num(m))
            for r in SPATIAL_SCALES:
                s = ndimage.uniform_filter(rast, size=2 * r + 1, mode="constant") * \
                    (2 * r + 1) ** 2
                cols.append(np.where(np.isnan(m), np.nan, grid.from_raster(s)))
        longrun = self._mean(self.known_from, q)  # since the data began
        cols.append(longrun)
        rast = grid.to_raster(np.nan_to_num(longrun))
        for r in LONGRUN_SCALES:
            s = ndimage.uniform_filter(rast, size=2 * r + 1, mode="constant") * (2 * r + 1) ** 2
            cols.append(np.where(np.isnan(longrun), np.nan, grid.from_raster(s)))
        cols.append(self.period(q - per_year))  # the same period one year earlier
        doy = from_epoch(self.phase + q * self.w).day_of_year
        cols.append(np.full(grid.n_cells, np.sin(2 * np.pi * doy / 365.25)))
        cols.append(np.full(grid.n_cells, np.cos(2 * np.pi * doy / 365.25)))
        cols.append(grid.share_in_area)
        feats = np.column_stack(cols).astype(np.float32)
        # a backtest moves forward: keep the boundaries its next origins can still read
        while len(self.features) >= max(1, keep):
            del self.features[min(self.features)]
        self.features[key] = feats
        return feats


def _timeline(incidents: object, grid: Grid, t0: int, w: int) -> _Timeline:
    """The shared timeline of the whole data set on the period grid through ``t0``, cached per
    data set and grid (:func:`geoveilig.hotspots.combined._cached`)."""
    from .combined import _cached
    from .events import as_events

    full = as_events(incidents, grid.crs)
    phase = t0 % w
    return _cached(full, grid, ("learned-timeline", w, phase),
                   lambda: _Timeline(full, grid, w, phase))


def _rows(tl: _Timeline, big_q: int, per_year: int, train_periods: int,
          extra: np.ndarray | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Training rows at the ``train_periods`` boundaries before ``big_q``: features at
    ``big_q - j`` and the count of period ``big_q - j`` (which ends at or before ``big_q``)."""
    xs, ys = [], []
    for j in range(1, train_periods + 1):  # loop over a few training origins, not events
        target = tl.period(big_q - j)
        if np.isnan(target).all():
            break
        f = tl.features_at(big_q - j, per_year, train_periods + 2)
        xs.append(f if extra is None else np.column_stack([f, extra]))
        ys.append(target)
    return xs, ys


def _fit_poisson(x_all: np.ndarray, y: np.ndarray, rows: np.ndarray, *, zero_rows: int | None,
                 max_rows: int, max_iter: int, learning_rate: float, max_leaf_nodes: int,
                 min_samples_leaf: int, max_bins: int, seed: int, n_threads: int,
                 what: str) -> tuple[object, np.ndarray, list[np.ndarray | None]]:
    """Fit the boosting model on ``rows`` of ``x_all``: rows with a zero target beyond
    ``zero_rows`` are subsampled (seeded) and the kept ones weighted up by the inverse of their
    sampling fraction (unbiased for the Poisson loss, and the sparse rows with events all
    stay); beyond ``max_rows`` a uniform subsample. Returns the model, the feature columns
    kept and their bin edges."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    weight = np.ones(y.size)
    rng = np.random.default_rng(seed)
    if zero_rows is not None:
        zero = rows[y[rows] == 0]
        if zero.size > zero_rows:
            kept = rng.choice(zero, zero_rows, replace=False)
            weight[kept] = zero.size / zero_rows
            rows = np.sort(np.concatenate([rows[y[rows] > 0], kept]))
    if rows.size > max_rows:  # seeded uniform subsample: unbiased, bounds the fit time
        rows = np.sort(rng.choice(rows, max_rows, replace=False))
    # a feature without any known value (e.g. the seasonal lag with less than a year of
    # history) carries no information, and scikit-learn cannot bin it: leave it out
    known = ~np.isnan(x_all[rows]).all(axis=0)
    x_fit = x_all[rows][:, known]
    edges = _bin_edges(x_fit, max_bins)
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=max_iter,
                                          learning_rate=learning_rate, max_bins=max_bins,
                                          max_leaf_nodes=max_leaf_nodes,
                                          min_samples_leaf=min_samples_leaf, random_state=seed,
                                          early_stopping=False)
    with _limit_threads(n_threads):
        try:
            model.fit(_apply_bins(x_fit, edges), y[rows], sample_weight=weight[rows])
        except ValueError as exc:  # never a bare scikit-learn error for thin data
            raise InsufficientData(f"methode learned: te weinig gegevens om het model te "
                                   f"trainen ({what})") from exc
    return model, known, edges


@dataclass(frozen=True)
class FittedLearned:
    """A learned model fitted at ``t_fit`` (from the events before it), reusable at later
    moments with the same window (:func:`predict_learned`)."""

    model: object
    known: np.ndarray  # feature columns kept
    edges: list[np.ndarray | None]  # their bin edges (:func:`_bin_edges`)
    per_year: int
    t_fit: int
    train_periods: int


def fit_learned(ev: Events, grid: Grid, t_fit: int, window_s: int, *, train_periods: int = 26,
                max_iter: int = 30, max_rows: int = 60_000, zero_rows: int | None = None,
                seed: int = 0) -> FittedLearned:
    """Fit the model on the ``train_periods`` periods before ``t_fit`` (no gate, no extra
    features; ``ev`` may hold later events, they are not read). Raises ``InsufficientData``
    when too little history. ``zero_rows`` (default None: all rows, up to ``max_rows``): the
    combined forecast fits this model only a few times per backtest, and subsampling its zero
    rows lowered the combined forecast's PAI@5% in ``bench_forecast.py`` (simulated: 9.28
    instead of 9.38)."""
    if int(np.searchsorted(ev.t, t_fit, side="left")) < 10:
        raise InsufficientData("methode learned: te weinig incidenten om te trainen")
    w = int(window_s)
    per_year = max(1, round(365.25 * 86400 / w))
    tl = _timeline(ev, grid, t_fit, w)
    xs, ys = _rows(tl, tl.boundary(t_fit), per_year, train_periods, None)
    if len(ys) < 3 or sum(float(np.nansum(v)) for v in ys) == 0:
        raise InsufficientData("methode learned: te weinig voorgaande perioden met gegevens")
    x_all, y = np.vstack(xs), np.concatenate(ys)
    model, known, edges = _fit_poisson(
        x_all, y, np.arange(y.size), zero_rows=zero_rows, max_rows=max_rows, max_iter=max_iter,
        learning_rate=0.1, max_leaf_nodes=8, min_samples_leaf=20, max_bins=63, seed=seed,
        n_threads=1, what=f"{len(ys)} perioden")
    return FittedLearned(model, known, edges, per_year, t_fit, train_periods)


def predict_learned(fitted: FittedLearned, ev: Events, grid: Grid, t: int,
                    window_s: int) -> np.ndarray:
    """Expected count per cell in ``[t, t + window)`` from a model fitted at or before ``t``
    (features from the events of ``ev`` before ``t`` only)."""
    if t < fitted.t_fit:
        raise ValueError("a learned model may only be used at or after its fit moment")
    tl = _timeline(ev, grid, t, int(window_s))
    x = tl.features_at(tl.boundary(t), fitted.per_year, fitted.train_periods + 2)
    with _limit_threads(1):
        return fitted.model.predict(  # type: ignore[attr-defined]
            _apply_bins(x[:, fitted.known], fitted.edges))


def method_learned(incidents: object, grid: Grid, origin: pd.Timestamp, window: pd.Timedelta,
                   *, train_periods: int = 26, max_iter: int = 30, learning_rate: float = 0.1,
                   max_leaf_nodes: int = 8, min_samples_leaf: int = 20, max_rows: int = 60_000,
                   gate: bool = False, seed: int = 0, zero_rows: int | None = 8_000,
                   max_bins: int = 63, refit_periods: int = 2, n_threads: int = 1,
                   cell_features: pd.DataFrame | None = None) -> np.ndarray:
    """Expected count per active cell in ``[origin, origin + window)``.

    The model is fitted at the last boundary ``q_fit <= origin`` of a calendar-fixed schedule
    (every ``refit_periods`` periods of the window's length, counted from the epoch) on the
    ``train_periods`` periods before ``q_fit``, and predicts from the features at the origin:
    consecutive origins of a backtest share one fit (half the fits at the default 2), and an
    origin gets the same model whether it is computed alone or in a backtest."""
    history(incidents, origin, crs=grid.crs, min_events=10, method="learned")  # enough data?
    w = int(window.total_seconds())
    t0 = to_epoch(origin)
    per_year = max(1, round(365.25 * 86400 / w))
    tl = _timeline(incidents, grid, t0, w)
    big_q = tl.boundary(t0)
    q_fit = big_q - big_q % max(1, int(refit_periods))
    extra = None
    if cell_features is not None:
        extra = np.asarray(cell_features, float).reshape(grid.n_cells, -1)

    def fit() -> object:
        xs, ys = _rows(tl, q_fit, per_year, train_periods, extra)
        if len(ys) < 3:
            return InsufficientData(f"methode learned: te weinig voorgaande perioden met "
                                    f"gegevens om te trainen ({len(ys)}, minimaal 3)")
        x_all = np.vstack(xs)
        y = np.concatenate(ys)
        if y.sum() == 0:
            return InsufficientData("methode learned: geen incidenten in de trainingsperioden")
        # two-part model: rows without any event in the 9x9 block since the data began get
        # the mean target of such rows; the boosting model is fitted on the other rows only
        quiet = (np.nan_to_num(x_all[:, GATE_COLUMN]) == 0) & gate
        quiet_rate = float(y[quiet].mean()) if quiet.any() else 0.0
        if y[~quiet].sum() == 0:
            return None, None, None, quiet_rate
        try:
            model, known, edges = _fit_poisson(
                x_all, y, np.flatnonzero(~quiet), zero_rows=zero_rows, max_rows=max_rows,
                max_iter=max_iter, learning_rate=learning_rate, max_leaf_nodes=max_leaf_nodes,
                min_samples_leaf=min_samples_leaf, max_bins=max_bins, seed=seed,
                n_threads=n_threads, what=f"{len(ys)} perioden")
        except InsufficientData as exc:
            return exc
        return model, known, edges, quiet_rate

    key = (q_fit, per_year, train_periods, max_iter, learning_rate, max_leaf_nodes,
           min_samples_leaf, max_rows, gate, seed, zero_rows, max_bins)
    if extra is not None:  # per-cell attributes: not cached
        fitted = fit()
    else:
        if key not in tl.fits:
            tl.fits[key] = fit()
        fitted = tl.fits[key]
    if isinstance(fitted, InsufficientData):
        raise InsufficientData(str(fitted))
    model, known, edges, quiet_rate = cast(tuple[Any, Any, Any, float], fitted)
    x_now = tl.features_at(big_q, per_year, train_periods + 2)
    if extra is not None:
        x_now = np.column_stack([x_now, extra])
    quiet_now = (np.nan_to_num(x_now[:, GATE_COLUMN]) == 0) & gate
    pred = np.full(grid.n_cells, quiet_rate)
    if model is None or (~quiet_now).sum() == 0:
        return pred
    with _limit_threads(n_threads):
        pred[~quiet_now] = model.predict(
            _apply_bins(x_now[~quiet_now][:, known], edges))
    return pred
