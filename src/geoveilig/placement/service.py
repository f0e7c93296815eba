"""Planning runs over a store: what ``geoveilig recommend`` and ``POST /v1/recommendations``
both call. Each function takes the store and the areas explicitly (the edges decide where they
come from), gathers the inputs (hotspot risk, existing units, prevention coverage, near-repeat
duration) and returns a ``Plan``: the ``Recommendation`` plus Dutch notes on what it used.

Demand for alarms and cameras is the hotspot engine's risk surface (``method``, default
prospective; ``with_backtest`` adds its backtest score); when the engine has too little data
the interim recency-weighted counts (``placement.interim``) stand in and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from ..areas import Areas
from ..crimetypes import GROUPS
from ..errors import InvalidInput
from ..hotspots import (
    InsufficientData,
    backtest,
    hotspot_surface,
    knox_test,
    make_grid,
    recommended_bandwidths,
)
from ..prevention import coverage as prevention_coverage
from ..store import Store
from ..store.deployments import list_deployments
from ..store.prevention import load_registry
from ..times import local_timestamp
from .evaluation import EffectEstimate, evaluate_deployment
from .interim import INTERIM_METHOD, interim_buurttent_table, interim_demand
from .policies import (
    DEFAULT_ALARM_DURATION_DAYS,
    Recommendation,
    plan_buurttent,
    recommend_alarms,
    recommend_cameras,
)

BURGLARY = ("woninginbraak", "inbraak-schuur-garage")


@dataclass(frozen=True)
class Plan:
    recommendation: Recommendation
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Demand:
    cells: gpd.GeoDataFrame
    method: str
    backtest_score: float | None
    notes: tuple[str, ...] = ()


#: Hotspot methods whose risk is a number of incidents per cell (what coverage adds up and a
#: plan states as "verwacht gedekte incidenten"). ``gistar`` and ``emerging`` give z-scores,
#: which do not add up to incidents: they are refused for placement.
PLACEMENT_METHODS = ("prospective", "kde", "naive", "learned")


def check_placement_method(method: str, where: str = "method") -> str:
    """``method`` when it yields a risk in incidents; a Dutch ``InvalidInput`` otherwise."""
    if method in PLACEMENT_METHODS:
        return method
    if method in ("gistar", "emerging"):
        raise InvalidInput(
            f"methode '{method}' geeft z-scores (hoe uitzonderlijk een cel is), geen verwachte "
            "aantallen incidenten; een plaatsing telt gedekte incidenten op. Kies "
            f"{', '.join(PLACEMENT_METHODS)}", where=where)
    raise InvalidInput(f"onbekende methode '{method}' voor plaatsing; kies "
                       f"{', '.join(PLACEMENT_METHODS)}", where=where)


def window_days(text: str, where: str = "window") -> float:
    """'28d', '4w', '1m' or '28' -> days (``hotspots.events.parse_window``)."""
    from ..hotspots.events import parse_window

    try:
        return parse_window(text, where) / pd.Timedelta(days=1)
    except InvalidInput:
        raise InvalidInput(f"ongeldig venster '{text}': gebruik bijv. 28d of 4w",
                           where=where) from None


def _aware(ts: pd.Timestamp) -> pd.Timestamp:
    return local_timestamp(ts)


def plan_origin(store: Store, origin: str | pd.Timestamp | None, where: str = "origin"
                ) -> pd.Timestamp:
    """The forecast origin: the given date, or the day after the last stored incident."""
    if origin is not None and str(origin).strip():
        try:
            return pd.Timestamp(origin)
        except ValueError as exc:
            raise InvalidInput(f"ongeldige datum '{origin}'", where=where) from exc
    rng = store.time_range()
    if rng is None:
        raise InvalidInput("de database bevat geen incidenten: lees eerst gegevens in "
                           "(geoveilig import of geoveilig demo)")
    return rng[1].normalize().tz_localize(None) + pd.Timedelta(days=1)


def demand(store: Store, areas: Areas, origin: pd.Timestamp, days: float,
           crime_types: tuple[str, ...], *, method: str = "prospective",
           with_backtest: bool = False, grid_size: float = 125.0) -> Demand:
    """Risk per cell for the coming window (see the module docstring). ``residential``
    (alarms): cells with a woninginbraak in the three years before ``origin`` (no BAG data).
    ``method`` must give a risk in incidents (``PLACEMENT_METHODS``)."""
    check_placement_method(method)
    inc = store.incidents(end=origin, crime_types=list(crime_types))
    try:
        if len(inc) == 0:
            raise InsufficientData("geen incidenten voor de gekozen periode")
        grid = make_grid(areas, grid_size, areas=areas)
        bt = (backtest(inc, grid, methods=[method], window=f"{days:g}d")
              if with_backtest else None)
        surface = hotspot_surface(inc, grid, method, origin=origin, window=f"{days:g}d",
                                  backtest=bt)
    except InsufficientData as exc:
        recent = inc.loc[pd.to_datetime(inc["occurred_at"]) >=
                         _aware(origin) - pd.Timedelta(days=365)]
        cells = interim_demand(recent, areas, origin=origin, window_days=days,
                               crime_types=crime_types, cell_size=grid_size)
        note = (f"hotspotmethode {method}: {exc}; de tussenoplossing (recentheidsgewogen "
                "tellingen) wordt gebruikt.")
        return Demand(cells, INTERIM_METHOD, None, (note,))
    cells = surface.loc[surface["buurt_code"].notna()].reset_index(drop=True)
    cells["risk"] = cells["risk"].clip(lower=0.0)
    burgl = inc.loc[(inc["crime_type"] == "woninginbraak")
                    & (pd.to_datetime(inc["occurred_at"])
                       >= _aware(origin) - pd.Timedelta(days=3 * 365))]
    hit = shapely.STRtree(np.asarray(cells.geometry.values)).query(
        np.asarray(burgl.geometry.values), predicate="within")[1]
    cells["residential"] = False
    cells.loc[np.unique(hit), "residential"] = True
    score = cells["backtest_score"].iloc[0] if "backtest_score" in cells else None
    label = str(cells["method_label"].iloc[0]) if "method_label" in cells else method
    return Demand(cells, f"hotspots: {label}", None if score is None else float(score))


def alarm_duration(store: Store, origin: pd.Timestamp) -> tuple[int, str]:
    """Days an alarm stays at one place, from the Knox near-repeat test on the burglaries of
    the two years before ``origin`` (``hotspots.recommended_bandwidths``), with a note."""
    inc = store.incidents(start=origin - pd.Timedelta(days=730), end=origin,
                          crime_types=list(BURGLARY))
    try:
        rec = recommended_bandwidths(knox_test(inc, permutations=99, seed=0))
    except InvalidInput as exc:
        return DEFAULT_ALARM_DURATION_DAYS, (
            f"near-repeat-analyse niet mogelijk ({exc}); inzetduur "
            f"{DEFAULT_ALARM_DURATION_DAYS} dagen.")
    days = max(1, round(float(rec["alarm_days"])))  # type: ignore[arg-type]
    why = ("near-repeat-patroon gevonden" if rec["source"] == "knox"
           else "geen near-repeat-patroon: standaardwaarde")
    return days, f"Inzetduur per plek: {days} dagen ({why})."


def existing_units(store: Store, kind: str, origin: pd.Timestamp
                   ) -> tuple[gpd.GeoDataFrame | None, tuple[str, ...]]:
    """Units of ``kind`` in place on ``origin`` (deployments registry)."""
    try:
        units = list_deployments(store, kinds=[kind], active_at=origin)
    except sa.exc.SQLAlchemyError:  # registry table missing in this database
        return None, ("het inzetregister is niet beschikbaar; geplaatste eenheden worden niet "
                      "meegeteld.",)
    if len(units) == 0:
        return None, ()
    return units.assign(unit_id=units["id"].astype(str)), ()


def uncovered_share(store: Store, areas: Areas, when: pd.Timestamp) -> pd.Series | None:
    """1 - prevention coverage share per buurt on ``when``, or None without groups."""
    registry = load_registry(store)
    if registry.groups.empty:
        return None
    cov = prevention_coverage(registry, areas, when, level="buurt")
    return pd.Series(1.0 - cov["coverage_share"].to_numpy(dtype=float),
                     index=cov["code"].to_numpy())


def plan_alarms(store: Store, areas: Areas, *, count: int, radius: float = 150.0,
                origin: str | pd.Timestamp | None = None, window: str = "28d",
                keep_existing: bool = False, min_spacing: float | None = None,
                duration_days: int | None = None, method: str = "prospective",
                with_backtest: bool = False, grid_size: float = 125.0) -> Plan:
    """Where to put (count more) mobile alarm systems: burglary risk on residential cells."""
    t0 = plan_origin(store, origin)
    d = demand(store, areas, t0, window_days(window), BURGLARY, method=method,
               with_backtest=with_backtest, grid_size=grid_size)
    existing, notes = existing_units(store, "alarm", t0)
    notes = (*d.notes, *notes)
    if duration_days is None:
        duration_days, note = alarm_duration(store, t0)
        notes = (*notes, note)
    rec = recommend_alarms(d.cells, count, radius=radius, existing=existing,
                           rotate=not keep_existing, duration_days=duration_days, origin=t0,
                           min_spacing=min_spacing, names=areas.names(), method_name=d.method,
                           backtest_score=d.backtest_score)
    return Plan(rec, notes)


def plan_cameras(store: Store, areas: Areas, *, count: int, radius: float = 75.0,
                 origin: str | pd.Timestamp | None = None, window: str = "28d",
                 keep_existing: bool = False, min_spacing: float | None = None,
                 method: str = "prospective", with_backtest: bool = False,
                 grid_size: float = 125.0) -> Plan:
    """Where the flexible cameras should go: incidents in public space (group ``straat``)."""
    t0 = plan_origin(store, origin)
    d = demand(store, areas, t0, window_days(window), GROUPS["straat"], method=method,
               with_backtest=with_backtest, grid_size=grid_size)
    existing, notes = existing_units(store, "camera", t0)
    rec = recommend_cameras(d.cells, count, radius=radius, existing=existing,
                            keep_existing=keep_existing, min_spacing=min_spacing,
                            names=areas.names(), method_name=d.method,
                            backtest_score=d.backtest_score)
    return Plan(rec, (*d.notes, *notes))


def plan_buurttent_year(store: Store, areas: Areas, *, count: int, year: int,
                        min_gap_weeks: float = 8, slot: str = "W-SAT") -> Plan:
    """A dated schedule of ``count`` BuurtTent visits in ``year``: HIC risk (last year's HIC
    incidents) x uncovered prevention share x inhabitants (when known)."""
    start = pd.Timestamp(year=year, month=1, day=1)
    inc = store.incidents(start=start - pd.Timedelta(days=365), end=start,
                          crime_types=list(GROUPS["hic"]))
    uncovered = uncovered_share(store, areas, start)
    table = interim_buurttent_table(inc, areas, origin=start, hic_types=GROUPS["hic"],
                                    uncovered_share=uncovered)
    what = ("preventiedekking uit het register" if uncovered is not None
            else "preventie onbekend (register leeg)")
    rec = plan_buurttent(table, areas.buurten, count, start=start,
                         end=pd.Timestamp(year=year + 1, month=1, day=1), slot=slot,
                         min_gap_weeks=min_gap_weeks, names=areas.names(),
                         method_name=f"interim: HIC-incidenten vorig jaar; {what}")
    return Plan(rec, ())


#: What a deployment kind is meant to prevent (the default crime types of its evaluation).
EFFECT_TYPES = {"alarm": BURGLARY, "camera": GROUPS["straat"], "buurttent": GROUPS["hic"]}
DEFAULT_RADIUS = {"alarm": 150.0, "camera": 75.0, "buurttent": 500.0}


def deployment_effect(store: Store, deployment_id: int,
                      crime_types: tuple[str, ...] | None = None, *,
                      plan_sites: gpd.GeoDataFrame | None = None,
                      deployed_rank: int | None = None) -> EffectEstimate:
    """"Did it help?" for one registered deployment: its point and radius (or area), its
    period, the crime types its kind is meant to prevent (or ``crime_types``), compared with
    control places chosen by the rule that chose it (``placement.evaluation``): with
    ``plan_sites`` (the stored planning run it came from) and its ``deployed_rank`` the sites
    ranked just below it (``placed_by_tool``), else places of the same risk at its start."""
    from ..errors import NotFound

    units = list_deployments(store)
    row = units.loc[units["id"] == int(deployment_id)]
    if row.empty:
        raise NotFound(f"onbekende inzet {deployment_id}")
    dep = row.iloc[0]
    kind = str(dep["kind"])
    types = crime_types or EFFECT_TYPES.get(kind, GROUPS["hic"])
    incidents = store.incidents(crime_types=list(types))
    radius = dep.get("radius_m")
    radius = float(radius) if pd.notna(radius) and radius else DEFAULT_RADIUS.get(kind, 150.0)
    area = None
    if isinstance(dep.get("area_wkt"), str) and dep["area_wkt"]:
        area = shapely.from_wkt(dep["area_wkt"])
    end = dep.get("end")
    return evaluate_deployment(
        incidents, start=dep["start"], end=None if pd.isna(end) else end, area=area,
        point=None if area is not None else dep.geometry, radius=radius,
        crime_types=list(types), plan_sites=plan_sites, deployed_rank=deployed_rank)
