"""The three deployment policies: mobile alarm systems, BuurtTent visits, flexible cameras.

Inputs are plain data so that any risk engine can feed them:

* ``demand``: a GeoDataFrame (EPSG:28992) of cells, points or polygons (polygons are reduced
  to their centroid), with a ``risk`` column = expected incidents in the coming window, plus
  ``buurt_code`` and ``wijk_code``; alarms also read an optional boolean ``residential``.
* BuurtTent: a table per buurt with ``buurt_code``, ``wijk_code``, ``hic_risk`` (expected HIC
  incidents), ``uncovered_share`` (share of the buurt without active prevention, 0..1) and
  optionally ``inhabitants``, plus the buurt polygons for the visit location.

Every policy returns a ``Recommendation``: ranked sites as a GeoDataFrame (EPSG:28992) with an
explanation per site, and the objective, bound and gap of the optimisation. The per-site
``expected_covered`` values add up to the objective: every covered demand cell is attributed to
the first unit covering it (units that stay first, then new sites in rank order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.spatial import cKDTree

from .. import RD_NEW
from ..errors import InvalidInput
from ..radii import DEFAULT_RADIUS_M
from ..spatial import require_rd
from .coverage import MCLP, CoverageSolution, coverage_matrix

__all__ = [
    "DEFAULT_ALARM_DURATION_DAYS",
    "DEFAULT_RADIUS_M",
    "Labels",
    "Recommendation",
    "Rotation",
    "Schedule",
    "SiteRules",
    "SolverOptions",
    "plan_buurttent",
    "recommend_alarms",
    "recommend_cameras",
    "recommend_sites",
]

#: Default time an alarm system stays at a spot (days) until the near-repeat analysis of the
#: hotspot engine provides one: the near-repeat risk of burglary decays over roughly 4-6 weeks.
DEFAULT_ALARM_DURATION_DAYS = 42


SITE_COLUMNS = ["rank", "status", "expected_covered", "share_of_risk", "wijk_code",
                "buurt_code", "wijk_name", "buurt_name", "distance_to_existing_m", "method",
                "backtest_score", "solver", "radius_m"]


@dataclass(frozen=True)
class Recommendation:
    """Ranked sites plus the optimisation figures. ``sites['expected_covered'].sum()``
    equals ``objective`` (for BuurtTent: ``sites['priority'].sum()``)."""

    kind: str
    sites: gpd.GeoDataFrame
    objective: float
    bound: float
    gap: float
    proven: bool
    solver: str
    status: str
    total_risk: float
    solution: CoverageSolution | None = None
    rotation: pd.DataFrame | None = None
    params: dict[str, object] = field(default_factory=dict)

    def summary(self) -> str:
        gap = f"{100 * self.gap:.2f}%" if np.isfinite(self.gap) else "onbekend"
        what = "totale prioriteit" if self.kind == "buurttent" else "verwacht gedekte incidenten"
        return (f"{what}: {self.objective:.2f} (bovengrens {self.bound:.2f}, gat {gap}; "
                f"{self.status}; methode {self.solver})")


# --- options --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SiteRules:
    """Where new sites may go: ``min_spacing`` (m) between new sites and from existing units,
    ``caps_per_wijk`` (one number or a mapping wijk code -> maximum) and ``excluded`` zones
    (GeoDataFrame/GeoSeries/geometry in RD)."""

    min_spacing: float | None = None
    caps_per_wijk: int | Mapping[str, int] | None = None
    excluded: object = None


@dataclass(frozen=True)
class Labels:
    """What the explanation per site says: area ``names`` (code -> name), the risk
    ``method_name`` and its ``backtest_score``."""

    names: Mapping[str, str] | None = None
    method_name: str = ""
    backtest_score: float | None = None


@dataclass(frozen=True)
class SolverOptions:
    """How the MCLP is solved (``MCLP.solve``): ``solver`` (auto, greedy, heuristic, milp),
    the relative ``gap`` that counts as proven and the ``time_limit`` in seconds."""

    solver: str = "auto"
    gap: float = 0.01
    time_limit: float = 60.0


@dataclass(frozen=True)
class Rotation:
    """Rotation advice for alarm units in place: with ``rotate`` a unit is moved when the risk
    within its radius is below ``cooled_fraction`` x the mean risk the new sites cover."""

    rotate: bool = True
    cooled_fraction: float = 0.5


@dataclass(frozen=True)
class Schedule:
    """How long a unit stays (``duration_days``) and from when (``origin``; the sites then
    get ``start`` and ``until``)."""

    duration_days: int = DEFAULT_ALARM_DURATION_DAYS
    origin: date | datetime | str | None = None


def _site_options(rules: SiteRules, labels: Labels, solver: SolverOptions
                  ) -> dict[str, object]:
    """The options as the keyword arguments of :func:`recommend_sites`."""
    return {f.name: getattr(o, f.name) for o in (rules, labels, solver) for f in fields(o)}


# --- input handling --------------------------------------------------------------------------
def _check_rd(gdf: gpd.GeoDataFrame, what: str) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InvalidInput(f"{what}: verwacht een GeoDataFrame")
    require_rd(gdf, what)


def _points_xy(gdf: gpd.GeoDataFrame, what: str) -> NDArray[np.float64]:
    _check_rd(gdf, what)
    if len(gdf) == 0:
        return np.empty((0, 2))
    geom = gdf.geometry.values
    if geom.isna().any() or shapely.is_empty(np.asarray(geom)).any():
        raise InvalidInput(f"{what}: er zijn rijen zonder geometrie")
    pts = shapely.centroid(np.asarray(geom))
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])


def _demand(demand: gpd.GeoDataFrame, what: str = "vraag (risico per cel)"
            ) -> tuple[NDArray[np.float64], NDArray[np.float64], gpd.GeoDataFrame]:
    _check_rd(demand, what)
    missing = [c for c in ("risk", "buurt_code", "wijk_code") if c not in demand.columns]
    if missing:
        raise InvalidInput(f"{what}: kolom(men) {', '.join(missing)} ontbreken")
    risk = pd.to_numeric(demand["risk"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(risk).any() or (risk < 0).any():
        raise InvalidInput(f"{what}: kolom risk moet een getal van 0 of meer zijn in elke rij")
    if len(demand) == 0 or risk.sum() <= 0:
        raise InvalidInput(f"{what}: er is geen risico in het gekozen tijdvenster (alle cellen "
                           "0): er valt niets te dekken; kies een ruimer venster of ander type")
    return _points_xy(demand, what), risk, demand


def _areas_of(gdf: gpd.GeoDataFrame, n: int) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    b = gdf["buurt_code"].to_numpy(dtype=object) if "buurt_code" in gdf else np.full(n, None)
    w = gdf["wijk_code"].to_numpy(dtype=object) if "wijk_code" in gdf else np.full(n, None)
    return b, w


def _assign_areas(xy: NDArray[np.float64], demand_xy: NDArray[np.float64], demand: gpd.GeoDataFrame
                  ) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """buurt/wijk of arbitrary points: those of the nearest demand cell."""
    if len(xy) == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=object)
    _, idx = cKDTree(demand_xy).query(xy)
    return (demand["buurt_code"].to_numpy(dtype=object)[idx],
            demand["wijk_code"].to_numpy(dtype=object)[idx])


def _excluded_mask(xy: NDArray[np.float64], excluded: object) -> NDArray[np.bool_]:
    """True for points inside any excluded zone (GeoDataFrame/GeoSeries/geometry)."""
    if excluded is None:
        return np.zeros(len(xy), dtype=bool)
    if isinstance(excluded, gpd.GeoDataFrame | gpd.GeoSeries):
        require_rd(excluded, "uitgesloten zones", missing_ok=True)
        geoms = np.asarray(excluded.geometry.values if isinstance(excluded, gpd.GeoDataFrame)
                           else excluded.values)
    elif isinstance(excluded, shapely.Geometry):
        geoms = np.array([excluded])
    else:
        geoms = np.asarray(list(excluded))  # type: ignore[call-overload]
    pts = shapely.points(xy)
    tree = shapely.STRtree(geoms)
    hit = tree.query(pts, predicate="intersects")
    mask = np.zeros(len(xy), dtype=bool)
    mask[hit[0]] = True
    return mask


def _caps(caps_per_wijk: int | Mapping[str, int] | None, wijk: NDArray[np.object_]
          ) -> dict[str, int] | None:
    if caps_per_wijk is None:
        return None
    if isinstance(caps_per_wijk, Mapping):
        return {str(k): int(v) for k, v in caps_per_wijk.items()}
    return {str(w): int(caps_per_wijk) for w in pd.unique(wijk.astype(str))}


def _first_cover(cov: sparse.spmatrix, weights: NDArray[np.float64], n_units: int
                 ) -> NDArray[np.float64]:
    """Weight attributed to each unit: a covered cell goes to the first unit (column) covering
    it."""
    csr = sparse.csr_matrix(cov)
    csr.sort_indices()
    has = np.diff(csr.indptr) > 0
    first = csr.indices[csr.indptr[:-1][has]]
    return np.bincount(first, weights=weights[has], minlength=n_units).astype(np.float64)


def _names(codes: NDArray[np.object_], names: Mapping[str, str] | None) -> NDArray[np.object_]:
    if names is None:
        return np.full(len(codes), None, dtype=object)
    return np.array([names.get(str(c)) if c is not None else None for c in codes], dtype=object)


# --- generic coverage recommendation ---------------------------------------------------------
def recommend_sites(
    demand: gpd.GeoDataFrame,
    count: int,
    radius: float,
    *,
    candidates: gpd.GeoDataFrame | None = None,
    existing: gpd.GeoDataFrame | None = None,
    min_spacing: float | None = None,
    caps_per_wijk: int | Mapping[str, int] | None = None,
    excluded: object = None,
    costs: NDArray[np.float64] | None = None,
    budget: float | None = None,
    names: Mapping[str, str] | None = None,
    method_name: str = "",
    backtest_score: float | None = None,
    solver: str = "auto",
    gap: float = 0.01,
    time_limit: float = 60.0,
    kind: str = "sites",
) -> Recommendation:
    """Choose ``count`` new sites covering the most risk within ``radius`` metres.

    ``candidates`` default to the demand cells themselves. ``existing`` units (points) cover
    and stay; they appear first in the result with ``status='bestaand'`` and ``rank`` 0.
    ``min_spacing`` (m) applies between new sites and between new sites and existing units.
    ``caps_per_wijk``: a maximum of new sites per wijk (one number or a mapping).
    ``excluded``: polygons where no new site may go. ``costs``/``budget``: budget variant
    (then ``count`` is an upper bound)."""
    dxy, risk, dem = _demand(demand)
    if candidates is None:
        cxy = dxy
        cb, cw = _areas_of(dem, len(dem))
    else:
        cxy = _points_xy(candidates, "kandidaatlocaties")
        if "buurt_code" in candidates and "wijk_code" in candidates:
            cb, cw = _areas_of(candidates, len(candidates))
        else:
            cb, cw = _assign_areas(cxy, dxy, dem)
    if len(cxy) == 0:
        raise InvalidInput("er zijn geen kandidaatlocaties")
    exy = np.empty((0, 2))
    if existing is not None and len(existing):
        exy = _points_xy(existing, "bestaande eenheden")
    allowed = ~_excluded_mask(cxy, excluded)
    caps = _caps(caps_per_wijk, cw)
    model = MCLP.from_points(
        dxy, risk, cxy, radius, count, existing_xy=exy if len(exy) else None,
        min_spacing=min_spacing, allowed=allowed,
        site_groups=cw.astype(str) if caps else None, group_caps=caps,
        costs=costs, budget=budget, name=kind)
    sol = model.solve(solver, gap=gap, time_limit=time_limit)

    # explanation rows: existing units (attributed first), then new sites in rank order
    total = float(risk.sum())
    ex_gain = (_first_cover(coverage_matrix(dxy, exy, radius), risk, len(exy))
               if len(exy) else np.empty(0))
    if len(exy) and existing is not None:
        eb, ew = ((_areas_of(existing, len(existing)))
                  if "buurt_code" in existing and "wijk_code" in existing
                  else _assign_areas(exy, dxy, dem))
    else:
        eb = ew = np.empty(0, dtype=object)
    sxy = cxy[sol.sites]
    dist = (cKDTree(exy).query(sxy)[0] if len(exy) and len(sxy)
            else np.full(len(sxy), np.nan))
    rows = pd.DataFrame({
        "rank": np.r_[np.zeros(len(exy), dtype=int), np.arange(1, len(sxy) + 1)],
        "status": ["bestaand"] * len(exy) + ["nieuw"] * len(sxy),
        "expected_covered": np.r_[ex_gain, sol.gains],
        "wijk_code": np.r_[ew, cw[sol.sites]],
        "buurt_code": np.r_[eb, cb[sol.sites]],
        "distance_to_existing_m": np.r_[np.full(len(exy), np.nan), dist],
        "candidate_index": np.r_[np.full(len(exy), -1), sol.sites],
    })
    rows["share_of_risk"] = rows["expected_covered"] / total
    rows["wijk_name"] = _names(rows["wijk_code"].to_numpy(), names)
    rows["buurt_name"] = _names(rows["buurt_code"].to_numpy(), names)
    rows["method"] = method_name
    rows["backtest_score"] = np.nan if backtest_score is None else float(backtest_score)
    rows["solver"] = sol.method
    rows["radius_m"] = float(radius)
    allxy = np.vstack([exy, sxy]) if len(exy) else sxy
    if existing is not None and len(existing) and "unit_id" in existing:
        rows["unit_id"] = list(existing["unit_id"].astype(str)) + [None] * len(sxy)
    cols = [*SITE_COLUMNS, *[c for c in rows.columns if c not in SITE_COLUMNS]]
    sites = gpd.GeoDataFrame(rows[cols], geometry=gpd.points_from_xy(allxy[:, 0], allxy[:, 1]),
                             crs=RD_NEW)
    return Recommendation(
        kind=kind, sites=sites, objective=sol.objective, bound=sol.bound, gap=sol.gap,
        proven=sol.proven, solver=sol.method, status=sol.status, total_risk=total,
        solution=sol, params={"count": count, "radius": float(radius),
                              "min_spacing": min_spacing})


# --- mobile alarm systems --------------------------------------------------------------------
def recommend_alarms(
    demand: gpd.GeoDataFrame,
    count: int,
    *,
    radius: float = DEFAULT_RADIUS_M["alarm"],
    existing: gpd.GeoDataFrame | None = None,
    rotation: Rotation = Rotation(),
    schedule: Schedule = Schedule(),
    rules: SiteRules = SiteRules(),
    labels: Labels = Labels(),
    solver: SolverOptions = SolverOptions(),
) -> Recommendation:
    """Where to put ``count`` (more) mobile alarm systems.

    Demand is the burglary risk (woninginbraak + inbraak schuur/garage) of the coming window;
    only cells with ``residential`` True count when that column exists, and only they are
    candidates. ``schedule.duration_days`` is how long a unit should stay (from the
    near-repeat analysis). Rotation advice (``rotation.rotate`` and ``existing`` given): a unit
    is *cooled down* when the risk within its radius is below ``rotation.cooled_fraction`` x
    the mean risk covered by the recommended new sites; cooled units are released and moved to
    the best free sites (nearest target per unit), units that are still warm stay.
    ``Recommendation.rotation`` lists every placed unit with its advice."""
    cooled_fraction, duration_days = rotation.cooled_fraction, schedule.duration_days
    if not 0 <= cooled_fraction <= 1:
        raise InvalidInput(f"cooled_fraction moet tussen 0 en 1 liggen (kreeg {cooled_fraction})")
    if int(duration_days) < 1:
        raise InvalidInput(f"duur moet minstens 1 dag zijn (kreeg {duration_days})")
    _check_rd(demand, "vraag (risico per cel)")
    dem = demand
    if "residential" in demand.columns:
        dem = demand.loc[demand["residential"].fillna(False).astype(bool)]
        if len(dem) == 0:
            raise InvalidInput("geen enkele cel is als woongebied (residential) gemarkeerd")
    kw = {**_site_options(rules, labels, solver), "kind": "alarms"}
    rec = recommend_sites(dem, count, radius, existing=existing, **kw)  # type: ignore[arg-type]
    advice = None
    if existing is not None and len(existing):
        dxy, risk, _ = _demand(dem)
        exy = _points_xy(existing, "bestaande eenheden")
        around = np.asarray(coverage_matrix(dxy, exy, radius).T @ risk).ravel()
        new = rec.sites.loc[rec.sites["status"] == "nieuw", "expected_covered"]
        reference = float(new.mean()) if len(new) else 0.0
        cooled = around < cooled_fraction * reference
        unit_ids = (existing["unit_id"].astype(str).to_numpy() if "unit_id" in existing
                    else np.array([str(i) for i in existing.index]))
        advice = pd.DataFrame({
            "unit_id": unit_ids, "x": exy[:, 0], "y": exy[:, 1], "risk_in_radius": around,
            "reference_risk": reference, "cooled_down": cooled,
            "advice": np.where(cooled, "verplaatsen", "laten staan"),
            "move_to_x": np.nan, "move_to_y": np.nan, "move_to_buurt_code": None,
            "expected_covered_after_move": np.nan,
        })
        if rotation.rotate and cooled.any():
            warm = existing.iloc[np.flatnonzero(~cooled)]
            n_move = int(cooled.sum())
            rec = recommend_sites(dem, count + n_move, radius, existing=warm, **kw)  # type: ignore[arg-type]
            new_idx = np.flatnonzero(rec.sites["status"].to_numpy() == "nieuw")
            nxy = np.column_stack([rec.sites.geometry.x.to_numpy()[new_idx],
                                   rec.sites.geometry.y.to_numpy()[new_idx]])
            cxy = exy[cooled]
            dist = np.hypot(cxy[:, None, 0] - nxy[None, :, 0], cxy[:, None, 1] - nxy[None, :, 1])
            r_i, c_i = linear_sum_assignment(dist)
            status = rec.sites["status"].to_numpy(dtype=object).copy()
            moved_from = np.full(len(rec.sites), None, dtype=object)
            cooled_ids = unit_ids[cooled]
            for ri, ci in zip(r_i, c_i, strict=True):
                status[new_idx[ci]] = "verplaatst"
                moved_from[new_idx[ci]] = cooled_ids[ri]
                pos = np.flatnonzero(cooled)[ri]
                advice.loc[pos, "move_to_x"] = nxy[ci, 0]
                advice.loc[pos, "move_to_y"] = nxy[ci, 1]
                advice.loc[pos, "move_to_buurt_code"] = rec.sites["buurt_code"].iloc[new_idx[ci]]
                advice.loc[pos, "expected_covered_after_move"] = \
                    rec.sites["expected_covered"].iloc[new_idx[ci]]
            sites = rec.sites.copy()
            sites["status"] = status
            sites["moved_from"] = moved_from
            rec = Recommendation(**{**rec.__dict__, "sites": sites})
    sites = rec.sites.copy()
    if existing is not None and len(existing):
        is_new = (sites["status"] != "bestaand").to_numpy()
        sxy = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])
        dist = cKDTree(_points_xy(existing, "bestaande eenheden")).query(sxy[is_new])[0]
        sites.loc[is_new, "distance_to_existing_m"] = dist
    sites["duration_days"] = int(duration_days)
    if schedule.origin is not None:
        start = pd.Timestamp(schedule.origin).date()
        sites["start"] = start.isoformat()
        sites["until"] = (start + pd.Timedelta(days=int(duration_days))).isoformat()
    params = {**rec.params, "duration_days": int(duration_days),
              "cooled_fraction": cooled_fraction}
    return Recommendation(**{**rec.__dict__, "sites": sites, "rotation": advice,
                             "params": params})


# --- flexible cameras ------------------------------------------------------------------------
def recommend_cameras(
    demand: gpd.GeoDataFrame,
    count: int,
    *,
    radius: float = DEFAULT_RADIUS_M["camera"],
    existing: gpd.GeoDataFrame | None = None,
    keep_existing: bool = True,
    rules: SiteRules = SiteRules(),
    labels: Labels = Labels(),
    solver: SolverOptions = SolverOptions(),
) -> Recommendation:
    """Where to put ``count`` flexible cameras. Demand is the street-incident risk (group
    ``straat``). With ``keep_existing`` the current camera(s) stay and cover; without it they
    may move: their spots become ordinary candidates and ``distance_to_existing_m`` says how
    far each recommended site is from the current camera. ``rules``, ``labels`` and ``solver``
    as for :func:`recommend_alarms`."""
    dxy, _, dem = _demand(demand)
    kw = {**_site_options(rules, labels, solver), "kind": "cameras"}
    if existing is None or len(existing) == 0 or keep_existing:
        return recommend_sites(dem, count, radius, existing=existing, **kw)  # type: ignore[arg-type]
    exy = _points_xy(existing, "bestaande camera's")
    eb, ew = _assign_areas(exy, dxy, dem)
    cand = gpd.GeoDataFrame(
        {"buurt_code": np.r_[dem["buurt_code"].to_numpy(dtype=object), eb],
         "wijk_code": np.r_[dem["wijk_code"].to_numpy(dtype=object), ew]},
        geometry=gpd.points_from_xy(np.r_[dxy[:, 0], exy[:, 0]], np.r_[dxy[:, 1], exy[:, 1]]),
        crs=RD_NEW)
    rec = recommend_sites(dem, count, radius, candidates=cand, **kw)  # type: ignore[arg-type]
    sites = rec.sites.copy()
    sites["distance_to_existing_m"] = cKDTree(exy).query(
        np.column_stack([sites.geometry.x, sites.geometry.y]))[0]
    return Recommendation(**{**rec.__dict__, "sites": sites})


# --- BuurtTent -------------------------------------------------------------------------------
def central_points(polygons: gpd.GeoSeries | gpd.GeoDataFrame) -> NDArray[np.object_]:
    """A central point inside each polygon: the centroid when it lies inside, otherwise the
    point-on-surface. (Without data on public squares this stands in for "a central public
    point"; the planner picks the exact square.)"""
    geoms = np.asarray(polygons.geometry.values if isinstance(polygons, gpd.GeoDataFrame)
                       else polygons.values)
    cen = shapely.centroid(geoms)
    inside = shapely.contains(geoms, cen)
    return np.where(inside, cen, shapely.point_on_surface(geoms))


def _slot_dates(start: date | str, end: date | str, slot: str) -> pd.DatetimeIndex:
    try:
        return pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=slot, inclusive="left")
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"ongeldige periode of slot-frequentie '{slot}': {exc}") from exc


def plan_buurttent(
    table: pd.DataFrame,
    buurten: gpd.GeoDataFrame,
    count: int,
    *,
    start: date | str,
    end: date | str,
    slot: str = "W-SAT",
    slots: list[date] | None = None,
    min_gap_weeks: float = 8,
    max_visits_per_buurt: int = 1,
    names: Mapping[str, str] | None = None,
    method_name: str = "",
    backtest_score: float | None = None,
    time_limit: float = 30.0,
) -> Recommendation:
    """A dated schedule of ``count`` BuurtTent visits between ``start`` and ``end``.

    Priority of a buurt = ``hic_risk`` x ``uncovered_share``: ``hic_risk`` is a count of HIC
    incidents in the buurt (or its expectation), which already grows with the number of people
    living there, so ``inhabitants`` (when present) is reported but not multiplied in again
    (that would weigh population twice: a large buurt with a low rate before a small buurt
    with many more incidents). The visit dates are ``count`` slots
    spread evenly over the configured slots (default every Saturday, ``slot='W-SAT'``; or an
    explicit ``slots`` list), at most one visit per slot. A wijk is not visited twice within
    ``min_gap_weeks`` weeks and a buurt at most ``max_visits_per_buurt`` times. The choice
    maximises the total priority (exact, HiGHS MILP); among equal choices the higher priorities
    come first. The location is a central point inside the buurt (``central_points``)."""
    _BuurtPriorities.require_columns(table)
    if int(count) != count or count < 1:
        raise InvalidInput(f"aantal inzetten moet een geheel getal van minstens 1 zijn "
                           f"(kreeg {count})")
    if min_gap_weeks < 0:
        raise InvalidInput(f"minimale tussenpoos moet 0 of meer weken zijn (kreeg {min_gap_weeks})")
    if max_visits_per_buurt < 1:
        raise InvalidInput("max_visits_per_buurt moet minstens 1 zijn")
    b = _BuurtPriorities.of(table, buurten)
    dates = _visit_dates(start, end, slot, slots, count)
    first, b_idx, s_idx = _choose_visits(b, dates, count, min_gap_weeks, max_visits_per_buurt,
                                         time_limit)
    visits_per = np.bincount(b_idx, minlength=len(b.codes))
    codes = b.codes[b_idx]
    pts = central_points(b.geo.loc[list(codes)])
    total_risk = float(b.risk.sum())
    expected = b.risk[b_idx] / visits_per[b_idx]
    frame = pd.DataFrame({
        "visit": np.arange(1, len(b_idx) + 1),
        "date": [d.date().isoformat() for d in dates[s_idx]],
        "priority": b.prio[b_idx],
        "hic_risk": b.risk[b_idx],
        "uncovered_share": b.unc[b_idx],
        "inhabitants": b.inh[b_idx] if b.has_inhabitants else np.nan,
        "expected_covered": expected,
        "share_of_risk": expected / total_risk if total_risk > 0 else 0.0,
        "wijk_code": b.wijk[b_idx],
        "buurt_code": codes,
    })
    frame["rank"] = frame["priority"].rank(ascending=False, method="first").astype(int)
    frame["status"] = "gepland"
    frame["wijk_name"] = _names(frame["wijk_code"].to_numpy(), names)
    frame["buurt_name"] = _names(frame["buurt_code"].to_numpy(), names)
    frame["distance_to_existing_m"] = np.nan
    frame["method"] = method_name
    frame["backtest_score"] = np.nan if backtest_score is None else float(backtest_score)
    frame["solver"] = "milp"
    frame["radius_m"] = np.nan
    objective = float(frame["priority"].sum())
    # HiGHS bound of stage 1 is on the normalised objective
    dual = getattr(first, "mip_dual_bound", None)
    bound = objective
    if dual is not None and np.isfinite(dual):
        bound = max(objective, float(-dual) * b.prio.max())
    g = 0.0 if bound <= 0 else max(0.0, (bound - objective) / bound)
    cols = ["rank", "visit", "date", "status", "priority", "hic_risk", "uncovered_share",
            "inhabitants", "expected_covered", "share_of_risk", "wijk_code", "buurt_code",
            "wijk_name", "buurt_name", "distance_to_existing_m", "method", "backtest_score",
            "solver", "radius_m"]
    sites = gpd.GeoDataFrame(frame[cols], geometry=list(pts), crs=RD_NEW)
    status = "bewezen optimaal" if first.status == 0 and g <= 1e-5 else (
        f"niet bewezen: maximaal {100 * g:.2f}% onder het optimum")
    return Recommendation(
        kind="buurttent", sites=sites, objective=objective, bound=bound, gap=g,
        proven=bool(g <= 0.01), solver="milp", status=status, total_risk=total_risk,
        params={"count": count, "start": str(start), "end": str(end), "slot": slot,
                "min_gap_weeks": min_gap_weeks})


# --- the steps of plan_buurttent --------------------------------------------------------------
@dataclass(frozen=True)
class _BuurtPriorities:
    """The BuurtTent table checked, one row per buurt: codes, HIC risk, uncovered share,
    inhabitants (median-filled; ones when absent), priority = risk x uncovered share, and the
    buurt polygons by code."""

    codes: NDArray[np.object_]
    wijk: NDArray[np.object_]
    risk: NDArray[np.float64]
    unc: NDArray[np.float64]
    inh: NDArray[np.float64]
    has_inhabitants: bool
    prio: NDArray[np.float64]
    geo: gpd.GeoDataFrame

    @staticmethod
    def require_columns(table: pd.DataFrame) -> None:
        need = ["buurt_code", "wijk_code", "hic_risk", "uncovered_share"]
        missing = [c for c in need if c not in table.columns]
        if missing:
            raise InvalidInput(f"BuurtTent-tabel: kolom(men) {', '.join(missing)} ontbreken "
                               "(nodig per buurt: buurt_code, wijk_code, hic_risk, "
                               "uncovered_share)")

    @classmethod
    def of(cls, table: pd.DataFrame, buurten: gpd.GeoDataFrame) -> _BuurtPriorities:
        """The checked table (its columns checked first with :meth:`require_columns`)."""
        _check_rd(buurten, "buurten")
        t = table.drop_duplicates("buurt_code").reset_index(drop=True)
        risk = pd.to_numeric(t["hic_risk"], errors="coerce").to_numpy(dtype=float)
        unc = pd.to_numeric(t["uncovered_share"], errors="coerce").to_numpy(dtype=float)
        if np.isnan(risk).any() or (risk < 0).any():
            raise InvalidInput("BuurtTent-tabel: hic_risk moet een getal van 0 of meer zijn")
        if np.isnan(unc).any() or (unc < 0).any() or (unc > 1).any():
            raise InvalidInput("BuurtTent-tabel: uncovered_share moet tussen 0 en 1 liggen")
        has_inh = "inhabitants" in t.columns
        if has_inh:
            inh = pd.to_numeric(t["inhabitants"], errors="coerce").to_numpy(dtype=float)
            inh = np.where(inh < 0, np.nan, inh)
            fill = np.nanmedian(inh) if np.isfinite(inh).any() else 1.0
            inh = np.where(np.isnan(inh), fill, inh)
        else:
            inh = np.ones(len(t))
        prio = risk * unc
        if prio.sum() <= 0:
            raise InvalidInput("BuurtTent: geen enkele buurt heeft prioriteit > 0 (geen "
                               "HIC-risico of overal preventie): er valt niets te plannen")
        geo = buurten.set_index("code") if "code" in buurten.columns else buurten.set_index(
            "buurt_code")
        unknown = sorted(set(t["buurt_code"]) - set(geo.index))
        if unknown:
            raise InvalidInput(f"BuurtTent: buurtcode(s) zonder grens: {', '.join(unknown[:5])}")
        return cls(t["buurt_code"].to_numpy(dtype=object), t["wijk_code"].astype(str).to_numpy(),
                   risk, unc, inh, has_inh, prio, geo)


def _visit_dates(start: date | str, end: date | str, slot: str, slots: list[date] | None,
                 count: int) -> pd.DatetimeIndex:
    """``count`` visit moments spread evenly over the slots (or fewer when they coincide)."""
    if slots is not None:
        all_slots = pd.DatetimeIndex(sorted(pd.Timestamp(s) for s in slots))
    else:
        all_slots = _slot_dates(start, end, slot)
    if len(all_slots) < count:
        raise InvalidInput(f"BuurtTent: {count} inzetten gevraagd maar de periode {start} tot "
                           f"{end} heeft maar {len(all_slots)} mogelijke momenten ({slot})")
    pick = np.unique(np.round(np.linspace(0, len(all_slots) - 1, count)).astype(int))
    return all_slots[pick]


def _choose_visits(b: _BuurtPriorities, dates: pd.DatetimeIndex, count: int,
                   min_gap_weeks: float, max_visits_per_buurt: int, time_limit: float
                   ) -> tuple[Any, NDArray[np.int64], NDArray[np.int64]]:
    """Stage 1: which buurten (maximum total priority); stage 2: when (higher priority
    earlier). Returns stage 1's solver result (for the bound) and the buurt and slot index
    of each visit, in date order."""
    prio, wijk = b.prio, b.wijk
    n_s = len(dates)
    cand = np.flatnonzero(prio > 0) if (prio > 0).sum() * max_visits_per_buurt >= count \
        else np.arange(len(prio))
    day = ((dates - dates[0]) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    gap_days = 7 * float(min_gap_weeks)
    res: Any = _schedule(prio[cand] / prio.max(), wijk[cand], day, gap_days,
                         np.zeros(len(cand)), np.full(len(cand), float(max_visits_per_buurt)),
                         time_limit, by_date=False)
    if res.x is None:
        raise InvalidInput(
            f"BuurtTent onhaalbaar: met minimaal {min_gap_weeks:g} weken tussen twee bezoeken "
            f"aan dezelfde wijk, {len(np.unique(wijk[cand]))} wijken met prioriteit en "
            f"hoogstens {max_visits_per_buurt} bezoek(en) per buurt passen er geen {count} "
            f"inzetten in {n_s} momenten; verklein de tussenpoos of het aantal")
    first = res
    visits = np.round(res.x.reshape(len(cand), n_s).sum(axis=1))
    chosen = visits > 0
    res2: Any = _schedule(prio[cand][chosen] / prio.max(), wijk[cand][chosen], day, gap_days,
                          visits[chosen], visits[chosen], time_limit, by_date=True)
    if res2.x is not None:
        cand, res = cand[chosen], res2
    z = res.x.reshape(len(cand), n_s) > 0.5
    b_idx, s_idx = np.nonzero(z)
    order = np.argsort(s_idx, kind="stable")
    return first, cand[b_idx[order]], s_idx[order]


def _schedule(p: NDArray[np.float64], wijk: NDArray[np.object_], day: NDArray[np.float64],
              gap_days: float, min_visits: NDArray[np.float64], max_visits: NDArray[np.float64],
              time_limit: float, *, by_date: bool) -> object:
    """MILP over z[b, s] (buurt b visited in slot s): exactly one visit per slot, visits per
    buurt within [min_visits, max_visits], no two visits to one wijk within ``gap_days``.
    Objective: total priority, or (``by_date``) priority-weighted earliness."""
    nb, n_s = len(p), len(day)
    var = np.arange(nb * n_s).reshape(nb, n_s)
    c = -(p[:, None] * (n_s - np.arange(n_s))[None, :]).ravel() if by_date else -np.repeat(p, n_s)
    rows = [sparse.coo_matrix((np.ones(nb * n_s), (np.tile(np.arange(n_s), nb), var.ravel())),
                              shape=(n_s, nb * n_s)),
            sparse.coo_matrix((np.ones(nb * n_s), (np.repeat(np.arange(nb), n_s), var.ravel())),
                              shape=(nb, nb * n_s))]
    lo = [np.ones(n_s), min_visits]
    hi = [np.ones(n_s), max_visits]
    if gap_days > 0:
        win = (day[None, :] >= day[:, None]) & (day[None, :] < day[:, None] + gap_days)
        starts = np.flatnonzero(win.sum(axis=1) >= 2)
        r_i, c_i = [], []
        row = 0
        for wk in np.unique(wijk):
            members = np.flatnonzero(wijk == wk)
            for s in starts:
                vv = var[np.ix_(members, np.flatnonzero(win[s]))].ravel()
                r_i.append(np.full(len(vv), row))
                c_i.append(vv)
                row += 1
        if row:
            cols = np.concatenate(c_i)
            rows.append(sparse.coo_matrix((np.ones(len(cols)), (np.concatenate(r_i), cols)),
                                          shape=(row, nb * n_s)))
            lo.append(np.full(row, -np.inf))
            hi.append(np.ones(row))
    return milp(c, integrality=np.ones(nb * n_s), bounds=Bounds(0, 1),
                constraints=LinearConstraint(sparse.vstack(rows, format="csr"),
                                             np.concatenate(lo), np.concatenate(hi)),
                options={"time_limit": time_limit, "mip_rel_gap": 1e-9})
