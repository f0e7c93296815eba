"""Planning runs over a store: what ``geoveilig recommend`` and ``POST /v1/recommendations``
both call. Each function takes the store and the areas explicitly (the edges decide where they
come from), gathers the inputs (hotspot risk, existing units, prevention coverage, near-repeat
duration) and returns a ``Plan``: the ``Recommendation`` plus Dutch notes on what it used.

Demand for alarms and cameras is the hotspot engine's risk surface (``method``, default
prospective; ``with_backtest`` adds its backtest score); when the engine has too little data
the interim recency-weighted counts (``placement.interim``) stand in and a note says so.

Every planning run is saved in the store (``store.plans``) with its parameters, the data
version, who asked, the objective with its unit, bound, gap and every site; ``Plan.plan_id``
is its id. ``count`` is always the number of NEW sites: moves of units already in place are
listed separately (status ``verplaatst``) and units that stay have rank 0 (status
``bestaand``). ``KEEP_EXISTING`` is the one default for existing units (CLI, API and map).
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
from ..store.deployments import list_deployments
from ..store.plans import Requester, save_plan
from ..store.plans import plan_sites as stored_plan_sites
from ..store.prevention import load_registry
from ..store.protocols import StoreLike
from ..times import local_timestamp
from .evaluation import EffectEstimate, evaluate_deployment
from .interim import INTERIM_METHOD, interim_buurttent_table, interim_demand
from .policies import (
    DEFAULT_ALARM_DURATION_DAYS,
    DEFAULT_RADIUS_M,
    Labels,
    Recommendation,
    Rotation,
    Schedule,
    SiteRules,
    plan_buurttent,
    recommend_alarms,
    recommend_cameras,
)

BURGLARY = ("woninginbraak", "inbraak-schuur-garage")


#: Units already in place stay where they are unless the planner asks to move them (the same
#: default in ``geoveilig recommend``, ``POST /v1/recommendations`` and the map).
KEEP_EXISTING = True
#: The requester recorded when the library is called without one.
LIBRARY = Requester(role="analyst", actor="library")


@dataclass(frozen=True)
class Plan:
    recommendation: Recommendation
    notes: tuple[str, ...] = field(default=())
    plan_id: int | None = None
    objective_unit: str = ""

    def counts(self) -> dict[str, int]:
        """Sites per role: ``new`` (count asked for), ``moved`` (units in place that move),
        ``kept`` (units in place that stay)."""
        status = self.recommendation.sites["status"].astype(str)
        return {"new": int(status.isin(["nieuw", "gepland"]).sum()),
                "moved": int((status == "verplaatst").sum()),
                "kept": int((status == "bestaand").sum())}

    def summary(self) -> str:
        """The plan in one Dutch sentence, with the unit of its objective."""
        rec = self.recommendation
        c = self.counts()
        gap = f"{100 * rec.gap:.1f}%" if np.isfinite(rec.gap) else "onbekend"
        head = f"Plan {self.plan_id}: " if self.plan_id is not None else ""
        sites = (f"{c['new']} bezoeken" if rec.kind == "buurttent" else
                 f"{c['new']} nieuwe plaatsen, {c['moved']} verplaatsing(en) van geplaatste "
                 f"eenheden, {c['kept']} blijven staan")
        return (f"{head}{sites}. Doel: {_nl(rec.objective)} ({self.objective_unit}); "
                f"bovengrens {_nl(rec.bound)}, gat (afstand tot optimum) hoogstens "
                f"{gap.replace('.', ',')} ({rec.status}).")


def _nl(value: float) -> str:
    """A number for a Dutch sentence: two decimals, decimal comma."""
    return f"{value:.2f}".replace(".", ",")


def window_text(days: float) -> str:
    """28 -> '4 weken', 7 -> 'week', 10 -> '10 dagen'."""
    if days % 7 == 0:
        weeks = int(days // 7)
        return "week" if weeks == 1 else f"{weeks} weken"
    return f"{days:g} dagen"


def _saved(store: StoreLike, kind: str, rec: Recommendation, notes: tuple[str, ...], unit: str,
           params: dict[str, object], requester: Requester | None, save: bool,
           version: str) -> Plan:
    """The plan, saved in the store (``save``) with the data version it used."""
    plan = Plan(rec, notes, None, unit)
    if not save:
        return plan
    plan_id = save_plan(
        store, kind=kind, sites=rec.sites, params={**rec.params, **params},
        objective=rec.objective, objective_unit=unit, bound=rec.bound, gap=rec.gap,
        proven=rec.proven, solver=rec.solver, status=rec.status, total_risk=rec.total_risk,
        summary=plan.summary(), notes=notes, requester=requester or LIBRARY,
        data_version=version)
    return Plan(rec, notes, plan_id, unit)


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


def plan_origin(store: StoreLike, origin: str | pd.Timestamp | None, where: str = "origin"
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
                           "(geoveilig import of geoveilig demo); inzetadvies heeft "
                           "incidentpunten nodig, gepubliceerde aantallen per buurt (geoveilig "
                           "cbs) zijn daarvoor niet genoeg")
    return rng[1].normalize().tz_localize(None) + pd.Timedelta(days=1)


def demand(store: StoreLike, areas: Areas, origin: pd.Timestamp, days: float,
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
        bt = (backtest(inc, grid, methods=[method], window=f"{days:g}d", end=origin)
              if with_backtest else None)
        surface = hotspot_surface(inc, grid, method, origin=origin, window=f"{days:g}d",
                                  backtest=bt)
    except InsufficientData as exc:
        recent = inc.loc[pd.to_datetime(inc["occurred_at"]) >=
                         local_timestamp(origin) - pd.Timedelta(days=365)]
        cells = interim_demand(recent, areas, origin=origin, window_days=days,
                               crime_types=crime_types, cell_size=grid_size)
        note = (f"hotspotmethode {method}: {exc}; de tussenoplossing (recentheidsgewogen "
                "tellingen) wordt gebruikt.")
        return Demand(cells, INTERIM_METHOD, None, (note,))
    cells = surface.loc[surface["buurt_code"].notna()].reset_index(drop=True)
    cells["risk"] = cells["risk"].clip(lower=0.0)
    burgl = inc.loc[(inc["crime_type"] == "woninginbraak")
                    & (pd.to_datetime(inc["occurred_at"])
                       >= local_timestamp(origin) - pd.Timedelta(days=3 * 365))]
    hit = shapely.STRtree(np.asarray(cells.geometry.values)).query(
        np.asarray(burgl.geometry.values), predicate="within")[1]
    cells["residential"] = False
    cells.loc[np.unique(hit), "residential"] = True
    score = cells["backtest_score"].iloc[0] if "backtest_score" in cells else None
    label = str(cells["method_label"].iloc[0]) if "method_label" in cells else method
    return Demand(cells, f"hotspots: {label}", None if score is None else float(score))


def alarm_duration(store: StoreLike, origin: pd.Timestamp) -> tuple[int, str]:
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
    days = max(1, round(float(rec["alarm_days"])))
    why = ("near-repeat-patroon gevonden" if rec["source"] == "knox"
           else "geen near-repeat-patroon: standaardwaarde")
    return days, f"Inzetduur per plek: {days} dagen ({why})."


def existing_units(store: StoreLike, kind: str, origin: pd.Timestamp
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


def uncovered_share(store: StoreLike, areas: Areas, when: pd.Timestamp) -> pd.Series | None:
    """1 - prevention coverage share per buurt on ``when``, or None without groups."""
    registry = load_registry(store)
    if registry.groups.empty:
        return None
    cov = prevention_coverage(registry, areas, when, level="buurt")
    return pd.Series(1.0 - cov["coverage_share"].to_numpy(dtype=float),
                     index=cov["code"].to_numpy())


def plan_alarms(store: StoreLike, areas: Areas, *, count: int,
                radius: float = DEFAULT_RADIUS_M["alarm"],
                origin: str | pd.Timestamp | None = None, window: str = "28d",
                keep_existing: bool = KEEP_EXISTING, min_spacing: float | None = None,
                duration_days: int | None = None, method: str = "prospective",
                with_backtest: bool = False, grid_size: float = 125.0,
                requester: Requester | None = None, save: bool = True) -> Plan:
    """Where to put ``count`` more mobile alarm systems: burglary risk on residential cells.
    Without ``keep_existing`` cooled-down units in place are moved (listed separately)."""
    version = store.data_version()
    t0 = plan_origin(store, origin)
    d = demand(store, areas, t0, window_days(window), BURGLARY, method=method,
               with_backtest=with_backtest, grid_size=grid_size)
    existing, notes = existing_units(store, "alarm", t0)
    notes = (*d.notes, *notes)
    if duration_days is None:
        duration_days, note = alarm_duration(store, t0)
        notes = (*notes, note)
    rec = recommend_alarms(d.cells, count, radius=radius, existing=existing,
                           rotation=Rotation(rotate=not keep_existing),
                           schedule=Schedule(duration_days=duration_days, origin=t0),
                           rules=SiteRules(min_spacing=min_spacing),
                           labels=Labels(names=areas.names(), method_name=d.method,
                                         backtest_score=d.backtest_score))
    unit = (f"verwacht aantal inbraken binnen {radius:g} m in de komende "
            f"{window_text(window_days(window))}")
    params = {"origin": t0.date().isoformat(), "window": window, "keep_existing": keep_existing,
              "method": d.method, "requested_method": method, "with_backtest": with_backtest,
              "grid_size": grid_size}
    return _saved(store, "alarms", rec, notes, unit, params, requester, save, version)


def plan_cameras(store: StoreLike, areas: Areas, *, count: int,
                 radius: float = DEFAULT_RADIUS_M["camera"],
                 origin: str | pd.Timestamp | None = None, window: str = "28d",
                 keep_existing: bool = KEEP_EXISTING, min_spacing: float | None = None,
                 method: str = "prospective", with_backtest: bool = False,
                 grid_size: float = 125.0, requester: Requester | None = None,
                 save: bool = True) -> Plan:
    """Where ``count`` more flexible cameras should go: incidents in public space (group
    ``straat``). Without ``keep_existing`` the cameras in place may move."""
    version = store.data_version()
    t0 = plan_origin(store, origin)
    d = demand(store, areas, t0, window_days(window), GROUPS["straat"], method=method,
               with_backtest=with_backtest, grid_size=grid_size)
    existing, notes = existing_units(store, "camera", t0)
    rec = recommend_cameras(d.cells, count, radius=radius, existing=existing,
                            keep_existing=keep_existing,
                            rules=SiteRules(min_spacing=min_spacing),
                            labels=Labels(names=areas.names(), method_name=d.method,
                                          backtest_score=d.backtest_score))
    unit = (f"verwacht aantal incidenten op straat binnen {radius:g} m in de komende "
            f"{window_text(window_days(window))}")
    params = {"origin": t0.date().isoformat(), "window": window, "keep_existing": keep_existing,
              "method": d.method, "requested_method": method, "with_backtest": with_backtest,
              "grid_size": grid_size}
    return _saved(store, "cameras", rec, (*d.notes, *notes), unit, params, requester, save,
                  version)


def plan_buurttent_year(store: StoreLike, areas: Areas, *, count: int, year: int,
                        min_gap_weeks: float = 8, slot: str = "W-SAT",
                        requester: Requester | None = None, save: bool = True) -> Plan:
    """A dated schedule of ``count`` BuurtTent visits in ``year``: HIC risk (last year's HIC
    incidents) x uncovered prevention share x inhabitants (when known)."""
    version = store.data_version()
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
    unit = ("prioriteit = verwacht aantal HIC-incidenten per buurt (jaar ervoor) x aandeel "
            "zonder actieve preventie x inwoners (waar bekend)")
    return _saved(store, "buurttent", rec, (), unit, {"year": year}, requester, save, version)


#: What a deployment kind is meant to prevent (the default crime types of its evaluation).
EFFECT_TYPES = {"alarm": BURGLARY, "camera": GROUPS["straat"], "buurttent": GROUPS["hic"]}


def deployment_effect(store: StoreLike, deployment_id: int,
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
    if plan_sites is None and pd.notna(dep.get("plan_id")) and pd.notna(dep.get("plan_rank")):
        # placed by the tool: the sites ranked just below it in the same planning run are the
        # controls; sites of that run that were deployed too are left out of them
        deployed_rank = int(dep["plan_rank"])
        others = units.loc[(units["plan_id"] == dep["plan_id"]) & (units["id"] != dep["id"])
                           & (units["status"] != "geannuleerd"), "plan_rank"]
        plan_sites = stored_plan_sites(store, int(dep["plan_id"]))
        plan_sites = plan_sites.loc[~plan_sites["rank"].isin(set(others.dropna().astype(int)))]
    if pd.isna(dep["start"]):
        raise InvalidInput(f"inzet {deployment_id} is {dep['status']}: een effect is pas te "
                           "meten na plaatsing", where="deployment")
    kind = str(dep["kind"])
    types = crime_types or EFFECT_TYPES.get(kind, GROUPS["hic"])
    incidents = store.incidents(crime_types=list(types))
    radius = dep.get("radius_m")
    radius = (float(radius) if pd.notna(radius) and radius
              else DEFAULT_RADIUS_M.get(kind, DEFAULT_RADIUS_M["alarm"]))
    area = None
    if isinstance(dep.get("area_wkt"), str) and dep["area_wkt"]:
        area = shapely.from_wkt(dep["area_wkt"])
    end = dep.get("end")
    return evaluate_deployment(
        incidents, start=dep["start"], end=None if pd.isna(end) else end, area=area,
        point=None if area is not None else dep.geometry, radius=radius,
        crime_types=list(types), plan_sites=plan_sites, deployed_rank=deployed_rank)


#: Days of data after the actual start before the map links a deployment to its evaluation.
EFFECT_MIN_DAYS = 28


def effect_ready(deployments: pd.DataFrame, data_end: pd.Timestamp | None) -> pd.Series:
    """Per deployment: placed (or ended) and the stored incidents reach at least
    ``EFFECT_MIN_DAYS`` days past its actual start (``data_end``: the last incident)."""
    if data_end is None or len(deployments) == 0:
        return pd.Series(False, index=deployments.index)
    start = pd.to_datetime(deployments["start"], utc=True)
    return (start.notna() & (start + pd.Timedelta(days=EFFECT_MIN_DAYS)
                             <= pd.Timestamp(data_end).tz_convert("UTC"))).astype(bool)


def deployments_from_plan(store: StoreLike, plan_id: int, ranks: list[int], *,
                          planned_start: str | pd.Timestamp | None = None,
                          planned_end: str | pd.Timestamp | None = None,
                          note: str | None = None) -> list[int]:
    """Planned deployments (status ``gepland``) at the sites of a stored plan with the given
    ``ranks``, linked by ``plan_id``/``plan_rank``. The planned start defaults to the site's
    date (BuurtTent) or the plan's origin, the planned end to the site's ``until`` (alarms:
    origin + duration) or the day after a BuurtTent visit. A rank that is already deployed
    (and not cancelled) is a ``Conflict``."""
    from ..errors import Conflict
    from ..store.deployments import KINDS, add_deployments
    from ..store.plans import PLAN_KINDS, get_plan, plan_sites
    from ..times import parse_local

    plan = get_plan(store, plan_id)
    sites = plan_sites(store, plan_id)
    wanted = [int(r) for r in ranks]
    if not wanted:
        raise InvalidInput("kies minstens één plaats (rang) uit het plan", where="ranks")
    if len(set(wanted)) != len(wanted):
        raise InvalidInput("een rang komt twee keer voor", where="ranks")
    placeable = sites.loc[sites["rank"] > 0].drop_duplicates("rank").set_index("rank")
    unknown = [r for r in wanted if r not in placeable.index]
    if unknown:
        raise InvalidInput(f"plan {plan_id} heeft geen nieuwe plaats met rang "
                           f"{', '.join(map(str, unknown))}", where="ranks")
    taken = list_deployments(store)
    taken = taken.loc[(taken["plan_id"] == plan["id"]) & (taken["status"] != "geannuleerd")
                      & taken["plan_rank"].isin(wanted)]
    if len(taken):
        pairs = ", ".join(f"rang {int(r)} (inzet {int(i)})"
                          for r, i in zip(taken["plan_rank"], taken["id"], strict=True))
        raise Conflict(f"plan {plan_id}: al vastgelegd als inzet: {pairs}")
    kind = PLAN_KINDS[plan["kind"]]
    origin = plan["params"].get("origin")
    rows = []
    for rank in wanted:
        site = placeable.loc[rank]
        start = planned_start or site.get("date") or site.get("start") or origin
        if start is None or (not isinstance(start, str) and pd.isna(start)):
            raise InvalidInput("geef een geplande startdatum", where="plannedStart")
        start_ts = parse_local(start, where="plannedStart")
        end = planned_end or site.get("until")
        if (end is None or (not isinstance(end, str) and pd.isna(end))) and kind == "buurttent":
            end = start_ts + pd.Timedelta(days=1)
        end_ts = None if end is None or (not isinstance(end, (str, pd.Timestamp))
                                         and pd.isna(end)) else parse_local(
            end, where="plannedEnd")
        radius = site.get("radius_m")
        place = site.get("buurt_name") or site.get("buurt_code") or ""
        rows.append({
            "kind": kind, "label": f"{KINDS[kind]} (plan {plan_id}, rang {rank}) {place}".strip(),
            "geometry": site.geometry, "status": "gepland", "planned_start": start_ts,
            "planned_end": end_ts,
            "radius_m": None if radius is None or pd.isna(radius) else float(radius),
            "buurt_code": site.get("buurt_code"), "wijk_code": site.get("wijk_code"),
            "plan_id": int(plan_id), "plan_rank": int(rank), "source": f"plan {plan_id}",
            "note": note})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=sites.crs)
    return add_deployments(store, frame)
