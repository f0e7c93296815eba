"""Accountability: the alerts replayed on the stored history.

For every year, each burglary of that year and of the days before it opens a zone exactly as a
live alert would (``zones.incident_cells``: 125 m cells, at least ``MIN_CELLS``), active from
the moment of the burglary plus ``delay_days`` (the time until the import) until the end of its
validity. Two rules side by side:

- ``knox``: the extent measured by the Knox test on the two years *before* the year (no
  look-ahead; the fallback when no pattern is found, as live);
- ``naive``: a fixed 200 m / 14 days around each burglary.

Figures per year and rule: ``hit_share`` = the share of the year's burglaries that fell in a
zone opened by an *earlier* burglary; ``area_time_share`` = the share of (area x time) of the
study area that was under an alert; ``pai`` = hit_share / area_time_share (a PAI for alerts:
1 = no better than alerting at random). And the load on the groups: alerts (zones of one day's
burglaries merged, as one import a day would give) per active prevention group per month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .. import TIMEZONE
from ..errors import InvalidInput
from ..hotspots import Grid
from ..hotspots.events import as_events
from ..prevention import ACTIVE, Registry, group_areas
from .zones import FALLBACK, HISTORY_DAYS, MIN_CELLS, estimate_extents, incident_cells

DAY_S = 86_400


@dataclass(frozen=True)
class AlertBacktest:
    per_year: pd.DataFrame  # year, rule, distance_m, days, source, n_events, hits, ...
    per_group: pd.DataFrame  # year, rule, alerts, group_months, mean, p90, max, share_over

    def table(self) -> str:
        return self.per_year.to_string(index=False) + "\n\n" + \
            self.per_group.to_string(index=False)


def _zones(home: np.ndarray, grid: Grid, distance: float, min_cells: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """(event index, cell) pairs of every event's zone (zones depend on the home cell only)."""
    cache: dict[int, np.ndarray] = {}
    ev, cells = [], []
    for i, h in enumerate(home):
        z = cache.get(int(h))
        if z is None:
            z = incident_cells(grid, float(grid.cx[h]), float(grid.cy[h]), distance, min_cells)
            cache[int(h)] = z
        ev.append(np.full(z.size, i))
        cells.append(z)
    if not ev:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(ev), np.concatenate(cells)


def _merged(cell: np.ndarray, start: np.ndarray, end: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the intervals [start, end) per cell: sorted (cell, start, end), disjoint."""
    if cell.size == 0:
        return cell, start, end
    order = np.lexsort((start, cell))
    c, s, e = cell[order], start[order], end[order]
    f = pd.DataFrame({"c": c, "s": s, "e": e})
    run = f.groupby("c")["e"].cummax()
    prev = run.groupby(f["c"]).shift(1)
    new = prev.isna().to_numpy() | (s >= prev.fillna(-np.inf).to_numpy())
    grp = np.cumsum(new)
    g = f.groupby(grp).agg(c=("c", "first"), s=("s", "min"), e=("e", "max"))
    return g["c"].to_numpy(), g["s"].to_numpy(), g["e"].to_numpy()


def _covered(cell: np.ndarray, t: np.ndarray, mc: np.ndarray, ms: np.ndarray,
             me: np.ndarray) -> np.ndarray:
    """Whether time t in cell lies in one of the merged intervals with start < t < end."""
    if mc.size == 0:
        return np.zeros(t.size, bool)
    big = float(2 ** 40)
    keys = mc.astype(float) * big + (ms - ms.min())
    q = cell.astype(float) * big + (t - ms.min())
    i = np.searchsorted(keys, q, side="left") - 1
    ok = i >= 0
    i = np.clip(i, 0, None)
    return ok & (mc[i] == cell) & (t < me[i]) & (ms[i] < t)


def _until(t: np.ndarray, days: float) -> np.ndarray:
    """End of validity as live: midnight (Amsterdam) after the incident day + ceil(days)."""
    day = pd.to_datetime(t, unit="s", utc=True).tz_convert(TIMEZONE).tz_localize(None) \
        .normalize()
    end = (day + pd.Timedelta(days=int(np.ceil(days)) + 1)).tz_localize(
        TIMEZONE, ambiguous=False, nonexistent="shift_forward")
    return np.asarray(end.tz_convert("UTC").as_unit("s").asi8, dtype=float)


def _group_cells(registry: Registry | None, areas: object, grid: Grid
                 ) -> tuple[pd.DataFrame, sparse.csr_matrix] | None:
    """Groups (all ever registered) and their overlap area (m²) with every grid cell."""
    if registry is None or registry.groups.empty:
        return None
    groups = group_areas(registry, areas, include_unregistered=True)  # type: ignore[arg-type]
    geoms = np.asarray(groups.geometry.values, dtype=object)
    cells = grid.geometries()
    tree = shapely.STRtree(cells)
    gi, ci = tree.query(geoms, predicate="intersects")
    area = shapely.area(shapely.intersection(geoms[gi], cells[ci]))
    mat = sparse.csr_matrix((area, (gi, ci)), shape=(len(groups), grid.n_cells))
    return groups, mat


def alert_backtest(incidents: pd.DataFrame, grid: Grid, *, areas: object = None,
                   registry: Registry | None = None, crime_type: str = "woninginbraak",
                   years: list[int] | None = None, delay_days: float = 0.0,
                   min_cells: int = MIN_CELLS, permutations: int = 99, seed: int = 0,
                   overload: int = 4) -> AlertBacktest:
    """The alert backtest (see the module docstring) for the ``crime_type`` incidents of
    ``incidents`` (EPSG:28992). ``years``: default every calendar year with two years of data
    before it. ``registry`` and ``areas``: the prevention groups for the load per group
    (``overload``: more alerts than this in a month counts as flooding)."""
    inc = incidents.loc[(incidents["crime_type"] == crime_type).to_numpy()]
    ev = as_events(inc)
    if len(ev) == 0:
        raise InvalidInput(f"geen incidenten van type {crime_type}", where="crimeType")
    home_all = grid.cell_of(ev.x, ev.y)
    on = home_all >= 0
    t_all = ev.t.astype(float)
    local = pd.to_datetime(ev.t, unit="s", utc=True).tz_convert(TIMEZONE)
    if years is None:
        first = local.min()
        y0 = first.year + 2 + (0 if (first.month, first.day) == (1, 1) else 1)
        years = list(range(y0, local.max().year + 1))
        if not years:
            raise InvalidInput("te weinig historie: het backtest-jaar heeft twee jaar "
                               "gegevens ervoor nodig", where="years")
    gc = _group_cells(registry, areas, grid)
    rows, loads = [], []
    for year in years:
        y_start = pd.Timestamp(year=year, month=1, day=1, tz=TIMEZONE)
        y_end = pd.Timestamp(year=year + 1, month=1, day=1, tz=TIMEZONE)
        ext = estimate_extents(inc, y_start, crime_types=(crime_type,),
                               permutations=permutations, seed=seed,
                               history_days=HISTORY_DAYS).get(crime_type)
        rules = [("naive", FALLBACK[0], FALLBACK[1], "vast")]
        if ext is not None:
            rules.insert(0, ("knox", ext.distance_m, ext.days, ext.source))
        # a year the data end in is scored up to the last incident (not the year's end)
        s0, s1 = y_start.timestamp(), min(y_end.timestamp(), float(t_all.max()) + 1.0)
        in_year = (t_all >= s0) & (t_all < s1)
        n_off = int((in_year & ~on).sum())
        for rule, dist, days, source in rules:
            src = on & (t_all >= s0 - (np.ceil(days) + 2 + delay_days) * DAY_S) & (t_all < s1)
            idx = np.flatnonzero(src)
            ev_i, cell = _zones(home_all[idx], grid, dist, min_cells)
            start = t_all[idx][ev_i] + delay_days * DAY_S
            end = _until(t_all[idx], days)[ev_i]
            mc, ms, me = _merged(cell, start, end)
            target = np.flatnonzero(in_year & on)
            hit = _covered(home_all[target], t_all[target], mc, ms, me)
            cs, ce = np.clip(ms, s0, s1), np.clip(me, s0, s1)
            alerted = float(np.sum((ce - cs) * grid.cell_area[mc]))
            share = alerted / (float(grid.cell_area.sum()) * (s1 - s0))
            hit_share = float(hit.mean()) if target.size else float("nan")
            # alerts as one import a day gives them: the day's zones merged when they share a cell
            day_of = np.floor((t_all[idx] - s0) / DAY_S).astype(np.int64)
            keep = (t_all[idx] >= s0)[ev_i]
            e_k, c_k = ev_i[keep], cell[keep]
            n_alerts = 0
            if e_k.size:
                key = day_of[e_k] * grid.n_cells + c_k
                _, col = np.unique(key, return_inverse=True)
                m = sparse.csr_matrix((np.ones(e_k.size), (e_k, col)),
                                      shape=(idx.size, col.max() + 1))
                used = np.unique(e_k)
                n_comp, lab = connected_components((m @ m.T)[used][:, used], directed=False)
                n_alerts = n_comp
                if gc is not None:
                    groups, gmat = gc
                    comp_of = np.full(idx.size, -1)
                    comp_of[used] = lab
                    zc = sparse.csr_matrix((np.ones(e_k.size), (comp_of[e_k], c_k)),
                                           shape=(n_comp, grid.n_cells))
                    zc.data[:] = 1.0
                    zc.sum_duplicates()
                    zc.data[:] = 1.0
                    overlap = (zc @ gmat.T).toarray()
                    zarea = zc @ grid.cell_area
                    concerned = overlap >= 0.01 * zarea[:, None]
                    comp_day = np.zeros(n_comp, np.int64)
                    comp_day[lab] = day_of[used]
                    month = pd.to_datetime(s0 + comp_day * DAY_S, unit="s", utc=True) \
                        .tz_convert(TIMEZONE).month.to_numpy()
                    counts = np.zeros((12, len(groups)))
                    for mth in range(1, 13):
                        counts[mth - 1] = concerned[month == mth].sum(axis=0)
                    last_month = pd.Timestamp(s1 - 1, unit="s", tz="UTC").tz_convert(
                        TIMEZONE).month
                    active = np.stack([
                        registry.status_on(  # type: ignore[union-attr]
                            pd.Timestamp(year=year, month=mth, day=1)).to_numpy() == ACTIVE
                        for mth in range(1, 13)])
                    active[last_month:] = False  # months after the data end
                    per = counts[active]
                    if per.size:
                        loads.append({
                            "year": year, "rule": rule, "group_months": int(per.size),
                            "mean": round(float(per.mean()), 2),
                            "p90": float(np.percentile(per, 90)), "max": int(per.max()),
                            f"share_over_{overload}": round(float((per > overload).mean()), 3)})
            rows.append({
                "year": year, "through": pd.Timestamp(s1 - 1, unit="s", tz="UTC")
                .tz_convert(TIMEZONE).date().isoformat(),
                "rule": rule, "distance_m": dist, "days": days,
                "source": source, "n_events": int(target.size), "off_grid": n_off,
                "hits": int(hit.sum()), "hit_share": round(hit_share, 3),
                "area_time_share": round(share, 4),
                "pai": round(hit_share / share, 2) if share > 0 else float("nan"),
                "alerts": int(n_alerts)})
    return AlertBacktest(pd.DataFrame(rows), pd.DataFrame(loads))
