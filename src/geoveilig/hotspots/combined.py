"""A combined (stacked) forecast and the choices that travel between cities, all made from the
data before the origin.

Components, each a surface per active cell computed at a moment ``T`` from the events strictly
before ``T`` only:

* ``recent``: counts in the cell over a look-back ``L`` (repeat locations); ``L`` is chosen by
  rolling likelihood (:func:`choose_lookback`);
* ``longterm``: a Gaussian kernel density of the last year (and of the last three years) at a
  bandwidth in metres chosen by rolling likelihood (:func:`choose_bandwidth`);
* ``nearrepeat``: events weighted by ``exp(-age / tau)``, each spread by a narrow Gaussian
  (σ half a cell and one cell, ``tau`` 7 and 28 days) integrated exactly over the cells: the
  self-exciting part;
* ``prospective``: the Bowers-Johnson-Pease surface (:mod:`.prospective`);
* ``learned``: the gradient-boosting model (:mod:`.learned`), refitted every 52 weeks on a
  calendar-fixed schedule and otherwise reused, so a backtest fits it a few times, not at every
  origin (a model fitted at ``T_fit`` is only used at moments ``T >= T_fit``);
* ``uniform``: every square metre the same (the floor).

**Stacking.** Every component is normalised to a distribution over the cells. The weights of
the mixture ``sum_j w_j p_j`` (``w`` on the simplex) maximise the Poisson likelihood of the
counts in ``n_windows`` rolling windows ``[origin - k·window, origin - (k-1)·window)``,
``k = 1..n_windows``, each scored with the components computed at its own start, so every
target lies before the origin (EM for mixture weights). The forecast is the mixture at the
origin times the mean count per window in those training windows (expected events per cell).

**Choices.** The bandwidth (metres) and the naive look-back are chosen by the log-likelihood of
the same rolling windows (a 1% uniform floor keeps empty cells finite). With fewer than
``MIN_WINDOWS`` training windows holding events the choice falls back to a fixed value
(bandwidth two cells, look-back eight weeks; combined: the plain mixture of recent counts and
near repeats) and a Dutch note says so; :func:`choices` reports what was chosen.

**Speed.** Component surfaces depend only on the data before their moment, so they are cached
per data set, grid and moment (rolling origins of a backtest share most of their training
windows); the kernel density here is binned at cell resolution (a Gaussian filter over the
count raster: milliseconds for 40,000 cells); the near-repeat component's per-axis Gaussian
masses of every event are computed once per data set and sliced per moment. A 26-origin
backtest on five years and 40,000 cells costs about 7 CPU seconds (``bench_forecast.py``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy import ndimage, sparse
from scipy.special import ndtr

from .events import DAY, Events, InsufficientData, as_events, as_timestamp, history, to_epoch
from .grid import Grid

_T = TypeVar("_T")

#: candidate Gaussian bandwidths, in cells (metres = cells x cell size)
BANDWIDTH_CELLS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
#: candidate naive look-backs in days
LOOKBACK_DAYS = (7, 14, 28, 56, 91, 182, 365)
FALLBACK_BANDWIDTH_CELLS = 2.0
FALLBACK_LOOKBACK_DAYS = 56
#: training windows needed (with events) for a choice from the data
MIN_WINDOWS = 3
FLOOR = 0.01
SELECT_WINDOWS = 8
STACK_WINDOWS = 12
#: the learned component is refitted every this many days (calendar-fixed schedule)
LEARNED_REFIT_DAYS = 364
#: training periods of the learned component (the standalone method uses 26)
LEARNED_PERIODS = 13
COMPONENTS = ("recent", "longterm", "nearrepeat", "prospective", "learned")

# --- cache -----------------------------------------------------------------------------------
_CACHES: dict[tuple[object, ...], dict[tuple[object, ...], Any]] = {}


def _cache(ev: Events, grid: Grid) -> dict[tuple[object, ...], Any]:
    """The cache of one data set (by the identity of its time array) on one grid; dropped when
    the data set is."""
    key = (id(ev.t), len(ev), id(grid), grid.n_cells, grid.cell_size, grid.x0, grid.y0)
    hit = _CACHES.get(key)
    if hit is None:
        hit = _CACHES[key] = {}
        weakref.finalize(ev.t, _CACHES.pop, key, None)
    return hit


def _cached(ev: Events, grid: Grid, key: tuple[object, ...], make: Callable[[], _T]) -> _T:
    c = _cache(ev, grid)
    if key not in c:
        c[key] = make()
    value: _T = c[key]
    return value


# --- surfaces --------------------------------------------------------------------------------
def _smooth(grid: Grid, values: np.ndarray, sigma_m: float) -> np.ndarray:
    r = ndimage.gaussian_filter(grid.to_raster(values), sigma_m / grid.cell_size,
                                mode="constant", truncate=4.0)
    return grid.from_raster(r)


def _axis_mass(grid: Grid, v: np.ndarray, v0: float, n: int, sigma_m: float
               ) -> sparse.csr_matrix:
    """Mass of N(v_i, σ²) in each raster column (or row) along one axis, one row per point."""
    k = int(np.ceil(5 * sigma_m / grid.cell_size)) + 1  # beyond 5 σ the mass is < 3e-7
    first = np.floor((v - v0) / grid.cell_size).astype(np.int64) - k
    idx = first[:, None] + np.arange(2 * k + 1)[None, :]
    edges = v0 + np.concatenate([idx, idx[:, -1:] + 1], axis=1) * grid.cell_size
    mass = np.diff(ndtr((edges - v[:, None]) / sigma_m), axis=1)
    ok = (idx >= 0) & (idx < n)
    rows = np.broadcast_to(np.arange(v.size)[:, None], idx.shape)
    return sparse.csr_matrix((mass[ok], (rows[ok], idx[ok])), shape=(v.size, n))


def gaussian_cell_mass(grid: Grid, x: np.ndarray, y: np.ndarray, w: np.ndarray,
                       sigma_m: float, *,
                       masses: tuple[sparse.csr_matrix, sparse.csr_matrix] | None = None
                       ) -> np.ndarray:
    """``sum_i w_i`` times the mass of N((x_i, y_i), σ²) in each active cell, integrated exactly
    (separable: one matrix product of the per-axis masses, no binning error). ``masses``: the
    per-axis masses of these points when already known (rows of a cached matrix)."""
    if x.size == 0:
        return np.zeros(grid.n_cells)
    if masses is None:
        mx = _axis_mass(grid, np.asarray(x, float), grid.x0, grid.nx, sigma_m)
        my = _axis_mass(grid, np.asarray(y, float), grid.y0, grid.ny, sigma_m)
    else:
        mx, my = masses
    raster = (my.multiply(np.asarray(w, float)[:, None]).T.tocsr() @ mx).toarray()
    return grid.from_raster(raster)


def _counts(ev: Events, grid: Grid, t: int, lookback_s: float) -> np.ndarray:
    a = int(np.searchsorted(ev.t, t - lookback_s, side="left"))
    b = int(np.searchsorted(ev.t, t, side="left"))
    return grid.counts(Events(ev.x[a:b], ev.y[a:b], ev.t[a:b]))


def recent_counts(ev: Events, grid: Grid, t: int, days: float) -> np.ndarray:
    return _cached(ev, grid, ("recent", t, days),
                   lambda: _counts(ev, grid, t, days * DAY))


def longterm_density(ev: Events, grid: Grid, t: int, days: float, sigma_m: float
                     ) -> np.ndarray:
    """Binned Gaussian KDE (cell resolution) of the events in ``[t - days, t)``."""
    return _cached(ev, grid, ("longterm", t, days, sigma_m),
                   lambda: _smooth(grid, recent_counts(ev, grid, t, days), sigma_m))


def nearrepeat_surface(ev: Events, grid: Grid, t: int, tau_days: float, sigma_m: float
                       ) -> np.ndarray:
    """``sum_i exp(-age_i / tau)`` Gaussian-smoothed (σ ``sigma_m``), events of the last
    ``8 tau`` before ``t``."""
    def make() -> np.ndarray:
        a = int(np.searchsorted(ev.t, t - 8 * tau_days * DAY, side="left"))
        b = int(np.searchsorted(ev.t, t, side="left"))
        w = np.exp(-(t - ev.t[a:b]) / (tau_days * DAY))
        # the per-axis masses of an event do not depend on the moment: computed once for all
        # events of the data set, each moment takes its rows (the same numbers, summed in the
        # same order, as computing them for its events alone)
        mx, my = _cached(ev, grid, ("axis-mass", sigma_m), lambda: (
            _axis_mass(grid, np.asarray(ev.x, float), grid.x0, grid.nx, sigma_m),
            _axis_mass(grid, np.asarray(ev.y, float), grid.y0, grid.ny, sigma_m)))
        return gaussian_cell_mass(grid, ev.x[a:b], ev.y[a:b], w, sigma_m,
                                  masses=(mx[a:b], my[a:b]))
    return _cached(ev, grid, ("nearrepeat", t, tau_days, sigma_m), make)


def prospective_surface(ev: Events, grid: Grid, t: int) -> np.ndarray:
    from .events import from_epoch
    from .prospective import prospective_risk

    return _cached(ev, grid, ("prospective", t),
                   lambda: prospective_risk(ev, grid, from_epoch(t)))


def learned_surface(ev: Events, grid: Grid, t: int, window_s: int) -> np.ndarray | None:
    """The learned model's forecast at ``t``, from the model fitted at the last refit moment
    at or before ``t`` (None when it cannot be fitted there)."""
    from .learned import fit_learned, predict_learned

    refit = LEARNED_REFIT_DAYS * DAY
    t_fit = int(t // refit * refit)

    def fit() -> object:
        try:
            return fit_learned(ev, grid, t_fit, window_s, train_periods=LEARNED_PERIODS)
        except InsufficientData:
            return None

    model = _cached(ev, grid, ("learned-model", t_fit, window_s), fit)
    if model is None:
        return None
    return _cached(ev, grid, ("learned", t, window_s),
                   lambda: predict_learned(model, ev, grid, t, window_s))  # type: ignore


# --- choices ---------------------------------------------------------------------------------
def _loglik(surface: np.ndarray, observed: np.ndarray, area: np.ndarray) -> float:
    s = surface.sum()
    p_u = area / area.sum()
    p = (1 - FLOOR) * surface / s + FLOOR * p_u if s > 0 else p_u
    nz = observed > 0
    return float(np.sum(observed[nz] * np.log(p[nz])))


def _windows(ev: Events, grid: Grid, t0: int, window_s: int, n: int
             ) -> list[tuple[int, np.ndarray]]:
    """Training windows before ``t0``: (start, observed counts) for windows with events and
    with at least ``window`` of data before their start."""
    out = []
    first = int(ev.t[0]) if len(ev) else t0
    for k in range(1, n + 1):
        start = t0 - k * window_s
        if start - window_s < first:
            break
        obs = recent_counts(ev, grid, start + window_s, window_s / DAY)
        if obs.sum() > 0:
            out.append((start, obs))
    return out


@dataclass(frozen=True)
class Choice:
    value: float
    from_data: bool
    note: str


def choose_bandwidth(ev: Events, grid: Grid, t0: int, window_s: int, *,
                     lookback_days: float = 365.0) -> Choice:
    """Gaussian bandwidth in metres with the highest rolling log-likelihood (see module)."""
    def make() -> Choice:
        wins = _windows(ev, grid, t0, window_s, SELECT_WINDOWS)
        cands = [c * grid.cell_size for c in BANDWIDTH_CELLS]
        if len(wins) < MIN_WINDOWS:
            bw = FALLBACK_BANDWIDTH_CELLS * grid.cell_size
            return Choice(bw, False, f"te weinig geschiedenis om de bandbreedte te kiezen "
                          f"({len(wins)} vensters met incidenten, minstens {MIN_WINDOWS}); "
                          f"vaste bandbreedte {bw:g} m gebruikt")
        def loglik(s: int, obs: np.ndarray, h: float) -> float:
            return _loglik(longterm_density(ev, grid, s, lookback_days, h), obs, grid.cell_area)

        ll = [sum(_cached(ev, grid, ("ll-bw", s, window_s, lookback_days, h),
                          partial(loglik, s, obs, h)) for s, obs in wins) for h in cands]
        bw = cands[int(np.argmax(ll))]
        return Choice(bw, True, f"bandbreedte {bw:g} m gekozen op {len(wins)} vensters vóór "
                      "het startmoment")
    return _cached(ev, grid, ("choose-bw", t0, window_s, lookback_days), make)


def choose_lookback(ev: Events, grid: Grid, t0: int, window_s: int) -> Choice:
    """Naive look-back in days with the highest rolling log-likelihood (see module)."""
    def make() -> Choice:
        wins = _windows(ev, grid, t0, window_s, SELECT_WINDOWS)
        if len(wins) < MIN_WINDOWS:
            return Choice(FALLBACK_LOOKBACK_DAYS, False,
                          f"te weinig geschiedenis om de terugkijkperiode te kiezen "
                          f"({len(wins)} vensters met incidenten, minstens {MIN_WINDOWS}); "
                          f"vaste terugkijkperiode {FALLBACK_LOOKBACK_DAYS} dagen gebruikt")
        def loglik(s: int, obs: np.ndarray, d: int) -> float:
            return _loglik(recent_counts(ev, grid, s, d), obs, grid.cell_area)

        ll = [sum(_cached(ev, grid, ("ll-lb", s, window_s, d), partial(loglik, s, obs, d))
                  for s, obs in wins) for d in LOOKBACK_DAYS]
        d = LOOKBACK_DAYS[int(np.argmax(ll))]
        return Choice(d, True, f"terugkijkperiode {d} dagen gekozen op {len(wins)} vensters "
                      "vóór het startmoment")
    return _cached(ev, grid, ("choose-lb", t0, window_s), make)


# --- stacking --------------------------------------------------------------------------------
def _components(ev: Events, grid: Grid, t: int, window_s: int, bw: float, lookback: float,
                use: tuple[str, ...]) -> dict[str, np.ndarray]:
    cs = grid.cell_size
    out: dict[str, np.ndarray] = {}
    if "recent" in use:
        out["recent"] = recent_counts(ev, grid, t, lookback)
    if "longterm" in use:
        out["longterm-1y"] = longterm_density(ev, grid, t, 365.0, bw)
        out["longterm-3y"] = longterm_density(ev, grid, t, 3 * 365.0, bw)
    if "nearrepeat" in use:
        for tau in (7.0, 28.0):
            for sig in (0.5, 1.0):
                out[f"nearrepeat-{tau:g}d-{sig * cs:g}m"] = nearrepeat_surface(
                    ev, grid, t, tau, sig * cs)
    if "prospective" in use:
        out["prospective"] = prospective_surface(ev, grid, t)
    if "learned" in use:
        lr = learned_surface(ev, grid, t, window_s)
        if lr is not None:
            out["learned"] = lr
    out["uniform"] = grid.cell_area
    return out


def _normalise(v: np.ndarray, area: np.ndarray) -> np.ndarray:
    v = np.clip(np.nan_to_num(np.asarray(v, float)), 0.0, None)
    s = v.sum()
    return v / s if s > 0 else area / area.sum()


def stack_weights(p: np.ndarray, y: np.ndarray, *, iterations: int = 100) -> np.ndarray:
    """Mixture weights on the simplex maximising ``sum y log(p @ w)`` (EM); ``p`` is
    (rows, components) of per-row probabilities, ``y`` the counts per row."""
    j = p.shape[1]
    w = np.full(j, 1.0 / j)
    keep = y > 0
    p, y = p[keep], y[keep]
    if y.sum() == 0:
        return w
    for _ in range(iterations):
        mix = p @ w
        r = p * w / np.where(mix > 0, mix, 1.0)[:, None]
        new = (y[:, None] * r).sum(axis=0) / y.sum()
        if np.max(np.abs(new - w)) < 1e-5:
            w = new
            break
        w = new
    return w


@dataclass(frozen=True)
class Stack:
    weights: dict[str, float]
    bandwidth: Choice
    lookback: Choice
    n_windows: int
    note: str


def fit_stack(ev: Events, grid: Grid, t0: int, window_s: int,
              use: tuple[str, ...] = COMPONENTS) -> Stack:
    """Weights of the combined forecast at ``t0`` from rolling windows before it."""
    def make() -> Stack:
        bw = choose_bandwidth(ev, grid, t0, window_s)
        lb = choose_lookback(ev, grid, t0, window_s)
        wins = _windows(ev, grid, t0, window_s, STACK_WINDOWS)
        area = grid.cell_area
        if len(wins) < MIN_WINDOWS:
            names = [n for n in _components(ev, grid, t0, window_s, bw.value, lb.value,
                                            ("recent", "nearrepeat"))]
            w = {n: (0.0 if n == "uniform" else 1.0 / (len(names) - 1)) for n in names}
            return Stack(w, bw, lb, len(wins),
                         f"te weinig geschiedenis om de gewichten te schatten ({len(wins)} "
                         f"vensters met incidenten, minstens {MIN_WINDOWS}); gelijke gewichten "
                         "voor recente aantallen en near-repeats gebruikt")
        def block(s: int, obs: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
            comp = _components(ev, grid, s, window_s, bw.value, lb.value, use)
            hit = obs > 0  # only cells with events enter the likelihood
            return list(comp), np.column_stack([_normalise(v, area)[hit]
                                                for v in comp.values()]), obs[hit]

        blocks = [_cached(ev, grid, ("stack-rows", s, window_s, bw.value, lb.value, use),
                          partial(block, s, obs)) for s, obs in wins]
        names = list(dict.fromkeys(n for b in blocks for n in b[0]))
        rows = []
        for b_names, b_p, _ in blocks:
            full = np.zeros((b_p.shape[0], len(names)))
            full[:, [names.index(n) for n in b_names]] = b_p
            missing = [names.index(n) for n in names if n not in b_names]
            if missing:  # e.g. no learned model yet at that window: it gets the uniform share
                full[:, missing] = full[:, [names.index("uniform")]]
            rows.append(full)
        w = stack_weights(np.vstack(rows), np.concatenate([b[2] for b in blocks]))  # type: ignore
        return Stack(dict(zip(names, map(float, w), strict=True)), bw, lb, len(wins),
                     f"gewichten geschat op {len(wins)} vensters vóór het startmoment")
    return _cached(ev, grid, ("stack", t0, window_s, use), make)


def combined_risk(ev: Events, grid: Grid, t0: int, window_s: int,
                  use: tuple[str, ...] = COMPONENTS) -> np.ndarray:
    stack = fit_stack(ev, grid, t0, window_s, use)
    comp = _components(ev, grid, t0, window_s, stack.bandwidth.value, stack.lookback.value,
                       tuple(use))
    area = grid.cell_area
    mix = np.zeros(grid.n_cells)
    for name, w in stack.weights.items():
        if w > 0:
            mix += w * _normalise(comp.get(name, area), area)
    wins = _windows(ev, grid, t0, window_s, STACK_WINDOWS)
    total = float(np.mean([obs.sum() for _, obs in wins])) if wins else \
        float(recent_counts(ev, grid, t0, window_s / DAY).sum())
    return mix * max(total, 1.0)


# --- methods ---------------------------------------------------------------------------------
def _prepare(incidents: object, grid: Grid, origin: pd.Timestamp, method: str,
             min_events: int = 1) -> tuple[Events, int]:
    ev = as_events(incidents, grid.crs)
    history(ev, origin, min_events=min_events, method=method)  # the checks and messages
    # the cache is per data set; every surface reads only the events before its own moment
    return ev, to_epoch(as_timestamp(origin))


def method_combined(incidents: object, grid: Grid, origin: pd.Timestamp, window: pd.Timedelta,
                    *, components: tuple[str, ...] | list[str] | str = COMPONENTS
                    ) -> np.ndarray:
    """Method ``combined``: the stacked forecast (see module docstring)."""
    use = tuple(components.split(",")) if isinstance(components, str) else tuple(components)
    unknown = set(use) - set(COMPONENTS)
    if unknown:
        from ..errors import InvalidInput

        raise InvalidInput(f"onbekende component(en) {', '.join(sorted(unknown))}; kies uit "
                           f"{', '.join(COMPONENTS)}", where="components")
    ev, t0 = _prepare(incidents, grid, origin, "combined")
    ev = ev.before(pd.Timestamp(origin)) if not isinstance(incidents, Events) else ev
    return combined_risk(ev, grid, t0, int(window.total_seconds()), use)


def choices(incidents: object, grid: Grid, origin: object, window: object, method: str,
            params: dict[str, object] | None = None) -> dict[str, object]:
    """What ``method`` chose from the data before ``origin`` (bandwidth, look-back, weights)
    with Dutch notes; empty for methods without such choices."""
    from .events import parse_window

    params = params or {}
    ev = as_events(incidents, grid.crs)
    o = as_timestamp(origin)
    t0, w = to_epoch(o), int(parse_window(window).total_seconds())
    if method == "kde" and params.get("bandwidth", "likelihood") == "likelihood":
        c = choose_bandwidth(ev, grid, t0, w)
        return {"bandwidth_m": c.value, "notes": [c.note]}
    if method == "naive" and params.get("lookback", "auto") == "auto":
        c = choose_lookback(ev, grid, t0, w)
        return {"lookback_days": c.value, "notes": [c.note]}
    if method == "combined":
        comps = params.get("components", COMPONENTS)
        use = tuple(comps.split(",")) if isinstance(comps, str) else tuple(comps)  # type: ignore
        s = fit_stack(ev, grid, t0, w, use)
        return {"bandwidth_m": s.bandwidth.value, "lookback_days": s.lookback.value,
                "weights": {k: round(v, 4) for k, v in s.weights.items()},
                "notes": [s.bandwidth.note, s.lookback.note, s.note]}
    return {}
